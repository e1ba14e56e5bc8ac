// Key moments on real recordings: pages recorded in Chromium by Reel's recorder (reel.js) and by
// unmodified posthog-js into `reel serve`, where each kind happens on purpose at a known time (a
// button that does nothing, a button clicked five times fast, a thrown error, a failing and a slow
// request, a form submit, navigations back and forth, a reload). The server's moments endpoint
// and `reel moments --json` on the exported package must report each kind within 250 ms of when
// the page saw it happen.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, api, waitFor, CAPTURE, REEL } from './server.mjs';

const browser = await launch();
after(() => browser.close());

const TOLERANCE = 250;

/** The test site: pages A and B (recorder in `head`), /api/fail (500) and /api/slow (3.2 s). */
async function site(head) {
  const page = (title, body) => `<!doctype html><html><head><title>${title}</title>${head}
    <script>window.marks = JSON.parse(sessionStorage.getItem('marks') || '[]');
      const mark = (k) => { marks.push([k, Date.now()]); sessionStorage.setItem('marks', JSON.stringify(marks)); };
      mark('load:' + location.pathname);
      addEventListener('click', (e) => mark('click:' + (e.target.id || e.target.tagName)), true);
    </script></head><body><h1>${title}</h1>${body}</body></html>`;
  const a = page('Page A', `
    <button id="dead">Does nothing</button>
    <button id="rage" onclick="document.getElementById('n').textContent = +document.getElementById('n').textContent + 1">More</button> <span id="n">0</span>
    <button id="throw" onclick="throw new Error('boom from the test')">Throw</button>
    <button id="fail" onclick="fetch('/api/fail').then((r) => { mark('response:fail'); this.textContent = 'failed ' + r.status; })">Fail</button>
    <button id="slow" onclick="this.textContent = 'loading'; fetch('/api/slow').then(() => { mark('response:slow'); this.textContent = 'done'; })">Slow</button>
    <form id="f" onsubmit="event.preventDefault(); document.getElementById('sent').textContent = 'sent'">
      <input id="q" name="email"><button id="send">Send</button></form><p id="sent"></p>
    <p style="height: 1500px"><a id="next" href="/b.html">to B</a> <a id="back" href="/a.html">to A</a></p>`);
  const b = page('Page B', `<a id="toa" href="/a.html">to A</a>`);
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/api/fail') { res.writeHead(500, { 'content-type': 'application/json' }); res.end('{"error":"nope"}'); return; }
    if (path === '/api/slow') { setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); }, 3200); return; }
    const body = { '/a.html': a, '/b.html': b }[path];
    if (body == null) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Move the mouse a little now and then for `ms` (activity without any visible reaction). */
async function wander(tab, ms) {
  for (let t = 0; t < ms; t += 400) { await tab.mouse.move(600 + (t % 7), 700 + (t % 5)); await sleep(400); }
}

/**
 * Do every kind on purpose; returns the page's marks ([what, epoch ms]). `ready` waits for the
 * recorder on a freshly loaded page.
 */
async function script(tab, base, recorderReady) {
  // A page is "there" for the recording when its recorder started (it writes the page's Meta then).
  const ready = async () => { await recorderReady(); await tab.evaluate(() => mark('ready:' + location.pathname)); };
  await tab.goto(`${base}/a.html`);
  await ready();
  await wander(tab, 1200);
  await tab.click('#dead');
  await wander(tab, 3200); // 2.5 s with no reaction, and events after it
  const r = await tab.$('#rage');
  const box = await r.boundingBox();
  for (let i = 0; i < 5; i++) { await tab.mouse.click(box.x + 10 + i, box.y + 5); await sleep(90); }
  await wander(tab, 1500);
  await tab.click('#throw');
  await wander(tab, 1500);
  await tab.click('#fail');
  await tab.waitForFunction(() => /failed/.test(document.getElementById('fail').textContent));
  await wander(tab, 1500);
  await tab.click('#slow');
  await tab.waitForFunction(() => document.getElementById('slow').textContent === 'done', null, { timeout: 10000 });
  await wander(tab, 1000);
  await tab.click('#q');
  await tab.keyboard.type('someone@example.com', { delay: 5 });
  await tab.click('#send');
  await wander(tab, 1500);
  await tab.click('#next'); // A → B
  await tab.waitForURL('**/b.html');
  await ready();
  await wander(tab, 1000);
  await tab.reload();
  await ready();
  await wander(tab, 1000);
  await tab.click('#toa'); // B → A
  await tab.waitForURL('**/a.html');
  await ready();
  await wander(tab, 1000);
  await tab.click('#next'); // A → B: the third switch between the two pages
  await tab.waitForURL('**/b.html');
  await ready();
  await wander(tab, 1500);
  return tab.evaluate(() => window.marks);
}

