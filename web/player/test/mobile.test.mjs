// PostHog mobile recordings (wireframes): the transformer in node (every wireframe and input type, updates,
// removes, keyboard, touches, determinism, hostile values) and the player in Chromium on the committed fixtures.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mobileToWeb, isMobileRecording } from '../mobile.js';
import { safeAttr, isDangerousUrl } from '../sanitize.js';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { ROOT, serve, newPage, closeBrowser, playerPage, browser } from './helpers.mjs';
import { inlineHtml } from './inline.mjs';

const fixture = async (n) => JSON.parse(await readFile(join(ROOT, 'tests', 'fixtures', 'mobile', n + '.json'), 'utf8'));
let wireframes, screenshots, srv;
before(async () => {
  wireframes = await fixture('wireframes');
  screenshots = await fixture('screenshots');
});
after(async () => { await closeBrowser(); if (srv) await srv.close(); });

/** Every serialized node of a tree. */
function* nodes(n) {
  yield n;
  for (const c of n.childNodes || []) yield* nodes(c);
}
const byWf = (tree, id) => [...nodes(tree)].find((n) => n.attributes && n.attributes.id === 'wf-' + id);
const textOf = (n) => [...nodes(n)].filter((x) => x.type === 3).map((x) => x.textContent).join('');
const find = (n, tag) => [...nodes(n)].find((x) => x.tagName === tag);
const at = (events, dt, type = 3) => events.find((e) => e.timestamp - events[0].timestamp === dt && e.type === type);

test('the committed fixtures are what gen.mjs writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'reel-mobile-gen-'));
  execFileSync(process.execPath, [join(ROOT, 'tests', 'fixtures', 'mobile', 'gen.mjs'), dir]);
  for (const f of ['wireframes.json', 'screenshots.json']) {
    assert.equal(await readFile(join(dir, f), 'utf8'), await readFile(join(ROOT, 'tests', 'fixtures', 'mobile', f), 'utf8'), f);
  }
});

test('a mobile window is detected; a web window comes back as the same array', () => {
  assert.equal(isMobileRecording(wireframes), true);
  assert.equal(isMobileRecording([{ type: 3, data: { source: 0 }, timestamp: 1, $snapshot_source: 'mobile' }]), true);
  const web = [{ type: 4, data: { width: 800, height: 600 }, timestamp: 1 }, { type: 2, data: { node: { type: 0, id: 1, childNodes: [] } }, timestamp: 2 }];
  assert.equal(mobileToWeb(web), web);
});

