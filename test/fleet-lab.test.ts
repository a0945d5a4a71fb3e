// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { fleetLabUnavailable, LAB_CONTROL_IP, LAB_SCRIPTS, LAB_TEMPORAL_IP, runLabScript, startFleetLab, type FleetLab } from './support/fleet-lab';
import { taskOf, until } from './support/waiting';

/**
 * The fleet lab (slow tier, root only): hosts hv1..hv3 as network namespaces, each with an
 * activity-only worker polling its own queue, against a Temporal dev server of the lab's own (in a
 * namespace of its own on the bridge). Nothing is mocked; the hosts share this machine's kernel, so there is no KVM in them.
 */

/** A task on each host reporting, as outputs, what that host's network looks like from inside. */
function factsDag(id: string, hosts: readonly string[], extra = ''): string {
  const tasks = hosts.map(
    (host) => `  - id: on-${host}
    uses: shell
    runsOn: ${host}
    with:
      script: |
        set -eu
        ip -o addr
        echo "namespace=$(ip netns identify $$)" >> "$QUBINODE_OUTPUTS"
        echo "netns=$(readlink /proc/$$/ns/net)" >> "$QUBINODE_OUTPUTS"
        echo "address=$(ip -o -4 addr show dev eth0 | awk '{print $4}')" >> "$QUBINODE_OUTPUTS"
        echo "links=$(ip -o link | wc -l)" >> "$QUBINODE_OUTPUTS"`,
  );
  return `id: ${id}\n${extra}tasks:\n${tasks.join('\n')}\n`;
}

const CUT_DAG = `id: fleet-cut
timeout: 45s
tasks:
  - id: on-hv1
    uses: shell
    runsOn: hv1
    with: { script: 'echo hv1 fine' }
  - id: on-hv3
    uses: shell
    runsOn: hv3
    with: { script: 'echo hv3 fine' }
  - id: on-hv2
    uses: shell
    runsOn: hv2
    with: { script: 'echo hv2 busy; sleep 600' }
`;

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
const HEARTBEAT = temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT;

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the fleet lab scripts refuse unsafe input', () => {
  it('pass shellcheck and bash -n', { skip: hasCommand('shellcheck') ? false : 'shellcheck is not installed' }, () => {
    const scripts = readdirSync(LAB_SCRIPTS).filter((name) => name.endsWith('.sh')).map((name) => path.join(LAB_SCRIPTS, name));
    assert.ok(scripts.length >= 6, scripts.join(' '));
    execFileSync('shellcheck', ['--external-sources', '--source-path=SCRIPTDIR', ...scripts], { stdio: 'pipe' });
    for (const script of scripts) execFileSync('bash', ['-n', script], { stdio: 'pipe' });
  });

  const hostile = ['hv1;id', 'hv 1', '../hv1', 'hv1/../../etc', '$(id)', 'hv0', 'hv01', 'hv33', 'qn-hv1', ''];
  for (const script of ['fleet-worker.sh', 'fleet-link.sh']) {
    it(`${script} refuses host names that are not hv1..hv32 before touching anything`, async () => {
      for (const name of hostile) {
        const result = await runLabScript(script, ['status', name]);
        assert.equal(result.code, 2, `${JSON.stringify(name)}: ${result.stderr}`);
        assert.match(result.stderr, /host must be hv1\.\.hv32/, JSON.stringify(name));
      }
    });
  }

  it('fleet-up.sh refuses host counts that are not 1..32', async () => {
    for (const count of ['3;id', '0', '33', '-1', '1 2', '../3', '03', '', '1e1']) {
      const result = await runLabScript('fleet-up.sh', [count]);
      assert.equal(result.code, 2, `${JSON.stringify(count)}: ${result.stderr}`);
      assert.match(result.stderr, /host count must be a number from 1 to 32/);
    }
  });

  it('fleet-up.sh refuses to run without root and says so', { skip: process.getuid?.() === 0 ? false : 'already not root' }, () => {
    let stderr = '';
    try {
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', path.join(LAB_SCRIPTS, 'fleet-up.sh'), '2'], { stdio: 'pipe' });
      assert.fail('fleet-up.sh ran as nobody');
    } catch (error) {
      const failure = error as { status?: number; stderr?: Buffer };
      assert.equal(failure.status, 2);
      stderr = String(failure.stderr);
    }
    assert.match(stderr, /root required/);
  });

  it('fleet-worker.sh refuses a Temporal port that is not a port number', async () => {
    for (const port of ['7233;id', '0', '65536', '7233 --help', '-1']) {
      const result = await runLabScript('fleet-worker.sh', ['start', 'hv1'], { ...process.env, QUBINODE_LAB_TEMPORAL_PORT: port });
      assert.equal(result.code, 2, port);
      assert.match(result.stderr, /QUBINODE_LAB_TEMPORAL_PORT must be a port number/, port);
    }
  });
});

