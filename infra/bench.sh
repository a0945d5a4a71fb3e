#!/usr/bin/env bash
# `npm run bench`: figures, not pass/fail. Starts the Temporal dev server if none is listening.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
npx tsx bench/cli-timings.ts
npx tsx bench/dag-overhead.ts
npx tsx bench/sqlite-pragmas.ts
npx tsx bench/ai.ts
npx tsx bench/webhook-sync.ts
npx tsx bench/webhook-load.ts
npx tsx bench/worker-memory.ts
npx tsx bench/crash-recovery.ts
npx tsx bench/fleet-trials.ts
