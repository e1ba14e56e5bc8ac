// Assets inside the package (format 1.2), end to end: a small site on loopback (external stylesheet
// with a web font, an @import and a background image, `srcset` images, an image added by a mutation);
// `reel assets --allow-private` collects them; the site is stopped; the offline HTML of the package
// (`reel export --html`) plays from disk with the network off and every image comes from a blob: URL
// made from the package, with zero requests to the site.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { REEL, ROOT } from './server.mjs';
import { png } from './png.mjs';

const browser = await launch();
after(() => browser.close());

const FILES = {
  '/site.css': ['text/css', "@import 'more.css';\n@font-face { font-family: Site; src: url(fonts/site.woff2) format('woff2'); }\nbody { font-family: Site, sans-serif; background: url(\"/img/bg.png\") repeat; }"],
  '/more.css': ['text/css', 'h1 { background-image: url(img/more.png); }'],
  '/fonts/site.woff2': ['font/woff2', 'wOF2 not a real font'],
  '/img/bg.png': ['image/png', png(8, 8, [200, 30, 30])],
  '/img/more.png': ['image/png', png(3, 3, [0, 0, 0])],
  '/img/a1.png': ['image/png', png(20, 10, [30, 200, 30])],
  '/img/a2.png': ['image/png', png(40, 20, [30, 30, 200])],
  '/img/added.png': ['image/png', png(12, 12, [250, 200, 0])],
};

const el = (id, tag, attributes, childNodes = []) => ({ type: 2, id, tagName: tag, attributes, childNodes });

/** Serve FILES (and `page`, an HTML page) on loopback; `served` lists the paths asked for. */
async function startSite(page = '') {
  const served = [];
  const site = createServer((req, res) => {
    served.push(req.url);
    const f = req.url === '/page.html' ? ['text/html', page] : FILES[req.url];
    if (!f) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': f[0] });
    res.end(f[1]);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  return { site, served, base: `http://127.0.0.1:${site.address().port}` };
}

/** `reel assets --allow-private --json` (not spawnSync: the site answers from this process's event loop). */
function collectAssets(rec, pkg) {
  return new Promise((resolve, reject) => {
    const child = spawn(REEL, ['assets', rec, '-o', pkg, '--allow-private', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`reel assets: ${code} ${err}`))));
  });
}

/**
 * Collect the assets of `events` while the site is up, stop it, open the offline HTML of the
 * package with the network off at `t` seconds and report what the replay loaded.
 */
