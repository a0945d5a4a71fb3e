#!/usr/bin/env bash
# Stops the production Temporal server and its PostgreSQL cluster started by up.sh:
#
#   infra/production/down.sh           # stop; data, certificates and temporal.env stay for the next up.sh
#   infra/production/down.sh --purge   # stop and delete ${QUBINODE_PROD_DIR} (all runs, the database, the certificates)
set -euo pipefail
prod_script=down
source "$(dirname "$0")/common.sh"

purge=0
case "${1:-}" in
  '') ;;
  --purge) purge=1 ;;
  *) die "usage: down.sh [--purge]" ;;
esac

pid_file=$temporal_dir/temporal-server.pid
if [ -s "$pid_file" ]; then
  pid=$(cat "$pid_file")
  # Only the process this directory started: the pid file may be stale and the number reused.
  if process_runs "$pid" temporal-server; then
    say "stopping temporal-server (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do process_runs "$pid" temporal-server || break; sleep 0.5; done
    if process_runs "$pid" temporal-server; then say "temporal-server did not stop in 30 s; killing it"; kill -KILL "$pid"; fi
  fi
  rm -f "$pid_file"
fi
"$(dirname "$0")/setup-postgres.sh" stop

if [ "$purge" = 1 ]; then
  say "deleting $prod_dir"
  rm -rf "$prod_dir"
fi
