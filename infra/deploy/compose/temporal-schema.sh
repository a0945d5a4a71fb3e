#!/bin/sh
# Creates the two Temporal databases when missing and brings their schemas up to the server's version, with
# Temporal's own SQL tool. compose.yaml runs it before the server on every `up`; each step is idempotent.
set -eu
SQL_PASSWORD=$(cat /run/secrets/postgres-password)
export SQL_PASSWORD SQL_PLUGIN=postgres12 SQL_HOST=postgresql SQL_PORT=5432 SQL_USER=temporal
schema=/etc/temporal/schema/postgresql/v12

prepare() {
  db=$1 dir=$2
  if ! out=$(temporal-sql-tool --db "$db" create-database 2>&1); then
    case $out in
      *"already exists"*) ;;
      *) printf '%s\n' "$out" >&2; exit 1 ;;
    esac
  fi
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$dir/versioned"
}

prepare temporal "$schema/temporal"
prepare temporal_visibility "$schema/visibility"
echo "Temporal schemas are up to date"
