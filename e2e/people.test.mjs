// A person's page in the web UI (issue 15): reached from the list, it shows the person's sessions with first and last
// seen, and "Forget this person" deletes them (after the id is typed again) and says what was deleted; other people's
// sessions stay. No console errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './browser.mjs';
import { startReel, api, waitFor, CAPTURE, ADMIN } from './server.mjs';

const browser = await launch();
after(() => browser.close());

test('person page: sessions, first and last seen, forget with confirmation', async () => {
  const server = await startReel({ mode: 'embedded' });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  tab.on('pageerror', (e) => errors.push(e.message));
  tab.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  try {
    const t0 = Date.now() - 3_600_000;
    const send = (sid, person, ts) => fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'b1', session_id: sid, distinct_id: person, events: [
      { type: 4, data: { href: `https://shop.example/${sid}`, width: 800, height: 600 }, timestamp: ts },
      { type: 2, data: { node: { type: 0, id: 1, childNodes: [] }, initialOffset: { top: 0, left: 0 } }, timestamp: ts + 1 },
      { type: 3, data: { source: 1, positions: [{ x: 1, y: 1, id: 1, timeOffset: 0 }] }, timestamp: ts + 5000 }] }) });
    for (const [sid, who, ts] of [['ada-1', 'ada@example.com', t0], ['ada-2', 'ada@example.com', t0 + 600_000], ['bob-1', 'bob', t0 + 300_000]]) assert.equal((await send(sid, who, ts)).status, 200);
    await waitFor(async () => (await api(server, '/api/v1/sessions?person=ada%40example.com')).results.length === 2, { what: 'sessions listed' });

    await tab.goto(`${server.url}/`);
    await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
    await tab.goto(`${server.url}/#/`);
    // From the list: the person's name is a link to their page.
    await tab.click('a.person-link:text("ada@example.com")');
    await tab.waitForSelector('main.person');
    assert.match(tab.url(), /#\/p\/ada%40example\.com$/);
    assert.equal(await tab.textContent('.fact-sessions'), '2');
    assert.equal(await tab.textContent('.fact-first-seen'), await tab.evaluate((ms) => new Date(ms).toLocaleString(), t0));
    assert.equal(await tab.textContent('.fact-last-seen'), await tab.evaluate((ms) => new Date(ms).toLocaleString(), t0 + 605_000));
    assert.equal(await tab.locator('main.person tbody tr').count(), 2);

    // Forget: a wrong id deletes nothing; the right one deletes both sessions and says so.
    await tab.click('button:text("Forget this person…")');
    await tab.fill('.forget-confirm input[name=confirm]', 'ada');
    await tab.click('.forget-confirm button[type=submit]');
    await tab.waitForSelector('.forget-result:text("does not match")');
    assert.equal((await api(server, '/api/v1/sessions?person=ada%40example.com')).results.length, 2);
    await tab.fill('.forget-confirm input[name=confirm]', 'ada@example.com');
    await tab.click('.forget-confirm button[type=submit]');
    await tab.waitForSelector('.forget-result:text("2 session(s) of ada@example.com deleted")');
    assert.equal((await api(server, '/api/v1/sessions?person=ada%40example.com')).results.length, 0);
    const left = (await api(server, '/api/v1/sessions')).results.map((s) => s.id);
    assert.deepEqual(left, ['bob-1'], 'other people keep their sessions');
    assert.deepEqual(errors, []);
  } finally { await tab.close(); await server.stop(); server.cleanup(); }
});
