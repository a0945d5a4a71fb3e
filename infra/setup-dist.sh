#!/usr/bin/env bash
# Compiles the CLI into dist/ when any TypeScript source is newer than the last build (bin/qubinode.js runs
# dist/ when it is there, the sources otherwise).
#   --stale   only say whether a build is due (exit 0: due, 1: up to date)
#   --swap    build beside dist/ and swap it in whole, so a CLI started meanwhile never loads half a build
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=dist/.build-stamp
stale() { [ ! -f "$stamp" ] || [ -n "$(find dag-repos workflows activities plugins ai workers cli client api config infra bench -name '*.ts' -newer "$stamp" -print -quit 2>/dev/null)" ] || [ tsconfig.json -nt "$stamp" ]; }

case "${1:-}" in
  --stale) stale; exit $? ;;
  --swap | '') ;;
  *) echo "setup-dist.sh: unknown argument: $1 (expected --stale or --swap)" >&2; exit 2 ;;
esac
stale || exit 0
printf '[setup] %s\n' "compiling TypeScript (npm run build)" >&2
if [ "${1:-}" = --swap ]; then
  rm -rf dist.next dist.old
  # The stamp is taken before compiling: a source changed during the build makes the next check build again.
  touch dist.next.stamp
  npx tsc -p tsconfig.build.json --outDir dist.next
  mv dist.next.stamp dist.next/.build-stamp
  if [ -d dist ]; then mv dist dist.old; fi
  mv dist.next dist
  rm -rf dist.old
else
  touch dist.next.stamp
  npm run --silent build
  mkdir -p dist
  mv dist.next.stamp "$stamp"
fi
