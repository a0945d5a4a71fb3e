#!/usr/bin/env bash
# Backs up both Temporal databases (temporal, temporal_visibility) with pg_dump in its custom format, into one
# tar file (mode 0600) holding a manifest and the two dumps:
#
#   infra/production/backup.sh [--out FILE]
#
# FILE defaults to ${QUBINODE_PROD_DIR:-.data/production}/backups/temporal-<UTC time>.tar. The server is reached
# through the usual libpq settings, defaulting to the project's cluster (setup-postgres.sh): PGHOST (its socket
# directory), PGPORT (${QUBINODE_PG_PORT:-5433}), PGUSER (postgres; as root over the socket, the dump runs as the
# postgres OS user), PGPASSWORD or ~/.pgpass for TCP. Each database is dumped consistently on its own; for one
# point in time across both, stop the Temporal server while this runs.
set -euo pipefail
prod_script=backup
source "$(dirname "$0")/common.sh"

out=''
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || die "--out needs a file name"; out=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument (see --help)" ;;
  esac
done
if [ -z "$out" ]; then
  mkdir -p "$prod_dir/backups"
  chmod 700 "$prod_dir/backups"
  out=$prod_dir/backups/temporal-$(date -u +%Y%m%dT%H%M%SZ).tar
fi
[ -d "$(dirname "$out")" ] || die "the folder of --out does not exist"
[ ! -e "$out" ] || die "--out names an existing file; backups are never overwritten"

source "$(dirname "$0")/pg-client.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
server_version=$(pg_client psql -X -tA -v ON_ERROR_STOP=1 -d postgres -c 'SHOW server_version')
for db in temporal temporal_visibility; do
  # Redirected by this shell, so the dump lands in a file only this user can read whoever runs pg_dump.
  pg_client pg_dump --format=custom --compress=6 --dbname="$db" > "$work/$db.dump" || die "pg_dump of $db failed"
done
schema_version=$(pg_client psql -X -tA -d temporal -c 'SELECT curr_version FROM schema_version' 2>/dev/null || true)
{
  echo 'format=qubinode-temporal-backup 1'
  echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "postgres_server_version=$server_version"
  echo "temporal_schema_version=${schema_version:-unknown}"
  echo "temporal_server_version=$TEMPORAL_SERVER_VERSION"
  echo 'databases=temporal temporal_visibility'
} > "$work/manifest"
tar -C "$work" -cf "$out.partial" manifest temporal.dump temporal_visibility.dump
chmod 600 "$out.partial"
mv "$out.partial" "$out"
say "backed up temporal and temporal_visibility to $out ($(du -h "$out" | cut -f1))"
printf '%s\n' "$out"
