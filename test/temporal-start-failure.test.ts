import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { startFailureExcerpt } from '../infra/temporal-dev-server';

// The fixture is the real log of `temporal server start-dev` (CLI 1.9.1) that lost its own frontend port to
// one of the ports it picks for itself while starting: one error line, then a Go panic of about a hundred lines.
const panicLog = readFileSync(path.join(__dirname, 'fixtures', 'temporal', 'dev-server-port-panic.log'), 'utf8');

describe('the log excerpt of a dev server that failed to start', () => {
  it('puts the lines that name the cause above a Go stack that fills the last lines', () => {
    const excerpt = startFailureExcerpt(panicLog, '/data/temporal/server.log');
    const [head, tail] = excerpt.split('--- /data/temporal/server.log (last lines) ---');
    assert.match(head ?? '', /^--- \/data\/temporal\/server\.log \(first errors\) ---\n/);
    assert.match(head ?? '', /Failed to start gRPC listener.*address already in use/);
    assert.match(head ?? '', /^panic: runtime error: invalid memory address or nil pointer dereference$/m);
    assert.match(tail ?? '', /main\.main\(\)/, 'the last lines still follow');
    assert.doesNotMatch(tail ?? '', /^panic:/m, 'the panic line is far above the tail in this log');
  });

  it('shows only the last lines when the cause is among them', () => {
    const log = 'Error: can\'t set frontend port 7233: listen tcp 127.0.0.1:7233: bind: address already in use\n';
    assert.equal(startFailureExcerpt(log, 'server.log'), `--- server.log (last lines) ---\n${log}`);
  });

  it('caps each cause line and shows at most three', () => {
    const log = [...Array.from({ length: 5 }, (_, index) => `Error: ${index} ${'x'.repeat(2000)}`), ...Array.from({ length: 20 }, (_, index) => `line ${index}`)].join('\n');
    const head = startFailureExcerpt(log, 'server.log').split('--- server.log (last lines) ---')[0] ?? '';
    const causes = head.split('\n').filter((line) => line.startsWith('Error:'));
    assert.deepEqual(causes.map((line) => line.slice(0, 8)), ['Error: 0', 'Error: 1', 'Error: 2']);
    assert.ok(causes.every((line) => line.length === 500));
  });
});
