# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are read by the scripts that source this file
# Shared by the fleet lab scripts (sourced, not run). The lab: hosts hv1..hvN as network namespaces
# qn-hv1..qn-hvN on a bridge of their own; see docs/fleet-lab.md.
# Exit codes of every lab script: 0 done, 1 failed, 2 refused (bad argument, not root, missing tool).

# Several labs can live side by side, one per slot (QUBINODE_LAB_SLOT, 0..9, default 0): slot 0 names
# everything qn-*, on 10.231.0.0/24 with data in .data/lab; slot N uses qnN-*, 10.231.N.0/24, .data/labN.
LAB_SLOT="${QUBINODE_LAB_SLOT:-0}"
if ! [[ "$LAB_SLOT" =~ ^[0-9]$ ]]; then
  printf '[fleet-lab] %s\n' "QUBINODE_LAB_SLOT must be a digit 0..9, got: $(printf '%q' "$LAB_SLOT")" >&2
  exit 2
fi
if [ "$LAB_SLOT" = 0 ]; then LAB_NAME=qn; LAB_DIR_NAME=lab; else LAB_NAME="qn$LAB_SLOT"; LAB_DIR_NAME="lab$LAB_SLOT"; fi
LAB_BRIDGE="$LAB_NAME-br0"
LAB_NET="10.231.$LAB_SLOT"
LAB_PREFIX=24
LAB_CONTROL_IP="$LAB_NET.1"
# The lab's Temporal dev server runs in a namespace of its own: the dev server's services call one another
# on 127.0.0.1, so it must listen on every address (--ip 0.0.0.0), which there means its loopback and this
# one bridge address only, never the machine's own networks.
LAB_TEMPORAL_NS="$LAB_NAME-temporal"
LAB_TEMPORAL_VETH="$LAB_NAME-temporal-r"
LAB_TEMPORAL_IP="$LAB_NET.2"
LAB_MAX_HOSTS=32
# Policy routing: anything arriving from the lab that is not for this machine goes nowhere, even when
# the machine forwards packets for others (Docker and libvirt turn ip_forward on).
LAB_RULE_PREF="$((2310 + LAB_SLOT))"
LAB_RULE_TABLE="$((2310 + LAB_SLOT))"
LAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAB_DIR="$LAB_ROOT/.data/$LAB_DIR_NAME"

lab_say() { printf '[fleet-lab] %s\n' "$*" >&2; }
lab_refuse() { lab_say "$*"; exit 2; }
lab_fail() { lab_say "$*"; exit 1; }

lab_require_root() {
  [ "$(id -u)" = 0 ] || lab_refuse "root required: network namespaces, veth pairs and the bridge need CAP_NET_ADMIN (run with sudo)"
  command -v ip >/dev/null 2>&1 || lab_refuse "the ip command (iproute2) is missing"
}

# A host count: 1..LAB_MAX_HOSTS, plain decimal (no sign, no leading zero, no spaces).
lab_check_count() {
  local count="$1"
  if ! [[ "$count" =~ ^[1-9][0-9]?$ ]] || [ "$count" -gt "$LAB_MAX_HOSTS" ]; then
    lab_refuse "host count must be a number from 1 to $LAB_MAX_HOSTS, got: $(printf '%q' "$count")"
  fi
}

# A host name hvN with N in 1..LAB_MAX_HOSTS; prints N. Anything else (paths, spaces, ';', hv01) is refused.
lab_host_number() {
  local host="$1"
  if [[ "$host" =~ ^hv([1-9][0-9]?)$ ]] && [ "${BASH_REMATCH[1]}" -le "$LAB_MAX_HOSTS" ]; then
    printf '%s' "${BASH_REMATCH[1]}"
  else
    lab_refuse "host must be hv1..hv$LAB_MAX_HOSTS, got: $(printf '%q' "$host")"
  fi
}

lab_namespace() { printf '%s-hv%s' "$LAB_NAME" "$1"; }
# The veth end left in the control plane's namespace, a port of the bridge (15 characters at most).
lab_root_veth() { printf '%s-hv%s-r' "$LAB_NAME" "$1"; }
lab_host_ip() { printf '%s.%s' "$LAB_NET" "$((10 + $1))"; }
lab_host_dir() { printf '%s/hv%s' "$LAB_DIR" "$1"; }

lab_namespace_exists() { [ -e "/run/netns/$1" ]; }
lab_link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
# Whether pid is a live process (a zombie counts as gone). For a child just started with `ip netns exec`,
# which joins its namespace only after the fork: until then `ip netns pids` does not list it.
lab_process_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$(echo "${stat##*) }" | cut -c1)" != Z ]
}

# The port of the lab's own Temporal dev server on the bridge address.
lab_temporal_port() {
  local port="${QUBINODE_LAB_TEMPORAL_PORT:-7233}"
  if ! [[ "$port" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$port" -gt 65535 ]; then
    lab_refuse "QUBINODE_LAB_TEMPORAL_PORT must be a port number, got: $(printf '%q' "$port")"
  fi
  printf '%s' "$port"
}

# Namespaces of this lab that exist now, by number.
lab_existing_numbers() {
  local entry name
  for entry in /run/netns/"$LAB_NAME"-hv*; do
    [ -e "$entry" ] || continue
    name="${entry##*/}"
    [[ "$name" =~ ^$LAB_NAME-hv([1-9][0-9]?)$ ]] && printf '%s\n' "${BASH_REMATCH[1]}"
  done
}
