#!/usr/bin/env bash
# Installs a Qubinode Navigator worker on a hypervisor, in one command (run as root):
#
#   infra/deploy/install-worker.sh --control-plane HOST:PORT --queue NAME \
#     --tls-ca ca.pem --tls-cert client.pem --tls-key client.key [--tls-server-name NAME] [--host-admin]
#
# What it does, in order:
#   1. packages (dnf on RHEL 8/9/10, Rocky, CentOS Stream, Fedora; apt-get on Debian/Ubuntu): Node.js 20 or newer,
#      python3, git, openssl, the libvirt client and the headers libvirt-python builds against;
#   2. the `qubinode` system user (home /var/lib/qubinode, no login shell), added to the libvirt group;
#   3. the code in /opt/qubinode (owned by root; copied from --source, default: this checkout), then
#      infra/setup.sh there: npm dependencies, the compiled CLI, the pinned ansible/kcli venv in .tools/;
#   4. /etc/qubinode/tls/<queue>/ (the CA, client certificate and key) and /etc/qubinode/worker-<queue>.env from
#      infra/deploy/env/worker.env (root:qubinode, 0640);
#   5. /etc/systemd/system/qubinode-worker@.service (and, with --host-admin, its host-admin.conf drop-in and a
#      sudoers rule so playbooks may `become`), checked with systemd-analyze, then enabled and (re)started.
# Running it again upgrades the code and restarts the worker; settings in the env file other than the
# address and TLS paths are kept.
#
# --dry-run checks everything it can (arguments, TLS files with openssl, the OS family, the source checkout,
# the unit) and prints each command instead of running it. --root DIR writes the files under DIR instead of /
# and leaves the running system alone (no packages, user, setup or systemctl): for trying a layout.
set -euo pipefail
install_script=install-worker
source "$(dirname "$0")/install-common.sh"
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

control_plane='' queue='' tls_ca='' tls_cert='' tls_key='' tls_server_name='' host_admin=0 start=1
while [ $# -gt 0 ]; do
  case $1 in
    --control-plane) need_value "$1" $#; control_plane=$2; shift 2 ;;
    --queue) need_value "$1" $#; queue=$2; shift 2 ;;
    --tls-ca) need_value "$1" $#; tls_ca=$2; shift 2 ;;
    --tls-cert) need_value "$1" $#; tls_cert=$2; shift 2 ;;
    --tls-key) need_value "$1" $#; tls_key=$2; shift 2 ;;
    --tls-server-name) need_value "$1" $#; tls_server_name=$2; shift 2 ;;
    --source) need_value "$1" $#; install_source=$2; shift 2 ;;
    --root) need_value "$1" $#; root=$2; shift 2 ;;
    --host-admin) host_admin=1; shift ;;
    --no-start) start=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument (see --help)" ;;
  esac
done

[ -n "$queue" ] || die "--queue is required (this hypervisor's task queue, the name DAGs use in runsOn)"
# The queue becomes a unit instance, a file name and a Temporal task queue: letters, digits, '.', '_' and '-' only.
if ! [[ "$queue" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || [[ "$queue" == *..* ]]; then
  die "--queue must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (no '..', spaces, '/' or control characters)"
fi
[ -n "$control_plane" ] || die "--control-plane is required (HOST:PORT of the Temporal frontend)"
check_address --control-plane "$control_plane"
check_server_name "$tls_server_name"
check_tls "$tls_ca" "$tls_cert" "$tls_key"
check_source
unit=$install_source/infra/deploy/systemd/qubinode-worker@.service
dropin=$install_source/infra/deploy/systemd/qubinode-worker@.service.d/host-admin.conf
template=$install_source/infra/deploy/env/worker.env
for file in "$template" "$unit" "$dropin"; do [ -f "$file" ] || die "missing in the source checkout: ${file#"$install_source"/}"; done
check_root
detect_family

opt=$root/opt/qubinode
etc=$root/etc/qubinode
units=$root/etc/systemd/system
service=qubinode-worker@$queue.service
mode=''
if [ "$dry_run" = 1 ]; then mode=' (dry run: nothing is changed)'; fi
say "installing $service on this $family host (control plane $control_plane)${root:+ under $root}$mode"

# 1. Packages: the tools tasks run (libvirt client for kcli and virsh; headers for libvirt-python).
install_packages python3 python3-pip python3-devel git-core openssl tar gcc pkgconf-pkg-config libvirt-client libvirt-devel \
  -- python3 python3-venv python3-dev git openssl tar gcc pkg-config libvirt-clients libvirt-dev
# 2. The service user, in the libvirt group so kcli and virsh reach libvirtd's socket.
ensure_user libvirt
# 3. The code.
install_code "$opt"
# 4. TLS files and the env file.
install_tls "$etc/tls/$queue" "$tls_ca" "$tls_cert" "$tls_key"
write_env "$template" "$etc/worker-$queue.env" "$control_plane" "/etc/qubinode/tls/$queue" "$tls_server_name"

# 5. The unit (and the host-admin relaxation when asked for), checked, then enabled and started.
step install -d -m 0755 "$units"
step install -m 0644 "$unit" "$units/qubinode-worker@.service"
if [ "$host_admin" = 1 ]; then
  step install -d -m 0755 "$units/qubinode-worker@.service.d"
  step install -m 0644 "$dropin" "$units/qubinode-worker@.service.d/host-admin.conf"
  step install -d -m 0750 "$root/etc/sudoers.d"
  if [ "$dry_run" = 1 ]; then
    show printf '%s\n' 'qubinode ALL=(root) NOPASSWD: ALL' '>' "$root/etc/sudoers.d/qubinode"
  else
    printf '%s\n' '# Playbooks run by qubinode-worker@ may become root (install-worker.sh --host-admin).' 'qubinode ALL=(root) NOPASSWD: ALL' > "$root/etc/sudoers.d/qubinode.new"
    chmod 0440 "$root/etc/sudoers.d/qubinode.new"
    if command -v visudo >/dev/null 2>&1; then visudo -cqf "$root/etc/sudoers.d/qubinode.new" || die "visudo refused the sudoers rule"; fi
    mv "$root/etc/sudoers.d/qubinode.new" "$root/etc/sudoers.d/qubinode"
  fi
fi
verify_unit "$units" "$service"
host_step systemctl daemon-reload
host_step systemctl enable "$service"
if [ "$start" = 1 ]; then host_step systemctl restart "$service"; fi
if [ -d "$opt.old" ]; then step rm -rf "$opt.old"; fi
say "done: $service polls task queue \"$queue\"; status: systemctl status $service; logs: journalctl -u $service"
