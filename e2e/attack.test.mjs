// Capture under attack: hostile bodies without a token, bodies in parallel, quotas, event times,
// batch id scope, $pageview URLs. Memory is read from /proc/<pid>/status of the spawned server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { startReel, api, CAPTURE, ADMIN } from './server.mjs';

const MB = 1 << 20;

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function mem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** gzip of `[0,0,0,…]`, `mb` MB inflated (50 MB → about 48 KB compressed). */
function zeros(mb) {
  const n = Math.floor((mb * 1e6) / 2);
  const b = Buffer.alloc(2 * n + 1);
  b[0] = 0x5b; // [
  b.fill('0,', 1, 2 * n + 1);
  b[2 * n] = 0x5d; // ]
  return zlib.gzipSync(b, { level: 9 });
}

const post = (server, path, body, headers = {}) =>
  fetch(server.url + path, { method: 'POST', body, headers: { 'content-type': 'text/plain', ...headers } });

const T = Date.now() - 60_000;

test('hostile bodies without a token are refused in bounded memory', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const bomb = zeros(50);
    assert.ok(bomb.length < 64 * 1024, `bomb is ${bomb.length} bytes compressed`);
    const idle = mem(server.proc.pid).rss;
    for (const path of ['/e/', '/i/v0/e/', '/flags/?v=2', '/decide/', '/s/', '/api/v1/ingest']) {
      const r = await post(server, path, bomb);
      assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status} ${await r.text()}`);
      const m = mem(server.proc.pid);
      assert.ok(m.hwm - idle < 256 * MB, `${path}: peak RSS ${(m.hwm / MB).toFixed(0)} MB over an idle ${(idle / MB).toFixed(0)} MB`);
    }
    // The analytics and flags caps are small; the message names the flag that raises them.
    const e = await post(server, '/e/', bomb);
    assert.equal(e.status, 413);
    assert.match(await e.text(), /--analytics-limit/);
    const f = await post(server, '/flags/?v=2', bomb);
    assert.equal(f.status, 413);
    assert.match(await f.text(), /--flags-limit/);
    // Over the /s/ cap: 413 naming --decompressed-limit (not a flag that does not exist).
    const big = await post(server, '/s/', zeros(80));
    assert.equal(big.status, 413);
    const msg = await big.text();
    assert.match(msg, /--decompressed-limit/);
    assert.doesNotMatch(msg, /--max-bytes/);
    // Warnings are capped: the answer stays small however many bad items there are.
    const s = await post(server, '/s/', bomb);
    assert.equal(s.status, 400);
    assert.ok((await s.text()).length < 4096);
  } finally { await server.stop(); server.cleanup(); }
});

test('20 hostile bodies in parallel: /healthz answers and memory stays under 1 GB', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const bomb = zeros(50);
    const idle = mem(server.proc.pid).rss;
    const paths = ['/s/', '/e/', '/flags/?v=2', '/api/v1/ingest', '/s/?compression=gzip-js'];
    const flood = Array.from({ length: 20 }, (_, i) => post(server, paths[i % paths.length], bomb).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    }));
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200, '/healthz answers during the flood');
    const statuses = await Promise.all(flood);
    for (const st of statuses) assert.ok([400, 401, 413, 429, 503].includes(st), `status ${st}`);
    const m = mem(server.proc.pid);
    assert.ok(m.hwm - idle < 1024 * MB, `peak RSS ${(m.hwm / MB).toFixed(0)} MB over an idle ${(idle / MB).toFixed(0)} MB`);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  } finally { await server.stop(); server.cleanup(); }
});

const batch = (sid, bid, events, extra = {}) => JSON.stringify({ batch_id: bid, session_id: sid, events, ...extra });
const meta = (ts) => ({ type: 4, data: { href: 'https://shop.example/', width: 800, height: 600 }, timestamp: ts });
const snap = (sid, events, token = CAPTURE) => ({ event: '$snapshot', uuid: `${sid}-${Math.random()}`, properties: { token, $session_id: sid, $snapshot_data: events } });

test('quotas per capture token: 429 with Retry-After', async () => {
  const server = await startReel({ mode: 'embedded', args: ['--quota-bytes-per-second', '2000', '--quota-new-sessions-per-minute', '3', '--quota-sessions-per-request', '2'] });
  try {
    const ingest = (body) => post(server, `/api/v1/ingest?token=${CAPTURE}`, body);
    // Sessions per request.
    const three = JSON.stringify([snap('q1', [meta(T)]), snap('q2', [meta(T)]), snap('q3', [meta(T)])]);
    const r1 = await post(server, '/s/', three);
    assert.equal(r1.status, 429);
    assert.ok(Number(r1.headers.get('retry-after')) >= 1);
    assert.match(await r1.text(), /--quota-sessions-per-request/);
    // New sessions per minute: three pass, the fourth new one waits; a known one still passes.
    for (const sid of ['n1', 'n2', 'n3']) assert.equal((await ingest(batch(sid, 'b1', [meta(T)]))).status, 200, sid);
    const r2 = await ingest(batch('n4', 'b1', [meta(T)]));
    assert.equal(r2.status, 429);
    assert.ok(Number(r2.headers.get('retry-after')) >= 1);
    assert.match(await r2.text(), /new sessions per minute/);
    // Bytes per second: a large batch drains the bucket, the next request waits.
    const pad = 'x'.repeat(5000);
    const big = batch('n1', 'b2', [{ ...meta(T + 1), data: { href: `https://shop.example/?${pad}`, width: 1, height: 1 } }]);
    assert.equal((await ingest(big)).status, 200);
    const r3 = await ingest(batch('n1', 'b3', [meta(T + 2)]));
    assert.equal(r3.status, 429);
    assert.ok(Number(r3.headers.get('retry-after')) >= 1);
    assert.match(await r3.text(), /bytes per second/);
  } finally { await server.stop(); server.cleanup(); }
});

