import { isIPv4, isIPv6 } from 'node:net';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error';
import { oidcEnvShape, oidcSettings, type OidcSettings } from './oidc-config';
import { zodProblems } from './zod-problems';
import { PROJECT_ROOT } from './project-root';

export { ConfigError, PROJECT_ROOT };
export type { OidcLoginSettings, OidcSettings } from './oidc-config';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** An IP literal and a port (the SDK binds it as given: no host names, no port 0). */
function isBindAddress(value: string): boolean {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(value);
  if (!match) return false;
  const host = match[1] ?? match[2] ?? '';
  const portNumber = Number(match[3]);
  return (match[1] ? isIPv6(host) : isIPv4(host)) && portNumber >= 1 && portNumber <= 65535;
}

/**
 * Every setting Qubinode reads from the environment. Validated once at start-up:
 * a bad value stops the process with a message naming the variable.
 */
const LABEL_PART = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** `key=value,key=value` into labels; a bad entry is reported with its position. */
function parseHostLabels(text: string, ctx: z.RefinementCtx): Record<string, string> {
  const labels: Record<string, string> = {};
  text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .forEach((entry, index) => {
      const [key, value, ...rest] = entry.split('=');
      if (key === undefined || value === undefined || rest.length > 0 || !LABEL_PART.test(key) || !LABEL_PART.test(value)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `label ${index + 1} must be key=value of lower-case letters, digits, '.', '_' or '-', got ${JSON.stringify(entry.slice(0, 80))}` });
        return;
      }
      if (key in labels) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `label ${key} is given twice` });
      labels[key] = value;
    });
  return labels;
}

/** A JSON list of program and arguments, e.g. `["systemctl","reboot"]`. */
function parseArgvList(text: string, ctx: z.RefinementCtx): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a JSON list of strings, e.g. ["systemctl","reboot"]' });
    return [];
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > 64 || !value.every((part) => typeof part === 'string' && part !== '' && !part.includes('\0'))) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a JSON list of 1 to 64 non-empty strings: the program, then its arguments' });
    return [];
  }
  return value as string[];
}

/** QUBINODE_PUBLIC_URL as an origin (scheme, host, port): a path, query, fragment or user name is refused, not dropped. */
function publicOrigin(text: string, ctx: z.RefinementCtx): string {
  // The text itself is checked too: the URL parser quietly drops tabs, newlines and dot segments (`/%2e%2e/`).
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash || !/^https?:\/\/[^/?#\\\s]+\/?$/i.test(text) || url.pathname !== '/') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an http(s) origin such as https://navigator.example.org or http://127.0.0.1:8788: no path, query, fragment or user name' });
    return '';
  }
  return url.origin;
}

