#!/usr/bin/env bash
# Installs Debian's headless-capable `chromium` for the browser test of the web page (test/ui-browser.test.ts),
# which drives it with puppeteer-core (no browser download: the page is tested in the distribution's build).
# Idempotent and quiet: nothing is installed when a chromium is already there.
#
# Prints the chromium executable's path on stdout.
# Exit codes: 0 ready, 2 cannot install here (not root, no apt-get, the install failed), with one line on
# stderr saying why (the test skips with that line).
set -uo pipefail

say() { printf '[setup-browser] %s\n' "$*" >&2; }
cannot() { say "$*"; exit 2; }

find_chromium() {
  local candidate
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
  done
  return 1
}

if path=$(find_chromium); then printf '%s\n' "$path"; exit 0; fi

[ "$(id -u)" = 0 ] || cannot "not root: cannot install chromium (apt-get install chromium as root, then re-run)"
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get: install a chromium yourself and put it on PATH"

log=/tmp/qubinode-setup-browser.log
say "installing chromium (apt)"
export DEBIAN_FRONTEND=noninteractive
# A new machine's package lists may be empty or stale: update once and try again.
if ! apt-get install -y -q --no-install-recommends chromium >"$log" 2>&1; then
  apt-get update -q >>"$log" 2>&1 || true
  apt-get install -y -q --no-install-recommends chromium >>"$log" 2>&1 ||
    cannot "apt-get install chromium failed; see $log"
fi

path=$(find_chromium) || cannot "chromium installed but not found on PATH; see $log"
printf '%s\n' "$path"
