// "Not watched" (issue 15): a session an admin opened in the web UI leaves the list's "not watched" filter and is no
// longer shown in bold; the API has the filter (`watched=false|true`), PostHog's `viewed` field and
// `POST /api/v1/sessions/{id}/watched` (admin only; 404 for an unknown session). SQLite and PostgreSQL.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './browser.mjs';
import { startReel, api, modes, waitFor, CAPTURE, ADMIN } from './server.mjs';

const browser = await launch();
after(() => browser.close());

async function seed(server, ids) {
  const t0 = Date.now() - 3_600_000;
  for (const [k, sid] of ids.entries()) {
    const ts = t0 + k * 60_000;
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'b1', session_id: sid, events: [
      { type: 4, data: { href: `https://shop.example/${sid}`, width: 800, height: 600 }, timestamp: ts },
      { type: 2, data: { node: { type: 0, id: 1, childNodes: [] }, initialOffset: { top: 0, left: 0 } }, timestamp: ts + 1 },
      { type: 3, data: { source: 1, positions: [{ x: 1, y: 1, id: 1, timeOffset: 0 }] }, timestamp: ts + 3000 }] }) });
    assert.equal(r.status, 200);
  }
  await waitFor(async () => (await api(server, '/api/v1/sessions')).results.length === ids.length, { what: 'listed' });
}
const ids = (r) => r.results.map((s) => s.id).sort();

for (const mode of modes()) {
  test(`watched filter and mark (${mode})`, async () => {
    const server = await startReel({ mode });
    try {
      await seed(server, ['w-1', 'w-2', 'w-3']);
      assert.deepEqual(ids(await api(server, '/api/v1/sessions?watched=false')), ['w-1', 'w-2', 'w-3']);
      assert.equal((await api(server, '/api/v1/sessions/w-2')).viewed, false);
      const mark = (id, headers = { Authorization: `Bearer ${ADMIN}` }) => fetch(`${server.url}/api/v1/sessions/${id}/watched`, { method: 'POST', headers });
      assert.equal((await mark('w-2')).status, 204);
      assert.equal((await mark('w-2')).status, 204, 'again: still watched');
      assert.equal((await mark('nope')).status, 404);
      assert.equal((await mark('w-1', {})).status, 401);
      const cap = (await mark('w-1', { Authorization: `Bearer ${CAPTURE}` })).status;
      assert.ok(cap === 401 || cap === 403, `capture token: ${cap}`);
      assert.deepEqual(ids(await api(server, '/api/v1/sessions?watched=false')), ['w-1', 'w-3']);
      assert.deepEqual(ids(await api(server, '/api/v1/sessions?watched=true')), ['w-2']);
      assert.equal((await api(server, '/api/v1/sessions/w-2')).viewed, true);
    } finally { await server.stop(); server.cleanup(); }
  });
}

test('opening a session in the web UI marks it watched', async () => {
  const server = await startReel({ mode: 'embedded' });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  tab.on('pageerror', (e) => errors.push(e.message));
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await seed(server, ['u-1', 'u-2']);
    await tab.goto(`${server.url}/`);
    await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
    await tab.goto(`${server.url}/#/?watched=false`);
    await tab.waitForFunction(() => document.querySelectorAll('tbody tr.row').length === 2);
    assert.equal(await tab.locator('tbody tr.unwatched').count(), 2, 'both in bold');
    assert.equal(await tab.inputValue('select[name=watched]'), 'false', 'the filter comes from the URL');
    await tab.click('tbody tr.row >> nth=0');
    await tab.waitForSelector('main.session');
    await waitFor(async () => (await api(server, '/api/v1/sessions?watched=true')).results.length === 1, { what: 'marked watched' });
    await tab.goBack();
    await tab.waitForFunction(() => document.querySelectorAll('tbody tr.row').length === 1 && !document.querySelector('main > div.status:empty'));
    await tab.goto(`${server.url}/#/`);
    await tab.waitForFunction(() => document.querySelectorAll('tbody tr.row').length === 2);
    assert.equal(await tab.locator('tbody tr.unwatched').count(), 1, 'the watched one is no longer bold');
    assert.deepEqual(errors, []);
  } finally { await tab.close(); await server.stop(); server.cleanup(); }
});
