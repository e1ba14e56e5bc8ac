// The web UI with the keyboard only (issue 15, "Quality: keyboard-only usable"): sign in, reach a session from the
// list with Tab, open it with Enter, play with space, see the shortcuts with `?`, write a comment with `c` — no mouse.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './browser.mjs';
import { startReel, api, waitFor, CAPTURE, ADMIN } from './server.mjs';

const browser = await launch();
after(() => browser.close());

test('keyboard only: sign in, open a session, play, shortcuts, comment', async () => {
  const server = await startReel({ mode: 'embedded' });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  tab.on('pageerror', (e) => errors.push(e.message));
  try {
    const t0 = Date.now() - 600_000;
    const node = { type: 0, id: 1, childNodes: [{ type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [{ type: 2, id: 3, tagName: 'body', attributes: {}, childNodes: [{ type: 2, id: 4, tagName: 'h1', attributes: {}, childNodes: [{ type: 3, id: 5, textContent: 'Typed by keyboard' }] }] }] }] };
    const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'k1', session_id: 'kbd-1', events: [
      { type: 4, data: { href: 'https://shop.example/kbd', width: 800, height: 600 }, timestamp: t0 },
      { type: 2, data: { node, initialOffset: { top: 0, left: 0 } }, timestamp: t0 + 1 },
      { type: 3, data: { source: 1, positions: [{ x: 10, y: 10, id: 4, timeOffset: 0 }] }, timestamp: t0 + 20_000 }] }) });
    assert.equal(r.status, 200);
    await waitFor(async () => (await api(server, '/api/v1/sessions')).results.length === 1, { what: 'listed' });

    await tab.goto(`${server.url}/`);
    await tab.keyboard.press('Tab');
    assert.equal(await tab.evaluate(() => document.activeElement.name), 'token', 'the first Tab reaches the token field');
    await tab.keyboard.type(ADMIN);
    await tab.keyboard.press('Enter');
    await tab.waitForSelector('a.open-session');
    // Tab until the session's link has the focus (a bounded number of steps: the filters come first).
    let steps = 0;
    while (!(await tab.evaluate(() => document.activeElement.classList.contains('open-session')))) {
      assert.ok(++steps < 60, 'the session link is reachable with Tab');
      await tab.keyboard.press('Tab');
    }
    await tab.keyboard.press('Enter');
    await tab.waitForSelector('.reel-timeline');
    assert.match(tab.url(), /#\/s\/kbd-1$/);
    await tab.frameLocator('.stage iframe').first().locator('h1:text("Typed by keyboard")').waitFor();
    // Space plays (the clock moves), `?` lists the keys.
    await tab.keyboard.press('Space');
    const t1 = await tab.textContent('.reel-time');
    await tab.waitForFunction((t) => document.querySelector('.reel-time').textContent !== t, t1, { timeout: 5000 });
    await tab.keyboard.press('Space');
    await tab.keyboard.press('Shift+Slash');
    await tab.waitForSelector('.reel-help');
    assert.match(await tab.textContent('.reel-help'), /comment/);
    await tab.keyboard.press('Escape');
    // `c` opens the comment box at the current time; Tab to the button, Enter saves.
    await tab.keyboard.press('c');
    await tab.waitForFunction(() => document.activeElement.id === 'comment-text');
    await tab.keyboard.type('Found with the keyboard');
    for (let i = 0; i < 6 && !(await tab.evaluate(() => document.activeElement.type === 'submit')); i++) await tab.keyboard.press('Tab');
    assert.equal(await tab.evaluate(() => document.activeElement.closest('form')?.className), 'comment-form');
    await tab.keyboard.press('Enter');
    await tab.waitForSelector('#comment-list li.comment');
    const saved = (await api(server, '/api/v1/sessions/kbd-1/comments')).comments;
    assert.equal(saved.length, 1);
    assert.equal(saved[0].text, 'Found with the keyboard');
    assert.deepEqual(errors, []);
  } finally { await tab.close(); await server.stop(); server.cleanup(); }
});
