#!/usr/bin/env bash
# `npm test` (and `npm run test:quick`): install what is missing, check types and lint, start the Temporal dev server if none
# is listening, and run every test against it (no mocked Temporal).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
# Debian's chromium for the web page's browser test (a full-tier file); where it cannot be installed, that test skips.
[ "${1:-}" = --quick ] || bash infra/setup-browser.sh >/dev/null || echo "[test] no chromium: test/ui-browser.test.ts will skip"
# The production Temporal server for test/production-temporal.test.ts: built from source the first time on a
# machine (minutes, longer than a test file may take), copied from the machine cache afterwards.
[ "${1:-}" = --quick ] || bash infra/production/build-temporal-server.sh

echo "[test] typecheck"
npx tsc -p tsconfig.json --noEmit
# The web page (browser code, DOM types, JSX) has a project of its own.
npx tsc -p api/ui/page/tsconfig.json
echo "[test] lint"
npx eslint --max-warnings 0 .

started_server=0
if ! node bin/qubinode.js server status >/dev/null 2>&1; then
  node bin/qubinode.js server start
  started_server=1
fi
# The suite runs in a namespace of its own: a stack running beside it (`npm start`), a bench or a second checkout on
# the same server never shares its task queues, audit trail, identity and policy stores or workflow ids.
created_namespace=""
if [ -z "${TEMPORAL_NAMESPACE:-}" ]; then
  export TEMPORAL_NAMESPACE="qubinode-test-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  .tools/venv/bin/temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention 24h --address "${TEMPORAL_ADDRESS:-127.0.0.1:7233}" >/dev/null
  created_namespace="$TEMPORAL_NAMESPACE"
  echo "[test] namespace $TEMPORAL_NAMESPACE"
fi
cleanup() {
  if [ "$started_server" = 1 ]; then
    node bin/qubinode.js server stop >/dev/null 2>&1 || true
  elif [ -n "$created_namespace" ]; then
    .tools/venv/bin/temporal operator namespace delete --namespace "$created_namespace" --yes --address "${TEMPORAL_ADDRESS:-127.0.0.1:7233}" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Engine tests fail tasks on purpose; each failure starts an AI analysis. On a 2-core machine a model
# analysing in the background slows every other test, so the suite uses the rules unless told otherwise;
# the AI tests ask for the model themselves (QUBINODE_AI_ANALYSIS=model in their engine env).
export QUBINODE_AI_ANALYSIS="${QUBINODE_AI_ANALYSIS:-rules}"
echo "[test] bundling workflows once for all test files"
npx tsx test/support/workflow-bundle.ts

mapfile -t files < <(find . -name '*.test.ts' -not -path './node_modules/*' -not -path './dist/*' -not -path './.tools/*' | sort)
# `npm run test:quick` (--quick): only files with no tier mark; `// test-tier: full` marks files that need a
# lab, a production server, real guests, apt or the model, and `// test-tier: slow` those booting guests.
if [ "${1:-}" = --quick ]; then
  mapfile -t files < <(grep -L -m1 '^// test-tier: ' "${files[@]}" || true)
  echo "[test] quick tier: ${#files[@]} test files"
  node --import tsx --test --test-reporter=spec --test-timeout=180000 "${files[@]}"
  exit $?
fi
# A file marked `// test-tier: slow` boots guests in software emulation (minutes each): node's
# --test-timeout bounds a whole file, so those run after the others, with a deadline of their own.
mapfile -t slow < <(grep -l -m1 '^// test-tier: slow$' "${files[@]}" || true)
mapfile -t quick < <(grep -L -m1 '^// test-tier: slow$' "${files[@]}" || true)
echo "[test] running ${#quick[@]} test files, then ${#slow[@]} slow ones"
status=0
node --import tsx --test --test-reporter=spec --test-timeout=180000 "${quick[@]}" || status=$?
if [ ${#slow[@]} -gt 0 ]; then
  node --import tsx --test --test-reporter=spec --test-timeout=2700000 "${slow[@]}" || status=$?
fi
exit "$status"
