import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SearchAttributePair } from '@temporalio/common';
import { runStartOptions } from '../client/runs';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { compileDagFile } from '../dag-repos/compiler/compile';
import { runSearchAttributes, taskWorkflowSearchAttributes } from '../workflows/search-attributes';

/** The search attributes every DAG run starts with, built by one function for clients, sub-DAG runs and rollout steps. */

const shown = (pairs: SearchAttributePair[]): [string, unknown][] => pairs.map((pair) => [pair.key.name, pair.value]);
const dag = { catalogId: 'examples/hello', origin: { repo: 'examples', commit: '0123456789abcdef0123456789abcdef01234567' } };

const compiledHello = () => compileDagFile({ repo: 'examples', path: 'hello.yaml', commit: dag.origin.commit, text: 'id: hello\ntasks:\n  - id: wait\n    uses: sleep\n    with: { duration: 1s }\n' }, { registry: new ActionRegistry(), resolveDag: () => undefined });

describe('run search attributes', () => {
  it('names the DAG, repository, commit and running state, in that order', () => {
    assert.deepEqual(shown(runSearchAttributes(dag)), [
      ['QubinodeDag', 'examples/hello'],
      ['QubinodeRepo', 'examples'],
      ['QubinodeCommit', '0123456789abcdef0123456789abcdef01234567'],
      ['QubinodeStatus', 'running'],
    ]);
  });

  it('adds who started the run only when someone did, so runs without a starter keep their old commands', () => {
    assert.deepEqual(shown(runSearchAttributes(dag, 'alice')).at(-1), ['QubinodeStartedBy', 'alice']);
    assert.equal(runSearchAttributes(dag, '').length, 4);
    assert.equal(runSearchAttributes(dag, undefined).length, 4);
  });

  it('gives a rollout or action workflow its run DAG, running state and starter only', () => {
    assert.deepEqual(shown(taskWorkflowSearchAttributes('fleet/update', 'bob')), [
      ['QubinodeDag', 'fleet/update'],
      ['QubinodeStatus', 'running'],
      ['QubinodeStartedBy', 'bob'],
    ]);
    assert.deepEqual(shown(taskWorkflowSearchAttributes('fleet/update')), [
      ['QubinodeDag', 'fleet/update'],
      ['QubinodeStatus', 'running'],
    ]);
  });

  it('is what a client starts a run with', () => {
    const compiled = compiledHello();
    const options = runStartOptions({ dag: compiled, params: {}, taskQueue: 'q', runKey: 'KEY', startedBy: 'alice' });
    assert.deepEqual(shown(options.typedSearchAttributes), shown(runSearchAttributes(compiled, 'alice')));
    assert.equal(compiled.catalogId, 'examples/hello');
  });

  it('refuses a starter with a newline before it becomes a search attribute', () => {
    const compiled = compiledHello();
    assert.throws(() => runStartOptions({ dag: compiled, params: {}, taskQueue: 'q', runKey: 'KEY', startedBy: 'alice\nQubinodeStatus=succeeded' }));
  });
});
