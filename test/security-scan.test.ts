import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { scanDagText, scanRepositoryTree } from '../dag-repos/security/scanner';
import { blockingFindings } from '../dag-repos/schema/findings';

const dir = path.join(__dirname, 'fixtures', 'scan');

/** `rule:severity[:allowed]` for each finding, sorted, as the fixtures' `# expect-findings:` lines write them. */
function describeFindings(file: string): string[] {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const { spec } = checkDagFile({ repo: 'scan', path: file, commit: 'x', text }, { registry: new ActionRegistry() });
  assert.ok(spec, `${file} must be a valid DAG apart from its findings`);
  return scanDagText({ path: file, text }, spec)
    .map((finding) => `${finding.rule}:${finding.severity}${finding.allowedBecause ? ':allowed' : ''}`)
    .sort();
}

describe('security scanner', () => {
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml'))) {
    it(`finds exactly what ${file} declares`, () => {
      const line = /^# expect-findings: (.*)$/m.exec(readFileSync(path.join(dir, file), 'utf8'))?.[1] ?? '';
      const expected = line === 'none' ? [] : line.split(/\s+/).sort();
      assert.deepEqual(describeFindings(file), expected);
    });
  }

  it('gives each finding the line and column of the offending value', () => {
    const text = readFileSync(path.join(dir, 'rm-root.yaml'), 'utf8');
    const { spec } = checkDagFile({ repo: 'scan', path: 'rm-root.yaml', commit: 'x', text }, { registry: new ActionRegistry() });
    const [finding] = scanDagText({ path: 'rm-root.yaml', text }, spec);
    assert.equal(finding?.line, 6);
    assert.equal(finding?.column, 21);
  });

  it('blocks on high findings unless the task allows them with a reason', () => {
    const text = readFileSync(path.join(dir, 'allowed-with-reason.yaml'), 'utf8');
    const { spec } = checkDagFile({ repo: 'scan', path: 'a.yaml', commit: 'x', text }, { registry: new ActionRegistry() });
    assert.equal(blockingFindings(scanDagText({ path: 'a.yaml', text }, spec)).length, 0);
    const other = readFileSync(path.join(dir, 'mkfs-and-dd.yaml'), 'utf8');
    const parsed = checkDagFile({ repo: 'scan', path: 'b.yaml', commit: 'x', text: other }, { registry: new ActionRegistry() });
    assert.equal(blockingFindings(scanDagText({ path: 'b.yaml', text: other }, parsed.spec)).length, 2);
  });

  it('rejects an allow annotation without a reason', () => {
    const text = 'id: x\ntasks:\n  - id: a\n    uses: shell\n    securityAllow: [{ rule: dangerous-command, reason: "" }]\n    with: { command: [true] }\n';
    const result = checkDagFile({ repo: 'scan', path: 'x.yaml', commit: 'x', text }, { registry: new ActionRegistry() });
    assert.match(result.diagnostics.map((d) => d.message).join('\n'), /explain why/);
  });

  it('reports symlinks that leave the repository and accepts those that stay inside', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'qubinode-scan-'));
    try {
      mkdirSync(path.join(root, 'dags'));
      writeFileSync(path.join(root, 'dags', 'a.yaml'), 'id: a\n');
      symlinkSync('a.yaml', path.join(root, 'dags', 'inside.yaml'));
      symlinkSync('../../../etc/passwd', path.join(root, 'dags', 'outside'));
      symlinkSync('/etc', path.join(root, 'etc'));
      const findings = scanRepositoryTree(root).map((finding) => `${finding.rule} ${finding.file}`).sort();
      assert.deepEqual(findings, ['symlink-escape dags/outside', 'symlink-escape etc']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
