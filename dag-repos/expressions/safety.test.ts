import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// The module runs inside Temporal workflow code and evaluates text from DAG files, so its
// source must never run strings as code, import Node or packages, or read clocks/randomness.
const moduleFiles = readdirSync(__dirname)
  .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && name !== 'test-helpers.ts')
  .map((name) => ({ name, text: readFileSync(join(__dirname, name), 'utf8') }));

describe('module source safety', () => {
  it('has module files to check', () => {
    assert.ok(moduleFiles.length >= 8, `found ${moduleFiles.length} files`);
  });
  it('never calls eval or the Function constructor', () => {
    for (const { name, text } of moduleFiles) {
      assert.doesNotMatch(text, /\beval\s*\(/, name);
      assert.doesNotMatch(text, /\bFunction\s*\(/, name);
    }
  });
  it('imports only sibling files', () => {
    for (const { name, text } of moduleFiles) {
      for (const match of text.matchAll(/\bfrom\s+'([^']+)'|\brequire\s*\(|\bimport\s*\(/g)) {
        assert.ok(match[1]?.startsWith('./'), `${name} imports ${match[0]}`);
      }
    }
  });
  it('does not read the clock, randomness or the environment', () => {
    for (const { name, text } of moduleFiles) {
      assert.doesNotMatch(text, /\bDate\b|Math\.random|\bprocess\.|globalThis/, name);
    }
  });
});
