// reel.exportPackage / downloadPackage / getReplayUrl in headless Chromium, checked with the real `reel` binary
// (REEL_BIN, default target/debug/reel), `unzip`, `sha256sum -c` and Python's zipfile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, startPages, sleep, ROOT } from './helpers.mjs';
import { startReceiver } from './receiver.mjs';
import { startReel, waitFor, CAPTURE, ADMIN, REEL } from '../../../e2e/server.mjs';

let browser, pages, server;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reel-export-'));
before(async () => { [browser, pages, server] = await Promise.all([launch(), startPages(), startReel()]); });
after(async () => {
  await browser?.close(); await pages?.stop(); await server?.stop(); server?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Run a program (never spawnSync: the test's own servers must keep answering). */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '', stderr = '';
    p.stdout.on('data', d => { stdout += d; }); p.stderr.on('data', d => { stderr += d; });
    p.on('error', reject);
    p.on('close', code => resolve({ code, stdout, stderr }));
  });
}
let n = 0;
/** Write bytes to a fresh file; returns its path. */
const save = (buf, name = `p${++n}.reel.zip`) => { const f = path.join(tmp, name); fs.writeFileSync(f, buf); return f; };

/** The three outside checks: `reel verify`, `unzip` + `sha256sum -c`, Python's zipfile. Returns {dir, methods}. */
async function checkPackage(file) {
  const v = await run(REEL, ['verify', file]);
  assert.equal(v.code, 0, `reel verify: ${v.stdout}${v.stderr}`);
  const dir = file.replace(/\.reel\.zip$/, '');
  fs.mkdirSync(dir, { recursive: true });
  const u = await run('unzip', ['-q', '-o', file, '-d', dir]);
  assert.equal(u.code, 0, `unzip: ${u.stderr}`);
  const s = await run('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir });
  assert.equal(s.code, 0, `sha256sum -c: ${s.stdout}${s.stderr}`);
  assert.equal(s.stdout.trim().split('\n').length, fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n').length);
  const py = await run('python3', ['-c', `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, z.testzip()
print(json.dumps({i.filename: i.compress_type for i in z.infolist()}))`, file]);
  assert.equal(py.code, 0, `python zipfile: ${py.stderr}`);
  return { dir, methods: JSON.parse(py.stdout) };
}

/** Events of an unpacked package (every window), with their JSON text. */
function eventsIn(dir) {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const lines = m.sessions.flatMap(s => s.windows).flatMap(w => fs.readFileSync(path.join(dir, w), 'utf8').split('\n').filter(Boolean));
  return { manifest: m, lines, events: lines.map(l => JSON.parse(l)) };
}

/** Call reel.exportPackage(opts) in the page; the Blob comes back as a Buffer. */
async function exportFrom(page, opts) {
  const b64 = await page.evaluate(async o => {
    const b = new Uint8Array(await (await reel.exportPackage(o)).arrayBuffer());
    let s = '';
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
    return btoa(s);
  }, opts);
  return Buffer.from(b64, 'base64');
}

const ready = page => page.waitForFunction(() => window.reel && reel.stats().snapshots > 0);
/** A fresh context on a test page (closed when test t ends, passed or not). */
async function open(t, query, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', e => page.errors.push(String(e)));
  await page.goto(`${pages.url}/form.html?${query}&opts=${encodeURIComponent(JSON.stringify({ flushIntervalMs: 300, retryBaseMs: 200, retryMaxMs: 800, ...opts }))}`);
  await ready(page);
  return { ctx, page };
}
/** Typing (masked), a click that mutates the page, a custom event and a console error. */
async function script(page) {
  await page.type('#name', 'TYPED-CANARY-1');
  await page.type('#pw', 'PW-CANARY-2');
  await page.click('#go');
  await page.evaluate(() => { reel.event('help-clicked', { step: 3 }); console.error('boom', { code: 42 }); });
  await sleep(400);
}
const tick = (page, i) => page.evaluate(i => reel.event('tick', { i }), i);
const ticksOf = events => events.filter(e => e.type === 5 && e.data.tag === 'tick').map(e => e.data.payload.i).sort((a, b) => a - b);
const CANARIES = /TYPED-CANARY|PW-CANARY|Zelda|BLOCKED-CANARY|SECRET-CANARY|MASKED-CANARY|FRAME-MASK-CANARY|DEFAULT-CANARY|PROGRAMMATIC-CANARY|PRESET-ADDRESS|Bearer SECRET/;

/** A serialized node without the documents of its iframes (an iframe may load before the snapshot or after it). */
const noFrames = n => (n && n.childNodes ? { ...n, childNodes: n.tagName === 'iframe' ? [] : n.childNodes.map(noFrames) } : n);
/** A mutation without the nodes of iframe documents (their load time varies between runs); null when nothing is left. */
function withoutFrameDocs(d) {
  const adds = (d.adds || []).filter(a => a.node.type !== 0 && a.node.rootId == null);
  const left = { ...d, adds };
  return adds.length || (d.removes || []).length || (d.texts || []).length || (d.attributes || []).length ? left : null;
}

/** Events as a person's actions and the page's changes, without times, pointer positions and when iframes loaded (two runs compare equal). */
function shape(events) {
  return events.filter(e => e.type === 2 || e.type === 5 || e.type === 3 && [0, 2, 5, 8].includes(e.data.source) || e.type === 6 && /console/.test(e.data.plugin))
    .map(e => e.type === 3 && e.data.source === 2 ? { type: 3, source: 2, kind: e.data.type, id: e.data.id }
      : e.type === 2 ? { type: 2, data: { ...e.data, node: noFrames(e.data.node) } }
        : e.type === 3 && e.data.source === 0 ? (withoutFrameDocs(e.data) && { type: 3, data: withoutFrameDocs(e.data) })
          : { type: e.type, data: e.data })
    .filter(Boolean);
}

test('no server: typing, a mutation, a custom event and a console error export to a package that reel verify, unzip + sha256sum -c and Python zipfile accept; masked as sent', async t => {
  const { ctx, page } = await open(t, 'local=1');
  await script(page);
  const st0 = await page.evaluate(() => reel.stats());
  assert.equal(st0.queued, 0, 'nothing is queued without apiHost');
  assert.ok(st0.kept > 0 && st0.keptBytes > 0, 'batches are kept for export: ' + JSON.stringify(st0));
  const file = save(await exportFrom(page));
  const st1 = await page.evaluate(() => reel.stats());
  const { dir, methods } = await checkPackage(file);
  assert.ok(Object.values(methods).every(m => m === 8), 'every entry deflated: ' + JSON.stringify(methods));
  const { manifest, events, lines } = eventsIn(dir);
  const sid = await page.evaluate(() => reel.sessionId), wid = await page.evaluate(() => reel.windowId);
  assert.deepEqual(manifest.sessions.map(s => s.id), [sid]);
  assert.deepEqual(manifest.sessions[0].windows, [`sessions/${sid}/windows/${wid}.jsonl`]);
  assert.equal(manifest.format, 'reel'); assert.equal(manifest.format_version, '1.1');
  assert.deepEqual(Object.keys(manifest), ['format', 'format_version', 'producer', 'created_at', 'sessions', 'files']);
  // what was recorded
  assert.equal(events.filter(e => e.type === 4).length, 1, 'Meta');
  assert.equal(events.filter(e => e.type === 2).length, 1, 'FullSnapshot');
  const inputs = events.filter(e => e.type === 3 && e.data.source === 5);
  assert.ok(inputs.some(e => e.data.text === '*'.repeat('TYPED-CANARY-1'.length)), 'typing, masked');
  assert.ok(inputs.some(e => e.data.text === '********'), 'password: never read');
  assert.ok(events.some(e => e.type === 3 && e.data.source === 0 && e.data.adds.length), 'the click\'s mutation');
  assert.ok(events.some(e => e.type === 5 && e.data.tag === 'help-clicked' && e.data.payload.step === 3), 'custom event');
  assert.ok(events.some(e => e.type === 6 && e.data.payload.level === 'error' && e.data.payload.payload[0] === '"boom"'), 'console error');
  assert.doesNotMatch(lines.join('\n') + fs.readFileSync(path.join(dir, `sessions/${sid}/meta.json`), 'utf8'), CANARIES, 'no typed, masked or blocked text');
  for (let i = 1; i < events.length; i++) assert.ok(Math.floor(events[i].timestamp) >= Math.floor(events[i - 1].timestamp), 'time order');
  assert.equal(events.length, st1.events, 'every recorded event, once');
  // meta.json is what the Rust writer writes for the same events: `reel pack` of the package recomputes it byte for byte
  const again = path.join(tmp, 'repacked.reel.zip');
  const p = await run(REEL, ['pack', file, '-o', again]);
  assert.equal(p.code, 0, p.stderr);
  const re = (await checkPackage(again)).dir;
  const metaPath = `sessions/${sid}/meta.json`;
  assert.equal(fs.readFileSync(path.join(dir, metaPath), 'utf8'), fs.readFileSync(path.join(re, metaPath), 'utf8'), 'meta.json as reel pack writes it');
  const m2 = JSON.parse(fs.readFileSync(path.join(re, 'manifest.json'), 'utf8'));
  // (reel pack adds the optional summary.json of format 1.1, key moments computed by reel-insight; the browser does not)
  m2.files = m2.files.filter(f => f.path !== `sessions/${sid}/summary.json`);
  assert.deepEqual({ ...manifest, producer: '', created_at: '' }, { ...m2, producer: '', created_at: '' }, 'manifest.json as reel pack writes it');
  assert.deepEqual(fs.readFileSync(path.join(dir, manifest.sessions[0].windows[0])), fs.readFileSync(path.join(re, manifest.sessions[0].windows[0])), 'window bytes kept');
  // reel convert --to rrweb reads it
  const out = path.join(tmp, 'local.json');
  const c = await run(REEL, ['convert', file, '--to', 'rrweb', '-o', out]);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), events);
  // and a server imports it later (the kiosk that was offline)
  const auth = { Authorization: `Bearer ${ADMIN}` };
  const imp = await (await fetch(`${server.url}/api/v1/import`, { method: 'POST', headers: auth, body: fs.readFileSync(file) })).json();
  assert.deepEqual([imp.sessions, imp.events], [[sid], events.length], JSON.stringify(imp));
  const stored = await (await fetch(`${server.url}/api/v1/sessions/${sid}`, { headers: auth })).json();
  assert.deepEqual([stored.event_count, stored.source, stored.lib, stored.distinct_id], [events.length, 'reel', 'reel-js', manifest.sessions[0].distinct_id]);
  assert.deepEqual(page.errors, []);
});

