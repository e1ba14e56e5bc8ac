#!/usr/bin/env node
// Side-by-side: Reel's recorder vs rrweb 2.2.2 record() on the same pages and scripted interactions.
// Measures bundle size (gzip), main-thread cost (CDP Performance.getMetrics ScriptDuration/TaskDuration deltas,
// long tasks), snapshot time, and bytes per minute (raw JSON and gzip, 2-second batches).
// Usage: node web/recorder/bench/compare.mjs [--seconds 20] [--pages form,swagger,shoelace,big]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { launch, startPages, findModule, ROOT } from '../test/helpers.mjs';
import { startReceiver } from '../test/receiver.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (k, d) => { const i = process.argv.indexOf('--' + k); return i > 0 ? process.argv[i + 1] : d; };
const SECONDS = +arg('seconds', 20);
const PAGES = arg('pages', 'form,swagger,shoelace,big').split(',').filter(p => p !== 'swagger' || findModule('swagger-ui-dist')).filter(p => p !== 'shoelace' || findModule('@shoelace-style/shoelace'));
const REEL = fs.readFileSync(path.join(here, '../reel.js'), 'utf8');
const RRWEB = fs.readFileSync(path.join(ROOT, 'node_modules/rrweb/dist/rrweb.umd.min.cjs'), 'utf8');
const gz = s => zlib.gzipSync(s, { level: 9 }).length;

// What /static/reel.js serves for each contender (boot.js calls reel.init when ?api= is present).
const STUB = 'window.reel={init(){},flush(){return Promise.resolve()},stats(){return{}},event(){}};';
const bodies = {
  none: STUB,
  rrweb: RRWEB + `;window.__ev=[];window.__t0=performance.now();rrweb.record({emit(e){window.__ev.push(e)},maskAllInputs:true,inlineStylesheet:true});window.__snapMs=performance.now()-window.__t0;` + STUB,
  reel: REEL,
};

async function interact(page, name, ms) {
  const end = Date.now() + ms;
  let i = 0;
  const frame = {
    form: async () => { await page.fill('#name', ''); await page.type('#name', 'Zelda ' + i, { delay: 30 }); await page.click('#go'); await page.evaluate(() => document.getElementById('scroller').scrollTop += 40); },
    swagger: async () => { const ops = page.locator('.opblock-summary'); await ops.nth(i % 3).click(); await page.mouse.wheel(0, 200); },
    shoelace: async () => { await page.locator('#in input').type('x' + i, { delay: 30 }); await page.locator(`sl-tab[panel=${i % 2 ? 'one' : 'two'}]`).click(); await page.click('#cb'); },
    big: async () => { await page.evaluate(() => window.churn()); await page.mouse.wheel(0, 300); await page.type('#filter', 'a', { delay: 20 }); },
  }[name];
  while (Date.now() < end) {
    await page.mouse.move(100 + (i * 37) % 600, 100 + (i * 53) % 500, { steps: 5 });
    await frame();
    await page.waitForTimeout(150);
    i++;
  }
}

