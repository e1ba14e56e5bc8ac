// Pure-logic units that run in Node without a browser: sanitizer, :hover twins, loaders, zip, cv, timeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { safeAttr, safeTagName, isDangerousUrl, addHoverTwins, HOVER_SUBJECTS } from '../sanitize.js';
import { parseRecordingText, cleanEvents, splitWindows, decodePacked, readPackage, loadBytes } from '../load.js';
import { zipEntries } from '../zip.js';
import { analyse } from '../timeline.js';
import { makeZip, makeReelPackage } from './helpers.mjs';

test('sanitizer: URLs, handlers, tags', () => {
  for (const u of ['javascript:alert(1)', ' JaVaScRiPt:x', 'java\tscript:x', 'vbscript:x', 'data:text/html,<b>', '\u0001javascript:x']) assert.ok(isDangerousUrl(u), u);
  for (const u of ['https://a.test/', '/x', 'data:image/png;base64,AA', '#top', 'mailto:a@b.c']) assert.ok(!isDangerousUrl(u), u);
  assert.equal(safeAttr('a', 'onclick', 'x()'), null);
  assert.equal(safeAttr('a', 'ONMOUSEOVER', 'x()'), null);
  assert.equal(safeAttr('a', 'href', 'javascript:x'), null);
  assert.equal(safeAttr('a', 'href', 'https://ok.test/'), 'https://ok.test/');
  assert.equal(safeAttr('a', 'target', '_top'), null);
  assert.equal(safeAttr('iframe', 'srcdoc', '<b>'), null);
  assert.equal(safeAttr('iframe', 'src', 'https://x.test/'), null);
  assert.equal(safeAttr('form', 'action', 'https://x.test/'), null);
  assert.equal(safeAttr('button', 'formaction', 'https://x.test/'), null);
  assert.equal(safeAttr('meta', 'http-equiv', 'refresh'), null);
  assert.equal(safeAttr('meta', 'content', '0;url=x', { 'http-equiv': 'refresh' }), null);
  assert.equal(safeAttr('base', 'href', 'https://x.test/'), null);
  assert.equal(safeAttr('object', 'data', 'x.swf'), null);
  assert.equal(safeAttr('embed', 'src', 'x.swf'), null);
  assert.equal(safeAttr('link', 'href', 'x.js', { rel: 'modulepreload' }), null);
  assert.equal(safeAttr('link', 'href', 'x.css', { rel: 'stylesheet' }), 'x.css');
  assert.equal(safeAttr('animate', 'attributename', 'href'), null);
  assert.equal(safeAttr('img', 'srcset', 'a.png 1x, javascript:x 2x'), null);
  assert.equal(safeAttr('div', 'bad name', 'x'), null);
  assert.equal(safeAttr('input', 'checked', true), '');
  for (const tag of ['img', 'link', 'a', 'area', 'iframe', 'script']) assert.equal(safeAttr(tag, 'referrerPolicy', 'unsafe-url'), 'no-referrer', tag);
  assert.equal(safeAttr('meta', 'name', 'referrer'), null);
  assert.equal(safeAttr('meta', 'name', ' Referrer '), null);
  assert.equal(safeAttr('meta', 'name', 'description'), 'description');
  assert.equal(safeTagName('script', false), 'noscript');
  assert.equal(safeTagName('lineargradient', true), 'linearGradient');
  assert.equal(safeTagName('my-el', false), 'my-el');
  assert.equal(safeTagName('1bad', false), 'span');
});