test('with a server: the package holds exactly the events reel serve stored (reel convert --to rrweb of both), and a no-server run records the same', async t => {
  // Run A: recorded against a real `reel serve`, delivered batches kept for export.
  const { ctx, page } = await open(t, `api=${encodeURIComponent(server.url)}`, { token: CAPTURE, keepBytes: 50e6 });
  await script(page);
  assert.equal(await page.evaluate(() => reel.flush()), 0, 'everything delivered');
  const st = await page.evaluate(() => reel.stats());
  assert.ok(st.sent > 0 && st.kept === st.sent, 'delivered batches kept: ' + JSON.stringify(st));
  const sid = await page.evaluate(() => reel.sessionId);
  const mine = save(await exportFrom(page));
  await checkPackage(mine);
  const auth = { Authorization: `Bearer ${ADMIN}` };
  await waitFor(async () => { const r = await fetch(`${server.url}/api/v1/sessions/${sid}`, { headers: auth }); return r.ok && (await r.json()).event_count === st.events; }, { what: 'the server has every event' });
  const theirs = save(Buffer.from(await (await fetch(`${server.url}/api/v1/sessions/${sid}/export`, { headers: auth })).arrayBuffer()));
  await checkPackage(theirs);
  const rr = async f => { const o = f + '.json'; const c = await run(REEL, ['convert', f, '--to', 'rrweb', '-o', o]); assert.equal(c.code, 0, c.stderr); return fs.readFileSync(o, 'utf8'); };
  const [a, b] = [await rr(mine), await rr(theirs)];
  assert.equal(JSON.parse(a).length, st.events);
  assert.equal(a, b, 'the browser\'s package and the server\'s export hold the same events, byte for byte');
  await ctx.close();

  // Run B: the same actions with no server at all record the same things (times and pointer positions aside).
  const local = await open(t, 'local=1');
  await script(local.page);
  const c = await rr(save(await exportFrom(local.page)));
  assert.deepEqual(shape(JSON.parse(c)), shape(JSON.parse(a)));
});

