/** Where a repository lives, read from its clone URL. */
export interface RepositoryLocation {
  /** Host name, lower case, without port or brackets. */
  host: string;
  /** Port of an https/http URL (an ssh port says nothing about the web API). */
  webPort?: string;
  /** The URL's scheme; scp-like `git@host:path` counts as ssh. */
  scheme: 'https' | 'http' | 'ssh';
  /** `owner/name` (GitHub, Bitbucket) or the full project path (GitLab), without `.git`. */
  project: string;
}

export type StatusForge = 'github' | 'gitlab' | 'bitbucket';

/** The API a repository's commit statuses go to, and the only origin its token may be sent to. */
export interface ForgeApi {
  forge: StatusForge;
  /** Base URL without a trailing slash, e.g. `https://gitlab.example.com/api/v4`. */
  base: string;
  /** `scheme://host[:port]` of `base`. */
  origin: string;
  project: string;
  /** True when the base came from the repository's `apiUrl` setting rather than from its URL. */
  fromSetting: boolean;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|::1)$/;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, '').toLowerCase());
}

function trimProject(pathname: string): string | undefined {
  const project = pathname.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\.git$/, '');
  // `..` or empty segments would make the API path mean something else.
  if (!project || project.split('/').some((part) => part === '' || part === '.' || part === '..')) return undefined;
  return project;
}

/** Reads host and project from `https://`, `http://`, `ssh://` and scp-like (`git@host:owner/repo.git`) URLs; undefined for local paths. */
export function repositoryLocation(url: string): RepositoryLocation | undefined {
  const scpLike = /^(?:[^@/:\s]+@)?([A-Za-z0-9.-]+):(?!\/\/)([^\s]+)$/.exec(url);
  if (scpLike && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    const project = trimProject(scpLike[2] ?? '');
    return project ? { host: (scpLike[1] ?? '').toLowerCase(), scheme: 'ssh', project } : undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== 'https' && scheme !== 'http' && scheme !== 'ssh') return undefined;
  const project = trimProject(decodeURIComponent(parsed.pathname));
  if (!project || !parsed.hostname) return undefined;
  const host = parsed.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return { host, scheme, project, ...(scheme !== 'ssh' && parsed.port ? { webPort: parsed.port } : {}) };
}

/**
 * Why an `apiUrl` setting is unusable, or undefined when it is fine: https only (plain http on a
 * loopback host, for a forge on the same machine), no credentials, no query or fragment.
 */
export function apiUrlProblem(value: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))) return 'must use https:// (http:// only for localhost)';
  if (parsed.username || parsed.password) return 'must not contain credentials; the token comes from --token-env';
  if (parsed.search || parsed.hash) return 'must not have a query or fragment';
  return undefined;
}

function hostPort(location: RepositoryLocation): string {
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  return location.webPort ? `${host}:${location.webPort}` : host;
}

/**
 * The forge API of a repository, derived from its URL's host — github.com → api.github.com, any
 * other GitHub host → GitHub Enterprise `/api/v3`, GitLab (gitlab.com or self-hosted) → `/api/v4`,
 * bitbucket.org → api.bitbucket.org/2.0 — or taken from the admin-set `apiUrl`. Undefined when the
 * repository is on no known forge, or on a Bitbucket Server (whose statuses are not supported).
 */
export function forgeApiOf(config: { url: string; forge: string; apiUrl?: string | undefined }): ForgeApi | undefined {
  if (config.forge !== 'github' && config.forge !== 'gitlab' && config.forge !== 'bitbucket') return undefined;
  const location = repositoryLocation(config.url);
  if (!location) return undefined;
  let base: string;
  if (config.apiUrl !== undefined) {
    if (apiUrlProblem(config.apiUrl)) return undefined;
    base = config.apiUrl.replace(/\/+$/, '');
  } else {
    // Plain http is kept only for a forge on this machine; anywhere else the token travels over TLS.
    const scheme = location.scheme === 'http' && isLoopbackHost(location.host) ? 'http' : 'https';
    const web = `${scheme}://${hostPort(location)}`;
    if (config.forge === 'github') base = location.host === 'github.com' ? 'https://api.github.com' : `${web}/api/v3`;
    else if (config.forge === 'gitlab') base = `${web}/api/v4`;
    else if (location.host === 'bitbucket.org') base = 'https://api.bitbucket.org/2.0';
    else return undefined;
  }
  return { forge: config.forge, base, origin: new URL(base).origin, project: location.project, fromSetting: config.apiUrl !== undefined };
}
