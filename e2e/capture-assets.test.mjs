// `reel serve --capture-assets`, end to end, on SQLite + folder and on PostgreSQL + S3: a site on
// loopback (a stylesheet with an @import, a web font and a background image; images, one in a
// `srcset`, one added by a later batch; an image that fails; an image of an origin not listed) is
// recorded in two sessions through native ingest (and one imported). The server fetches every asset once however many
// sessions load it, never the unlisted origin, counts the failure; the export carries the assets as
// `reel assets` writes them (`reel verify` passes, the manifest maps the URLs); the share page's
// asset routes serve them and its player (Chromium) plays them from blob: URLs; deleting the sessions
// deletes the asset bytes from storage.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { startReel, modes, api, waitFor, CAPTURE, ADMIN, REEL } from './server.mjs';
import { launch } from './browser.mjs';

const rnd = () => randomBytes(6).toString('hex');
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** A site on loopback; `counts` says how often each path was asked for. */
async function startSite(files) {
  const counts = {};
  const site = createServer((req, res) => {
    counts[req.url] = (counts[req.url] || 0) + 1;
    const f = files[req.url];
    if (!f) { res.writeHead(404); res.end(); return; }
    if (f[0] === 500) { res.writeHead(500); res.end('down'); return; }
    res.writeHead(200, { 'content-type': f[0], ...(f[2] || {}) });
    res.end(f[1]);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  after(() => new Promise((r) => { site.close(r); site.closeAllConnections?.(); }));
  return { counts, base: `http://127.0.0.1:${site.address().port}` };
}

const el = (id, tag, attributes, childNodes = []) => ({ type: 2, id, tagName: tag, attributes, childNodes });

async function ingest(server, sid, batch, events) {
  const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, {
    method: 'POST', headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ batch_id: `${sid}-${batch}`, session_id: sid, window_id: 'w1', events }) });
  assert.equal(r.status, 200, await r.text());
}

function page(href, t, body) {
  return [
    { type: 4, timestamp: t, data: { href, width: 800, height: 600 } },
    { type: 2, timestamp: t + 1, data: { initialOffset: { top: 0, left: 0 }, node: { type: 0, id: 1, childNodes: [
      el(3, 'html', {}, [el(4, 'head', {}, body.head || []), el(6, 'body', {}, body.body || [])]),
    ] } } },
  ];
}

async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function files(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out); else out.push(p);
  }
  return out;
}

/** Where `needles` (Buffers) are still found: the data folder's files, or the bucket's objects. */
async function traces(server, needles) {
  const found = [];
  if (!server.storage) {
    for (const f of files(server.data)) {
      const bytes = readFileSync(f);
      for (const [name, n] of Object.entries(needles)) if (bytes.indexOf(n) >= 0) found.push(`${name} in ${f}`);
    }
  } else {
    const [bucket, prefix] = server.storage.blobs.replace('s3://', '').split(/\/(.*)/);
    const ep = process.env.REEL_TEST_S3_ENDPOINT;
    // Objects are named by their content's SHA-256 (and event blocks are compressed): look for the names.
    const list = execFileSync('curl', ['-sf', `${ep}/${bucket}?list-type=2&prefix=${prefix}/`]).toString();
    const keys = (list.match(/<Key>[^<]*<\/Key>/g) || []).map((k) => k.slice(5, -6));
    for (const [name, n] of Object.entries(needles)) for (const k of keys) if (k.endsWith(`/${sha(n)}`)) found.push(`${name} in ${k}`);
  }
  return found;
}

