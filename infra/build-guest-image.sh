#!/usr/bin/env bash
# Builds a small bootable Debian guest image (qcow2) for VM provisioning on this machine: debootstrap
# (minbase) with a cloud kernel, cloud-init (NoCloud, as kcli provides it), openssh-server and python3;
# DHCP on every NIC through systemd-networkd; syslinux boots it from a FAT partition, so no loop
# device or mount is needed to build it.
#
# The image is cached per machine under ~/.cache/qubinode/guest-images/<version>/ (<version> is a hash
# of this script and the Debian suite) and linked under <project>/.data/guest-images/<version>/, so a
# fresh clone on this machine reuses it. Packages come from the Debian mirror this machine's apt
# already uses (its sources.list / sources.list.d); nothing here names a mirror.
#
# Usage: bash infra/build-guest-image.sh [--print-path]
# Prints the image path on the last line of stdout. Root only; safe to run repeatedly.
# Exit codes: 0 image ready, 1 the build failed, 2 cannot run here (not root, no apt, no Debian mirror).
set -euo pipefail

say() { printf '[build-guest-image] %s\n' "$*" >&2; }
cannot() { say "$*"; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$here")"
image_name=qubinode-guest-debian.qcow2
# What the guest needs and nothing more: booting (kernel, initramfs, systemd), first-boot configuration
# (cloud-init with its DHCP helper), remote configuration (ssh, python3 for ansible). The generic
# kernel, not the cloud one: kcli attaches the cloud-init ISO on SATA, which the cloud kernel lacks (AHCI).
# debootstrap does not resolve virtual packages: python3-cffi-backend provides what cryptography needs.
guest_packages=linux-image-amd64,initramfs-tools,systemd-sysv,udev,cloud-init,openssh-server,python3,iproute2,netbase,isc-dhcp-client,ifupdown,python3-cffi-backend
host_packages=(debootstrap qemu-utils syslinux syslinux-common mtools dosfstools e2fsprogs fdisk genisoimage)

[ "$(id -u)" = 0 ] || cannot "not root: debootstrap needs root"
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get here: the guest image is built from Debian packages"
[ "$(uname -m)" = x86_64 ] || cannot "the guest image is built for x86_64 hosts only"

# The machine's own Debian mirror and suite: the first deb source (one-line or deb822) whose suite is
# the plain release (not -updates/-security) of a Debian codename.
suite="${QUBINODE_GUEST_SUITE:-}"
if [ -z "$suite" ]; then
  # shellcheck disable=SC1091
  suite="$(. /etc/os-release 2>/dev/null; [ "${ID:-}" = debian ] && printf '%s' "${VERSION_CODENAME:-}")" || true
  suite="${suite:-bookworm}"
fi
mirror_of() {
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i+1) == s) { print $i; exit } }' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # deb822 stanzas are separated by blank lines.
    awk -v s="$suite" 'BEGIN { RS = "" } {
      types = ""; uris = ""; suites = ""
      n = split($0, lines, "\n")
      for (j = 1; j <= n; j++) {
        if (lines[j] ~ /^Types:/) types = lines[j]
        if (lines[j] ~ /^URIs:/) uris = lines[j]
        if (lines[j] ~ /^Suites:/) suites = lines[j]
      }
      if (types !~ /[ \t]deb([ \t]|$)/ || uris == "") next
      m = split(suites, words, /[ \t]+/)
      for (k = 2; k <= m; k++) if (words[k] == s) { split(uris, u, /[ \t]+/); print u[2]; exit }
    }' "$file"
  done
}
mirror="$(mirror_of | head -n 1)"
[ -n "$mirror" ] || cannot "no Debian mirror for suite ${suite} in /etc/apt/sources.list or /etc/apt/sources.list.d"

# The recipe is this file without its comments: rewording a comment does not force a rebuild.
version="$( { grep -v '^[[:space:]]*#' "${BASH_SOURCE[0]}"; printf '%s\n' "$suite"; } | sha256sum | cut -c1-12)"
cache_dir="${QUBINODE_GUEST_CACHE:-${HOME:-/root}/.cache/qubinode/guest-images}/${version}"
data_dir="${project}/.data/guest-images/${version}"
image="${cache_dir}/${image_name}"

link_into_data() {
  mkdir -p "$data_dir"
  [ -e "${data_dir}/${image_name}" ] && return 0
  # A hard link survives a cleaned cache; a copy where the two are on different file systems.
  ln "$image" "${data_dir}/${image_name}" 2>/dev/null || cp --reflink=auto "$image" "${data_dir}/${image_name}"
  cp "${cache_dir}/manifest.json" "${data_dir}/manifest.json"
}

mkdir -p "$cache_dir"
exec 9>"${cache_dir}/.lock"
flock 9
if [ -f "$image" ] && [ -f "${cache_dir}/manifest.json" ]; then
  link_into_data
  say "cached: ${image}"
  printf '%s\n' "${data_dir}/${image_name}"
  exit 0
fi
# Another clone on this machine may hold the image though the cache was cleaned.
if [ -f "${data_dir}/${image_name}" ] && [ -f "${data_dir}/manifest.json" ]; then
  ln "${data_dir}/${image_name}" "$image" 2>/dev/null || cp "${data_dir}/${image_name}" "$image"
  cp "${data_dir}/manifest.json" "${cache_dir}/manifest.json"
  printf '%s\n' "${data_dir}/${image_name}"
  exit 0
fi

missing=()
for p in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
    cannot "apt-get install ${missing[*]} failed"
fi

