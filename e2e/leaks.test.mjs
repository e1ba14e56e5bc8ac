// Share links, embeds and pages leak nothing: no Referer from recorded markup, the export policy on
// every share route, security headers on every page and player file, no paths or tokens in public
// answers, /metrics on its own address, JSON errors everywhere.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, api, waitFor, freePort, CAPTURE, ADMIN, REEL } from './server.mjs';

const browser = await launch();
after(() => browser.close());

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** A third party on loopback: records every request with its Referer. */
async function thirdParty() {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url, referer: req.headers.referer });
    if (req.url.startsWith('/css')) {
      res.writeHead(200, { 'content-type': 'text/css' });
      res.end('body{outline:1px solid red}');
    } else {
      res.writeHead(200, { 'content-type': 'image/gif' });
      res.end(GIF);
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

let nextId = 10;
const el = (tagName, attributes = {}, childNodes = []) => ({ type: 2, tagName, attributes, childNodes, id: nextId++ });

/** A recording whose markup asks for every referrer it can get, in the snapshot and in mutations. */
function leakyRecording(third) {
  const t0 = Date.now() - 60_000;
  const head = el('head', {}, [
    el('meta', { name: 'referrer', content: 'unsafe-url' }),
    el('link', { rel: 'stylesheet', href: `${third}/css-link`, referrerpolicy: 'unsafe-url' }),
  ]);
  const plain = el('img', { id: 'plain', src: `${third}/img-plain` });
  const later = el('img', { id: 'later' });
  const body = el('body', {}, [
    el('img', { src: `${third}/img-unsafe`, referrerpolicy: 'unsafe-url' }),
    plain,
    el('div', { style: `width:10px;height:10px;background-image:url(${third}/bg-inline)` }),
    el('a', { href: `${third}/link`, referrerpolicy: 'unsafe-url', rel: 'noreferrer' }, [{ type: 3, textContent: 'link', id: nextId++ }]),
    later,
  ]);
  const html = el('html', {}, [head, body]);
  const doc = { type: 0, id: 1, childNodes: [{ type: 1, name: 'html', publicId: '', systemId: '', id: 2 }, html] };
  const meta2 = el('meta', {});
  return [
    { type: 4, timestamp: t0, data: { href: 'https://shop.example/', width: 800, height: 600 } },
    { type: 2, timestamp: t0 + 10, data: { node: doc, initialOffset: { top: 0, left: 0 } } },
    // Mutations: a new meta made a referrer policy, a new image with unsafe-url, and attribute
    // changes that give existing images unsafe-url and a new source.
    { type: 3, timestamp: t0 + 200, data: { source: 0, texts: [], removes: [], attributes: [], adds: [
      { parentId: head.id, nextId: null, node: meta2 },
      { parentId: body.id, nextId: null, node: el('img', { src: `${third}/img-added`, referrerpolicy: 'unsafe-url' }) },
      { parentId: head.id, nextId: null, node: el('link', { rel: 'stylesheet', href: `${third}/css-added`, referrerPolicy: 'unsafe-url' }) },
    ] } },
    { type: 3, timestamp: t0 + 300, data: { source: 0, texts: [], removes: [], adds: [], attributes: [
      { id: meta2.id, attributes: { name: 'referrer', content: 'unsafe-url' } },
      { id: later.id, attributes: { referrerpolicy: 'unsafe-url', src: `${third}/img-attr` } },
      { id: plain.id, attributes: { src: `${third}/img-plain-2` } },
    ] } },
    { type: 3, timestamp: t0 + 3000, data: { source: 1, positions: [{ x: 1, y: 1, id: body.id, timeOffset: 0 }] } },
  ];
}

const EXPECTED = ['/css-link', '/img-unsafe', '/bg-inline', '/img-added', '/css-added', '/img-attr', '/img-plain-2'];

/** Open `url` in Chromium and wait until the third party saw every resource of the recording. */
async function openAndCollect(url, third) {
  third.seen.length = 0;
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) errors.push(m.text()); });
  try {
    await page.goto(url);
    await waitFor(() => EXPECTED.every((p) => third.seen.some((s) => s.path === p)),
      { timeout: 30000, what: `every recorded resource requested from ${url} (seen: ${JSON.stringify(third.seen.map((s) => s.path))})` });
    await page.waitForTimeout(300);
  } finally { await page.close(); }
  return { seen: [...third.seen], errors };
}

// Requests started by CSS of the page itself (an inline <style>, a style attribute): Chromium sends
// its origin as Referer whatever the referrer policy (header, meta or attribute) says; nothing else
// may carry one, and no Referer may carry a path (the token).
const CSS_STARTED = new Set(['/bg-inline']);

