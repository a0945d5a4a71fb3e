import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAptSimulation, needsReboot, onlyPackages, parseAptSimulation, parseAptUpgradable, parseDnfCheckUpdate, parseDnfSecurity, parseUpdates } from './update-parser';

const DNF = `Last metadata expiration check: 0:41:07 ago on Wed 25 Nov 2026 07:20:15 PM UTC.

NetworkManager.x86_64                      1:1.46.0-8.el9_4                baseos
kernel.x86_64                              5.14.0-427.13.1.el9_4           baseos
openssl-libs.x86_64                        1:3.0.7-27.el9                  baseos
python3.11-pip.noarch                      22.3.1-4.el9_4.1                appstream
qemu-kvm.x86_64                            17:8.2.0-11.el9_4.1             appstream
Obsoleting Packages
grub2-tools.x86_64                         1:2.06-77.el9                   baseos
    grub2-tools.x86_64                     1:2.06-70.el9                   @baseos
`;

const DNF_SECURITY = `Last metadata expiration check: 0:41:09 ago on Wed 25 Nov 2026 07:20:15 PM UTC.
RHSA-2024:2679 Important/Sec. kernel-5.14.0-427.13.1.el9_4.x86_64
RHSA-2024:2447 Moderate/Sec.  openssl-libs-1:3.0.7-27.el9.x86_64
`;

const APT = `Listing... Done
libssl3/bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
linux-image-amd64/bookworm-updates 6.1.119-1 amd64 [upgradable from: 6.1.115-1]
openssl/jammy-updates,jammy-security 3.0.2-0ubuntu1.18 amd64 [upgradable from: 3.0.2-0ubuntu1.15]
vim/stable 2:9.0.1378-2+deb12u1 amd64 [upgradable from: 2:9.0.1378-2]
`;

// What `apt-get -s dist-upgrade` prints on Debian 12 and Ubuntu 24.04 (LC_ALL=C): an update per Inst
// line, a package the upgrade pulls in without an installed version, and the Conf lines.
const APT_SIMULATION = `NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following NEW packages will be installed:
  linux-image-6.1.0-28-amd64
The following packages will be upgraded:
  libssl3 linux-image-amd64 openssl qubinode-canary vim
Inst libssl3 [3.0.14-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst linux-image-6.1.0-28-amd64 (6.1.119-1 Debian:12.8/stable [amd64])
Inst linux-image-amd64 [6.1.115-1] (6.1.119-1 Debian:12.8/stable [amd64])
Inst openssl [3.0.13-0ubuntu3.4] (3.0.13-0ubuntu3.5 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
Inst qubinode-canary [1.0] (1.1 localhost [all])
Inst vim [2:9.0.1378-2] (2:9.0.1378-2+deb12u1 Debian:12.8/stable [amd64])
Conf libssl3 (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
Conf qubinode-canary (1.1 localhost [all])
`;