/** Milliseconds of samples with a frame of /static/reel.js (the recorder under test) anywhere on the stack. */
function recorderTime(profile) {
  const parent = new Map(), byId = new Map(profile.nodes.map(n => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const memo = new Map();
  const inRec = id => {
    if (memo.has(id)) return memo.get(id);
    const n = byId.get(id);
    const v = /\/static\/reel\.js/.test(n.callFrame.url) || (parent.has(id) && inRec(parent.get(id)));
    memo.set(id, v); return v;
  };
  let us = 0;
  profile.samples.forEach((s, i) => { if (inRec(s)) us += profile.timeDeltas[i + 1] || 0; });
  return us / 1000;
}

async function run(browser, pagesUrl, page_, who) {
  const out0 = {};
  const rx = await startReceiver();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.route('**/static/reel.js', r => r.fulfill({ contentType: 'text/javascript', body: bodies[who] }));
  await ctx.addInitScript(() => { window.__lt = []; try { new PerformanceObserver(l => window.__lt.push(...l.getEntries().map(e => e.duration))).observe({ type: 'longtask', buffered: true }); } catch (e) {} });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
  await cdp.send('Profiler.start');
  const opts = { captureConsole: false, captureNetwork: false, flushIntervalMs: 2000 };
  const t0 = Date.now();
  await page.goto(`${pagesUrl}/${page_}.html?api=${encodeURIComponent(rx.url)}&opts=${encodeURIComponent(JSON.stringify(opts))}`);
  if (page_ === 'swagger') await page.waitForSelector('.opblock-summary');
  if (page_ === 'shoelace') await page.waitForFunction(() => document.querySelector('sl-input')?.shadowRoot);
  await page.waitForTimeout(300);
  const m0 = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map(m => [m.name, m.value]));
  await interact(page, page_, SECONDS * 1000);
  await page.evaluate(() => window.reel.flush());
  await page.waitForTimeout(300);
  const m1 = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map(m => [m.name, m.value]));
  const minutes = (Date.now() - t0) / 60000;
  const { profile } = await cdp.send('Profiler.stop');
  out0.recorderMs = recorderTime(profile);
  const out = Object.assign(out0, { script: (m1.ScriptDuration - m0.ScriptDuration) * 1000, task: (m1.TaskDuration - m0.TaskDuration) * 1000 });
  const lt = await page.evaluate(() => window.__lt);
  out.longtasks = lt.length; out.longtaskMs = lt.reduce((a, b) => a + b, 0);
  if (who === 'rrweb') {
    const ev = await page.evaluate(() => window.__ev);
    out.snapshotMs = await page.evaluate(() => window.__snapMs);
    // same transport shape as Reel: 2-second batches, each gzipped
    const batches = new Map();
    for (const e of ev) { const k = Math.floor(e.timestamp / 2000); if (!batches.has(k)) batches.set(k, []); batches.get(k).push(e); }
    out.events = ev.length; out.raw = 0; out.gzip = 0;
    for (const b of batches.values()) { const s = JSON.stringify(b); out.raw += s.length; out.gzip += gz(s); }
  } else if (who === 'reel') {
    const st = await page.evaluate(() => reel.stats());
    out.snapshotMs = st.firstSnapshotMs; out.events = st.events;
    out.raw = rx.batches().reduce((a, b) => a + JSON.stringify(b.events).length, 0);
    out.gzip = rx.batches().reduce((a, b) => a + gz(JSON.stringify(b.events)), 0); // same measure as for rrweb
    out.wire = rx.bodies().reduce((a, b) => a + b.length, 0); // what CompressionStream actually sent, with batch envelopes
    out.wirePerMin = out.wire / minutes;
  }
  // a forced full snapshot of the final page, median of 3 (rrweb's first snapshot runs at DOMContentLoaded, unmeasured)
  if (who !== 'none') {
    const t = await page.evaluate(async who => {
      const r = [], sl = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        if (who === 'reel') { await reel.snapshot(); sl.push(reel.stats().snapshotSliceMs); } else { rrweb.record.takeFullSnapshot(true); sl.push(performance.now() - t0); }
        r.push(performance.now() - t0);
      }
      return [r.sort((a, b) => a - b)[1], sl.sort((a, b) => a - b)[1]];
    }, who);
    out.forcedSnapshotMs = t[0]; out.sliceMs = t[1];
  }
  out.rawPerMin = out.raw / minutes; out.gzipPerMin = out.gzip / minutes;
  await ctx.close(); await rx.stop();
  return out;
}

const browser = await launch();
const pages = await startPages();
const k = n => (n / 1024).toFixed(1) + ' KB';
const lines = [];
lines.push(`| bundle | raw | gzip -9 |`, `|---|---:|---:|`);
lines.push(`| reel.js (unminified source) | ${k(REEL.length)} | ${k(gz(REEL))} |`);
lines.push(`| rrweb 2.2.2 rrweb.umd.min.cjs (record + replay) | ${k(RRWEB.length)} | ${k(gz(RRWEB))} |`);
lines.push('', `| page | recorder | recorder JS ms (CPU profile) | script ms | task ms | long tasks (n / ms) | first snapshot ms | forced snapshot ms (longest slice) | events | raw JSON / min | gzip -9 / min | sent on the wire / min |`, `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const p of PAGES) {
  const res = {};
  for (const who of ['none', 'reel', 'rrweb']) res[who] = await run(browser, pages.url, p, who);
  for (const who of ['none', 'reel', 'rrweb']) {
    const r = res[who];
    lines.push(`| ${p} | ${who} | ${who === 'none' ? '' : r.recorderMs.toFixed(0)} | ${r.script.toFixed(0)} | ${r.task.toFixed(0)} | ${r.longtasks} / ${r.longtaskMs.toFixed(0)} | ${r.snapshotMs != null && who === 'reel' ? r.snapshotMs.toFixed(0) : 'n/a'} | ${r.forcedSnapshotMs != null ? r.forcedSnapshotMs.toFixed(0) + ' (' + r.sliceMs.toFixed(0) + ')' : ''} | ${r.events ?? ''} | ${r.raw != null ? k(r.rawPerMin) : ''} | ${r.gzip != null ? k(r.gzipPerMin) : ''} | ${r.wire != null ? k(r.wirePerMin) : ''} |`);
  }
  console.error('done', p);
}
console.log(lines.join('\n'));
await browser.close(); await pages.stop();
