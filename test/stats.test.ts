import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateRunStats, DagStats, percentile, runsToCategorise, type RunRecord } from '../client/run-stats';
import { BadStatsRequestError, checkedCatalogId, statsQuery, visibilityLiteral, windowStart } from '../client/stats-request';

const NOW = new Date('2026-11-27T12:00:00.000Z');

function run(dagId: string, state: RunRecord['state'], seconds?: number, extra: Partial<RunRecord> = {}): RunRecord {
  const startedAt = '2026-11-27T10:00:00.000Z';
  return {
    runId: `dag/${dagId}/${Math.random().toString(36).slice(2, 8)}`,
    dagId,
    state,
    startedAt,
    ...(seconds !== undefined ? { endedAt: new Date(Date.parse(startedAt) + seconds * 1000).toISOString() } : {}),
    ...extra,
  };
}

describe('run statistics (pure aggregation)', () => {
  it('counts each state per DAG and rates success over the runs that succeeded or failed', () => {
    const stats = aggregateRunStats([
      run('lab/b', 'succeeded', 10),
      run('lab/a', 'succeeded', 10),
      run('lab/a', 'succeeded', 20),
      run('lab/a', 'succeeded', 30),
      run('lab/a', 'failed', 40, { errorType: 'CommandFailed', failedTask: 'x', category: 'disk-full' }),
      run('lab/a', 'cancelled', 5),
      run('lab/a', 'running'),
    ]);
    assert.deepEqual(
      stats.map((entry) => entry.dag),
      ['lab/a', 'lab/b'],
    );
    const a = stats[0] as DagStats;
    assert.deepEqual({ runs: a.runs, succeeded: a.succeeded, failed: a.failed, cancelled: a.cancelled, running: a.running }, { runs: 6, succeeded: 3, failed: 1, cancelled: 1, running: 1 });
    assert.equal(a.successRate, 0.75);
    assert.ok(DagStats.safeParse(a).success, 'the figures satisfy their own schema');
  });

  it('takes p50 and p95 by nearest rank over the durations of runs that succeeded or failed, leaving out cancelled and running ones', () => {
    const records = [...Array.from({ length: 20 }, (_, index) => run('lab/a', index % 2 ? 'failed' : 'succeeded', index + 1)), run('lab/a', 'cancelled', 5000), run('lab/a', 'running')];
    const [a] = aggregateRunStats(records);
    assert.deepEqual(a?.durationMs, { p50: 10_000, p95: 19_000, count: 20 });
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([7], 95), 7);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
  });

  it('has no success rate or durations for a DAG whose runs are all still running', () => {
    const [a] = aggregateRunStats([run('lab/a', 'running'), run('lab/a', 'running')]);
    assert.equal(a?.successRate, null);
    assert.deepEqual(a?.durationMs, { p50: null, p95: null, count: 0 });
  });

  it('counts failed runs by error type, `none` when no task error was recorded, and by category only where the analysis was read', () => {
    const [a] = aggregateRunStats([
      run('lab/a', 'failed', 1, { errorType: 'CommandFailed', failedTask: 't', category: 'permission-denied' }),
      run('lab/a', 'failed', 1, { errorType: 'CommandFailed', failedTask: 't', category: 'permission-denied' }),
      run('lab/a', 'failed', 1, { errorType: 'HealthCheckFailed', failedTask: 'h' }),
      run('lab/a', 'failed', 1),
      run('lab/a', 'succeeded', 1, { errorType: 'ignored', category: 'ignored' }),
    ]);
    assert.deepEqual(a?.errorTypes, { CommandFailed: 2, HealthCheckFailed: 1, none: 1 });
    assert.deepEqual(a?.categories, { 'permission-denied': 2 });
    assert.equal(a?.categorised, 2);
  });

  it('reads the analyses of at most the limit of failed runs, latest ended first, and only of runs with a failed task', () => {
    const records = [run('lab/a', 'failed', 1, { failedTask: 't' }), run('lab/a', 'failed', 3, { failedTask: 't' }), run('lab/a', 'failed', 9), run('lab/a', 'failed', 2, { failedTask: 't' }), run('lab/a', 'succeeded', 8)];
    const chosen = runsToCategorise(records, 2);
    assert.deepEqual(
      chosen.map((record) => record.endedAt),
      ['2026-11-27T10:00:03.000Z', '2026-11-27T10:00:02.000Z'],
    );
    assert.deepEqual(runsToCategorise(records, 0), []);
  });
});

