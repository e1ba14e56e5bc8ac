// Assets inside the package, judged by the picture (issue 14, "Verified"): a site on loopback with an external
// stylesheet, a web font, background images, a `srcset` image and an image added after load is recorded in Chromium —
// by rrweb's recorder and by Reel's — and screenshots of the live page are taken at three instants (after load, after
// the late image, after a scroll). `reel assets` collects the assets while the site is up; the site stops; the offline
// HTML (`reel export --html`) is opened with the network off: no request leaves the page, and the replay at those
// instants matches the live screenshots (SSIM ≥ 0.97), while the same recording packed without assets does not.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { REEL, ROOT } from './server.mjs';
import { png } from './png.mjs';
import { ssim } from './frames.mjs';

const browser = await launch(['--font-render-hinting=none', '--disable-lcd-text']);
after(() => browser.close());

const W = 800, H = 600;
// A real font file for the web font: any TrueType font Debian's Chromium brings along (its fonts are dependencies).
const FONT = ['/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf', '/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'].find((f) => existsSync(f));

const stripes = (w, h, a, b, period) => png(w, h, (x, y) => (Math.floor((x + y) / period) % 2 ? a : b));
const FILES = {
  '/page.html': ['text/html', `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/site.css"></head><body>
<h1 id="title">Offline, years later</h1>
<img id="hero" src="/img/hero.png" srcset="/img/hero.png 1x, /img/hero2.png 2x" width="320" height="120">
<div class="card">A card with a background</div><p>Text set in the site's own font.</p><div class="spacer"></div><p>Below the fold</p>
</body></html>`],
  '/site.css': ['text/css', `@import url(/more.css);
@font-face { font-family: SiteFont; src: url(/fonts/site.ttf) format('truetype'); }
body { margin: 0; padding: 16px 24px; font-family: SiteFont, monospace; color: #222; background: #fff url(/img/bg.png) repeat; }
h1 { font-size: 40px; margin: 0 0 12px; }
.spacer { height: 700px; }`],
  '/more.css': ['text/css', '.card { width: 360px; height: 110px; margin: 14px 0; padding: 10px; color: #fff; font-size: 26px; background: url(/img/card.png); }'],
  '/fonts/site.ttf': ['font/ttf', FONT ? readFileSync(FONT) : Buffer.alloc(0)],
  '/img/bg.png': ['image/png', stripes(24, 24, [236, 240, 255], [255, 250, 236], 6)],
  '/img/card.png': ['image/png', stripes(40, 40, [40, 90, 200], [20, 140, 110], 10)],
  '/img/hero.png': ['image/png', png(320, 120, (x, y) => [(x * 3) % 256, (y * 5) % 256, ((x ^ y) * 7) % 256])],
  '/img/hero2.png': ['image/png', png(640, 240, (x, y) => [(x * 3) % 256, (y * 5) % 256, ((x ^ y) * 7) % 256])],
  '/img/late.png': ['image/png', stripes(200, 80, [220, 40, 40], [250, 200, 0], 8)],
  // Reel's recorder as a site would serve it (it loads its exporter from beside itself).
  '/reel.js': ['text/javascript', readFileSync(join(ROOT, 'web/recorder/reel.js'))],
  '/reel-export.js': ['text/javascript', readFileSync(join(ROOT, 'web/recorder/reel-export.js'))],
};

async function startSite() {
  const served = [];
  const site = createServer((req, res) => {
    served.push(req.url);
    const f = FILES[req.url];
    if (!f) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': f[0] });
    res.end(f[1]);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  return { site, served, base: `http://127.0.0.1:${site.address().port}`, stop: () => new Promise((r) => { site.close(r); site.closeAllConnections?.(); }) };
}

/** Run `reel` (not spawnSync: the site answers from this process's event loop). */
function reel(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(REEL, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`reel ${args[0]}: ${code} ${err}`))));
  });
}

/** Wait until every image of `doc`'s page and its fonts are loaded. */
const settled = () => Promise.all([document.fonts.ready, ...[...document.images].map((i) => (i.complete ? 0 : new Promise((r) => { i.onload = i.onerror = r; })))]);

/**
 * Record the live page with `recorder` ('rrweb' or 'reel'), taking screenshots at three instants. Returns the
 * recording (a file path), the instants (seconds from the first event) and the live screenshots.
 */
