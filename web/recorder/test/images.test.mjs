// inlineImages (issue 14): loaded same-origin pictures travel as data URLs (in the snapshot, and when they load
// later), cross-origin ones without CORS stay URLs, blocked ones are never read; Reel's player shows the recorded
// picture even when its URL is gone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, startPages, sleep } from './helpers.mjs';
import { startReceiver } from './receiver.mjs';

let browser, pages, rx;
before(async () => { [browser, pages, rx] = await Promise.all([launch(), startPages(), startReceiver()]); });
after(async () => { await browser?.close(); await pages?.stop(); await rx?.stop(); });

/** Every serialized node of the full snapshots and added nodes, by its `id` attribute. */
function imgs(events) {
  const out = {};
  const walk = (n) => { if (!n) return; if (n.tagName === 'img' && n.attributes) out[n.attributes.id] = { node: n.id, attrs: n.attributes }; (n.childNodes || []).forEach(walk); };
  for (const e of events) {
    if (e.type === 2) walk(e.data.node);
    if (e.type === 3 && e.data.source === 0) for (const a of e.data.adds || []) walk(a.node);
  }
  return out;
}

for (const inline of [true, false]) {
  test(`inlineImages: ${inline}`, async () => {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${pages.url}/images.html?api=${encodeURIComponent(rx.url)}&opts=${encodeURIComponent(JSON.stringify({ inlineImages: inline }))}`);
    await page.waitForFunction(() => window.reel && reel.stats().snapshots > 0);
    const sid = await page.evaluate(() => reel.sessionId);
    // A picture added after the snapshot, not loaded when it is serialized.
    await page.evaluate(() => { const i = document.createElement('img'); i.id = 'late'; i.src = 'pic.svg?late=' + Date.now(); document.body.appendChild(i); });
    await page.waitForFunction(() => document.getElementById('late').complete && document.getElementById('cross').complete);
    await sleep(200);
    await page.evaluate(() => reel.flush());
    await sleep(300);
    const events = rx.batches().filter((b) => b.session_id === sid).flatMap((b) => b.events);
    const found = imgs(events);
    for (const id of ['same', 'cross', 'late']) assert.ok(found[id], `${id} recorded`);
    // The picture: in the node when it had loaded by then, else in one attribute change when it loads.
    const pictures = (id) => [found[id].attrs.rr_dataURL].concat(events.filter((e) => e.type === 3 && e.data.source === 0)
      .flatMap((e) => e.data.attributes || []).filter((a) => a.id === found[id].node).map((a) => a.attributes.rr_dataURL)).filter(Boolean);
    if (inline) {
      assert.equal(pictures('same').length, 1, 'same-origin picture inlined once');
      assert.match(pictures('same')[0], /^data:image\/webp;base64,/);
      assert.ok(found.same.attrs.src.endsWith('/pic.svg'), 'its URL kept too');
      assert.deepEqual(pictures('cross'), [], 'a cross-origin picture without CORS stays a URL');
      assert.equal(found.blocked, undefined, 'a blocked picture is not serialized');
      assert.ok(!JSON.stringify(events).includes('pic.svg?blocked'), 'nor its URL');
      assert.equal(pictures('late').length, 1, 'the late picture follows once it loads');
    } else {
      assert.ok(!JSON.stringify(events).includes('rr_dataURL'), 'nothing inlined by default');
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
}