export const QubinodeEnv = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_TLS_CA: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_UI_URL: z.string().url().optional(),
  QUBINODE_DATA_DIR: z.string().optional(),
  QUBINODE_LOG_DIR: z.string().optional(),
  QUBINODE_TASK_QUEUE: z.string().min(1).default('qubinode'),
  QUBINODE_DAG_DIRS: z.string().optional(),
  QUBINODE_WORKFLOW_CACHE_SIZE: positiveInt.default(100),
  QUBINODE_MAX_CONCURRENT_ACTIVITIES: positiveInt.default(50),
  /**
   * `IP:port` where a worker serves Prometheus metrics at /metrics: the Temporal SDK's own series and
   * per-action counts and durations. Unset: no endpoint. One per process (the SDK runtime's).
   */
  QUBINODE_WORKER_METRICS_ADDRESS: z.string().refine(isBindAddress, 'must be an IP address and port, e.g. 127.0.0.1:9464 or [::1]:9464').optional(),
  /**
   * Labels this worker's host reports (e.g. `env=production,rack=r12`): repository policies allow host
   * queues by label. Keys and values: lower-case letters, digits, '.', '_' or '-'.
   */
  QUBINODE_HOST_LABELS: z.string().max(2000).default('').pipe(z.string().transform((text, ctx) => parseHostLabels(text, ctx))),
  /**
   * How this host reboots when a DAG runs `host.reboot` on it: a JSON argv list (no shell), run a few seconds
   * after the action asked, so the action's answer reaches Temporal first. The fleet lab gives its own script.
   */
  QUBINODE_REBOOT_COMMAND: z.string().max(8192).default('["systemctl","reboot"]').pipe(z.string().transform((text, ctx) => parseArgvList(text, ctx))),
  /** What a reboot of this host changes, so host.reboot can tell it happened: `boot` (the kernel's boot id) or `worker` (only the worker's instance, as in the fleet lab). */
  QUBINODE_REBOOT_CHANGES: z.enum(['boot', 'worker']).default('boot'),
  QUBINODE_API_HOST: z.string().min(1).default('127.0.0.1'),
  QUBINODE_API_PORT: port.default(8788),
  QUBINODE_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  QUBINODE_API_TOKEN_FILE: z.string().optional(),
  /**
   * The address browsers reach the API at, e.g. https://navigator.example.org behind a TLS proxy: the
   * web page's writes must come from this origin. Unset: the scheme and Host of each request.
   */
  QUBINODE_PUBLIC_URL: z.string().max(2000).optional().pipe(z.string().optional().transform((text, ctx) => (text === undefined ? undefined : publicOrigin(text, ctx)))),
  /** The Navigator API the CLI works through instead of dialing Temporal (https; plain http only on loopback). */
  QUBINODE_API_URL: z.string().optional(),
  /** PEM file of the CA that signed the API's certificate, for a control plane with its own CA. */
  QUBINODE_API_CA: z.string().optional(),
  /** `true` lets the CLI send its token over plain http to a non-loopback QUBINODE_API_URL (a trusted tunnel only). */
  QUBINODE_API_ALLOW_HTTP: z.enum(['true', 'false', '1', '0']).default('false'),
  /** How far (seconds, either way) a signed trigger's X-Qubinode-Timestamp may be from the API's clock. */
  QUBINODE_TRIGGER_WINDOW_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  QUBINODE_HOOKS_RATE_PER_SOURCE: z.coerce.number().int().min(1).max(100_000).default(1000),
  QUBINODE_HOOKS_RATE_GLOBAL: z.coerce.number().int().min(1).max(1_000_000).default(5000),
  QUBINODE_HOOKS_TEMPORAL_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(2000),
  /** Workflow id of the users-and-tokens store; one per namespace, different only to keep test suites apart. */
  QUBINODE_IDENTITY_WORKFLOW_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9/._-]{0,199}$/, 'letters, digits, "/", ".", "_" or "-"').default('identity/users'),
  /** Workflow id of the repository policy store (docs/repo-policy.md); one per namespace, different only to keep test suites apart. */
  QUBINODE_POLICY_WORKFLOW_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9/._-]{0,199}$/, 'letters, digits, "/", ".", "_" or "-"').default('policy/repos'),
  /** A file on this host capping which repositories and actions its worker runs, whatever the control plane's policy says. */
  QUBINODE_HOST_POLICY_FILE: z.string().min(1).optional(),
  ...oidcEnvShape,
  QUBINODE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `pretty` (text for people), `json` (one object a line), or `auto`: pretty when stderr is a terminal, JSON otherwise. */
  QUBINODE_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  QUBINODE_PLUGIN_DIRS: z.string().optional(),
  QUBINODE_TEMPORAL_PORT: port.default(7233),
  QUBINODE_TEMPORAL_UI_PORT: port.default(8233),
  /** GGUF model for AI failure analysis; default: a Granite 4.0 Micro GGUF in <data>/models, else the test model. */
  QUBINODE_AI_MODEL: z.string().optional(),
  /** `model` (falls back to the rules on timeout or error) or `rules` only (no model is loaded). */
  QUBINODE_AI_ANALYSIS: z.enum(['model', 'rules']).default('model'),
  QUBINODE_AI_THREADS: z.coerce.number().int().min(0).default(0),
  QUBINODE_AI_CONTEXT_SIZE: positiveInt.default(4096),
  QUBINODE_AI_TIMEOUT_MS: positiveInt.default(60_000),
  /** Dense vectors from the model beside BM25 (costs an embedding per chunk when indexing). */
  QUBINODE_AI_VECTORS: z.enum(['true', 'false', '1', '0']).default('false'),
  QDRANT_URL: z.string().url().optional(),
  QDRANT_API_KEY: z.string().optional(),
  QDRANT_COLLECTION: z.string().min(1).default('qubinode-knowledge'),
});
export type QubinodeEnv = z.infer<typeof QubinodeEnv>;

