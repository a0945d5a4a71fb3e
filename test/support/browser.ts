import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { PROJECT_ROOT } from '../../config/config';
import { until } from './waiting';

/** The size every page is drawn at, so screenshots come out the same from one run to the next. */
const VIEWPORT = { width: 1280, height: 800, deviceScaleFactor: 1 } as const;

/**
 * Debian's chromium, installed by infra/setup-browser.sh when missing (root + apt). Returns a skip reason
 * (the script's last line) instead when this machine cannot have one. Synchronous, so a test file can decide
 * to skip while it declares its tests.
 */
export function findChromium(): { path: string } | { skip: string } {
  const setup = spawnSync('bash', [path.join(PROJECT_ROOT, 'infra', 'setup-browser.sh')], { encoding: 'utf8', timeout: 600_000 });
  const found = setup.stdout?.trim().split('\n').at(-1);
  if (setup.status === 0 && found) return { path: found };
  const reason = setup.stderr?.trim().split('\n').at(-1) || `setup-browser.sh exit ${setup.status ?? setup.signal}`;
  return { skip: `no chromium here: ${reason}` };
}

/**
 * Starts headless chromium. The sandbox needs user namespaces that root in a container does not get, so
 * --no-sandbox is passed only when running as root. Every host name but the loopback address fails to
 * resolve: a page that reached for the internet (a CDN, a web font) would break visibly here.
 */
export async function launchBrowser(executablePath: string): Promise<Browser> {
  const args = ['--disable-dev-shm-usage', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-first-run', '--no-default-browser-check'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return puppeteer.launch({ executablePath, headless: true, args, defaultViewport: VIEWPORT });
}

/** What a page did that a test may want to assert never happened (or happened only as expected). */
export interface PageRecord {
  /** console.error calls and errors the browser itself reports to the console, CSP violations among them. */
  consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  pageErrors: string[];
  /** Requests that got no answer (refused, blocked, name not resolved, aborted). */
  failedRequests: string[];
  /** Answers with a status of 400 or more. */
  errorResponses: { method: string; url: string; status: number }[];
  /** Every URL the page asked for, in order. */
  requests: string[];
  /** Messages of alert/confirm/prompt dialogs (each is accepted). */
  dialogs: string[];
}

/**
 * A new tab in the browser's default context (so it shares cookies with the others) whose console,
 * errors and network are recorded.
 */
export async function openWatchedPage(browser: Browser): Promise<{ page: Page; record: PageRecord }> {
  const page = await browser.newPage();
  const record: PageRecord = { consoleErrors: [], pageErrors: [], failedRequests: [], errorResponses: [], requests: [], dialogs: [] };
  page.on('console', (message) => {
    // "Failed to load resource" repeats a failed request or an error status, recorded below with its URL.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      const where = message.location().url;
      record.consoleErrors.push(where ? `${message.text()} (${where})` : message.text());
    }
  });
  page.on('pageerror', (error) => record.pageErrors.push(error instanceof Error ? (error.stack ?? error.message) : String(error)));
  page.on('request', (request) => record.requests.push(request.url()));
  page.on('requestfailed', (request) => {
    // Chromium reports every answer without a body (204) as "loading failed: net::ERR_ABORTED" after its
    // headers arrived, though fetch resolves with it: a request that got its answer did not fail.
    if (request.response()?.status() === 204) return;
    record.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'failed'}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) record.errorResponses.push({ method: response.request().method(), url: response.url(), status: response.status() });
  });
  page.on('dialog', (dialog) => {
    record.dialogs.push(dialog.message());
    void dialog.accept();
  });
  return { page, record };
}

/**
 * Polls `read` until `ok` holds; on timeout the error names what was awaited and the last value seen, so a
 * failure says which hook showed which state.
 */
export async function untilSeen<T>(read: () => Promise<T>, ok: (value: T) => boolean, withinMs: number, what: string): Promise<T> {
  let last: T | undefined;
  let lastError: unknown;
  try {
    await until(
      async () => {
        try {
          last = await read();
          lastError = undefined;
          return ok(last);
        } catch (error) {
          lastError = error;
          return false;
        }
      },
      withinMs,
      what,
    );
  } catch (error) {
    const seen = lastError !== undefined ? `reading it failed: ${String(lastError)}` : `last seen: ${JSON.stringify(last)}`;
    throw new Error(`${(error as Error).message}; ${seen}`);
  }
  return last as T;
}

/** An attribute of the first element matching `selector` (undefined when there is no such element or attribute). */
export function attributeOf(page: Page, selector: string, name: string): Promise<string | undefined> {
  return page.evaluate(
    (sel, attr) => {
      const element = (globalThis as unknown as MiniDom).document.querySelector(sel);
      return element?.getAttribute(attr) ?? undefined;
    },
    selector,
    name,
  );
}

/** The text of the first element matching `selector` (undefined when there is none). */
export function textOf(page: Page, selector: string): Promise<string | undefined> {
  return page.evaluate((sel) => (globalThis as unknown as MiniDom).document.querySelector(sel)?.textContent ?? undefined, selector);
}

/** How many elements match `selector`. */
export function countOf(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => (globalThis as unknown as MiniDom).document.querySelectorAll(sel).length, selector);
}

/**
 * The little of the DOM that page.evaluate callbacks here use: the project compiles without the DOM library
 * (it is Node code), and these callbacks run in the page, not in Node.
 */
interface MiniElement {
  getAttribute(name: string): string | null;
  textContent: string | null;
}
interface MiniDom {
  document: { querySelector(selector: string): MiniElement | null; querySelectorAll(selector: string): { length: number } };
}
