#!/usr/bin/env bash
# Installs and starts a local libvirtd (qemu in software emulation) for the kcli tests and for
# development hosts without a hypervisor. Debian/Ubuntu only, root only; safe to run repeatedly.
# Exit codes: 0 ready (qemu:///system answers), 2 cannot run here (not root / no apt / start failed).
set -uo pipefail

say() { printf '[setup-libvirt] %s\n' "$*" >&2; }
# genisoimage: kcli writes each VM's cloud-init ISO with it (or xorrisofs/mkisofs) and refuses to create the VM without one.
packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base iptables genisoimage)

ready() { virsh -c qemu:///system uri >/dev/null 2>&1; }
iso_tool() { command -v genisoimage >/dev/null 2>&1 || command -v xorrisofs >/dev/null 2>&1 || command -v mkisofs >/dev/null 2>&1; }
# libvirt re-probes every QEMU binary on each capabilities call (seconds each; a kcli create then takes
# minutes) when a /dev/kvm node exists that the qemu user cannot open ("KVM was enabled when probing ... but
# it is not available now"), as in sandboxes exposing /dev/kvm as root:root 0600 without a kvm group. Giving
# the kvm group access, as udev does on a normal host, keeps the capability cache valid. Guests here still run
# in software emulation where the DAG asks for it (kcli: -P virttype=qemu).
kvm_access() {
  [ -e /dev/kvm ] && [ "$(id -u)" = 0 ] || return 0
  getent passwd libvirt-qemu >/dev/null || return 0
  getent group kvm >/dev/null || groupadd -r kvm
  if [ "$(stat -c %G /dev/kvm)" = root ] && [ "$(stat -c %a /dev/kvm)" = 600 ]; then
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm && say "gave the kvm group access to /dev/kvm"
  fi
  id -nG libvirt-qemu | grep -qw kvm || usermod -a -G kvm libvirt-qemu
}

if command -v virsh >/dev/null 2>&1 && ready && iso_tool; then kvm_access; exit 0; fi

if [ "$(id -u)" != 0 ]; then say "not root: cannot install or start libvirtd"; exit 2; fi
if ! command -v apt-get >/dev/null 2>&1; then say "no apt-get: install libvirt yourself"; exit 2; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/qubinode-setup-libvirt.log 2>&1; then
    apt-get update -q >>/tmp/qubinode-setup-libvirt.log 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/qubinode-setup-libvirt.log 2>&1 ||
      { say "apt-get install failed; see /tmp/qubinode-setup-libvirt.log"; exit 2; }
  fi
fi

# Debian's postinst normally creates these; in containers without systemd it may not have.
getent passwd libvirt-qemu >/dev/null || useradd -r -s /usr/sbin/nologin libvirt-qemu
getent group libvirt >/dev/null || groupadd -r libvirt
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/images
kvm_access
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 50); do ready && break; sleep 0.2; done
if ready; then say "libvirtd ready (qemu:///system)"; exit 0; fi
say "libvirtd did not answer on qemu:///system"; exit 2