export interface DagDirectory {
  /** Catalog namespace: DAG ids become `<repo>/<dag id>`. */
  repo: string;
  dir: string;
}

export interface TemporalSettings {
  address: string;
  namespace: string;
  tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
  apiKey?: string;
  uiUrl: string;
}

export interface QubinodeConfig {
  temporal: TemporalSettings;
  dataDir: string;
  logDir: string;
  taskQueue: string;
  dagDirectories: DagDirectory[];
  workflowCacheSize: number;
  maxConcurrentActivities: number;
  /** Labels of this worker's host (QUBINODE_HOST_LABELS). */
  hostLabels: Record<string, string>;
  /** How this host reboots for host.reboot (QUBINODE_REBOOT_COMMAND) and what a reboot changes (QUBINODE_REBOOT_CHANGES). */
  reboot: { command: string[]; changes: 'boot' | 'worker' };
  /** Where the worker's Prometheus endpoint listens (QUBINODE_WORKER_METRICS_ADDRESS); none when undefined. */
  workerMetricsAddress?: string;
  api: {
    host: string;
    port: number;
    token?: string;
    tokenFile: string;
    triggerWindowSeconds: number;
    /** Requests per second /hooks and /trigger take from one source address and from all (QUBINODE_HOOKS_RATE_*). */
    hooksRate: { perSource: number; global: number };
    /** How long a delivery waits for Temporal before it is answered 503 (QUBINODE_HOOKS_TEMPORAL_TIMEOUT_MS). */
    hooksTemporalTimeoutMs: number;
    /** The origin browsers reach the API at (QUBINODE_PUBLIC_URL); the web page's writes must come from it. */
    publicOrigin?: string;
  };
  /** Set when the CLI works through the Navigator API (QUBINODE_API_URL) instead of Temporal. */
  remoteApi?: RemoteApiSettings;
  /** Repository policies: their store's workflow id, and this host's own cap file (QUBINODE_HOST_POLICY_FILE). */
  policy: { workflowId: string; hostFile?: string };
  /** Who may call the API: the users-and-tokens workflow, and an optional OIDC identity provider. */
  identity: { workflowId: string; oidc?: OidcSettings };
  logLevel: QubinodeEnv['QUBINODE_LOG_LEVEL'];
  logFormat: QubinodeEnv['QUBINODE_LOG_FORMAT'];
  /** Extra plugin folders (each subfolder a plugin); the built-in plugins/ and qubinode-plugin-* packages are always read. */
  pluginDirs: string[];
  devServer: { port: number; uiPort: number };
  ai: AiConfig;
}

/** Where the CLI's API calls go; the token is QUBINODE_API_TOKEN or the file named by QUBINODE_API_TOKEN_FILE. */
export interface RemoteApiSettings {
  /** Checked base URL, no trailing slash. */
  url: string;
  caPath?: string;
  /** Only when QUBINODE_API_TOKEN_FILE is set: the server's default bootstrap-token file is never picked up silently. */
  tokenFile?: string;
}

const LOOPBACK_HOSTS = ['localhost', '[::1]'];

/**
 * QUBINODE_API_URL, refused unless it is plain: https (http only to loopback, or when explicitly
 * allowed), no user name or password, no query or fragment, no percent-encoding or dot segments.
 * A bearer token goes to this address on every call, so nothing about it may be ambiguous.
 */
