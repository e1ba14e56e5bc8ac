// `reel serve` end to end: unmodified posthog-js and rrweb's record() in headless Chromium, in the
// embedded mode and on PostgreSQL + S3; exports replay in rrweb's own Replayer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, modes, api, servePages, waitFor, CAPTURE, ADMIN, ROOT, REEL } from './server.mjs';

const browser = await launch();
after(() => browser.close());
const rrwebUmd = readFileSync(join(ROOT, 'node_modules/rrweb/dist/rrweb.umd.cjs'), 'utf8');
const replayUmd = readFileSync(join(ROOT, 'node_modules/@rrweb/replay/dist/replay.umd.cjs'), 'utf8');

function formPage(title, next, head) {
  return `<!doctype html><html><head><title>${title}</title>${head}</head><body>
  <h1>${title}</h1><form onsubmit="return false"><input id="name" placeholder="name"><textarea id="note"></textarea>
  <button id="go" type="button" onclick="document.getElementById('out').textContent='clicked '+(++window.n||(window.n=1))">Go</button></form>
  <p id="out">waiting</p>${next ? `<a id="next" href="${next}">next page</a>` : ''}</body></html>`;
}

async function interact(page, text) {
  await page.click('#name');
  await page.keyboard.type(text, { delay: 20 });
  for (let i = 0; i < 3; i++) { await page.click('#go'); await page.waitForTimeout(150); }
  await page.mouse.move(200, 200); await page.mouse.move(300, 250);
}

/** Replay `events` in rrweb's own Replayer and return the replayed document's body text at the end. */
async function replayInRrweb(events) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setContent('<div id="root"></div>');
  await page.addScriptTag({ content: replayUmd });
  const text = await page.evaluate(async (evs) => {
    const r = new window.rrwebReplay.Replayer(evs, { root: document.getElementById('root'), showWarning: false });
    r.pause(evs[evs.length - 1].timestamp - evs[0].timestamp);
    await new Promise((res) => setTimeout(res, 300));
    return r.iframe.contentDocument.body.innerText;
  }, events);
  await page.close();
  return { text, errors };
}

async function exportAndVerify(server, id) {
  const zip = await api(server, `/api/v1/sessions/${id}/export`);
  const dir = mkdtempSync(join(tmpdir(), 'reel-exp-'));
  const file = join(dir, 's.reel.zip');
  writeFileSync(file, zip);
  execFileSync(REEL, ['verify', file]); // throws on a non-zero exit
  const events = JSON.parse(execFileSync(REEL, ['convert', file, '--to', 'rrweb'], { maxBuffer: 1 << 28 }).toString());
  return events;
}

