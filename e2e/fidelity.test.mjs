// Fidelity (issue 11): on the recordings in tests/fixtures, at several instants, the frame of `reel video`, the PNG of
// `reel screenshot --at t` and the player's own `#t=` view (the offline player page in Chromium, stage at 100 %) are
// the same picture: ffmpeg's `ssim` ≥ 0.95 over the frame and around a click whose ripple is on screen. A frame
// depends only on t, not on how the player got there (stepping frame by frame for a video, jumping for a screenshot).
// ffprobe checks duration, frame rate and size of MP4, WebM and GIF.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { REEL, ROOT } from './server.mjs';
import { ssim, frameAt, probe, decodePng, mad } from './frames.mjs';

// As reel-render starts it: whole tiles repainted, so the same instant gives the same pixels whatever was shown before.
const browser = await launch(['--disable-partial-raster']);
const dir = mkdtempSync(join(tmpdir(), 'reel-fidelity-'));
after(async () => { await browser.close(); rmSync(dir, { recursive: true, force: true }); });

const FPS = 5; // video frames every 0.2 s: the instants below are on that grid
const grid = (s) => Math.round(s * FPS) / FPS;

/** Clicks of a fixture: [{t (s from the first event), x, y}]. */
function clicks(events) {
  const t0 = events[0].timestamp;
  return events.filter((e) => e.type === 3 && e.data.source === 2 && e.data.type === 2).map((e) => ({ t: (e.timestamp - t0) / 1000, x: e.data.x, y: e.data.y }));
}

/** The player as a person opens it: offline page, `#t=` deep link, viewport large enough to show the page at 100 %. */
async function playerView(html, t, png) {
  const page = await browser.newPage({ viewport: { width: 2400, height: 1400 } });
  try {
    await page.goto(`file://${html}#t=${t}`);
    await page.waitForFunction(() => window.reel && window.reel.engine, null, { timeout: 30000 });
    await page.waitForTimeout(400); // cursor transition, image errors
    const info = await page.evaluate(() => ({ w: window.reel.engine.state.width, h: window.reel.engine.state.height,
      ripples: document.querySelectorAll('.reel-viewport .reel-ripple').length }));
    writeFileSync(png, await page.locator('.reel-viewport').screenshot());
    return info;
  } finally { await page.close(); }
}

