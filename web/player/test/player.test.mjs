// Player behaviour: cv-packed events, UI (deep link, seek, keys, speed, markers), panels, DOM explorer,
// .reel.zip packages (sessions, windows, zip64), JSONL sources.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, newPage, closeBrowser, playerPage, makeReelPackage, PLAYER_DIR_EXPORT } from './helpers.mjs';

const fx = async (n) => JSON.parse(await readFile(join(PLAYER_DIR_EXPORT, 'test', 'fixtures', n + '.json'), 'utf8'));
let srv, posthog, checkout, shoelace;

/** posthog fixture plus a console error, a custom event and a rage click burst. */
function enrich(events) {
  const t0 = events[0].timestamp;
  const extra = [
    { type: 6, data: { plugin: 'rrweb/console@1', payload: { level: 'error', trace: ['at pay (checkout.js:1:1)'], payload: ['"TypeError: card is undefined"'] } }, timestamp: t0 + 12000 },
    { type: 5, data: { tag: 'checkout-started', payload: {} }, timestamp: t0 + 3000 },
    ...[0, 150, 300, 450].map((d) => ({ type: 3, data: { source: 2, type: 2, id: 1, x: 400, y: 300 }, timestamp: t0 + 20000 + d })),
  ];
  return events.concat(extra).sort((a, b) => a.timestamp - b.timestamp);
}

before(async () => {
  posthog = enrich(await fx('posthog-checkout'));
  checkout = await fx('checkout');
  shoelace = await fx('shoelace');
  const shift = checkout[0].timestamp + 5000 - shoelace[0].timestamp;
  const jsonl = checkout.map((e) => JSON.stringify(e)).join('\n');
  const phLines = checkout.map((e) => JSON.stringify(['win-1', e])).join('\n');
  const pkg = makeReelPackage([
    { id: 'sess-a', meta: { user: 'zelda' }, windows: { 'w-checkout': checkout, 'w-shoelace': shoelace.map((e) => ({ ...e, timestamp: e.timestamp + shift })) } },
    { id: 'sess-b', meta: {}, windows: { only: checkout } },
  ], { zip64: true });
  srv = await serve({
    '/ui.html': playerPage(`window.p = await ReelPlayer.mount(document.getElementById('app'), { events: window.__events });`),
    '/src.html': playerPage(`window.p = await ReelPlayer.mount(document.getElementById('app'), { src: new URLSearchParams(location.search).get('src'), hash: false });`),
    '/pkg.html': playerPage(`const buf = await (await fetch('/pkg.reel.zip')).arrayBuffer(); window.p = await ReelPlayer.mount(document.getElementById('app'), { package: buf, hash: false });`),
    '/blank.html': playerPage(''),
    '/rec.jsonl': jsonl, '/ph.jsonl': phLines, '/pkg.reel.zip': pkg, '/rec.json': JSON.stringify(checkout),
  });
});
after(async () => { await closeBrowser(); if (srv) await srv.close(); });

async function open(path, events) {
  const { page, context } = await newPage(srv.base);
  if (events) await page.addInitScript((evs) => { window.__events = evs; }, events);
  await page.goto(srv.base + path);
  await page.evaluate(() => window.__ready);
  return { page, context };
}

test('cv 2024-10 packed events play like the unpacked ones', async () => {
  const { page, context } = await open('/blank.html');
  const res = await page.evaluate(async (evs) => {
    const pack = async (v) => {
      const s = new Blob([JSON.stringify(v)]).stream().pipeThrough(new CompressionStream('gzip'));
      const b = new Uint8Array(await new Response(s).arrayBuffer());
      let out = ''; for (const x of b) out += String.fromCharCode(x); return out;
    };
    const packed = [];
    let n = 0;
    for (const e of evs) {
      const c = structuredClone(e);
      if (c.type === 2) { c.data = await pack(c.data); c.cv = '2024-10'; n++; }
      else if (c.type === 3 && (c.data.source === 0 || c.data.source === 8)) {
        for (const k of ['texts', 'attributes', 'removes', 'adds']) if (c.data[k]) c.data[k] = await pack(c.data[k]);
        c.cv = '2024-10'; n++;
      }
      packed.push(c);
    }
    const a = document.createElement('div'), b = document.createElement('div');
    a.style.cssText = b.style.cssText = 'width:800px;height:600px;position:relative';
    document.body.append(a, b);
    const pa = await ReelPlayer.mount(a, { events: packed, hash: false, keyboard: false });
    const pb = await ReelPlayer.mount(b, { events: evs, hash: false, keyboard: false });
    const out = [];
    for (const f of [0.3, 1]) {
      pa.seek(pa.duration * f); pb.seek(pb.duration * f);
      out.push([pa.engine.doc.documentElement.outerHTML === pb.engine.doc.documentElement.outerHTML, pa.engine.doc.body.textContent.includes('Checkout')]);
    }
    return { n, out, skipped: pa.engine.skipped, typeofData: typeof packed.find((e) => e.type === 2).data };
  }, await fx('posthog-checkout'));
  assert.equal(res.typeofData, 'string');
  assert.ok(res.n > 2);
  assert.deepEqual(res.out, [[true, true], [true, true]]);
  assert.equal(res.skipped, 0);
  await context.close();
});

