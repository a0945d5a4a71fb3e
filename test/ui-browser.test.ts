// test-tier: full
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { buildApiServer } from '../api/server';
import { PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { apiRequest } from './support/api-request';
import { attributeOf, countOf, findChromium, launchBrowser, openWatchedPage, textOf, untilSeen, type PageRecord } from './support/browser';
import { startTestEngine, type TestEngine } from './support/engine';

// The web page at /ui in a real browser: Debian's chromium driven by puppeteer-core, against a real API
// server and a real worker on the Temporal dev server. Only the DOM hooks of the page's contract are used
// (data-form, data-user, data-graph, data-task-id, data-state, data-run-state, data-panel, data-log,
// data-error, data-analysis, data-action, data-list, data-run-id). The screenshots in docs/images are
// written by this file.

const TOKEN = 'ui-browser-token-0123456789abcdef';
const USER = 'bootstrap-admin';
const SCREENSHOTS = path.join(PROJECT_ROOT, 'docs', 'images');
/** Generous: a 2-core machine running other tests answers slowly, and nothing here measures time. */
const WAIT_MS = 45_000;
/** A param value that would run script if the page ever wrote text as HTML. */
const HOSTILE_VERSION = '2.5 <img src=x onerror="document.title=\'owned\'">';

const chromium = findChromium();
const skip = 'skip' in chromium ? chromium.skip : false;

describe('the web page in a real browser', { skip }, () => {
  let engine: TestEngine;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  let browser: Browser;
  let page: Page;
  let record: PageRecord;
  let stranger: Server;
  let strangerBase: string;
  let work: string;
  const started: string[] = [];
  let releaseRun = '';
  let brokenRun = '';

  const api = (method: string, url: string, body?: unknown): Promise<Response> => apiRequest(base, method, url, TOKEN, body);
  const taskState = (taskId: string): Promise<string | undefined> => attributeOf(page, `svg[data-graph] g[data-task-id="${taskId}"]`, 'data-state');
  const untilTask = (taskId: string, state: string): Promise<string | undefined> =>
    untilSeen(() => taskState(taskId), (seen) => seen === state, WAIT_MS, `g[data-task-id="${taskId}"] to have data-state="${state}" on ${page.url()}`);
  const untilRun = (state: string): Promise<string | undefined> =>
    untilSeen(() => attributeOf(page, '[data-run-state]', 'data-run-state'), (seen) => seen === state, WAIT_MS, `[data-run-state] to be "${state}" on ${page.url()}`);
  const untilText = (selector: string, wanted: string): Promise<string | undefined> =>
    untilSeen(() => textOf(page, selector), (seen) => seen?.includes(wanted) === true, WAIT_MS, `${selector} to contain ${JSON.stringify(wanted)} on ${page.url()}`);
  /** Run ids are the last path segment of /ui/runs/<encoded id>. */
  const runIdOf = (url: string): string => decodeURIComponent(new URL(url).pathname.slice('/ui/runs/'.length));

  /** Fills the DAG page's params form (through the keyboard, as a person would) and starts the run. */
  const startFromDagPage = async (dagId: string, text: Record<string, string>, ticks: string[] = []): Promise<string> => {
    await page.goto(`${base}/ui/dags/${encodeURIComponent(dagId)}`);
    await page.waitForSelector('form[data-form="start-run"]', { timeout: WAIT_MS });
    for (const [name, value] of Object.entries(text)) {
      const field = `form[data-form="start-run"] [name="${name}"]`;
      await page.waitForSelector(field, { timeout: WAIT_MS });
      await page.click(field, { count: 3 });
      await page.keyboard.press('Backspace');
      await page.type(field, value);
    }
    for (const name of ticks) await page.click(`form[data-form="start-run"] input[type="checkbox"][name="${name}"]`);
    await page.click('form[data-form="start-run"] [type="submit"]');
    await untilSeen(async () => new URL(page.url()).pathname, (seen) => seen.startsWith('/ui/runs/'), WAIT_MS, `the start-run form of ${dagId} to lead to a run page`);
    const runId = runIdOf(page.url());
    started.push(runId);
    return runId;
  };

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'qubinode-ui-browser-'));
    engine = await startTestEngine({ env: { QUBINODE_AI_ANALYSIS: 'rules' } });
    const config = { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [{ repo: 'ui', dir: path.join(PROJECT_ROOT, 'test', 'fixtures', 'ui-repo') }] };
    const logger = createLogger(process.env.QUBINODE_TEST_LOG_LEVEL ?? 'error', 'ui-browser-test');
    app = buildApiServer({ config, logger, client: engine.client, registry: new ActionRegistry(), token: TOKEN });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    // Another origin on the same machine: same site for cookies (SameSite ignores ports), so only the
    // server's CSRF token and Origin checks stand between its pages and the signed-in browser.
    stranger = createServer((request, response) => {
      response.setHeader('content-type', 'text/html; charset=utf-8');
      if (request.url === '/csp-probe') {
        // An inline script under a CSP that forbids it: proves a violation reaches the recorded console errors.
        response.setHeader('content-security-policy', "default-src 'none'; script-src 'self'");
        response.end('<!doctype html><title>probe</title><script>document.title = "ran"</script>');
        return;
      }
      if (request.url === '/frame') {
        response.end(`<!doctype html><title>framed</title><iframe src="${base}/ui"></iframe>`);
        return;
      }
      if (request.url === '/form') {
        // A form posting text/plain crafted to read as JSON: no preflight, the browser sends the cookie.
        const body = JSON.stringify({ dag: 'ui/release', runKey: 'csrf-form', params: { gate: path.join(work, 'gate') }, x: '' }).slice(0, -2);
        response.end(`<!doctype html><title>win a prize</title><form method="post" enctype="text/plain" action="${base}/api/runs"><input type="hidden" name='${body}' value='"}'><button>claim</button></form>`);
        return;
      }
      response.end('<!doctype html><title>nothing to see</title>');
    });
    await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
    strangerBase = `http://127.0.0.1:${(stranger.address() as AddressInfo).port}`;

    browser = await launchBrowser((chromium as { path: string }).path);
    ({ page, record } = await openWatchedPage(browser));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    stranger?.close();
    // A failed run of this file must not leave a run waiting on its gate file or approval.
    for (const runId of started) await engine?.client.workflow.getHandle(runId).cancel().catch(() => undefined);
    await app?.close();
    await engine?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses a wrong token at the sign-in form, then signs in with a good one and shows who is signed in', async () => {
    await page.goto(`${base}/ui/sign-in`);
    await page.waitForSelector('form[data-form="sign-in"] input[name="token"]', { timeout: WAIT_MS });
    await page.type('form[data-form="sign-in"] input[name="token"]', 'not-the-token-not-the-token');
    await page.click('form[data-form="sign-in"] button[type="submit"]');
    await untilSeen(
      async () => record.errorResponses.some((seen) => seen.method === 'POST' && seen.url === `${base}/ui/session` && seen.status === 401),
      (refused) => refused,
      WAIT_MS,
      'POST /ui/session to answer 401 to a wrong token',
    );
    assert.equal(await countOf(page, '[data-user]'), 0, 'a wrong token must not sign anyone in');
    assert.ok(new URL(page.url()).pathname.startsWith('/ui/sign-in'), `still on the sign-in page, not ${page.url()}`);

    await page.click('form[data-form="sign-in"] input[name="token"]', { count: 3 });
    await page.keyboard.press('Backspace');
    await page.type('form[data-form="sign-in"] input[name="token"]', TOKEN);
    await page.click('form[data-form="sign-in"] button[type="submit"]');
    await untilSeen(() => textOf(page, '[data-user]'), (seen) => seen?.trim() === USER, WAIT_MS, `[data-user] to show ${USER}`);
    assert.equal(new URL(page.url()).pathname, '/ui', 'signing in leads to the runs page');
    const cookies = await browser.defaultBrowserContext().cookies();
    const session = cookies.find((cookie) => cookie.name === 'qubinode_session');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Strict');
    assert.ok(!session?.value.includes(TOKEN), 'the cookie holds a session id, never the token');
  });

  it('draws each DAG of the catalog as a small graph of its tasks and their dependencies', async () => {
    await page.goto(`${base}/ui/dags`);
    for (const [dagId, tasks, edges] of [['ui/release', 5, 5], ['ui/broken', 3, 2]] as const) {
      const graph = `table[data-list="dags"] tr[data-dag-id="${dagId}"] svg[data-graph]`;
      await page.waitForSelector(graph, { timeout: WAIT_MS });
      const drawn = { nodes: await countOf(page, `${graph} g[data-task-id]`), edges: await countOf(page, `${graph} path.edge`), label: await attributeOf(page, graph, 'aria-label') };
      assert.deepEqual(drawn, { nodes: tasks, edges, label: `graph of ${dagId}` });
      // Its arrows point at an arrow head of its own, the only element on the page with that id.
      const marker = /^url\(#(.+)\)$/.exec((await attributeOf(page, `${graph} path.edge`, 'marker-end')) ?? '')?.[1] ?? '';
      assert.equal(await countOf(page, `${graph} marker[id="${marker}"]`), 1, `marker ${marker} in the graph of ${dagId}`);
      assert.equal(await countOf(page, `marker[id="${marker}"]`), 1, `marker ${marker} once on the page`);
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ui-dags.png') });
  });

  it('starts a run from the params form, follows its tasks live in the graph, and approves its gate', async () => {
    const gate = path.join(work, 'gate');
    releaseRun = await startFromDagPage('ui/release', { gate, version: HOSTILE_VERSION, copies: '2' }, ['dry_run']);
    assert.match(releaseRun, /^dag\/ui\/release\//);
    await page.waitForSelector('svg[data-graph]', { timeout: WAIT_MS });
    // A reload would drop this mark: every change below must come from the page's own polling.
    await page.evaluate(() => Object.assign(globalThis, { __notReloaded: true }));

    await untilTask('prepare', 'running');
    assert.equal(await taskState('publish'), 'pending', 'tasks after a running one are pending');
    writeFileSync(gate, 'go');
    await untilTask('prepare', 'succeeded');
    await untilTask('approve', 'waiting');
    await page.waitForSelector('button[data-action="approve"]', { visible: true, timeout: WAIT_MS });
    assert.equal(await attributeOf(page, '[data-run-state]', 'data-run-state'), 'running');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ui-run.png') });

    await page.click('button[data-action="approve"]');
    await untilTask('publish', 'succeeded');
    await untilRun('succeeded');
    assert.equal(await page.evaluate(() => (globalThis as { __notReloaded?: boolean }).__notReloaded), true, 'the run page was never reloaded');
    const { uiUrl, namespace } = engine.config.temporal;
    assert.equal(await attributeOf(page, 'a[data-temporal-link]', 'href'), `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(releaseRun)}`);

    // The form's values reached the run: the build task's log shows the version, as text.
    await page.click('svg[data-graph] g[data-task-id="build"]');
    await untilText('[data-panel="task"] [data-log]', 'building 2.5 <img src=x');
    assert.equal(await countOf(page, '[data-panel="task"] img'), 0, 'a param value is shown as text, never as HTML');
    assert.notEqual(await page.title(), 'owned');
    // The number field and the checkbox reached it too.
    await page.click('svg[data-graph] g[data-task-id="check"]');
    await untilText('[data-panel="task"] [data-log]', 'checking 2 copies, dry run true');
    const status = (await (await api('GET', `/api/runs/${encodeURIComponent(releaseRun)}`)).json()) as { state: string; approvals?: { by?: string }[] };
    assert.equal(status.state, 'succeeded');
    assert.equal(status.approvals?.[0]?.by, USER, 'the gate records the signed-in user as the approver');
  });

  it("shows a failed task's error and its failure analysis in the task panel", async () => {
    brokenRun = await startFromDagPage('ui/broken', {});
    await untilRun('failed');
    await untilTask('write-image', 'failed');
    assert.equal(await taskState('boot'), 'skipped');
    await page.click('svg[data-graph] g[data-task-id="write-image"]');
    await untilText('[data-panel="task"] [data-error]', 'CommandFailed');
    // The rules analyser recognises a full disk from the task's output.
    await untilText('[data-panel="task"] [data-analysis]', 'disk is full');
  });

  it('lists both runs with their states on the runs page', async () => {
    await page.goto(`${base}/ui`);
    for (const [runId, state] of [
      [releaseRun, 'succeeded'],
      [brokenRun, 'failed'],
    ] as const) {
      const row = `table[data-list="runs"] tr[data-run-id="${runId}"] [data-state]`;
      await untilSeen(() => textOf(page, row), (seen) => seen?.trim() === state, WAIT_MS, `${row} to read ${state}`);
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ui-runs.png') });
  });

  it('refuses cross-site writes from another origin that carry the signed-in cookie, and starts no run', async () => {
    const attacker = await openWatchedPage(browser);
    await attacker.page.goto(`${strangerBase}/`);
    // A script on the other origin: a simple (no preflight) POST with the cookie, and one with a JSON type and a guessed CSRF token.
    const outcomes = await attacker.page.evaluate(async (target: string) => {
      const tries: { mode: 'no-cors' | 'cors'; headers: Record<string, string>; runKey: string }[] = [
        { mode: 'no-cors', headers: { 'content-type': 'text/plain' }, runKey: 'csrf-simple' },
        { mode: 'cors', headers: { 'content-type': 'application/json', 'x-csrf-token': 'guessed' }, runKey: 'csrf-preflight' },
      ];
      const seen: string[] = [];
      for (const attempt of tries) {
        const body = JSON.stringify({ dag: 'ui/release', runKey: attempt.runKey, params: { gate: '/' } });
        seen.push(
          await fetch(target, { method: 'POST', mode: attempt.mode, credentials: 'include', headers: attempt.headers, body }).then(
            (response) => `answered ${response.type}`,
            (error: Error) => `failed: ${error.message}`,
          ),
        );
      }
      return seen;
    }, `${base}/api/runs`);
    assert.equal(outcomes[0], 'answered opaque', 'the simple POST went out (the browser sent it with the cookie)');
    assert.match(outcomes[1] ?? '', /^failed/, 'the POST needing a preflight is stopped by the browser (no CORS grant)');
    await untilSeen(
      async () => attacker.record.errorResponses.filter((seen) => seen.method === 'POST' && seen.url === `${base}/api/runs`),
      (refusals) => refusals.length >= 1,
      WAIT_MS,
      'the server to answer the cross-site POST',
    );

    // A form on the other origin, posted by a click (a navigation: the answer is the page's own).
    await attacker.page.goto(`${strangerBase}/form`);
    const [answer] = await Promise.all([attacker.page.waitForNavigation({ timeout: WAIT_MS }), attacker.page.click('button')]);
    assert.equal(answer?.status(), 403, 'the cross-site form POST is refused');

    const posts = attacker.record.errorResponses.filter((seen) => seen.method === 'POST' && seen.url === `${base}/api/runs`);
    assert.deepEqual(
      posts.map((seen) => seen.status),
      [403, 403],
      'both POSTs that reached the server were refused',
    );
    for (const key of ['csrf-simple', 'csrf-preflight', 'csrf-form']) {
      const response = await api('GET', `/api/runs/${encodeURIComponent(`dag/ui/release/${key}`)}`);
      assert.equal(response.status, 404, `no run ${key} was started`);
    }
    await attacker.page.close();
  });

  it('refuses to be drawn inside a frame of a page from another origin', async () => {
    const framer = await openWatchedPage(browser);
    await framer.page.goto(`${strangerBase}/frame`);
    await untilSeen(async () => framer.record.consoleErrors.join('\n'), (seen) => seen.includes('frame-ancestors'), WAIT_MS, "the browser to refuse framing /ui (frame-ancestors 'none')");
    const frame = framer.page.frames().find((candidate) => candidate !== framer.page.mainFrame());
    assert.equal(await frame?.$('#app').catch(() => null) ?? null, null, 'no part of the page was drawn inside the frame');
    await framer.page.close();
  });

  it('signs out: the page returns to the sign-in form and the old cookie opens nothing', async () => {
    const cookie = (await browser.defaultBrowserContext().cookies()).find((candidate) => candidate.name === 'qubinode_session');
    assert.ok(cookie, 'signed in before signing out');
    assert.equal((await fetch(`${base}/api/runs`, { headers: { cookie: `qubinode_session=${cookie.value}` } })).status, 200, 'the cookie opens the API while signed in');
    await page.click('button[data-action="sign-out"]');
    await page.waitForSelector('form[data-form="sign-in"]', { timeout: WAIT_MS });
    assert.equal(await countOf(page, '[data-user]'), 0);
    assert.equal((await fetch(`${base}/api/runs`, { headers: { cookie: `qubinode_session=${cookie.value}` } })).status, 401, 'the ended session is refused');
  });

  it('reports a CSP violation to the recorded console errors (so the check below can fail)', async () => {
    const probe = await openWatchedPage(browser);
    await probe.page.goto(`${strangerBase}/csp-probe`);
    await untilSeen(async () => probe.record.consoleErrors.join('\n'), (seen) => seen.includes('Content Security Policy'), WAIT_MS, 'a CSP violation in the probe page console');
    assert.notEqual(await probe.page.title(), 'ran');
    await probe.page.close();
  });

  it('raised no console error, script error or CSP violation, and asked nothing of any origin but its own', () => {
    assert.deepEqual(record.consoleErrors, [], 'console errors (CSP violations among them)');
    assert.deepEqual(record.pageErrors, [], 'uncaught script errors');
    assert.deepEqual(record.failedRequests, [], 'requests that got no answer');
    // The only refusals expected: the session check before signing in, and the wrong token.
    // Chromium asks for /favicon.ico by itself; the page has none.
    const unexpected = record.errorResponses.filter(
      (seen) =>
        !(seen.method === 'GET' && seen.url === `${base}/ui/session` && seen.status === 401) &&
        !(seen.method === 'POST' && seen.url === `${base}/ui/session` && seen.status === 401) &&
        !(seen.url === `${base}/favicon.ico`),
    );
    assert.deepEqual(unexpected, [], 'error answers the page did not expect');
    assert.deepEqual(
      record.requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== base),
      [],
      'the page works with no internet: every request went to the server that served it',
    );
    assert.deepEqual(record.dialogs, [], 'no alert, confirm or prompt dialogs');
  });
});