describe('stats requests', () => {
  it('reads a window as minutes, hours, days or weeks before now, or as an ISO date or date-time with an offset', () => {
    assert.equal(windowStart('90m', NOW).toISOString(), '2026-11-27T10:30:00.000Z');
    assert.equal(windowStart('24h', NOW).toISOString(), '2026-11-26T12:00:00.000Z');
    assert.equal(windowStart('7d', NOW).toISOString(), '2026-11-20T12:00:00.000Z');
    assert.equal(windowStart('2w', NOW).toISOString(), '2026-11-13T12:00:00.000Z');
    assert.equal(windowStart('2026-11-01', NOW).toISOString(), '2026-11-01T00:00:00.000Z');
    assert.equal(windowStart('2026-11-01T08:00:00+02:00', NOW).toISOString(), '2026-11-01T06:00:00.000Z');
  });

  it('refuses a window that is empty, malformed, without an offset, not a real date, in the future or oversized, naming the forms it accepts', () => {
    for (const bad of ['', '0d', '7', 'd7', '7 d', '-7d', '7y', '1e3h', '2026-11-01T08:00:00', '2026-02-30', '2026-13-01', '2027-01-01', `${'9'.repeat(100_000)}d`, "7d' OR '1'='1"]) {
      assert.throws(() => windowStart(bad, NOW), BadStatsRequestError, `accepted ${JSON.stringify(bad.slice(0, 40))}`);
    }
    assert.throws(() => windowStart('yesterday', NOW), /expected a duration such as 90m, 24h, 7d or 2w, or an ISO date/);
    assert.throws(() => windowStart('x'.repeat(5000), NOW), (error: Error) => error.message.length < 400);
  });

  it('accepts catalog ids by the grammars of repository names and DAG ids', () => {
    assert.equal(checkedCatalogId('examples/hello'), 'examples/hello');
    assert.equal(checkedCatalogId('my.repo/vm-provision_2'), 'my.repo/vm-provision_2');
  });

  it('refuses hostile or malformed DAG ids before any query is built', () => {
    const hostile = [
      "examples/hello' OR WorkflowType = 'dagRun",
      'examples/hello AND QubinodeDag != ""',
      "examples/x'",
      'examples/hello\\',
      'hello',
      '/hello',
      'examples/',
      '../etc/passwd',
      'examples/hello/extra',
      'examples/-hello',
      'examples/hello\nAND 1=1',
      'examples/héllo',
      `examples/${'a'.repeat(101)}`,
      `${'r'.repeat(64)}/hello`,
    ];
    for (const dag of hostile) assert.throws(() => statsQuery(NOW, dag), BadStatsRequestError, `accepted ${JSON.stringify(dag)}`);
    assert.throws(() => checkedCatalogId('hello'), /expected a catalog id <repo>\/<dag id>/);
  });

  it('builds the query from quoted literals only', () => {
    assert.equal(statsQuery(new Date('2026-11-20T12:00:00.000Z'), 'examples/hello'), "WorkflowType = 'dagRun' AND StartTime >= '2026-11-20T12:00:00.000Z' AND QubinodeDag = 'examples/hello'");
    assert.equal(statsQuery(new Date('2026-11-20T12:00:00.000Z')), "WorkflowType = 'dagRun' AND StartTime >= '2026-11-20T12:00:00.000Z'");
    // Should a value ever reach the literal unchecked, it still cannot close the string.
    assert.equal(visibilityLiteral("a' OR 'b"), "'a'' OR ''b'");
    assert.equal(visibilityLiteral("a\\' OR 1"), "'a\\\\'' OR 1'");
  });
});
