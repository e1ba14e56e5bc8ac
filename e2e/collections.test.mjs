// Collections in the web UI and API (issue 15): tick sessions in the list and add them to a new collection, open it,
// share the whole collection and watch it signed out (the export policy applies, sessions outside it stay closed),
// export it as one .reel.zip (and a selection from the list), delete from the list with confirmation, revoke the link.
// On SQLite and on PostgreSQL+S3; no console errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, pageErrors, signedIn } from './browser.mjs';
import { startReel, api, waitFor, modes, CAPTURE, ADMIN, REEL } from './server.mjs';

const browser = await launch();
after(() => browser.close());

const JSON_H = { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' };

/** A session whose page shows `text` (and a person's e-mail address, which the export policy removes). */
function send(server, sid, ts, text) {
  const node = { type: 0, id: 1, childNodes: [{ type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [
    { type: 2, id: 3, tagName: 'body', attributes: {}, childNodes: [
      { type: 2, id: 4, tagName: 'h1', attributes: {}, childNodes: [{ type: 3, id: 5, textContent: text }] },
      { type: 2, id: 6, tagName: 'p', attributes: {}, childNodes: [{ type: 3, id: 7, textContent: `mail ${sid}@example.com` }] }] }] }] };
  return fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: `${sid}-1`, session_id: sid, distinct_id: `user-${sid}`, events: [
    { type: 4, data: { href: `https://shop.example/${sid}`, width: 800, height: 600 }, timestamp: ts },
    { type: 2, data: { node, initialOffset: { top: 0, left: 0 } }, timestamp: ts + 1 },
    { type: 3, data: { source: 1, positions: [{ x: 10, y: 10, id: 4, timeOffset: 0 }] }, timestamp: ts + 4000 }] }) });
}

