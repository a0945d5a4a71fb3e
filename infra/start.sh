#!/usr/bin/env bash
# `npm start`: install what the engine needs (the rest follows in the background), then bring up Temporal, a worker and the HTTP API with the example DAGs.
set -euo pipefail
cd "$(dirname "$0")/.."
# A long-running process: with the old space bounded, V8 grows each heap by small steps between collections
# (at the default ceiling of several GiB it lets a heap reach several times its live size first), and two
# malloc arenas keep the native memory of many threads from fragmenting. Both keep RSS flat under load.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
old_space_mib="${QUBINODE_MAX_OLD_SPACE_MIB:-1024}"
if ! [[ "$old_space_mib" =~ ^[1-9][0-9]{2,5}$ ]]; then
  echo "npm start: QUBINODE_MAX_OLD_SPACE_MIB must be a whole number of MiB from 100 to 999999 (got \"${old_space_mib:0:40}\")" >&2
  exit 2
fi
# The engine's part of the setup now, the rest in the background (it stops when this process, node after the
# exec below, ends).
bash infra/setup.sh --engine-first --watch-pid "$$"
# Until dist/ is compiled (in the background), the sources run through tsx.
if bash infra/setup-dist.sh --stale; then export QUBINODE_FROM_SOURCES=1; fi
exec node --max-old-space-size="$old_space_mib" bin/qubinode.js up "$@"