started=$(date +%s)
work="$(mktemp -d /var/tmp/qubinode-guest-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="${work}/root"
# debootstrap fetches with wget; give it apt's proxy, if this machine's apt uses one.
proxy="$(apt-config shell P Acquire::http::Proxy 2>/dev/null | sed -n "s/^P='\(.*\)'$/\1/p")"
[ -n "$proxy" ] && export http_proxy="$proxy"

say "debootstrap ${suite} (minbase) into ${work}"
# Downloaded packages are kept beside the images: a rebuild (a new version of this script) fetches only what changed.
debs="$(dirname "$cache_dir")/debs"
mkdir -p "$debs"
debootstrap --variant=minbase --components=main --cache-dir="$debs" --include="$guest_packages" "$suite" "$root" "$mirror" >"${work}/debootstrap.log" 2>&1 ||
  { tail -n 20 "${work}/debootstrap.log" >&2; grep -B2 -A8 -i 'error' "${root}/debootstrap/debootstrap.log" 2>/dev/null | tail -n 40 >&2; say "debootstrap failed"; exit 1; }

root_uuid="$(cat /proc/sys/kernel/random/uuid)"
cat >"${root}/etc/fstab" <<EOF
UUID=${root_uuid} / ext4 defaults,noatime 0 1
EOF
printf 'localhost\n' >"${root}/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"${root}/etc/hosts"
# An empty machine-id is generated on first boot: clones must not share DHCP client identities.
: >"${root}/etc/machine-id"
rm -f "${root}/var/lib/dbus/machine-id" "${root}"/etc/ssh/ssh_host_*
# cloud-init regenerates the host keys on first boot (ssh module) so clones do not share them.
# NoCloud only (kcli attaches a cidata ISO): probing cloud metadata services costs minutes in emulation.
# The network is the image's own DHCP on eth0 (below), so cloud-init renders none.
cat >"${root}/etc/cloud/cloud.cfg.d/90-qubinode.cfg" <<'EOF'
datasource_list: [NoCloud, None]
network: {config: disabled}
growpart: {mode: "off"}
resize_rootfs: false
EOF
# DHCP on the first NIC, named eth0 whatever the machine type (net.ifnames=0 on the kernel command line).
cat >"${root}/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback
source /etc/network/interfaces.d/*
EOF
mkdir -p "${root}/etc/network/interfaces.d"
cat >"${root}/etc/network/interfaces.d/50-qubinode-dhcp" <<'EOF'
allow-hotplug eth0
iface eth0 inet dhcp
EOF
# Timers that would compete for the emulated CPU in a short-lived guest.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "${root}/etc/systemd/system/${unit}"
done
# Drivers a virtio guest never loads (the initramfs is already built): a third of the image.
kver="$(basename "$(find "${root}/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)")"
for tree in drivers/gpu drivers/media drivers/net/wireless drivers/infiniband drivers/staging drivers/bluetooth drivers/iio drivers/isdn drivers/net/ethernet/mellanox drivers/net/ethernet/intel drivers/scsi/qla2xxx drivers/scsi/lpfc sound; do
  rm -rf "${root}/lib/modules/${kver}/kernel/${tree}"
done
chroot "$root" depmod -a "$kver"
rm -rf "${root}"/var/cache/apt/archives/*.deb "${root}"/var/lib/apt/lists/* "${root}"/usr/share/doc/* "${root}"/usr/share/man/* "${root}"/usr/share/locale/*

kernel="$(find "${root}/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)"
initrd="$(find "${root}/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)"
if [ -z "$kernel" ] || [ -z "$initrd" ]; then say "no kernel or initrd in the guest's /boot"; exit 1; fi

# Disk: MBR (syslinux), p1 FAT boot (kernel, initrd, syslinux), p2 ext4 root filled by mkfs -d.
boot_mib=96
root_mib=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 256 ))
disk="${work}/disk.raw"
truncate -s "$(( 1 + boot_mib + root_mib ))M" "$disk"
sfdisk -q "$disk" <<EOF
label: dos
start=2048, size=$(( boot_mib * 2048 )), type=c, bootable
start=$(( 2048 + boot_mib * 2048 )), type=83
EOF
# Hidden sectors = the partition start: syslinux finds its files by absolute sector.
mkfs.fat -F 16 -n QBOOT -h 2048 --offset 2048 "$disk" $(( boot_mib * 1024 )) >/dev/null
syslinux --offset $(( 2048 * 512 )) --install "$disk"
cat >"${work}/syslinux.cfg" <<EOF
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=UUID=${root_uuid} ro net.ifnames=0 console=tty0 console=ttyS0,115200 quiet
EOF
export MTOOLS_SKIP_CHECK=1
mcopy -i "${disk}@@1M" "$kernel" ::vmlinuz
mcopy -i "${disk}@@1M" "$initrd" ::initrd.img
mcopy -i "${disk}@@1M" "${work}/syslinux.cfg" ::syslinux.cfg
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none
mkfs.ext4 -q -F -d "$root" -U "$root_uuid" -L qroot -E offset=$(( (2048 + boot_mib * 2048) * 512 )) "$disk" "$(( root_mib * 1024 ))k"

qemu-img convert -f raw -O qcow2 "$disk" "${work}/${image_name}"
chmod 0644 "${work}/${image_name}"
mv "${work}/${image_name}" "$image"
kernel_version="${kernel##*/vmlinuz-}"
cat >"${cache_dir}/manifest.json" <<EOF
{"version": "${version}", "suite": "${suite}", "kernel": "${kernel_version}", "packages": "${guest_packages}", "user": "root", "python": "/usr/bin/python3", "builtSeconds": $(( $(date +%s) - started ))}
EOF
link_into_data
say "built ${image} in $(( $(date +%s) - started ))s ($(du -h "$image" | cut -f1))"
printf '%s\n' "${data_dir}/${image_name}"