/** `reel inspect --json` of package bytes. */
function inspect(bytes) {
  const dir = mkdtempSync(join(tmpdir(), 'reel-coll-'));
  try {
    const f = join(dir, 'p.reel.zip');
    writeFileSync(f, bytes);
    execFileSync(REEL, ['verify', f]);
    return JSON.parse(execFileSync(REEL, ['inspect', f, '--json']).toString());
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

for (const mode of modes()) {
  test(`collections: add from the list, share signed out, export, bulk delete (${mode})`, async () => {
    const server = await startReel({ mode });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const tab = await ctx.newPage();
    const errors = pageErrors(tab);
    try {
      const t0 = Date.now() - 3_600_000;
      for (const [sid, i] of [['s-one', 0], ['s-two', 1], ['s-three', 2]]) assert.equal((await send(server, sid, t0 + i * 60_000, `Page of ${sid}`)).status, 200);
      await waitFor(async () => (await api(server, '/api/v1/sessions')).results.length === 3, { what: 'sessions listed' });
      // Counts: how many match, on the first page; later pages do not count again.
      const page1 = await api(server, '/api/v1/sessions?limit=2');
      assert.equal(page1.total, 3);
      assert.equal((await api(server, `/api/v1/sessions?limit=2&cursor=${page1.next_cursor}`)).total, null);
      assert.equal((await api(server, '/api/v1/sessions?q=s-two')).total, 1);
      // The export policy removes e-mail addresses from everything that leaves the server.
      const patch = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: JSON_H, body: JSON.stringify({ export_redaction: { rules: '[patterns]\nbuiltin = ["email"]\n' } }) });
      assert.equal(patch.status, 200);

      await signedIn(tab, server.url, ADMIN);
      await tab.waitForSelector('input.pick[value="s-one"]');
      assert.equal(await tab.isHidden('.bulk'), true, 'no bulk bar before a row is ticked');
      await tab.waitForSelector('main .status:text("3 of 3 sessions")');
      await tab.check('input.pick[value="s-one"]');
      await tab.check('input.pick[value="s-two"]');
      await tab.waitForSelector('.bulk-count:text("2 selected")');
      await tab.selectOption('.bulk select[name=collection]', '__new__');
      await tab.fill('.bulk input[name=new-collection]', 'Checkout bugs');
      await tab.click('.bulk .add-to-collection button[type=submit]');
      await tab.waitForSelector('.bulk .status:text("Created “Checkout bugs” with 2 session(s).")');
      const [coll] = (await api(server, '/api/v1/collections')).results;
      assert.equal(coll.name, 'Checkout bugs');
      assert.equal(coll.session_count, 2);

      // Adding again reports what was already there; an unknown id is named.
      const again = await (await fetch(`${server.url}/api/v1/collections/${coll.id}/sessions`, { method: 'POST', headers: JSON_H, body: JSON.stringify({ session_ids: ['s-two', 'gone'] }) })).json();
      assert.deepEqual(again, { added: 0, already: 1, unknown: ['gone'] });

      // The collection's page from the nav; the list filtered by it; the session page names it.
      await tab.click('.main-nav a:text("Collections")');
      await tab.click(`main.collections a:text("Checkout bugs")`);
      await tab.waitForSelector('main.collection h2:text("Checkout bugs")');
      assert.equal(await tab.locator('main.collection tbody tr').count(), 2);
      const filtered = (await api(server, `/api/v1/sessions?collection=${coll.id}`)).results.map((s) => s.id).sort();
      assert.deepEqual(filtered, ['s-one', 's-two']);
      assert.deepEqual((await api(server, '/api/v1/sessions/s-one')).collections, [{ id: coll.id, name: 'Checkout bugs' }]);

      // Share the whole collection; open it signed out in another browser context.
      await tab.click('main.collection button:text("Share collection")');
      const shareUrl = await (await tab.waitForSelector('input.share-url')).inputValue();
      assert.match(shareUrl, /\/share\/[A-Za-z0-9]{32}$/);
      const guest = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const g = await guest.newPage();
      const gErrors = [];
      g.on('pageerror', (e) => gErrors.push(e.message));
      g.on('console', (m) => { if (m.type() === 'error') gErrors.push(m.text()); });
      await g.goto(shareUrl);
      await g.waitForSelector('.collection-list li button');
      assert.equal(await g.locator('.collection-list li').count(), 2);
      assert.match(await g.textContent('header'), /Checkout bugs/);
      assert.equal(await g.evaluate(() => localStorage.getItem('reel.adminToken')), null);
      const frame = () => g.frameLocator('.stage iframe').first();
      await frame().locator('h1:text("Page of s-one")').waitFor();
      await g.click('.collection-list li:nth-child(2) button');
      await frame().locator('h1:text("Page of s-two")').waitFor();
      assert.match(g.url(), /#s=s-two/);
      assert.deepEqual(gErrors, []);
      await guest.close();
      // What the link reads: its sessions only, through the export policy.
      const base = shareUrl.replace(/\/share\//, '/share/');
      const evs = await (await fetch(`${base}/events?format=jsonl&session=s-two`)).text();
      assert.match(evs, /Page of s-two/);
      assert.doesNotMatch(evs, /s-two@example\.com/, 'the export policy applies to shared collections');
      assert.equal((await fetch(`${base}/events?session=s-three`)).status, 404, 'a session outside the collection stays closed');
      const meta = await (await fetch(`${base}/meta`)).json();
      assert.deepEqual(meta.sessions.map((s) => s.id), ['s-one', 's-two']);
      assert.equal(JSON.stringify(meta).includes('user-s-one'), false, 'no person ids on a share page');

      // Export the collection as one package: both sessions, verified, policy applied.
      const zip = await api(server, `/api/v1/collections/${coll.id}/export`);
      const info = inspect(zip);
      assert.deepEqual(info.sessions.map((s) => s.id).sort(), ['s-one', 's-two']);
      assert.equal(zip.includes(Buffer.from('@example.com')), false);

      // Back in the list: export a selection (a download), then delete one with confirmation.
      await tab.goto(`${server.url}/#/`);
      await tab.waitForSelector('input.pick[value="s-three"]');
      await tab.check('input.pick[value="s-three"]');
      await tab.check('input.pick[value="s-one"]');
      const [download] = await Promise.all([tab.waitForEvent('download'), tab.click('.bulk button:text("Export .reel.zip")')]);
      assert.equal(download.suggestedFilename(), '2-sessions.reel.zip');
      const { readFileSync } = await import('node:fs');
      const picked = inspect(readFileSync(await download.path()));
      assert.deepEqual(picked.sessions.map((s) => s.id).sort(), ['s-one', 's-three']);
      await tab.uncheck('input.pick[value="s-three"]');
      await tab.click('.bulk button:text("Delete…")');
      await tab.click('.bulk-confirm button:text("Delete 1")');
      await waitFor(async () => (await api(server, '/api/v1/sessions')).results.length === 2, { what: 'one session deleted' });
      await tab.waitForSelector('.bulk .status:text("Deleted 1 session(s).")', { state: 'attached' });
      assert.equal((await api(server, `/api/v1/collections/${coll.id}`)).session_count, 1, 'a deleted session leaves its collections');

      // Revoke the link: the page says so.
      const [share] = (await api(server, `/api/v1/collections/${coll.id}/shares`)).results;
      assert.equal((await fetch(`${server.url}/api/v1/shares/${share.id}`, { method: 'DELETE', headers: JSON_H })).status, 204);
      const gone = await fetch(shareUrl);
      assert.equal(gone.status, 404);
      // A capture token cannot read or change collections.
      assert.equal((await fetch(`${server.url}/api/v1/collections`, { headers: { Authorization: `Bearer ${CAPTURE}` } })).status, 403);
      assert.deepEqual(errors, []);
    } finally { await ctx.close(); await server.stop(); server.cleanup(); }
  });
}

test('collections API refuses bad input clearly and bounds bodies', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const post = (path, body, headers = JSON_H) => fetch(server.url + path, { method: 'POST', headers, body });
    assert.equal((await post('/api/v1/collections', '{}', {})).status, 401, 'no token');
    let r = await post('/api/v1/collections', '{"name": "  "}');
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /name/);
    assert.equal((await post('/api/v1/collections', '[1]')).status, 400);
    assert.equal((await post('/api/v1/collections', 'not json')).status, 400);
    r = await post('/api/v1/collections', JSON.stringify({ name: 'x'.repeat(201) }));
    assert.equal(r.status, 400);
    r = await post('/api/v1/collections', JSON.stringify({ name: 'ok' }));
    assert.equal(r.status, 201);
    const c = await r.json();
    r = await post(`/api/v1/collections/${c.id}/sessions`, JSON.stringify({ session_ids: [] }));
    assert.equal(r.status, 400);
    r = await post(`/api/v1/collections/${c.id}/sessions`, JSON.stringify({ session_ids: Array(1001).fill('a') }));
    assert.equal(r.status, 400);
    r = await post(`/api/v1/collections/${c.id}/sessions`, 'x'.repeat(300 << 10));
    assert.equal(r.status, 413);
    assert.equal((await post('/api/v1/collections/nope/sessions', JSON.stringify({ session_ids: ['a'] }))).status, 404);
    assert.equal((await fetch(`${server.url}/api/v1/collections/${c.id}/export`, { headers: JSON_H })).status, 409, 'an empty collection has nothing to export');
    assert.equal((await post('/api/v1/export', JSON.stringify({ session_ids: ['nope'] }))).status, 404);
    r = await post(`/api/v1/collections/${c.id}/shares`, JSON.stringify({ expires_in_seconds: -5 }));
    assert.equal(r.status, 400);
    // Share tokens that are not a collection's or a session's open nothing.
    assert.equal((await fetch(`${server.url}/share/${'a'.repeat(32)}/meta`)).status, 404);
    assert.equal((await fetch(`${server.url}/share/..%2F..%2Fetc/meta`)).status, 404);
    const del = await fetch(`${server.url}/api/v1/collections/${c.id}`, { method: 'DELETE', headers: JSON_H });
    assert.equal(del.status, 204);
    assert.equal((await fetch(`${server.url}/api/v1/collections/${c.id}`, { headers: JSON_H })).status, 404);
  } finally { await server.stop(); server.cleanup(); }
});