function remoteApiUrl(given: string, allowHttp: boolean): string {
  const bad = (why: string): ConfigError => new ConfigError(`invalid environment:\n  QUBINODE_API_URL: ${why}`);
  if (given.includes('@')) throw bad('must not hold a user name or password (give the token in QUBINODE_API_TOKEN or QUBINODE_API_TOKEN_FILE)');
  if (/[%\\\s]/.test(given) || /[^\x21-\x7e]/.test(given)) throw bad('must be a plain URL: no percent-encoding, "\\", blanks or non-ASCII characters');
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw bad('not a URL; expected https://host[:port]');
  }
  if (url.username || url.password) throw bad('must not hold a user name or password (give the token in QUBINODE_API_TOKEN or QUBINODE_API_TOKEN_FILE)');
  if (url.search || url.hash || given.includes('?') || given.includes('#')) throw bad('must not have a query or fragment');
  if (given.split('://')[1]?.split('/').slice(1).some((segment) => segment === '.' || segment === '..')) throw bad('must not have "." or ".." path segments');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`must be https (got ${url.protocol})`);
  const loopback = LOOPBACK_HOSTS.includes(url.hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
  if (url.protocol === 'http:' && !loopback && !allowHttp) throw bad(`plain http to ${url.hostname} would send the token in clear; use https (or set QUBINODE_API_ALLOW_HTTP=true for a trusted tunnel)`);
  return url.href.replace(/\/+$/, '');
}

/** Settings of AI failure analysis (see docs/ai-failure-analysis.md). */
export interface AiConfig {
  /** QUBINODE_AI_MODEL as given; resolved when the model is first loaded. */
  model?: string;
  analysis: 'model' | 'rules';
  threads: number;
  contextSize: number;
  timeoutMs: number;
  vectors: boolean;
  /** Models and the knowledge store live under here. */
  modelsDir: string;
  storeDir: string;
  qdrant?: { url: string; apiKey?: string; collection: string };
}