function assertNoReferer(seen, third, reel, what) {
  for (const s of seen) {
    // A stylesheet's own subresources may name the stylesheet (the third party's own URL).
    if (s.referer && s.referer.startsWith(third.url + '/css')) continue;
    if (CSS_STARTED.has(s.path) && s.referer === reel + '/') continue;
    assert.equal(s.referer, undefined, `${what}: ${s.path} was requested with Referer ${s.referer}`);
  }
}

function assertPageHeaders(res, what, { frameable = false } = {}) {
  const h = res.headers;
  assert.equal(h.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(h.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  const csp = h.get('content-security-policy') || '';
  assert.match(csp, /default-src 'self'/, `${what}: CSP`);
  assert.match(csp, /object-src 'none'/, `${what}: CSP`);
  if (frameable) {
    assert.match(csp, /frame-ancestors \*/, `${what}: frameable`);
    assert.equal(h.get('x-frame-options'), null, `${what}: frameable`);
  } else {
    assert.match(csp, /frame-ancestors 'none'/, `${what}: not frameable`);
    assert.equal(h.get('x-frame-options'), 'DENY', `${what}: not frameable`);
  }
}

test('recorded markup cannot send the share URL as Referer (share, embed, player.html)', async () => {
  const third = await thirdParty();
  const server = await startReel({ mode: 'embedded' });
  try {
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'leak-1', session_id: 'leaky', events: leakyRecording(third.url) }) });
    assert.equal(r.status, 200, await r.text());
    const share = await api(server, '/api/v1/sessions/leaky/shares', { method: 'POST' });
    const token = share.token;
    const pages = {
      share: `${server.url}/share/${token}#t=2`,
      embed: `${server.url}/embed/${token}#t=2`,
      'player.html': `${server.url}/player/player.html?src=${encodeURIComponent(`/share/${token}/events?format=jsonl`)}#t=2`,
    };
    for (const [what, url] of Object.entries(pages)) {
      const { seen, errors } = await openAndCollect(url, third);
      assertNoReferer(seen, third, server.url, what);
      for (const s of seen) assert.ok(!String(s.referer).includes(token), `${what}: the token left in a Referer`);
      assert.deepEqual(errors, [], `${what}: page errors`);
    }
  } finally { await server.stop(); server.cleanup(); await third.close(); }
});

test('every page and every player and UI file carries the security headers', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'h-1', session_id: 'hdr', events: leakyRecording('http://127.0.0.1:9') }) });
    assert.equal(r.status, 200);
    const share = await api(server, '/api/v1/sessions/hdr/shares', { method: 'POST' });
    for (const path of ['/', `/share/${share.token}`, '/share/nonexistenttoken', '/player/player.html', '/player/index.js',
      '/player/sanitize.js', '/player/player.css', '/ui/app.js', '/ui/share.js', '/ui/app.css']) {
      const res = await fetch(server.url + path);
      assertPageHeaders(res, path);
    }
    assertPageHeaders(await fetch(`${server.url}/embed/${share.token}`), 'embed', { frameable: true });
    // `reel play` serves the same files with the same headers.
    const dir = mkdtempSync(join(tmpdir(), 'reel-leaks-'));
    const file = join(dir, 'r.json');
    writeFileSync(file, JSON.stringify(leakyRecording('http://127.0.0.1:9')));
    const port = await freePort();
    const proc = spawn(REEL, ['play', file, '--listen', `127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/player/player.html`)).ok, { what: 'reel play' });
      for (const p of ['/player/player.html', '/player/index.js']) assertPageHeaders(await fetch(`http://127.0.0.1:${port}${p}`), `reel play ${p}`);
    } finally { proc.kill('SIGTERM'); }
  } finally { await server.stop(); server.cleanup(); }
});

test('share routes honour the export policy: meta and events', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const canary = 'zelda.canary@example.com';
    const t0 = Date.now() - 60_000;
    const events = [
      { type: 4, timestamp: t0, data: { href: `https://shop.example/checkout?email=${canary}&token=SECRETQ`, width: 800, height: 600 } },
      { type: 2, timestamp: t0 + 1, data: { initialOffset: { top: 0, left: 0 }, node: { type: 0, id: 1, childNodes: [
        { type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [{ type: 2, id: 3, tagName: 'body', attributes: {}, childNodes: [
          { type: 3, id: 4, textContent: `mail ${canary}` }] }] }] } } },
    ];
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'p-1', session_id: 'pol', events }) });
    assert.equal(r.status, 200);
    const share = await api(server, '/api/v1/sessions/pol/shares', { method: 'POST' });
    const meta = async () => (await fetch(`${server.url}/share/${share.token}/meta`)).json();
    assert.ok((await meta()).start_url.includes(canary), 'without a policy the start URL is as recorded');
    const patch = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ export_redaction: { preset: 'strict' } }) });
    assert.equal(patch.status, 200);
    const m = await meta();
    assert.ok(m.start_url && m.start_url.startsWith('https://shop.example/checkout'), `the redacted start URL is kept: ${m.start_url}`);
    assert.ok(!JSON.stringify(m).includes(canary) && !JSON.stringify(m).includes('SECRETQ'), `meta under the strict policy: ${JSON.stringify(m)}`);
    for (const q of ['', '?format=jsonl']) {
      const body = await (await fetch(`${server.url}/share/${share.token}/events${q}`)).text();
      assert.ok(body.length > 50 && !body.includes(canary) && !body.includes('SECRETQ'), `events${q} under the strict policy`);
    }
  } finally { await server.stop(); server.cleanup(); }
});

