// Shared test helpers: a static page server, the browser, and "replay equals live" comparison.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { launch } from '../../../e2e/browser.mjs';

export { launch };
const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../../..');
const RECORDER = path.resolve(here, '..');
/** Optional third-party pages (swagger-ui-dist, shoelace): root node_modules first, then REEL_EXTRA_MODULES. */
export function findModule(name) {
  for (const base of [path.join(ROOT, 'node_modules'), process.env.REEL_EXTRA_MODULES || '/tmp/reel-extra/node_modules']) {
    const p = path.join(base, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.cjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

/** Serve test/pages, the recorder (/static/reel.js) and a few node_modules under /vendor/<name>/. */
export async function startPages() {
  const mounts = {
    '/static/': RECORDER + '/',
    '/vendor/replay/': path.join(ROOT, 'node_modules/@rrweb/replay/dist/'),
    '/vendor/rrweb/': path.join(ROOT, 'node_modules/rrweb/dist/'),
  };
  const sw = findModule('swagger-ui-dist'), sl = findModule('@shoelace-style/shoelace');
  if (sw) mounts['/vendor/swagger/'] = sw + '/';
  if (sl) mounts['/vendor/shoelace/'] = sl + '/';
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname.startsWith('/api/')) { // a tiny JSON API used by the pages
      let b = ''; req.on('data', c => b += c); req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Api-Key': 'k-123', 'X-Trace': 't1' });
        res.end(JSON.stringify({ ok: true, path: u.pathname, echo: b.length, pets: [{ id: 1, name: 'Rex' }] }));
      });
      return;
    }
    let file = null;
    for (const [m, dir] of Object.entries(mounts)) if (u.pathname.startsWith(m)) file = path.join(dir, u.pathname.slice(m.length));
    if (!file) file = path.join(here, 'pages', u.pathname === '/' ? 'form.html' : u.pathname);
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end('not found'); return; }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(data);
    });
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise(r => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** Decode a request body the way the server does (gzip by magic bytes). */
export const decodeBody = buf => JSON.parse((buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf).toString('utf8'));

/**
 * Browser-side: a line-per-node description of a document as a user would see it after masking.
 * live=true applies the recorder's privacy rules (so the live page can be compared with its masked replay).
 * Runs in the page via page.evaluate(normalize, opts).
 */
export function normalize({ live, mask, block, ignore, replay }) {
  const root = replay ? document.querySelector('iframe').contentDocument : document;
  const out = [];
  const closestX = (n, sel) => { let e = n.nodeType === 1 ? n : n.parentElement || (n.parentNode && n.parentNode.host); while (e) { const c = e.closest(sel); if (c) return c; e = e.getRootNode().host; } return null; };
  const walk = (n, d) => {
    const pad = ' '.repeat(d);
    if (n.nodeType === 3) {
      let t = n.data.replace(/\s+/g, ' ').trim();
      if (!t) return;
      if (live && closestX(n, mask)) t = t.replace(/\S/g, '*');
      out.push(pad + JSON.stringify(t));
      return;
    }
    if (n.nodeType !== 1) return;
    const tag = n.tagName.toLowerCase();
    if (/^(script|style|link|noscript|meta|title|head|template)$/.test(tag)) return;
    const blocked = live && n.matches(block);
    const cls = (n.getAttribute('class') || '').split(/\s+/).filter(c => c && c !== ':hover').sort().join('.');
    let line = pad + tag + (!blocked && n.id ? '#' + n.id : '') + (cls ? '.' + cls : '');
    if (blocked) { out.push(line); return; }
    if (/^(input|textarea)$/.test(tag) && !n.matches(ignore)) {
      const type = (n.type || '').toLowerCase();
      if (type === 'checkbox' || type === 'radio') line += ' checked=' + n.checked;
      else if (!/^(submit|button|hidden)$/.test(type)) line += ' value=' + (!live ? n.value : type === 'password' ? '********' : '*'.repeat(n.value.length));
    }
    out.push(line);
    if (tag === 'textarea') return;
    const sr = n.shadowRoot || (live && n.id === 'closed' && window.__closedRoot); // the test page exposes its closed root
    if (sr) { out.push(pad + ' #shadow'); for (const c of sr.childNodes) walk(c, d + 2); }
    if (tag === 'iframe') { let doc = null; try { doc = n.contentDocument; } catch (e) {} if (doc && doc.body) { out.push(pad + ' #document'); walk(doc.body, d + 2); } return; }
    for (const c of n.childNodes) walk(c, d + 1);
  };
  walk(root.body, 0);
  return out.join('\n');
}

const PRIV = { mask: '.rr-mask,.ph-mask,[data-reel-mask],[contenteditable]', block: '.rr-block,.ph-no-capture,[data-reel-block]', ignore: '.rr-ignore,.ph-ignore-input' };

/** The live page, normalized with the recorder's privacy rules applied. */
export const liveDom = (page, extra = {}) => page.evaluate(normalize, { live: true, ...PRIV, ...extra });

/**
 * Replay events in @rrweb/replay (in a fresh page of the same browser context's server) to the end,
 * then normalize the replayed document. Returns {dom, warnings, sample}.
 */
export async function replayDom(browser, pagesUrl, events, extra = {}) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const warnings = [];
  page.on('console', m => { if (m.type() === 'warning' || m.type() === 'error') warnings.push(m.text()); });
  await page.goto(pagesUrl + '/replay.html');
  await page.evaluate(async evs => {
    const r = new rrwebReplay.Replayer(evs, { root: document.getElementById('root'), mouseTail: false, triggerFocus: false, showWarning: true, speed: 1 });
    window.r = r;
    r.pause(r.getMetaData().totalTime + 1);
    await new Promise(res => setTimeout(res, 600));
  }, events);
  const dom = await page.evaluate(normalize, { live: false, replay: true, ...PRIV, ...extra });
  const out = { dom, warnings, page };
  return out;
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Line diff summary for assertion messages. */
export function diff(a, b) {
  const A = a.split('\n'), B = b.split('\n'), n = Math.max(A.length, B.length), out = [];
  for (let i = 0; i < n && out.length < 12; i++) if (A[i] !== B[i]) out.push(`@${i}\n  live:   ${A[i]}\n  replay: ${B[i]}`);
  return out.join('\n');
}
