// Mobile recordings (issue 16): what PostHog's Android, iOS, React Native and Flutter SDKs send
// (`$snapshot` events with `$snapshot_source: "mobile"` and wireframe `$snapshot_data`) reaches
// `reel serve` through every capture route, is stored exactly as sent (not a byte of a wireframe
// changed: events, export, pack, convert), counts taps as clicks and input changes as keypresses,
// keeps a batch replayed after an offline period at its recorded times, and never duplicates a
// retried batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReel, api, modes, waitFor, CAPTURE, ADMIN, REEL } from './server.mjs';
import { decodePng } from './frames.mjs';
import { launch } from './browser.mjs';

/** A short app session as posthog-android records it: meta, wireframes, typing, taps, keyboard. */
function recording(t0) {
  const screen = (extra) => ({ id: 1, x: 0, y: 0, width: 393, height: 852, type: 'div', style: { backgroundColor: '#ffffff' }, childWireframes: extra });
  const field = (value) => ({ id: 5, x: 16, y: 200, width: 361, height: 44, type: 'input', inputType: 'text', value, style: { borderWidth: 1, borderColor: '#cccccc' } });
  return [
    { type: 4, data: { href: 'MainActivity', width: 393, height: 852 }, timestamp: t0 },
    {
      type: 2, timestamp: t0 + 1,
      data: {
        initialOffset: { top: 0, left: 0 },
        wireframes: [screen([
          { id: 2, x: 0, y: 0, width: 393, height: 47, type: 'status_bar', style: { backgroundColor: '#000000' } },
          { id: 3, x: 16, y: 80, width: 361, height: 30, type: 'text', text: 'Welcome to Ünïcode ✓ "quoted" <b>not html</b>', style: { color: '#111111', fontSize: 20, fontFamily: 'sans-serif' } },
          { id: 4, x: 16, y: 120, width: 120, height: 60, type: 'image' },
          field(''),
          { id: 6, x: 16, y: 260, width: 361, height: 48, type: 'input', inputType: 'button', value: 'Sign in', style: { backgroundColor: '#1d4aff', color: '#ffffff', borderRadius: 8 } },
          { id: 7, x: 16, y: 320, width: 60, height: 32, type: 'input', inputType: 'toggle', checked: false, label: 'Remember me' },
          { id: 8, x: 0, y: 800, width: 393, height: 52, type: 'navigation_bar' },
        ])],
      },
    },
    { type: 3, data: { source: 2, type: 7, id: 5, x: 50, y: 220 }, timestamp: t0 + 500 },
    { type: 3, data: { source: 2, type: 9, id: 5, x: 50, y: 220 }, timestamp: t0 + 560 },
    { type: 5, data: { tag: 'keyboard', payload: { open: true, styles: { backgroundColor: '#d1d5db' }, height: 300 } }, timestamp: t0 + 600 },
    { type: 3, data: { source: 0, updates: [{ parentId: 1, wireframe: field('a') }] }, timestamp: t0 + 900 },
    { type: 3, data: { source: 0, updates: [{ parentId: 1, wireframe: field('ab') }] }, timestamp: t0 + 1100 },
    { type: 3, data: { source: 0, updates: [{ parentId: 1, wireframe: field('abc') }] }, timestamp: t0 + 1300 },
    { type: 5, data: { tag: 'keyboard', payload: { open: false } }, timestamp: t0 + 1500 },
    { type: 3, data: { source: 2, type: 7, id: 6, x: 100, y: 280 }, timestamp: t0 + 1800 },
    { type: 3, data: { source: 2, type: 9, id: 6, x: 100, y: 280 }, timestamp: t0 + 1850 },
    { type: 3, data: { source: 0, adds: [{ parentId: 1, wireframe: { id: 9, x: 16, y: 400, width: 361, height: 24, type: 'text', text: 'Signed in' } }], removes: [{ parentId: 1, id: 7 }] }, timestamp: t0 + 2200 },
  ];
}

/** One `$snapshot` analytics event as the SDKs send it. */
function snapshot(sid, events, extra = {}) {
  return {
    event: '$snapshot', uuid: `${sid}-${events[0].timestamp}`, distinct_id: 'app-user-7',
    timestamp: new Date(events[0].timestamp).toISOString(),
    properties: { $session_id: sid, $window_id: `${sid}-w`, $snapshot_source: 'mobile', $snapshot_data: events, $lib: 'posthog-android', $lib_version: '3.9.0', distinct_id: 'app-user-7', ...extra },
  };
}

