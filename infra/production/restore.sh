#!/usr/bin/env bash
# Restores a backup made by backup.sh into a PostgreSQL cluster: both Temporal databases, owned by ROLE.
#
#   infra/production/restore.sh FILE [--owner ROLE] [--replace]
#
# Each database is created when missing (owner ROLE, default temporal: the role must exist, as setup-postgres.sh
# makes it) or restored into when empty; a database that already holds tables is refused unless --replace,
# which drops it first. Stop the Temporal server before restoring into its cluster. The server is reached as
# backup.sh reaches it (PGHOST, PGPORT, PGUSER: a role that may create databases; default the project's cluster).
set -euo pipefail
prod_script=restore
source "$(dirname "$0")/common.sh"

file='' owner=temporal replace=0
while [ $# -gt 0 ]; do
  case $1 in
    --owner) [ $# -ge 2 ] || die "--owner needs a role name"; owner=$2; shift 2 ;;
    --replace) replace=1; shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option (see --help)" ;;
    *) [ -z "$file" ] || die "one backup file at a time"; file=$1; shift ;;
  esac
done
[ -n "$file" ] || die "which backup? restore.sh FILE (made by backup.sh)"
if ! [ -f "$file" ] || ! [ -r "$file" ]; then die "cannot read the backup file"; fi
[[ "$owner" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "--owner must be a plain role name (lower-case letters, digits, '_')"

source "$(dirname "$0")/pg-client.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Only the three expected members are extracted, so a crafted archive cannot write anywhere else.
tar -C "$work" -xf "$file" manifest temporal.dump temporal_visibility.dump 2>/dev/null ||
  die "not a backup made by backup.sh (it needs manifest, temporal.dump and temporal_visibility.dump)"
[ "$(head -n 1 "$work/manifest")" = 'format=qubinode-temporal-backup 1' ] || die "not a backup made by backup.sh (unknown manifest)"
for db in temporal temporal_visibility; do
  pg_client pg_restore --list < "$work/$db.dump" > /dev/null || die "$db.dump is not a readable pg_dump archive"
done

psql_() { pg_client psql -X -q -tA -v ON_ERROR_STOP=1 "$@"; }
[ "$(psql_ -d postgres -v role="$owner" <<< "SELECT count(*) FROM pg_roles WHERE rolname = :'role'")" = 1 ] ||
  die "role $owner does not exist in the target cluster (setup-postgres.sh creates role temporal)"

for db in temporal temporal_visibility; do
  exists=$(psql_ -d postgres -v db="$db" <<< "SELECT count(*) FROM pg_database WHERE datname = :'db'")
  if [ "$exists" = 1 ]; then
    tables=$(psql_ -d "$db" <<< "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
    if [ "$tables" != 0 ]; then
      [ "$replace" = 1 ] || die "database $db already holds $tables tables: restore into an empty cluster, or pass --replace to drop it first"
      say "dropping database $db (--replace)"
      psql_ -d postgres -v db="$db" <<< 'DROP DATABASE :"db" WITH (FORCE)'
      exists=0
    fi
  fi
  if [ "$exists" != 1 ]; then
    psql_ -d postgres -v db="$db" -v owner="$owner" <<< 'CREATE DATABASE :"db" OWNER :"owner"'
  fi
  # Objects are created as the owner role, whoever owned them in the backed-up cluster.
  pg_client pg_restore --exit-on-error --no-owner --role="$owner" --dbname="$db" < "$work/$db.dump" || die "pg_restore of $db failed"
  say "restored $db"
done
say "restored $(grep '^created=' "$work/manifest" | cut -d= -f2-) backup into ${PGHOST}:${PGPORT}"
