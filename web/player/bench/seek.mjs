// Seek benchmark: Reel's player vs rrweb-player 2.1.6 on a generated 3-hour recording.
// Usage: node web/player/bench/seek.mjs [--hours 3] [--seeks 20] [--full-every 0] [--append] [--only-reel] [--no-morph]
// Writes web/player/bench/RESULTS-player.md.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadavg, cpus } from 'node:os';
import { serve, newPage, closeBrowser, playerPage } from '../test/helpers.mjs';
import { inlineJs, PLAYER_DIR } from '../test/inline.mjs';

const arg = (name, def) => { const i = process.argv.indexOf('--' + name); return i > 0 ? +process.argv[i + 1] : def; };
const HOURS = arg('hours', 3), SEEKS = arg('seeks', 20), FULL_EVERY = arg('full-every', 0);
const ONLY_REEL = process.argv.includes('--only-reel');
const FIXTURE = process.argv.includes('--fixture') ? process.argv[process.argv.indexOf('--fixture') + 1] : null;
const MORPH = !process.argv.includes('--no-morph');

/** Deterministic PRNG. */
function rng(seed) { return () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32; }; }

/** A long recording: swagger's full snapshot, then mutations, mouse moves, inputs, scrolls and clicks. */
async function generate() {
  const base = JSON.parse(await readFile(join(PLAYER_DIR, 'test', 'fixtures', 'swagger.json'), 'utf8'));
  const meta = base.find((e) => e.type === 4), full = base.find((e) => e.type === 2);
  const r = rng(7);
  const t0 = 1_800_000_000_000;
  let maxId = 0;
  const ids = [];
  const walk = (n, parent) => { maxId = Math.max(maxId, n.id); if (n.type === 2) ids.push({ id: n.id, tag: n.tagName, parent }); (n.childNodes || []).forEach((c) => walk(c, n)); };
  walk(full.data.node, null);
  const body = ids.find((x) => x.tag === 'body').id;
  const elems = ids.filter((x) => ['div', 'span', 'section', 'p', 'li'].includes(x.tag)).map((x) => x.id);
  const events = [{ ...meta, timestamp: t0 }, { ...full, timestamp: t0 + 5 }];
  const live = [];
  let nextId = maxId + 1;
  const end = HOURS * 3600 * 1000;
  for (let t = 1000; t < end; t += 200) {
    const ts = t0 + t;
    if (FULL_EVERY && t % (FULL_EVERY * 1000) === 0) { events.push({ ...meta, timestamp: ts - 1 }, { ...full, timestamp: ts }); live.length = 0; continue; }
    events.push({ type: 3, timestamp: ts, data: { source: 1, positions: [{ x: Math.round(r() * 1200), y: Math.round(r() * 780), id: elems[Math.floor(r() * elems.length)], timeOffset: -50 }] } });
    if (t % 1000 === 0) {
      const id = nextId; nextId += 3;
      const adds = [{ parentId: body, nextId: null, node: { type: 2, tagName: 'div', attributes: { class: 'gen-row', 'data-t': String(t) }, childNodes: [
        { type: 2, tagName: 'span', attributes: { style: 'color: #345' }, childNodes: [{ type: 3, textContent: `row ${t / 1000}`, id: id + 2 }], id: id + 1 }], id } }];
      live.push(id);
      const removes = live.length > 40 ? [{ parentId: body, id: live.shift() }] : [];
      const texts = live.length > 2 ? [{ id: live[live.length - 2] + 2, value: `row changed at ${t}` }] : [];
      const attributes = [{ id: elems[Math.floor(r() * elems.length)], attributes: { 'data-gen': String(t % 7) } }];
      events.push({ type: 3, timestamp: ts + 1, data: { source: 0, adds, removes, texts, attributes } });
    }
    if (t % 3000 === 0) {
      events.push({ type: 3, timestamp: ts + 2, data: { source: 3, id: 1, x: 0, y: Math.round(r() * 3000) } });
      events.push({ type: 3, timestamp: ts + 3, data: { source: 5, id: elems[Math.floor(r() * elems.length)], text: 'typed ' + t, isChecked: false } });
    }
    if (t % 10000 === 0) events.push({ type: 3, timestamp: ts + 4, data: { source: 2, type: 2, id: elems[0], x: 300, y: 300 } });
  }
  return events;
}

