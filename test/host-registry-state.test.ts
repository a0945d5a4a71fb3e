import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostView, literalRunsOn, UnknownHostError } from '../client/hosts';
import type { CompiledDag, CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { checkedAnnouncement, emptyRegistry, HOST_LIMITS, recordAnnouncement, recordLeaving, type HostAnnouncement, type HostInstance } from '../workflows/host-registry-state';

function announcement(overrides: Partial<HostAnnouncement> = {}): HostAnnouncement {
  return {
    queue: 'hv1',
    identity: '4242@hv1',
    instanceId: 'a1b2c3',
    version: '0.1.0',
    runsWorkflows: false,
    startedAt: '2026-11-26T10:00:00.000Z',
    bootId: '0e7f6c1a-1111-2222-3333-444455556666',
    hostname: 'hv1',
    os: { id: 'rocky', versionId: '9.4', name: 'Rocky Linux 9.4' },
    kernel: '5.14.0',
    arch: 'x86_64',
    cpuCount: 8,
    memoryMiB: 32_000,
    addresses: ['10.231.0.11/24'],
    labels: { role: 'hypervisor', env: 'production' },
    ...overrides,
  };
}

function deeplyNested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < depth; level += 1) value = { inner: value };
  return value;
}

describe('host registry state', () => {
  it('records a worker announcement with the registry time as first and last seen', () => {
    const state = emptyRegistry();
    assert.equal(recordAnnouncement(state, announcement(), '2026-11-26T10:00:01.000Z'), 'recorded');
    const [instance] = state.queues.hv1 ?? [];
    assert.equal(instance?.kernel, '5.14.0');
    assert.equal(instance?.firstSeen, '2026-11-26T10:00:01.000Z');
    assert.equal(instance?.lastSeen, '2026-11-26T10:00:01.000Z');
  });

  it('keeps the first sighting and moves last seen when the same worker announces again', () => {
    const state = emptyRegistry();
    recordAnnouncement(state, announcement(), '2026-11-26T10:00:01.000Z');
    recordAnnouncement(state, announcement(), '2026-11-26T10:00:31.000Z');
    assert.equal(state.queues.hv1?.length, 1);
    assert.equal(state.queues.hv1?.[0]?.firstSeen, '2026-11-26T10:00:01.000Z');
    assert.equal(state.queues.hv1?.[0]?.lastSeen, '2026-11-26T10:00:31.000Z');
  });

  it('keeps a restarted worker apart from the one before it, newest first, and at most a few per queue', () => {
    const state = emptyRegistry();
    for (let index = 0; index < HOST_LIMITS.instancesPerQueue + 3; index += 1) recordAnnouncement(state, announcement({ instanceId: `run-${index}` }), `2026-11-26T10:00:${String(index).padStart(2, '0')}.000Z`);
    assert.equal(state.queues.hv1?.length, HOST_LIMITS.instancesPerQueue);
    assert.equal(state.queues.hv1?.[0]?.instanceId, `run-${HOST_LIMITS.instancesPerQueue + 2}`);
    assert.equal(state.evicted, 3);
  });

  const hostile: [string, unknown][] = [
    ['a queue with ../', announcement({ queue: '../hv1' })],
    ['a queue with spaces', announcement({ queue: 'hv 1' })],
    ['a queue with a slash', announcement({ queue: 'hosts/hv1' })],
    ['a queue that starts with a dot', announcement({ queue: '.hv1' })],
    ['an oversized field', announcement({ kernel: 'x'.repeat(HOST_LIMITS.text + 1) })],
    ['an oversized payload', { ...announcement(), padding: 'x'.repeat(100_000) }],
    ['a field the registry does not know', { ...announcement(), command: 'rm -rf /' }],
    ['a deeply nested value', { ...announcement(), os: deeplyNested(10_000) }],
    ['a control character in the identity', announcement({ identity: 'hv1\u001b[2Jfake' })],
    ['a right-to-left override in the hostname', announcement({ hostname: 'hv1\u202e' })],
    ['too many labels', announcement({ labels: Object.fromEntries(Array.from({ length: HOST_LIMITS.labels + 1 }, (_, index) => [`k${index}`, 'v'])) })],
    ['a label key that is not a plain name', announcement({ labels: { __proto__x: 'yes' } })],
    ['an address that is not one', announcement({ addresses: ['10.0.0.1; rm -rf /'] })],
    ['too many addresses', announcement({ addresses: Array.from({ length: HOST_LIMITS.addresses + 1 }, (_, index) => `10.0.0.${index}`) })],
    ['a negative cpu count', announcement({ cpuCount: -1 })],
    ['a start time that is not a time', announcement({ startedAt: 'yesterday' })],
    ['not an object', 'hv1'],
    ['nothing', undefined],
  ];
  for (const [fault, payload] of hostile) {
    it(`refuses an announcement with ${fault} and counts it`, () => {
      const state = emptyRegistry();
      assert.equal(recordAnnouncement(state, payload, '2026-11-26T10:00:01.000Z'), 'rejected');
      assert.deepEqual(Object.keys(state.queues), []);
      assert.equal(state.rejected, 1);
    });
  }

  it('refuses a cyclic payload without throwing', () => {
    const cyclic: Record<string, unknown> = { ...announcement() };
    cyclic.self = cyclic;
    assert.equal(checkedAnnouncement(cyclic), undefined);
  });

  it('forgets the least recently seen queue when it is full, never the one announcing', () => {
    const state = emptyRegistry();
    for (let index = 0; index < HOST_LIMITS.queues; index += 1) recordAnnouncement(state, announcement({ queue: `hv${index}` }), new Date(Date.UTC(2026, 10, 26, 0, 0, index)).toISOString());
    recordAnnouncement(state, announcement({ queue: 'hv0' }), '2026-11-26T12:00:00.000Z');
    recordAnnouncement(state, announcement({ queue: 'newcomer' }), '2026-11-26T12:00:01.000Z');
    assert.equal(Object.keys(state.queues).length, HOST_LIMITS.queues);
    assert.ok(state.queues.newcomer);
    assert.ok(state.queues.hv0, 'hv0 was seen recently and stays');
    assert.equal(state.queues.hv1, undefined, 'hv1 was the least recently seen');
    assert.equal(state.evicted, 1);
  });

  it('forgets the least recently seen workers once full-sized reports exceed its byte budget, and stays inside it', () => {
    const state = emptyRegistry();
    const big = (index: number): HostAnnouncement => announcement({ queue: `hv${index}`, kernel: 'k'.repeat(HOST_LIMITS.text), hostname: 'h'.repeat(HOST_LIMITS.text), identity: 'i'.repeat(HOST_LIMITS.text), version: 'v'.repeat(HOST_LIMITS.text), bootId: 'b'.repeat(HOST_LIMITS.text), arch: 'a'.repeat(HOST_LIMITS.text), os: { id: 'o'.repeat(HOST_LIMITS.text), versionId: 'o'.repeat(HOST_LIMITS.text), name: 'o'.repeat(HOST_LIMITS.text) }, labels: Object.fromEntries(Array.from({ length: 5 }, (_, label) => [`l${label}`, 'x'.repeat(HOST_LIMITS.text)])) });
    assert.ok(JSON.stringify(big(0)).length > 3000 && JSON.stringify(big(0)).length <= HOST_LIMITS.announcementBytes);
    for (let index = 0; index < HOST_LIMITS.queues; index += 1) assert.equal(recordAnnouncement(state, big(index), new Date(Date.UTC(2026, 10, 26, 0, 0, 0, index)).toISOString()), 'recorded');
    // The budget counts the reports; the keys and brackets around them add a little, far from Temporal's 2 MB.
    assert.ok(JSON.stringify(state).length <= HOST_LIMITS.totalBytes * 1.05, `${JSON.stringify(state).length} bytes`);
    assert.ok(state.evicted > 0);
    assert.ok(state.queues[`hv${HOST_LIMITS.queues - 1}`], 'the newest stays');
    assert.equal(state.queues.hv0, undefined, 'the oldest went first');
  });

  it('marks a worker that says it is leaving as stopped, and ignores one it never knew', () => {
    const state = emptyRegistry();
    recordAnnouncement(state, announcement(), '2026-11-26T10:00:01.000Z');
    assert.equal(recordLeaving(state, { queue: 'hv1', instanceId: 'someone-else' }, '2026-11-26T10:01:00.000Z'), 'unknown');
    assert.equal(recordLeaving(state, { queue: 'hv1', instanceId: 'a1b2c3', extra: 1 }, '2026-11-26T10:01:00.000Z'), 'rejected');
    assert.equal(recordLeaving(state, { queue: 'hv1', instanceId: 'a1b2c3' }, '2026-11-26T10:01:00.000Z'), 'recorded');
    assert.equal(state.queues.hv1?.[0]?.stoppedAt, '2026-11-26T10:01:00.000Z');
  });
});

