import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApiServer } from '../api/server';
import { getRunStatus } from '../client/runs';
import { PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { findTool } from '../config/tool-paths';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { analysisWorkflowId } from '../workflows/workflow-ids';
import type { DagRunStatus } from '../workflows/run-status';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf, until } from './support/waiting';

// One canary secret, random per run, lives in the worker's environment and is referenced by the DAG
// author as secret://env/…; it goes through every action (shell, http.check, ansible.playbook, kcli,
// a sub-DAG, a notification), every one of them failing with it in hand. Then it, and its base64 and
// URL-encoded forms, must appear nowhere a string leaves the worker: workflow histories (the run, its
// child, the failure analyses), task logs, CLI and API output, the AI knowledge index.

const CANARY = `cnry${randomBytes(16).toString('hex')}`;
const SECRET_ENV = 'QUBINODE_CANARY_SECRET';
const HOOK_ENV = 'QUBINODE_CANARY_HOOK';
const TOKEN = `canary-api-token-${randomBytes(8).toString('hex')}`;
const FORMS = [
  CANARY,
  Buffer.from(CANARY).toString('base64').slice(0, 40),
  Buffer.from(`x${CANARY}`).toString('base64').slice(4, 40),
  Buffer.from(`xy${CANARY}`).toString('base64').slice(4, 40),
  encodeURIComponent(`${CANARY} `),
];
const missingTools = ['ansible-playbook', 'kcli'].filter((tool) => findTool(tool) === undefined);

function assertClean(where: string, text: string): void {
  for (const form of FORMS) assert.ok(!text.includes(form), `the canary (${form === CANARY ? 'as is' : 'encoded'}) leaked into ${where}`);
}

function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

interface Received {
  url: string;
  body: string;
}

