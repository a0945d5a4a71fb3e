import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildApiServer } from '../api/server';
import { createLogger } from '../config/logger';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { hmacSignature } from '../dag-repos/git/webhook-verify';
import { startTestEngine } from '../test/support/engine';
import { dagYaml, GitFixture } from '../test/support/git-fixture';

/**
 * Push-to-live latency: a repository of 100 DAG files, 20 pushes, each followed by a signed GitHub
 * webhook to the running receiver; time from the request to the catalog serving the new commit.
 */

const DAG_FILES = Number(process.env.BENCH_DAG_FILES ?? 100);
const PUSHES = Number(process.env.BENCH_PUSHES ?? 20);
const SECRET = 'bench-webhook-secret-0123456789';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function main(): Promise<void> {
  process.env.QUBINODE_BENCH_HOOK_SECRET = SECRET;
  const engine = await startTestEngine();
  const git = new GitFixture();
  const repo = `bench${randomUUID().slice(0, 6)}`;
  for (let index = 0; index < DAG_FILES; index += 1) git.write(`dags/dag-${index}.yaml`, dagYaml(`dag-${index}`));
  git.commitAndPush('initial');
  await addRepo(engine.client, { name: repo, url: git.bare, webhookSecretEnv: 'QUBINODE_BENCH_HOOK_SECRET' }, engine.taskQueue);
  while ((await getRepo(engine.client, repo)).active === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  const app = buildApiServer({ config: { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [] }, logger: createLogger('error', 'bench'), client: engine.client, registry: new ActionRegistry(), token: 'bench-token-unused-000' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hooks/github/${repo}`;

  const toLive: number[] = [];
  const toAnswer: number[] = [];
  for (let push = 0; push < PUSHES; push += 1) {
    git.write(`dags/dag-${push % DAG_FILES}.yaml`, dagYaml(`dag-${push % DAG_FILES}`, `labels: { push: "${push}" }\n`));
    const commit = git.commitAndPush(`push ${push}`);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: commit });
    const began = performance.now();
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmacSignature(SECRET, body) }, body });
    toAnswer.push(performance.now() - began);
    if (response.status !== 202) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
    while ((await getRepo(engine.client, repo)).active?.commit !== commit) await new Promise((resolve) => setTimeout(resolve, 10));
    toLive.push(performance.now() - began);
  }
  await app.close();
  await removeRepo(engine.client, repo);
  await engine.close();
  git.cleanup();
  console.log(`\npush-to-live, ${DAG_FILES} DAG files, ${PUSHES} pushes each followed by a signed GitHub webhook (aim: p95 under 1 s)`);
  console.log(`  webhook answered (202)    p50 ${percentile(toAnswer, 50).toFixed(0)} ms   p95 ${percentile(toAnswer, 95).toFixed(0)} ms`);
  console.log(`  catalog serves new commit p50 ${percentile(toLive, 50).toFixed(0)} ms   p95 ${percentile(toLive, 95).toFixed(0)} ms   max ${Math.max(...toLive).toFixed(0)} ms`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