async function recordLive(base, recorder, dir) {
  const ctx = await browser.newContext({ viewport: { width: W, height: H }, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  await page.goto(`${base}/page.html`);
  await page.evaluate(settled);
  if (recorder === 'rrweb') {
    await page.addScriptTag({ content: readFileSync(join(ROOT, 'node_modules/rrweb/dist/rrweb.umd.cjs'), 'utf8') });
    await page.evaluate(() => { window.__events = []; window.rrweb.record({ emit: (e) => window.__events.push(e) }); });
  } else {
    await page.addScriptTag({ url: '/reel.js' });
    await page.evaluate(() => window.reel.init({ token: 'offline', keepBytes: 8 << 20 }));
    await page.waitForFunction(() => window.reel.stats().snapshots > 0);
  }
  const shots = [];
  const shoot = async (name) => {
    await page.waitForTimeout(300);
    const at = await page.evaluate(() => Date.now());
    const file = join(dir, `${recorder}-live-${name}.png`);
    await page.screenshot({ path: file });
    shots.push({ name, at, file });
    await page.waitForTimeout(150);
  };
  await shoot('loaded');
  await page.evaluate(() => new Promise((res) => {
    const i = document.createElement('img');
    i.id = 'late'; i.onload = res; i.src = '/img/late.png';
    document.querySelector('.card').after(i);
  }));
  await shoot('late-image');
  await page.evaluate(() => window.scrollTo(0, 260));
  await shoot('scrolled');
  let rec;
  if (recorder === 'rrweb') {
    rec = join(dir, 'rrweb.json');
    writeFileSync(rec, JSON.stringify(await page.evaluate(() => window.__events)));
  } else {
    rec = join(dir, 'reel-recorder.reel.zip');
    const b64 = await page.evaluate(async () => {
      const buf = new Uint8Array(await (await window.reel.exportPackage()).arrayBuffer());
      let s = ''; for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
      return btoa(s);
    });
    writeFileSync(rec, Buffer.from(b64, 'base64'));
  }
  await ctx.close();
  return { rec, shots };
}

/** The offline HTML of `pkg` opened with the network off, the replay at each instant as a PNG. */
async function replayOffline(pkg, first, shots, label, dir, base) {
  const html = join(dir, `${label}.html`);
  execFileSync(REEL, ['export', '--html', pkg, '-o', html]);
  const ctx = await browser.newContext({ viewport: { width: 1500, height: 1000 }, deviceScaleFactor: 1 });
  await ctx.setOffline(true);
  const page = await ctx.newPage();
  const toSite = [];
  const errors = [];
  page.on('request', (r) => { if (r.url().startsWith(base)) toSite.push(r.url()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const out = [];
  for (const s of shots) {
    const t = ((s.at - first) / 1000).toFixed(3);
    await page.goto(`file://${html}#t=${t}`);
    await page.waitForFunction(() => window.reel && window.reel.time != null, null, { timeout: 20000 });
    // The page only: the player's cursor is drawn over the replay (the live page had none under the screenshot).
    await page.addStyleTag({ content: '.reel-cursor,.reel-ripple,.reel-trail{display:none!important}' });
    await page.waitForTimeout(200);
    await page.evaluate(async () => {
      const d = document.querySelector('iframe').contentDocument;
      await Promise.race([Promise.all([d.fonts.ready, ...[...d.images].map((i) => (i.complete ? 0 : new Promise((r) => { i.onload = i.onerror = r; })))]),
        new Promise((r) => setTimeout(r, 3000))]);
    });
    await page.waitForTimeout(200);
    const box = await page.evaluate(() => { const r = document.querySelector('.reel-viewport').getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; });
    assert.deepEqual([Math.round(box.width), Math.round(box.height)], [W, H], `${label}: the replay at 1:1`);
    const file = join(dir, `${label}-${s.name}.png`);
    await page.screenshot({ path: file, clip: { x: Math.round(box.x), y: Math.round(box.y), width: W, height: H } });
    out.push(file);
  }
  await ctx.close();
  return { files: out, toSite, errors };
}

for (const recorder of ['rrweb', 'reel']) {
  test(`offline replay with assets matches the live site (SSIM ≥ 0.97), without them it does not (${recorder})`, async () => {
    assert.ok(FONT, 'a TrueType font under /usr/share/fonts (Debian: fonts-dejavu-core or fonts-liberation)');
    const dir = mkdtempSync(join(tmpdir(), `reel-fidelity-${recorder}-`));
    const s = await startSite();
    try {
      const { rec, shots } = await recordLive(s.base, recorder, dir);
      const pkg = join(dir, 'with-assets.reel.zip');
      const summary = JSON.parse(await reel(['assets', rec, '-o', pkg, '--allow-private', '--json']));
      assert.deepEqual(summary.failed, [], JSON.stringify(summary));
      const plain = join(dir, 'without.reel.zip');
      await reel(['pack', rec, '-o', plain]);
      const first = JSON.parse(execFileSync(REEL, ['inspect', plain, '--json']).toString()).sessions[0].start_time;
      await s.stop();
      const servedBefore = s.served.length;
      const withA = await replayOffline(pkg, Date.parse(first), shots, `${recorder}-with`, dir, s.base);
      const without = await replayOffline(plain, Date.parse(first), shots, `${recorder}-without`, dir, s.base);
      assert.deepEqual(withA.toSite, [], 'no request leaves the offline page');
      assert.deepEqual(withA.errors, []);
      assert.equal(s.served.length, servedBefore);
      const scores = shots.map((sh, i) => ({ at: sh.name, with: ssim(sh.file, withA.files[i]), without: ssim(sh.file, without.files[i]) }));
      console.log(`${recorder}: ${scores.map((x) => `${x.at} SSIM with assets ${x.with.toFixed(4)}, without ${x.without.toFixed(4)}`).join('; ')}`);
      for (const x of scores) assert.ok(x.with >= 0.97, `${recorder} ${x.at}: SSIM with assets ${x.with.toFixed(4)} < 0.97 (files in ${dir})`);
      assert.ok(scores.some((x) => x.without < 0.97), `${recorder}: without assets the replay should not match (${JSON.stringify(scores)})`);
      rmSync(dir, { recursive: true, force: true });
    } finally { await s.stop().catch(() => {}); }
  });
}