async function playOffline({ site, served, base }, events, t, imageIds) {
  const dir = mkdtempSync(join(tmpdir(), 'reel-assets-'));
  const rec = join(dir, 'rec.json');
  const pkg = join(dir, 'site.reel.zip');
  writeFileSync(rec, JSON.stringify(events));
  const summary = await collectAssets(rec, pkg);
  await new Promise((r) => { site.close(r); site.closeAllConnections?.(); });
  const before = served.length;
  const out = join(dir, 'site.html');
  execFileSync(REEL, ['export', '--html', pkg, '-o', out]);
  const ctx = await browser.newContext();
  await ctx.setOffline(true);
  const page = await ctx.newPage();
  const toSite = [];
  const errors = [];
  page.on('request', (r) => { if (r.url().startsWith(base)) toSite.push(r.url()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`file://${out}#t=${t}`);
  await page.waitForFunction(() => window.reel && window.reel.time != null, null, { timeout: 20000 });
  await page.waitForFunction((ids) => {
    const d = document.querySelector('iframe').contentDocument;
    return ids.map((id) => d.getElementById(id)).every((i) => i && i.complete && i.naturalWidth > 0);
  }, imageIds, { timeout: 10000 });
  const r = await page.evaluate((ids) => {
    const d = document.querySelector('iframe').contentDocument;
    const w = d.defaultView;
    /** @type {Record<string, {src: string, w: number}>} */
    const imgs = {};
    for (const id of ids) { const i = d.getElementById(id); imgs[id] = { src: i.currentSrc || i.src, w: i.naturalWidth }; }
    return {
      imgs,
      link: d.querySelector('link[rel=stylesheet]')?.getAttribute('href') || '',
      body: w.getComputedStyle(d.body).backgroundImage,
      h1: w.getComputedStyle(d.getElementById('title')).backgroundImage,
    };
  }, imageIds);
  await ctx.close();
  return { summary, r, toSite, errors, servedAfter: served.length - before };
}

test('reel assets: the offline HTML loads images from the package, none from the site', async () => {
  const s = await startSite();
  const { base } = s;
  const t = 1795000000000;
  const events = [
    { type: 4, timestamp: t, data: { href: `${base}/page.html`, width: 800, height: 600 } },
    { type: 2, timestamp: t + 1, data: { initialOffset: { top: 0, left: 0 }, node: { type: 0, id: 1, childNodes: [
      { type: 1, id: 2, name: 'html', publicId: '', systemId: '' },
      el(3, 'html', {}, [
        el(4, 'head', {}, [el(5, 'link', { rel: 'stylesheet', href: `${base}/site.css` })]),
        el(6, 'body', {}, [
          el(7, 'h1', { id: 'title' }, [{ type: 3, id: 8, textContent: 'Assets' }]),
          el(9, 'img', { id: 'pic', src: `${base}/img/a1.png`, srcset: `${base}/img/a1.png 1x, ${base}/img/a2.png 2x` }),
        ]),
      ]),
    ] } } },
    { type: 3, timestamp: t + 500, data: { source: 0, texts: [], attributes: [], removes: [],
      adds: [{ parentId: 6, nextId: null, node: el(20, 'img', { id: 'added', src: `${base}/img/added.png` }) }] } },
    { type: 3, timestamp: t + 1000, data: { source: 1, positions: [{ x: 10, y: 10, id: 6, timeOffset: 0 }] } },
  ];
  const { summary, r, toSite, errors, servedAfter } = await playOffline(s, events, 0.9, ['pic', 'added']);
  assert.equal(summary.fetched, Object.keys(FILES).length, JSON.stringify(summary));
  assert.deepEqual(summary.failed, []);
  assert.match(r.imgs.pic.src, /^blob:/, JSON.stringify(r));
  assert.ok(r.imgs.pic.w === 20 || r.imgs.pic.w === 40, JSON.stringify(r)); // a1 at 1x, a2 at 2x
  assert.match(r.imgs.added.src, /^blob:/);
  assert.equal(r.imgs.added.w, 12);
  assert.match(r.link, /^blob:/);
  assert.match(r.body, /url\("blob:/, 'the stylesheet\'s background image comes from the package');
  assert.match(r.h1, /url\("blob:/, 'the @imported stylesheet and its image too');
  assert.deepEqual(toSite, [], 'no request to the site');
  assert.equal(servedAfter, 0);
  assert.deepEqual(errors, []);
});

test('reel assets on a recording made by rrweb in Chromium (inlined stylesheet, srcset, image added later)', async () => {
  const html = '<!doctype html><html><head><link rel="stylesheet" href="/site.css"></head><body>' +
    '<h1 id="title">Recorded</h1><img id="pic" src="img/a1.png" srcset="img/a1.png 1x, img/a2.png 2x"></body></html>';
  const s = await startSite(html);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${s.base}/page.html`);
  await page.waitForFunction(() => document.getElementById('pic').complete && document.styleSheets.length > 0);
  await page.addScriptTag({ content: readFileSync(join(ROOT, 'node_modules/rrweb/dist/rrweb.umd.cjs'), 'utf8') });
  await page.evaluate(() => {
    window.__events = [];
    window.rrweb.record({ emit: (e) => window.__events.push(e) });
  });
  await page.waitForTimeout(200);
  await page.evaluate(() => new Promise((res) => {
    const i = document.createElement('img');
    i.id = 'added';
    i.onload = res;
    i.src = '/img/added.png';
    document.body.appendChild(i);
  }));
  await page.waitForTimeout(300);
  const events = await page.evaluate(() => window.__events);
  await ctx.close();
  const end = (events[events.length - 1].timestamp - events[0].timestamp) / 1000;
  const { summary, r, toSite, errors } = await playOffline(s, events, end, ['pic', 'added']);
  assert.deepEqual(summary.failed, [], JSON.stringify(summary));
  assert.match(r.imgs.pic.src, /^blob:/, JSON.stringify(r));
  assert.match(r.imgs.added.src, /^blob:/, JSON.stringify(r));
  assert.equal(r.imgs.added.w, 12);
  // rrweb inlined the stylesheet (and its @import) as _cssText with absolute URLs: the font and both images
  // in it, the srcset images and the image added later.
  assert.equal(summary.fetched, 6, JSON.stringify(summary));
  assert.equal(r.link, '', 'an inlined stylesheet');
  assert.match(r.body, /url\("blob:/, 'background image of the inlined stylesheet from the package');
  assert.match(r.h1, /url\("blob:/);
  assert.deepEqual(toSite, [], 'no request to the site');
  assert.deepEqual(errors, []);
});
