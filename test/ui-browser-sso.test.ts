// test-tier: full
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Browser, Page } from 'puppeteer-core';
import { freePort } from '../bench/free-port';
import { buildApiServer } from '../api/server';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { attributeOf, countOf, findChromium, launchBrowser, openWatchedPage, textOf, untilSeen, type PageRecord } from './support/browser';
import { oidcLoginEnv, startTestIdp, type TestIdp } from './support/oidc-idp';

// Signing in to the web page through an OpenID Connect provider, in Debian's chromium: the page's
// "Sign in with …" button, the provider's own sign-in form (oidc-provider's development form on
// loopback), and back to the page signed in. docs/images/ui-sign-in.png is written by this file.

const CLIENT_ID = 'qubinode-ui';
const CLIENT_SECRET = 'browser-sso-client-secret-0123456789';
const WAIT_MS = 45_000;

const chromium = findChromium();
const skip = 'skip' in chromium ? chromium.skip : false;

describe('signing in to the web page through the identity provider, in a real browser', { skip }, () => {
  let idp: TestIdp;
  let app: ReturnType<typeof buildApiServer>;
  let base = '';
  let scratch = '';
  let browser: Browser;
  let page: Page;
  let record: PageRecord;
  const client = new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' }), namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });

  const signedInUser = (): Promise<string | undefined> => textOf(page, '[data-user]');

  /** From the web page's sign-in button through the provider's form, as `login`. */
  async function signInThroughProvider(login: string): Promise<void> {
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('a[data-sso-start]', { timeout: WAIT_MS });
    await Promise.all([page.waitForNavigation({ timeout: WAIT_MS }), page.click('a[data-sso-start]')]);
    assert.equal(new URL(page.url()).origin, idp.issuer, `on the provider's page, not ${page.url()}`);
    await page.waitForSelector('input[name="login"]', { timeout: WAIT_MS });
    await page.type('input[name="login"]', login);
    await page.type('input[name="password"]', 'any password');
    await Promise.all([page.waitForNavigation({ timeout: WAIT_MS }), page.click('button[type="submit"]')]);
  }

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-ui-sso-'));
    writeFileSync(path.join(scratch, 'client-secret'), CLIENT_SECRET, { mode: 0o600 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: `${base}/ui/session/oidc/callback` });
    idp.accounts.set('alice', { roles: ['operator'] });
    const config = loadConfig(oidcLoginEnv(idp, { publicUrl: base, clientId: CLIENT_ID, secretFile: path.join(scratch, 'client-secret'), providerName: 'Example SSO' }));
    app = buildApiServer({ config, logger: createLogger(process.env.QUBINODE_TEST_LOG_LEVEL ?? 'error', 'ui-browser-sso-test'), client, registry: new ActionRegistry(), token: 'ui-browser-sso-bootstrap-0123456789' });
    await app.listen({ host: '127.0.0.1', port });
    browser = await launchBrowser((chromium as { path: string }).path);
    ({ page, record } = await openWatchedPage(browser));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await app?.close();
    await idp?.close();
    await client.connection.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('shows the provider\'s button on the sign-in page, and a cancelled sign-in comes back with its reason', async () => {
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('a[data-sso-start]', { timeout: WAIT_MS });
    assert.equal(await textOf(page, 'a[data-sso-start]'), 'Sign in with Example SSO');
    await page.screenshot({ path: path.join(PROJECT_ROOT, 'docs', 'images', 'ui-sign-in.png') });
    await Promise.all([page.waitForNavigation({ timeout: WAIT_MS }), page.click('a[data-sso-start]')]);
    await page.waitForSelector('input[name="login"]', { timeout: WAIT_MS });
    // The provider's form has a cancel link: the provider answers access_denied to the callback.
    const cancel = await page.$$eval('a', (links) => links.find((link) => /cancel/i.test(link.textContent ?? ''))?.getAttribute('href') ?? '');
    assert.ok(cancel, 'the provider offers a cancel link');
    await page.goto(new URL(cancel, idp.issuer).href);
    await page.waitForSelector('[data-sso-failure]', { timeout: WAIT_MS });
    assert.match((await textOf(page, '[data-sso-failure]')) ?? '', /did not sign you in/);
    assert.equal(await countOf(page, '[data-user]'), 0);
  });

  it('signs alice in through the provider and shows her with her roles from the ID token', async () => {
    await signInThroughProvider('alice');
    await untilSeen(signedInUser, (user) => user === 'alice', WAIT_MS, `[data-user] to be alice on ${page.url()}`);
    const roles = await page.$eval('[data-user]', (element) => element.nextElementSibling?.textContent ?? '');
    assert.equal(roles, '(operator)');
    assert.ok(new URL(page.url()).pathname.startsWith('/ui'), `back on the web page, not ${page.url()}`);
    const cookies = await browser.defaultBrowserContext().cookies();
    const session = cookies.find((cookie) => cookie.name === 'qubinode_session');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Strict');
    assert.equal(await attributeOf(page, 'a[data-sso-start]', 'href'), undefined, 'no sign-in button once signed in');
    assert.deepEqual(record.pageErrors, []);
  });

  it('sends alice back to the sign-in page once the provider disables her', async () => {
    idp.accounts.set('alice', { roles: ['operator'], disabled: true });
    await untilSeen(
      async () => {
        await page.goto(`${base}/ui/`);
        await page.waitForSelector('a[data-sso-start], [data-user]', { timeout: WAIT_MS });
        return countOf(page, 'a[data-sso-start]');
      },
      (buttons) => buttons === 1,
      WAIT_MS,
      'the sign-in page after the provider disabled alice',
    );
    assert.equal(await countOf(page, '[data-user]'), 0);
  });
});
