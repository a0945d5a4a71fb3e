#!/usr/bin/env bash
# Makes the TLS material of the production Temporal cluster with openssl, into ${QUBINODE_PROD_DIR}/tls/:
#
#   infra/production/make-certs.sh
#
#   ca.pem / ca.key          the cluster's own certificate authority
#   server.pem / server.key  the frontend's and internode certificate (SAN localhost, 127.0.0.1)
#   client.pem / client.key  the certificate workers, the API and the CLI present (mTLS)
#
# Idempotent: existing files are kept (delete a pair to make it again). Private keys are 0600.
# Extra server names: QUBINODE_PROD_TLS_SANS="DNS:temporal.example.internal,IP:10.0.0.5".
set -euo pipefail
prod_script=make-certs
source "$(dirname "$0")/common.sh"

command -v openssl >/dev/null 2>&1 || die "openssl is not installed"
extra_sans=${QUBINODE_PROD_TLS_SANS:-}
# Names and addresses only: the list is written into an openssl extensions file.
[[ "$extra_sans" =~ ^((DNS:[A-Za-z0-9.*-]+|IP:[0-9A-Fa-f.:]+)(,(DNS:[A-Za-z0-9.*-]+|IP:[0-9A-Fa-f.:]+))*)?$ ]] ||
  die "QUBINODE_PROD_TLS_SANS must be a comma-separated list of DNS:name and IP:address entries"
sans="DNS:localhost,IP:127.0.0.1${extra_sans:+,$extra_sans}"

mkdir -p "$prod_dir"
umask 077
mkdir -p "$tls_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

if [ ! -s "$tls_dir/ca.pem" ] || [ ! -s "$tls_dir/ca.key" ]; then
  say "making the certificate authority"
  rm -f "$tls_dir/server.pem" "$tls_dir/client.pem" # signed by a CA that is gone
  new_key "$work/ca.key"
  openssl req -x509 -new -key "$work/ca.key" -sha256 -days 3650 -subj "/O=Qubinode Navigator/CN=Qubinode Temporal CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$work/ca.pem"
  mv "$work/ca.key" "$tls_dir/ca.key"
  mv "$work/ca.pem" "$tls_dir/ca.pem"
fi

# issue NAME CN EXTENDED-KEY-USAGE [SANS]
issue() {
  local name=$1 cn=$2 eku=$3 san=${4:-}
  if [ -s "$tls_dir/$name.pem" ] && [ -s "$tls_dir/$name.key" ]; then return; fi
  say "making the $name certificate"
  new_key "$work/$name.key"
  openssl req -new -key "$work/$name.key" -subj "/O=Qubinode Navigator/CN=$cn" -out "$work/$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } > "$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" -CAcreateserial \
    -CAserial "$work/ca.srl" -days 825 -sha256 -extfile "$work/$name.ext" -out "$work/$name.pem" 2>/dev/null
  mv "$work/$name.key" "$tls_dir/$name.key"
  mv "$work/$name.pem" "$tls_dir/$name.pem"
}

# The server certificate also authenticates the cluster's own services to each other (internode mTLS).
issue server "localhost" "serverAuth,clientAuth" "$sans"
issue client "qubinode-client" "clientAuth" "DNS:qubinode-client"

chmod 600 "$tls_dir"/*.key
chmod 644 "$tls_dir"/*.pem
say "TLS material in $tls_dir"
