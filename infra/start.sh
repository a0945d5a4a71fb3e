#!/usr/bin/env bash
# `npm start`: install what is missing, then bring up Temporal, a worker and the HTTP API with the example DAGs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
exec node bin/qubinode.js up "$@"
