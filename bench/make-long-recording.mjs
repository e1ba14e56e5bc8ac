// A long recording of real activity for the render benchmark (bench/RESULTS-render.md): Debian's Chromium
// (playwright-core) records itself with Reel's recorder (web/recorder/reel.js) on a few local pages while a
// simulated person moves the mouse most of the time, reads and scrolls, types into a form, hovers table rows,
// clicks links (navigation) and resizes the window once. Real time: `--minutes 10` takes ten minutes.
//
//   node bench/make-long-recording.mjs [--minutes 10] [--seed 1] [-o bench/out/long.json]
//
// Writes a JSON array of rrweb events (what `reel video` and `reel pack` read).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../e2e/browser.mjs';
import { startReceiver } from '../web/recorder/test/receiver.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const minutes = +arg('--minutes', '10');
const out = arg('-o', path.join(here, 'out', 'long.json'));
let seed = +arg('--seed', '1');
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = (a) => a[Math.floor(rand() * a.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{display:flex;gap:18px;padding:12px 24px;background:#1d2330}nav a{color:#cfd6e4;text-decoration:none}nav a:hover{color:#fff;text-decoration:underline}
main{max-width:980px;margin:0 auto;padding:16px 24px}h1{font-size:26px;margin:8px 0 16px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 18px;margin:0 0 14px}.card:hover{border-color:#4f7cff}
table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:6px 10px;border-bottom:1px solid #eceef2;text-align:left}tr:hover td{background:#eef3ff}
label{display:block;margin:10px 0 4px;font-weight:600}input,textarea,select{font:inherit;padding:6px 8px;border:1px solid #c5cbd6;border-radius:5px;width:100%;box-sizing:border-box}
button{font:inherit;padding:8px 16px;border:0;border-radius:5px;background:#4f7cff;color:#fff;margin-top:12px}button:hover{background:#3a62e0}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;background:#e8ecf5;font-size:12px}`;
const words = 'order invoice customer shipment payment refund parcel account report update review status note export'.split(' ');
const para = (n) => Array.from({ length: n }, (_, i) => words[(i * 7 + n) % words.length]).join(' ');
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><style>${CSS}</style>
<script src="/reel.js"></script><script>reel.init({apiHost: new URLSearchParams(location.search).get('api') || localStorage.api, token: 'test-token', flushIntervalMs: 1000});
if (new URLSearchParams(location.search).get('api')) localStorage.api = new URLSearchParams(location.search).get('api');</script></head>
<body><nav><a id="n-home" href="/">Home</a><a id="n-orders" href="/orders">Orders</a><a id="n-new" href="/new">New order</a><a id="n-help" href="/help">Help</a></nav><main><h1>${title}</h1>${body}</main></body></html>`;
const PAGES = {
  '/': page('Dashboard', Array.from({ length: 12 }, (_, i) => `<div class="card"><b>${words[i % words.length]} #${1000 + i}</b> <span class="tag">${['open', 'paid', 'late'][i % 3]}</span><p>${para(30 + i)}</p></div>`).join('')),
  '/orders': page('Orders', `<input id="filter" placeholder="Filter orders"><table><thead><tr><th>#</th><th>Customer</th><th>Amount</th><th>Status</th></tr></thead><tbody>${Array.from({ length: 250 }, (_, i) => `<tr><td>${5000 + i}</td><td>Customer ${i * 37 % 911}</td><td>${(i * 13.37 % 900).toFixed(2)}</td><td><span class="tag">${['new', 'paid', 'sent', 'late'][i % 4]}</span></td></tr>`).join('')}</tbody></table>
<script>document.getElementById('filter').addEventListener('input', (e) => { const q = e.target.value.toLowerCase(); for (const tr of document.querySelectorAll('tbody tr')) tr.hidden = q && !tr.textContent.toLowerCase().includes(q); });</script>`),
  '/new': page('New order', `<form id="f" onsubmit="event.preventDefault(); document.getElementById('done').textContent = 'Saved order for ' + this.name.value.length + ' chars';">
<label>Name</label><input id="name" name="name"><label>Email</label><input id="email" type="email"><label>Country</label><select id="country"><option>France</option><option>Germany</option><option>Spain</option><option>Italy</option></select>
<label>Notes</label><textarea id="notes" rows="6"></textarea><label><input type="checkbox" id="gift" style="width:auto"> Gift wrap</label><button id="save">Save</button><p id="done"></p></form>`),
  '/help': page('Help', Array.from({ length: 40 }, (_, i) => `<h3>Question ${i + 1}: how do I ${words[i % words.length]}?</h3><p>${para(60 + (i % 9) * 5)}</p>`).join('')),
};

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/reel.js') { res.writeHead(200, { 'Content-Type': 'text/javascript' }); res.end(fs.readFileSync(path.join(here, '../web/recorder/reel.js'))); return; }
  const html = PAGES[u.pathname];
  if (!html) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(html);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const rx = await startReceiver();
const browser = await launch();
const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
await p.goto(`${base}/?api=${encodeURIComponent(rx.url)}`);
await p.waitForFunction(() => window.reel && reel.sessionId);

let mx = 400, my = 300;
const size = () => p.viewportSize();
/** Move like a hand: a curved path at a human speed. */
async function moveTo(x, y) {
  const steps = 10 + Math.floor(rand() * 25), cx = (mx + x) / 2 + (rand() - 0.5) * 200, cy = (my + y) / 2 + (rand() - 0.5) * 200;
  for (let k = 1; k <= steps; k++) {
    const t = k / steps, a = (1 - t) * (1 - t), b = 2 * (1 - t) * t, c = t * t;
    await p.mouse.move(a * mx + b * cx + c * x, a * my + b * cy + c * y);
    await sleep(15 + rand() * 25);
  }
  mx = x; my = y;
}
const somewhere = () => { const s = size(); return [40 + rand() * (s.width - 80), 60 + rand() * (s.height - 100)]; };
async function wander(ms) { const end = Date.now() + ms; while (Date.now() < end) await moveTo(...somewhere()); }
async function goTo(id) {
  const box = await p.locator('#' + id).boundingBox();
  if (box) await moveTo(box.x + box.width / 2, box.y + box.height / 2);
  await Promise.all([p.waitForLoadState('load'), p.click('#' + id)]);
  await p.waitForFunction(() => window.reel && reel.sessionId);
}
async function read() { // scroll down a page, pausing to read, moving the mouse
  for (let k = 0, n = 3 + Math.floor(rand() * 6); k < n; k++) {
    for (let j = 0; j < 4; j++) { await p.mouse.wheel(0, 60 + rand() * 80); await sleep(60); }
    await wander(800 + rand() * 1500);
  }
  if (rand() < 0.3) { await p.mouse.wheel(0, -2000); await sleep(300); }
}
async function typeInto(sel, text) {
  const box = await p.locator(sel).boundingBox();
  if (!box) return;
  await moveTo(box.x + 20 + rand() * (box.width - 40), box.y + box.height / 2);
  await p.click(sel);
  await p.keyboard.type(text, { delay: 90 + rand() * 110 });
}
async function fillForm() {
  await goTo('n-new');
  await typeInto('#name', pick(['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra']));
  await wander(600);
  await typeInto('#email', pick(['ada', 'grace', 'alan']) + '@example.com');
  await p.selectOption('#country', pick(['France', 'Germany', 'Spain', 'Italy']));
  await typeInto('#notes', para(8 + Math.floor(rand() * 10)));
  if (rand() < 0.5) await p.click('#gift');
  await wander(1000);
  const b = await p.locator('#save').boundingBox();
  if (b) await moveTo(b.x + b.width / 2, b.y + b.height / 2);
  await p.click('#save');
}
async function orders() {
  await goTo('n-orders');
  for (let k = 0; k < 6; k++) { // hover rows
    const y = 160 + rand() * 500;
    await moveTo(100 + rand() * 600, y);
    await sleep(200);
  }
  await read();
  if (rand() < 0.6) { await p.mouse.wheel(0, -5000); await sleep(300); await typeInto('#filter', String(50 + Math.floor(rand() * 30))); await wander(1500); await p.fill('#filter', ''); }
}

const started = Date.now(), endAt = started + minutes * 60000;
let resized = false;
while (Date.now() < endAt) {
  const act = rand();
  if (act < 0.25) await wander(3000 + rand() * 6000);
  else if (act < 0.45) { await goTo(pick(['n-home', 'n-help'])); await read(); }
  else if (act < 0.65) await orders();
  else if (act < 0.8) await fillForm();
  else if (act < 0.9) { await sleep(1000 + rand() * 2000); await wander(2000); } // reading, hand still
  else { const [x, y] = somewhere(); await moveTo(x, y); await p.mouse.click(x, y); await wander(1500); }
  if (!resized && Date.now() - started > minutes * 30000) { await p.setViewportSize({ width: 1100, height: 760 }); resized = true; }
  process.stderr.write(`\r${((Date.now() - started) / 1000).toFixed(0)} s of ${minutes * 60} s`);
}
await p.evaluate(() => reel.flush());
await sleep(1500);
const events = rx.events();
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(events));
const span = (events[events.length - 1].timestamp - events[0].timestamp) / 1000;
process.stderr.write(`\nwrote ${out}: ${events.length} events, ${span.toFixed(1)} s\n`);
await browser.close();
await rx.stop();
server.close();