for (const mode of modes()) {
  test(`unmodified posthog-js records into reel serve (${mode})`, async () => {
    const server = await startReel({ mode });
    const head = `<script src="${server.url}/static/array.js"></script><script>
      posthog.init('${CAPTURE}', { api_host: '${server.url}', person_profiles: 'always', opt_out_useragent_filter: true });
    </script>`;
    const site = await servePages({ '/a.html': formPage('Page A', '/b.html', head), '/b.html': formPage('Page B', null, head) });
    const page = await browser.newPage();
    try {
      await page.goto(`${site.url}/a.html`);
      await page.waitForFunction(() => window.posthog && window.posthog.sessionRecordingStarted && window.posthog.sessionRecordingStarted(), null, { timeout: 15000 });
      await interact(page, 'hello posthog');
      await page.click('#next');
      await page.waitForURL('**/b.html');
      await page.waitForFunction(() => window.posthog && window.posthog.sessionRecordingStarted && window.posthog.sessionRecordingStarted(), null, { timeout: 15000 });
      await interact(page, 'second page');
      const sid = await page.evaluate(() => window.posthog.get_session_id());
      const s = await waitFor(async () => {
        const r = await api(server, `/api/v1/sessions/${sid}`);
        return r.urls.some((u) => u.endsWith('/b.html')) && r.click_count >= 6 && r.keypress_count > 0 ? r : null;
      }, { timeout: 30000, what: 'the posthog-js session with both pages' });
      assert.equal(s.id, sid);
      assert.ok(s.urls[0].endsWith('/a.html'), `start_url is page A: ${s.urls}`);
      assert.ok(s.event_count > 10 && s.recording_duration > 0);
      assert.equal(s.lib, 'web');
      const list = await api(server, `/api/v1/sessions?url=b.html`);
      assert.ok(list.results.some((r) => r.id === sid), 'URL filter finds the session');
      const events = await exportAndVerify(server, sid);
      assert.ok(events.some((e) => e.type === 2), 'the export holds a full snapshot');
      assert.ok(!JSON.stringify(events).includes('"cv"'), 'cv packing undone');
      const { text, errors } = await replayInRrweb(events);
      assert.deepEqual(errors, []);
      assert.match(text, /Page B/, 'rrweb replays the export up to the second page');
      assert.match(text, /clicked 3/);
    } finally {
      await page.close(); await site.close(); await server.stop(); server.cleanup();
    }
  });

  test(`rrweb record() posts to /api/v1/ingest (${mode})`, async () => {
    const server = await startReel({ mode });
    const head = `<script>${rrwebUmd}</script><script>
      const sid = 'rrweb-' + Math.random().toString(36).slice(2, 10); window.sid = sid;
      let buf = [], n = 0; window.acked = 0;
      rrweb.record({ emit(e) { buf.push(e); }, maskAllInputs: false });
      async function flush() {
        if (!buf.length) return; const events = buf; buf = [];
        const body = JSON.stringify({ batch_id: sid + '-' + (n++), session_id: sid, window_id: 'w1', distinct_id: 'tester', events });
        const r = await fetch('${server.url}/api/v1/ingest?token=${CAPTURE}', { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
        if (r.ok) window.acked++; else buf = events.concat(buf);
      }
      setInterval(flush, 500); window.flush = flush;
    </script>`;
    const site = await servePages({ '/r.html': formPage('rrweb page', null, head) });
    const page = await browser.newPage();
    try {
      await page.goto(`${site.url}/r.html`);
      await interact(page, 'typed in rrweb');
      await page.waitForTimeout(300); // let rrweb emit the last mutation
      await page.evaluate(() => window.flush());
      const sid = await page.evaluate(() => window.sid);
      await waitFor(async () => JSON.stringify(await api(server, `/api/v1/sessions/${sid}/events`)).includes('clicked 3'), { what: 'the last mutation to arrive' });
      const s = await api(server, `/api/v1/sessions/${sid}`);
      assert.ok(s.click_count >= 3);
      assert.equal(s.distinct_id, 'tester');
      assert.ok(s.keypress_count >= 10);
      const events = await exportAndVerify(server, sid);
      const { text, errors } = await replayInRrweb(events);
      assert.deepEqual(errors, []);
      assert.match(text, /clicked 3/);
    } finally {
      await page.close(); await site.close(); await server.stop(); server.cleanup();
    }
  });
}

