// Shared test helpers: a tiny static server and a browser page that only reaches that server.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, extname, normalize } from 'node:path';
import { launch } from '../../../e2e/browser.mjs';
export { PLAYER_DIR as PLAYER_DIR_EXPORT } from './inline.mjs';
import { PLAYER_DIR } from './inline.mjs';

export const ROOT = join(PLAYER_DIR, '..', '..');
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.cjs': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.json': 'application/json', '.zip': 'application/zip', '.jsonl': 'application/x-ndjson' };

/**
 * Serve /player/* from web/player, /nm/* from node_modules, and extra in-memory routes.
 * @param {Record<string, string|Buffer>} [extra]
 */
export async function serve(extra = {}) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const p = decodeURIComponent(url.pathname);
    try {
      if (extra[p] != null) {
        res.writeHead(200, { 'content-type': TYPES[extname(p)] || 'text/html' });
        res.end(extra[p]);
        return;
      }
      let file = null;
      if (p.startsWith('/player/')) file = join(PLAYER_DIR, normalize(p.slice(8)));
      else if (p.startsWith('/nm/')) file = join(ROOT, 'node_modules', normalize(p.slice(4)));
      if (!file || file.includes('..')) throw new Error('404');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
      res.end(body);
    } catch (e) {
      res.writeHead(404); res.end('not found');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, close: () => new Promise((r) => server.close(r)) };
}

let browserP = null;
/** One shared browser per test file. */
export async function browser() {
  if (!browserP) browserP = launch();
  return browserP;
}

/** A page that can only reach `base` (recorded third-party URLs are aborted, so results are deterministic). */
export async function newPage(base, opts = {}) {
  const b = await browser();
  const context = await b.newContext({ viewport: opts.viewport || { width: 1400, height: 900 } });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(base) || u.startsWith('data:') || u.startsWith('blob:') || u.startsWith('about:')) return route.continue();
    return route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  return { context, page };
}

export async function closeBrowser() {
  if (browserP) { const b = await browserP; browserP = null; await b.close(); }
}

/** HTML page mounting the player from modules. */
export function playerPage(script, { css = true } = {}) {
  return `<!doctype html><html><head><meta charset="utf-8">${css ? '<link rel="stylesheet" href="/player/player.css">' : ''}
<style>html,body{margin:0;height:100%}#app{position:fixed;inset:0}</style></head><body><div id="app"></div>
<script type="module">import { ReelPlayer } from '/player/index.js'; window.ReelPlayer = ReelPlayer; window.__ready = (async () => { ${script} })();</script></body></html>`;
}
