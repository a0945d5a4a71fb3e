import type { FastifyInstance, FastifyReply } from 'fastify';
import type { UiBundle } from './ui-build';

/** The page's shell: no inline script or style, so the CSP below can forbid both. */
export const UI_SHELL =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Qubinode Navigator</title><link rel="stylesheet" href="/ui/assets/app.css"></head><body><div id="app"></div><script src="/ui/assets/app.js" defer></script></body></html>';

/** Only this server's own script, styles and API; no framing, no inline code, no other site. */
export const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Every answer under /ui (the shell, the assets, the session routes and their errors) carries these. */
function isUiPath(url: string): boolean {
  return url === '/ui' || url.startsWith('/ui/') || url.startsWith('/ui?');
}

/** The assets by name: the URL only ever selects from this list, it never becomes a file path. */
const ASSETS: Readonly<Record<string, { part: keyof UiBundle; type: string }>> = {
  'app.js': { part: 'js', type: 'text/javascript; charset=utf-8' },
  'app.css': { part: 'css', type: 'text/css; charset=utf-8' },
};

/**
 * Serves the web page: GET /ui and every GET /ui/* path the page routes itself get the shell;
 * /ui/assets/app.js and app.css come from the in-memory build. Any other asset name is 404.
 */
export function registerUiAssets(app: FastifyInstance, bundle: () => Promise<UiBundle>): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (!isUiPath(request.url)) return payload;
    reply.header('content-security-policy', UI_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  /** The shell only once the page is built, so a broken build shows as 500 on /ui rather than a blank page. */
  const shell = async (reply: FastifyReply): Promise<FastifyReply> => {
    await bundle();
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(UI_SHELL);
  };

  app.get('/ui', async (_request, reply) => shell(reply));

  app.get('/ui/*', async (request, reply) => {
    const rest = (request.params as { '*'?: string })['*'] ?? '';
    let decoded = rest;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      // A malformed encoding is judged on its raw spelling below.
    }
    // Asset names not in the list (any spelling of /ui/assets/...) are 404, never the shell.
    if (/^assets(?:\/|$)/i.test(rest) || /^assets(?:\/|$)/i.test(decoded)) return reply.code(404).send({ error: 'not found' });
    return shell(reply);
  });

  for (const [name, asset] of Object.entries(ASSETS)) {
    app.get(`/ui/assets/${name}`, async (_request, reply) => {
      const built = await bundle();
      // Built once per process: the browser asks again on each load, the answer is never stale.
      return reply.type(asset.type).header('cache-control', 'no-cache').send(built[asset.part]);
    });
  }
}
