import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/engine';

/**
 * A rollback undoes only what the run made: a task whose outputs say `created: false` found its resource
 * already there, and a forEach task is undone item by item. Each compensation leaves a marker file, so the
 * directory shows exactly which ones ran. (The same rule against the real libvirtd: test/kcli-compensation.test.ts.)
 */
function undoDag(dir: string): string {
  const undo = (name: string): string => `compensate: { uses: shell, with: { command: [touch, "${dir}/undo-${name}"] } }`;
  return `
id: undo-created
rollback: auto
tasks:
  - id: existing
    uses: shell
    with: { script: echo created=false >> "$QUBINODE_OUTPUTS" }
    ${undo('existing')}
  - id: fresh
    uses: shell
    with: { script: echo created=true >> "$QUBINODE_OUTPUTS" }
    ${undo('fresh')}
  - id: plain
    uses: shell
    with: { command: ["true"] }
    ${undo('plain')}
  - id: vms
    uses: shell
    needs: [existing, fresh, plain]
    forEach: [made-a, there-b, broken-c, made-d]
    with:
      command:
        - sh
        - -c
        - 'case "$1" in made-*) echo created=true >> "$QUBINODE_OUTPUTS";; there-*) echo created=false >> "$QUBINODE_OUTPUTS";; *) exit 3;; esac'
        - vm
        - \${{ item }}
    compensate: { uses: shell, with: { command: [touch, "${dir}/undo-vm-\${{ item }}-\${{ itemIndex }}"] } }
`;
}

describe('a rollback undoes only what the run created', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('skips tasks and forEach items that found their resource already there, and undoes each created item on its own', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-undo-created-'));
    const status = await engine.run(engine.compile(undoDag(dir)));
    assert.equal(status.state, 'failed');
    assert.deepEqual(readdirSync(dir).sort(), ['undo-fresh', 'undo-plain', 'undo-vm-made-a-0', 'undo-vm-made-d-3']);
    const rollback = status.rollback;
    assert.ok(rollback, 'the run recorded its rollback');
    assert.equal(rollback.state, 'succeeded', 'skipped steps are not failures');
    const byStep = new Map(rollback.compensations.map((entry) => [entry.itemIndex === undefined ? entry.taskId : `${entry.taskId}[${entry.itemIndex}]`, entry]));
    const keys = [...byStep.keys()];
    assert.deepEqual(keys.slice(0, 3), ['vms[3]', 'vms[1]', 'vms[0]'], 'the forEach task ended last: its items are undone first, last item first');
    assert.deepEqual(keys.slice(3).sort(), ['existing', 'fresh', 'plain']);
    assert.equal(byStep.get('existing')?.state, 'skipped');
    assert.match(byStep.get('existing')?.summary ?? '', /existing did not create it/);
    assert.equal(byStep.get('vms[1]')?.state, 'skipped');
    assert.match(byStep.get('vms[1]')?.summary ?? '', /vms\[1\] \(there-b\) did not create it/);
    assert.equal(byStep.get('vms[2]'), undefined, 'the failed item made nothing to undo');
    for (const key of ['fresh', 'plain', 'vms[0]', 'vms[3]']) assert.equal(byStep.get(key)?.state, 'succeeded', key);
    assert.ok(!existsSync(path.join(dir, 'undo-existing')));
  });
});