/** Check the moments of `doc` (a summary.json) against the page's marks. */
function check(doc, marks, who) {
  const at = (k, n = 0) => { const m = marks.filter(([x]) => x === k)[n]; assert.ok(m, `${who}: mark ${k} #${n}`); return m[1]; };
  const moments = doc.moments.map((m) => ({ ...m, at: Date.parse(m.timestamp) }));
  const one = (kind, t, extra = () => true) => {
    const near = moments.filter((m) => m.kind === kind && Math.abs(m.at - t) <= TOLERANCE && extra(m));
    assert.ok(near.length >= 1, `${who}: ${kind} near ${new Date(t).toISOString()}; got ${JSON.stringify(moments.filter((m) => m.kind === kind).map((m) => [m.timestamp, m.target && m.target.selector]))}`);
    return near[0];
  };
  const dead = one('dead_click', at('click:dead'));
  assert.equal(dead.target.selector, 'button#dead');
  assert.equal(dead.target.text, 'Does nothing');
  const rage = one('rage_click', at('click:rage'));
  assert.equal(rage.detail.clicks, 5);
  assert.equal(rage.target.selector, 'button#rage');
  assert.equal(moments.filter((m) => m.kind === 'rage_click').length, 1, `${who}: one rage click`);
  assert.equal(moments.filter((m) => m.kind === 'dead_click').length, 1, `${who}: only #dead is dead (the rest react)`);
  const ex = one('exception', at('click:throw'));
  assert.match(ex.detail.message, /boom from the test/);
  one('error_click', at('click:throw'), (m) => m.target && m.target.selector === 'button#throw');
  one('network_error', at('response:fail'), (m) => m.detail.status === 500 && /\/api\/fail$/.test(m.detail.request_url));
  one('slow_request', at('response:slow'), (m) => m.detail.duration_ms >= 3000);
  one('form_submit', at('click:send'), (m) => m.detail.form === 'form#f');
  // A new page is in the recording from when its recorder started: after the page's first script
  // ran (`load:` mark) and before the test saw the recorder running (`ready:` mark, polled). reel.js
  // starts in that first script; posthog-js loads its recorder lazily, a few hundred ms later.
  const page = (kind, path, n, extra = () => true) => {
    const [a, b] = [at('load:' + path, n) - TOLERANCE, at('ready:' + path, n) + TOLERANCE];
    assert.ok(moments.some((m) => m.kind === kind && m.at >= a && m.at <= b && extra(m)),
      `${who}: ${kind} of ${path} #${n} between ${new Date(a).toISOString()} and ${new Date(b).toISOString()}; got ${JSON.stringify(moments.filter((m) => m.kind === kind).map((m) => m.timestamp))}`);
  };
  page('navigation', '/b.html', 0, (m) => m.url.endsWith('/b.html'));
  page('reload', '/b.html', 1);
  page('navigation', '/a.html', 1, (m) => m.url.endsWith('/a.html'));
  page('thrash', '/b.html', 0);
  assert.equal(doc.counts.rage_click, 1);
  assert.equal(doc.summary.form_submits, 1);
  assert.ok(doc.summary.pages.length >= 4, `${who}: pages ${JSON.stringify(doc.summary.pages)}`);
  assert.match(doc.summary.text, /rage click/);
}