test('outage: a package exported while the server is unreachable (and then offline) holds the queued batches exactly once', async t => {
  const rx = await startReceiver({ upstream: server.url, token: CAPTURE });
  t.after(() => rx.stop());
  const { ctx, page } = await open(t, `api=${encodeURIComponent(rx.url)}`, { token: CAPTURE });
  let i = 0;
  for (; i < 3; i++) await tick(page, i);
  assert.equal(await page.evaluate(() => reel.flush()), 0);
  const before = new Set(rx.batches().map(b => b.batch_id));
  rx.setMode('down');
  await page.type('#name', 'abc');
  for (; i < 6; i++) await tick(page, i);
  await sleep(900); // sends fail and back off
  await page.reload(); await ready(page); // the first page's queue is in IndexedDB / localStorage now
  for (; i < 9; i++) await tick(page, i);
  await page.click('#go');
  await sleep(400);
  const st = await page.evaluate(() => reel.stats());
  assert.ok(st.queued > 0 && st.retries > 0, 'queued, retrying: ' + JSON.stringify(st));
  const { dir } = await checkPackage(save(await exportFrom(page)));
  const got = eventsIn(dir);
  assert.deepEqual(ticksOf(got.events), [3, 4, 5, 6, 7, 8], 'the queued ticks, each once; the delivered ones are on the server');
  assert.equal(new Set(got.lines).size, got.lines.length, 'no event twice');
  assert.equal(got.events.filter(e => e.type === 4).length, 1, 'the reload\'s Meta (the first page\'s was delivered before the outage)');
  assert.ok(got.events.some(e => e.type === 3 && e.data.source === 5 && e.data.text === '***'), 'typing during the outage');
  const noQueue = await page.evaluate(() => reel.exportPackage({ includeQueued: false }).then(() => 'resolved', e => e.message));
  assert.match(noQueue, /^reel\.exportPackage: nothing to export in session \S+ without the queue \(includeQueued: false\)$/, 'includeQueued: false leaves only kept batches (none: keepBytes is 0 with apiHost)');

  // Offline (the exporter is loaded now): more events, a second export has them too.
  await ctx.setOffline(true);
  for (; i < 11; i++) await tick(page, i);
  const tOff = await page.evaluate(() => Date.now());
  const off = eventsIn((await checkPackage(save(await exportFrom(page)))).dir);
  assert.deepEqual(ticksOf(off.events), [3, 4, 5, 6, 7, 8, 9, 10]);
  await ctx.setOffline(false);

  // The server comes back: what it receives from the queue is exactly what the package held.
  rx.setMode('ok');
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await waitFor(async () => (await page.evaluate(() => reel.flush())) === 0 && ticksOf(rx.events()).length === 11, { what: 'the queue delivered' });
  const late = new Set(rx.batches().filter(b => !before.has(b.batch_id)).flatMap(b => b.events.map(e => JSON.stringify(e))));
  assert.deepEqual(off.lines.filter(l => !late.has(l)), [], 'everything in the package was queued (and is delivered now)');
  const missing = [...late].filter(l => JSON.parse(l).timestamp < tOff && !off.lines.includes(l));
  assert.deepEqual(missing, [], 'everything queued before the export is in the package');
});

