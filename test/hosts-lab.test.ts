// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hostLastSeen, listHosts, UnknownHostError, type HostView } from '../client/hosts';
import { startTestEngine, type TestEngine } from './support/engine';
import { fleetLabUnavailable, startFleetLab, type FleetLab } from './support/fleet-lab';
import { qubinodeFromSource } from './support/cli';
import { until } from './support/waiting';

/**
 * Known hosts in the fleet lab (slow tier, root only, slot 1): two hosts as network namespaces, each
 * with its own worker that announces itself to the lab's Temporal; nothing is mocked.
 */
describe('known hosts in the fleet lab', { skip: fleetLabUnavailable() ?? false, timeout: 300_000 }, () => {
  let lab: FleetLab;
  let engine: TestEngine;

  before(
    async () => {
      lab = await startFleetLab({ hosts: 2, slot: 1 });
      // The workers run the code under test, not an older dist/ build.
      lab.env.QUBINODE_FROM_SOURCES = '1';
      lab.env.QUBINODE_HOST_LABELS = 'role=hypervisor,lab=slot1';
      engine = await startTestEngine({ env: lab.env });
      await Promise.all(lab.hosts.map((host) => lab.startWorker(host.name)));
    },
    { timeout: 200_000 },
  );
  after(
    async () => {
      await engine?.close();
      await lab?.close();
    },
    { timeout: 120_000 },
  );

  const hostNamed = async (name: string): Promise<HostView | undefined> => (await listHosts(engine.client)).find((host) => host.queue === name);

  it('lists both hosts online, each with the address of its own namespace, its labels and an activity poller', async () => {
    await until(async () => (await listHosts(engine.client)).filter((host) => host.queue.startsWith('hv') && host.state === 'online' && host.pollers.length > 0).length === 2, 60_000, 'hv1 and hv2 online with pollers');
    for (const labHost of lab.hosts) {
      const host = await hostNamed(labHost.name);
      assert.equal(host?.state, 'online');
      assert.deepEqual(host?.worker?.addresses.filter((address) => address.includes('.')), [`${labHost.address}/24`], 'eth0 in its namespace, and nothing of the control plane\'s');
      assert.deepEqual(host?.worker?.labels, { role: 'hypervisor', lab: 'slot1' });
      assert.equal(host?.worker?.runsWorkflows, false);
      assert.ok(host?.pollers.some((poller) => poller.kind === 'activity'));
    }
  });

  it('refuses a run naming a host the lab does not have, with the hosts it does', async () => {
    const dag = engine.compile(`id: nowhere\ntasks:\n  - id: deploy\n    uses: noop\n    runsOn: hv9\n`);
    await assert.rejects(engine.start(dag, {}, randomUUID().slice(0, 12)), (error: unknown) => {
      assert.ok(error instanceof UnknownHostError);
      assert.equal(error.message, `task deploy: runsOn hv9 names no known host (known: ${['hv1', 'hv2', engine.taskQueue].sort().join(', ')})`);
      return true;
    });
  });

  it('shows a host whose worker stopped as offline since then, and `qubinode hosts --json` says so', async () => {
    const before = Date.now();
    await lab.stopWorker('hv2');
    await until(async () => !(await hostLastSeen(engine.client, 'hv2')).online, 60_000, 'hv2 offline');
    const hv2 = await hostNamed('hv2');
    assert.equal(hv2?.state, 'offline');
    assert.ok(hv2?.offlineSince && Date.parse(hv2.offlineSince) >= before - 1000, `offline since ${hv2?.offlineSince}`);
    assert.equal((await hostNamed('hv1'))?.state, 'online');

    const cli = await qubinodeFromSource(['hosts', '--json'], lab.env);
    assert.equal(cli.code, 0, cli.stderr);
    const listed = JSON.parse(cli.stdout) as HostView[];
    assert.deepEqual(
      listed.filter((host) => host.queue.startsWith('hv')).map((host) => [host.queue, host.state, host.state === 'offline' ? host.offlineSince : 'now']),
      [
        ['hv1', 'online', 'now'],
        ['hv2', 'offline', hv2.offlineSince],
      ],
    );
    const table = await qubinodeFromSource(['hosts'], lab.env);
    assert.match(table.stdout, /^hv2\s+10\.231\.1\.12\s+offline since \d{4}-\d\d-\d\dT/m);
  });
});
