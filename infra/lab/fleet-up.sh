#!/usr/bin/env bash
# Creates the fleet lab: hosts hv1..hvN (default 3) as network namespaces qn-hv1..qn-hvN, each with a veth
# pair whose other end is a port of the bridge qn-br0 (10.231.0.1/24, the control plane's side). Host hvN
# has 10.231.0.(10+N) on its eth0, loopback up and a default route to 10.231.0.1, and nothing else: no
# IPv6, and nothing from the bridge is forwarded beyond this machine. Namespace qn-temporal (10.231.0.2, no
# default route) is for the lab's Temporal server (fleet-server.sh). Also makes .data/lab/hvN/{data,logs}.
# Safe to run again (it completes what is missing). Root only. Usage: fleet-up.sh [COUNT]
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

[ $# -le 1 ] || lab_refuse "usage: fleet-up.sh [COUNT]"
count=3
[ $# = 0 ] || count="$1"
lab_check_count "$count"
lab_require_root

# The lab's subnet must be ours alone: an address of it on any other interface means someone uses it.
while read -r _ dev _ cidr _; do
  [ "$dev" = "$LAB_BRIDGE" ] || lab_refuse "$LAB_NET.0/$LAB_PREFIX is in use on $dev ($cidr); the lab needs it for itself"
done < <(ip -o -4 addr show to "$LAB_NET.0/$LAB_PREFIX")

if lab_link_exists "$LAB_BRIDGE"; then
  ip -d link show dev "$LAB_BRIDGE" | grep -qw bridge || lab_refuse "$LAB_BRIDGE exists and is not a bridge"
else
  ip link add "$LAB_BRIDGE" type bridge
fi
sysctl -qw "net.ipv6.conf.$LAB_BRIDGE.disable_ipv6=1"
sysctl -qw "net.ipv4.conf.$LAB_BRIDGE.forwarding=0"
ip -o -4 addr show dev "$LAB_BRIDGE" | grep -q " $LAB_CONTROL_IP/$LAB_PREFIX " || ip addr add "$LAB_CONTROL_IP/$LAB_PREFIX" dev "$LAB_BRIDGE"
ip link set "$LAB_BRIDGE" up
# Writing ip_forward resets every interface's forwarding setting, so the sysctl above alone is not enough.
ip route replace unreachable default table "$LAB_RULE_TABLE"
[ -n "$(ip rule show pref "$LAB_RULE_PREF")" ] || ip rule add pref "$LAB_RULE_PREF" iif "$LAB_BRIDGE" lookup "$LAB_RULE_TABLE"

# Creates namespace $1 with loopback up and eth0 at $3 on the bridge, its other end $2.
make_host() {
  local ns="$1" veth="$2" ip_addr="$3"
  lab_namespace_exists "$ns" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  if ! lab_link_exists "$veth"; then
    # A half-made host (its eth0 without the other end) is remade.
    ip -n "$ns" link del eth0 2>/dev/null || true
    ip link add "$veth" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$veth" master "$LAB_BRIDGE"
  sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1"
  ip link set "$veth" up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" -o -4 addr show dev eth0 | grep -q " $ip_addr/$LAB_PREFIX " || ip -n "$ns" addr add "$ip_addr/$LAB_PREFIX" dev eth0
  ip -n "$ns" link set eth0 up
}

# Temporal's namespace has no default route: it answers the lab and reaches nothing else.
make_host "$LAB_TEMPORAL_NS" "$LAB_TEMPORAL_VETH" "$LAB_TEMPORAL_IP"
mkdir -p "$LAB_DIR/control"

for n in $(seq 1 "$count"); do
  ns="$(lab_namespace "$n")"
  veth="$(lab_root_veth "$n")"
  ip_addr="$(lab_host_ip "$n")"
  make_host "$ns" "$veth" "$ip_addr"
  ip -n "$ns" route replace default via "$LAB_CONTROL_IP" dev eth0
  dir="$(lab_host_dir "$n")"
  mkdir -p "$dir/data" "$dir/logs"
  printf 'hv%s\t%s\t%s\t%s\n' "$n" "$ns" "$ip_addr" "$dir"
done
lab_say "$count host(s) up; control plane at $LAB_CONTROL_IP on $LAB_BRIDGE, the lab's Temporal at $LAB_TEMPORAL_IP"