test('tokens, bad input and abuse', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const post = (path, body, headers = {}) => fetch(server.url + path, { method: 'POST', body, headers });
    const ev = JSON.stringify([{ type: 4, data: { href: 'http://x/' }, timestamp: 1_790_000_000_000 }]);
    // Capture token on a read route: 403. Unknown token: 401. No token: 401.
    assert.equal((await fetch(`${server.url}/api/v1/sessions`, { headers: { Authorization: `Bearer ${CAPTURE}` } })).status, 403);
    assert.equal((await fetch(`${server.url}/api/v1/sessions`, { headers: { Authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await fetch(`${server.url}/api/v1/sessions`)).status, 401);
    const wrong = await post('/api/v1/ingest?token=phc_wrong', `{"batch_id":"x","session_id":"s","events":${ev}}`);
    assert.equal(wrong.status, 401);
    const snap = (props) => JSON.stringify([{ event: '$snapshot', uuid: Math.random().toString(), properties: { token: CAPTURE, distinct_id: 'd', $snapshot_data: JSON.parse(ev), ...props } }]);
    const wrongTok = await post('/s/', JSON.stringify([{ event: '$snapshot', properties: { token: 'phc_other', $session_id: 's1', distinct_id: 'd', $snapshot_data: [] } }]));
    assert.equal(wrongTok.status, 401);
    // Missing session id: 400 naming the field.
    const missing = await post('/s/', snap({}));
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /\$session_id/);
    const missing2 = await post(`/api/v1/ingest?token=${CAPTURE}`, `{"batch_id":"x","events":${ev}}`);
    assert.equal(missing2.status, 400);
    assert.match(await missing2.text(), /session_id/);
    // Ids with '/', '..' or NUL.
    for (const bad of ['a/b', '..', 'a\u0000b']) {
      assert.equal((await post(`/api/v1/ingest?token=${CAPTURE}`, JSON.stringify({ batch_id: 'y', session_id: bad, events: JSON.parse(ev) }))).status, 400, bad);
      assert.equal((await post('/s/', snap({ $session_id: bad }))).status, 400, bad);
    }
    // Malformed JSON: 400; a gzip bomb: 413 (over the decompressed cap); nothing stored.
    assert.equal((await post(`/api/v1/ingest?token=${CAPTURE}`, '{"batch_id": ')).status, 400);
    const zlib = await import('node:zlib');
    const bomb = zlib.gzipSync(Buffer.alloc(300 << 20, 32));
    assert.equal((await post('/s/', bomb)).status, 413);
    // A malformed event inside a good batch: the good ones are kept.
    const mixed = await post(`/api/v1/ingest?token=${CAPTURE}`, JSON.stringify({ batch_id: 'm1', session_id: 'mixed', events: [JSON.parse(ev)[0], { nope: true }, { type: 3, data: { source: 2, type: 2, id: 1 }, timestamp: 1_790_000_000_001 }] }));
    assert.equal(mixed.status, 200);
    assert.equal((await mixed.json()).rejected_events, 1);
    assert.equal((await api(server, '/api/v1/sessions/mixed')).event_count, 2);
    const list = await api(server, '/api/v1/sessions');
    assert.deepEqual(list.results.map((r) => r.id), ['mixed'], 'nothing else was stored');
    // Body over the cap: 413.
    assert.equal((await post('/s/', Buffer.alloc(26 << 20, 32))).status, 413);
    // Many slow clients: the server keeps serving others.
    const net = await import('node:net');
    const socks = [];
    for (let i = 0; i < 500; i++) {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('error', () => {});
      s.write('POST /s/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{');
      socks.push(s);
    }
    const t0 = Date.now();
    const ok = await fetch(`${server.url}/healthz`);
    assert.equal(ok.status, 200);
    assert.ok(Date.now() - t0 < 5000, 'healthz answered while 500 clients dribble');
    socks.forEach((s) => s.destroy());
  } finally { await server.stop(); server.cleanup(); }
});

test('web UI: sign in, list, open, share, embed, revoke', async () => {
  const server = await startReel({ mode: 'embedded' });
  const page = await browser.newPage();
  try {
    const events = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'ui-1', session_id: 'ui-session', distinct_id: 'zoe', events }) });
    assert.equal(r.status, 200);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(server.url + '/');
    await page.fill('input[name=token]', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.signin .error');
    await page.fill('input[name=token]', ADMIN);
    await page.click('button[type=submit]');
    await page.waitForSelector('table.sessions tr.row');
    assert.match(await page.textContent('table.sessions'), /zoe/);
    await page.click('table.sessions tr.row');
    await page.waitForSelector('.facts dl');
    assert.match(await page.textContent('.facts'), /ui-session/);
    await page.waitForSelector('.stage iframe', { timeout: 15000 });
    await page.click('text=Share');
    const link = await page.inputValue('.share-result input');
    const share = await browser.newPage();
    const res = await share.goto(link);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['x-frame-options'], 'DENY');
    await share.waitForSelector('.stage iframe', { timeout: 15000 });
    const embedRes = await share.goto(link.replace('/share/', '/embed/'));
    assert.equal(embedRes.headers()['x-frame-options'], undefined, 'embeds may be framed');
    await page.click('.shares button');
    await waitFor(async () => (await fetch(link)).status === 404, { what: 'revoked share to 404' });
    await share.close();
    assert.deepEqual(errors, []);
  } finally { await page.close(); await server.stop(); server.cleanup(); }
});