describe('host state from the registry and the pollers', () => {
  const now = Date.parse('2026-11-26T10:10:00.000Z');
  const instance = (overrides: Partial<HostInstance> = {}): HostInstance => ({ ...announcement(), firstSeen: '2026-11-26T10:00:00.000Z', lastSeen: '2026-11-26T10:09:40.000Z', ...overrides });

  it('is online when its worker was heard from within the last minute', () => {
    const view = hostView('hv1', [instance()], [], now);
    assert.equal(view.state, 'online');
    assert.equal(view.lastSeen, '2026-11-26T10:09:40.000Z');
  });

  it('is offline since it was last heard from when nothing spoke for over a minute', () => {
    const view = hostView('hv1', [instance({ lastSeen: '2026-11-26T10:05:00.000Z' })], [{ identity: '4242@hv1', kind: 'activity', lastAccessTime: '2026-11-26T10:06:00.000Z' }], now);
    assert.equal(view.state, 'offline');
    assert.equal(view.offlineSince, '2026-11-26T10:06:00.000Z');
  });

  it('stays online while its idle worker last polled 80 s ago (a long poll renews about once a minute)', () => {
    const view = hostView('hv1', [instance({ lastSeen: '2026-11-26T10:07:00.000Z' })], [{ identity: '4242@hv1', kind: 'activity', lastAccessTime: '2026-11-26T10:08:40.000Z' }], now);
    assert.equal(view.state, 'online');
  });

  it('is offline at once when its only worker said it stopped, though Temporal still lists that poller', () => {
    const view = hostView('hv1', [instance({ stoppedAt: '2026-11-26T10:09:50.000Z', lastSeen: '2026-11-26T10:09:50.000Z' })], [{ identity: '4242@hv1', kind: 'activity', lastAccessTime: '2026-11-26T10:09:45.000Z' }], now);
    assert.equal(view.state, 'offline');
    assert.equal(view.offlineSince, '2026-11-26T10:09:50.000Z');
  });

  it('is online while another worker polls its queue after one stopped', () => {
    const view = hostView('hv1', [instance({ stoppedAt: '2026-11-26T10:09:50.000Z' })], [{ identity: '5151@hv1', kind: 'activity', lastAccessTime: '2026-11-26T10:09:55.000Z' }], now);
    assert.equal(view.state, 'online');
  });
});