test('size bound: a tiny maxExportBytes rejects with a clear message; recording goes on during and after exports', async t => {
  const { ctx, page } = await open(t, 'local=1', { maxExportBytes: 2000 });
  await script(page);
  const r = await page.evaluate(async () => {
    const n0 = reel.stats().events;
    const p = reel.exportPackage();
    const during = new Promise(res => setTimeout(() => { reel.event('during-export', {}); res(); }, 0));
    const err = await p.then(() => null, e => e.message);
    await during;
    document.getElementById('list').append(Object.assign(document.createElement('li'), { textContent: 'after' }));
    reel.event('after-export', {});
    await new Promise(res => setTimeout(res, 50));
    return { err, n0, n1: reel.stats().events };
  });
  assert.match(r.err, /^reel\.exportPackage: session \S+ holds \d+ bytes of events, more than maxExportBytes \(2000\); export a part with \{since\} or raise maxExportBytes$/);
  assert.ok(r.n1 >= r.n0 + 3, 'events recorded during and after the failed export: ' + JSON.stringify(r));
  const per = await page.evaluate(() => reel.exportPackage({ maxExportBytes: 1 }).then(() => 'resolved', e => e.message));
  assert.match(per, /more than maxExportBytes \(1\)/, 'per call too');
  const ok = eventsIn((await checkPackage(save(await exportFrom(page, { maxExportBytes: 50e6 })))).dir).events;
  const tags = ok.filter(e => e.type === 5).map(e => e.data.tag);
  assert.ok(tags.includes('during-export') && tags.includes('after-export'), tags.join());
  assert.ok(ok.some(e => e.type === 3 && e.data.source === 0 && JSON.stringify(e.data.adds).includes('"after"')), 'mutation after the failed export');
  // since: only what happened from then on
  const since = ok.find(e => e.type === 5 && e.data.tag === 'after-export').timestamp;
  const part = eventsIn((await checkPackage(save(await exportFrom(page, { maxExportBytes: 50e6, since })))).dir).events;
  assert.ok(part.length > 0 && part.every(e => e.timestamp >= since) && part.length < ok.length);
});

