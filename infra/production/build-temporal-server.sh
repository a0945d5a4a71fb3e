#!/usr/bin/env bash
# Builds the pinned Temporal server and its SQL schema tool from the Go module proxy.
#
#   infra/production/build-temporal-server.sh        # build (or copy from the machine cache) if missing
#
# Result: .tools/temporal-server/<version>/{temporal-server,temporal-sql-tool,schema/postgresql/...}
# A machine-level cache (${XDG_CACHE_HOME:-$HOME/.cache}/qubinode/temporal-server/<version>/) keeps the build
# for fresh clones on the same machine: they copy instead of rebuilding. Versions: infra/production/versions.env.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
# shellcheck source=versions.env
source "$root/infra/production/versions.env"
export GOTOOLCHAIN=go1.27.3
if [ "$GOTOOLCHAIN" != "$TEMPORAL_GO_TOOLCHAIN" ]; then
  echo "[build-temporal] versions.env pins $TEMPORAL_GO_TOOLCHAIN but this script exports $GOTOOLCHAIN" >&2; exit 1
fi

say() { printf '[build-temporal] %s\n' "$*" >&2; }

version=$TEMPORAL_SERVER_VERSION
target="$root/.tools/temporal-server/$version"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/qubinode/temporal-server/$version"

# A directory is complete only when its stamp is written, after both binaries and the schema are in place.
complete() { [ -f "$1/.complete" ] && [ -x "$1/temporal-server" ] && [ -x "$1/temporal-sql-tool" ] && [ -d "$1/schema/postgresql" ]; }

if complete "$target"; then
  exit 0
fi

# One build at a time per machine: a second caller (a parallel test, another clone) waits and then copies.
mkdir -p "${cache%/*}"
exec 9>"${cache%/*}/.build.lock"
if ! flock -n 9; then
  say "another build of $version is running on this machine; waiting for it"
  flock 9
fi
if complete "$target"; then
  exit 0
fi

if ! complete "$cache"; then
  command -v go >/dev/null 2>&1 || { say "go is not installed (needed to build $TEMPORAL_SERVER_MODULE $version)"; exit 1; }
  say "building $TEMPORAL_SERVER_MODULE $version with $GOTOOLCHAIN (takes several minutes on a small machine)"
  started=$(date +%s)
  go mod download "$TEMPORAL_SERVER_MODULE@$version"
  src=$(go list -m -f '{{.Dir}}' "$TEMPORAL_SERVER_MODULE@$version" 2>/dev/null || true)
  if [ -z "$src" ] || [ ! -d "$src" ]; then
    src="$(go env GOMODCACHE)/$TEMPORAL_SERVER_MODULE@$version"
  fi
  [ -d "$src/cmd/server" ] || { say "module source not found at $src"; exit 1; }
  staging=$(mktemp -d "${cache%/*}/.build.XXXXXX")
  chmod 755 "$staging"
  trap 'rm -rf "$staging"' EXIT
  # Built inside the module's own source with its go.sum: the dependency versions are exactly the release's.
  (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$staging/temporal-server" ./cmd/server)
  (cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$staging/temporal-sql-tool" ./cmd/tools/sql)
  mkdir -p "$staging/schema"
  cp -R "$src/schema/postgresql" "$staging/schema/"
  chmod -R u+w "$staging/schema"
  echo "$TEMPORAL_SERVER_MODULE $version $GOTOOLCHAIN built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(( $(date +%s) - started ))s" > "$staging/.complete"
  rm -rf "$cache"
  mv "$staging" "$cache"
  trap - EXIT
  say "built in $(( $(date +%s) - started ))s; cached in $cache"
fi

mkdir -p "${target%/*}"
rm -rf "$target.tmp"
cp -R "$cache" "$target.tmp"
rm -rf "$target"
mv "$target.tmp" "$target"
say "installed $target"