for (const name of ['checkout', 'swagger', 'shoelace']) {
  test(`${name}: the video's frame, reel screenshot and the player's #t= view agree (SSIM ≥ 0.95)`, async () => {
    const fixture = join(ROOT, `tests/fixtures/rrweb/${name}.json`);
    const events = JSON.parse(readFileSync(fixture, 'utf8'));
    const duration = (events.at(-1).timestamp - events[0].timestamp) / 1000;
    const cs = clicks(events);
    // Two instants a fraction of a second after a click (its ripple is drawn), the middle and near the end.
    const rippled = [cs[1], cs[Math.floor(cs.length / 2)]].map((c) => ({ ...c, at: grid(c.t + 0.25) }));
    const instants = [...rippled.map((c) => c.at), grid(duration / 2 + 0.1), grid(duration - 1.5)];
    const html = join(dir, `${name}.html`);
    execFileSync(REEL, ['export', '--html', fixture, '-o', html]);
    const seen = [];
    for (const t of instants) {
      // Frames at the size of the recorded page at t (it changes within these recordings): 100 %, as in the player.
      const view = join(dir, `${name}-view-${t}.png`);
      const { w, h, ripples } = await playerView(html, t, view);
      assert.deepEqual([decodePng(readFileSync(view)).w, decodePng(readFileSync(view)).h], [w, h], 'the player shows the page at 100 %');
      assert.ok(w % 2 === 0 && h % 2 === 0, `an MP4 needs even sides (${w}x${h})`);
      const shot = join(dir, `${name}-shot-${t}.png`);
      execFileSync(REEL, ['screenshot', fixture, '--at', String(t), '--size', `${w}x${h}`, '-o', shot]);
      // The video steps through the frames before t (the path a video takes), the screenshot jumps to t.
      const from = Math.max(0, t - 1.2), video = join(dir, `${name}-${t}.mp4`);
      execFileSync(REEL, ['video', fixture, '--from', String(from), '--to', String(Math.min(duration, t + 0.4)), '--fps', String(FPS), '--size', `${w}x${h}`, '-o', video]);
      const frame = frameAt(video, Math.round((t - from) * FPS), join(dir, `${name}-frame-${t}.png`), FPS);
      const s = { videoShot: ssim(frame, shot), shotView: ssim(shot, view), videoView: ssim(frame, view) };
      const click = rippled.find((c) => c.at === t);
      let line = `${name} at ${t} s (${w}x${h}): SSIM video/screenshot ${s.videoShot.toFixed(4)}, screenshot/#t= ${s.shotView.toFixed(4)}, video/#t= ${s.videoView.toFixed(4)}`;
      if (click) {
        // Around the click: the ripple (0.6 s) is drawn in all three, the same way (luma: the video's colour is at half
        // resolution, which blurs a 3 px ring's colour).
        assert.ok(ripples >= 1, `${name} at ${t} s: the player shows the ripple of the click at ${click.t.toFixed(2)} s`);
        const crop = { w: 120, h: 120, x: Math.max(0, Math.min(w - 120, Math.round(click.x) - 60)), y: Math.max(0, Math.min(h - 120, Math.round(click.y) - 60)) };
        s.rippleVideoShot = ssim(frame, shot, crop, 'Y'); s.rippleShotView = ssim(shot, view, crop, 'Y');
        line += `; around the click: video/screenshot ${s.rippleVideoShot.toFixed(4)}, screenshot/#t= ${s.rippleShotView.toFixed(4)}`;
      }
      console.log(line);
      for (const [k, v] of Object.entries(s)) assert.ok(v >= 0.95, `${name} at ${t} s: SSIM ${k} ${v.toFixed(4)} < 0.95`);
      seen.push({ t, w, h, shot, view, worst: Math.min(s.videoShot, s.shotView, s.videoView) });
    }
    // Control: the measure tells the pictures of two instants apart, by more than the three pictures of one instant
    // differ (else the checks above prove nothing).
    const [a, b] = [seen[0], seen.find((x) => x !== seen[0] && x.w === seen[0].w && x.h === seen[0].h)];
    assert.ok(b, 'two instants with one page size');
    const other = ssim(a.shot, b.view), worst = Math.min(...seen.map((x) => x.worst));
    console.log(`${name}: control, screenshot at ${a.t} s against #t= at ${b.t} s: SSIM ${other.toFixed(4)} (lowest of one instant: ${worst.toFixed(4)})`);
    assert.ok(other < 0.98 && other < worst - 0.01, `${name}: ${a.t} s and ${b.t} s look alike (${other})`);
  });
}

