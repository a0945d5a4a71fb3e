import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config/config';

describe('QUBINODE_HOST_LABELS: the labels a worker reports for its host', () => {
  it('reads key=value pairs separated by commas, spaces around them ignored', () => {
    assert.deepEqual(loadConfig({ QUBINODE_HOST_LABELS: 'env=production, rack=r12 ,os=debian-12' }).hostLabels, { env: 'production', rack: 'r12', os: 'debian-12' });
    assert.deepEqual(loadConfig({}).hostLabels, {});
  });

  it('refuses at start-up what is not a plain label, naming the entry', () => {
    const hostile = [
      ['env=prod;id', /label 1 must be key=value/],
      ['env=$(id)', /label 1 must be key=value/],
      ['ok=1,../etc=x', /label 2 must be key=value/],
      ['env=a=b', /label 1 must be key=value/],
      ['Env=Prod', /label 1 must be key=value/],
      ['env', /label 1 must be key=value/],
      ['env=prod,env=dev', /label env is given twice/],
      [`k=${'v'.repeat(64)}`, /label 1 must be key=value/],
      ['a=b,'.repeat(600), /QUBINODE_HOST_LABELS/],
    ] as const;
    for (const [value, message] of hostile) {
      assert.throws(() => loadConfig({ QUBINODE_HOST_LABELS: value }), (error: unknown) => error instanceof ConfigError && message.test(error.message), value.slice(0, 40));
    }
  });
});