test('remote config and flags follow the project settings', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const cfg = async () => {
      const js = await (await fetch(`${server.url}/array/${CAPTURE}/config.js`)).text();
      const json = await (await fetch(`${server.url}/array/${CAPTURE}/config`)).json();
      const flags = await (await fetch(`${server.url}/flags/?v=2`, { method: 'POST', body: JSON.stringify({ token: CAPTURE }) })).json();
      assert.ok(js.includes(`window._POSTHOG_REMOTE_CONFIG["${CAPTURE}"]`));
      assert.deepEqual(flags.sessionRecording, json.sessionRecording);
      assert.deepEqual(flags.flags, {});
      return json;
    };
    let c = await cfg();
    assert.equal(c.sessionRecording.endpoint, '/s/');
    assert.equal(c.sessionRecording.consoleLogRecordingEnabled, true);
    assert.deepEqual(c.supportedCompression, ['gzip', 'gzip-js']);
    await api(server, '/api/v1/project', { method: 'PATCH', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ console_log_recording: false, sample_rate: 0.5, minimum_duration_ms: 2000,
        masking: { maskAllInputs: true, blockSelector: '.secret' }, network_capture: { recordHeaders: true, recordBody: false } }) });
    c = await cfg();
    assert.equal(c.sessionRecording.consoleLogRecordingEnabled, false);
    assert.equal(c.sessionRecording.sampleRate, '0.5');
    assert.equal(c.sessionRecording.minimumDurationMilliseconds, 2000);
    assert.equal(c.sessionRecording.masking.blockSelector, '.secret');
    assert.equal(c.capturePerformance.network_timing, true);
    await api(server, '/api/v1/project', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ recording_enabled: false }) });
    assert.equal((await cfg()).sessionRecording, false);
    const bad = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '{"sampel_rate": 1}' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /sampel_rate/);
    assert.equal((await fetch(`${server.url}/array/phc_unknown/config.js`)).status, 404);
    // The lazy recorder is served from the posthog-js dist folder, with CORS for crossorigin loads.
    const lazy = await fetch(`${server.url}/static/1.449.2/lazy-recorder.js`, { headers: { Origin: 'http://site.example' } });
    assert.equal(lazy.status, 200);
    assert.equal(lazy.headers.get('access-control-allow-origin'), 'http://site.example');
    assert.equal((await fetch(`${server.url}/static/lazy-recorder.js?v=1.449.2`)).status, 200);
    assert.equal((await fetch(`${server.url}/static/..%2F..%2Fetc%2Fpasswd`)).status, 404);
  } finally { await server.stop(); server.cleanup(); }
});

test('without --posthog-js-dist the lazy recorder route explains how to fix it', async () => {
  const { spawn } = await import('node:child_process');
  const { freePort } = await import('./server.mjs');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'reel-nodist-'));
  const env = { ...process.env };
  delete env.REEL_POSTHOG_JS_DIST;
  const proc = spawn(REEL, ['serve', '--listen', `127.0.0.1:${port}`, '--data', dir], { env, stdio: 'ignore' });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { what: 'server' });
    const r = await fetch(`http://127.0.0.1:${port}/static/lazy-recorder.js`);
    assert.equal(r.status, 404);
    assert.match(await r.text(), /--posthog-js-dist.*posthog-js\/dist\/recorder/);
  } finally { proc.kill('SIGTERM'); }
});