/** `repo=dir` pairs separated by commas; a bare dir takes its basename as repo. */
function parseDagDirectories(spec: string | undefined, root: string): DagDirectory[] {
  if (!spec) return [{ repo: 'examples', dir: path.join(root, 'dag-repos', 'examples') }];
  return spec
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      const dir = path.resolve(root, eq >= 0 ? entry.slice(eq + 1) : entry);
      const repo = eq >= 0 ? entry.slice(0, eq) : path.basename(dir);
      if (!/^[a-z0-9][a-z0-9._-]*$/i.test(repo)) {
        throw new ConfigError(`QUBINODE_DAG_DIRS: repo name "${repo}" must be letters, digits, ".", "_" or "-"`);
      }
      return { repo, dir };
    });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): QubinodeConfig {
  const parsed = QubinodeEnv.safeParse(env);
  if (!parsed.success) {
    const lines = zodProblems(parsed.error, '', '  ');
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(PROJECT_ROOT, e.QUBINODE_DATA_DIR ?? '.data');
  const oidc = oidcSettings(e, e.QUBINODE_PUBLIC_URL, PROJECT_ROOT);
  const allowHttp = e.QUBINODE_API_ALLOW_HTTP === 'true' || e.QUBINODE_API_ALLOW_HTTP === '1';
  const remoteApi: RemoteApiSettings | undefined = e.QUBINODE_API_URL
    ? { url: remoteApiUrl(e.QUBINODE_API_URL, allowHttp), ...(e.QUBINODE_API_CA ? { caPath: path.resolve(e.QUBINODE_API_CA) } : {}), ...(e.QUBINODE_API_TOKEN_FILE ? { tokenFile: path.resolve(e.QUBINODE_API_TOKEN_FILE) } : {}) }
    : undefined;
  const hasTls = e.TEMPORAL_TLS_CERT || e.TEMPORAL_TLS_KEY || e.TEMPORAL_TLS_CA || e.TEMPORAL_TLS_SERVER_NAME;
  if (Boolean(e.TEMPORAL_TLS_CERT) !== Boolean(e.TEMPORAL_TLS_KEY)) {
    throw new ConfigError('invalid environment:\n  TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  }
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      ...(hasTls
        ? {
            tls: {
              certPath: e.TEMPORAL_TLS_CERT,
              keyPath: e.TEMPORAL_TLS_KEY,
              caPath: e.TEMPORAL_TLS_CA,
              serverName: e.TEMPORAL_TLS_SERVER_NAME,
            },
          }
        : {}),
      ...(e.TEMPORAL_API_KEY ? { apiKey: e.TEMPORAL_API_KEY } : {}),
      uiUrl: e.TEMPORAL_UI_URL ?? `http://127.0.0.1:${e.QUBINODE_TEMPORAL_UI_PORT}`,
    },
    dataDir,
    logDir: path.resolve(PROJECT_ROOT, e.QUBINODE_LOG_DIR ?? path.join(dataDir, 'logs')),
    taskQueue: e.QUBINODE_TASK_QUEUE,
    dagDirectories: parseDagDirectories(e.QUBINODE_DAG_DIRS, PROJECT_ROOT),
    workflowCacheSize: e.QUBINODE_WORKFLOW_CACHE_SIZE,
    maxConcurrentActivities: e.QUBINODE_MAX_CONCURRENT_ACTIVITIES,
    hostLabels: e.QUBINODE_HOST_LABELS,
    reboot: { command: e.QUBINODE_REBOOT_COMMAND, changes: e.QUBINODE_REBOOT_CHANGES },
    ...(e.QUBINODE_WORKER_METRICS_ADDRESS ? { workerMetricsAddress: e.QUBINODE_WORKER_METRICS_ADDRESS } : {}),
    api: {
      host: e.QUBINODE_API_HOST,
      port: e.QUBINODE_API_PORT,
      ...(e.QUBINODE_API_TOKEN ? { token: e.QUBINODE_API_TOKEN } : {}),
      tokenFile: path.resolve(PROJECT_ROOT, e.QUBINODE_API_TOKEN_FILE ?? path.join(dataDir, 'api-token')),
      triggerWindowSeconds: e.QUBINODE_TRIGGER_WINDOW_SECONDS,
      hooksRate: { perSource: e.QUBINODE_HOOKS_RATE_PER_SOURCE, global: e.QUBINODE_HOOKS_RATE_GLOBAL },
      hooksTemporalTimeoutMs: e.QUBINODE_HOOKS_TEMPORAL_TIMEOUT_MS,
      ...(e.QUBINODE_PUBLIC_URL ? { publicOrigin: e.QUBINODE_PUBLIC_URL } : {}),
    },
    ...(remoteApi ? { remoteApi } : {}),
    policy: { workflowId: e.QUBINODE_POLICY_WORKFLOW_ID, ...(e.QUBINODE_HOST_POLICY_FILE ? { hostFile: path.resolve(PROJECT_ROOT, e.QUBINODE_HOST_POLICY_FILE) } : {}) },
    identity: { workflowId: e.QUBINODE_IDENTITY_WORKFLOW_ID, ...(oidc ? { oidc } : {}) },
    logLevel: e.QUBINODE_LOG_LEVEL,
    logFormat: e.QUBINODE_LOG_FORMAT,
    pluginDirs: (e.QUBINODE_PLUGIN_DIRS ?? '').split(',').map((dir) => dir.trim()).filter(Boolean).map((dir) => path.resolve(PROJECT_ROOT, dir)),
    devServer: { port: e.QUBINODE_TEMPORAL_PORT, uiPort: e.QUBINODE_TEMPORAL_UI_PORT },
    ai: {
      ...(e.QUBINODE_AI_MODEL ? { model: e.QUBINODE_AI_MODEL } : {}),
      analysis: e.QUBINODE_AI_ANALYSIS,
      threads: e.QUBINODE_AI_THREADS,
      contextSize: e.QUBINODE_AI_CONTEXT_SIZE,
      timeoutMs: e.QUBINODE_AI_TIMEOUT_MS,
      vectors: e.QUBINODE_AI_VECTORS === 'true' || e.QUBINODE_AI_VECTORS === '1',
      modelsDir: path.join(dataDir, 'models'),
      storeDir: path.join(dataDir, 'ai'),
      ...(e.QDRANT_URL ? { qdrant: { url: e.QDRANT_URL, ...(e.QDRANT_API_KEY ? { apiKey: e.QDRANT_API_KEY } : {}), collection: e.QDRANT_COLLECTION } } : {}),
    },
  };
}
