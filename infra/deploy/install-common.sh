# shellcheck shell=bash
# Shared by install-worker.sh and install-control-plane.sh: checks, how steps run (--dry-run, --root), packages,
# the service user, the code in /opt/qubinode, TLS files, env files and units. Sourced, not run. Every value is
# checked against a plain shape before use, and reaches commands as separate arguments, never as code.
set -euo pipefail

say() { printf '[%s] %s\n' "${install_script:-install}" "$*" >&2; }
die() { say "error: $*"; exit 1; }
need_value() { [ "$2" -ge 2 ] || die "$1 needs a value"; }

install_source=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
root='' dry_run=0

# check_address FLAG VALUE: HOST:PORT with a DNS name, an IPv4 address or [IPv6], and a port 1-65535.
check_address() {
  if ! [[ "$2" =~ ^([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]):([0-9]{1,5})$ ]] ||
    [ "${BASH_REMATCH[3]}" -lt 1 ] || [ "${BASH_REMATCH[3]}" -gt 65535 ]; then
    die "$1 must be HOST:PORT (a DNS name, an IPv4 address or [IPv6], and a port 1-65535)"
  fi
}

check_server_name() {
  if [ -n "$1" ] && ! [[ "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]]; then die "--tls-server-name must be a DNS name"; fi
}

# check_tls CA CERT KEY: readable PEM files, the certificate signed by the CA, the key belonging to the certificate.
check_tls() {
  local ca=$1 cert=$2 key=$3 file
  if [ -z "$ca" ] || [ -z "$cert" ] || [ -z "$key" ]; then die "--tls-ca, --tls-cert and --tls-key are required: Temporal is reached only over mutual TLS"; fi
  for file in "$ca" "$cert" "$key"; do
    if ! [ -f "$file" ] || ! [ -r "$file" ]; then die "cannot read the TLS file given ($file)"; fi
  done
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to check the TLS files (install openssl)"
  openssl x509 -in "$ca" -noout 2>/dev/null || die "--tls-ca is not a PEM certificate"
  openssl x509 -in "$cert" -noout 2>/dev/null || die "--tls-cert is not a PEM certificate"
  openssl pkey -in "$key" -noout 2>/dev/null || die "--tls-key is not a PEM private key (or it is encrypted)"
  openssl verify -CAfile "$ca" "$cert" >/dev/null 2>&1 || die "--tls-cert is not signed by --tls-ca"
  [ "$(openssl x509 -in "$cert" -noout -pubkey)" = "$(openssl pkey -in "$key" -pubout)" ] || die "--tls-key does not belong to --tls-cert"
}

check_source() {
  if ! [ -f "$install_source/package.json" ] || ! [ -f "$install_source/bin/qubinode.js" ] || ! [ -f "$install_source/infra/setup.sh" ]; then
    die "--source is not a Qubinode Navigator checkout (package.json, bin/qubinode.js, infra/setup.sh)"
  fi
  install_source=$(cd "$install_source" && pwd)
}

# check_root: --root DIR writes under DIR and leaves the running system alone; without it the script needs root.
check_root() {
  if [ -n "$root" ]; then
    [[ "$root" == /* ]] || die "--root must be an absolute path"
    [[ "$root" != *$'\n'* ]] || die "--root must not contain a newline"
    root=${root%/}
    [ -n "$root" ] || die "--root / is the running system: leave --root out instead"
  elif [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root (or try --dry-run, or --root DIR)"
  fi
}

# detect_family: rhel (dnf) or debian (apt-get), from os-release. QUBINODE_OS_RELEASE lets a dry run show another
# family's plan.
detect_family() {
  local os_release=${QUBINODE_OS_RELEASE:-/etc/os-release} os_id
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
}

node_ok() { command -v node >/dev/null 2>&1 && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; }

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

# install_packages RHEL-PACKAGES -- DEBIAN-PACKAGES: Node.js 20 or newer (when missing) and the given packages.
install_packages() {
  local rhel=() debian=() seen=0 name
  for name in "$@"; do
    if [ "$name" = -- ]; then seen=1; elif [ "$seen" = 0 ]; then rhel+=("$name"); else debian+=("$name"); fi
  done
  if [ "$family" = rhel ]; then
    if ! node_ok; then
      case $os_version in 8* | 9*) host_step dnf -y module enable nodejs:20 ;; esac
      rhel+=(nodejs npm)
    fi
    host_step dnf -y install "${rhel[@]}"
  else
    node_ok || debian+=(nodejs npm)
    host_step env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${debian[@]}"
  fi
  if [ "$dry_run" = 0 ] && [ -z "$root" ] && ! node_ok; then
    die "Node.js 20 or newer is needed and the distribution's package is older: install Node.js 20 and run this again"
  fi
}

# ensure_user [GROUP...]: the qubinode system user (home /var/lib/qubinode, no login), in each group that exists.
ensure_user() {
  local group
  if ! getent passwd qubinode >/dev/null 2>&1; then
    host_step useradd --system --user-group --home-dir /var/lib/qubinode --no-create-home --shell /sbin/nologin qubinode
  fi
  for group in "$@"; do
    if getent group "$group" >/dev/null 2>&1; then host_step usermod -a -G "$group" qubinode; fi
  done
}

# install_code OPT: the checkout without local state, staged beside the old copy, built by infra/setup.sh, then
# swapped in, so an upgrade stops the services only for the restart.
install_code() {
  local opt=$1 stage=$1.new
  local excludes=(--exclude=./.git --exclude=./.data --exclude=./.tools --exclude=./node_modules --exclude=./dist --exclude=./infra/deploy/compose/secrets)
  step rm -rf "$stage"
  step mkdir -p "$stage"
  if [ "$dry_run" = 1 ]; then
    show tar -C "$install_source" "${excludes[@]}" -cf - . '|' tar -C "$stage" -xf -
  else
    tar -C "$install_source" "${excludes[@]}" -cf - . | tar -C "$stage" -xf -
  fi
  host_step bash "$stage/infra/setup.sh"
  step rm -rf "$opt.old"
  if [ -d "$opt" ]; then step mv "$opt" "$opt.old"; fi
  step mv "$stage" "$opt"
}

# service_group PATH...: files the service reads get group qubinode (not under --root, where the group may not exist).
service_group() { if [ -z "$root" ]; then host_step chgrp qubinode "$@"; fi; }

# install_tls DIR CA CERT KEY: ca.pem and client.pem (0644) and client.key (0640, group qubinode) in DIR (0750).
install_tls() {
  local dir=$1
  step install -d -m 0755 "$(dirname "$(dirname "$dir")")"
  step install -d -m 0750 "$(dirname "$dir")" "$dir"
  service_group "$(dirname "$dir")" "$dir"
  step install -m 0644 "$2" "$dir/ca.pem"
  step install -m 0644 "$3" "$dir/client.pem"
  step install -m 0640 "$4" "$dir/client.key"
  service_group "$dir/client.key"
}

# write_env TEMPLATE FILE ADDRESS TLS-DIR SERVER-NAME: FILE (0640) from itself when it exists, else from TEMPLATE,
# with TEMPORAL_ADDRESS and the TEMPORAL_TLS_* lines set; the operator's other settings stay. TLS-DIR is the
# path as the service sees it (without --root).
write_env() {
  local template=$1 file=$2 from
  if [ -f "$file" ]; then from=$file; else from=$template; fi
  if [ "$dry_run" = 1 ]; then
    show render_env "$from" '>' "$file"
    return
  fi
  # Values reach awk through its environment, never through its program text.
  QI_ADDRESS=$3 QI_CA=$4/ca.pem QI_CERT=$4/client.pem QI_KEY=$4/client.key QI_SERVER_NAME=$5 awk '
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
    }' "$from" > "$file.new"
  chmod 0640 "$file.new"
  mv "$file.new" "$file"
  service_group "$file"
}

# verify_unit UNITS-DIR NAME: systemd-analyze verify on a copy of UNITS-DIR's qubinode units (a clean check is
# exit 0 and no output: unknown keys and bad values only warn).
verify_unit() {
  local units=$1 name=$2 check out
  command -v systemd-analyze >/dev/null 2>&1 || { say "systemd-analyze not found: unit check skipped"; return; }
  if [ "$dry_run" = 1 ]; then show systemd-analyze verify "$units/$name"; return; fi
  check=$(mktemp -d)
  cp -R "$units"/qubinode-* "$check/"
  if ! out=$(systemd-analyze verify "$check/$name" 2>&1) || [ -n "$out" ]; then
    rm -rf "$check"
    die "systemd-analyze verify $name: $out"
  fi
  rm -rf "$check"
}
