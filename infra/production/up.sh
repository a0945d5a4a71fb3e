#!/usr/bin/env bash
# One command for a production-shaped Temporal on this machine: build (or copy from the machine cache) the
# pinned server, run PostgreSQL, make the TLS material, start the server and prepare the namespace.
#
#   infra/production/up.sh
#   set -a; . .data/production/temporal.env; set +a   # then any qubinode process talks to it over mTLS
#
# Settings (all optional): QUBINODE_PROD_DIR (default .data/production), QUBINODE_PG_PORT (5433),
# QUBINODE_PROD_TEMPORAL_PORT (7243; the server also takes the nine ports after it), TEMPORAL_NAMESPACE (default).
# Works unattended (CI=true, no terminal). Stop with infra/production/down.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
started=$(date +%s)
"$here/build-temporal-server.sh"
"$here/setup-postgres.sh"
"$here/make-certs.sh"
"$here/start-temporal.sh"
printf '[up] production Temporal up in %ss\n' "$(( $(date +%s) - started ))" >&2