test('a frame depends only on t: two runs give the same pixels, the ripple is the one of its age whatever the path', async () => {
  const fixture = join(ROOT, 'tests/fixtures/rrweb/checkout.json');
  const events = JSON.parse(readFileSync(fixture, 'utf8'));
  const c = clicks(events)[2];
  const at = [c.t + 0.1, c.t + 0.3, 20].map((x) => +x.toFixed(3));
  const run = (k) => { const d = join(dir, `det-${k}`); execFileSync(REEL, ['screenshot', fixture, '--at', at.join(','), '--size', '1280x800', '-o', d + '/']); return d; };
  const [one, two] = [run(1), run(2)];
  for (const f of readdirSync(one)) {
    const d = mad(decodePng(readFileSync(join(one, f))), decodePng(readFileSync(join(two, f))));
    console.log(`${f}: mean pixel difference between two runs ${d.toFixed(4)}`);
    assert.equal(d, 0, `${f}: two runs differ (${d})`);
  }
  // The same instant reached by jumping straight to it (screenshot, `#t=`) and by stepping through the frames before it
  // (video, and a person scrubbing): the same pixels, ripple included.
  const html = join(dir, 'checkout-path.html');
  execFileSync(REEL, ['export', '--html', fixture, '-o', html]);
  const steps = [];
  for (let t = c.t - 1; t < at[1]; t += 0.04) steps.push(+t.toFixed(3));
  steps.push(at[1]);
  const render = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await render.goto(`file://${html}?render`);
    await render.waitForFunction(() => window.__reel, null, { timeout: 30000 });
    // Render mode draws the page; the renderer composites the cursor and ripples it is given (`__reel.overlay()`).
    await render.evaluate((t) => window.__reel.seek(t), at[1]);
    const jumped = decodePng(await render.screenshot());
    const jumpedOverlay = await render.evaluate(() => window.__reel.overlay());
    await render.evaluate(async (list) => { await window.__reel.seek(list[0]); while (list.length) list = list.slice((await window.__reel.steps(list)).i + 1); }, steps);
    const stepped = decodePng(await render.screenshot());
    const steppedOverlay = await render.evaluate(() => window.__reel.overlay());
    assert.ok(jumpedOverlay.r.length >= 1, 'the ripple is in the overlay');
    assert.deepEqual(steppedOverlay, jumpedOverlay, 'render mode: the same cursor and ripple whichever path reached t');
    assert.equal(mad(jumped, stepped), 0, 'render mode: seek(t) and stepping to t show the same pixels');
  } finally { await render.close(); }
  const page = await browser.newPage({ viewport: { width: 2400, height: 1400 } });
  try {
    await page.goto(`file://${html}#t=${at[1]}`);
    await page.waitForFunction(() => window.reel && window.reel.engine, null, { timeout: 30000 });
    await page.waitForTimeout(400);
    const jumped = decodePng(await page.locator('.reel-viewport').screenshot());
    const ripple = await page.evaluate(() => document.querySelector('.reel-ripple')?.style.cssText);
    await page.evaluate(async (list) => { for (const t of list) { window.reel.seek(t * 1000); await new Promise((r) => requestAnimationFrame(r)); } }, steps);
    await page.waitForTimeout(400);
    const stepped = decodePng(await page.locator('.reel-viewport').screenshot());
    assert.ok(ripple, 'the player shows the ripple');
    assert.equal(await page.evaluate(() => document.querySelector('.reel-ripple')?.style.cssText), ripple);
    assert.equal(mad(jumped, stepped), 0, 'the player: #t= and scrubbing to t show the same pixels');
  } finally { await page.close(); }
});

test('ffprobe: MP4, WebM and GIF last to − from within one frame, at the frame rate and size asked for', () => {
  const fixture = join(ROOT, 'tests/fixtures/rrweb/swagger.json');
  for (const [ext, fps, codec] of [['mp4', 24, 'h264'], ['webm', 24, 'vp9'], ['gif', 12, 'gif'], ['mp4', 10, 'h264']]) {
    const out = join(dir, `probe-${fps}.${ext}`);
    const args = ['video', fixture, '--from', '12', '--to', '15.5', '--size', '640x400', '-o', out];
    if (fps !== (ext === 'gif' ? 12 : 24)) args.push('--fps', String(fps));
    execFileSync(REEL, args);
    const p = probe(out);
    console.log(`${ext} at ${fps} fps: ${JSON.stringify(p)}`);
    assert.equal(p.codec, codec);
    assert.deepEqual([p.width, p.height], [640, 400]);
    // GIF frame delays are whole hundredths of a second: 1/12 s alternates 8 and 9, so the mean rate is within 0.1.
    assert.ok(Math.abs(p.fps - fps) < (ext === 'gif' ? 0.1 : 0.01), `frame rate ${p.fps}`);
    assert.equal(p.frames, Math.round(3.5 * fps));
    assert.ok(Math.abs(p.duration - 3.5) <= 1 / fps + 1e-6, `duration ${p.duration} s (3.5 s ± one frame)`);
  }
});