test('event times far outside a sane range are refused with 400 naming the field', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const ingest = (body) => post(server, `/api/v1/ingest?token=${CAPTURE}`, body);
    const day = 86_400_000;
    for (const ts of [1, 631_151_999_999, Date.now() + 2 * day, 9.3e18, 1e300]) {
      const r = await ingest(batch('ts-1', `b-${ts}`, [meta(ts)]));
      assert.equal(r.status, 400, `ingest ${ts}`);
      assert.match(await r.text(), /timestamp/);
      const s = await post(server, '/s/', JSON.stringify([snap('ts-2', [meta(ts)])]));
      assert.equal(s.status, 400, `/s/ ${ts}`);
      assert.match(await s.text(), /timestamp/);
    }
    const e = await post(server, '/e/', JSON.stringify({ api_key: CAPTURE, batch: [{ event: '$pageview', timestamp: '1969-07-20T20:17:00Z', properties: { $session_id: 'ts-3', $current_url: 'https://x/' } }] }));
    assert.equal(e.status, 400);
    assert.match(await e.text(), /timestamp/);
    const imp = await fetch(`${server.url}/api/v1/import`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: JSON.stringify([meta(Date.now() + 5 * day)]) });
    assert.equal(imp.status, 400);
    assert.match(await imp.text(), /timestamp/);
    // A time within range, and up to a day ahead of the server's clock, is fine.
    assert.equal((await ingest(batch('ts-4', 'ok', [meta(Date.now() + day / 2)]))).status, 200);
    const list = await api(server, '/api/v1/sessions');
    assert.deepEqual(list.results.map((r) => r.id), ['ts-4'], 'nothing out of range was stored');
  } finally { await server.stop(); server.cleanup(); }
});

test('batch_id idempotency is scoped to the session', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const ingest = async (body) => (await post(server, `/api/v1/ingest?token=${CAPTURE}`, body)).json();
    assert.equal((await ingest(batch('scope-a', 'same', [meta(T)]))).duplicate, false);
    assert.equal((await ingest(batch('scope-b', 'same', [meta(T)]))).duplicate, false, 'another session may use the same batch id');
    assert.equal((await ingest(batch('scope-a', 'same', [meta(T)]))).duplicate, true, 'a retry in the same session is a duplicate');
    assert.equal((await api(server, '/api/v1/sessions/scope-a')).event_count, 1);
    assert.equal((await api(server, '/api/v1/sessions/scope-b')).event_count, 1);
  } finally { await server.stop(); server.cleanup(); }
});

