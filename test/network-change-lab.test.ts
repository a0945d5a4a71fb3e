// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/engine';
import { fleetLabUnavailable, labSlot, startFleetLab, type FleetLab } from './support/fleet-lab';
import { taskOf } from './support/waiting';

/**
 * host.network-change in the fleet lab (slow tier, root only; lab slot 3, hosts hv1 and hv2): a change
 * that cuts a host off its network rolls itself back, and a harmless one is confirmed and stays.
 * Nothing is mocked: the host's eth0 really goes down, its worker really loses Temporal.
 */

const SLOT = 3;
const CONTROL_IP = labSlot(SLOT).controlIp;

const cutDag = `id: net-cut
tasks:
  - id: uplink
    uses: host.network-change
    runsOn: hv2
    timeout: 3m
    with:
      apply: [["ip", "link", "set", "eth0", "down"]]
      revert: [["ip", "link", "set", "eth0", "up"], ["ip", "route", "replace", "default", "via", "${CONTROL_IP}"]]
      confirmWithin: 20s
      checkpoint: timer
`;

const harmlessDag = `id: net-harmless
tasks:
  - id: loopback
    uses: host.network-change
    runsOn: hv1
    timeout: 3m
    with:
      apply: [["ip", "address", "add", "192.0.2.10/32", "dev", "lo"]]
      revert: [["ip", "address", "del", "192.0.2.10/32", "dev", "lo"]]
      check: ["ip", "-o", "address", "show", "dev", "lo", "to", "192.0.2.10/32"]
      confirmWithin: 10s
`;

const followUpDag = `id: net-after
tasks:
  - id: still-there
    uses: shell
    runsOn: hv2
    with:
      script: |
        set -eu
        echo "eth0=$(ip -o -4 address show dev eth0 | awk '{print $4}')" >> "$QUBINODE_OUTPUTS"
`;

function inHost(namespace: string, args: readonly string[]): string {
  return execFileSync('ip', ['-n', namespace, ...args], { encoding: 'utf8' });
}

describe('host.network-change in the fleet lab', { skip: fleetLabUnavailable() ?? false, timeout: 600_000 }, () => {
  let lab: FleetLab;
  let engine: TestEngine;
  before(
    async () => {
      lab = await startFleetLab({ hosts: 2, slot: SLOT });
      // The host workers run the code under test, not a dist/ build that may be older.
      lab.env.QUBINODE_FROM_SOURCES = '1';
      engine = await startTestEngine({ env: lab.env });
      await Promise.all(lab.hosts.map((host) => lab.startWorker(host.name)));
    },
    { timeout: 300_000 },
  );
  after(
    async () => {
      await engine?.close();
      await lab?.close();
    },
    { timeout: 120_000 },
  );

  it('rolls back a change that cuts the host off: the worker reconnects, the task fails saying so, and the next task on the host runs', async () => {
    const hv2 = lab.host('hv2');
    const started = Date.now();
    const status = await engine.run(engine.compile(cutDag));
    const task = taskOf(status, 'uplink');
    assert.equal(task.state, 'failed');
    assert.equal(task.error?.type, 'NetworkChangeReverted', JSON.stringify(task.error));
    assert.match(task.error?.message ?? '', /^network change on hv2 reverted: the host did not confirm within 20s \(revert ran at \S+, revert steps exit codes 0, 0\)$/);
    assert.ok(Date.now() - started < 150_000, `took ${Date.now() - started} ms`);
    // The host is as it was: its link up, its default route back.
    assert.match(inHost(hv2.namespace, ['link', 'show', 'dev', 'eth0']), /state UP/);
    assert.match(inHost(hv2.namespace, ['-4', 'route']), new RegExp(`^default via ${CONTROL_IP.replace(/\./g, '\\.')} dev eth0`, 'm'));
    const after = await engine.run(engine.compile(followUpDag));
    const next = taskOf(after, 'still-there');
    assert.equal(next.state, 'succeeded', JSON.stringify(next.error));
    assert.equal(next.outputs?.eth0, `${hv2.address}/24`);
  });

  it('confirms a harmless change, which stays: nothing reverts it after confirmWithin has passed', async () => {
    const hv1 = lab.host('hv1');
    const status = await engine.run(engine.compile(harmlessDag));
    const task = taskOf(status, 'loopback');
    assert.equal(task.state, 'succeeded', JSON.stringify(task.error));
    assert.match(task.summary ?? '', /^network change on hv1 confirmed at \S+ \(timer checkpoint\)$/);
    // Past the 10 s deadline and the timer's poll, from the start of the run: the address is still there.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    assert.match(inHost(hv1.namespace, ['-o', 'address', 'show', 'dev', 'lo']), /192\.0\.2\.10\/32/);
    inHost(hv1.namespace, ['address', 'del', '192.0.2.10/32', 'dev', 'lo']);
  });
});
