// Sessions list benchmark (issue 15): 10,000 sessions in `reel serve` (embedded: SQLite + folder), then
//   - the API: `GET /api/v1/sessions?limit=50` first page per order, and paging 20 pages deep by cursor (server time
//     as the client sees it, median of 5);
//   - the web UI in Chromium: from navigation to the list's first 50 rows in the DOM, cold (first load) and warm.
// Usage: node bench/list.mjs [--sessions 10000]   (release build: REEL_BIN, default target/release/reel)
import { join } from 'node:path';
import http from 'node:http';
import { startReel, CAPTURE, ADMIN, ROOT } from '../e2e/server.mjs';
import { launch } from '../e2e/browser.mjs';

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const N = arg('sessions', 10000);
process.env.REEL_BIN ||= join(ROOT, 'target/release/reel');

const server = await startReel({ args: ['--seal-idle-seconds', '3600', '--quota-new-sessions-per-minute', '0', '--quota-bytes-per-second', '0'] });
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const post = (path, body) => new Promise((resolve, reject) => {
  const req = http.request(server.url + path, { method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } }, (res) => {
    res.resume(); res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode}`))));
  });
  req.on('error', reject); req.end(body);
});

// Sessions of varied length, clicks, errors, people and pages (so every order has something to sort).
const t0 = Date.now() - N * 60_000;
const started = performance.now();
let next = 0;
async function worker() {
  for (let i = next++; i < N; i = next++) {
    const ts = t0 + i * 60_000;
    const events = [{ type: 4, data: { href: `https://shop.example/p/${i % 97}`, width: 1280, height: 720 }, timestamp: ts },
      { type: 2, data: { node: { type: 0, id: 1, childNodes: [{ type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [] }] }, initialOffset: { top: 0, left: 0 } }, timestamp: ts + 1 }];
    for (let k = 0; k < i % 7; k++) events.push({ type: 3, data: { source: 2, type: 2, id: 2, x: 5, y: 5 }, timestamp: ts + 100 + k * 50 });
    if (i % 11 === 0) events.push({ type: 6, data: { plugin: 'rrweb/console@1', payload: { level: 'error', payload: ['boom'], trace: [] } }, timestamp: ts + 900 });
    events.push({ type: 3, data: { source: 1, positions: [{ x: 1, y: 1, id: 2, timeOffset: 0 }] }, timestamp: ts + 1000 + (i % 13) * 1000 });
    await post(`/api/v1/ingest?token=${CAPTURE}`, JSON.stringify({ batch_id: 'b1', session_id: `s-${i}`, distinct_id: `person-${i % 500}`, events }));
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
const ingestS = (performance.now() - started) / 1000;

const get = async (path) => {
  const t = performance.now();
  const r = await fetch(server.url + path, { headers: { Authorization: `Bearer ${ADMIN}` } });
  const body = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return { ms: performance.now() - t, body };
};
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rows = [];
for (const sort of ['', 'duration', 'click_count', 'console_error_count', 'activity_score']) {
  const first = [];
  for (let k = 0; k < 5; k++) first.push((await get(`/api/v1/sessions?limit=50${sort ? `&sort=${sort}` : ''}`)).ms);
  // 20 pages deep by cursor.
  let cursor = null; const pages = [];
  for (let p = 0; p < 20; p++) {
    const r = await get(`/api/v1/sessions?limit=50${sort ? `&sort=${sort}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages.push(r.ms); cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  rows.push({ sort: sort || 'start_time (newest)', first: median(first), page20: pages[pages.length - 1], pagesMedian: median(pages) });
}
const search = [];
for (let k = 0; k < 5; k++) search.push((await get('/api/v1/sessions?limit=50&q=person-42')).ms);

// The web UI: navigation → 50 rows in the table.
const browser = await launch();
const tab = await browser.newPage({ viewport: { width: 1440, height: 900 } });
await tab.goto(`${server.url}/`);
await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
const ui = [];
for (let k = 0; k < 6; k++) {
  const t = performance.now();
  await tab.goto(`${server.url}/#/?r=${k}`);
  await tab.waitForFunction(() => document.querySelectorAll('tbody tr.row').length >= 50);
  ui.push(performance.now() - t);
}
const more = [];
for (let k = 0; k < 5; k++) {
  const before = await tab.evaluate(() => document.querySelectorAll('tbody tr.row').length);
  const t = performance.now();
  await tab.click('button:has-text("Load more")');
  await tab.waitForFunction((n) => document.querySelectorAll('tbody tr.row').length >= n + 50, before);
  more.push(performance.now() - t);
}
await browser.close();
await server.stop(); server.cleanup();

const f = (x) => x.toFixed(1);
console.log(`sessions: ${N} (ingested in ${f(ingestS)} s through /api/v1/ingest, 8 connections)`);
console.log('| order | first page (median of 5) | page 20 by cursor | median page |\n|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.sort} | ${f(r.first)} ms | ${f(r.page20)} ms | ${f(r.pagesMedian)} ms |`);
console.log(`free-text search \`q=person-42\`: ${f(median(search))} ms (median of 5)`);
console.log(`web UI, navigation → 50 rows drawn: first load ${f(ui[0])} ms, then median ${f(median(ui.slice(1)))} ms; "Load more" +50 rows: median ${f(median(more))} ms`);
