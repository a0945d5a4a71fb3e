#!/usr/bin/env bash
# Cuts a lab host off the network and mends it: its veth end on the bridge goes down (the host's eth0
# loses carrier; its worker's connection to Temporal goes silent) or up again. Processes keep running.
# Root only. Usage: fleet-link.sh cut|mend|status hvN
set -euo pipefail
# shellcheck source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

usage="usage: fleet-link.sh cut|mend|status hvN"
[ $# = 2 ] || lab_refuse "$usage"
command="$1"
n="$(lab_host_number "$2")"
case "$command" in cut | mend | status) ;; *) lab_refuse "$usage" ;; esac
lab_require_root

veth="$(lab_root_veth "$n")"
lab_link_exists "$veth" || lab_refuse "host hv$n is not up (run infra/lab/fleet-up.sh)"
case "$command" in
  cut) ip link set "$veth" down && echo "hv$n cut" ;;
  mend) ip link set "$veth" up && echo "hv$n mended" ;;
  status) if ip -o link show dev "$veth" | grep -q '[<,]UP[,>]'; then echo "hv$n linked"; else echo "hv$n cut"; exit 3; fi ;;
esac