const seeks = (duration) => { const r = rng(99); return Array.from({ length: SEEKS }, () => Math.floor(r() * duration)); };
const pct = (arr, p) => { const s = arr.slice().sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

async function main() {
  const loadBefore = loadavg()[0];
  const events = FIXTURE ? JSON.parse(await readFile(join(PLAYER_DIR, 'test', 'fixtures', `${FIXTURE}.json`), 'utf8')) : await generate();
  const json = JSON.stringify(events);
  const duration = events[events.length - 1].timestamp - events[0].timestamp;
  const targets = seeks(duration);
  console.log(`recording: ${(duration / 3600000).toFixed(2)} h, ${events.length} events, ${(json.length / 1e6).toFixed(1)} MB JSON`);
  const rrPlayerJs = await readFile(join(PLAYER_DIR, '..', '..', 'node_modules', 'rrweb-player', 'dist', 'rrweb-player.umd.min.cjs'));
  const rrPlayerCss = await readFile(join(PLAYER_DIR, '..', '..', 'node_modules', 'rrweb-player', 'dist', 'style.css'));
  const reelJs = Buffer.from(inlineJs());
  const reelCss = await readFile(join(PLAYER_DIR, 'player.css'));
  const sizes = {
    reel: { raw: reelJs.length + reelCss.length, gz: gzipSync(reelJs, { level: 9 }).length + gzipSync(reelCss, { level: 9 }).length },
    rrweb: { raw: rrPlayerJs.length + rrPlayerCss.length, gz: gzipSync(rrPlayerJs, { level: 9 }).length + gzipSync(rrPlayerCss, { level: 9 }).length },
  };
  const srv = await serve({
    '/rec.json': json,
    '/reel.html': playerPage(''),
    '/rr.html': `<!doctype html><html><head><link rel="stylesheet" href="/nm/rrweb-player/dist/style.css"><script src="/nm/rrweb-player/dist/rrweb-player.umd.min.cjs"></script></head><body><div id="app"></div></body></html>`,
  });
  const results = {};
  try {
    // ---- Reel
    {
      const { page, context } = await newPage(srv.base, { viewport: { width: 1400, height: 900 } });
      await page.goto(srv.base + '/reel.html');
      await page.evaluate(() => window.__ready);
      results.reel = await page.evaluate(async ([targets, morph]) => {
        const longTasks = [];
        try { new PerformanceObserver((l) => { for (const e of l.getEntries()) longTasks.push(e.duration); }).observe({ entryTypes: ['longtask'] }); } catch (e) { /* unsupported */ }
        const t0 = performance.now();
        const p = await window.ReelPlayer.mount(document.getElementById('app'), { src: '/rec.json', hash: false, morph });
        await new Promise((r) => requestAnimationFrame(() => r()));
        const firstFrame = performance.now() - t0;
        const kb0 = performance.now();
        await p.engine.keyframes.start();
        const keyframesWall = performance.now() - kb0;
        const times = [];
        for (const t of targets) {
          const s = performance.now();
          p.seek(t);
          void p.engine.doc.body.offsetHeight; // include style and layout
          times.push(performance.now() - s);
        }
        const kf = p.engine.keyframes;
        return { firstFrame, keyframesWall, keyframesCpu: kf.buildMs, keyframes: kf.frames.length, times, longestTask: Math.max(0, ...longTasks),
          heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null };
      }, [targets, MORPH]);
      await context.close();
    }
    // ---- rrweb-player
    if (ONLY_REEL) { console.log(results.reel.times.map((x) => x.toFixed(0)).join(' ')); return; }
    {
      const { page, context } = await newPage(srv.base, { viewport: { width: 1400, height: 900 } });
      await page.goto(srv.base + '/rr.html');
      results.rrweb = await page.evaluate(async ([targets]) => {
        const t0 = performance.now();
        const events = await (await fetch('/rec.json')).json();
        const Player = window.rrwebPlayer.default || window.rrwebPlayer;
        const player = new Player({ target: document.getElementById('app'), props: { events, autoPlay: false, width: 1024, height: 576 } });
        const replayer = player.getReplayer();
        replayer.pause(0);
        void replayer.iframe.contentDocument.body.offsetHeight;
        await new Promise((r) => requestAnimationFrame(() => r()));
        const firstFrame = performance.now() - t0;
        const times = [];
        for (const t of targets) {
          const s = performance.now();
          replayer.pause(t);
          void replayer.iframe.contentDocument.body.offsetHeight;
          times.push(performance.now() - s);
        }
        return { firstFrame, times, heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null };
      }, [targets]);
      await context.close();
    }
  } finally {
    await closeBrowser();
    await srv.close();
  }
  const loadAfter = loadavg()[0];
  const row = (name, r, size) => `| ${name} | ${r.firstFrame.toFixed(0)} | ${pct(r.times, 50).toFixed(1)} | ${pct(r.times, 95).toFixed(1)} | ${Math.max(...r.times).toFixed(1)} | ${(size.gz / 1024).toFixed(1)} KB (${(size.raw / 1024).toFixed(0)} KB raw) |`;
  const desc = FIXTURE ? `Recording: the ${FIXTURE} fixture as recorded (${(duration / 1000).toFixed(0)} s).` : `Recording (generated): swagger-ui fixture's full snapshot, then ${(duration / 3600000).toFixed(1)} h of activity: a mouse move every 200 ms,
a mutation every second (add a row, remove the row added 40 s earlier, change a text, change an attribute), a scroll and an input every 3 s,
a click every 10 s; ${FULL_EVERY ? `a new full snapshot every ${FULL_EVERY} s` : 'no further full snapshot (worst case for rrweb: every seek replays from the start)'}.`;
  const md = `# Player seek benchmark: Reel vs rrweb-player 2.1.6

Command: \`node web/player/bench/seek.mjs ${FIXTURE ? `--fixture ${FIXTURE}` : `--hours ${HOURS}`} --seeks ${SEEKS} --full-every ${FULL_EVERY}\` (headless Chromium, ${cpus().length} cores, load average ${loadBefore.toFixed(1)} before / ${loadAfter.toFixed(1)} after, ${new Date().toISOString().slice(0, 10)}).
Other work shares this machine; a high load average inflates both players' numbers.

${desc}
${events.length} events, ${(json.length / 1e6).toFixed(1)} MB of JSON. ${SEEKS} random seeks (same targets for both), each timed with style and layout.

| player | first frame ms | seek p50 ms | seek p95 ms | seek max ms | loads (gzip) |
|---|---:|---:|---:|---:|---:|
${row('Reel', results.reel, sizes.reel)}
${row('rrweb-player 2.1.6', results.rrweb, sizes.rrweb)}

Reel keyframes: ${results.reel.keyframes} built in the background in ${(results.reel.keyframesWall / 1000).toFixed(1)} s wall (${(results.reel.keyframesCpu / 1000).toFixed(1)} s of main-thread work in ≤12 ms slices;
longest main-thread task seen during load and keyframe building: ${results.reel.longestTask.toFixed(0)} ms). JS heap after: Reel ${results.reel.heapMB ? results.reel.heapMB.toFixed(0) + ' MB' : 'n/a'}, rrweb-player ${results.rrweb.heapMB ? results.rrweb.heapMB.toFixed(0) + ' MB' : 'n/a'}.
First frame = from mount (including fetching and parsing the JSON) to the first replayed frame. "loads" = the JS and CSS each player needs (Reel: all modules inlined as the Rust side does, plus player.css).
`;
  console.log(md);
  const out = join(PLAYER_DIR, 'bench', 'RESULTS-player.md');
  if (process.argv.includes('--append')) {
    const prev = await readFile(out, 'utf8').catch(() => '');
    await writeFile(out, prev + '\n' + md.replace(/^# .*\n/, '## Variant\n'));
  } else await writeFile(out, md);
}

main().catch((e) => { console.error(e); process.exit(1); });
