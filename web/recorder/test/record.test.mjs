// Records a scripted session on the form page and checks: replay == live, privacy, event coverage, wire format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, startPages, liveDom, replayDom, decodeBody, diff, sleep } from './helpers.mjs';
import { startReceiver } from './receiver.mjs';

let browser, pages, rx, live, events, bodies, requests = [];
const TYPED = { name: 'Zelda Canary', email: 'zelda.canary@example.com', pw: 'Pa55word-CANARY-9', address: '42 Canary Wharf Lane', sh: 'SHADOWTYPED-CANARY', fin: 'FRAMETYPED-CANARY', ign: 'IGNORED-CANARY', notes: 'NOTES-CANARY' };

before(async () => {
  [browser, pages, rx] = await Promise.all([launch(), startPages(), startReceiver()]);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('request', r => { if (r.url().startsWith(rx.url)) requests.push({ method: r.method(), headers: r.headers() }); });
  await page.goto(`${pages.url}/form.html?api=${encodeURIComponent(rx.url)}&opts=${encodeURIComponent(JSON.stringify({ captureNetwork: { headers: true, bodies: false } }))}`);
  await page.waitForFunction(() => window.reel && reel.sessionId && reel.stats().snapshots > 0);
  await page.mouse.move(10, 10); await page.mouse.move(200, 150, { steps: 8 });
  await page.fill('#name', ''); await page.type('#name', TYPED.name);
  await page.type('#email', TYPED.email);
  await page.type('#pw', TYPED.pw);
  await page.fill('#address', TYPED.address);
  await page.selectOption('#country', 'de');
  await page.check('#agree');
  await page.check('#ship-b');
  await page.type('#ign', TYPED.ign);
  await page.click('#notes'); await page.keyboard.press('End'); await page.keyboard.type(' ' + TYPED.notes);
  await page.locator('#widget').locator('#sh-in').type(TYPED.sh);
  await page.frameLocator('#frame').locator('#fin').type(TYPED.fin);
  await page.click('#go');
  await page.evaluate(() => { document.getElementById('scroller').scrollTop = 120; window.scrollTo(0, 200); });
  await sleep(300);
  await page.setViewportSize({ width: 1100, height: 760 });
  await page.evaluate(() => reel.event('checkout', { step: 2 }));
  await sleep(400);
  await page.evaluate(() => reel.flush());
  live = await liveDom(page);
  events = rx.events();
  bodies = rx.bodies();
  await page.close();
});
after(async () => { await browser?.close(); await pages?.stop(); await rx?.stop(); });

test('replay in @rrweb/replay reproduces the live DOM (masked)', async () => {
  const { dom, page, warnings } = await replayDom(browser, pages.url, events);
  assert.equal(dom, live, 'replay differs from live:\n' + diff(live, dom));
  const style = await page.evaluate(() => {
    const d = document.querySelector('iframe').contentDocument;
    const sh = d.querySelector('#widget').shadowRoot.querySelector('.in-shadow');
    const fd = d.querySelector('#frame').contentDocument;
    return { styled: getComputedStyle(d.querySelector('#styled')).color, shadow: getComputedStyle(sh).color, frame: getComputedStyle(fd.body).backgroundColor,
      cssinjs: getComputedStyle(d.querySelector('#cssinjs')).color,
      scroller: d.querySelector('#scroller').scrollTop, blockedW: d.querySelector('.rr-block').style.width };
  });
  assert.equal(style.styled, 'rgb(255, 0, 0)', 'insertRule replayed');
  assert.equal(style.cssinjs, 'rgb(0, 0, 255)', 'rules inserted into a new <style> before it was serialized');
  assert.equal(style.shadow, 'rgb(0, 128, 0)', 'shadow style');
  assert.equal(style.frame, 'rgb(238, 238, 255)', 'iframe style');
  assert.equal(style.scroller, 120, 'element scroll');
  assert.match(style.blockedW, /px$/, 'blocked placeholder sized');
  assert.ok(!warnings.some(w => /not found|Node with id/.test(w)), 'replayer warnings: ' + warnings.join('\n').slice(0, 800));
  await page.close();
});

test('privacy: no typed value, blocked or masked text leaves the browser', () => {
  const all = bodies.map(b => JSON.stringify(decodeBody(b))).join('\n');
  const canaries = [...Object.values(TYPED), 'Zelda', 'zelda.canary', 'Pa55word', 'BLOCKED-CANARY', 'SECRET-CANARY', 'MASKED-CANARY', 'SHADOW-MASK-CANARY',
    'FRAME-MASK-CANARY', 'DEFAULT-CANARY', 'PROGRAMMATIC-CANARY', 'PRESET-ADDRESS', 'Bearer SECRET', 'k-123', 'Editable'];
  for (const c of canaries) assert.ok(!all.includes(c), `${c} leaked`);
  // prefixes of typed values too (inputs are typed character by character)
  for (const v of Object.values(TYPED)) assert.ok(!all.includes(v.slice(0, 6)), `prefix of ${v} leaked`);
  assert.ok(all.includes('"x-thing":"v"'), 'non-sensitive request header kept');
});

test('covers the rrweb event kinds', () => {
  const t = new Set(events.map(e => e.type === 3 ? 's' + e.data.source : e.type === 6 ? e.data.plugin : 't' + e.type));
  for (const k of ['t4', 't2', 't5', 's0', 's1', 's2', 's3', 's4', 's5', 's8', 'rrweb/console@1', 'rrweb/network@1']) assert.ok(t.has(k), `missing ${k} in ${[...t]}`);
  const net = events.filter(e => e.data.plugin === 'rrweb/network@1').flatMap(e => e.data.payload.requests);
  const ping = net.find(r => r.name.endsWith('/api/ping'));
  assert.ok(ping && ping.method === 'POST' && ping.responseStatus === 200 && ping.endTime >= ping.startTime && ping.initiatorType === 'fetch', JSON.stringify(net));
  assert.ok(!ping.requestHeaders.authorization && !ping.responseHeaders['x-api-key'] && ping.responseHeaders['x-trace'] === 't1', JSON.stringify(ping));
  assert.ok(!net.some(r => r.name.includes('/api/v1/ingest')), 'own ingest requests not captured');
  const inputs = events.filter(e => e.type === 3 && e.data.source === 5);
  assert.ok(inputs.some(e => e.data.isChecked === false), 'radio group sibling unchecked');
  assert.ok(inputs.some(e => e.data.userTriggered === false && e.data.text === '*'.repeat('PROGRAMMATIC-CANARY-31'.length)), 'programmatic value change, masked');
  assert.ok(inputs.every(e => /^\**$|^(on|a|b)$/.test(e.data.text)), 'input texts masked: ' + inputs.map(e => e.data.text).join(','));
});

test('wire: gzip bodies, text/plain, no preflight, batch fields', () => {
  assert.ok(rx.stats().gzip > 0 && rx.stats().plain === 0 && rx.stats().preflights === 0, JSON.stringify(rx.stats()));
  assert.ok(requests.every(r => r.method === 'POST' && /text\/plain/.test(r.headers['content-type']) && !r.headers['content-encoding']));
  const b = rx.batches()[0];
  assert.equal(b.lib, 'reel-js');
  assert.match(b.session_id, /^[0-9a-f-]{8}-[0-9a-f]{4}-7/);
  assert.ok(b.window_id && b.distinct_id.startsWith('anon-'));
});
