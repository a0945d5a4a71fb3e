#!/usr/bin/env bash
# The worker of one lab host: `qubinode worker --queue hvN --activities-only` inside namespace qn-hvN,
# with the host's own data and log directories and the lab's Temporal server (10.231.0.2, port
# QUBINODE_LAB_TEMPORAL_PORT, default 7233) as TEMPORAL_ADDRESS. Root only.
#
#   fleet-worker.sh start hvN   start it in the background (pid in .data/lab/hvN/worker.pid, output in
#                               .data/lab/hvN/logs/worker.log); a no-op when it runs already
#   fleet-worker.sh stop hvN    SIGTERM to its process group, SIGKILL after 15 s (a clean shutdown)
#   fleet-worker.sh kill hvN    SIGKILL to every process in the host (the host losing power)
#   fleet-worker.sh status hvN  prints running PID or stopped; exit 0 when running, 3 when not
#
# host.reboot on the host runs fleet-reboot.sh hvN (QUBINODE_REBOOT_COMMAND; QUBINODE_LAB_REBOOT=stay-down
# gives it --stay-down). Other settings (QUBINODE_AI_ANALYSIS, QUBINODE_LOG_LEVEL, ...) come from the
# caller's environment.
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

usage="usage: fleet-worker.sh start|stop|kill|status hvN"
[ $# = 2 ] || lab_refuse "$usage"
command="$1"
n="$(lab_host_number "$2")"
case "$command" in start | stop | kill | status) ;; *) lab_refuse "$usage" ;; esac
port="$(lab_temporal_port)"
lab_require_root

ns="$(lab_namespace "$n")"
dir="$(lab_host_dir "$n")"
pid_file="$dir/worker.pid"
lab_namespace_exists "$ns" || lab_refuse "host hv$n is not up (run infra/lab/fleet-up.sh)"

# The recorded worker, when that pid is still a process inside this host's namespace.
running_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
  ip netns pids "$ns" | grep -qx "$pid" || return 1
  printf '%s' "$pid"
}

case "$command" in
  status)
    if pid="$(running_pid)"; then echo "hv$n worker running, pid $pid"; else echo "hv$n worker stopped"; exit 3; fi
    ;;
  start)
    if pid="$(running_pid)"; then echo "hv$n worker running, pid $pid"; exit 0; fi
    mkdir -p "$dir/data" "$dir/logs"
    cd "$LAB_ROOT"
    # host.reboot in the lab: fleet-reboot.sh restarts this worker (QUBINODE_LAB_REBOOT=stay-down: it stays down).
    reboot_script="$LAB_ROOT/infra/lab/fleet-reboot.sh"
    [[ "$reboot_script" != *[\"\\]* ]] || lab_fail "the checkout's path cannot go into a JSON list: $reboot_script"
    case "${QUBINODE_LAB_REBOOT:-return}" in
      return) reboot_command="[\"$reboot_script\",\"hv$n\"]" ;;
      stay-down) reboot_command="[\"$reboot_script\",\"hv$n\",\"--stay-down\"]" ;;
      *) lab_refuse "QUBINODE_LAB_REBOOT must be return or stay-down, got: $(printf '%q' "$QUBINODE_LAB_REBOOT")" ;;
    esac
    # setsid: the worker leads a process group of its own, so stop reaches the tools it started.
    setsid ip netns exec "$ns" env \
      TEMPORAL_ADDRESS="$LAB_TEMPORAL_IP:$port" \
      QUBINODE_DATA_DIR="$dir/data" \
      QUBINODE_LOG_DIR="$dir/logs" \
      QUBINODE_LAB_SLOT="$LAB_SLOT" \
      QUBINODE_LAB_TEMPORAL_PORT="$port" \
      QUBINODE_REBOOT_COMMAND="$reboot_command" \
      QUBINODE_REBOOT_CHANGES=worker \
      node bin/qubinode.js worker --queue "hv$n" --activities-only </dev/null >>"$dir/logs/worker.log" 2>&1 &
    echo "$!" >"$pid_file"
    echo "hv$n worker started, pid $!, Temporal $LAB_TEMPORAL_IP:$port, log $dir/logs/worker.log"
    ;;
  stop)
    pid="$(running_pid)" || { echo "hv$n worker stopped"; exit 0; }
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      running_pid >/dev/null || break
      sleep 0.1
    done
    if running_pid >/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    rm -f "$pid_file"
    echo "hv$n worker stopped"
    ;;
  kill)
    pids="$(ip netns pids "$ns")"
    # shellcheck disable=SC2086 # one pid a word
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -n "$(ip netns pids "$ns")" ] || break
      sleep 0.1
    done
    rm -f "$pid_file"
    echo "hv$n lost every process"
    ;;
esac
