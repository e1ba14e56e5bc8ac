// Shared test helpers: a tiny static server and a browser page that only reaches that server.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, extname, normalize } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { createHash } from 'node:crypto';
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

/**
 * Test-only ZIP writer (deflate entries; `zip64` forces zip64 extra fields and records).
 * @param {{name: string, data: Buffer|string}[]} files
 */
export function makeZip(files, { zip64 = false } = {}) {
  const crcTable = new Int32Array(256).map((_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c; });
  const crc32 = (b) => { let c = -1; for (const x of b) c = crcTable[(c ^ x) & 255] ^ (c >>> 8); return (c ^ -1) >>> 0; };
  const locals = [], centrals = [];
  let offset = 0;
  for (const f of files) {
    const data = Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data);
    const comp = deflateRawSync(data);
    const name = Buffer.from(f.name);
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(zip64 ? 45 : 20, 4); lh.writeUInt16LE(8, 8);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(comp.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, comp);
    const extra = zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (zip64) { extra.writeUInt16LE(1, 0); extra.writeUInt16LE(24, 2); extra.writeBigUInt64LE(BigInt(data.length), 4); extra.writeBigUInt64LE(BigInt(comp.length), 12); extra.writeBigUInt64LE(BigInt(offset), 20); }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(45, 4); ch.writeUInt16LE(zip64 ? 45 : 20, 6); ch.writeUInt16LE(8, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(zip64 ? 0xffffffff : comp.length, 20); ch.writeUInt32LE(zip64 ? 0xffffffff : data.length, 24);
    ch.writeUInt16LE(name.length, 28); ch.writeUInt16LE(extra.length, 30); ch.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    centrals.push(ch, name, extra);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const tail = [];
  if (zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0); z.writeBigUInt64LE(44n, 4); z.writeUInt16LE(45, 12); z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(files.length), 24); z.writeBigUInt64LE(BigInt(files.length), 32);
    z.writeBigUInt64LE(BigInt(cd.length), 40); z.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0); loc.writeBigUInt64LE(BigInt(offset + cd.length), 8); loc.writeUInt32LE(1, 16);
    tail.push(z, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(zip64 ? 0xffff : files.length, 8); eocd.writeUInt16LE(zip64 ? 0xffff : files.length, 10);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12); eocd.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...locals, cd, ...tail, eocd]);
}

/** A Reel package (.reel.zip) from sessions: [{id, meta, windows: {windowId: events[]}}]. */
export function makeReelPackage(sessions, opts) {
  const files = [];
  for (const s of sessions) {
    files.push({ name: `sessions/${s.id}/meta.json`, data: JSON.stringify({ id: s.id, ...s.meta }) });
    for (const [w, evs] of Object.entries(s.windows)) files.push({ name: `sessions/${s.id}/windows/${w}.jsonl`, data: evs.map((e) => JSON.stringify(e)).join('\n') + '\n' });
  }
  const sha = (d) => createHash('sha256').update(d).digest('hex');
  const manifest = { format: 'reel', format_version: opts && opts.version || '1.0', sessions: sessions.map((s) => ({ id: s.id })),
    files: files.map((f) => ({ path: f.name, bytes: Buffer.byteLength(f.data), sha256: opts && opts.corrupt === f.name ? sha('tampered') : sha(f.data) })) };
  return makeZip([{ name: 'manifest.json', data: JSON.stringify(manifest) }, ...files], opts);
}
