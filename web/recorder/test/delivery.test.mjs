// Delivery: outage + reloads lose nothing and store nothing twice; 4xx drops; bounded queue.
// The receiver follows the wire protocol; to run against the real server, replace startReceiver() below.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, startPages, liveDom, replayDom, diff, sleep } from './helpers.mjs';
import { startReceiver } from './receiver.mjs';

let browser, pages;
before(async () => { [browser, pages] = await Promise.all([launch(), startPages()]); });
after(async () => { await browser?.close(); await pages?.stop(); });

const open = async (rx, opts = {}) => {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await ctx.newPage();
  const u = `${pages.url}/form.html?api=${encodeURIComponent(rx.url)}&opts=${encodeURIComponent(JSON.stringify({ flushIntervalMs: 300, retryBaseMs: 200, retryMaxMs: 800, ...opts }))}`;
  await page.goto(u);
  await ready(page);
  return { ctx, page };
};
const ready = page => page.waitForFunction(() => window.reel && reel.stats().snapshots > 0);
const tick = (page, i) => page.evaluate(i => reel.event('tick', { i }), i);
async function until(fn, ms = 20000) { const t0 = Date.now(); while (Date.now() - t0 < ms) { if (await fn()) return true; await sleep(100); } return false; }

test('outage: receiver down, user keeps working and reloads twice, receiver back: every event exactly once', async () => {
  const rx = await startReceiver();
  const { ctx, page } = await open(rx);
  let i = 0;
  for (; i < 3; i++) await tick(page, i);
  await page.evaluate(() => reel.flush());
  assert.ok(await until(() => rx.events().filter(e => e.data.tag === 'tick').length === 3), 'delivered while up');

  rx.setMode('down');
  await page.type('#name', 'abcdef');
  for (; i < 6; i++) await tick(page, i);
  await page.click('#go');
  await sleep(700); // some sends fail and back off
  await page.reload(); await ready(page);
  await page.type('#email', 'x@y.z');
  for (; i < 9; i++) await tick(page, i);
  await sleep(400);
  await page.reload(); await ready(page);
  await page.type('#name', 'ghi');
  for (; i < 12; i++) await tick(page, i);
  await page.click('#go');
  await sleep(300);
  const queued = await page.evaluate(() => reel.stats());
  assert.ok(queued.resent > 0, 'batches from earlier loads were picked up: ' + JSON.stringify(queued));

  rx.setMode('ok');
  const ok = await until(() => rx.events().filter(e => e.data.tag === 'tick').length >= 12 && rx.events().filter(e => e.type === 4).length >= 3);
  await sleep(1200); // late resends would show up as duplicates
  const evs = rx.events(), ticks = evs.filter(e => e.data.tag === 'tick').map(e => e.data.payload.i).sort((a, b) => a - b);
  assert.ok(ok, 'all ticks arrived: ' + ticks);
  assert.deepEqual(ticks, [...Array(12).keys()], 'each tick exactly once');
  assert.equal(evs.filter(e => e.type === 4).length, 3, 'one Meta per page load');
  assert.equal(evs.filter(e => e.type === 2).length, 3, 'one FullSnapshot per page load');
  const keys = evs.map(e => JSON.stringify(e));
  assert.equal(new Set(keys).size, keys.length, 'no event stored twice');
  assert.ok(evs.filter(e => e.type === 3 && e.data.source === 5).length >= 14, 'typing during the outage arrived');
  const ids = rx.batches().map(b => b.batch_id);
  assert.equal(new Set(ids).size, ids.length);
  const stats = rx.stats();
  console.log('# outage receiver stats', JSON.stringify(stats), rx.batches().map(b => b.events.length).join(','));

  // the last page load replays to the live DOM
  const lastMeta = evs.filter(e => e.type === 4).pop().timestamp;
  const live = await liveDom(page);
  const r = await replayDom(browser, pages.url, evs.filter(e => e.timestamp >= lastMeta));
  assert.equal(r.dom, live, diff(live, r.dom));
  await r.page.close();
  await ctx.close(); await rx.stop();
});

test('reload right after typing: the last batch arrives (beacon and/or resend) and is stored once', async () => {
  const rx = await startReceiver();
  const { ctx, page } = await open(rx, { flushIntervalMs: 5000 });
  await page.type('#name', 'abcd');
  await tick(page, 7);
  await page.reload(); await ready(page);
  assert.ok(await until(() => rx.events().some(e => e.data.tag === 'tick')), 'tick delivered');
  await page.evaluate(() => reel.flush());
  await sleep(500);
  const evs = rx.events();
  assert.equal(evs.filter(e => e.data.tag === 'tick').length, 1);
  assert.equal(evs.filter(e => e.type === 3 && e.data.source === 5).length, 4, 'each keystroke once');
  console.log('# reload receiver stats', JSON.stringify(rx.stats()));
  await ctx.close(); await rx.stop();
});

