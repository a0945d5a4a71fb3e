import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseWithRules } from '../ai/rules-analyser';
import { analysisText } from '../cli/output';
import { LABELLED_FAILURES } from './fixtures/ai/failure-logs';
import type { TaskStatus } from '../workflows/run-status';

const failure = LABELLED_FAILURES.find((entry) => entry.name === 'dnf-no-match');
assert.ok(failure);
const rules = analyseWithRules(failure.facts);
const task = { id: 'install', state: 'failed' } as TaskStatus;

describe('the AI analysis as `qubinode status` prints it', () => {
  it('prints the rules\' answer while the model still works, and says the model is at work', () => {
    const text = analysisText({ ...task, analysis: rules, analysisPending: true }) ?? '';
    assert.match(text, /the rules' answer below; the model is still writing/);
    assert.match(text, /install AI analysis \(rules, confidence/);
    assert.match(text, /dnf repolist/);
  });

  it('names the model of an enriched analysis and prints no pending line once it is final', () => {
    const text = analysisText({ ...task, analysis: { ...rules, source: 'rules+model', model: 'small.gguf' } }) ?? '';
    assert.match(text, /install AI analysis \(rules \+ model small\.gguf, confidence/);
    assert.doesNotMatch(text, /still writing/);
  });

  it('says why the model\'s text was not kept', () => {
    const text = analysisText({ ...task, analysis: { ...rules, fallbackReason: 'model text not kept (echo): model text copies the input' } }) ?? '';
    assert.match(text, /rules; model text not kept \(echo\)/);
  });
});
