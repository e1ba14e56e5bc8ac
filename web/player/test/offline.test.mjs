// The self-contained form: player.html with modules inlined by the same transform as the Rust side,
// a recording embedded, opened from file:// with the network off.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { inlineHtml, orderedModules, PLAYER_DIR } from './inline.mjs';
import { browser, closeBrowser, makeReelPackage } from './helpers.mjs';

after(closeBrowser);

test('inliner: module convention holds (imports, exports, unique names, order)', () => {
  const order = orderedModules().map((m) => m.file);
  assert.equal(order[order.length - 1], 'index.js');
  assert.ok(order.indexOf('util.js') < order.indexOf('engine.js'));
});

test('offline: inlined player.html with an embedded .reel.zip plays from file:// with no network', async () => {
  const events = JSON.parse(await readFile(join(PLAYER_DIR, 'test', 'fixtures', 'checkout.json'), 'utf8'));
  const pkg = makeReelPackage([{ id: 'offline-session', meta: {}, windows: { main: events } }]);
  const html = inlineHtml({ recording: pkg });
  assert.ok(!html.includes("from './index.js'"), 'no module import left');
  assert.ok(!/<link[^>]+player\.css/.test(html), 'stylesheet inlined');
  const dir = await mkdtemp(join(tmpdir(), 'reel-offline-'));
  const file = join(dir, 'replay.html');
  await writeFile(file, html);
  const b = await browser();
  const context = await b.newContext({ viewport: { width: 1280, height: 800 } });
  await context.setOffline(true);
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('file://' + file);
  await page.waitForFunction(() => window.reel && window.reel.engine, null, { timeout: 10000 });
  const r = await page.evaluate(async () => {
    const p = window.reel;
    p.setSpeed(8);
    p.play();
    await new Promise((res) => setTimeout(res, 700));
    p.pause();
    return { t: p.currentTime, text: p.engine.doc.body.textContent, session: p.sessions[0].id, global: typeof window.ReelPlayer };
  });
  assert.ok(r.t > 2000, `played ${r.t} ms`);
  assert.match(r.text, /Corpus Pet Shop/);
  assert.equal(r.session, 'offline-session');
  assert.equal(r.global, 'function');
  assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:') && !u.startsWith('blob:') && !u.startsWith('about:')).filter((u) => !u.startsWith('http://127.0.0.1:8000/')), []);
  assert.deepEqual(errors, []);
  await context.close();
});
