import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { actionRegistryWith, loadConfiguredPlugins, pluginActivities } from '../plugins/plugin-actions';
import { PluginLoadError } from '../plugins/loader';
// A TypeScript plugin loads where TypeScript runs: the CLI from source (compiled installs take plugin.js).
import { qubinodeFromSource as qubinode } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';

const pluginDir = path.join(PROJECT_ROOT, 'test', 'fixtures', 'plugins');

describe('actions from plugins', () => {
  let engine: TestEngine;
  before(async () => {
    process.env.QUBINODE_PLUGIN_DIRS = pluginDir;
    engine = await startTestEngine();
  });
  after(async () => {
    delete process.env.QUBINODE_PLUGIN_DIRS;
    await engine.close();
  });

  it('adds a plugin action to the registry next to the built-in ones', () => {
    const registry = actionRegistryWith(loadConfiguredPlugins({ pluginDirs: [pluginDir] }));
    assert.ok(registry.names().includes('greet.say'));
    assert.ok(registry.names().includes('shell'));
  });

  it('runs a DAG that uses the plugin action on a worker that loaded the plugin', async () => {
    const template = readFileSync(path.join(pluginDir, 'greeter', 'templates', 'greeting.yaml'), 'utf8');
    const status = await engine.run(engine.compile(template));
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks[0]?.error));
    assert.deepEqual(status.tasks[0]?.outputs?.items, [{ text: 'HELLO, ADA' }, { text: 'HELLO, LINUS' }]);
  });

  it('checks plugin action inputs at compile time with the plugin schema', () => {
    assert.throws(() => engine.compile('id: bad\ntasks:\n  - id: g\n    uses: greet.say\n    with: { nmae: x }\n'), /unknown field "nmae" \(action "greet.say"\)/);
  });

  const rolloutWithCheck = (check: string): string => `
id: roll-plugin-check
tasks:
  - id: roll
    uses: rollout
    with:
      dag: step
      targets: [{ name: ada, queue: ${engine.taskQueue} }]
      analysis:
        checks:
${check}
`;
  const step = { step: 'id: step\ntasks:\n  - { id: change, uses: noop }\n' };

  it('runs a plugin action as a rollout check, pinned with the plan when it is compiled', async () => {
    const check = (expected: string): string => `          - uses: greet.say\n            with: { name: "{target}", shout: true }\n            thresholds: { text: { equals: "${expected}" } }`;
    const dag = engine.compile(rolloutWithCheck(check('HELLO, ADA')), step);
    const pinned = dag.tasks[0]?.rolloutActions;
    assert.deepEqual(Object.keys(pinned ?? {}), ['greet.say'], 'the check action travels with the plan');
    assert.deepEqual(pinned?.['greet.say']?.execution, { kind: 'activity', activity: 'greetSay' });
    const passed = await engine.run(dag);
    assert.equal(passed.state, 'succeeded', JSON.stringify(passed.tasks[0]?.error));
    // The same check with a threshold its output misses: the rollout halts, so the check really ran.
    const halted = await engine.run(engine.compile(rolloutWithCheck(check('HELLO, LINUS')), step));
    assert.equal(halted.state, 'failed');
    assert.match(halted.tasks[0]?.error?.message ?? '', /rollout halted/);
  });

  it('refuses at compile a rollout check or hook that is unknown or is not a single activity, naming where it is', () => {
    assert.throws(() => engine.compile(rolloutWithCheck('          - { uses: greet.shout }'), step), /dag.yaml:11:21 tasks.roll.with.analysis.checks\[0\].uses: unknown action "greet\.shout"/s);
    assert.throws(() => engine.compile(rolloutWithCheck('          - { uses: approval }'), step), /"approval" cannot be a rollout check or hook/);
  });

  it('refuses a plugin whose action names an activity it does not provide', () => {
    const plugins = loadConfiguredPlugins({ pluginDirs: [pluginDir] }).map((plugin) => (plugin.name === 'greeter' ? { ...plugin, activities: {} } : plugin));
    assert.throws(() => pluginActivities(plugins), PluginLoadError);
  });

  it('lists plugin DAG templates and prints one', async () => {
    const env = { QUBINODE_PLUGIN_DIRS: pluginDir };
    const list = await qubinode(['dag', 'templates'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /greeting\s+greeter\s+Greets a list of names/);
    const shown = await qubinode(['dag', 'templates', 'greeting'], env);
    assert.match(shown.stdout, /uses: greet\.say/);
    const validated = await qubinode(['dag', 'validate', path.join(pluginDir, 'greeter', 'templates', 'greeting.yaml')], env);
    assert.equal(validated.code, 0, validated.stdout);
  });
});