test('ingest policy after a restart: a window is warmed up from its stored events', async () => {
  let server = await startReel({ mode: 'embedded' });
  try {
    const patch = (body) => fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await patch({ ingest_redaction: { rules: 'block = [".vault"]' } })).status, 200);
    const send = (batch, events) => fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: batch, session_id: 'warm-1', window_id: 'w1', events }) });
    const t = 1_790_000_000_000;
    const first = [
      { type: 4, timestamp: t, data: { href: 'https://shop.example/', width: 800, height: 600 } },
      { type: 2, timestamp: t + 1, data: { initialOffset: { top: 0, left: 0 }, node: { type: 0, id: 1, childNodes: [
        { type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [{ type: 2, id: 3, tagName: 'body', attributes: {}, childNodes: [
          { type: 2, id: 5, tagName: 'div', attributes: { id: 'open' }, childNodes: [] },
          { type: 2, id: 7, tagName: 'div', attributes: { class: 'vault' }, childNodes: [] }] }] }] } } },
    ];
    assert.equal((await send('warm-b1', first)).status, 200);
    // A new process knows nothing of the page: it must rebuild it from what is stored.
    server = await server.restart();
    const second = [{ type: 3, timestamp: t + 2, data: { source: 0, texts: [], attributes: [], removes: [], adds: [
      { parentId: 5, nextId: null, node: { type: 3, id: 20, textContent: 'OPENTEXT' } },
      { parentId: 7, nextId: null, node: { type: 3, id: 21, textContent: 'VAULTCANARY' } }] } }];
    assert.equal((await send('warm-b2', second)).status, 200);
    const stored = JSON.stringify(await api(server, '/api/v1/sessions/warm-1/events'));
    assert.ok(stored.includes('OPENTEXT'), 'content added under an ordinary element after the restart is kept');
    assert.ok(!stored.includes('VAULTCANARY'), 'content added under a blocked element after the restart is not stored');
  } finally { await server.stop(); server.cleanup(); }
});

test('redaction policies: on ingest (nothing stored) and on the way out (export, events, shares)', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const events = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));
    const send = (sid) => fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: sid, session_id: sid, events }) });
    const patch = (body) => fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(JSON.stringify(events).includes('zelda.canary@example.com'), 'the fixture carries the canary');
    // Export policy: stored as recorded, redacted on every way out.
    assert.equal((await send('raw-1')).status, 200);
    assert.equal((await patch({ export_redaction: { preset: 'default' } })).status, 200);
    const out = JSON.stringify(await api(server, '/api/v1/sessions/raw-1/events'));
    assert.ok(!out.includes('zelda.canary@example.com'), 'events API applies the export policy');
    const zip = await api(server, '/api/v1/sessions/raw-1/export');
    const dir = mkdtempSync(join(tmpdir(), 'reel-pol-'));
    writeFileSync(join(dir, 'r.reel.zip'), zip);
    const conv = execFileSync(REEL, ['convert', join(dir, 'r.reel.zip'), '--to', 'rrweb']).toString();
    assert.ok(!conv.includes('zelda.canary@example.com'), 'exports apply the export policy');
    const share = await api(server, '/api/v1/sessions/raw-1/shares', { method: 'POST' });
    const shared = await (await fetch(`${server.url}${share.url}/events`)).text();
    assert.ok(!shared.includes('zelda.canary@example.com'), 'shares apply the export policy');
    // Ingest policy: redacted before anything is stored.
    assert.equal((await patch({ export_redaction: null, ingest_redaction: { preset: 'default' } })).status, 200);
    assert.equal((await send('clean-1')).status, 200);
    const stored = JSON.stringify(await api(server, '/api/v1/sessions/clean-1/events'));
    assert.ok(!stored.includes('zelda.canary@example.com'));
    assert.ok(stored.length > 1000, 'the recording itself is kept');
    // A bad policy is refused with the reason.
    const bad = await patch({ ingest_redaction: { rules: 'mask_text = ["##"]' } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /ingest_redaction/);
  } finally { await server.stop(); server.cleanup(); }
});
