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

say() { printf '[install-worker] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
control_plane='' queue='' tls_ca='' tls_cert='' tls_key='' tls_server_name=''
root='' dry_run=0 host_admin=0 start=1

need_value() { [ "$2" -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --control-plane) need_value "$1" $#; control_plane=$2; shift 2 ;;
    --queue) need_value "$1" $#; queue=$2; shift 2 ;;
    --tls-ca) need_value "$1" $#; tls_ca=$2; shift 2 ;;
    --tls-cert) need_value "$1" $#; tls_cert=$2; shift 2 ;;
    --tls-key) need_value "$1" $#; tls_key=$2; shift 2 ;;
    --tls-server-name) need_value "$1" $#; tls_server_name=$2; shift 2 ;;
    --source) need_value "$1" $#; source_dir=$2; shift 2 ;;
    --root) need_value "$1" $#; root=$2; shift 2 ;;
    --host-admin) host_admin=1; shift ;;
    --no-start) start=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument (see --help)" ;;
  esac
done

# --- checks: every value is checked against a plain shape before it is used anywhere -------------------------
[ -n "$queue" ] || die "--queue is required (this hypervisor's task queue, the name DAGs use in runsOn)"
# The queue becomes a unit instance, a file name and a Temporal task queue: letters, digits, '.', '_' and '-' only.
if ! [[ "$queue" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || [[ "$queue" == *..* ]]; then
  die "--queue must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (no '..', spaces, '/' or control characters)"
fi
[ -n "$control_plane" ] || die "--control-plane is required (HOST:PORT of the Temporal frontend)"
if ! [[ "$control_plane" =~ ^([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]):([0-9]{1,5})$ ]] ||
  [ "${BASH_REMATCH[3]}" -lt 1 ] || [ "${BASH_REMATCH[3]}" -gt 65535 ]; then
  die "--control-plane must be HOST:PORT (a DNS name, an IPv4 address or [IPv6], and a port 1-65535)"
fi
if [ -n "$tls_server_name" ] && ! [[ "$tls_server_name" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]]; then
  die "--tls-server-name must be a DNS name"
fi
if [ -z "$tls_ca" ] || [ -z "$tls_cert" ] || [ -z "$tls_key" ]; then die "--tls-ca, --tls-cert and --tls-key are required: workers reach Temporal only over mutual TLS"; fi
for file in "$tls_ca" "$tls_cert" "$tls_key"; do
  if ! [ -f "$file" ] || ! [ -r "$file" ]; then die "cannot read the TLS file given ($file)"; fi
done
command -v openssl >/dev/null 2>&1 || die "openssl is needed to check the TLS files (install openssl)"
openssl x509 -in "$tls_ca" -noout 2>/dev/null || die "--tls-ca is not a PEM certificate"
openssl x509 -in "$tls_cert" -noout 2>/dev/null || die "--tls-cert is not a PEM certificate"
openssl pkey -in "$tls_key" -noout 2>/dev/null || die "--tls-key is not a PEM private key (or it is encrypted)"
openssl verify -CAfile "$tls_ca" "$tls_cert" >/dev/null 2>&1 || die "--tls-cert is not signed by --tls-ca"
[ "$(openssl x509 -in "$tls_cert" -noout -pubkey)" = "$(openssl pkey -in "$tls_key" -pubout)" ] || die "--tls-key does not belong to --tls-cert"

if ! [ -f "$source_dir/package.json" ] || ! [ -f "$source_dir/bin/qubinode.js" ] || ! [ -f "$source_dir/infra/setup.sh" ]; then
  die "--source is not a Qubinode Navigator checkout (package.json, bin/qubinode.js, infra/setup.sh)"
fi
source_dir=$(cd "$source_dir" && pwd)
template=$source_dir/infra/deploy/env/worker.env
unit=$source_dir/infra/deploy/systemd/qubinode-worker@.service
dropin=$source_dir/infra/deploy/systemd/qubinode-worker@.service.d/host-admin.conf
for file in "$template" "$unit" "$dropin"; do [ -f "$file" ] || die "missing in the source checkout: ${file#"$source_dir"/}"; done

if [ -n "$root" ]; then
  [[ "$root" == /* ]] || die "--root must be an absolute path"
  [[ "$root" != *$'\n'* ]] || die "--root must not contain a newline"
  root=${root%/}
  [ -n "$root" ] || die "--root / is the running system: leave --root out instead"
elif [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or try --dry-run, or --root DIR)"
fi

# The OS family decides the package manager. QUBINODE_OS_RELEASE lets a dry run show another family's plan.
os_release=${QUBINODE_OS_RELEASE:-/etc/os-release}
[ -r "$os_release" ] || die "cannot read $os_release to tell the OS family"
# shellcheck disable=SC1090 # os-release is a shell-compatible file of plain assignments
os_id=$(. "$os_release" && printf '%s %s' "${ID:-}" "${ID_LIKE:-}")
# shellcheck disable=SC1090
os_version=$(. "$os_release" && printf '%s' "${VERSION_ID:-}")
case " $os_id " in
  *" rhel "* | *" fedora "* | *" centos "* | *" rocky "* | *" almalinux "*) family=rhel ;;
  *" debian "* | *" ubuntu "*) family=debian ;;
  *) die "unsupported OS ($os_id): RHEL-family (dnf) and Debian/Ubuntu (apt-get) are supported" ;;
esac

node_ok() { command -v node >/dev/null 2>&1 && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; }

# --- how steps run --------------------------------------------------------------------------------------------
show() { printf '+'; printf ' %q' "$@"; printf '\n'; }
# A step on the files this script installs: printed in a dry run, run otherwise (under --root too).
step() { if [ "$dry_run" = 1 ]; then show "$@"; else "$@"; fi; }
# A step on the running system (packages, users, services): also only printed under --root.
host_step() {
  if [ "$dry_run" = 1 ]; then show "$@"
  elif [ -n "$root" ]; then printf '(not run under --root)'; show "$@"
  else "$@"
  fi
}

opt=$root/opt/qubinode
etc=$root/etc/qubinode
tls=$etc/tls/$queue
env_file=$etc/worker-$queue.env
units=$root/etc/systemd/system
service=qubinode-worker@$queue.service
mode=''
if [ "$dry_run" = 1 ]; then mode=' (dry run: nothing is changed)'; fi
say "installing $service on this $family host (control plane $control_plane)${root:+ under $root}$mode"

# 1. Packages.
if [ "$family" = rhel ]; then
  case $os_version in 8* | 9*) node_stream=(dnf -y module enable nodejs:20) ;; *) node_stream=() ;; esac
  if ! node_ok && [ ${#node_stream[@]} -gt 0 ]; then host_step "${node_stream[@]}"; fi
  packages=(python3 python3-pip python3-devel git-core openssl tar gcc pkgconf-pkg-config libvirt-client libvirt-devel)
  node_ok || packages+=(nodejs npm)
  host_step dnf -y install "${packages[@]}"
else
  packages=(python3 python3-venv python3-dev git openssl tar gcc pkg-config libvirt-clients libvirt-dev)
  node_ok || packages+=(nodejs npm)
  host_step env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi
if [ "$dry_run" = 0 ] && [ -z "$root" ] && ! node_ok; then
  die "Node.js 20 or newer is needed and the distribution's package is older: install Node.js 20 and run this again"
fi

# 2. The service user.
if ! getent passwd qubinode >/dev/null 2>&1; then
  host_step useradd --system --user-group --home-dir /var/lib/qubinode --no-create-home --shell /sbin/nologin qubinode
fi
if getent group libvirt >/dev/null 2>&1; then host_step usermod -a -G libvirt qubinode; fi

# 3. The code: staged beside the old copy and swapped in once it is built, so an upgrade stops the worker briefly.
stage=$opt.new
step rm -rf "$stage"
step mkdir -p "$stage"
if [ "$dry_run" = 1 ]; then
  show tar -C "$source_dir" --exclude=./.git --exclude=./.data --exclude=./.tools --exclude=./node_modules --exclude=./dist -cf - . '|' tar -C "$stage" -xf -
else
  tar -C "$source_dir" --exclude=./.git --exclude=./.data --exclude=./.tools --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$stage" -xf -
fi
host_step bash "$stage/infra/setup.sh"
step rm -rf "$opt.old"
if [ -d "$opt" ]; then step mv "$opt" "$opt.old"; fi
step mv "$stage" "$opt"

# 4. TLS files and the env file. Only paths this script chose and the checked address and server name are written.
group_of_service() { if [ -z "$root" ]; then host_step chgrp qubinode "$@"; fi; }
step install -d -m 0755 "$etc"
step install -d -m 0750 "$etc/tls" "$tls"
group_of_service "$etc/tls" "$tls"
step install -m 0644 "$tls_ca" "$tls/ca.pem"
step install -m 0644 "$tls_cert" "$tls/client.pem"
step install -m 0640 "$tls_key" "$tls/client.key"
group_of_service "$tls/client.key"
# Values reach awk through its environment, never through its program text.
render_env() {
  local from=$1
  QI_ADDRESS=$control_plane QI_CA=/etc/qubinode/tls/$queue/ca.pem QI_CERT=/etc/qubinode/tls/$queue/client.pem \
    QI_KEY=/etc/qubinode/tls/$queue/client.key QI_SERVER_NAME=$tls_server_name awk '
      BEGIN {
        set["TEMPORAL_ADDRESS"] = ENVIRON["QI_ADDRESS"]; set["TEMPORAL_TLS_CA"] = ENVIRON["QI_CA"]
        set["TEMPORAL_TLS_CERT"] = ENVIRON["QI_CERT"]; set["TEMPORAL_TLS_KEY"] = ENVIRON["QI_KEY"]
        set["TEMPORAL_TLS_SERVER_NAME"] = ENVIRON["QI_SERVER_NAME"]
      }
      {
        line = $0; key = line; sub(/^#/, "", key); sub(/=.*/, "", key)
        if ((key in set) && line ~ /^#?[A-Z_]+=/) {
          if (set[key] == "") print "#" key "="; else print key "=" set[key]
          next
        }
        print line
      }' "$from"
}
if [ -f "$env_file" ]; then env_source=$env_file; else env_source=$template; fi
if [ "$dry_run" = 1 ]; then
  show render_env "$env_source" '>' "$env_file"
else
  render_env "$env_source" > "$env_file.new"
  chmod 0640 "$env_file.new"
  mv "$env_file.new" "$env_file"
fi
group_of_service "$env_file"

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
if command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$dry_run" = 1 ]; then
    show systemd-analyze verify "$units/$service"
  else
    # Link the instance name to the template so the check sees exactly what systemd will load.
    check=$(mktemp -d)
    cp "$units/qubinode-worker@.service" "$check/"
    if [ -d "$units/qubinode-worker@.service.d" ]; then cp -R "$units/qubinode-worker@.service.d" "$check/"; fi
    if ! out=$(systemd-analyze verify "$check/$service" 2>&1) || [ -n "$out" ]; then
      rm -rf "$check"
      die "systemd-analyze verify $service: $out"
    fi
    rm -rf "$check"
  fi
fi
host_step systemctl daemon-reload
if [ "$start" = 1 ]; then
  host_step systemctl enable "$service"
  host_step systemctl restart "$service"
else
  host_step systemctl enable "$service"
fi
if [ -d "$opt.old" ]; then step rm -rf "$opt.old"; fi
say "done: $service polls task queue \"$queue\"; status: systemctl status $service; logs: journalctl -u $service"
