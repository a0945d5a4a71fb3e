#!/usr/bin/env bash
# Starts the production Temporal server (built by build-temporal-server.sh) on the PostgreSQL cluster of
# setup-postgres.sh, with the TLS material of make-certs.sh:
#
#   infra/production/start-temporal.sh
#
# 1. creates or updates both schemas (temporal, temporal_visibility) with Temporal's own SQL tool;
# 2. starts temporal-server in the background with infra/production/temporal-server.yaml (a template the server
#    fills from QUBINODE_T_* variables): mTLS on the frontend, TLS between its services; pid and log in
#    ${QUBINODE_PROD_DIR}/temporal/; frontend on ${QUBINODE_PROD_BIND_IP:-127.0.0.1}:${QUBINODE_PROD_TEMPORAL_PORT:-7243} (the server's
#    other ports are the nine after it);
# 3. registers the namespace (${TEMPORAL_NAMESPACE:-default}) and the project's search attributes, and waits
#    until they answer;
# 4. writes ${QUBINODE_PROD_DIR}/temporal.env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_TLS_* for workers,
#    the API and the CLI (`set -a; . .data/production/temporal.env; set +a`).
# Idempotent: a server already running from this directory is kept.
set -euo pipefail
prod_script=start-temporal
source "$(dirname "$0")/common.sh"

namespace=${TEMPORAL_NAMESPACE:-default}
[[ "$namespace" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]] || die "TEMPORAL_NAMESPACE must be letters, digits, '.', '_' or '-'"
shards=${QUBINODE_PROD_HISTORY_SHARDS:-4}
[[ "$shards" =~ ^[1-9][0-9]{0,4}$ ]] || die "QUBINODE_PROD_HISTORY_SHARDS must be a whole number"
log_level=${QUBINODE_PROD_TEMPORAL_LOG_LEVEL:-warn}
[[ "$log_level" =~ ^(debug|info|warn|error)$ ]] || die "QUBINODE_PROD_TEMPORAL_LOG_LEVEL must be debug, info, warn or error"

if [ ! -x "$server_dir/temporal-server" ] || [ ! -x "$server_dir/temporal-sql-tool" ]; then
  die "no server in $server_dir: run infra/production/build-temporal-server.sh"
fi
for file in ca.pem server.pem server.key client.pem client.key; do
  [ -s "$tls_dir/$file" ] || die "missing $tls_dir/$file: run infra/production/make-certs.sh"
done
[ -s "$pg_password_file" ] || die "missing $pg_password_file: run infra/production/setup-postgres.sh"
password=$(cat "$pg_password_file")

mkdir -p "$temporal_dir"
pid_file=$temporal_dir/temporal-server.pid
log_file=$temporal_dir/temporal-server.log

running() { [ -s "$pid_file" ] && process_runs "$(cat "$pid_file")" temporal-server; }

# The password reaches the tools through their environment, never their arguments (ps shows arguments).
sql_tool() { SQL_PLUGIN=postgres12 SQL_HOST=127.0.0.1 SQL_PORT=$pg_port SQL_USER=temporal SQL_PASSWORD=$password "$server_dir/temporal-sql-tool" "$@"; }
has_schema() {
  [ "$(PGPASSWORD=$password "$pg_bin/psql" -X -q -At -h 127.0.0.1 -p "$pg_port" -U temporal -d "$1" -c "SELECT to_regclass('schema_version') IS NOT NULL")" = t ]
}

if ! running; then
  for pair in temporal:temporal temporal_visibility:visibility; do
    db=${pair%%:*} dir=$server_dir/schema/postgresql/v12/${pair##*:}/versioned
    if ! has_schema "$db"; then
      say "creating the $db schema"
      sql_tool --db "$db" setup-schema -v 0.0 >/dev/null 2>&1 || { sql_tool --db "$db" setup-schema -v 0.0; die "setup-schema $db failed"; }
    fi
    sql_tool --db "$db" update-schema -d "$dir" >/dev/null 2>&1 || { sql_tool --db "$db" update-schema -d "$dir"; die "update-schema $db failed"; }
  done

  # Every port the server will take must be free: a clash would only show up deep in its log.
  for offset in 0 1 2 3 4 5 6 7 8 9; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$((temporal_port + offset))") 2>/dev/null; then
      die "port $((temporal_port + offset)) is taken (set QUBINODE_PROD_TEMPORAL_PORT to a base with ten free ports)"
    fi
  done

  say "starting temporal-server $TEMPORAL_SERVER_VERSION on $bind_ip:$temporal_port (log: $log_file)"
  # --allow-no-auth: no authorizer plugin; the frontend's mutual TLS decides who may connect.
  QUBINODE_T_PORT=$temporal_port QUBINODE_T_BIND_IP=$bind_ip QUBINODE_T_TLS_DIR=$tls_dir QUBINODE_T_PG_PORT=$pg_port QUBINODE_T_PG_PASSWORD=$password \
    QUBINODE_T_HISTORY_SHARDS=$shards QUBINODE_T_LOG_LEVEL=$log_level \
    setsid "$server_dir/temporal-server" --config-file "$prod_root/infra/production/temporal-server.yaml" --allow-no-auth start \
    >>"$log_file" 2>&1 </dev/null &
  server_pid=$!
  echo "$server_pid" > "$pid_file"
  # Until the forked shell has exec'd the server, its command line is still this script's: while starting,
  # only whether our own child lives counts, not its name.
  for _ in $(seq 1 240); do
    process_alive "$server_pid" || { tail -30 "$log_file" >&2; die "temporal-server exited during start-up"; }
    if (exec 3<>"/dev/tcp/$dial_ip/$temporal_port") 2>/dev/null; then break; fi
    sleep 0.5
  done
  (exec 3<>"/dev/tcp/$dial_ip/$temporal_port") 2>/dev/null || die "temporal-server does not listen on $temporal_port after 120 s"
  running || die "the process listening on $temporal_port is not the temporal-server this script started"
fi

umask 077
cat > "$prod_dir/temporal.env.new" <<ENV
# Written by infra/production/start-temporal.sh: how workers, the API and the CLI reach the production cluster.
TEMPORAL_ADDRESS=$public_host:$temporal_port
TEMPORAL_NAMESPACE=$namespace
TEMPORAL_TLS_CERT=$tls_dir/client.pem
TEMPORAL_TLS_KEY=$tls_dir/client.key
TEMPORAL_TLS_CA=$tls_dir/ca.pem
TEMPORAL_TLS_SERVER_NAME=localhost
ENV
chmod 644 "$prod_dir/temporal.env.new"

# The namespace step connects exactly as every client will: through the settings just written.
prepare=(node --import tsx "$prod_root/infra/production/prepare-namespace.ts")
if [ ! -d "$prod_root/node_modules/tsx" ] && [ -f "$prod_root/dist/infra/production/prepare-namespace.js" ]; then
  prepare=(node "$prod_root/dist/infra/production/prepare-namespace.js")
fi
# shellcheck source=/dev/null
(set -a; source "$prod_dir/temporal.env.new"; set +a; cd "$prod_root"; QUBINODE_LOG_LEVEL=error "${prepare[@]}") >&2 || die "the namespace could not be prepared (server log: $log_file)"
mv "$prod_dir/temporal.env.new" "$prod_dir/temporal.env"
say "Temporal $TEMPORAL_SERVER_VERSION ready at $public_host:$temporal_port (mTLS; listening on $bind_ip); client settings in $prod_dir/temporal.env"
