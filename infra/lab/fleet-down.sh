#!/usr/bin/env bash
# Removes the fleet lab: every process inside the qn-hvN namespaces (workers and the tools they ran),
# the namespaces with their veth pairs, the bridge and its routing rule. The hosts' data and log
# directories stay (for a look afterwards) unless --purge. Safe to run when nothing is up. Root only.
# Usage: fleet-down.sh [--purge]
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

purge=0
case "${1:-}" in
  '') ;;
  --purge) purge=1 ;;
  *) lab_refuse "usage: fleet-down.sh [--purge]" ;;
esac
[ $# -le 1 ] || lab_refuse "usage: fleet-down.sh [--purge]"
lab_require_root

# Processes still inside a namespace would keep it (and its veth) alive after `ip netns del`.
stop_namespace_processes() {
  local ns="$1" pids
  pids="$(ip netns pids "$ns" 2>/dev/null || true)"
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086 # one pid a word
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    [ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ] || return 0
    sleep 0.1
  done
  lab_say "processes left in $ns: $(ip netns pids "$ns" | tr '\n' ' ')"
}

for n in $(lab_existing_numbers); do
  ns="$(lab_namespace "$n")"
  stop_namespace_processes "$ns"
  rm -f "$(lab_host_dir "$n")/worker.pid"
  ip netns del "$ns"
  # The veth pair goes with the namespace, a moment later; a leftover end is removed.
  ip link del "$(lab_root_veth "$n")" 2>/dev/null || true
  printf 'hv%s\tdown\n' "$n"
done
if lab_namespace_exists "$LAB_TEMPORAL_NS"; then
  stop_namespace_processes "$LAB_TEMPORAL_NS"
  rm -f "$LAB_DIR/control/server.pid"
  ip netns del "$LAB_TEMPORAL_NS"
  ip link del "$LAB_TEMPORAL_VETH" 2>/dev/null || true
  printf 'temporal\tdown\n'
fi
while [ -n "$(ip rule show pref "$LAB_RULE_PREF")" ]; do ip rule del pref "$LAB_RULE_PREF"; done
ip route flush table "$LAB_RULE_TABLE" 2>/dev/null || true
! lab_link_exists "$LAB_BRIDGE" || ip link del "$LAB_BRIDGE"
if [ "$purge" = 1 ]; then rm -rf "$LAB_DIR"; fi
lab_say "lab down"
