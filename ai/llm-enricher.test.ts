import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LABELLED_FAILURES } from '../test/fixtures/ai/failure-logs';
import { createAiActivities } from '../activities/platform/ai';
import { FailureAnalysis, type FailureFacts } from '../dag-repos/actions/failure-analysis';
import { buildEnrichPrompt, checkSentence, isRepetitive, mergeEnrichment, ModelTextRejectedError, type EnrichRejection } from './llm-enricher';
import { analyseWithRules } from './rules-analyser';

const dnf = LABELLED_FAILURES.find((entry) => entry.name === 'dnf-no-match');
assert.ok(dnf);
const facts: FailureFacts = dnf.facts;
const rules = analyseWithRules(facts, [{ chunkId: 'docs/x.md:3', file: 'docs/x.md', line: 3 }]);
const prompt = buildEnrichPrompt(facts, rules);
const CAUSE = 'The most likely cause is that';

function refusal(text: string): EnrichRejection | undefined {
  try {
    checkSentence(text, CAUSE, facts, rules, prompt);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof ModelTextRejectedError, String(error));
    return error.reason;
  }
}

describe('enriching the rules\' answer with the model\'s words', () => {
  it('keeps the rules\' category, fixes, references and confidence, takes only the sentences, and says rules+model', () => {
    const merged = mergeEnrichment({ ...rules, fallbackReason: 'earlier' }, { summary: 'This task failed because the package name is misspelt.', likelyCause: `${CAUSE} the package is not in the enabled repositories.` }, 'small.gguf', 1200);
    assert.ok(FailureAnalysis.safeParse(merged).success);
    assert.equal(merged.source, 'rules+model');
    assert.equal(merged.category, rules.category);
    assert.deepEqual(merged.fixes, rules.fixes);
    assert.deepEqual(merged.references, rules.references);
    assert.equal(merged.confidence, rules.confidence);
    assert.equal(merged.fallbackReason, undefined);
    assert.equal(merged.summary, 'This task failed because the package name is misspelt.');
    assert.match(merged.likelyCause, /^The most likely cause is that the package is not in the enabled repositories\. Evidence: "No match for argument: libvirt-dameon"$/);
  });

  it('keeps the rules\' text for a field whose sentence was refused', () => {
    const merged = mergeEnrichment(rules, { likelyCause: `${CAUSE} the package is not in the enabled repositories.` }, 'small.gguf', 10);
    assert.equal(merged.summary, rules.summary);
  });

  it('accepts a plain sentence about what the rules found', () => {
    assert.equal(refusal(`${CAUSE} the package was not found in the enabled repositories.`), undefined);
  });

  it('refuses thin, non-sentence, copied, looping, off-topic and invented text, each with its typed reason', () => {
    assert.equal(refusal(`${CAUSE} it broke.`), 'too-thin');
    assert.equal(refusal(`${CAUSE} the following:`), 'not-prose');
    assert.equal(refusal(`${CAUSE} 1234567890123456789012345`), 'not-prose');
    assert.equal(refusal(`${CAUSE} no match for argument: libvirt-dameon error: unable to find a match: libvirt-dameon.`), 'echo');
    assert.equal(refusal('dnf-no-match failed in the shell action of the deploy.'), 'echo');
    assert.equal(refusal(`${CAUSE} the package was not found and the package was not found and the package was not found and the package was not found.`), 'repetitive');
    assert.equal(refusal(`${CAUSE} the user has a problem with the task today.`), 'off-topic');
    assert.equal(refusal(`${CAUSE} the package is missing from mirror.evil.example/repo on 10.9.8.7.`), 'invented');
  });

  it('sees a loop as one phrase making up most of the text, not as a repeated common word', () => {
    assert.equal(isRepetitive('the disk is full the disk is full the disk is full the disk is full'), true);
    assert.equal(isRepetitive('the package is not in the enabled repositories of the host, so the install stopped'), false);
  });

  it('strips terminal escapes and control characters from the model\'s text before it is shown', () => {
    const kept = checkSentence(`${CAUSE} the package\u001b[31m was not found\u0007 in the enabled repositories.`, CAUSE, facts, rules, prompt);
    assert.doesNotMatch(kept, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    assert.match(kept, /the package was not found in the enabled repositories\.$/);
  });

  it('keeps the prompt small whatever the size of the failure output, and leaves out the task name', () => {
    const huge = { ...facts, taskId: 'secret-task-name-canary', message: 'x'.repeat(200_000), stderrTail: `${'line\n'.repeat(100_000)}No match for argument: pkg`, failedTasks: Array.from({ length: 1000 }, () => 'y'.repeat(10_000)) };
    const text = buildEnrichPrompt(huge, analyseWithRules(huge));
    assert.ok(text.length < 3000, `prompt of ${text.length} characters`);
    assert.doesNotMatch(text, /secret-task-name-canary/);
  });
});

describe('the ai.enrich activity', () => {
  it('refuses a rules analysis that does not fit the schema', async () => {
    const activities = createAiActivities();
    await assert.rejects(activities['ai.enrich']({ facts, rules: { ...rules, source: 'oracle' } as unknown as FailureAnalysis }), /source/);
    await assert.rejects(activities['ai.enrich']({ facts: { ...facts, runId: 7 } as unknown as FailureFacts, rules }), /runId/);
  });

  it('answers with the rules\' analysis and a plain reason on a worker without an AI service', async () => {
    const answer = await createAiActivities()['ai.enrich']({ facts, rules });
    assert.equal(answer.source, 'rules');
    assert.equal(answer.category, 'package-not-found');
    assert.match(answer.fallbackReason ?? '', /model not asked/);
  });
});