test(':hover twins', () => {
  assert.equal(addHoverTwins('a{color:red}'), 'a{color:red}');
  const out = addHoverTwins('a:hover, b { x: y } @media (min-width: 1px) { c:hover > d { z: w } }');
  assert.match(out, /a:hover, b, a\.\\:hover \{/);
  assert.match(out, /c:hover > d, c\.\\:hover > d \{/);
  assert.equal(addHoverTwins(out.replace(/.*/s, 'q{}')), 'q{}');
  // What hovering may restyle (render mode captures the page again only then): the element before `:hover`.
  assert.ok(HOVER_SUBJECTS.has('a') && HOVER_SUBJECTS.has('c'), [...HOVER_SUBJECTS].join(' | '));
  addHoverTwins('.card:hover .title, nav > :hover { x: y }');
  assert.ok(HOVER_SUBJECTS.has('.card') && HOVER_SUBJECTS.has('nav >*'), [...HOVER_SUBJECTS].join(' | '));
  assert.ok(![...HOVER_SUBJECTS].some((s) => s.includes('\\')), 'twins are not subjects');
});

test('loaders: JSON array, PostHog exports, JSONL, [windowId, event] lines, junk', () => {
  const e = (t, extra = {}) => ({ type: 3, data: { source: 1 }, timestamp: t, ...extra });
  assert.equal(parseRecordingText(JSON.stringify([e(1), e(2)])).length, 2);
  const v1 = { version: '2022-12-02', data: { person: null, snapshotsByWindowId: { a: [e(1)], b: [e(2), e(3)] } } };
  assert.deepEqual(splitWindows(parseRecordingText(JSON.stringify(v1))).map((w) => [w.id, w.events.length]), [['a', 1], ['b', 2]]);
  const v2 = { version: '2023-04-28', data: { id: 's', person: null, snapshots: [e(1, { windowId: 1 }), e(2, { windowId: 2 })] } };
  assert.equal(splitWindows(parseRecordingText(JSON.stringify(v2))).length, 2);
  assert.equal(parseRecordingText([e(1), e(2)].map((x) => JSON.stringify(x)).join('\n') + '\nnot json\n').length, 2);
  const pairs = parseRecordingText([['w1', e(1)], ['w2', e(2)]].map((x) => JSON.stringify(x)).join('\n'));
  assert.deepEqual(pairs.map((x) => x.windowId), ['w1', 'w2']);
  const legacy = parseRecordingText(JSON.stringify({ window_id: 'w', data: [e(1), e(2)] }) + '\n');
  assert.deepEqual(legacy.map((x) => x.windowId), ['w', 'w']);
  assert.deepEqual(cleanEvents([e(3), null, { x: 1 }, e(1), e(2)]).map((x) => x.timestamp), [1, 2, 3]);
});

test('cv 2024-10: packed fields are decoded into copies', async () => {
  const pack = (v) => String.fromCharCode(...gzipSync(Buffer.from(JSON.stringify(v))));
  const node = { type: 0, id: 1, childNodes: [] };
  const packed = [
    { type: 2, data: pack({ node, initialOffset: { top: 0, left: 0 } }), timestamp: 1, cv: '2024-10' },
    { type: 3, data: { source: 0, adds: pack([{ parentId: 1, node: { id: 2 } }]), texts: pack([]), removes: pack([]), attributes: pack([]) }, timestamp: 2, cv: '2024-10' },
    { type: 3, data: { source: 8, id: 3, adds: pack([{ rule: 'a{}', index: 0 }]) }, timestamp: 3, cv: '2024-10' },
    { type: 2, data: 'not gzip', timestamp: 4, cv: '2024-10' },
  ];
  const out = await decodePacked(packed);
  assert.equal(out.length, 3, 'an undecodable event is dropped');
  assert.deepEqual(out[0].data.node, node);
  assert.equal(out[1].data.adds[0].node.id, 2);
  assert.equal(out[2].data.adds[0].rule, 'a{}');
  assert.equal(typeof packed[0].data, 'string', 'input untouched');
  assert.ok(!('cv' in out[0]));
});

test('zip: stored sizes, zip64 records, packages, gzip and text bytes', async () => {
  for (const zip64 of [false, true]) {
    const z = makeZip([{ name: 'a.txt', data: 'hello' }, { name: 'dir/b.txt', data: 'x'.repeat(10000) }], { zip64 });
    const entries = zipEntries(new Uint8Array(z));
    assert.deepEqual([...entries.keys()], ['a.txt', 'dir/b.txt']);
    assert.equal(entries.get('dir/b.txt').size, 10000);
  }
  const evs = [{ type: 4, data: { href: 'h', width: 1, height: 1 }, timestamp: 1 }, { type: 3, data: { source: 1 }, timestamp: 2 }];
  const pkg = makeReelPackage([{ id: 'one', meta: { user: 'u' }, windows: { w1: evs, w2: evs } }, { id: 'two', meta: {}, windows: { w: evs } }]);
  const sessions = await readPackage(new Uint8Array(pkg));
  assert.deepEqual(sessions.map((s) => [s.id, s.windows.length, s.integrity]), [['one', 2, '5 of 5 files verified'], ['two', 1, '5 of 5 files verified']]);
  assert.equal(sessions[0].meta.user, 'u');
  const gz = await loadBytes(new Uint8Array(gzipSync(Buffer.from(JSON.stringify(evs)))));
  assert.equal(gz[0].windows[0].events.length, 2);
  await assert.rejects(readPackage(new Uint8Array(Buffer.from('PK\u0003\u0004 nope'))), /zip/);
});

test('timeline: duration, markers, rage clicks, inactivity, console and network', () => {
  const t0 = 1000;
  const ev = [
    { type: 4, data: { href: 'a', width: 1, height: 1 }, timestamp: t0 },
    { type: 3, data: { source: 2, type: 2, x: 10, y: 10 }, timestamp: t0 + 100 },
    { type: 3, data: { source: 2, type: 2, x: 12, y: 10 }, timestamp: t0 + 300 },
    { type: 3, data: { source: 2, type: 2, x: 11, y: 12 }, timestamp: t0 + 500 },
    { type: 6, data: { plugin: 'rrweb/console@1', payload: { level: 'error', payload: ['"boom"'], trace: [] } }, timestamp: t0 + 600 },
    { type: 6, data: { plugin: 'rrweb/network@1', payload: { requests: [{ name: 'https://x.test/api', method: 'POST', responseStatus: 500, timestamp: t0 + 700, duration: 12 }] } }, timestamp: t0 + 800 },
    { type: 5, data: { tag: 'purchase', payload: {} }, timestamp: t0 + 900 },
    { type: 4, data: { href: 'b', width: 1, height: 1 }, timestamp: t0 + 20000 },
    { type: 3, data: { source: 1, positions: [] }, timestamp: t0 + 30000 },
  ];
  const a = analyse([{ id: 'w', events: ev }]);
  assert.equal(a.duration, 30000);
  const kinds = a.markers.map((m) => m.kind);
  for (const k of ['click', 'rage', 'error', 'custom', 'page']) assert.ok(kinds.includes(k), k);
  assert.equal(a.consoleEntries[0].text, 'boom');
  assert.equal(a.network[0].t, 700);
  assert.ok(a.inactive.length >= 1 && a.inactive[0][0] < a.inactive[0][1]);
});

test('timeline: key moments come from summary.json, not from the player', () => {
  const t0 = 1_700_000_000_000;
  const ev = [
    { type: 4, data: { href: 'a', width: 1, height: 1 }, timestamp: t0 },
    ...[100, 200, 300].map((d) => ({ type: 3, data: { source: 2, type: 2, x: 10, y: 10 }, timestamp: t0 + d })),
    { type: 3, data: { source: 1, positions: [] }, timestamp: t0 + 5000 },
  ];
  const insight = { moments: [
    { kind: 'dead_click', t_ms: 4000, timestamp: new Date(t0 + 4000).toISOString(), window_id: 'w', url: 'a', target: { id: 5, tag: 'button', selector: 'button#x', text: 'Go' }, detail: {} },
    { kind: 'rage_click', t_ms: 100, timestamp: new Date(t0 + 100).toISOString(), window_id: 'w', url: 'a', target: null, detail: { clicks: 3 } },
  ], summary: { text: 'A 5 s session.' } };
  const a = analyse([{ id: 'w', events: ev }], insight);
  assert.deepEqual(a.moments.map((m) => [m.kind, m.t]), [['rage_click', 100], ['dead_click', 4000]]);
  assert.equal(a.moments[1].label, 'dead click: Go');
  const kinds = a.markers.map((m) => m.kind);
  assert.ok(kinds.includes('mo-dead_click') && kinds.includes('mo-rage_click'));
  assert.ok(!kinds.includes('rage'), 'no rage detection of its own when summary.json is there');
  assert.equal(a.summary.text, 'A 5 s session.');
  assert.deepEqual(analyse([{ id: 'w', events: ev }]).moments, []);
});

test('events panel rows name the element, its text and the URL (describe.js)', async () => {
  const { Describer, KINDS } = await import('../describe.js');
  const { readFile } = await import('node:fs/promises');
  const events = JSON.parse(await readFile(new URL('./fixtures/checkout.json', import.meta.url), 'utf8'));
  const d = new Describer();
  const rows = events.map((e) => d.describe(e));
  for (const r of rows) assert.ok(KINDS.includes(r.kind), r.kind);
  const nav = rows.find((r) => r.kind === 'navigation');
  assert.match(nav.text, /^Navigation https?:\/\//);
  const clicks = rows.filter((r) => r.kind === 'click');
  assert.ok(clicks.length > 0);
  assert.ok(clicks.every((r) => !/node \d+$/.test(r.text)), 'every click names its element: ' + clicks.map((r) => r.text).join(' | '));
  assert.ok(clicks.some((r) => /^Click (button|a|input)[#.\w-]* /.test(r.text) || /“/.test(r.text)), clicks.map((r) => r.text).join(' | '));
  const inputs = rows.filter((r) => r.kind === 'input');
  assert.ok(inputs.length > 0 && inputs.every((r) => /^Input (input|textarea|select)/.test(r.text)), inputs.slice(0, 3).map((r) => r.text).join(' | '));
  // A node added later by a mutation is named too, and a new full snapshot starts again.
  const d2 = new Describer();
  d2.describe({ type: 2, data: { node: { type: 0, id: 1, childNodes: [] } } });
  d2.describe({ type: 3, data: { source: 0, adds: [{ parentId: 1, node: { type: 2, id: 9, tagName: 'BUTTON', attributes: { class: 'buy now' }, childNodes: [{ type: 3, id: 10, textContent: ' Pay  now ' }] } }] } });
  assert.equal(d2.describe({ type: 3, data: { source: 2, type: 2, id: 9 } }).text, 'Click button.buy.now “Pay now”');
  d2.describe({ type: 2, data: { node: { type: 0, id: 1, childNodes: [] } } });
  assert.equal(d2.describe({ type: 3, data: { source: 2, type: 2, id: 9 } }).text, 'Click node 9');
});