describe('the fleet lab: hosts hv1..hv3 as network namespaces with a worker each', { skip: fleetLabUnavailable() ?? false, timeout: 600_000 }, () => {
  let lab: FleetLab;
  let engine: TestEngine;
  before(
    async () => {
      lab = await startFleetLab({ hosts: 3 });
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

  it('gives every host its own address on the bridge and a default route only to the control plane', () => {
    assert.deepEqual(
      lab.hosts.map((host) => [host.name, host.namespace, host.address]),
      [
        ['hv1', 'qn-hv1', '10.231.0.11'],
        ['hv2', 'qn-hv2', '10.231.0.12'],
        ['hv3', 'qn-hv3', '10.231.0.13'],
      ],
    );
    for (const host of lab.hosts) {
      const routes = execFileSync('ip', ['-n', host.namespace, '-4', 'route'], { encoding: 'utf8' });
      assert.match(routes, new RegExp(`^default via ${LAB_CONTROL_IP.replace(/\./g, '\\.')} dev eth0`, 'm'));
      assert.equal(routes.trim().split('\n').length, 2, routes);
    }
  });

  it('brings the lab up again without change when it is up already', async () => {
    const again = await runLabScript('fleet-up.sh', ['3']);
    assert.equal(again.code, 0, again.stderr);
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((line) => line.split(' ')[0]);
    assert.deepEqual(namespaces.filter((name) => name?.startsWith('qn-')).sort(), ['qn-hv1', 'qn-hv2', 'qn-hv3', 'qn-temporal']);
  });

  it('serves the lab\'s Temporal from a namespace of its own that reaches nothing beyond the bridge', () => {
    const routes = execFileSync('ip', ['-n', 'qn-temporal', '-4', 'route'], { encoding: 'utf8' }).trim();
    assert.equal(routes, `10.231.0.0/24 dev eth0 proto kernel scope link src ${LAB_TEMPORAL_IP} `.trim());
    assert.equal(lab.env.TEMPORAL_ADDRESS, `${LAB_TEMPORAL_IP}:7250`);
    // Its wildcard listener exists only inside that namespace: nothing of the lab's server listens in the control plane's.
    const listening = execFileSync('ss', ['-Hltn'], { encoding: 'utf8' });
    assert.doesNotMatch(listening, /:7250\s/);
  });

  it('runs each task of a DAG inside the namespace of the host its runsOn names', async (t) => {
    const status = await engine.run(engine.compile(factsDag('fleet-facts', ['hv1', 'hv2', 'hv3'])));
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    const mine = readlinkSync('/proc/self/ns/net');
    const seen = new Set<string>();
    for (const host of lab.hosts) {
      const outputs = taskOf(status, `on-${host.name}`).outputs ?? {};
      t.diagnostic(`${host.name}: ${JSON.stringify(outputs)}`);
      assert.equal(outputs.namespace, host.namespace);
      assert.equal(outputs.address, `${host.address}/24`);
      assert.equal(outputs.links, 2, 'loopback and eth0, nothing else');
      assert.notEqual(outputs.netns, mine, 'not the control plane\'s network');
      seen.add(String(outputs.netns));
    }
    assert.equal(seen.size, 3, 'three distinct network namespaces');
  });

  it('fails the task on a host cut off the network by the timeouts of today, while the other hosts finish', { timeout: 240_000 }, async (t) => {
    const started = Date.now();
    const runId = await engine.start(engine.compile(CUT_DAG));
    const handle = engine.client.workflow.getHandle(runId);
    await until(async () => ((await handle.describe()).raw.pendingActivities ?? []).some((activity) => activity.activityId === 'on-hv2' && activity.state === STARTED), 60_000, 'hv2 to take its task');
    await lab.cut('hv2');
    const status = await engine.wait(runId);
    t.diagnostic(`run ended ${Math.round((Date.now() - started) / 1000)} s after its start: ${JSON.stringify(taskStates(status))}; ${status.reason ?? ''}; hv2: ${taskOf(status, 'on-hv2').error?.message ?? taskOf(status, 'on-hv2').reason ?? ''}`);
    assert.equal(taskOf(status, 'on-hv1').state, 'succeeded');
    assert.equal(taskOf(status, 'on-hv3').state, 'succeeded');
    assert.notEqual(status.state, 'succeeded');
    assert.ok(['failed', 'cancelled'].includes(taskOf(status, 'on-hv2').state), taskOf(status, 'on-hv2').state);
    assert.match(status.reason ?? '', /run timed out/);
    // Temporal gave up on hv2's silent attempt by its heartbeat timeout before the run's own limit ended it.
    const history = await handle.fetchHistory();
    const scheduled = new Map((history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes).map((event) => [String(event.eventId), event.activityTaskScheduledEventAttributes?.activityId]));
    const heartbeatTimeouts = (history.events ?? []).filter((event) => {
      const timedOut = event.activityTaskTimedOutEventAttributes;
      return timedOut && scheduled.get(String(timedOut.scheduledEventId)) === 'on-hv2' && timedOut.failure?.timeoutFailureInfo?.timeoutType === HEARTBEAT;
    });
    assert.ok(heartbeatTimeouts.length >= 1, 'hv2\'s attempt timed out by its heartbeat');
  });

  it('runs tasks on a host again once its link is mended', { timeout: 240_000 }, async () => {
    await lab.mend('hv2');
    const status = await engine.run(engine.compile(factsDag('fleet-mended', ['hv2'], 'timeout: 150s\n')));
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message, task.reason])));
    assert.equal(taskOf(status, 'on-hv2').outputs?.namespace, 'qn-hv2');
  });

  it('loses a host\'s worker with every process in it, and gets it back', { timeout: 240_000 }, async () => {
    await lab.killHost('hv3');
    assert.equal(execFileSync('ip', ['netns', 'pids', 'qn-hv3'], { encoding: 'utf8' }).trim(), '', 'nothing runs in hv3');
    assert.equal((await runLabScript('fleet-worker.sh', ['status', 'hv3'])).code, 3);
    await lab.startWorker('hv3');
    const status = await engine.run(engine.compile(factsDag('fleet-back', ['hv3'], 'timeout: 120s\n')));
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
  });
});
