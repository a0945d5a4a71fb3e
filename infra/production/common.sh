# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts that source it
# Shared by the scripts in infra/production: paths, settings and their checks. Sourced, not run.
# Every setting comes from the environment (defaults below); each is checked before any script uses it,
# because some end up in configuration files (PostgreSQL's) that are not templates.
set -euo pipefail
prod_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=versions.env
source "$prod_root/infra/production/versions.env"

say() { printf '[%s] %s\n' "${prod_script:-production}" "$*" >&2; }
die() { say "$*"; exit 1; }

prod_dir=${QUBINODE_PROD_DIR:-$prod_root/.data/production}
case "$prod_dir" in /*) ;; *) prod_dir="$prod_root/$prod_dir" ;; esac
# A plain path only: it is written into postgresql.conf and the server's log settings.
[[ "$prod_dir" =~ ^/[A-Za-z0-9/._-]+$ ]] || die "QUBINODE_PROD_DIR must be an absolute path of letters, digits, '/', '.', '_' or '-' (got an unusual one)"
[[ "$prod_dir" != *..* ]] || die "QUBINODE_PROD_DIR must not contain '..'"

port_setting() {
  local name=$1 value=$2
  if ! [[ "$value" =~ ^[0-9]{1,5}$ ]] || [ "$value" -lt 1024 ] || [ "$value" -gt 65535 ]; then
    die "$name must be a port number between 1024 and 65535"
  fi
  printf '%s' "$value"
}
pg_port=$(port_setting QUBINODE_PG_PORT "${QUBINODE_PG_PORT:-5433}")
# The frontend port; the other server ports follow it (frontend HTTP, membership, history, matching, worker).
temporal_port=$(port_setting QUBINODE_PROD_TEMPORAL_PORT "${QUBINODE_PROD_TEMPORAL_PORT:-7243}")
[ "$temporal_port" -le 65500 ] || die "QUBINODE_PROD_TEMPORAL_PORT leaves no room for the ports after it"

# The address the frontend listens on (0.0.0.0 or this host's address for a fleet) and the one clients dial.
bind_ip=${QUBINODE_PROD_BIND_IP:-127.0.0.1}
[[ "$bind_ip" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "QUBINODE_PROD_BIND_IP must be an IPv4 address such as 0.0.0.0 or 10.0.0.5"
# Where this host reaches its own frontend: loopback when it listens on every address.
if [ "$bind_ip" = 0.0.0.0 ]; then dial_ip=127.0.0.1; else dial_ip=$bind_ip; fi
export dial_ip
public_host=${QUBINODE_PROD_PUBLIC_HOST:-$dial_ip}
[[ "$public_host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]] || die "QUBINODE_PROD_PUBLIC_HOST must be a host name or IPv4 address"

pg_bin=/usr/lib/postgresql/$POSTGRES_MAJOR/bin
pg_dir=$prod_dir/postgres
pg_data=$pg_dir/data
pg_run=$pg_dir/run
pg_password_file=$pg_dir/temporal-password
tls_dir=$prod_dir/tls
server_dir=$prod_root/.tools/temporal-server/$TEMPORAL_SERVER_VERSION
temporal_dir=$prod_dir/temporal

# initdb and the postmaster refuse to run as root: as root, PostgreSQL runs as the `postgres` OS user.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Whether pid is a live process; a zombie counts as gone (this machine's init may never reap orphans).
process_alive() {
  local pid=$1 stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$(echo "${stat##*) }" | cut -c1)" != Z ]
}

# Whether pid is a live process running the named program (so a reused pid is not mistaken for it).
process_runs() {
  process_alive "$1" && grep -q "$2" "/proc/$1/cmdline" 2>/dev/null
}