async function verify(server, sid, marks, who) {
  // The server computes them on request for an unsealed session.
  const doc = await api(server, `/api/v1/sessions/${sid}/moments`);
  check(doc, marks, `${who} (server)`);
  // The list shows the counts and filters and sorts by them.
  const list = await api(server, '/api/v1/sessions?has=rage_click,dead_click&sort=rage_click_count');
  const row = list.results.find((r) => r.id === sid);
  assert.ok(row, `${who}: has= finds the session`);
  assert.equal(row.rage_click_count, 1);
  assert.equal(row.dead_click_count, 1);
  assert.ok(row.network_error_count >= 1);
  const none = await api(server, '/api/v1/sessions?has=idle');
  assert.ok(!none.results.some((r) => r.id === sid), `${who}: has=idle leaves it out`);
  // The export carries summary.json; `reel moments --json` on it agrees.
  const dir = mkdtempSync(join(tmpdir(), 'reel-moments-'));
  const pkg = join(dir, 's.reel.zip');
  writeFileSync(pkg, await api(server, `/api/v1/sessions/${sid}/export`));
  const cli = JSON.parse(execFileSync(REEL, ['moments', pkg, '--json']).toString());
  check(cli.sessions[0], marks, `${who} (reel moments)`);
}

test('reel.js: every moment kind at the time it happened', async () => {
  const server = await startReel({ mode: 'embedded' });
  const head = `<script src="${server.url}/static/reel.js"></script>
    <script>reel.init({ apiHost: '${server.url}', token: '${CAPTURE}', flushIntervalMs: 300, captureNetwork: true });</script>`;
  const s = await site(head);
  const tab = await browser.newPage();
  try {
    const marks = await script(tab, s.url, () => tab.waitForFunction(() => window.reel && window.reel.sessionId));
    const sid = await tab.evaluate(() => window.reel.sessionId);
    await tab.evaluate(() => window.reel.flush());
    await waitFor(async () => (await api(server, `/api/v1/sessions/${sid}`)).urls.length >= 2, { what: 'the session' });
    await sleep(1000);
    await verify(server, sid, marks, 'reel.js');
  } finally {
    await tab.close(); await s.close(); await server.stop(); server.cleanup();
  }
});

test('posthog-js: every moment kind at the time it happened', async () => {
  const server = await startReel({ mode: 'embedded' });
  await api(server, '/api/v1/project', { method: 'PATCH', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ network_capture: { recordHeaders: true, recordBody: false } }) });
  const head = `<script src="${server.url}/static/array.js"></script><script>
    posthog.init('${CAPTURE}', { api_host: '${server.url}', person_profiles: 'always', opt_out_useragent_filter: true,
      autocapture: false, capture_pageview: true, session_recording: { recordCrossOriginIframes: false } });
    posthog.sessionRecording && (posthog.sessionRecording._forceAllowLocalhostNetworkCapture = true);
  </script>`;
  const s = await site(head);
  const tab = await browser.newPage();
  const ready = () => tab.waitForFunction(() => window.posthog && window.posthog.sessionRecordingStarted && window.posthog.sessionRecordingStarted(), null, { timeout: 15000 });
  try {
    const marks = await script(tab, s.url, ready);
    const sid = await tab.evaluate(() => window.posthog.get_session_id());
    // posthog-js sends on its own schedule; leaving the page flushes the rest.
    await tab.goto('about:blank');
    await waitFor(async () => {
      const r = await api(server, `/api/v1/sessions/${sid}`);
      return r.urls.length >= 2 && r.end_ms >= marks[marks.length - 1][1] - 2000 ? r : null;
    }, { timeout: 30000, what: 'the posthog-js session' });
    await verify(server, sid, marks, 'posthog-js');
  } finally {
    await tab.close(); await s.close(); await server.stop(); server.cleanup();
  }
});
