// Assets inside packages (format 1.2): how recorded events are rewritten to load from the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteAssetUrls, assetCss } from '../assets.js';

const B = 'https://site.example';
const table = {
  blobs: new Map([
    [`${B}/a.png`, 'blob:A'], [`${B}/b.png`, 'blob:B'], [`${B}/s.css`, 'blob:S'], [`${B}/f.woff2`, 'blob:F'],
    [`${B}/i.svg`, 'blob:I'], [`${B}/x,y.png`, 'blob:XY'],
  ]),
  svg: new Set([`${B}/i.svg`]),
};
const el = (id, tagName, attributes, childNodes = []) => ({ type: 2, id, tagName, attributes, childNodes });

test('assets: snapshot, mutations and CSS point at the package; the rest stays as recorded', () => {
  const events = [
    { type: 4, timestamp: 1, data: { href: `${B}/dir/page.html` } },
    { type: 2, timestamp: 2, data: { node: { type: 0, id: 1, childNodes: [el(2, 'html', {}, [
      el(3, 'link', { rel: 'stylesheet', href: '/s.css' }),
      el(4, 'link', { rel: 'preload', href: '/s.css' }),
      el(5, 'style', {}, [{ type: 3, id: 6, textContent: "@font-face{src:url('/f.woff2')} a{background:url(/a.png)}" }]),
      el(7, 'img', { src: '/a.png', srcset: '/a.png 1x, /b.png 2x, /x,y.png 3x, /none.png 4x', style: 'background: url("../b.png")' }),
      el(8, 'img', { src: '/i.svg' }),
      el(9, 'use', { href: '/i.svg#icon' }),
      el(10, 'a', { href: '/a.png' }),
      el(11, 'img', { src: '/missing.png' }),
    ])] } } },
    { type: 3, timestamp: 3, data: { source: 0, texts: [{ id: 6, value: 'b{background:url(/b.png)}' }],
      attributes: [{ id: 11, attributes: { src: '/b.png', style: { background: ['url(/a.png)', 'important'] } } }],
      removes: [], adds: [{ parentId: 2, node: el(20, 'img', { src: 'https://site.example/a.png#frag' }) }] } },
    { type: 3, timestamp: 4, data: { source: 8, id: 1, adds: [{ rule: 'c{background:url(/b.png)}', index: 0 }] } },
  ];
  rewriteAssetUrls(events, table);
  const [html] = events[1].data.node.childNodes;
  const a = (i) => html.childNodes[i].attributes;
  assert.equal(a(0).href, 'blob:S');
  assert.equal(a(1).href, '/s.css', 'only stylesheets and icons load from links');
  assert.equal(html.childNodes[2].childNodes[0].textContent, '@font-face{src:url("blob:F")} a{background:url("blob:A")}');
  assert.equal(a(3).src, 'blob:A');
  assert.equal(a(3).srcset, 'blob:A 1x, blob:B 2x, blob:XY 3x, /none.png 4x');
  assert.equal(a(3).style, 'background: url("blob:B")');
  assert.equal(a(4).src, 'blob:I', 'SVG as an image');
  assert.equal(a(5).href, '/i.svg#icon', 'SVG never as a document');
  assert.equal(a(6).href, '/a.png', 'links to pages are not assets');
  assert.equal(a(7).src, '/missing.png');
  const m = events[2].data;
  assert.equal(m.texts[0].value, 'b{background:url("blob:B")}');
  assert.equal(m.attributes[0].attributes.src, 'blob:B');
  assert.deepEqual(m.attributes[0].attributes.style.background, ['url("blob:A")', 'important']);
  assert.equal(m.adds[0].node.attributes.src, 'blob:A');
  assert.equal(events[3].data.adds[0].rule, 'c{background:url("blob:B")}');
});

test('assets: CSS imports and data URLs', () => {
  assert.equal(assetCss("@import 's.css'; x{background:url(data:image/png;base64,AA)}", `${B}/`, table),
    '@import "blob:S"; x{background:url(data:image/png;base64,AA)}');
  assert.equal(assetCss('no urls here', B, table), 'no urls here');
});

test('assets: a <base href> changes how relative URLs resolve, as when recorded', () => {
  const events = [
    { type: 4, timestamp: 1, data: { href: 'https://elsewhere.example/p.html' } },
    { type: 2, timestamp: 2, data: { node: { type: 0, id: 1, childNodes: [el(2, 'html', {}, [
      el(3, 'base', { href: `${B}/` }),
      el(4, 'img', { src: 'a.png' }),
    ])] } } },
  ];
  rewriteAssetUrls(events, table);
  assert.equal(events[1].data.node.childNodes[0].childNodes[1].attributes.src, 'blob:A');
});