test('$pageview URLs: many in one request are stored, bounded, and go through the ingest policy', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const sid = 'urls-1';
    assert.equal((await post(server, `/api/v1/ingest?token=${CAPTURE}`, batch(sid, 'b1', [meta(T)]))).status, 200);
    const pv = (i, url) => ({ event: '$pageview', timestamp: new Date(T + i).toISOString(), properties: { $session_id: sid, $current_url: url } });
    // 20 000 pageviews of 900 distinct URLs in one gzip request.
    const events = Array.from({ length: 20_000 }, (_, i) => pv(i, `https://shop.example/p/${i % 900}`));
    const body = zlib.gzipSync(JSON.stringify({ api_key: CAPTURE, batch: events }));
    const r = await post(server, '/e/?compression=gzip-js', body);
    assert.equal(r.status, 200, await r.text());
    const s = await api(server, `/api/v1/sessions/${sid}`);
    assert.equal(s.urls.filter((u) => u.startsWith('https://shop.example/p/')).length, 900);
    // More distinct URLs than allowed in one request: 413 naming the flag.
    const many = Array.from({ length: 1500 }, (_, i) => pv(i, `https://shop.example/q/${i}`));
    const r2 = await post(server, '/e/', JSON.stringify({ api_key: CAPTURE, batch: many }));
    assert.equal(r2.status, 413);
    assert.match(await r2.text(), /--max-urls-per-request/);
    // The ingest policy applies to page URLs as to recorded ones.
    const patch = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ ingest_redaction: { preset: 'default' } }) });
    assert.equal(patch.status, 200);
    const leak = 'https://shop.example/account?email=zelda.canary@example.com';
    const r3 = await post(server, '/e/', JSON.stringify([{ ...pv(1, leak), properties: { ...pv(1, leak).properties, token: CAPTURE } }]));
    assert.equal(r3.status, 200);
    const after = JSON.stringify(await api(server, `/api/v1/sessions/${sid}`));
    assert.ok(after.includes('https://shop.example/account'), 'the URL is kept');
    assert.ok(!after.includes('zelda.canary@example.com'), 'its e-mail address is redacted');
  } finally { await server.stop(); server.cleanup(); }
});

test('a cv bomb with a valid token: refused past the per-request cv cap, in bounded memory', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const data = zeros(60).toString('latin1');
    const ev = { type: 2, data, timestamp: T, cv: '2024-10' };
    const body = zlib.gzipSync(JSON.stringify([{ event: '$snapshot', properties: { token: CAPTURE, $session_id: 'cv-bomb', $snapshot_data: [ev, ev, ev, ev] } }]));
    const idle = mem(server.proc.pid).rss;
    const r = await post(server, '/s/', body);
    assert.equal(r.status, 413);
    assert.match(await r.text(), /--cv-limit/);
    const m = mem(server.proc.pid);
    assert.ok(m.hwm - idle < 256 * MB, `peak RSS ${(m.hwm / MB).toFixed(0)} MB over an idle ${(idle / MB).toFixed(0)} MB`);
    // A packed snapshot of a real size still unpacks.
    const node = { type: 0, id: 1, childNodes: [{ type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [] }] };
    const small = { type: 2, data: zlib.gzipSync(JSON.stringify({ node, initialOffset: { top: 0, left: 0 } })).toString('latin1'), timestamp: T, cv: '2024-10' };
    const ok = await post(server, '/s/', JSON.stringify([{ event: '$snapshot', properties: { token: CAPTURE, $session_id: 'cv-ok', $snapshot_data: [small] } }]));
    assert.equal(ok.status, 200, await ok.text());
    const evs = JSON.stringify(await api(server, '/api/v1/sessions/cv-ok/events'));
    assert.ok(evs.includes('"tagName":"html"'), 'the snapshot was unpacked');
  } finally { await server.stop(); server.cleanup(); }
});
