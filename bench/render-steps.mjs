// Where the player's render mode spends its time when `reel video` steps through frames (bench/RESULTS-render.md).
//
//   reel export --html REC.json -o page.html      # the page `reel video` loads (the recording inside)
//   node bench/render-steps.mjs page.html [--to SECONDS] [--fps 24] [--profile]
//   node bench/render-steps.mjs REC.json ...      # the player of this checkout (web/player) on REC, over loopback
//
// Opens the page in render mode in Debian's Chromium with the flags `reel video` uses, steps through every frame time
// with `window.__reel.steps` exactly as the renderer does (without captures), and prints the wall time, the number of
// calls and, with `--profile`, the functions with the most self time (DevTools CPU profile).
import { chromium } from 'playwright-core';
import { resolve, join, extname } from 'node:path';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const file = args.find((a) => !a.startsWith('--') && !/^[\d.]+$/.test(a));
if (!file) { console.error('usage: node bench/render-steps.mjs page.html [--to SECONDS] [--fps 24] [--profile]'); process.exit(2); }
const fps = +opt('--fps', 24);
const browser = await chromium.launch({
  executablePath: process.env.REEL_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--disable-partial-raster', '--disable-frame-rate-limit', '--disable-gpu-vsync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
let server = null;
if (/\.html$/.test(file)) await page.goto(`file://${resolve(file)}?render`);
else {
  // web/player as it is in this checkout (no rebuild of `reel` needed), the recording at /rec.
  const root = process.env.PLAYER_DIR || new URL('../web/player/', import.meta.url).pathname;
  const types = { '.js': 'text/javascript', '.html': 'text/html', '.css': 'text/css' };
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    try {
      const body = path === '/rec' ? readFileSync(resolve(file)) : readFileSync(join(root, path.replace(/\.\./g, '')));
      res.writeHead(200, { 'content-type': types[extname(path)] || 'application/octet-stream' }).end(body);
    } catch { res.writeHead(404).end(); }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  await page.goto(`http://127.0.0.1:${server.address().port}/player.html?render&src=/rec`);
}
await page.waitForFunction(() => window.__reel && window.__reel.ready);
await page.evaluate(() => window.__reel.ready);
const info = await page.evaluate(() => window.__reel.info());
const to = Math.min(+opt('--to', Infinity), info.duration / 1000);
const times = [];
for (let i = 0; i / fps <= to; i++) times.push(i / fps);
const cdp = await page.context().newCDPSession(page);
if (args.includes('--profile')) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); await cdp.send('Profiler.start'); }
const t0 = performance.now();
let calls = 0, changes = 0;
for (let b = 0; b < times.length; b += 240) {
  const block = times.slice(b, b + 240);
  let k = 0;
  while (k < block.length) {
    const r = await page.evaluate((l) => window.__reel.steps(l), block.slice(k));
    calls++;
    if (r.i < block.length - k) changes++;
    k += r.frames.length;
  }
}
const wall = performance.now() - t0;
console.log(`${times.length} frames (${to.toFixed(1)} s) in ${(wall / 1000).toFixed(2)} s: ${calls} calls, ${changes} page changes, ${(wall / calls).toFixed(2)} ms a call`);
if (args.includes('--profile')) {
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) || 0) + (dt[i + 1] || 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${(100 * us / total).toFixed(1).padStart(5)} %  ${k}`);
}
await browser.close();
if (server) server.close();
