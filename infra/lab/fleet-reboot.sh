#!/usr/bin/env bash
# A reboot of one lab host, as its worker runs it for host.reboot (QUBINODE_REBOOT_COMMAND, set by
# fleet-worker.sh): the host's worker stops, every other process of the host dies, and after a moment
# the worker starts again, a new instance. Root only.
#
#   fleet-reboot.sh hvN               reboot: stop, kill what is left, start the worker again
#   fleet-reboot.sh hvN --stay-down   the host goes down and does not come back (a host lost for good)
#
# It runs inside the host's namespace (the worker started it), so it spares itself while it takes the
# host's processes; it is the one process of the host that outlives the "reboot", and ends soon after.
# Its output goes to .data/lab/hvN/logs/reboot.log.
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

usage="usage: fleet-reboot.sh hvN [--stay-down]"
[ $# = 1 ] || [ $# = 2 ] || lab_refuse "$usage"
n="$(lab_host_number "$1")"
stay_down=false
if [ $# = 2 ]; then
  [ "$2" = --stay-down ] || lab_refuse "$usage"
  stay_down=true
fi
lab_require_root
ns="$(lab_namespace "$n")"
lab_namespace_exists "$ns" || lab_refuse "host hv$n is not up (run infra/lab/fleet-up.sh)"
here="$(dirname "${BASH_SOURCE[0]}")"
mkdir -p "$(lab_host_dir "$n")/logs"
exec >>"$(lab_host_dir "$n")/logs/reboot.log" 2>&1
lab_say "hv$n going down$([ "$stay_down" = true ] && printf ' for good')"

# A clean stop first (the worker finishes its shutdown), then whatever else lives in the host.
bash "$here/fleet-worker.sh" stop "hv$n"
for pid in $(ip netns pids "$ns"); do
  [ "$pid" = "$$" ] && continue
  # This script's own short-lived children (command substitutions) are spared with it.
  parent="$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null || true)"
  [ "$parent" = "$$" ] && continue
  kill -KILL "$pid" 2>/dev/null || true
done
sleep 1
if [ "$stay_down" = true ]; then
  lab_say "hv$n is down"
  exit 0
fi
bash "$here/fleet-worker.sh" start "hv$n"
lab_say "hv$n is back"
