import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../bench/free-port';
import { until } from './waiting';

/** A request the HTTP git server saw: enough for tests to check what a client sent. */
export interface SeenRequest {
  path: string;
  authorization?: string;
  authorized: boolean;
}

/**
 * A real git smart-HTTP server on 127.0.0.1: a small Node server that checks HTTP Basic auth (any
 * user name, the password must be `token`) and hands authorised requests to `git http-backend` (CGI),
 * like a forge does. `hold()` parks requests until `release()`, so a test can look at the client
 * processes while a fetch is in flight.
 */
export class GitHttpServer {
  readonly seen: SeenRequest[] = [];
  private server?: Server;
  private held?: { waiting: (() => void)[] };
  port = 0;

  constructor(private readonly projectRoot: string, private readonly token: string) {}

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  /** The clone URL of a bare repository directly under the project root. */
  url(repo: string): string {
    return `http://127.0.0.1:${this.port}/${repo}`;
  }

  hold(): void {
    this.held = { waiting: [] };
  }

  heldCount(): number {
    return this.held?.waiting.length ?? 0;
  }

  release(): void {
    const waiting = this.held?.waiting ?? [];
    this.held = undefined;
    for (const go of waiting) go();
  }

  async close(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private authorised(header: string | undefined): boolean {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
    if (!match?.[1]) return false;
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1) === this.token;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const authorized = this.authorised(request.headers.authorization);
    this.seen.push({ path: url.pathname, authorized, ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}) });
    if (this.held) await new Promise<void>((resolve) => this.held?.waiting.push(resolve));
    if (!authorized) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      response.end('authentication required\n');
      return;
    }
    const backend = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: this.projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: request.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: request.headers['content-type'] ?? '',
        REMOTE_USER: 'test',
        REMOTE_ADDR: '127.0.0.1',
        ...(request.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: request.headers['content-encoding'] } : {}),
        ...(request.headers['git-protocol'] ? { GIT_PROTOCOL: String(request.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    request.pipe(backend.stdin);
    relayCgi(backend, response);
  }
}

/** Copies a CGI response (headers, blank line, body) from the backend to the HTTP response. */
function relayCgi(backend: ChildProcess, response: ServerResponse): void {
  let head = Buffer.alloc(0);
  let started = false;
  backend.stdout?.on('data', (chunk: Buffer) => {
    if (started) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    const endLf = head.indexOf('\n\n');
    const [cut, skip] = end >= 0 && (endLf < 0 || end < endLf) ? [end, 4] : [endLf, 2];
    if (cut < 0) return;
    let status = 200;
    for (const line of head.subarray(0, cut).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    started = true;
    response.write(head.subarray(cut + skip));
  });
  backend.on('close', () => {
    if (!started) response.writeHead(500);
    response.end();
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Why Debian's sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is missing (infra/setup.sh installs openssh-server when run as root)`;
  if (process.getuid?.() !== 0) return 'sshd needs root to switch to the login user';
  return undefined;
}

const SSHD = '/usr/sbin/sshd';

/**
 * Debian's OpenSSH server on a free 127.0.0.1 port with a fresh host key, letting `root` in with one
 * generated client key only (public-key auth, nothing else). Git runs over it like over any forge's ssh.
 */
export class SshGitServer {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'qubinode-sshd-'));
  readonly clientKey = path.join(this.dir, 'client_key');
  readonly hostKey = path.join(this.dir, 'host_key');
  port = 0;
  private process?: ChildProcess;

  /** The client's private key, as an operator would put it into an environment variable. */
  get clientKeyText(): string {
    return readFileSync(this.clientKey, 'utf8');
  }

  /** A known_hosts line for this server. */
  get knownHostsLine(): string {
    const [type, key] = readFileSync(`${this.hostKey}.pub`, 'utf8').trim().split(/\s+/);
    return `[127.0.0.1]:${this.port} ${type} ${key}`;
  }

  url(repoPath: string): string {
    return `ssh://root@127.0.0.1:${this.port}${repoPath}`;
  }

  async start(): Promise<this> {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'qubinode-test-host', '-f', this.hostKey]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'qubinode-test-client', '-f', this.clientKey]);
    const authorized = path.join(this.dir, 'authorized_keys');
    writeFileSync(authorized, readFileSync(`${this.clientKey}.pub`));
    chmodSync(authorized, 0o600);
    this.port = await freePort();
    const config = path.join(this.dir, 'sshd_config');
    writeFileSync(config, [
      `ListenAddress 127.0.0.1:${this.port}`,
      `HostKey ${this.hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'AllowUsers root',
      'LogLevel ERROR',
      '',
    ].join('\n'));
    // sshd refuses to start without its privilege-separation directory.
    execFileSync('mkdir', ['-p', '-m', '0755', '/run/sshd']);
    this.process = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.process.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => this.process?.once('exit', () => resolve()));
    await until(async () => (await accepts(this.port)) || this.process?.exitCode !== null, 20_000, `sshd listening on 127.0.0.1:${this.port}`);
    if (this.process.exitCode !== null) {
      await exited;
      throw new Error(`sshd exited: ${stderr}`);
    }
    return this;
  }

  async close(): Promise<void> {
    const child = this.process;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