test('getReplayUrl opens the session in the web UI at the right moment, after sign-in', async t => {
  const { ctx, page } = await open(t, `api=${encodeURIComponent(server.url)}`, { token: CAPTURE });
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < 5000; i++) { await tick(page, i); await sleep(250); }
  const { url, at } = await page.evaluate(() => ({ url: reel.getReplayUrl({ timestampLookBack: 2 }), at: Date.now() }));
  assert.equal(await page.evaluate(() => reel.getReplayUrl({ withTimestamp: false })), `${server.url}/#/s/${await page.evaluate(() => reel.sessionId)}`);
  await sleep(2500); // the session goes on past the moment
  await tick(page, 99);
  assert.equal(await page.evaluate(() => reel.flush()), 0);
  const sid = await page.evaluate(() => reel.sessionId);
  const m = /^(.*)\/#\/s\/([^&]+)&t=(\d+(?:\.\d)?)$/.exec(url);
  assert.ok(m, url);
  assert.equal(m[1], server.url); assert.equal(m[2], sid);
  const auth = { Authorization: `Bearer ${ADMIN}` };
  const meta = await waitFor(async () => { const r = await fetch(`${server.url}/api/v1/sessions/${sid}`, { headers: auth }); const j = r.ok && await r.json(); return j && j.end_ms >= at + 2000 && j; }, { what: 'session stored' });
  const expected = (at - 2000 - meta.start_ms) / 1000;
  assert.ok(Math.abs(+m[3] - expected) < 0.25, `t=${m[3]} vs ${expected}`);
  await ctx.close();

  const ui = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.after(() => ui.close());
  const p = await ui.newPage();
  await p.goto(url);
  await p.fill('input[name=token]', ADMIN); // not signed in yet: the sign-in form keeps the link
  await p.click('button[type=submit]');
  await p.waitForSelector('.reel-timeline[aria-valuenow]');
  await p.waitForFunction(() => document.querySelector('.reel-time').textContent !== '0:00 / 0:00');
  await sleep(500);
  const shown = await p.evaluate(() => ({ now: +document.querySelector('.reel-timeline').getAttribute('aria-valuenow'), max: +document.querySelector('.reel-timeline').getAttribute('aria-valuemax'), hash: location.hash }));
  assert.equal(shown.hash, new URL(url).hash, 'the link survives sign-in');
  assert.ok(shown.max > shown.now, JSON.stringify(shown));
  assert.ok(Math.abs(shown.now - expected) <= 0.5 + 0.01, `player at ${shown.now} s, expected ${expected} s`);
});

