#!/usr/bin/env bash
# Runs the PostgreSQL cluster of the production Temporal server, on loopback:
#
#   infra/production/setup-postgres.sh           # install (Debian packages) if missing, init, start, create role and databases
#   infra/production/setup-postgres.sh stop      # stop this cluster (the data stays)
#
# The cluster is the project's own: data in ${QUBINODE_PROD_DIR:-.data/production}/postgres, port
# ${QUBINODE_PG_PORT:-5433} on 127.0.0.1 (the distribution's cluster, if any, is left alone). Temporal logs in as
# role `temporal` with a generated password kept in postgres/temporal-password (0600); databases `temporal` and
# `temporal_visibility` belong to it. Idempotent: run it again and it only starts what is stopped.
# As root, PostgreSQL runs as the `postgres` OS user (initdb refuses root).
set -euo pipefail
prod_script=setup-postgres
source "$(dirname "$0")/common.sh"

pg_ctl_() { pg_as_owner "$pg_bin/pg_ctl" -D "$pg_data" "$@"; }

if [ "${1:-}" = stop ]; then
  if [ -f "$pg_data/postmaster.pid" ] && [ -x "$pg_bin/pg_ctl" ]; then
    pg_ctl_ -m fast -w stop >/dev/null && say "stopped PostgreSQL on port $pg_port"
  fi
  exit 0
fi

if [ ! -x "$pg_bin/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing postgresql-$POSTGRES_MAJOR (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "postgresql-$POSTGRES_MAJOR" >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "postgresql-$POSTGRES_MAJOR" >/dev/null; } ||
      die "apt-get install postgresql-$POSTGRES_MAJOR failed"
  else
    die "PostgreSQL $POSTGRES_MAJOR is not installed ($pg_bin/initdb); install postgresql-$POSTGRES_MAJOR or run this as root"
  fi
fi

owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (the Debian package creates it)"
fi

mkdir -p "$pg_dir"
chmod 755 "$pg_dir"
if [ "$owner" = postgres ] && ! runuser -u postgres -- test -x "$pg_dir"; then
  die "the postgres OS user cannot reach $pg_dir: every directory above it needs o+x (chmod o+x on the one that lacks it)"
fi
if [ ! -s "$pg_data/PG_VERSION" ]; then
  say "initialising a cluster in $pg_data"
  mkdir -p "$pg_data" "$pg_run"
  chown "$owner" "$pg_data" "$pg_run"
  chmod 700 "$pg_data" "$pg_run"
  # The superuser logs in only over the socket, which only the owner (and root) can reach; TCP needs a password.
  pg_as_owner "$pg_bin/initdb" -D "$pg_data" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  # This project's settings live in their own file (below), so initdb's defaults stay untouched.
  echo "include_if_exists = 'qubinode.conf'" >> "$pg_data/postgresql.conf"
fi
if [ "$owner" != postgres ]; then
  # peer authentication maps OS user to role by name; a non-root owner reaches `postgres` through a map.
  grep -q '^qubinode ' "$pg_data/pg_ident.conf" || echo "qubinode $owner postgres" >> "$pg_data/pg_ident.conf"
  sed -i 's/^local\(\s\+all\s\+all\s\+\)peer$/local\1peer map=qubinode/' "$pg_data/pg_hba.conf"
fi
mkdir -p "$pg_run"
chown "$owner" "$pg_run"
chmod 700 "$pg_run"

# Settings this project owns (checked values only: see common.sh); rewritten each time so a new port takes effect.
cat > "$pg_data/qubinode.conf.new" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_run'
max_connections = 100
shared_buffers = 128MB
log_destination = 'stderr'
CONF
chown "$owner" "$pg_data/qubinode.conf.new"
mv "$pg_data/qubinode.conf.new" "$pg_data/qubinode.conf"

if ! pg_ctl_ status >/dev/null 2>&1; then
  say "starting PostgreSQL on 127.0.0.1:$pg_port"
  touch "$pg_dir/postgres.log"
  chown "$owner" "$pg_dir/postgres.log"
  pg_ctl_ -l "$pg_dir/postgres.log" -w -t 60 start >/dev/null || { tail -20 "$pg_dir/postgres.log" >&2; die "PostgreSQL did not start"; }
else
  pg_ctl_ reload >/dev/null
fi

# The role's password: generated once, kept 0600 beside the cluster, and handed to psql through the environment.
if [ ! -s "$pg_password_file" ]; then
  (umask 077 && openssl rand -hex 24 > "$pg_password_file.new" && mv "$pg_password_file.new" "$pg_password_file")
fi
chmod 600 "$pg_password_file"
password=$(cat "$pg_password_file")

pg_as_owner env QUBINODE_PG_PASSWORD="$password" "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_run" -p "$pg_port" -U postgres -d postgres <<'SQL' >/dev/null
\getenv temporal_password QUBINODE_PG_PASSWORD
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'temporal') AS missing \gset
\if :missing
  CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
\else
  ALTER ROLE temporal LOGIN PASSWORD :'temporal_password';
\endif
SELECT 'CREATE DATABASE temporal OWNER temporal' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'temporal') \gexec
SELECT 'CREATE DATABASE temporal_visibility OWNER temporal' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'temporal_visibility') \gexec
SQL
say "PostgreSQL $POSTGRES_MAJOR on 127.0.0.1:$pg_port: role temporal, databases temporal and temporal_visibility"
