import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationBetween, formatMs, isWebUrl, meetsRole, stateClass, stateLabel, temporalRunUrl } from './format';

describe('how the page writes states, durations and links', () => {
  it('writes durations as the CLI does, up to hours', () => {
    assert.equal(formatMs(850), '850ms');
    assert.equal(formatMs(4200), '4.2s');
    assert.equal(formatMs(187_000), '3m07s');
    assert.equal(formatMs(7_500_000), '2h05m');
    assert.equal(durationBetween('2026-01-01T00:00:00Z', '2026-01-01T00:00:02.500Z'), '2.5s');
  });

  it('counts a running task up to now, and writes nothing before it started or for a date that is not one', () => {
    assert.equal(durationBetween('2026-01-01T00:00:00Z', undefined, Date.parse('2026-01-01T00:01:00Z')), '1m00s');
    assert.equal(durationBetween(undefined, undefined), '');
    assert.equal(durationBetween('yesterday', undefined), '');
  });

  it('tells a state by an icon and its word, and never builds a class from an unknown state', () => {
    assert.equal(stateLabel('failed'), '✖ failed');
    assert.equal(stateLabel('waiting'), '‖ waiting');
    assert.equal(stateClass('running'), 'state-running');
    assert.equal(stateClass('" onmouseover="x'), 'state-other');
    assert.equal(stateClass('__proto__'), 'state-other');
    assert.equal(stateLabel('terminated'), '? terminated');
  });

  it('decides roles as the API does: admin meets all, operator and approver are separate duties', () => {
    assert.equal(meetsRole(['admin'], 'approver'), true);
    assert.equal(meetsRole(['operator'], 'approver'), false);
    assert.equal(meetsRole(['approver'], 'operator'), false);
    assert.equal(meetsRole(['viewer'], 'viewer'), true);
    assert.equal(meetsRole([], 'viewer'), false);
  });

  it('links a run to the Temporal Web UI with the run id and namespace encoded', () => {
    assert.equal(
      temporalRunUrl({ uiUrl: 'http://127.0.0.1:8233/', namespace: 'default' }, 'dag/examples/hello/k1'),
      'http://127.0.0.1:8233/namespaces/default/workflows/dag%2Fexamples%2Fhello%2Fk1',
    );
    assert.equal(temporalRunUrl({ uiUrl: 'http://t', namespace: 'a/b?c' }, '../x#y'), 'http://t/namespaces/a%2Fb%3Fc/workflows/..%2Fx%23y');
  });

  it('renders only http(s) addresses as links', () => {
    assert.equal(isWebUrl('https://temporal.example'), true);
    assert.equal(isWebUrl('javascript:alert(1)'), false);
    assert.equal(isWebUrl(' data:text/html,x'), false);
  });
});