test('public answers show no paths or tokens; share expiry is checked; errors are JSON', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const health = await (await fetch(`${server.url}/healthz`)).text();
    assert.ok(!health.includes(server.data) && !/"\/|:\//.test(health.replace(/"[a-z]+":/g, '')), `healthz shows no path: ${health}`);
    for (const body of ['', JSON.stringify({ token: CAPTURE }), JSON.stringify({ api_key: CAPTURE })]) {
      const flags = await fetch(`${server.url}/flags/?v=2`, { method: 'POST', body });
      assert.equal(flags.status, 200);
      assert.ok(!(await flags.text()).includes(CAPTURE), `/flags echoes no token (body ${body || 'empty'})`);
    }
    const missing = await fetch(`${server.url}/static/nope-recorder.js`);
    assert.equal(missing.status, 404);
    assert.ok(!(await missing.text()).includes('node_modules'), 'a /static 404 does not show the dist path');
    // Share expiry.
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'e-1', session_id: 'exp', events: leakyRecording('http://127.0.0.1:9') }) });
    assert.equal(r.status, 200);
    for (const body of ['{"expires_in_seconds": 0}', '{"expires_in_seconds": -5}', '{"expires_in_seconds": 9223372036854775807}',
      '{"expires_in_seconds": 9223372036854775}', '{"expires_in_seconds": 1e300}']) {
      const res = await fetch(`${server.url}/api/v1/sessions/exp/shares`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body });
      assert.equal(res.status, 400, body);
      assert.match((await res.json()).error, /expires_in_seconds/, body);
    }
    const ok = await fetch(`${server.url}/api/v1/sessions/exp/shares`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: '{"expires_in_seconds": 60}' });
    assert.equal(ok.status, 201);
    // A bad query string, an unknown route: JSON errors.
    for (const [path, status] of [['/api/v1/sessions?limit=many', 400], ['/api/v1/sessions?has_errors=maybe', 400], ['/no/such/route', 404]]) {
      const res = await fetch(server.url + path, { headers: { Authorization: `Bearer ${ADMIN}` } });
      assert.equal(res.status, status, path);
      assert.match(res.headers.get('content-type'), /application\/json/, path);
      const j = await res.json();
      assert.equal(typeof j.error, 'string', path);
      assert.ok(j.error.length > 0, path);
    }
    // The capture token on a read route: the CLI says so once.
    const pull = spawnSync(REEL, ['pull', 'exp', '--server', server.url, '--token', CAPTURE, '-o', join(mkdtempSync(join(tmpdir(), 'reel-pull-')), 'x.reel.zip')], { encoding: 'utf8' });
    assert.notEqual(pull.status, 0);
    assert.equal(pull.stderr.match(/capture token/g)?.length, 1, `one explanation: ${pull.stderr}`);
    // Requests to share and embed pages are counted as such in /metrics, not as capture.
    await fetch(`${server.url}/share/nonexistenttoken`);
    await fetch(`${server.url}/embed/nonexistenttoken`);
    await fetch(`${server.url}/static/reel.js`);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /reel_http_requests_total\{route="share",status="404"\} 2/);
    assert.doesNotMatch(metrics, /route="capture_s"/);
    assert.doesNotMatch(metrics, /route="capture_e"/);
  } finally { await server.stop(); server.cleanup(); }
});

test('--metrics-listen moves /metrics to its own address', async () => {
  const mport = await freePort();
  const server = await startReel({ mode: 'embedded', args: ['--metrics-listen', `127.0.0.1:${mport}`] });
  try {
    const main = await fetch(`${server.url}/metrics`);
    assert.equal(main.status, 404);
    assert.match((await main.json()).error, /metrics-listen/);
    const own = await fetch(`http://127.0.0.1:${mport}/metrics`);
    assert.equal(own.status, 200);
    assert.match(await own.text(), /reel_http_requests_total\{route="ops",status="404"\} 1/);
    assert.equal((await fetch(`http://127.0.0.1:${mport}/api/v1/sessions`)).status, 404, 'nothing else there');
  } finally { await server.stop(); server.cleanup(); }
});