const post = (server, path, body, headers = {}) => fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** Stored events of a session, as the exact JSON texts the server keeps. */
async function stored(server, sid) {
  const r = await fetch(`${server.url}/api/v1/sessions/${sid}/events`, { headers: { Authorization: `Bearer ${ADMIN}` } });
  if (!r.ok) throw new Error(`${sid}: ${r.status}`);
  const text = await r.text();
  // The route answers a JSON array of events, each with its window id added.
  return JSON.parse(text).map((e) => { const { windowId, ...rest } = e; return rest; });
}

for (const mode of modes()) {
  test(`mobile SDK batches through every capture route are stored as sent (${mode})`, async () => {
    const server = await startReel({ mode });
    try {
      const now = Date.now();
      const sent = {};
      // posthog-android / -ios / -react-native: /batch/ with api_key, batch and sent_at.
      sent['m-batch'] = recording(now - 60_000);
      assert.equal((await post(server, '/batch/', JSON.stringify({ api_key: CAPTURE, batch: [snapshot('m-batch', sent['m-batch'])], sent_at: new Date().toISOString() }))).status, 200);
      // /e/ with one event and the token inside it.
      sent['m-e'] = recording(now - 50_000);
      assert.equal((await post(server, '/e/', JSON.stringify({ ...snapshot('m-e', sent['m-e']), api_key: CAPTURE }))).status, 200);
      // /s/ (the snapshot endpoint), an array with properties.token.
      sent['m-s'] = recording(now - 40_000);
      assert.equal((await post(server, '/s/', JSON.stringify([snapshot('m-s', sent['m-s'], { token: CAPTURE })]))).status, 200);
      // /i/v0/e/ gzip-compressed.
      sent['m-i'] = recording(now - 30_000);
      const gz = gzipSync(JSON.stringify({ api_key: CAPTURE, batch: [snapshot('m-i', sent['m-i'])], sent_at: new Date().toISOString() }));
      assert.equal((await post(server, '/i/v0/e/?compression=gzip-js', gz, { 'content-type': 'text/plain' })).status, 200);
      // A device that was offline for two days sends its buffer late: times stay as recorded.
      sent['m-offline'] = recording(now - 2 * 86_400_000);
      const late = JSON.stringify({ api_key: CAPTURE, batch: [snapshot('m-offline', sent['m-offline'])], sent_at: new Date().toISOString() });
      assert.equal((await post(server, '/batch/', late)).status, 200);
      // The same batch again (the SDK retried after a lost reply): nothing doubles.
      assert.equal((await post(server, '/batch/', late)).status, 200);

      for (const [sid, events] of Object.entries(sent)) {
        const got = await waitFor(async () => { const g = await stored(server, sid); return g.length >= events.length && g; }, { what: `${sid} stored` });
        assert.equal(got.length, events.length, `${sid}: every event once`);
        assert.deepEqual(got.map((e) => JSON.stringify(e)), events.map((e) => JSON.stringify(e)), `${sid}: events as sent`);
        const row = await waitFor(async () => { const r = await api(server, `/api/v1/sessions/${sid}`); return r.click_count != null && r; }, { what: `${sid} row` });
        assert.equal(row.click_count, 2, `${sid}: two taps are two clicks`);
        assert.equal(row.keypress_count, 3, `${sid}: three input changes are three keypresses`);
        assert.match(JSON.stringify(row), /mobile/, `${sid}: the session says it is mobile`);
        assert.equal(Date.parse(row.start_time), events[0].timestamp, `${sid}: recorded start time kept`);
      }

      // Export → package: the wireframe events byte for byte, meta.json says mobile; reel pack and
      // reel convert keep them too.
      const dir = mkdtempSync(join(tmpdir(), 'reel-mobile-'));
      try {
        const zip = join(dir, 'm.reel.zip');
        writeFileSync(zip, await api(server, '/api/v1/sessions/m-batch/export'));
        execFileSync(REEL, ['verify', zip]);
        const meta = JSON.parse(execFileSync('unzip', ['-p', zip, 'sessions/m-batch/meta.json']).toString());
        assert.match(JSON.stringify(meta.source || meta), /mobile/);
        // The package's event lines are the events' own texts, byte for byte as the SDK sent them.
        const lines = (z) => execFileSync('unzip', ['-p', z, 'sessions/m-batch/*.jsonl']).toString().split('\n').filter(Boolean);
        assert.deepEqual(lines(zip), sent['m-batch'].map((e) => JSON.stringify(e)));
        const rr = join(dir, 'm.json');
        execFileSync(REEL, ['convert', zip, '--to', 'rrweb', '-o', rr]);
        const conv = JSON.parse(readFileSync(rr, 'utf8'));
        const convEvents = Array.isArray(conv) ? conv : conv.events;
        assert.deepEqual(convEvents.map((e) => { const c = { ...e }; delete c.windowId; delete c.$window_id; return JSON.stringify(c); }), sent['m-batch'].map((e) => JSON.stringify(e)));
        const again = join(dir, 'again.reel.zip');
        execFileSync(REEL, ['pack', zip, '-o', again]);
        assert.deepEqual(lines(again), sent['m-batch'].map((e) => JSON.stringify(e)));
        // reel inspect counts taps and typing the same way.
        const info = JSON.parse(execFileSync(REEL, ['inspect', zip, '--json']).toString());
        assert.match(JSON.stringify(info), /"click_count":2/);
        assert.match(JSON.stringify(info), /"keypress_count":3/);
      } finally { rmSync(dir, { recursive: true, force: true }); }
    } finally { await server.stop(); server.cleanup(); }
  });
}

