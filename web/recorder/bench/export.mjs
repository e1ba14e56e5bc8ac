#!/usr/bin/env node
// reel.exportPackage() in headless Chromium: sizes of the scripts (gzip -9) and the time to package sessions of a few
// sizes recorded without a server (big.html: 4 000-row table, full snapshots taken until the session holds ~N MB),
// with the longest main-thread task during the export and how many events the page recorded meanwhile.
// Usage: node web/recorder/bench/export.mjs [--mb 5,20,45]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { launch, startPages } from '../test/helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (k, d) => { const i = process.argv.indexOf('--' + k); return i > 0 ? process.argv[i + 1] : d; };
const SIZES = arg('mb', '5,20,45').split(',').map(Number);
for (const f of ['reel.js', 'reel-export.js']) {
  const b = fs.readFileSync(path.join(here, '..', f));
  console.log(`${f}: ${b.length} bytes, gzip -9 ${zlib.gzipSync(b, { level: 9 }).length} bytes`);
}
const [browser, pages] = await Promise.all([launch(), startPages()]);
console.log('| events (MB of JSON) | events | export ms | package MB | longest task during export ms | events recorded during export |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const mb of SIZES) {
  const page = await browser.newPage();
  await page.goto(`${pages.url}/big.html?local=1&opts=${encodeURIComponent(JSON.stringify({ keepBytes: 100e6, maxExportBytes: 100e6 }))}`);
  await page.waitForFunction(() => window.reel && reel.stats().snapshots > 0);
  await page.evaluate(async mb => { while (reel.stats().keptBytes < mb * 1e6) { window.churn(); await reel.snapshot(); await reel.flush(); } }, mb);
  await page.evaluate(() => reel.exportPackage({ since: Date.now() })).catch(() => {}); // load the exporter first
  const r = await page.evaluate(async () => {
    const s = reel.stats(), long = [];
    const po = new PerformanceObserver(l => l.getEntries().forEach(e => long.push(e.duration)));
    po.observe({ type: 'longtask' });
    const iv = setInterval(() => reel.event('tick', {}), 10); // the page keeps going
    const n0 = reel.stats().events, t0 = performance.now();
    const blob = await reel.exportPackage();
    const ms = performance.now() - t0;
    clearInterval(iv); po.disconnect();
    return { bytes: s.keptBytes + s.queuedBytes, events: s.events, ms, size: blob.size, long: Math.max(0, ...long), during: reel.stats().events - n0 };
  });
  console.log(`| ${(r.bytes / 1e6).toFixed(1)} | ${r.events} | ${Math.round(r.ms)} | ${(r.size / 1e6).toFixed(2)} | ${Math.round(r.long)} | ${r.during} |`);
  await page.close();
}
await browser.close(); await pages.stop();