for (const mode of modes()) {
  test(`--capture-assets: fetched once, exported, shared, deleted (${mode})`, async () => {
    const mark = rnd();
    const FILES = {
      '/site.css': ['text/css', `@import 'more.css';\n@font-face { font-family: Site; src: url(fonts/site.woff2) format('woff2'); }\nbody { background: url("/img/bg.png"); } /* ${mark} */`, { 'cache-control': 'max-age=600' }],
      '/more.css': ['text/css', 'h1 { background-image: url(img/more.png); }'],
      '/fonts/site.woff2': ['font/woff2', `wOF2 font ${mark}`],
      '/img/bg.png': ['image/png', `png bg ${mark}`],
      '/img/more.png': ['image/png', `png more ${mark}`],
      '/img/a1.png': ['image/png', `png a1 ${mark}`],
      '/img/a2.png': ['image/png', `png a2 ${mark}`],
      '/img/added.png': ['image/png', `png added only by the first session ${mark}`],
      '/img/imported.png': ['image/png', `png of an imported recording ${mark}`],
      '/img/fail.png': [500],
      '/img/secret.png': ['image/png', `not kept ${mark}`, { 'cache-control': 'no-store' }],
    };
    const site = await startSite(FILES);
    const other = await startSite({ '/img/x.png': ['image/png', 'other origin'] });
    const { base } = site;
    const server = await startReel({ mode, args: ['--capture-assets', `${base},http://127.0.0.1:1`, '--capture-assets-allow-private'] });
    try {
      const t = Date.now();
      const s1 = `ca1-${rnd()}`;
      const s2 = `ca2-${rnd()}`;
      const s3 = `ca3-${rnd()}`;
      await ingest(server, s1, 0, page(`${base}/shop/page.html`, t, {
        head: [el(5, 'link', { rel: 'stylesheet', href: '/site.css' })],
        body: [
          el(7, 'h1', { id: 'title' }, [{ type: 3, id: 8, textContent: 'Shop' }]),
          el(9, 'img', { id: 'pic', src: '../img/a1.png', srcset: `${base}/img/a1.png 1x, ${base}/img/a2.png 2x` }),
          el(10, 'img', { src: `${base}/img/fail.png` }),
          el(11, 'img', { src: `${base}/img/secret.png` }),
          el(12, 'img', { src: `${other.base}/img/x.png` }),
        ],
      }));
      // A later batch: an image added by a mutation (the page's URL is known from the first batch).
      await ingest(server, s1, 1, [{ type: 3, timestamp: t + 500, data: { source: 0, texts: [], attributes: [], removes: [],
        adds: [{ parentId: 6, nextId: null, node: el(20, 'img', { id: 'added', src: '/img/added.png' }) }] } }]);
      await ingest(server, s2, 0, page(`${base}/other.html`, t, {
        head: [el(5, 'link', { rel: 'stylesheet', href: `${base}/site.css` })],
        body: [el(9, 'img', { src: `${base}/img/a1.png` })],
      }));
      // A page of an origin not listed: nothing of it is fetched.
      await ingest(server, s3, 0, page(`${other.base}/page.html`, t, { body: [el(9, 'img', { src: `${other.base}/img/x.png` })] }));

      // An imported recording (POST /api/v1/import, an rrweb array) counts too.
      const imported = await api(server, '/api/v1/import', { method: 'POST', body: JSON.stringify(page(`${base}/imported.html`, t, {
        body: [el(9, 'img', { src: '/img/imported.png' }), el(10, 'img', { src: '/img/a1.png' })] })) });
      const s4 = imported.sessions[0];
      // site.css, more.css, the font, bg.png, more.png, a1.png, a2.png, added.png and imported.png; fail.png and secret.png fail.
      // On a timeout, say what the site saw and what the server counted.
      const state = async (n) => new Error(`${n}; the site served ${JSON.stringify(site.counts)}; failed ${await metric(server, 'reel_assets_failed_total')}; server log: ${server.stderr().split('\n').filter((l) => /asset/i.test(l)).slice(-10).join(' | ')}`);
      await waitFor(async () => {
        const n = await metric(server, 'reel_assets_fetched_total');
        if (n >= 9) return true;
        throw await state(`${n} fetched`);
      }, { what: 'assets fetched', timeout: 30000 });
      await waitFor(async () => (await metric(server, 'reel_assets_failed_total')) >= 2, { what: 'failures counted', timeout: 30000 });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await metric(server, 'reel_assets_fetched_total'), 9);
      for (const p of ['/site.css', '/more.css', '/fonts/site.woff2', '/img/bg.png', '/img/more.png', '/img/a1.png', '/img/a2.png', '/img/imported.png', '/img/fail.png', '/img/secret.png']) {
        assert.equal(site.counts[p], 1, `${p} fetched once: ${JSON.stringify(site.counts)}`);
      }
      assert.deepEqual(other.counts, {}, 'nothing of an origin not listed is fetched');
      assert.ok(await metric(server, 'reel_assets_bytes_total') > 0);

      // The session's size counts its assets.
      const row = await api(server, `/api/v1/sessions/${s1}`);
      const bare = await api(server, `/api/v1/sessions/${s3}`);
      assert.ok(row.size > bare.size + FILES['/fonts/site.woff2'][1].length, `${row.size} vs ${bare.size}`);

      // The export: format 1.2 assets, verified, the URLs mapped as the recording loads them.
      const dir = mkdtempSync(join(tmpdir(), 'reel-capture-assets-'));
      const pkg = join(dir, `${s1}.reel.zip`);
      writeFileSync(pkg, await api(server, `/api/v1/sessions/${s1}/export`));
      execFileSync(REEL, ['verify', pkg]);
      const manifest = JSON.parse(execFileSync('unzip', ['-p', pkg, 'manifest.json']).toString());
      const want = ['/site.css', '/more.css', '/fonts/site.woff2', '/img/bg.png', '/img/more.png', '/img/a1.png', '/img/a2.png', '/img/added.png'].map((p) => base + p);
      assert.deepEqual(Object.keys(manifest.assets).sort(), want.sort());
      for (const u of want) {
        const a = manifest.assets[u];
        const bytes = execFileSync('unzip', ['-p', pkg, `assets/sha256/${a.sha256}`]);
        assert.equal(sha(bytes), a.sha256);
        assert.equal(bytes.toString(), FILES[u.slice(base.length)][1]);
        assert.equal(a.content_type, FILES[u.slice(base.length)][0]);
      }
      // A session whose only failure is an asset exports too; the second session has its own map.
      const pkg2 = join(dir, `${s2}.reel.zip`);
      writeFileSync(pkg2, await api(server, `/api/v1/sessions/${s2}/export`));
      execFileSync(REEL, ['verify', pkg2]);
      const m2 = JSON.parse(execFileSync('unzip', ['-p', pkg2, 'manifest.json']).toString());
      assert.ok(!m2.assets[`${base}/img/added.png`]);
      assert.ok(m2.assets[`${base}/fonts/site.woff2`], 'a stylesheet fetched for another session brings its font along');

      const pkg4 = join(dir, 'imported.reel.zip');
      writeFileSync(pkg4, await api(server, `/api/v1/sessions/${s4}/export`));
      execFileSync(REEL, ['verify', pkg4]);
      const m4 = JSON.parse(execFileSync('unzip', ['-p', pkg4, 'manifest.json']).toString());
      assert.deepEqual(Object.keys(m4.assets).sort(), [`${base}/img/a1.png`, `${base}/img/imported.png`]);

      // Share pages: the map and the bytes, typed, nosniff.
      const share = await api(server, `/api/v1/sessions/${s1}/shares`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
      const map = await (await fetch(`${server.url}/share/${share.token}/assets`)).json();
      assert.deepEqual(Object.keys(map).sort(), want.sort());
      const font = map[`${base}/fonts/site.woff2`];
      let r = await fetch(`${server.url}/share/${share.token}/assets/${font.sha256}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'font/woff2');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(r.headers.get('content-security-policy'), /sandbox/);
      assert.equal(Buffer.from(await r.arrayBuffer()).toString(), FILES['/fonts/site.woff2'][1]);
      r = await fetch(`${server.url}/share/${share.token}/assets/${sha('not an asset of it')}`);
      assert.equal(r.status, 404);
      r = await fetch(`${server.url}/share/nosuchtoken/assets/${font.sha256}`);
      assert.equal(r.status, 404);
      // A collection's link: the same map and bytes for a session in it (`?session=`), nothing for one outside it.
      const coll = await api(server, '/api/v1/collections', { method: 'POST', body: JSON.stringify({ name: 'with assets', session_ids: [s1] }), headers: { 'Content-Type': 'application/json' } });
      const cshare = await api(server, `/api/v1/collections/${coll.id}/shares`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
      const cmap = await (await fetch(`${server.url}/share/${cshare.token}/assets?session=${encodeURIComponent(s1)}`)).json();
      assert.deepEqual(Object.keys(cmap).sort(), want.sort());
      r = await fetch(`${server.url}/share/${cshare.token}/assets/${font.sha256}?session=${encodeURIComponent(s1)}`);
      assert.equal(Buffer.from(await r.arrayBuffer()).toString(), FILES['/fonts/site.woff2'][1]);
      assert.equal((await fetch(`${server.url}/share/${cshare.token}/assets?session=not-in-it`)).status, 404);
      assert.equal((await fetch(`${server.url}/share/${share.token}/assets?session=not-in-it`)).status, 404, 'a session link opens only its session');
      // The collection's package carries them too.
      const cpkg = join(dir, 'collection.reel.zip');
      writeFileSync(cpkg, await api(server, `/api/v1/collections/${coll.id}/export`));
      execFileSync(REEL, ['verify', cpkg]);
      assert.deepEqual(Object.keys(JSON.parse(execFileSync('unzip', ['-p', cpkg, 'manifest.json']).toString()).assets).sort(), want.sort());

      // The share page's player loads them from the server, as blob: URLs (once: the storage mode does not matter).
      if (!server.storage) {
        const browser = await launch();
        try {
          const tab = await browser.newPage();
          const errors = [];
          tab.on('pageerror', (e) => errors.push(e.message));
          for (const p of [share.url, share.embed_url]) {
            await tab.goto(server.url + p);
            const got = await waitFor(async () => {
              for (const f of tab.frames()) {
                const v = await f.evaluate(() => {
                  const pic = document.getElementById('pic');
                  const link = document.querySelector('link[rel=stylesheet]');
                  return pic && link ? { src: pic.getAttribute('src'), srcset: pic.getAttribute('srcset'), href: link.getAttribute('href') } : null;
                }).catch(() => null);
                if (v) return v;
              }
              return null;
            }, { what: `the replay in ${p}` });
            assert.match(got.src, /^blob:/, JSON.stringify(got));
            assert.match(got.href, /^blob:/, JSON.stringify(got));
            assert.equal((got.srcset.match(/blob:/g) || []).length, 2, JSON.stringify(got));
          }
          assert.deepEqual(errors, []);
        } finally { await browser.close(); }
      }

      // Under an export policy, an image only a blocked element showed stays out of the export and the share map.
      const patch = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ export_redaction: { rules: 'block = ["#pic"]\n' } }) });
      assert.equal(patch.status, 200, await patch.text());
      const pkgB = join(dir, 'blocked.reel.zip');
      writeFileSync(pkgB, await api(server, `/api/v1/sessions/${s1}/export`));
      execFileSync(REEL, ['verify', pkgB]);
      const mB = JSON.parse(execFileSync('unzip', ['-p', pkgB, 'manifest.json']).toString());
      const unblocked = want.filter((u) => !u.endsWith('/img/a1.png') && !u.endsWith('/img/a2.png'));
      assert.deepEqual(Object.keys(mB.assets).sort(), unblocked.sort());
      const mapB = await (await fetch(`${server.url}/share/${share.token}/assets`)).json();
      assert.deepEqual(Object.keys(mapB).sort(), unblocked.sort());
      // Nor are its bytes served, even to someone who knows their hash.
      const blockedSha = map[`${base}/img/a1.png`].sha256;
      assert.equal((await fetch(`${server.url}/share/${share.token}/assets/${blockedSha}`)).status, 404);
      assert.equal((await fetch(`${server.url}/share/${share.token}/assets/${font.sha256}`)).status, 200, 'what the map keeps is served');

      // Deleting the first session deletes what only it loaded; the second keeps the rest.
      const needles = Object.fromEntries(Object.entries(FILES).filter(([, f]) => f[0] !== 500).map(([p, f]) => [p, Buffer.from(f[1])]));
      assert.ok((await traces(server, needles)).length >= 8, 'the search finds the assets before deleting');
      const auth = { Authorization: `Bearer ${ADMIN}` };
      r = await fetch(`${server.url}/api/v1/sessions/${s1}`, { method: 'DELETE', headers: auth });
      assert.equal(r.status, 204);
      const left = await traces(server, needles);
      assert.ok(!left.some((x) => x.startsWith('/img/added.png') || x.startsWith('/img/a2.png')), left.join('\n'));
      assert.ok(left.some((x) => x.startsWith('/fonts/site.woff2')), 'the second session still has its font');
      writeFileSync(pkg2, await api(server, `/api/v1/sessions/${s2}/export`));
      execFileSync(REEL, ['verify', pkg2]);
      for (const id of [s2, s4]) {
        r = await fetch(`${server.url}/api/v1/sessions/${id}`, { method: 'DELETE', headers: auth });
        assert.equal(r.status, 204);
      }
      assert.deepEqual(await traces(server, needles), [], 'no asset bytes are left');
      if (!server.storage) {
        // (A WAL checkpoint that readers held up is finished by the next sweep.)
        await waitFor(() => !files(server.data).filter((f) => f.includes('index.sqlite'))
          .some((f) => readFileSync(f).indexOf(`${base}/img/a1.png`) >= 0), { what: 'no asset URL left in the index', timeout: 40000 });
      }
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
}

test('--capture-assets refuses loopback addresses unless --capture-assets-allow-private', async () => {
  const site = await startSite({ '/img/a.png': ['image/png', 'loopback image'] });
  const server = await startReel({ args: ['--capture-assets', site.base] });
  try {
    const sid = `priv-${rnd()}`;
    await ingest(server, sid, 0, page(`${site.base}/page.html`, Date.now(), { body: [el(9, 'img', { src: '/img/a.png' })] }));
    await waitFor(async () => (await metric(server, 'reel_assets_failed_total')) >= 1, { what: 'the refusal counted', timeout: 30000 });
    assert.equal(await metric(server, 'reel_assets_fetched_total'), 0);
    assert.deepEqual(site.counts, {}, 'no request reached the site');
    const pkg = join(mkdtempSync(join(tmpdir(), 'reel-capture-private-')), 'p.reel.zip');
    writeFileSync(pkg, await api(server, `/api/v1/sessions/${sid}/export`));
    execFileSync(REEL, ['verify', pkg]);
    assert.equal(JSON.parse(execFileSync('unzip', ['-p', pkg, 'manifest.json']).toString()).assets, undefined, 'no assets: format 1.x without the map');
  } finally {
    await server.stop();
    server.cleanup();
  }
});