describe('literal runsOn of a run', () => {
  const task = (id: string, runsOn?: string, childDag?: string): CompiledTask =>
    ({ id, action: 'noop', execution: { kind: 'activity', activity: 'noop' }, with: {}, nonRetryableErrors: [], defaultTimeoutMs: 1000, needs: [], trigger: 'all_success', retry: { maximumAttempts: 1, initialIntervalMs: 1, backoffCoefficient: 1 }, ...(runsOn ? { runsOn } : {}), ...(childDag ? { childDag } : {}) }) as CompiledTask;
  const dag = (tasks: CompiledTask[], children: Record<string, CompiledDag> = {}): CompiledDag =>
    ({ catalogId: 't/d', id: 'd', description: '', origin: { repo: 't', path: 'd.yaml', commit: 'c' }, params: {}, tasks, concurrency: 1, labels: {}, children }) as CompiledDag;

  it('lists literal queues of the DAG and of its sub-DAGs, not templated ones', () => {
    const child = dag([task('inner', 'hv3')]);
    const found = literalRunsOn(dag([task('a', 'hv1'), task('b', '${{ params.host }}'), task('c'), task('sub', undefined, 'child')], { child }));
    assert.deepEqual(found, [
      { taskId: 'a', queue: 'hv1' },
      { taskId: 'sub.inner', queue: 'hv3' },
    ]);
  });

  it('names the task, the host and the known hosts when it refuses, and quotes a name no worker could have', () => {
    assert.equal(new UnknownHostError('deploy', 'hv9', ['hv1', 'hv2', 'qubinode']).message, 'task deploy: runsOn hv9 names no known host (known: hv1, hv2, qubinode)');
    assert.match(new UnknownHostError('deploy', 'hv9\nqubinode: all good', ['hv1']).message, /runsOn "hv9\\nqubinode: all good" names/);
  });
});
