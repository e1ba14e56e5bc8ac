// A real session recorded in Chromium by Reel's recorder (reel.js served by `reel serve`) on local pages — typing into
// an input, scrolling a long page, navigating to a second page (a new full snapshot), resizing the window — renders
// with `reel video` without black or frozen frames: the frames change where the recording changes (every recorded
// scroll position and input value is in the frame that follows it), the typed text
// shows up in the input, the second page and the new window size are on screen after they happen.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, api, servePages, waitFor, CAPTURE, REEL } from './server.mjs';

const browser = await launch();
const dir = mkdtempSync(join(tmpdir(), 'reel-activity-'));
after(async () => { await browser.close(); rmSync(dir, { recursive: true, force: true }); });

const FPS = 10, W = 640, H = 360; // the page (1280x720) at half size

/**
 * Every frame of `video` on the FPS grid as raw RGB (W×H×3 bytes each): frame k is what a player shows at k/FPS, the
 * last stored picture whose time is at or before it. Reel's videos have a variable frame rate (a picture is stored
 * only when it changes), so the stored pictures are decoded as they are (no frame-rate conversion, whose rounding may
 * move a change by a frame) and placed by their own timestamps.
 */
function frames(video) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', video, '-vsync', 'passthrough', '-vf', 'showinfo', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, String(r.stderr));
  const pts = [...String(r.stderr).matchAll(/Parsed_showinfo.* pts_time:([0-9.]+)/g)].map((m) => Number(m[1]));
  const size = W * H * 3, stored = [];
  for (let o = 0; o + size <= r.stdout.length; o += size) stored.push(r.stdout.subarray(o, o + size));
  assert.equal(stored.length, pts.length, 'one timestamp per stored picture');
  const out = [];
  for (let k = 0, j = 0; k <= Math.round(pts[pts.length - 1] * FPS); k++) {
    while (j + 1 < pts.length && pts[j + 1] <= k / FPS + 1e-3) j++;
    out.push(stored[j]);
  }
  return out;
}

/** Mean absolute difference (0–255) of two frames inside a rectangle (whole frame by default). */
function diff(a, b, box = { x: 0, y: 0, w: W, h: H }) {
  let s = 0;
  for (let y = box.y; y < box.y + box.h; y++) for (let x = box.x; x < box.x + box.w; x++) for (let k = 0; k < 3; k++) { const i = (y * W + x) * 3 + k; s += Math.abs(a[i] - b[i]); }
  return s / (box.w * box.h * 3);
}

/** Mean colour of a rectangle. */
function mean(f, box) {
  const c = [0, 0, 0];
  for (let y = box.y; y < box.y + box.h; y++) for (let x = box.x; x < box.x + box.w; x++) for (let k = 0; k < 3; k++) c[k] += f[(y * W + x) * 3 + k];
  return c.map((v) => v / (box.w * box.h));
}