test('reel serve serves /static/reel-export.js; reel.mjs exports exportPackage, downloadPackage, getReplayUrl', async t => {
  const r = await fetch(`${server.url}/static/reel-export.js`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /javascript/);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), fs.readFileSync(path.join(ROOT, 'web/recorder/reel-export.js')));
  const ctx = await browser.newContext({ acceptDownloads: true });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${pages.url}/esm.html`);
  await page.waitForFunction(() => window.esm && reel.stats().snapshots > 0);
  const names = await page.evaluate(async () => { const m = await import('/static/reel.mjs'); return ['exportPackage', 'downloadPackage', 'getReplayUrl'].filter(k => typeof m[k] === 'function'); });
  assert.deepEqual(names, ['exportPackage', 'downloadPackage', 'getReplayUrl']);
  const [download] = await Promise.all([page.waitForEvent('download'), page.evaluate(() => import('/static/reel.mjs').then(m => m.downloadPackage()))]);
  const sid = await page.evaluate(() => reel.sessionId);
  assert.equal(download.suggestedFilename(), `${sid}.reel.zip`);
  const file = path.join(tmp, 'downloaded.reel.zip');
  await download.saveAs(file);
  const { dir } = await checkPackage(file);
  assert.ok(eventsIn(dir).events.some(e => e.type === 5 && e.data.tag === 'from-esm'));
  assert.equal(await page.evaluate(() => import('/static/reel.mjs').then(m => m.getReplayUrl())), null, 'no server, no replay URL');
  assert.equal(await page.evaluate(() => document.querySelectorAll('script[src*="reel-export"]').length), 0, 'the exporter\'s tag is gone');
});

test('without CompressionStream and SubtleCrypto: stored entries and the exporter\'s own SHA-256 still verify', async t => {
  const { ctx, page } = await open(t, 'local=1');
  await script(page);
  await page.evaluate(() => { delete window.CompressionStream; Object.defineProperty(crypto, 'subtle', { get: () => undefined }); });
  const { dir, methods } = await checkPackage(save(await exportFrom(page)));
  assert.ok(Object.values(methods).every(m => m === 0), 'stored: ' + JSON.stringify(methods));
  assert.ok(eventsIn(dir).events.some(e => e.type === 5 && e.data.tag === 'help-clicked'));
  // the fallback hash against node's on edge lengths (padding at 55/56/64 bytes) and a big input
  const lens = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 300000];
  const got = await page.evaluate(ls => ls.map(n => reelExport.sha256js(Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255))), lens);
  const { createHash } = await import('node:crypto');
  assert.deepEqual(got, lens.map(n => createHash('sha256').update(Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255)).digest('hex')));
});

test('a session that is not sampled has no replay URL and nothing to export', async t => {
  const ctx = await browser.newContext();
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${pages.url}/form.html?api=${encodeURIComponent(server.url)}&opts=${encodeURIComponent(JSON.stringify({ token: CAPTURE, sampleRate: 0 }))}`);
  await page.waitForFunction(() => window.reel && reel.sessionId);
  await page.type('#name', 'abc');
  const r = await page.evaluate(async () => ({ url: reel.getReplayUrl(), err: await reel.exportPackage().then(() => 'resolved', e => e.message), events: reel.stats().events }));
  assert.equal(r.url, null);
  assert.equal(r.events, 0);
  assert.match(r.err, /^reel\.exportPackage: nothing to export in session \S+$/);
});
