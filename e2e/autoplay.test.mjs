// "Autoplay next in list" on the session page (issue 15): with the box ticked, when a recording ends the next session of
// the list the admin came from starts playing by itself (after a 3-second notice that can be cancelled); unticked, or
// cancelled, nothing moves. No console errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signedIn } from './browser.mjs';
import { startReel, api, waitFor, CAPTURE, ADMIN } from './server.mjs';

const browser = await launch();
after(() => browser.close());

function send(server, sid, ts) {
  const node = { type: 0, id: 1, childNodes: [{ type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [
    { type: 2, id: 3, tagName: 'body', attributes: {}, childNodes: [{ type: 2, id: 4, tagName: 'h1', attributes: {}, childNodes: [{ type: 3, id: 5, textContent: `Page of ${sid}` }] }] }] }] };
  return fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: `${sid}-1`, session_id: sid, events: [
    { type: 4, data: { href: `https://shop.example/${sid}`, width: 800, height: 600 }, timestamp: ts },
    { type: 2, data: { node, initialOffset: { top: 0, left: 0 } }, timestamp: ts + 1 },
    { type: 3, data: { source: 1, positions: [{ x: 10, y: 10, id: 4, timeOffset: 0 }] }, timestamp: ts + 1500 }] }) });
}

test('autoplay next: the next session of the list plays when one ends', async () => {
  const server = await startReel({ mode: 'embedded' });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  tab.on('pageerror', (e) => errors.push(e.message));
  try {
    const t0 = Date.now() - 3_600_000;
    // Newest first in the list: newer, then older.
    for (const [sid, ts] of [['older', t0], ['newer', t0 + 60_000]]) assert.equal((await send(server, sid, ts)).status, 200);
    await waitFor(async () => (await api(server, '/api/v1/sessions')).results.length === 2, { what: 'sessions listed' });
    await signedIn(tab, server.url, ADMIN);
    await tab.waitForSelector('input.pick[value="older"]');
    await tab.click('tbody tr.row:first-child td:nth-child(2)');
    await tab.waitForSelector('#autoplay-next');
    assert.match(tab.url(), /#\/s\/newer$/);
    const frame = tab.frameLocator('.stage iframe').first();
    await frame.locator('h1:text("Page of newer")').waitFor();
    // Cancelled: it stays.
    await tab.check('#autoplay-next');
    await tab.click('.reel-play');
    await tab.waitForSelector('.next-note button:text("Cancel")', { timeout: 10_000 });
    await tab.click('.next-note button:text("Cancel")');
    await new Promise((r) => setTimeout(r, 3500));
    assert.match(tab.url(), /#\/s\/newer$/, 'cancel keeps the page');
    // Not cancelled: the next one opens and plays by itself.
    await tab.click('.reel-play');
    await tab.waitForURL(/#\/s\/older$/, { timeout: 15_000 });
    await frame.locator('h1:text("Page of older")').waitFor();
    assert.equal(await tab.isChecked('#autoplay-next'), true, 'the choice is remembered');
    await tab.waitForSelector('.next-note:empty', { state: 'attached' });
    // It plays without a click: the clock reaches the end of this 1.5-second recording (it stays at 0:00 when nothing plays).
    await tab.waitForFunction(() => /^0:01 \//.test(document.querySelector('.reel-time').textContent), null, { timeout: 10_000 });
    assert.deepEqual(errors, []);
  } finally { await tab.close(); await server.stop(); server.cleanup(); }
});
