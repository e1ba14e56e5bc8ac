// Public API and "good guest" behaviour: never throws, identify, session/window ids, sampling, stop, resume snapshot,
// plus canvas frames, selection and media events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, startPages, sleep, liveDom, replayDom, diff } from './helpers.mjs';
import { startReceiver } from './receiver.mjs';

let browser, pages, rx;
before(async () => { [browser, pages, rx] = await Promise.all([launch(), startPages(), startReceiver()]); });
after(async () => { await browser?.close(); await pages?.stop(); await rx?.stop(); });
const url = (p, opts = {}) => `${pages.url}/${p}?api=${encodeURIComponent(rx.url)}&opts=${encodeURIComponent(JSON.stringify(opts))}`;
const ready = page => page.waitForFunction(() => window.reel && reel.stats().snapshots > 0);

test('good guest: bad input never throws into the page; identify, ids, stop restores patches', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(e.message));
  await page.goto(url('misc.html'));
  await ready(page);
  const sid = await page.evaluate(() => reel.sessionId);
  const res = await page.evaluate(() => {
    const cyc = {}; cyc.self = cyc;
    const out = [];
    for (const f of [() => reel.event('cyclic', cyc), () => reel.event(undefined, 10n), () => reel.init(null), () => reel.identify(null),
      () => reel.identify({ toString() { throw new Error('x'); } }), () => console.log(cyc, document.body, () => 1, Symbol('s')), () => console.error(new Error('boom'))])
      try { out.push(f() === undefined ? 'ok' : 'ok'); } catch (e) { out.push('threw ' + e.message); }
    reel.identify('user-42');
    reel.event('after-identify', {});
    return { out, stats: reel.stats() };
  });
  assert.ok(res.out.every(r => r === 'ok'), res.out.join());
  assert.ok(res.stats.errors >= 1, 'errors are counted');
  await page.evaluate(() => reel.flush());
  const b = rx.batches().find(b => b.events.some(e => e.data.tag === 'after-identify'));
  assert.equal(b.distinct_id, 'user-42');
  const logs = rx.events().filter(e => e.data.plugin === 'rrweb/console@1').map(e => e.data.payload);
  assert.ok(logs.some(p => p.level === 'log' && p.payload[0].includes('[Circular]')), JSON.stringify(logs).slice(0, 300));
  assert.ok(logs.some(p => p.level === 'error' && p.payload[0].includes('boom')));

  // reload: same session, same window; a second tab: same session, new window id
  const wid0 = await page.evaluate(() => reel.windowId);
  await page.reload(); await ready(page);
  assert.equal(await page.evaluate(() => reel.sessionId), sid);
  assert.equal(await page.evaluate(() => reel.windowId), wid0, 'window id survives a reload');
  // a duplicated tab starts with a copy of sessionStorage (taken while the original is open): it gets its own window id
  const copy = await page.evaluate(() => JSON.stringify(Object.assign({}, sessionStorage)));
  const dup = await ctx.newPage();
  await dup.addInitScript(c => { if (!sessionStorage.length) for (const [k, v] of Object.entries(JSON.parse(c))) sessionStorage.setItem(k, v); }, copy);
  await dup.goto(url('misc.html')); await ready(dup);
  assert.notEqual(await dup.evaluate(() => reel.windowId), wid0, 'duplicated tab');
  await dup.close();
  const p2 = await ctx.newPage(); await p2.goto(url('misc.html')); await ready(p2);
  assert.equal(await p2.evaluate(() => reel.sessionId), sid);
  const [w1, w2] = [await page.evaluate(() => reel.windowId), await p2.evaluate(() => reel.windowId)];
  assert.notEqual(w1, w2);
  assert.equal(await p2.evaluate(() => reel.distinctId), 'user-42', 'identify persisted');

  // stop: patches undone, nothing more recorded
  const after = await page.evaluate(async () => {
    reel.stop();
    const n = reel.stats().events;
    document.body.appendChild(document.createElement('div'));
    console.log('x'); reel.event('late', {});
    await new Promise(r => setTimeout(r, 50));
    return { native: /\[native code\]/.test(fetch.toString()) && /\[native code\]/.test(CSSStyleSheet.prototype.insertRule.toString()), same: reel.stats().events === n };
  });
  assert.deepEqual(after, { native: true, same: true });
  // init again after stop records again
  const again = await page.evaluate(async api => {
    reel.init({ apiHost: api, token: 'test-token', flushIntervalMs: 200 });
    const n = reel.stats().events;
    document.body.appendChild(document.createElement('i'));
    await new Promise(r => setTimeout(r, 50));
    return reel.stats().events > n;
  }, rx.url);
  assert.ok(again, 'mutations recorded after stop + init');
  assert.deepEqual(pageErrors, []);
  await ctx.close();
});