test('UI: deep link, seek, keys, speed, markers, play/pause/ended events', async () => {
  const { page, context } = await newPage(srv.base);
  await page.addInitScript((evs) => { window.__events = evs; }, posthog);
  await page.goto(srv.base + '/ui.html#t=20');
  await page.evaluate(() => window.__ready);
  let s = await page.evaluate(() => ({ t: p.currentTime, playing: p.playing, label: document.querySelector('.reel-time').textContent }));
  assert.equal(s.t, 20000);
  assert.equal(s.playing, false);
  assert.match(s.label, /^0:20 \//);
  // Seek by clicking the timeline in the middle.
  const box = await page.locator('.reel-timeline').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const mid = await page.evaluate(() => [p.currentTime, p.duration]);
  assert.ok(Math.abs(mid[0] - mid[1] / 2) < mid[1] * 0.02, `seek by click: ${mid}`);
  // Drag to 25 %.
  await page.mouse.move(box.x + box.width / 2, box.y + 5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 4, box.y + 5, { steps: 4 });
  await page.mouse.up();
  const dragged = await page.evaluate(() => p.currentTime / p.duration);
  assert.ok(Math.abs(dragged - 0.25) < 0.02, `drag: ${dragged}`);
  // Keys.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('0');
  assert.equal(await page.evaluate(() => p.currentTime), 0);
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => p.currentTime), 5000);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.evaluate(() => p.currentTime), 0);
  await page.keyboard.press('5');
  assert.equal(await page.evaluate(() => Math.round(p.currentTime)), await page.evaluate(() => Math.round(p.duration / 2)));
  // Speed 4× without inactivity skipping: ~4 s of recording per second.
  await page.selectOption('.reel-speed', '4');
  await page.evaluate(() => { p.setSkipInactive(false); p.seek(0); window.__ev = []; for (const n of ['play', 'pause', 'ended', 'timeupdate']) p.on(n, () => window.__ev.push(n)); });
  await page.focus('.reel-play'); // space on the focused play button toggles once, not twice
  await page.keyboard.press(' ');
  await page.waitForTimeout(1000);
  await page.keyboard.press(' ');
  s = await page.evaluate(() => ({ t: p.currentTime, speed: p.speed, ev: [...new Set(window.__ev)] }));
  assert.equal(s.speed, 4);
  assert.ok(s.t > 2500 && s.t < 6500, `4× for ~1 s moved ${s.t} ms`);
  assert.deepEqual(s.ev.sort(), ['pause', 'play', 'timeupdate']);
  // Ended at 16× with inactivity skipping.
  await page.evaluate(() => { p.setSpeed(16); p.setSkipInactive(true); p.seek(p.duration - 3000); p.play(); });
  await page.waitForFunction(() => window.__ev.includes('ended'), null, { timeout: 5000 });
  // Markers: clicks, rage click, console error, custom event.
  const kinds = await page.evaluate(() => [...new Set([...document.querySelectorAll('.reel-marker')].map((m) => m.className.replace('reel-marker reel-m-', '')))].sort());
  assert.deepEqual(kinds, ['click', 'custom', 'error', 'rage']);
  await page.locator('.reel-m-error').first().click();
  assert.equal(await page.evaluate(() => Math.round(p.currentTime)), 12000);
  await page.click('.reel-link');
  assert.match(page.url(), /#t=12$/);
  assert.ok(await page.evaluate(() => document.querySelectorAll('.reel-density i').length > 50));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('panels: console errors, network requests with bodies, DOM explorer', async () => {
  const { page, context } = await open('/ui.html', posthog);
  // Console
  await page.click('.reel-tab[data-tab=console]');
  const err = page.locator('.reel-log-error');
  assert.equal(await err.count(), 1);
  assert.match(await err.textContent(), /TypeError: card is undefined/);
  assert.equal(await page.locator('.reel-view-console .reel-log').count(), 5);
  await page.fill('.reel-view-console input', 'submitting');
  assert.equal(await page.locator('.reel-view-console .reel-log:not([hidden])').count(), 2);
  await page.fill('.reel-view-console input', '');
  await err.click();
  assert.equal(await page.evaluate(() => Math.round(p.currentTime)), 12000);
  // Network
  await page.click('.reel-tab[data-tab=network]');
  const rows = page.locator('.reel-view-network tr.reel-row');
  assert.ok(await rows.count() >= 8);
  const api = page.locator('.reel-view-network tr.reel-row', { hasText: '/api/checkout' });
  assert.match(await api.textContent(), /POST.*200/);
  await api.click();
  const detail = await page.locator('.reel-net-detail').textContent();
  assert.match(detail, /Response body/);
  assert.match(detail, /zelda\.canary@example\.com/);
  assert.match(detail, /Request headers/);
  // DOM explorer: find by selector, highlight, hover, inspect-click.
  await page.click('.reel-tab[data-tab=dom]');
  await page.evaluate(() => p.seek(p.duration));
  await page.fill('.reel-dom-query', '#email');
  await page.press('.reel-dom-query', 'Enter');
  assert.match(await page.locator('.reel-dom-row.on').textContent(), /<input#email/);
  assert.match(await page.locator('.reel-dom-info').textContent(), /zelda\.canary@example\.com|type/);
  assert.equal(await page.evaluate(() => getComputedStyle(p.engine.highlight).display), 'block');
  await page.locator('.reel-dom-row', { hasText: '<body' }).first().hover();
  const hl = await page.evaluate(() => p.engine.highlight.getBoundingClientRect().height);
  assert.ok(hl > 100, 'hovering <body> highlights it');
  await page.click('.reel-inspect');
  const pt = await page.evaluate(() => {
    const el = p.engine.doc.querySelector('h1');
    const r = el.getBoundingClientRect(), v = p.engine.viewport.getBoundingClientRect();
    return { x: v.left + (r.left + r.width / 2) * p.engine.scale, y: v.top + (r.top + r.height / 2) * p.engine.scale };
  });
  await page.mouse.click(pt.x, pt.y);
  assert.match(await page.locator('.reel-dom-row.on').textContent(), /<h1/);
  await page.fill('.reel-dom-query', '.nope-nothing');
  await page.press('.reel-dom-query', 'Enter');
  assert.match(await page.locator('.reel-dom-msg').textContent(), /No element matches/);
  // Meta and events panels render.
  await page.click('.reel-tab[data-tab=meta]');
  assert.match(await page.locator('.reel-view-meta').textContent(), /Keyframes/);
  assert.ok(await page.locator('.reel-view-meta dt[title=keyframes]').count() === 1, 'the raw name stays in the title');
  await page.click('.reel-tab[data-tab=events]');
  assert.ok(await page.locator('.reel-view-events .reel-row').count() > 100);
  // Readable rows (element and text), filtered by kind; a row seeks.
  await page.selectOption('.reel-events-kind', 'click');
  const clicks = await page.locator('.reel-view-events .reel-row').allTextContents();
  assert.ok(clicks.length > 0 && clicks.every((t) => /Click /.test(t)), clicks.slice(0, 3).join(' | '));
  assert.ok(clicks.some((t) => /Click [a-z]+[#.]?[\w.-]* “/.test(t)), 'a click names its element and text: ' + clicks.slice(0, 5).join(' | '));
  await page.selectOption('.reel-events-kind', 'navigation');
  assert.match(await page.locator('.reel-view-events .reel-row').first().textContent(), /Navigation http/);
  await page.selectOption('.reel-events-kind', '');
  // Frame steps pause and move by 1/24 s; `?` lists the shortcuts, Escape closes the list.
  await page.locator('.reel-view-events').click({ position: { x: 2, y: 2 } }).catch(() => {});
  await page.evaluate(() => { document.activeElement && document.activeElement.blur && document.activeElement.blur(); p.seek(5000); });
  await page.keyboard.press('.');
  await page.keyboard.press('.');
  await page.keyboard.press(',');
  assert.ok(Math.abs((await page.evaluate(() => p.currentTime)) - (5000 + 1000 / 24)) < 1, 'one frame forward');
  assert.equal(await page.evaluate(() => p.playing), false);
  await page.keyboard.press('?');
  assert.match(await page.locator('.reel-help').textContent(), /next frame/);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('.reel-help').count(), 0);
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('.reel.zip package: sessions, windows, zip64 central directory', async () => {
  const { page, context } = await open('/pkg.html');
  const r = await page.evaluate(async () => {
    const out = {};
    out.sessions = [...document.querySelectorAll('.reel-session option')].map((o) => o.textContent);
    out.windows = [...document.querySelectorAll('.reel-window option')].map((o) => o.title);
    out.sessionHidden = document.querySelector('.reel-session').hidden;
    p.seek(p.duration);
    out.text1 = p.engine.doc.body.textContent.includes('Account settings') ? 'shoelace' : 'checkout';
    const other = out.windows.find((w) => w !== p.windowId);
    p.selectWindow(other);
    out.text2 = p.engine.doc.body.textContent.includes('Account settings') ? 'shoelace' : 'checkout';
    out.meta = document.querySelector('.reel-view-meta').textContent;
    // Automatic window following: at the end the window with the latest activity is shown.
    p.autoWindow = true;
    p.seek(0); out.autoStart = p.windowId;
    p.seek(p.duration); out.autoEnd = p.windowId;
    p.openSession(1);
    out.windows2 = [...document.querySelectorAll('.reel-window option')].length;
    out.windowHidden = document.querySelector('.reel-window').hidden;
    return out;
  });
  assert.deepEqual(r.sessions, ['Session sess-a', 'Session sess-b']);
  assert.equal(r.sessionHidden, false);
  assert.deepEqual(r.windows.sort(), ['w-checkout', 'w-shoelace']);
  assert.notEqual(r.text1, r.text2, 'switching windows shows the other window');
  assert.equal(r.autoStart, 'w-checkout', 'checkout starts first');
  assert.equal(r.autoEnd, 'w-shoelace', 'shoelace (shifted 5 s, longer) is active at the end');
  assert.equal(r.windows2, 1);
  assert.equal(r.windowHidden, true);
  await context.close();
});

test('player.html over http: ?src= loads through the ES modules', async () => {
  const { page, context } = await newPage(srv.base);
  await page.goto(srv.base + '/player/player.html?src=' + encodeURIComponent('/pkg.reel.zip'));
  await page.waitForFunction(() => window.reel && window.reel.engine, null, { timeout: 10000 });
  const r = await page.evaluate(() => ({ open: document.getElementById('open').hidden, sessions: window.reel.sessions.length }));
  assert.equal(r.open, true);
  assert.equal(r.sessions, 2);
  assert.deepEqual(page.errors, []);
  // File picker with a plain rrweb JSON file.
  await page.goto(srv.base + '/player/player.html');
  await page.setInputFiles('#file', { name: 'rec.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(checkout)) });
  await page.waitForFunction(() => window.reel && window.reel.engine, null, { timeout: 10000 });
  assert.equal(await page.evaluate(() => window.reel.engine.events.length), checkout.length);
  // A broken file shows an error on the open screen.
  await page.goto(srv.base + '/player/player.html');
  await page.setInputFiles('#file', { name: 'bad.zip', mimeType: 'application/zip', buffer: Buffer.from('PK\u0003\u0004 nope') });
  await page.waitForFunction(() => document.getElementById('err').textContent.length > 0, null, { timeout: 10000 });
  assert.match(await page.textContent('#err'), /zip/i);
  await context.close();
});

test('package integrity: sha256 checked against the manifest; newer major versions refused', async () => {
  const { page, context } = await open('/blank.html');
  const good = makeReelPackage([{ id: 's', meta: {}, windows: { w: checkout } }]);
  const bad = makeReelPackage([{ id: 's', meta: {}, windows: { w: checkout } }], { corrupt: 'sessions/s/windows/w.jsonl' });
  const future = makeReelPackage([{ id: 's', meta: {}, windows: { w: checkout } }], { version: '2.0' });
  const r = await page.evaluate(async ([g, b, f]) => {
    const bytes = (x) => Uint8Array.from(atob(x), (c) => c.charCodeAt(0));
    const out = {};
    const mk = () => { const d = document.createElement('div'); d.style.cssText = 'width:600px;height:400px;position:relative'; document.body.appendChild(d); return d; };
    const pg = await ReelPlayer.mount(mk(), { package: bytes(g), hash: false, keyboard: false });
    out.good = pg.metaInfo().integrity;
    const pb = await ReelPlayer.mount(mk(), { package: bytes(b), hash: false, keyboard: false });
    out.bad = pb.metaInfo().integrity;
    out.badStatus = pb.ui.status.textContent;
    out.badPlays = pb.engine.events.length;
    try { await ReelPlayer.mount(mk(), { package: bytes(f), hash: false, keyboard: false }); out.future = 'loaded'; } catch (e) { out.future = String(e.message); }
    return out;
  }, [good.toString('base64'), bad.toString('base64'), future.toString('base64')]);
  assert.match(r.good, /^2 of 2 files verified$/);
  assert.match(r.bad, /sha256 does not match/);
  assert.match(r.badStatus, /Warning/);
  assert.equal(r.badPlays, checkout.length, 'a damaged package still plays, with a warning');
  assert.match(r.future, /newer than this player supports/);
  await context.close();
});

test('canvas: 2D commands with serialized arguments (PostHog frames as ImageBitmap blobs), after seeks too', async () => {
  const { page, context } = await open('/blank.html');
  const r = await page.evaluate(async () => {
    const c = document.createElement('canvas'); c.width = 4; c.height = 4;
    const g = c.getContext('2d'); g.fillStyle = 'rgb(0, 0, 255)'; g.fillRect(0, 0, 4, 4);
    const png = c.toDataURL('image/png').split(',')[1];
    const t0 = 1_700_000_000_000;
    const doc = { type: 0, id: 1, childNodes: [{ type: 2, id: 2, tagName: 'html', attributes: {}, childNodes: [{ type: 2, id: 3, tagName: 'body', attributes: {}, childNodes: [{ type: 2, id: 4, tagName: 'canvas', attributes: { width: '20', height: '20' }, childNodes: [] }] }] }] };
    const evs = [
      { type: 4, data: { href: 'h', width: 200, height: 100 }, timestamp: t0 },
      { type: 2, data: { node: doc, initialOffset: { top: 0, left: 0 } }, timestamp: t0 + 1 },
      { type: 3, data: { source: 9, id: 4, type: 0, commands: [{ property: 'fillStyle', args: ['rgb(255, 0, 0)'], setter: true }, { property: 'fillRect', args: [0, 0, 20, 20] }] }, timestamp: t0 + 100 },
      { type: 3, data: { source: 9, id: 4, type: 0, commands: [{ property: 'clearRect', args: [0, 0, 20, 20] }, { property: 'drawImage', args: [{ rr_type: 'ImageBitmap', args: [{ rr_type: 'Blob', data: [{ rr_type: 'ArrayBuffer', base64: png }], type: 'image/png' }] }, 0, 0, 20, 20] }] }, timestamp: t0 + 2000 },
      { type: 3, data: { source: 1, positions: [{ x: 1, y: 1, id: 4, timeOffset: 0 }] }, timestamp: t0 + 3000 },
    ];
    const d = document.createElement('div'); d.style.cssText = 'width:400px;height:300px;position:relative'; document.body.appendChild(d);
    const p = await ReelPlayer.mount(d, { events: evs, hash: false, keyboard: false, keyframeWork: 1 });
    await p.engine.keyframes.start();
    const px = async () => { await new Promise((res) => setTimeout(res, 150)); const cv = p.engine.doc.querySelector('canvas'); return Array.from(cv.getContext('2d').getImageData(10, 10, 1, 1).data); };
    const out = {};
    p.seek(500); out.red = await px();
    p.seek(p.duration); out.blue = await px();
    // Backward jump through a keyframe taken after the frame: the keyframe carries the last frame.
    p.seek(2500); out.kf = await px();
    p.seek(0); p.setSpeed(16); p.play();
    await new Promise((res) => p.on('ended', res));
    out.played = await px();
    return out;
  });
  assert.deepEqual(r.red, [255, 0, 0, 255]);
  assert.deepEqual(r.blue, [0, 0, 255, 255]);
  assert.deepEqual(r.played, [0, 0, 255, 255]);
  assert.deepEqual(r.kf, [0, 0, 255, 255]);
  await context.close();
});

test('src: JSON array, JSONL, PostHog [windowId, event] lines, zip URL', async () => {
  for (const src of ['/rec.json', '/rec.jsonl', '/ph.jsonl', '/pkg.reel.zip']) {
    const { page, context } = await open('/src.html?src=' + encodeURIComponent(src));
    const r = await page.evaluate(() => { p.seek(p.duration); return { n: p.engine.events.length, text: p.engine.doc.body.textContent.includes('Corpus Pet Shop') || p.engine.doc.body.textContent.includes('Account settings') }; });
    assert.ok(r.n > 200, `${src}: ${r.n} events`);
    assert.ok(r.text, `${src} renders`);
    await context.close();
  }
});