test('navigate, scroll, type, resize: a recorded session renders without black or frozen frames', async () => {
  const server = await startReel({ mode: 'embedded' });
  const head = `<script src="${server.url}/static/reel.js"></script>
    <script>reel.init({ apiHost: '${server.url}', token: '${CAPTURE}', flushIntervalMs: 300, maskAllInputs: false });</script>
    <style>body{margin:0;font:20px sans-serif} input{font:32px monospace;width:1000px;margin:20px}</style>`;
  const rows = Array.from({ length: 80 }, (_, i) => `<div style="height:60px;background:hsl(${i * 37 % 360},70%,${40 + i % 3 * 15}%)">row ${i}</div>`).join('');
  const site = await servePages({
    '/one.html': `<!doctype html><html><head><title>One</title>${head}</head><body><input id="name" placeholder=""><a id="next" href="/two.html">next</a>${rows}</body></html>`,
    '/two.html': `<!doctype html><html><head><title>Two</title>${head}</head><body style="background:rgb(20,170,90);height:100vh"><h1>Second page</h1></body></html>`,
  });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  const marks = {};
  const mark = (k) => { marks[k] = Date.now(); };
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  try {
    await tab.goto(`${site.url}/one.html`);
    await tab.waitForFunction(() => window.reel && window.reel.sessionId);
    const sid = await tab.evaluate(() => window.reel.sessionId);
    const box = await tab.locator('#name').boundingBox();
    await pause(800);
    await tab.click('#name');
    mark('type0'); await tab.keyboard.type('Hello from Reel, typed one key at a time', { delay: 70 }); mark('type1');
    await pause(800);
    await tab.mouse.move(640, 400);
    mark('scroll0');
    for (let i = 0; i < 12; i++) { await tab.mouse.wheel(0, 250); await pause(150); }
    mark('scroll1');
    await pause(800);
    await tab.evaluate(() => window.reel.flush());
    mark('nav0'); await tab.evaluate(() => document.getElementById('next').click());
    await tab.waitForFunction(() => location.pathname === '/two.html' && window.reel && window.reel.sessionId);
    mark('nav1');
    assert.equal(await tab.evaluate(() => window.reel.sessionId), sid, 'one session across the navigation');
    await pause(800);
    mark('resize0'); await tab.setViewportSize({ width: 900, height: 600 }); mark('resize1');
    await pause(1000);
    await tab.mouse.move(100, 100);
    await tab.evaluate(() => window.reel.flush());
    await waitFor(async () => { const r = await api(server, `/api/v1/sessions/${sid}`); return r.recording_duration * 1000 >= marks.resize1 - marks.type0 + 1000; }, { what: 'the whole session stored' });

    const events = await api(server, `/api/v1/sessions/${sid}/events`);
    const t0 = events[0].timestamp;
    const at = (k) => (marks[k] - t0) / 1000; // seconds into the recording = into the video
    const zip = join(dir, 's.reel.zip');
    writeFileSync(zip, await api(server, `/api/v1/sessions/${sid}/export`));
    const video = join(dir, 's.mp4');
    const stats = JSON.parse(execFileSync(REEL, ['video', zip, '--fps', String(FPS), '--size', `${W}x${H}`, '--json', '-o', video]).toString());
    const f = frames(video);
    // Typing changes only the input: those frames capture just its rectangle into the last page. The same video
    // captured whole page every time shows the same pictures.
    assert.ok(stats.clipped >= 3, `typing captured the field alone (${JSON.stringify(stats)})`);
    const whole = join(dir, 'whole.mp4');
    const wstats = JSON.parse(execFileSync(REEL, ['video', zip, '--fps', String(FPS), '--size', `${W}x${H}`, '--json', '-o', whole], { env: { ...process.env, REEL_RENDER_NO_CLIP: '1' } }).toString());
    assert.equal(wstats.clipped, 0);
    const g = frames(whole);
    assert.equal(g.length, f.length);
    let worst = 0;
    for (let k = 0; k < f.length; k++) worst = Math.max(worst, diff(f[k], g[k]));
    console.log(`clipped ${stats.clipped} of ${stats.captures} captures; largest mean difference from whole captures ${worst.toFixed(3)}`);
    assert.ok(worst < 0.5, `a frame rendered from field captures differs from the whole page's (${worst})`);
    const n = (s) => Math.max(0, Math.min(f.length - 1, Math.round(s * FPS)));
    console.log(`${f.length} frames; marks (s): ${Object.keys(marks).map((k) => `${k} ${at(k).toFixed(2)}`).join(', ')}`);

    // No black frame (ffmpeg's blackdetect, and no frame that is mostly dark).
    const bd = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', video, '-vf', 'blackdetect=d=0:pix_th=0.10', '-f', 'null', '-'], { encoding: 'utf8' });
    assert.doesNotMatch(bd.stderr, /black_start/, 'blackdetect found black frames');
    f.forEach((x, i) => assert.ok(mean(x, { x: 0, y: 0, w: W, h: H }).reduce((a, b) => a + b) / 3 > 30, `frame ${i} is dark`));

    // The frames change where the recording changes. The recorder samples the page as it can (a busy machine
    // records fewer scroll and input events), so the changes expected are the recording's own: every recorded
    // scroll position and input value that differs from the one before shows in the first frame at or after
    // it, and that frame differs from the frame of the one before (a typed trailing space changes no pixel).
    const input = { x: Math.floor(box.x / 2), y: Math.floor(box.y / 2), w: Math.ceil(box.width / 2), h: Math.ceil(box.height / 2) };
    const frameAt = (ms) => Math.min(f.length - 1, Math.ceil(((ms - t0) / 1000) * FPS - 1e-6));
    const follows = (source, key, region, what, from, to) => {
      const steps = events.filter((e) => e.type === 3 && e.data.source === source && e.timestamp >= t0 + from * 1000 && e.timestamp <= t0 + to * 1000);
      let checked = 0;
      for (let k = 1; k < steps.length; k++) {
        const a = frameAt(steps[k - 1].timestamp), b = frameAt(steps[k].timestamp);
        if (key(steps[k]) === key(steps[k - 1]) || b === a) continue;
        const d = diff(f[b], f[a], region);
        assert.ok(d > 0.05, `${what}: the recording changes at ${((steps[k].timestamp - t0) / 1000).toFixed(2)} s but frame ${b} equals frame ${a} (${d.toFixed(3)}; later frames differ by ${[1, 2, 3].map((j) => diff(f[Math.min(f.length - 1, b + j)], f[a], region).toFixed(3)).join(', ')}; steps ${JSON.stringify(steps.slice(Math.max(0, k - 2), k + 2).map((e) => [e.timestamp - t0, key(e)]))})`);
        checked++;
      }
      console.log(`${what}: ${steps.length} recorded steps, ${checked} frame changes checked`);
      assert.ok(checked >= 3, `${what}: too few recorded steps to check (${checked})`);
    };
    follows(5, (e) => String(e.data.text).trimEnd(), input, 'typing', at('type0') - 0.1, at('type1') + 0.5);
    const typed = diff(f[n(at('type1') + 0.4)], f[n(at('type0') - 0.2)], input);
    console.log(`input region before/after typing: ${typed.toFixed(2)}`);
    assert.ok(typed > 3, `the typed text is not visible in the input (${typed})`);

    // Scrolling: the page moves with every recorded scroll position and ends elsewhere.
    follows(3, (e) => `${e.data.x},${e.data.y}`, undefined, 'scrolling', at('scroll0') - 0.1, at('scroll1') + 0.5);
    assert.ok(diff(f[n(at('scroll1') + 0.5)], f[n(at('scroll0') - 0.2)]) > 10, 'the page did not scroll');

    // Navigation: the second page (green) is shown after it loaded, not before.
    const centre = { x: W / 2 - 20, y: H / 2 - 20, w: 40, h: 40 };
    const green = (c) => c[1] > 140 && c[0] < 60 && c[2] < 120;
    assert.ok(!green(mean(f[n(at('nav0') - 0.2)], centre)), 'the second page before the navigation');
    const after2 = mean(f[n(at('nav1') + 0.5)], centre);
    assert.ok(green(after2), `the second page is not shown after the navigation (${after2})`);

    // Resize: 900x600 in a 640x360 frame is letterboxed (the sides are the stage's, not the page's).
    const side = { x: 2, y: H / 2 - 10, w: 20, h: 20 };
    assert.ok(green(mean(f[n(at('resize0') - 0.2)], side)), 'before the resize the page fills the frame');
    const bar = mean(f[n(at('resize1') + 0.6)], side);
    assert.ok(!green(bar) && bar[1] < 60, `after the resize the page is letterboxed (${bar})`);
    assert.ok(green(mean(f[n(at('resize1') + 0.6)], centre)));
  } finally {
    await tab.close(); await site.close(); await server.stop(); server.cleanup();
  }
});
