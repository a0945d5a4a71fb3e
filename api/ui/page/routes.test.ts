import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dagPath, query, runPath } from './api';
import { dagHref, routeOf, runHref } from './routes';

describe('the page paths and the API paths it calls', () => {
  it('names each page by its path under /ui', () => {
    assert.deepEqual(routeOf('/ui'), { page: 'runs' });
    assert.deepEqual(routeOf('/ui/'), { page: 'runs' });
    assert.deepEqual(routeOf('/ui/sign-in'), { page: 'sign-in' });
    assert.deepEqual(routeOf('/ui/dags'), { page: 'dags' });
    assert.deepEqual(routeOf('/ui/repos'), { page: 'repos' });
    assert.deepEqual(routeOf('/ui/audit'), { page: 'audit' });
    assert.deepEqual(routeOf('/ui/stats'), { page: 'stats' });
    assert.deepEqual(routeOf('/ui/nothing'), { page: 'not-found' });
    assert.deepEqual(routeOf('/uix'), { page: 'not-found' });
  });

  it('carries run and DAG ids holding slashes and reserved characters in one encoded segment, and back', () => {
    for (const runId of ['dag/examples/hello/20261127-1', 'dag/x/a%2Fb', 'dag/x/?q=1#frag', 'dag/x/../../api']) {
      assert.equal(runHref(runId).split('/').length, 4, runHref(runId));
      assert.deepEqual(routeOf(runHref(runId)), { page: 'run', runId });
    }
    assert.deepEqual(routeOf(dagHref('examples/hello')), { page: 'dag', dagId: 'examples/hello' });
    assert.equal(dagHref('examples/hello'), '/ui/dags/examples%2Fhello');
  });

  it('shows no page for a malformed encoding, an empty or dot id, or extra path segments', () => {
    assert.deepEqual(routeOf('/ui/runs/%E0%A4%A'), { page: 'not-found' });
    assert.deepEqual(routeOf('/ui/runs/'), { page: 'not-found' });
    assert.deepEqual(routeOf('/ui/runs/..'), { page: 'not-found' });
    assert.deepEqual(routeOf('/ui/dags/%2E%2E'), { page: 'not-found' });
    assert.deepEqual(routeOf('/ui/runs/dag/examples/hello'), { page: 'not-found' });
  });

  it('keeps an injected value inside its own API path segment or query value', () => {
    assert.equal(runPath('dag/x/k?status=failed#a'), '/api/runs/dag%2Fx%2Fk%3Fstatus%3Dfailed%23a');
    assert.equal(dagPath('repo/dag?x=1'), '/api/dags/repo%2Fdag%3Fx%3D1');
    // Resolved as a browser does: the id stays one segment under /api/dags/.
    assert.equal(new URL(dagPath('../../api/users'), 'http://h').pathname, '/api/dags/..%2F..%2Fapi%2Fusers');
    assert.equal(new URL(`${runPath('../x')}/logs`, 'http://h').pathname, '/api/runs/..%2Fx/logs');
    assert.equal(query({ dag: 'a&status=failed', startedBy: 'x y', status: '', limit: 5, from: undefined }), '?dag=a%26status%3Dfailed&startedBy=x+y&limit=5');
    assert.equal(query({ dag: '' }), '');
  });
});
