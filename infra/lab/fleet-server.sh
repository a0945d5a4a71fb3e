#!/usr/bin/env bash
# The lab's own Temporal dev server, run in namespace qn-temporal and reached at 10.231.0.2 (port
# QUBINODE_LAB_TEMPORAL_PORT, default 7233; Web UI 1000 above) by the hosts and the control plane.
# Its database and log are in .data/lab/control/. This machine's usual dev server on 127.0.0.1 is
# untouched. Needs the lab up (fleet-up.sh). Root only.
#   fleet-server.sh start [--fresh]   start it (--fresh: an empty database) and wait until it answers;
#                                     then register the project's search attributes
#   fleet-server.sh stop|status
#   fleet-server.sh env               the settings (export lines) a control-plane shell needs
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

usage="usage: fleet-server.sh start [--fresh] | stop | status | env"
command="${1:-}"
fresh=0
case "$#:$command:${2:-}" in
  1:start: | 1:stop: | 1:status: | 1:env:) ;;
  2:start:--fresh) fresh=1 ;;
  *) lab_refuse "$usage" ;;
esac
port="$(lab_temporal_port)"
[ "$port" -le 64535 ] || lab_refuse "QUBINODE_LAB_TEMPORAL_PORT must leave room for the Web UI 1000 above (at most 64535)"
ui_port=$((port + 1000))
control="$LAB_DIR/control"
pid_file="$control/server.pid"

if [ "$command" = env ]; then
  printf 'export %s\n' "TEMPORAL_ADDRESS=$LAB_TEMPORAL_IP:$port" "TEMPORAL_UI_URL=http://$LAB_TEMPORAL_IP:$ui_port" "QUBINODE_DATA_DIR=$control"
  exit 0
fi
lab_require_root
lab_namespace_exists "$LAB_TEMPORAL_NS" || lab_refuse "the lab is not up (run infra/lab/fleet-up.sh)"

running_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
  ip netns pids "$LAB_TEMPORAL_NS" | grep -qx "$pid" || return 1
  printf '%s' "$pid"
}
# shellcheck disable=SC2016 # the inner shell expands its own arguments
answers() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$LAB_TEMPORAL_IP" "$1" 2>/dev/null; }

case "$command" in
  status)
    if pid="$(running_pid)"; then echo "lab Temporal running, pid $pid, $LAB_TEMPORAL_IP:$port"; else echo "lab Temporal stopped"; exit 3; fi
    ;;
  stop)
    pid="$(running_pid)" || { echo "lab Temporal stopped"; exit 0; }
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      running_pid >/dev/null || break
      sleep 0.1
    done
    if running_pid >/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    rm -f "$pid_file"
    echo "lab Temporal stopped"
    ;;
  start)
    if pid="$(running_pid)"; then echo "lab Temporal running, pid $pid"; exit 0; fi
    cli="${QUBINODE_TEMPORAL_CLI:-}"
    [ -n "$cli" ] || { [ -x "$LAB_ROOT/.tools/venv/bin/temporal" ] && cli="$LAB_ROOT/.tools/venv/bin/temporal"; } || cli="$(command -v temporal || true)"
    if [ -z "$cli" ] || [ ! -x "$cli" ]; then lab_refuse "Temporal CLI not found: run infra/setup.sh or set QUBINODE_TEMPORAL_CLI"; fi
    mkdir -p "$control"
    if [ "$fresh" = 1 ]; then rm -f "$control"/temporal.db "$control"/temporal.db-*; fi
    # The lab's workers and clients use TEMPORAL_NAMESPACE (a test run's own, say): the server must have it.
    namespace_args=()
    if [ -n "${TEMPORAL_NAMESPACE:-}" ] && [ "$TEMPORAL_NAMESPACE" != default ]; then
      [[ "$TEMPORAL_NAMESPACE" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || lab_refuse "TEMPORAL_NAMESPACE must be letters, digits, '.', '_' or '-'"
      namespace_args=(--namespace "$TEMPORAL_NAMESPACE")
    fi
    setsid ip netns exec "$LAB_TEMPORAL_NS" "$cli" server start-dev --ip 0.0.0.0 --port "$port" --ui-port "$ui_port" \
      --db-filename "$control/temporal.db" "${namespace_args[@]}" --log-level warn --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
      </dev/null >>"$control/server.log" 2>&1 &
    server_pid=$!
    echo "$server_pid" >"$pid_file"
    for _ in $(seq 1 600); do
      answers "$port" && answers "$ui_port" && break
      lab_process_alive "$server_pid" || lab_fail "the lab's Temporal server exited; see $control/server.log"
      sleep 0.1
    done
    answers "$port" || lab_fail "the lab's Temporal server did not answer within 60 s; see $control/server.log"
    # The project's search attributes, registered by the CLI (it reuses a server that answers).
    cd "$LAB_ROOT"
    env TEMPORAL_ADDRESS="$LAB_TEMPORAL_IP:$port" TEMPORAL_UI_URL="http://$LAB_TEMPORAL_IP:$ui_port" QUBINODE_DATA_DIR="$control" node bin/qubinode.js server start
    ;;
esac