test('the full snapshot: every wireframe type as an element at its position, with its text or image', () => {
  const out = mobileToWeb(wireframes);
  const full = out.find((e) => e.type === 2);
  assert.equal(full.timestamp, wireframes[1].timestamp);
  const tree = full.data.node;
  assert.equal(tree.type, 0);
  assert.ok(find(tree, 'body') && find(tree, 'style'));
  const t = byWf(tree, 10);
  assert.equal(t.tagName, 'div');
  assert.match(t.attributes.style, /left:16px;top:32px;width:328px;height:28px/);
  assert.match(t.attributes.style, /color:#111827.*font-size:20px;font-family:sans-serif/);
  assert.equal(textOf(t), 'Welcome to Canary Shop');
  // Masked: asterisk text, image without base64, placeholder.
  for (const [id, label] of [[11, '********'], [13, 'image'], [15, 'Map']]) {
    assert.match(byWf(tree, id).attributes.class, /\bwf-masked\b/, `wireframe ${id} masked`);
    assert.equal(textOf(byWf(tree, id)), label);
  }
  assert.equal(find(byWf(tree, 12), 'img').attributes.src, wireframes[1].data.wireframes[1].childWireframes[2].base64);
  assert.match(find(byWf(tree, 16), 'img').attributes.src, /^data:image\/png;base64,iVBOR/); // bare base64: a PNG
  assert.match(byWf(tree, 14).attributes.style, /background-color:#f59e0b;border:2px solid #92400e;border-radius:8px/);
  assert.match(byWf(tree, 1).attributes.class, /wf-status_bar/);
  assert.match(byWf(tree, 1).attributes.style, /width:100vw;height:24px;background-color:#1f2937/);
  assert.match(byWf(tree, 3).attributes.class, /wf-navigation_bar/);
  assert.match(byWf(tree, 32).attributes.class, /wf-radio_group/);
  const web = byWf(tree, 41);
  assert.match(web.attributes.class, /wf-web_view/);
  assert.equal(textOf(web), 'Web viewhttps://example.com/help');
  assert.ok(![...nodes(web)].some((n) => n.tagName === 'iframe' || n.tagName === 'a'), 'a web view is a box, not a frame or link');
  // Child wireframes are nested in their parent's element.
  assert.ok(byWf(byWf(byWf(tree, 2), 32), 33));
});

test('every input type: value, checked state, options, progress', () => {
  const tree = mobileToWeb(wireframes).find((e) => e.type === 2).data.node;
  const field = (id) => find(byWf(tree, id), 'input');
  for (const [id, v] of [[20, 'Zelda Canary'], [22, 'zelda.canary@example.com'], [23, '42'], [24, 'leash'], [25, '+1-555-0142'], [26, 'https://example.com']]) {
    assert.equal(field(id).attributes.value, v);
    assert.equal(field(id).attributes.type, 'text');
  }
  assert.deepEqual([field(21).attributes.type, field(21).attributes.value], ['password', '********']);
  assert.equal(field(22).attributes.disabled, '');
  assert.match(byWf(tree, 22).attributes.class, /wf-disabled/);
  assert.equal(field(30).attributes.type, 'checkbox');
  assert.equal(field(30).attributes.checked, '');
  assert.equal(textOf(byWf(tree, 30)), 'Accept terms');
  assert.equal(find(byWf(tree, 31), 'span').attributes.class, 'wf-check');
  assert.equal([...nodes(byWf(tree, 31))].find((n) => /wf-toggle/.test(n.attributes && n.attributes.class)).attributes.class, 'wf-toggle');
  assert.equal(field(33).attributes.type, 'radio');
  assert.equal(field(33).attributes.checked, '');
  assert.equal(field(34).attributes.checked, undefined);
  const sel = find(byWf(tree, 35), 'select');
  assert.equal(sel.attributes.value, 'Blue');
  assert.deepEqual(sel.childNodes.map((o) => [textOf(o), o.attributes.selected]), [['Red', undefined], ['Blue', ''], ['Green', undefined]]);
  assert.equal(find(byWf(tree, 36), 'textarea').attributes.value, '42 Canary Wharf Lane');
  const btn = find(byWf(tree, 37), 'button');
  assert.deepEqual([btn.attributes.type, textOf(btn)], ['button', 'Pay now']);
  assert.equal(byWf(tree, 37).attributes['aria-label'], 'Pay now'); // named in the Events panel
  assert.equal(byWf(tree, 30).attributes['aria-label'], 'Accept terms');
  assert.match(byWf(tree, 37).attributes.style, /background-color:#2563eb/);
  assert.match([...nodes(byWf(tree, 38))].find((n) => n.attributes && n.attributes.class === 'wf-fill').attributes.style, /width:30%/);
  assert.match([...nodes(byWf(tree, 39))].find((n) => n.attributes && n.attributes.class === 'wf-ring').attributes.style, /conic-gradient\(#16a34a 60%/);
  assert.equal(textOf(byWf(tree, 40)), '★★★☆☆');
});

test('updates change texts and attributes in place; form state rebuilds its element; adds and removes', () => {
  const out = mobileToWeb(wireframes);
  const tree = out.find((e) => e.type === 2).data.node;
  const m = at(out, 2000).data;
  assert.equal(m.source, 0);
  const textId = byWf(tree, 10).childNodes[0].id;
  assert.deepEqual(m.texts, [{ id: textId, value: 'Hello again, Zelda' }]);
  const attrsOf = (id) => m.attributes.filter((a) => a.id === id).map((a) => a.attributes);
  assert.match(attrsOf(byWf(tree, 14).id)[0].style, /left:232px;top:600px/); // moved
  const toggle = [...nodes(byWf(tree, 31))].find((n) => /wf-toggle/.test(n.attributes && n.attributes.class));
  assert.deepEqual(attrsOf(toggle.id), [{ class: 'wf-toggle wf-on' }]);
  const fill = [...nodes(byWf(tree, 38))].find((n) => n.attributes && n.attributes.class === 'wf-fill');
  assert.match(attrsOf(fill.id)[0].style, /width:80%/);
  // The checkbox and the text field: old content out, new content in, same wireframe element.
  const box = byWf(tree, 30), input = byWf(tree, 20);
  assert.ok(m.removes.some((r) => r.parentId === box.id && r.id === box.childNodes[0].id));
  const newBox = m.adds.find((a) => a.parentId === box.id).node;
  assert.equal(find(newBox, 'input').attributes.checked, undefined);
  assert.equal(find(m.adds.find((a) => a.parentId === input.id).node, 'input').attributes.value, 'Zelda C.');
  // Add at +3 s under wireframe 2; removes at +7 s.
  const add = at(out, 3000).data.adds[0];
  assert.equal(add.parentId, byWf(tree, 2).id);
  assert.equal(textOf(add.node), 'Added line');
  assert.deepEqual(at(out, 7000).data.removes, [{ parentId: byWf(tree, 2).id, id: byWf(tree, 13).id }, { parentId: byWf(tree, 2).id, id: add.node.id }]);
  // The second screen is a new document with the same skeleton ids.
  const second = out.filter((e) => e.type === 2)[1].data.node;
  assert.equal(second.id, tree.id);
  assert.equal(textOf(byWf(second, 61)), 'Order confirmed');
  assert.equal(byWf(second, 10), undefined);
});

test('keyboard open/close is a box at the bottom; touches are clicks and mouse moves', () => {
  const out = mobileToWeb(wireframes);
  const open = out.find((e) => e.type === 3 && e.timestamp - out[0].timestamp === 4000).data.adds[0];
  assert.equal(open.node.attributes.class, 'wf-keyboard');
  assert.match(open.node.attributes.style, /^height:280px;background:#d1d5db$/);
  const close = out.find((e) => e.type === 3 && e.timestamp - out[0].timestamp === 6000).data;
  assert.deepEqual(close.removes, [{ parentId: open.parentId, id: open.node.id }]);
  assert.ok(out.some((e) => e.type === 5 && e.data.tag === 'keyboard'), 'the custom event stays (timeline marker)');
  // No height: 40 % of the device.
  const noH = mobileToWeb([wireframes[0], wireframes[1], { type: 5, data: { tag: 'keyboard', payload: { open: true } }, timestamp: wireframes[1].timestamp + 5 }]);
  assert.match(noH.at(-1).data.adds[0].node.attributes.style, /height:296px/);
  const placed = mobileToWeb([wireframes[0], wireframes[1], { type: 5, data: { tag: 'keyboard', payload: { open: true, height: 200, x: 10, y: 300, width: 340 } }, timestamp: wireframes[1].timestamp + 5 }]);
  assert.equal(placed.at(-1).data.adds[0].node.attributes.style, 'height:200px;left:10px;top:300px;bottom:auto;width:340px;right:auto');
  const tree = out.find((e) => e.type === 2).data.node;
  const tap = at(out, 1000).data;
  assert.deepEqual([tap.source, tap.type, tap.id, tap.x, tap.y], [2, 2, byWf(tree, 37).id, 180, 416]);
  assert.equal(at(out, 1100).data.type, 9);
  const other = mobileToWeb([wireframes[1], { type: 3, data: { source: 3, id: 2, x: 0, y: 5 }, timestamp: wireframes[1].timestamp + 1 }, { type: 3, data: { source: 5, id: 777, text: 'x' }, timestamp: wireframes[1].timestamp + 2 }]);
  assert.deepEqual(other.slice(-2).map((e) => e.data.id), [byWf(tree, 2).id, undefined]);
  const move = at(out, 1500).data;
  assert.equal(move.source, 1);
  assert.deepEqual(move.positions.map((p) => [p.x, p.y, p.id]), [[100, 200, byWf(tree, 2).id], [120, 240, byWf(tree, 2).id]]);
});

test('deterministic, and the recorded events are never changed', () => {
  const before = structuredClone(wireframes);
  const a = JSON.stringify(mobileToWeb(wireframes));
  const b = JSON.stringify(mobileToWeb(structuredClone(wireframes)));
  assert.equal(a, b);
  assert.deepEqual(wireframes, before);
  assert.equal(JSON.stringify(mobileToWeb(screenshots)), JSON.stringify(mobileToWeb(screenshots)));
});

test('screenshot mode: an <img> of the data: URL, replaced by an attribute change', () => {
  const out = mobileToWeb(screenshots);
  const tree = out.find((e) => e.type === 2).data.node;
  const img = find(byWf(tree, 1), 'img');
  assert.equal(img.attributes.src, screenshots[1].data.wireframes[0].base64);
  assert.match(img.attributes.style, /object-fit:fill/);
  const m = at(out, 1000).data;
  assert.deepEqual(m.attributes, [{ id: img.id, attributes: { src: screenshots.find((e) => e.timestamp - screenshots[0].timestamp === 1000 && e.type === 3).data.updates[0].wireframe.base64 } }]);
  assert.deepEqual([m.adds, m.removes], [[], []]);
});

test('flat adds (child before parent), moves to another parent, and no meta event', () => {
  const t = 1000;
  const evs = [
    { type: 2, data: { wireframes: [{ id: 1, x: 0, y: 0, width: 300, height: 500, type: 'div' }] }, timestamp: t },
    { type: 3, data: { source: 0, adds: [
      { parentId: 5, wireframe: { id: 6, x: 10, y: 10, width: 50, height: 20, type: 'text', text: 'child' } },
      { parentId: 1, wireframe: { id: 5, x: 0, y: 0, width: 100, height: 100, type: 'div' } },
    ] }, timestamp: t + 1 },
    { type: 3, data: { source: 0, updates: [{ parentId: 1, wireframe: { id: 6, x: 20, y: 20, width: 50, height: 20, type: 'text', text: 'moved' } }] }, timestamp: t + 2 },
    { type: 3, data: { source: 0, removes: [{ parentId: 1, id: 404 }] }, timestamp: t + 3 },
    // Empty arrays beside the removes (as some SDKs send): still wireframe ids, never node ids.
    { type: 3, data: { source: 0, adds: [], texts: [], attributes: [], updates: [], removes: [{ parentId: 1, id: 5 }] }, timestamp: t + 4 },
  ];
  const out = mobileToWeb(evs);
  assert.deepEqual(out[0].data, { width: 300, height: 500 }); // sized from the screen
  const tree = out[1].data.node;
  const add = out[2].data.adds;
  assert.equal(add.length, 1, 'the child comes inside its parent, once');
  assert.equal(textOf(byWf(add[0].node, 6)), 'child');
  const move = out[3].data;
  assert.deepEqual(move.removes, [{ parentId: add[0].node.id, id: byWf(add[0].node, 6).id }]);
  assert.equal(move.adds[0].parentId, byWf(tree, 1).id);
  assert.equal(textOf(move.adds[0].node), 'moved');
  // Nothing to do: the event stays, as an empty mutation.
  assert.deepEqual(out[4].data, { source: 0, texts: [], attributes: [], removes: [], adds: [] });
  assert.deepEqual(out[5].data.removes, [{ parentId: byWf(tree, 1).id, id: add[0].node.id }]);
  assert.equal(out.length, evs.length + 1);
});

test('shapes seen from the SDKs: duplicate ids, "radio group" with childNodes, textArea, string numbers, no width', () => {
  const out = mobileToWeb([
    { type: 4, data: { width: 300, height: 600 }, timestamp: 1 },
    { type: 2, data: { wireframes: [
      { id: 7, x: 0, y: 0, width: 100, height: 30, type: 'text', text: 'first' },
      { id: 7, x: 0, y: 30, width: 100, height: 30, type: 'text', text: 'second', childWireframes: [{ id: 7, x: 0, y: 30, width: 10, height: 10, type: 'text', text: 'nested' }] },
      { id: 8, width: 100, height: 30, type: 'radio group', childNodes: [
        { id: 81, width: 50, height: 30, type: 'input', inputType: 'radio', checked: true, label: 'first' },
        { type: 2, tagName: 'div', id: 99 }, // an rrweb node is not a wireframe
      ] },
      { id: 9, width: 100, height: 30, type: 'input', inputType: 'textArea', value: 'hello' },
      { id: 10, width: 100, height: 30, type: 'input', inputType: 'progress', style: { bar: 'rating' }, max: '12', value: '6.5' },
      { id: 11, width: 100, height: 8, type: 'input', inputType: 'progress', style: { bar: 'horizontal' }, value: 0.75 },
      { id: 12, height: 20, type: 'status_bar', style: { borderWidth: '4', borderRadius: '10px' } },
    ] }, timestamp: 2 },
    { type: 3, data: { source: 0, updates: [{ wireframe: { id: 7, x: 0, y: 0, width: 100, height: 30, type: 'text', text: 'first, updated' } }] }, timestamp: 3 },
  ]);
  const tree = out[1].data.node;
  assert.deepEqual(['wf-7', 'wf-7_1', 'wf-7_2'].map((k) => [...nodes(tree)].find((n) => n.attributes && n.attributes.id === k)).map((n) => n.childNodes[0].textContent), ['first', 'second', 'nested']);
  const ids = [...nodes(tree)].map((n) => n.id);
  assert.equal(new Set(ids).size, ids.length, 'node ids are unique');
  assert.match(byWf(tree, 8).attributes.class, /wf-radio_group/);
  assert.equal(find(byWf(tree, 81), 'input').attributes.checked, '');
  assert.equal(byWf(tree, 8).childNodes.length, 1);
  assert.equal(find(byWf(tree, 9), 'textarea').attributes.value, 'hello');
  assert.equal(textOf(byWf(tree, 10)), '★★★★★★★☆☆☆☆☆');
  assert.match([...nodes(byWf(tree, 11))].find((n) => n.attributes && n.attributes.class === 'wf-fill').attributes.style, /width:75%/);
  // No max: 1 (the schema's default).
  const bar = (value) => [...nodes(mobileToWeb([{ type: 2, data: { wireframes: [{ id: 1, width: 10, height: 2, type: 'input', inputType: 'progress', value }] }, timestamp: 1 }])[1].data.node)].find((n) => n.attributes && n.attributes.class === 'wf-fill').attributes.style;
  assert.deepEqual([bar(1), bar(0.5), bar(0), bar(40), bar(undefined)].map((st) => /width:([\d.]+)%/.exec(st)[1]), ['100', '50', '0', '40', '25']);
  assert.match(byWf(tree, 12).attributes.style, /left:0px;top:0px;width:100vw;height:20px;border:4px solid currentColor;border-radius:10px/);
  assert.deepEqual(out[2].data.texts, [{ id: byWf(tree, 7).childNodes[0].id, value: 'first, updated' }]);
});

test('an add that repeats its own subtrees (as iOS sends them) adds one tree, children in their order', () => {
  const txt = (id, text) => ({ id, x: 0, y: id, width: 50, height: 10, type: 'text', text });
  const inner = { id: 20, x: 0, y: 0, width: 100, height: 60, style: {}, childWireframes: [txt(21, 'a'), txt(22, 'b'), txt(23, 'c')] };
  const out = mobileToWeb([
    { type: 2, data: { wireframes: [{ id: 1, x: 0, y: 0, width: 300, height: 500, type: 'div' }] }, timestamp: 1 },
    { type: 3, data: { source: 0, adds: [
      { parentId: 1, wireframe: { id: 10, x: 0, y: 0, width: 100, height: 70, style: { backgroundImage: 'iVBORw0KGgo\nAAAA' }, childWireframes: [inner] } },
      { parentId: 10, wireframe: inner },
      { parentId: 20, wireframe: txt(21, 'a') },
    ], removes: [{ parentId: 1, id: 404 }, { parentId: 404, id: 405 }] }, timestamp: 2 },
  ]);
  const m = out[2].data;
  assert.equal(m.adds.length, 1);
  assert.deepEqual(m.removes, []);
  const tree = m.adds[0].node;
  assert.match(tree.attributes.class, /\bwf-div\b/, 'no type: a div');
  assert.match(tree.attributes.style, /background-image:url\("data:image\/png;base64,iVBORw0KGgoAAAA"\)/);
  assert.deepEqual(byWf(tree, 20).childNodes.map((n) => textOf(n)), ['a', 'b', 'c']);
  const ids = [...nodes(tree)].map((n) => n.id);
  assert.equal(new Set(ids).size, ids.length);
});

test('hostile values stay inert text; CSS gets only validated values; images only data:image', () => {
  const evil = [
    { type: 4, data: { width: 320, height: 480 }, timestamp: 1 },
    { type: 2, data: { wireframes: [
      { id: '"><img src=x onerror=alert(1)>', x: 0, y: 0, width: 100, height: 20, type: 'text', text: '<script>alert(1)</script>' },
      { id: 2, x: 0, y: 20, width: 100, height: 20, type: 'web_view', url: 'javascript:alert(1)' },
      { id: 3, x: 0, y: 40, width: 10, height: 10, type: 'image', base64: 'javascript:alert(1)' },
      { id: 4, x: 0, y: 50, width: 10, height: 10, type: 'image', base64: 'https://evil.example/track.png' },
      { id: 5, x: 0, y: 60, width: 10, height: 10, type: 'image', base64: 'data:text/html;base64,PHNjcmlwdD4=' },
      { id: 6, x: 0, y: 70, width: 10, height: 10, type: 'screenshot', base64: 'data:image/svg+xml;base64,PHN2Zz4=' },
      { id: 7, x: '0;background:url(https://evil.example/x)', y: 80, width: 10, height: 10, type: 'rectangle',
        style: { color: 'red;background:url(https://evil.example/a)', backgroundColor: 'url(https://evil.example/b)', backgroundImage: 'https://evil.example/c.png',
          fontFamily: 'x;background:url(https://evil.example/d)', borderColor: 'rgb(1,2,3) url(https://evil.example/e)', fontSize: 'expression(alert(1))', borderRadius: '1px;x:y' } },
      { id: 8, x: 0, y: 90, width: 100, height: 20, type: 'input', inputType: 'text" onfocus="alert(1)', value: '"><script>alert(1)</script>' },
      { id: 9, x: 0, y: 110, width: 100, height: 20, type: 'input', inputType: 'button', value: '<img src=x onerror=alert(1)>' },
      { id: 10, x: 0, y: 130, width: 100, height: 20, type: 'placeholder', label: '<iframe src="javascript:alert(1)">' },
      { id: 11, x: 0, y: 150, width: 100, height: 20, type: '<script>', text: 'odd type' },
      { id: 12, x: 0, y: 170, width: 100, height: 20, type: 'input', inputType: 'select', value: '</select><script>', options: ['<b>x</b>'] },
    ] }, timestamp: 2 },
    { type: 5, data: { tag: 'keyboard', payload: { open: true, height: '100;background:url(https://evil.example/k)', styles: { backgroundColor: 'red;x:url(https://e)' } } }, timestamp: 3 },
  ];
  const out = mobileToWeb(evil);
  const all = [];
  for (const e of out) {
    if (e.type === 2) all.push(...nodes(e.data.node));
    if (e.type === 3 && e.data.adds) for (const a of e.data.adds) all.push(...nodes(a.node));
  }
  const tags = new Set(all.filter((n) => n.type === 2).map((n) => n.tagName));
  for (const bad of ['script', 'iframe', 'a', 'object', 'embed', 'link', 'img']) if (bad !== 'img') assert.ok(!tags.has(bad), `no <${bad}>`);
  // The only <img> elements would be real data: images; none of these is one.
  assert.ok(!tags.has('img'), 'no image from a non-image base64');
  for (const n of all.filter((x) => x.type === 2)) {
    for (const [k, v] of Object.entries(n.attributes)) {
      assert.ok(/^(id|class|style|src|alt|type|value|checked|disabled|readonly|selected|data-reel|aria-label)$/.test(k), `attribute ${k}`);
      assert.equal(safeAttr(n.tagName, k, v, n.attributes), v, `the sanitizer keeps ${k}="${v}" as is`);
      assert.ok(!isDangerousUrl(v), `${k} is not a dangerous URL`);
      if (k === 'style' || k === 'id' || k === 'class') assert.ok(!/url\(|evil|expression|javascript|[<>"]/.test(v.replace(/url\("data:image\/[a-z]+;base64,[A-Za-z0-9+/=]+"\)/g, '')), `${k}: ${v}`);
    }
  }
  const texts = all.filter((n) => n.type === 3).map((n) => n.textContent);
  assert.ok(texts.includes('<script>alert(1)</script>'), 'markup in text stays text');
  assert.ok(texts.includes('javascript:alert(1)'), 'a web view URL is only text');
  assert.ok(texts.includes('<img src=x onerror=alert(1)>'));
  assert.ok(texts.includes('<iframe src="javascript:alert(1)">'));
  const idAttrs = all.filter((n) => n.type === 2 && n.attributes.id).map((n) => n.attributes.id);
  assert.ok(idAttrs.every((v) => /^wf-[\w-]+$/.test(v)), idAttrs.join(' '));
  const field = all.find((n) => n.tagName === 'input');
  assert.deepEqual([field.attributes.type, field.attributes.value], ['text', '"><script>alert(1)</script>']);
  assert.ok(all.some((n) => n.tagName === 'div' && /wf-div/.test(n.attributes.class) && textOf(n) === 'odd type'), 'an unknown type is a box');
  assert.match(all.find((n) => n.attributes && n.attributes.class === 'wf-keyboard').attributes.style, /^height:\d+px$/);
});

// ---- in the player (Chromium)

/** Open the player on events; `seek(s)` shows second `s` and returns what is on screen. */
async function openPlayer(events) {
  if (!srv) srv = await serve({ '/m.html': playerPage(`window.p = await ReelPlayer.mount(document.getElementById('app'), { events: window.__events, hash: false, keyboard: false });`) });
  const { page, context } = await newPage(srv.base, { viewport: { width: 900, height: 600 } });
  await page.addInitScript((evs) => { window.__events = evs; }, events);
  await page.goto(srv.base + '/m.html');
  await page.evaluate(() => window.__ready);
  return { page, context };
}

/** What wireframe `id` looks like on the host page at second `s` (rectangle relative to the stage, scaled). */
async function look(page, s, ids) {
  return page.evaluate(([s, ids]) => {
    window.p.seek(s * 1000);
    const e = window.p.engine;
    const d = e.doc;
    const frame = e.iframe.getBoundingClientRect();
    // The stage as drawn on the host page (scaled by a CSS transform).
    const out = { scale: e.scale, width: e.state.width, height: e.state.height, skipped: e.skipped, stage: [Math.round(frame.width), Math.round(frame.height)] };
    for (const id of ids) {
      const el = d.getElementById(id);
      if (!el) { out[id] = null; continue; }
      const r = el.getBoundingClientRect();
      const field = el.querySelector('input,textarea,select');
      const cs = d.defaultView.getComputedStyle(el);
      out[id] = {
        x: Math.round(r.left * e.scale), y: Math.round(r.top * e.scale), w: Math.round(r.width * e.scale), h: Math.round(r.height * e.scale),
        text: el.textContent, value: field ? field.value : null, checked: field ? field.checked : null,
        visible: r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' && cs.display !== 'none', bg: cs.backgroundImage,
        src: (el.querySelector('img') || {}).src || null, cls: el.className,
      };
    }
    return out;
  }, [s, ids]);
}

test('player: the wireframes fixture at several instants (positions scaled, texts, values, masks, keyboard, removes)', async () => {
  const { page, context } = await openPlayer(wireframes);
  try {
    const ids = ['wf-10', 'wf-11', 'wf-13', 'wf-14', 'wf-15', 'wf-20', 'wf-21', 'wf-30', 'wf-35', 'wf-36', 'wf-37', 'wf-50', 'wf-keyboard', 'wf-61'];
    const a = await look(page, 1, ids);
    assert.deepEqual([a.width, a.height], [360, 740]);
    assert.ok(a.scale > 0.5 && a.scale < 1, `scaled down to fit: ${a.scale}`);
    const sc = (v) => Math.round(v * a.scale);
    assert.deepEqual(a.stage, [sc(360), sc(740)]);
    assert.deepEqual([a['wf-10'].x, a['wf-10'].y, a['wf-10'].w, a['wf-10'].h], [sc(16), sc(32), sc(328), sc(28)]);
    assert.equal(a['wf-10'].text, 'Welcome to Canary Shop');
    assert.equal(a['wf-20'].value, 'Zelda Canary');
    assert.equal(a['wf-21'].value, '********');
    assert.equal(a['wf-30'].checked, true);
    assert.equal(a['wf-35'].value, 'Blue');
    assert.equal(a['wf-36'].value, '42 Canary Wharf Lane');
    assert.equal(a['wf-37'].text, 'Pay now');
    for (const m of ['wf-11', 'wf-13', 'wf-15']) {
      assert.ok(a[m].visible && /wf-masked/.test(a[m].cls), m);
      assert.match(a[m].bg, /repeating-linear-gradient/, `${m} is striped`);
    }
    assert.equal(a['wf-keyboard'], null);
    assert.equal(a['wf-50'], null);
    const b = await look(page, 4.5, ids);
    assert.equal(b['wf-10'].text, 'Hello again, Zelda');
    assert.equal(b['wf-20'].value, 'Zelda C.');
    assert.equal(b['wf-30'].checked, false);
    assert.deepEqual([b['wf-14'].x, b['wf-14'].y], [sc(232), sc(600)]);
    assert.equal(b['wf-50'].text, 'Added line');
    assert.ok(b['wf-keyboard'] && b['wf-keyboard'].visible, 'keyboard shown while open');
    assert.deepEqual([b['wf-keyboard'].y, b['wf-keyboard'].h], [sc(740 - 280), sc(280)]);
    const c = await look(page, 6.5, ids);
    assert.equal(c['wf-keyboard'], null, 'keyboard gone once closed');
    assert.equal(c['wf-20'].value, 'Zelda Canary!');
    assert.ok(c['wf-13'] && c['wf-50']);
    const d = await look(page, 7.2, ids);
    assert.equal(d['wf-13'], null, 'removed');
    assert.equal(d['wf-50'], null, 'removed');
    assert.ok(d['wf-15'].visible);
    const e = await look(page, 8.5, ids);
    assert.equal(e['wf-61'].text, 'Order confirmed');
    assert.equal(e['wf-10'], null);
    // Backwards (keyframe restore) gives the same as forwards.
    const back = await look(page, 4.5, ids);
    assert.deepEqual(back, b);
    assert.equal(back.skipped, 0);
    // The tap at 1 s draws a ripple at the tap's point.
    const ripple = await page.evaluate(() => { window.p.seek(1100); return window.p.engine.overlayAt(window.p.engine.events[0].timestamp + 1100).r.map((r) => r.slice(0, 2)); });
    assert.deepEqual(ripple, [[180, 416]]);
    assert.deepEqual(page.errors, []);
  } finally { await context.close(); }
});

test('player: screenshot mode shows each frame as an image', async () => {
  const { page, context } = await openPlayer(screenshots);
  try {
    const frames = [];
    for (const s of [0.5, 1.5, 2.5, 0.2]) frames.push(await look(page, s, ['wf-1']));
    assert.deepEqual([frames[0].width, frames[0].height], [200, 400]);
    const srcs = frames.map((f) => f['wf-1'].src);
    const recorded = screenshots.filter((e) => e.type === 2 || (e.type === 3 && e.data.source === 0)).map((e) => (e.data.wireframes || e.data.updates.map((u) => u.wireframe))[0].base64);
    assert.deepEqual(srcs, [recorded[0], recorded[1], recorded[2], recorded[0]]);
    const sc = frames[0].scale;
    assert.deepEqual([frames[0]['wf-1'].w, frames[0]['wf-1'].h], [Math.round(200 * sc), Math.round(400 * sc)]);
    // The pixels: the middle of the last frame's top half is blue.
    const px = await page.evaluate(() => {
      window.p.seek(2500);
      const img = window.p.engine.doc.querySelector('#wf-1 img');
      const c = document.createElement('canvas'); c.width = 20; c.height = 40;
      const g = c.getContext('2d'); g.drawImage(img, 0, 0);
      return [Array.from(g.getImageData(10, 5, 1, 1).data.slice(0, 3)), Array.from(g.getImageData(10, 35, 1, 1).data.slice(0, 3)), img.complete && img.naturalWidth];
    });
    assert.deepEqual(px, [[37, 99, 235], [255, 255, 255], 20]);
    assert.deepEqual(page.errors, []);
  } finally { await context.close(); }
});

test('player: a hostile mobile recording runs nothing and reaches no other host', async () => {
  const EVIL = 'http://evil.test';
  const t0 = 1_700_000_000_000;
  const events = [
    { type: 4, data: { href: `javascript:alert(1)`, width: 320, height: 480 }, timestamp: t0 },
    { type: 2, data: { wireframes: [
      { id: 1, x: 0, y: 0, width: 320, height: 40, type: 'text', text: '<img src=x onerror="top.postMessage(\'pwned\',\'*\')"><script>top.postMessage("pwned","*")</script>' },
      { id: 2, x: 0, y: 40, width: 320, height: 60, type: 'web_view', url: `javascript:top.postMessage('pwned','*')` },
      { id: 3, x: 0, y: 100, width: 40, height: 40, type: 'image', base64: `${EVIL}/img.png` },
      { id: 4, x: 40, y: 100, width: 40, height: 40, type: 'screenshot', base64: `data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg"><image href="${EVIL}/svg.png"/></svg>` },
      { id: 5, x: 80, y: 100, width: 40, height: 40, type: 'rectangle', style: { backgroundImage: `url(${EVIL}/bg.png)`, backgroundColor: `red;background-image:url(${EVIL}/bg2.png)`, fontFamily: `x;background:url(${EVIL}/f.png)` } },
      { id: 6, x: 0, y: 140, width: 320, height: 40, type: 'input', inputType: 'button', value: '<b onmouseover=alert(1)>pay</b>' },
    ] }, timestamp: t0 + 10 },
    { type: 3, data: { source: 0, updates: [{ wireframe: { id: 2, x: 0, y: 40, width: 320, height: 60, type: 'web_view', url: `${EVIL}/page` } }],
      adds: [{ parentId: 1, wireframe: { id: 7, x: 0, y: 200, width: 100, height: 20, type: 'image', base64: `data:text/html;base64,PHNjcmlwdD4=` } }] }, timestamp: t0 + 500 },
    { type: 3, data: { source: 2, type: 7, id: 6, x: 10, y: 150 }, timestamp: t0 + 600 },
  ];
  if (!srv) srv = await serve({ '/m.html': playerPage(`window.p = await ReelPlayer.mount(document.getElementById('app'), { events: window.__events, hash: false, keyboard: false });`) });
  const { page, context } = await newPage(srv.base);
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.addInitScript((evs) => { window.__events = evs; window.__msgs = []; addEventListener('message', (e) => window.__msgs.push(String(e.data))); }, events);
  try {
    await page.goto(srv.base + '/m.html');
    await page.evaluate(() => window.__ready);
    const res = await page.evaluate(async () => {
      const p = window.p;
      p.seek(0); p.seek(p.duration); p.seek(100); p.seek(p.duration);
      const doc = p.engine.doc;
      for (const el of doc.querySelectorAll('*')) { try { el.click(); el.dispatchEvent(new MouseEvent('mouseover', { bubbles: true })); } catch (e) { /* ignore */ } }
      await new Promise((r) => setTimeout(r, 500));
      return {
        msgs: window.__msgs, scripts: doc.querySelectorAll('script, iframe, object, embed, a, img').length,
        on: Array.from(doc.querySelectorAll('*')).flatMap((n) => Array.from(n.attributes).filter((a) => a.name.startsWith('on')).map((a) => a.name)),
        texts: [doc.getElementById('wf-1').textContent, doc.getElementById('wf-2').textContent, doc.getElementById('wf-6').textContent],
        masked: ['wf-3', 'wf-4', 'wf-7'].map((id) => doc.getElementById(id).className.includes('wf-masked')),
      };
    });
    assert.deepEqual(res.msgs, []);
    assert.deepEqual(dialogs, []);
    assert.equal(res.scripts, 0);
    assert.deepEqual(res.on, []);
    assert.match(res.texts[0], /^<img src=x onerror=/);
    assert.equal(res.texts[1], `Web view${EVIL}/page`);
    assert.equal(res.texts[2], '<b onmouseover=alert(1)>pay</b>');
    assert.deepEqual(res.masked, [true, true, true]);
    assert.deepEqual(requests.filter((u) => !u.startsWith(srv.base) && !u.startsWith('data:')), []);
    assert.deepEqual(page.errors, []);
  } finally { await context.close(); }
});

test('offline: the inlined player.html with the mobile fixture embedded plays it from file:// (#t= deep link)', async () => {
  const html = inlineHtml({ recording: Buffer.from(JSON.stringify(wireframes)) });
  const dir = await mkdtemp(join(tmpdir(), 'reel-mobile-'));
  await writeFile(join(dir, 'replay.html'), html);
  const context = await (await browser()).newContext({ viewport: { width: 1000, height: 700 } });
  await context.setOffline(true);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto('file://' + join(dir, 'replay.html') + '#t=4.5');
    await page.waitForFunction(() => window.reel && window.reel.engine && window.reel.engine.doc.getElementById('wf-10'), null, { timeout: 10000 });
    const r = await page.evaluate(() => {
      const d = window.reel.engine.doc;
      return { t: window.reel.currentTime, title: d.getElementById('wf-10').textContent, kb: !!d.getElementById('wf-keyboard'), value: d.querySelector('#wf-20 input').value };
    });
    assert.deepEqual(r, { t: 4500, title: 'Hello again, Zelda', kb: true, value: 'Zelda C.' });
    assert.deepEqual(errors, []);
  } finally { await context.close(); }
});
