# shellcheck shell=bash
# Shared by backup.sh and restore.sh: runs a PostgreSQL client program against the configured server. Sourced
# after common.sh. Connection settings are libpq's own variables, defaulting to the project's cluster.
# shellcheck disable=SC2154 # pg_bin, pg_run, pg_port and POSTGRES_MAJOR come from common.sh
export PGHOST=${PGHOST:-$pg_run} PGPORT=${PGPORT:-$pg_port} PGUSER=${PGUSER:-postgres}
pg_tool() {
  if [ -x "$pg_bin/$1" ]; then printf '%s' "$pg_bin/$1"
  elif command -v "$1" >/dev/null 2>&1; then command -v "$1"
  else die "$1 is not installed (PostgreSQL $POSTGRES_MAJOR client programs)"
  fi
}
# pg_client PROGRAM ARGS...: as root against a local socket with the postgres role, peer authentication wants
# the postgres OS user, so the program runs as that user (reading stdin, writing stdout of this shell).
pg_client() {
  local program
  program=$(pg_tool "$1")
  shift
  if [ "$(id -u)" = 0 ] && [ "$PGUSER" = postgres ] && [[ "$PGHOST" == /* ]]; then
    runuser -u postgres -- env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" "$program" "$@"
  else
    "$program" "$@"
  fi
}