describe('update listings', () => {
  it('parses apt-get -s dist-upgrade: updates with the installed version, security by release, new packages left out', () => {
    const report = parseAptSimulation(APT_SIMULATION);
    assert.deepEqual(
      report.packages.map((entry) => [entry.name, entry.from, entry.version, entry.arch, entry.security, entry.rebootRequired]),
      [
        ['libssl3', '3.0.14-1~deb12u2', '3.0.15-1~deb12u1', 'amd64', true, false],
        ['linux-image-amd64', '6.1.115-1', '6.1.119-1', 'amd64', false, true],
        ['openssl', '3.0.13-0ubuntu3.4', '3.0.13-0ubuntu3.5', 'amd64', true, false],
        ['qubinode-canary', '1.0', '1.1', 'all', false, false],
        ['vim', '2:9.0.1378-2', '2:9.0.1378-2+deb12u1', 'amd64', false, false],
      ],
    );
    assert.equal(report.packages[2]?.repo, 'Ubuntu:24.04/noble-updates,Ubuntu:24.04/noble-security');
    assert.deepEqual([report.total, report.security, report.maintenance, report.rebootRequired], [5, 2, 3, true]);
  });

  it('tells a saved apt-get simulation from a saved apt list', () => {
    assert.equal(isAptSimulation(APT_SIMULATION), true);
    assert.equal(isAptSimulation(APT), false);
    assert.equal(parseUpdates('apt', APT_SIMULATION).total, 5);
    assert.equal(parseUpdates('apt', APT).total, 4);
  });

  it('keeps only the allow-listed packages, with totals of those alone', () => {
    const report = onlyPackages(parseAptSimulation(APT_SIMULATION), ['qubinode-canary', 'libssl3:amd64', 'not-there']);
    assert.deepEqual(report.packages.map((entry) => entry.name), ['libssl3', 'qubinode-canary']);
    assert.deepEqual([report.total, report.security, report.maintenance, report.rebootRequired], [2, 1, 1, false]);
    assert.equal(onlyPackages(parseAptSimulation(APT_SIMULATION), []).total, 5, 'an empty allow-list keeps everything');
  });

  it('reads no update out of lines that only look like one', () => {
    const hostile = 'Inst evil [1.0]\nInst  [1] (2 x [all])\nXInst a [1] (2 x [all])\nInst ok [1] (2 x [all])\n';
    assert.deepEqual(parseAptSimulation(hostile).packages.map((entry) => entry.name), ['ok']);
  });

  it('parses dnf check-update, skipping the metadata line and the obsoleted packages', () => {
    const report = parseDnfCheckUpdate(DNF, DNF_SECURITY);
    assert.deepEqual(
      report.packages.map((entry) => [entry.name, entry.arch, entry.version, entry.repo, entry.security, entry.rebootRequired]),
      [
        ['NetworkManager', 'x86_64', '1:1.46.0-8.el9_4', 'baseos', false, false],
        ['kernel', 'x86_64', '5.14.0-427.13.1.el9_4', 'baseos', true, true],
        ['openssl-libs', 'x86_64', '1:3.0.7-27.el9', 'baseos', true, false],
        ['python3.11-pip', 'noarch', '22.3.1-4.el9_4.1', 'appstream', false, false],
        ['qemu-kvm', 'x86_64', '17:8.2.0-11.el9_4.1', 'appstream', false, false],
        ['grub2-tools', 'x86_64', '1:2.06-77.el9', 'baseos', false, false],
      ],
    );
    assert.deepEqual([report.total, report.security, report.maintenance, report.rebootRequired], [6, 2, 4, true]);
    assert.equal(report.packages[1]?.advisory, 'RHSA-2024:2679');
    assert.equal(report.packages[1]?.severity, 'Important');
  });

  it('reads package names out of dnf advisory NEVRAs, epochs and dashes included', () => {
    const advisories = parseDnfSecurity(DNF_SECURITY);
    assert.deepEqual([...advisories.keys()], ['kernel', 'openssl-libs']);
  });

  it('parses apt list --upgradable, security by suite', () => {
    const report = parseAptUpgradable(APT);
    assert.deepEqual(
      report.packages.map((entry) => [entry.name, entry.version, entry.from, entry.security, entry.rebootRequired]),
      [
        ['libssl3', '3.0.15-1~deb12u1', '3.0.14-1~deb12u2', true, false],
        ['linux-image-amd64', '6.1.119-1', '6.1.115-1', false, true],
        ['openssl', '3.0.2-0ubuntu1.18', '3.0.2-0ubuntu1.15', true, false],
        ['vim', '2:9.0.1378-2+deb12u1', '2:9.0.1378-2', false, false],
      ],
    );
    assert.deepEqual([report.total, report.security, report.maintenance, report.rebootRequired], [4, 2, 2, true]);
  });

  it('reports nothing to do for empty listings', () => {
    for (const report of [parseDnfCheckUpdate('Last metadata expiration check: 0:00:01 ago on Wed 25 Nov 2026.\n'), parseAptUpgradable('Listing... Done\n'), parseAptUpgradable('')]) {
      assert.deepEqual([report.total, report.security, report.rebootRequired], [0, 0, false]);
    }
  });

  it('knows which packages need a reboot', () => {
    for (const name of ['kernel', 'kernel-core', 'linux-image-6.1.0-27-amd64', 'glibc', 'libc6', 'systemd', 'linux-firmware', 'intel-microcode']) assert.equal(needsReboot(name), true, name);
    for (const name of ['kernel-headers-tools', 'openssl', 'qemu-kvm', 'libvirt-daemon', 'systemd-udev-extra']) assert.equal(needsReboot(name), false, name);
  });
});