test('sampleRate 0 records nothing', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const before = rx.stats().requests;
  await page.goto(url('misc.html', { sampleRate: 0 }));
  await page.click('#b');
  await page.evaluate(() => reel.flush());
  await sleep(300);
  assert.equal(await page.evaluate(() => reel.stats().events), 0);
  assert.equal(rx.stats().requests, before);
  await ctx.close();
});

test('canvas frames, selection, media, resume snapshot', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url('misc.html', { recordCanvas: true, canvasFps: 4 }));
  await ready(page);
  const sid = await page.evaluate(() => reel.sessionId);
  await page.evaluate(() => {
    const c = document.getElementById('cv').getContext('2d'); c.fillStyle = 'rgb(0, 0, 200)'; c.fillRect(40, 20, 40, 40);
    const r = document.createRange(), t = document.getElementById('para').firstChild; r.setStart(t, 7); r.setEnd(t, 11);
    getSelection().removeAllRanges(); getSelection().addRange(r);
    document.getElementById('au').dispatchEvent(new Event('volumechange'));
  });
  await sleep(600);
  await page.evaluate(() => { // the tab goes to the background and comes back
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange'));
    Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }); document.dispatchEvent(new Event('visibilitychange'));
  });
  await page.evaluate(() => reel.flush());
  const evs = rx.batches().filter(b => b.session_id === sid).flatMap(b => b.events);
  const full = evs.find(e => e.type === 2);
  const cv = JSON.stringify(full.data.node).match(/"rr_dataURL":"data:image\/[a-z]+;base64,/);
  assert.ok(cv, 'canvas pixels in the snapshot');
  assert.ok(evs.some(e => e.type === 3 && e.data.source === 9 && e.data.commands[1].args[0].src.startsWith('data:image')), 'canvas frame');
  const sel = evs.find(e => e.type === 3 && e.data.source === 14);
  assert.ok(sel && sel.data.ranges[0].startOffset === 7 && sel.data.ranges[0].endOffset === 11, 'selection');
  assert.ok(evs.some(e => e.type === 3 && e.data.source === 7 && e.data.type === 3), 'media volumechange');
  assert.equal(evs.filter(e => e.type === 2).length, 2, 'a new full snapshot on resume');
  await ctx.close();
});

test('reel.mjs: the ES module entry re-exports the same recorder', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url('esm.html'));
  await page.waitForFunction(() => window.esm);
  assert.deepEqual(await page.evaluate(() => window.esm), { same: true, sid: true });
  await page.evaluate(() => reel.flush());
  assert.ok(rx.events().some(e => e.data.tag === 'from-esm'));
  await ctx.close();
});

test('time-sliced full snapshot of a big DOM stays consistent while the page mutates it', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(url('big.html', { flushIntervalMs: 1000 }) + '&churn=1');
  await page.waitForFunction(() => window.chaosDone && reel.stats().snapshots > 0, null, { timeout: 20000 });
  const sid = await page.evaluate(() => reel.sessionId);
  await page.evaluate(() => reel.flush());
  const st = await page.evaluate(() => reel.stats());
  console.log(`# big DOM snapshot: ${st.snapshotMs} ms total, longest slice ${st.maxSnapshotSliceMs} ms`);
  assert.ok(st.snapshotMs > st.maxSnapshotSliceMs, 'the snapshot was split: ' + JSON.stringify(st));
  const live = await liveDom(page);
  const evs = rx.batches().filter(b => b.session_id === sid).flatMap(b => b.events);
  const r = await replayDom(browser, pages.url, evs);
  assert.equal(r.dom, live, diff(live, r.dom));
  await r.page.close(); await ctx.close();
});

test('a burst of 20 000 appended siblings is one mutation, in order', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url('misc.html'));
  await ready(page);
  const sid = await page.evaluate(() => reel.sessionId);
  await page.evaluate(() => { const d = document.createElement('div'); d.id = 'burst'; document.body.appendChild(d); });
  await sleep(50); // the div is known; now append the siblings under it (a run of top-level adds)
  await page.evaluate(() => { const d = document.getElementById('burst'); for (let i = 0; i < 20000; i++) { const s = document.createElement('span'); s.textContent = i; d.appendChild(s); } });
  await page.evaluate(() => reel.flush());
  const st = await page.evaluate(() => reel.stats());
  assert.equal(st.errors, 0, st.lastError);
  const m = rx.batches().filter(b => b.session_id === sid).flatMap(b => b.events).find(e => e.type === 3 && e.data.source === 0 && e.data.adds.length >= 40000);
  assert.ok(m, 'one mutation with every add');
  const spans = m.data.adds.filter(a => a.node.tagName === 'span');
  assert.equal(spans.length, 20000);
  assert.equal(spans[0].nextId, null, 'last sibling first');
  assert.equal(spans[1].nextId, spans[0].node.id, 'each nextId already added');
  await ctx.close();
});
