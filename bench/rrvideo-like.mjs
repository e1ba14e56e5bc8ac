// The obvious alternative to `reel video`, done the way rrweb's `rrvideo` does it (bench/RESULTS-render.md): rrweb's own
// player (rrweb-player from npm) plays the recording in real time in headless Chromium while a screen recorder writes a
// WebM. `rrvideo` itself is not on the reachable npm registry (E404), and Playwright's recorder needs an ffmpeg build
// it downloads, so the recorder here is what Playwright's is made of: Chromium's screencast (JPEG frames as they are
// drawn) piped to ffmpeg (Debian's) with wall-clock timestamps. Same method, same parts: the wall time is the
// recording's length plus start-up, whatever the machine.
//
//   node bench/rrvideo-like.mjs REC.json OUT.webm [--to SECONDS] [--size 1280x720]
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const [input, out] = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (!input || !out) { console.error('usage: node bench/rrvideo-like.mjs REC.json OUT.webm [--to SECONDS] [--size 1280x720]'); process.exit(2); }
const [width, height] = opt('--size', '1280x720').split('x').map(Number);
let events = JSON.parse(readFileSync(input, 'utf8'));
const t0 = events[0].timestamp;
const to = +opt('--to', Infinity);
events = events.filter((e) => e.timestamp - t0 <= to * 1000);
const seconds = (events[events.length - 1].timestamp - t0) / 1000;

const root = dirname(createRequire(import.meta.url).resolve('rrweb-player'));
const dist = (f) => readFileSync(join(root, f), 'utf8');
const html = `<!doctype html><html><head><style>${dist('style.css')} html,body{margin:0;padding:0;background:#fff}</style></head>
<body><script>${dist('rrweb-player.umd.cjs')}</script></body></html>`;

const started = performance.now();
const browser = await chromium.launch({ executablePath: process.env.REEL_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width, height } });
await page.setContent(html);
const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-use_wallclock_as_timestamps', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0',
  '-vsync', 'cfr', '-r', '24', '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-b:v', '1M', '-pix_fmt', 'yuv420p', out], { stdio: ['pipe', 'inherit', 'inherit'] });
const cdp = await page.context().newCDPSession(page);
cdp.on('Page.screencastFrame', (f) => {
  ffmpeg.stdin.write(Buffer.from(f.data, 'base64'));
  cdp.send('Page.screencastFrameAck', { sessionId: f.sessionId }).catch(() => {});
});
await cdp.send('Page.startScreencast', { format: 'jpeg', quality: 90, maxWidth: width, maxHeight: height, everyNthFrame: 1 });
// As rrvideo: the player fills the window without its controller, plays at 1× and reports the end.
await page.evaluate(({ events, width, height }) => new Promise((done) => {
  const Player = window.rrwebPlayer.default || window.rrwebPlayer;
  const p = new Player({ target: document.body, props: { events, width, height, showController: false, autoPlay: false, skipInactive: false, mouseTail: false } });
  p.addEventListener('finish', () => done());
  p.play();
}), { events, width, height });
await cdp.send('Page.stopScreencast');
ffmpeg.stdin.end();
await new Promise((r) => ffmpeg.on('close', r));
await browser.close();
const wall = (performance.now() - started) / 1000;
console.log(`${out}: ${seconds.toFixed(1)} s of recording in ${wall.toFixed(1)} s wall (${(seconds / wall).toFixed(2)}x real time)`);
