#!/usr/bin/env bash
# Installs the control plane's Navigator services on this host, in one command (run as root), once Temporal runs
# (infra/production/up.sh on this host, or any Temporal cluster with mutual TLS):
#
#   infra/deploy/install-control-plane.sh --temporal HOST:PORT \
#     --tls-ca ca.pem --tls-cert client.pem --tls-key client.key [--tls-server-name NAME]
#
# What it does, in order:
#   1. packages (dnf or apt-get): Node.js 20 or newer, python3, git, openssl;
#   2. the `qubinode` system user (home /var/lib/qubinode, no login shell);
#   3. the code in /opt/qubinode (owned by root; from --source, default: this checkout), built by infra/setup.sh;
#   4. /etc/qubinode/tls/control-plane/ (CA, client certificate and key) and /etc/qubinode/control-plane.env from
#      infra/deploy/env/control-plane.env (root:qubinode, 0640);
#   5. qubinode-api.service (`qubinode up --no-worker`) and qubinode-control-worker.service (`qubinode worker`),
#      checked with systemd-analyze, enabled and (re)started.
# Running it again upgrades the code and restarts both; settings in the env file other than the address and TLS
# paths are kept. --dry-run and --root DIR work as in install-worker.sh.
set -euo pipefail
install_script=install-control-plane
source "$(dirname "$0")/install-common.sh"
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

temporal='' tls_ca='' tls_cert='' tls_key='' tls_server_name='' start=1
while [ $# -gt 0 ]; do
  case $1 in
    --temporal) need_value "$1" $#; temporal=$2; shift 2 ;;
    --tls-ca) need_value "$1" $#; tls_ca=$2; shift 2 ;;
    --tls-cert) need_value "$1" $#; tls_cert=$2; shift 2 ;;
    --tls-key) need_value "$1" $#; tls_key=$2; shift 2 ;;
    --tls-server-name) need_value "$1" $#; tls_server_name=$2; shift 2 ;;
    --source) need_value "$1" $#; install_source=$2; shift 2 ;;
    --root) need_value "$1" $#; root=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument (see --help)" ;;
  esac
done

[ -n "$temporal" ] || die "--temporal is required (HOST:PORT of the Temporal frontend)"
check_address --temporal "$temporal"
check_server_name "$tls_server_name"
check_tls "$tls_ca" "$tls_cert" "$tls_key"
check_source
template=$install_source/infra/deploy/env/control-plane.env
services=(qubinode-api.service qubinode-control-worker.service)
for file in "$template" "${services[@]/#/$install_source/infra/deploy/systemd/}"; do
  [ -f "$file" ] || die "missing in the source checkout: ${file#"$install_source"/}"
done
check_root
detect_family

opt=$root/opt/qubinode
etc=$root/etc/qubinode
units=$root/etc/systemd/system
mode=''
if [ "$dry_run" = 1 ]; then mode=' (dry run: nothing is changed)'; fi
say "installing ${services[*]} on this $family host (Temporal $temporal)${root:+ under $root}$mode"

install_packages python3 python3-pip git-core openssl tar -- python3 python3-venv git openssl tar
# shellcheck disable=SC2119 # no extra groups on the control plane
ensure_user
install_code "$opt"
install_tls "$etc/tls/control-plane" "$tls_ca" "$tls_cert" "$tls_key"
write_env "$template" "$etc/control-plane.env" "$temporal" /etc/qubinode/tls/control-plane "$tls_server_name"

step install -d -m 0755 "$units"
for service in "${services[@]}"; do
  step install -m 0644 "$install_source/infra/deploy/systemd/$service" "$units/$service"
  verify_unit "$units" "$service"
done
host_step systemctl daemon-reload
host_step systemctl enable "${services[@]}"
if [ "$start" = 1 ]; then host_step systemctl restart "${services[@]}"; fi
if [ -d "$opt.old" ]; then step rm -rf "$opt.old"; fi
say "done: API and workflow worker installed; status: systemctl status ${services[*]}"
