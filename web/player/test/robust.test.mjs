// Junk and edge-case events never break playback: they are skipped and counted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, newPage, closeBrowser, playerPage, PLAYER_DIR_EXPORT } from './helpers.mjs';

after(closeBrowser);

function junk(base) {
  let seed = 42;
  const r = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const pick = (a) => a[Math.floor(r() * a.length)];
  const t0 = base[base.length - 1].timestamp;
  // Never the document or <html> itself: replacing/removing those is legitimate (document.write) and blanks the page.
  const ids = [5, 8, 13, 21, 34, 55, 89, 144, 9999, -1, null, 'x'];
  const gone = [9999, -1, null, 'x', 144, 89];
  const shapes = [
    () => ({ type: 3, data: { source: 0, adds: [{ parentId: pick(ids), nextId: pick(ids), node: { type: 2, tagName: pick(['div', 'svg', '1bad', 'a b', '', 'script', 'iframe']), attributes: { [pick(['class', 'on x', '1a', 'style', 'href', '"'])]: pick(['x', null, true, 5, { color: 'red' }]) }, childNodes: [], id: Math.floor(r() * 5000) } }] } }),
    () => ({ type: 3, data: { source: 0, removes: [{ parentId: pick(ids), id: pick(gone) }], texts: [{ id: pick(ids), value: pick(['t', null, 5]) }], attributes: [{ id: pick(ids), attributes: { style: pick([{ width: ['1px', 'important'], color: false }, 'color:red', null]) } }] } }),
    () => ({ type: 3, data: { source: 8, id: pick(ids), adds: [{ rule: pick(['x{color:red}', 'garbage {{', '@media (x) { a { b: c } }']), index: pick([0, 99, [5, 2], null, -3]) }], removes: [{ index: pick([0, 100, [1, 1]]) }] } }),
    () => ({ type: 3, data: { source: 13, id: pick(ids), index: pick([[0], [9, 9], 3]), set: { property: 'color', value: 'red' } } }),
    () => ({ type: 3, data: { source: 15, id: pick(ids), styleIds: [pick([1, 2, 77])], styles: [{ styleId: pick([1, 2]), rules: [{ rule: pick(['a{b:c}', '}}}']), index: 0 }] }] } }),
    () => ({ type: 3, data: { source: pick([1, 6, 12]), positions: pick([[], [{ x: 'a', y: null, id: pick(ids), timeOffset: 0 }], null]) } }),
    () => ({ type: 3, data: { source: pick([2, 3, 5, 7, 9, 10, 14, 16]), id: pick(ids), x: 1, y: 2, text: 'q', type: pick([0, 1, 2, 99]), commands: [{ property: 'fillRect', args: [0, 0, 5, 5] }], ranges: [{ start: pick(ids), startOffset: 99, end: pick(ids), endOffset: 0 }], define: { name: pick(['x-y', 'bad', 'font-face']) }, family: 'f', fontSource: 'url(x)' } }),
    () => ({ type: pick([0, 1, 5, 6, 7, 8, 99, -1]), data: pick([null, {}, { plugin: 'rrweb/console@1', payload: null }, { plugin: 'rrweb/network@1', payload: { requests: [{}] } }, { tag: null }]) }),
    () => ({ type: 3, data: null }),
    () => ({ type: 4, data: { href: 'http://other.test/', width: 0, height: -5 } }),
  ];
  const out = base.slice();
  for (let i = 0; i < 400; i++) out.push({ ...pick(shapes)(), timestamp: t0 + 10 + i * 20 });
  out.push({ type: 3, data: { source: 999 }, timestamp: t0 + 9000 });
  out.push({ garbage: true });
  out.push(null);
  return out;
}

test('junk events: skipped and counted, never fatal; seeking still works', async () => {
  const base = JSON.parse(await readFile(join(PLAYER_DIR_EXPORT, 'test', 'fixtures', 'checkout.json'), 'utf8'));
  const srv = await serve({ '/t.html': playerPage(`window.p = await ReelPlayer.mount(document.getElementById('app'), { events: window.__events, hash: false, keyframeWork: 20 });`) });
  const { page, context } = await newPage(srv.base);
  await page.addInitScript((evs) => { window.__events = evs; }, junk(base));
  await page.goto(srv.base + '/t.html');
  await page.evaluate(() => window.__ready);
  const r = await page.evaluate(async () => {
    await p.engine.keyframes.start();
    const seen = [];
    for (const f of [1, 0.5, 0.97, 0.2, 0.99, 0.6, 1]) { p.seek(p.duration * f); seen.push(!!p.engine.doc.body); }
    p.setSpeed(16); p.play();
    await new Promise((res) => setTimeout(res, 800));
    p.pause();
    for (const tab of ['console', 'network', 'events', 'meta', 'dom']) p.panels.show(tab);
    return { seen, skipped: p.engine.skipped, text: p.engine.doc.body.textContent.includes('Corpus Pet Shop'), keyframes: p.engine.keyframes.frames.length };
  });
  assert.ok(r.seen.every(Boolean));
  assert.ok(r.text, 'the page still renders');
  assert.ok(r.skipped > 0, `skipped ${r.skipped}`);
  assert.ok(r.keyframes > 3);
  assert.deepEqual(page.errors, []);
  await context.close();
  await srv.close();
});
