import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LABELLED_FAILURES } from '../test/fixtures/ai/failure-logs';
import { FailureAnalysis } from '../dag-repos/actions/failure-analysis';
import { analyseWithRules, categoryOf } from './rules-analyser';

describe('the rules analyser', () => {
  for (const { name, category, facts } of LABELLED_FAILURES) {
    it(`classifies ${name} as ${category}`, () => {
      assert.equal(categoryOf(facts), category);
    });
  }

  it('classifies the whole table correctly (at least 40 real-looking outputs from dnf, apt, kcli, libvirt, qemu, ansible, ssh, SELinux, DNS, disks and timeouts)', () => {
    assert.ok(LABELLED_FAILURES.length >= 40);
    const wrong = LABELLED_FAILURES.filter(({ facts, category }) => categoryOf(facts) !== category).map(({ name }) => name);
    assert.deepEqual(wrong, []);
  });

  it('writes a schema-valid analysis with concrete commands and the evidence line', () => {
    const failure = LABELLED_FAILURES.find(({ name }) => name === 'virsh-libvirt-down');
    assert.ok(failure);
    const analysis = analyseWithRules(failure.facts, [{ chunkId: 'docs/x.md:3', file: 'docs/x.md', line: 3 }], 'test');
    assert.ok(FailureAnalysis.safeParse(analysis).success);
    assert.equal(analysis.source, 'rules');
    assert.ok(analysis.fixes.some((fix) => fix.command?.includes('systemctl')));
    assert.match(analysis.likelyCause, /libvirt-sock/);
    assert.deepEqual(analysis.references, [{ chunkId: 'docs/x.md:3', file: 'docs/x.md', line: 3 }]);
  });

  it('restates an unknown failure and points at the task log instead of guessing', () => {
    const analysis = analyseWithRules({ runId: 'dag/a/1', dagId: 'a', taskId: 't', action: 'shell', errorType: 'CommandFailed', message: 'exit code 3: widget frobnication incomplete', exitCode: 3 });
    assert.equal(analysis.category, 'unknown');
    assert.ok(analysis.confidence <= 0.3);
    assert.equal(analysis.fixes[0]?.command, 'qubinode logs dag/a/1 t');
  });
});
