import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config/config';

describe('webhook load settings', () => {
  it('defaults to 1000 requests per second per source, 5000 in all, and a 2 s wait for Temporal', () => {
    const config = loadConfig({});
    assert.deepEqual(config.api.hooksRate, { perSource: 1000, global: 5000 });
    assert.equal(config.api.hooksTemporalTimeoutMs, 2000);
  });

  it('takes values within range', () => {
    const config = loadConfig({ QUBINODE_HOOKS_RATE_PER_SOURCE: '20', QUBINODE_HOOKS_RATE_GLOBAL: '100', QUBINODE_HOOKS_TEMPORAL_TIMEOUT_MS: '500' });
    assert.deepEqual(config.api.hooksRate, { perSource: 20, global: 100 });
    assert.equal(config.api.hooksTemporalTimeoutMs, 500);
  });

  it('refuses to start with a zero, negative, fractional, huge or injected value', () => {
    const bad: Record<string, string[]> = {
      QUBINODE_HOOKS_RATE_PER_SOURCE: ['0', '-5', '1.5', '100001', '10; rm -rf /', 'ten'],
      QUBINODE_HOOKS_RATE_GLOBAL: ['0', '1000001', '1e9', '50\nQUBINODE_API_TOKEN=stolen'],
      QUBINODE_HOOKS_TEMPORAL_TIMEOUT_MS: ['99', '30001', '-1', 'Infinity'],
    };
    for (const [key, values] of Object.entries(bad)) {
      for (const value of values) assert.throws(() => loadConfig({ [key]: value }), (error: unknown) => error instanceof ConfigError && error.message.includes(key), `${key}=${JSON.stringify(value)}`);
    }
  });
});
