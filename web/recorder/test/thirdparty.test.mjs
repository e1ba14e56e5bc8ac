// Real third-party pages: swagger-ui (React) and Shoelace (Lit web components, shadow DOM, adopted stylesheets).
// Skipped when the packages are not installed (root node_modules, or REEL_EXTRA_MODULES).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, startPages, liveDom, replayDom, decodeBody, diff, sleep, findModule } from './helpers.mjs';
import { startReceiver } from './receiver.mjs';

let browser, pages, rx;
before(async () => { [browser, pages, rx] = await Promise.all([launch(), startPages(), startReceiver()]); });
after(async () => { await browser?.close(); await pages?.stop(); await rx?.stop(); });

async function session(path, script, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${pages.url}/${path}?api=${encodeURIComponent(rx.url)}&opts=${encodeURIComponent(JSON.stringify(opts))}`);
  await page.waitForFunction(() => window.reel && reel.stats().snapshots > 0);
  const sid = await page.evaluate(() => reel.sessionId);
  await script(page);
  await sleep(500);
  await page.evaluate(() => reel.flush());
  const live = await liveDom(page, opts.maskTextSelector ? { mask: '.rr-mask,.ph-mask,[data-reel-mask],[contenteditable],' + opts.maskTextSelector } : {});
  const stats = await page.evaluate(() => reel.stats());
  const events = rx.events().filter(e => rx.batches().some(b => b.session_id === sid && b.events.includes(e)));
  const r = await replayDom(browser, pages.url, events);
  return { ctx, page, live, r, stats, events };
}

test('swagger-ui: expand, try it out, execute', { skip: !findModule('swagger-ui-dist') && 'swagger-ui-dist not installed' }, async () => {
  const s = await session('swagger.html', async page => {
    await page.waitForSelector('.opblock-summary');
    await page.click('.opblock-get .opblock-summary');
    await page.click('.try-out__btn');
    await page.fill('input[placeholder="limit"]', '7');
    await page.fill('input[placeholder="owner"]', 'OWNER-CANARY');
    await page.click('.execute');
    await page.waitForSelector('.live-responses-table');
    await page.click('.opblock-post .opblock-summary');
  }, { maskTextSelector: '.request-url,.curl-command' }); // swagger echoes typed parameters as page text
  assert.equal(s.r.dom, s.live, diff(s.live, s.r.dom));
  assert.equal(s.stats.errors, 0, s.stats.lastError);
  assert.ok(!rx.bodies().some(b => JSON.stringify(decodeBody(b)).includes('OWNER-CANARY')));
  console.log(`# swagger: ${s.events.length} events, snapshot ${s.stats.snapshotMs} ms`);
  await s.r.page.close(); await s.ctx.close();
});

test('shoelace: web components in shadow DOM', { skip: !findModule('@shoelace-style/shoelace') && 'shoelace not installed' }, async () => {
  const s = await session('shoelace.html', async page => {
    await page.waitForFunction(() => customElements.get('sl-dialog') && customElements.get('sl-input') && document.querySelector('sl-input').shadowRoot);
    await sleep(300);
    await page.evaluate(() => reel.snapshot()); // a full snapshot of upgraded components (shadow roots + adopted sheets)
    await page.locator('#in input').type('SHOELACE-CANARY');
    await page.click('#cb');
    await page.locator('sl-tab[panel=two]').click();
    await page.click('#open');
    await sleep(400);
    await page.click('#close');
    await sleep(400);
  });
  assert.equal(s.r.dom, s.live, diff(s.live, s.r.dom));
  assert.equal(s.stats.errors, 0, s.stats.lastError);
  const styled = await s.r.page.evaluate(() => {
    const b = document.querySelector('iframe').contentDocument.querySelector('#open').shadowRoot.querySelector('.button');
    return getComputedStyle(b).display;
  });
  assert.equal(styled, 'inline-flex', 'adopted stylesheets replayed into the shadow root');
  const all = rx.bodies().map(b => JSON.stringify(decodeBody(b))).join();
  assert.ok(!all.includes('SHOELACE-CANARY') && !all.includes('DETAILS-MASK-CANARY'));
  console.log(`# shoelace: ${s.events.length} events, snapshot ${s.stats.snapshotMs} ms`);
  await s.r.page.close(); await s.ctx.close();
});