describe('one canary secret through every action', { skip: missingTools.length > 0 ? `${missingTools.join(', ')} not installed: run bash infra/setup.sh` : false }, () => {
  let engine: TestEngine;
  let api: FastifyInstance;
  let apiBase: string;
  let server: Server;
  let base: string;
  let scratch: string;
  let dataDir: string;
  const received: Received[] = [];

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-canary-'));
    dataDir = path.join(scratch, 'data');
    // http.check target and notification receiver in one: /echo answers with the authorization it got.
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push({ url: request.url ?? '', body });
        const token = String(request.headers.authorization ?? '');
        if (request.url === '/echo') response.writeHead(200, { 'content-type': 'application/json', 'x-echo': token }).end(JSON.stringify({ token }));
        else response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env[SECRET_ENV] = CANARY;
    // The author's notification URL carries the canary, as a chat webhook carries its token.
    process.env[HOOK_ENV] = `${base}/notify/${CANARY}`;
    writeFileSync(
      path.join(scratch, 'login.yml'),
      ['- name: Log in', '  hosts: local', '  gather_facts: false', '  tasks:', '    - name: Try the password', '      ansible.builtin.fail:', '        msg: "cannot log in with {{ password }}"', ''].join('\n'),
    );
    engine = await startTestEngine({ env: { QUBINODE_DATA_DIR: dataDir, QUBINODE_AI_ANALYSIS: 'rules' } });
    api = buildApiServer({ config: { ...engine.config, taskQueue: engine.taskQueue }, logger: createLogger('error', 'canary-api'), client: engine.client, registry: new ActionRegistry(), token: TOKEN });
    await api.listen({ host: '127.0.0.1', port: 0 });
    apiBase = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await api?.close();
    await engine?.close();
    server?.close();
    delete process.env[SECRET_ENV];
    delete process.env[HOOK_ENV];
    rmSync(scratch, { recursive: true, force: true });
  });

  it('never shows the canary in histories, logs, CLI or API output, notifications or the AI index', { timeout: 600_000 }, async () => {
    const secret = `secret://env/${SECRET_ENV}`;
    const child = `
id: canary-child
tasks:
  - id: leak
    uses: shell
    with:
      env: { VALUE: ${secret} }
      script: |
        printf '%s' "$VALUE" | base64
        echo "child failed with $VALUE" >&2
        exit 2
`;
    const dag = engine.compile(
      `
id: canary
notify:
  - type: webhook
    url: secret://env/${HOOK_ENV}
    on: [failure]
tasks:
  - id: prints
    uses: shell
    with:
      env: { VALUE: ${secret} }
      script: |
        echo "the secret is $VALUE"
        base64 <<< "$VALUE"
        echo "token=$VALUE" >> "$QUBINODE_OUTPUTS"
  - id: fails
    uses: shell
    with:
      env: { VALUE: ${secret} }
      script: |
        echo "cannot log in with $VALUE" >&2
        exit 4
  - id: http
    uses: http.check
    with:
      url: ${base}/echo
      headers: { authorization: ${secret} }
      expectJson: { token: something-else }
      # One attempt with the whole budget: the interval outlasts the deadline.
      interval: 8s
      timeout: 8s
  - id: ansible
    uses: ansible.playbook
    with:
      playbook: ${path.join(scratch, 'login.yml')}
      inventory: ${path.join(PROJECT_ROOT, 'test', 'fixtures', 'ansible', 'inventory.ini')}
      runner: ansible-playbook
      extraVars: { password: ${secret} }
  - id: kcli
    uses: kcli.vm.create
    with:
      name: canary-${randomBytes(3).toString('hex')}
      pool: ${secret}
      start: false
  - id: child
    uses: dag
    with: { dag: canary-child }
`,
      { 'canary-child': child },
    );
    const status = await engine.run(dag);
    assert.equal(status.state, 'failed');
    assert.equal(taskOf(status, 'prints').state, 'succeeded');
    for (const id of ['fails', 'http', 'ansible', 'kcli', 'child']) assert.equal(taskOf(status, id).state, 'failed', `${id} fails with the canary in hand`);
    // Each failure held the canary before redaction: its place shows "***".
    assert.match(String(taskOf(status, 'prints').outputs?.token), /^\*\*\*$/);
    assert.match(taskOf(status, 'fails').error?.message ?? '', /cannot log in with \*\*\*/);
    assert.match(taskOf(status, 'http').error?.message ?? '', /JSON token is "\*\*\*"/);
    assert.match(taskOf(status, 'ansible').error?.message ?? '', /cannot log in with \*\*\*/);
    const kcliError = taskOf(status, 'kcli').error;
    if (kcliError?.type === 'KcliInvalidSpec') assert.match(kcliError.message, /\*\*\*/);

    // The failure analyses (rules) of the run and of its child come after the run ends.
    const childId = taskOf(status, 'child').childRunId ?? '';
    const failedIn = (run: DagRunStatus): string[] => run.tasks.filter((task) => task.state === 'failed').map((task) => task.id);
    let childStatus: DagRunStatus | undefined;
    await until(
      async () => {
        const [parent, sub] = await Promise.all([getRunStatus(engine.client, status.runId), getRunStatus(engine.client, childId)]);
        childStatus = sub;
        return [parent, sub].every((run) => run.tasks.every((task) => task.state !== 'failed' || (task.analysis !== undefined && !task.analysisPending)));
      },
      120_000,
      'the failure analyses of the run and its child',
    );
    const workflowIds = [status.runId, childId, ...failedIn(status).map((id) => analysisWorkflowId(status.runId, id)), ...failedIn(childStatus as DagRunStatus).map((id) => analysisWorkflowId(childId, id))];
    for (const workflowId of workflowIds) {
      const history = JSON.stringify(await engine.client.workflow.getHandle(workflowId).fetchHistory());
      assertClean(`the history of ${workflowId}`, history);
    }
    // Whatever else ran on this test's task queue (visibility catches up in its own time).
    const listed = new Set<string>();
    await until(
      async () => {
        for await (const execution of engine.client.workflow.list({ query: `TaskQueue = "${engine.taskQueue}"` })) listed.add(execution.workflowId);
        return workflowIds.every((id) => listed.has(id));
      },
      30_000,
      'the run, its child and analyses to be listed',
    );
    for (const workflowId of listed) assertClean(`the history of ${workflowId}`, JSON.stringify(await engine.client.workflow.getHandle(workflowId).fetchHistory()));

    const logs = filesUnder(engine.logDir);
    assert.ok(logs.length >= 6, `task logs written: ${logs.join(', ')}`);
    for (const file of logs) assertClean(`task log ${file}`, readFileSync(file, 'utf8'));
    assert.match(readFileSync(String(taskOf(status, 'prints').logPath), 'utf8'), /the secret is \*\*\*/);

    const cliEnv = { QUBINODE_LOG_DIR: engine.logDir, QUBINODE_DATA_DIR: dataDir, QUBINODE_TASK_QUEUE: engine.taskQueue, QUBINODE_AI_ANALYSIS: 'rules' };
    for (const args of [['status', status.runId, '--json'], ['logs', status.runId], ['status', childId, '--json'], ['logs', childId]]) {
      const result = await qubinodeFromSource(args, cliEnv);
      assert.equal(result.code, 0, `qubinode ${args.join(' ')}: ${result.stderr}`);
      assertClean(`qubinode ${args.join(' ')}`, result.stdout + result.stderr);
    }

    for (const runId of [status.runId, childId]) {
      const response = await fetch(`${apiBase}/api/runs/${encodeURIComponent(runId)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(response.status, 200);
      assertClean(`GET /api/runs/${runId}`, await response.text());
    }

    const notifications = received.filter((entry) => entry.url.startsWith('/notify/'));
    assert.ok(notifications.length >= 1, 'the failure notification arrived');
    for (const entry of received) assertClean(`a request body received from the worker (${entry.url.split('/')[1] ?? ''})`, entry.body);

    const indexFiles = filesUnder(path.join(dataDir, 'ai'));
    for (const file of filesUnder(dataDir)) assertClean(`data file ${path.relative(dataDir, file)}`, readFileSync(file).toString('latin1'));
    assert.ok(indexFiles.length > 0, 'the failure analyses built the knowledge index under the data dir');
  });
});