test('a captured mobile session plays: server screenshots show the wireframes at their places, the keyboard while open', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const t0 = Date.now() - 10_000;
    const events = recording(t0);
    assert.equal((await post(server, '/batch/', JSON.stringify({ api_key: CAPTURE, batch: [snapshot('m-play', events)], sent_at: new Date().toISOString() }))).status, 200);
    await waitFor(async () => (await stored(server, 'm-play')).length === events.length, { what: 'stored' });
    const shot = async (t) => {
      const r = await fetch(`${server.url}/api/v1/sessions/m-play/screenshot?t=${t}&size=1280x720`, { headers: { Authorization: `Bearer ${ADMIN}` } });
      assert.equal(r.status, 200, await r.clone().text());
      return decodePng(Buffer.from(await r.arrayBuffer()));
    };
    // The 393×852 device fits the 720 px height: scale 720/852, centred.
    const s = 720 / 852, ox = (1280 - 393 * s) / 2;
    const px = (img, x, y) => { const i = (Math.round(y * s) * img.w + Math.round(ox + x * s)) * 3; return [...img.rgb.subarray(i, i + 3)]; };
    const near = (c, want, what) => assert.ok(c.every((v, k) => Math.abs(v - want[k]) < 40), `${what}: ${c} is not ${want}`);
    const open = await shot(1.0);
    near(px(open, 196, 20), [0, 0, 0], 'status bar');
    near(px(open, 40, 284), [0x1d, 0x4a, 0xff], 'the Sign in button');
    near(px(open, 40, 780), [0xd1, 0xd5, 0xdb], 'the keyboard while open');
    const closed = await shot(2.0);
    near(px(closed, 40, 780), [255, 255, 255], 'no keyboard after it closed');
    near(px(closed, 40, 284), [0x1d, 0x4a, 0xff], 'the Sign in button');

    // A share link and its embed play it too (signed out).
    const share = await api(server, '/api/v1/sessions/m-play/shares', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const browser = await launch();
    try {
      const tab = await browser.newPage();
      const errors = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      for (const page of [share.url, share.embed_url]) {
        await tab.goto(server.url + page);
        await waitFor(async () => {
          for (const f of tab.frames()) {
            try { if (await f.evaluate(() => !!document.body && document.body.innerText.includes('Sign in') && document.body.innerText.includes('Welcome to'))) return true; } catch { /* not ready */ }
          }
          return false;
        }, { what: `the wireframes in ${page}` });
      }
      assert.deepEqual(errors, []);
    } finally { await browser.close(); }
  } finally { await server.stop(); server.cleanup(); }
});
