#!/usr/bin/env bash
# Fills infra/deploy/compose/secrets/ for compose.yaml: the cluster's TLS files (from make-certs.sh) and, when
# missing, a new PostgreSQL password and API token. Existing files are kept, so running it again changes nothing.
#
#   infra/deploy/compose/prepare-secrets.sh [--tls-dir DIR]     # DIR default: ${QUBINODE_PROD_DIR:-.data/production}/tls
#
# The folder is 0700 (only its owner reaches the files); the files inside are 0644 because the containers read
# them as their own users through bind mounts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
say() { printf '[prepare-secrets] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

prod_dir=${QUBINODE_PROD_DIR:-$root/.data/production}
tls_dir=$prod_dir/tls
while [ $# -gt 0 ]; do
  case $1 in
    --tls-dir) [ $# -ge 2 ] || die "--tls-dir needs a directory"; tls_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -d "$tls_dir" ] || die "no TLS directory at $tls_dir: run infra/production/make-certs.sh first"
command -v openssl >/dev/null 2>&1 || die "openssl is not installed"

secrets=${QUBINODE_COMPOSE_SECRETS:-$here/secrets}
mkdir -p "$secrets"
chmod 700 "$secrets"
for name in ca.pem server.pem server.key client.pem client.key; do
  [ -s "$tls_dir/$name" ] || die "$tls_dir/$name is missing: run infra/production/make-certs.sh"
  install -m 0644 "$tls_dir/$name" "$secrets/$name"
done
# The server certificate must name `temporal`, the address the other containers dial.
if ! openssl x509 -in "$secrets/server.pem" -noout -ext subjectAltName 2>/dev/null | grep -q 'DNS:temporal\(,\|$\)'; then
  die "server.pem does not name DNS:temporal: make it with QUBINODE_PROD_TLS_SANS=DNS:temporal (delete server.pem and server.key first)"
fi
openssl verify -CAfile "$secrets/ca.pem" "$secrets/server.pem" "$secrets/client.pem" >/dev/null || die "the certificates are not signed by ca.pem"
for name in postgres-password api-token; do
  if [ ! -s "$secrets/$name" ]; then
    (umask 022 && openssl rand -hex 24 > "$secrets/$name.new" && mv "$secrets/$name.new" "$secrets/$name")
    say "made $name"
  fi
done
say "secrets ready in $secrets"