test('offline: sends fail, the online event retries at once', async () => {
  const rx = await startReceiver();
  const { ctx, page } = await open(rx, { retryBaseMs: 60000, retryMaxMs: 60000 });
  await page.evaluate(() => reel.flush());
  await ctx.setOffline(true);
  await tick(page, 3);
  await page.evaluate(() => reel.flush());
  assert.ok(await until(async () => (await page.evaluate(() => reel.stats())).retries >= 1));
  await ctx.setOffline(false);
  assert.ok(await until(() => rx.events().some(e => e.data.tag === 'tick'), 5000), 'sent on online, not after the 60 s backoff');
  await ctx.close(); await rx.stop();
});

test('4xx: dropped and counted, never retried; 429/5xx retried', async () => {
  const rx = await startReceiver();
  const { ctx, page } = await open(rx);
  await page.evaluate(() => reel.flush());
  rx.setMode('400');
  await tick(page, 1);
  await page.evaluate(() => reel.flush());
  assert.ok(await until(async () => (await page.evaluate(() => reel.stats())).dropped4xx >= 1));
  const n = rx.stats().requests;
  await sleep(600);
  assert.equal(rx.stats().requests, n, 'no retry after 400');
  rx.setMode('503');
  await tick(page, 2);
  await page.evaluate(() => reel.flush());
  await sleep(500);
  rx.setMode('429');
  await sleep(700);
  rx.setMode('ok');
  assert.ok(await until(() => rx.events().some(e => e.data.tag === 'tick' && e.data.payload.i === 2)), 'retried after 503/429');
  assert.ok(!rx.events().some(e => e.data.tag === 'tick' && e.data.payload.i === 1));
  const st = await page.evaluate(() => reel.stats());
  assert.ok(st.retries >= 2 && st.errors === 0, JSON.stringify(st));
  await ctx.close(); await rx.stop();
});

test('a hanging receiver times out and the batch is retried', async () => {
  const rx = await startReceiver();
  const { ctx, page } = await open(rx, { requestTimeoutMs: 400 });
  await page.evaluate(() => reel.flush());
  rx.setMode('hang');
  await tick(page, 1);
  await page.evaluate(() => reel.flush());
  await sleep(700);
  rx.setMode('ok');
  assert.ok(await until(() => rx.events().some(e => e.data.tag === 'tick')), 'delivered after the hang');
  assert.equal(rx.events().filter(e => e.data.tag === 'tick').length, 1);
  await ctx.close(); await rx.stop();
});

test('bounded queue: oldest whole sessions dropped first and reported as reel.dropped', async () => {
  const rx = await startReceiver();
  rx.setMode('down');
  const { ctx, page } = await open(rx, { maxQueueBytes: 60000, idleTimeoutMs: 1500 });
  const big = 'x'.repeat(4000);
  const first = await page.evaluate(() => reel.sessionId);
  for (let k = 0; k < 8; k++) await page.evaluate(([k, big]) => reel.event('old', { k, big }), [k, big]);
  await page.evaluate(() => reel.flush());
  await sleep(1700); // idle timeout: the user's next action starts a new session
  await page.mouse.click(5, 5);
  for (let k = 0; k < 8; k++) { await page.evaluate(([k, big]) => reel.event('new', { k, big }), [k, big]); if (k % 4 === 3) await page.evaluate(() => reel.flush()); }
  await page.evaluate(() => reel.flush());
  const second = await page.evaluate(() => reel.sessionId);
  assert.notEqual(first, second, 'idle timeout rotated the session');
  const st = await page.evaluate(() => reel.stats());
  assert.ok(st.droppedSessions >= 1 && st.queuedBytes <= 60000, JSON.stringify(st));
  rx.setMode('ok');
  assert.ok(await until(() => rx.events().some(e => e.data.tag === 'reel.dropped')), 'drop reported');
  await until(async () => (await page.evaluate(() => reel.stats())).queued === 0);
  const evs = rx.events();
  const rep = evs.find(e => e.data.tag === 'reel.dropped').data.payload;
  assert.ok(rep.sessions >= 1 && rep.batches >= 1 && rep.bytes > 0, JSON.stringify(rep));
  assert.ok(!rx.batches().some(b => b.session_id === first), 'old session dropped whole');
  assert.ok(rx.batches().some(b => b.session_id === second && b.events.some(e => e.type === 2)), 'new session has a full snapshot');
  await ctx.close(); await rx.stop();
});
