#!/usr/bin/env bash
# The lab's own Temporal dev server, listening on the bridge address 10.231.0.1 (port
# QUBINODE_LAB_TEMPORAL_PORT, default 7233; Web UI 1000 above, as the dev server's default) so the hosts' workers reach it;
# its database is .data/lab/control/temporal/. This machine's usual dev server on 127.0.0.1 is untouched.
# Needs the lab up (fleet-up.sh) for the address to exist. Usage: fleet-server.sh start|stop|status|env
#   env   prints the settings (export lines) a control-plane shell needs to use the lab's server
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

usage="usage: fleet-server.sh start|stop|status|env"
[ $# = 1 ] || lab_refuse "$usage"
case "$1" in start | stop | status | env) ;; *) lab_refuse "$usage" ;; esac
port="$(lab_temporal_port)"
[ "$port" -le 64535 ] || lab_refuse "QUBINODE_LAB_TEMPORAL_PORT must leave room for the Web UI 1000 above (at most 64535)"

settings=(
  "TEMPORAL_ADDRESS=$LAB_CONTROL_IP:$port"
  "QUBINODE_TEMPORAL_IP=$LAB_CONTROL_IP"
  "QUBINODE_TEMPORAL_PORT=$port"
  "QUBINODE_TEMPORAL_UI_PORT=$((port + 1000))"
  "QUBINODE_DATA_DIR=$LAB_DIR/control"
)
if [ "$1" = env ]; then
  printf 'export %s\n' "${settings[@]}"
  exit 0
fi
if [ "$1" = start ]; then
  ip -o -4 addr show dev "$LAB_BRIDGE" 2>/dev/null | grep -q " $LAB_CONTROL_IP/" || lab_refuse "the lab is not up (run infra/lab/fleet-up.sh): $LAB_CONTROL_IP is not on $LAB_BRIDGE"
fi
cd "$LAB_ROOT"
exec env "${settings[@]}" node bin/qubinode.js server "$1"
