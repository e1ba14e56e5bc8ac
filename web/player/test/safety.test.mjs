// Hostile recordings: nothing recorded may run, navigate the viewer, submit, or reach other hosts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, newPage, closeBrowser, playerPage } from './helpers.mjs';

const EVIL = 'http://evil.test';
const pwn = (tag) => `top.postMessage('pwned:${tag}','*');top.name='pwned:${tag}';parent.document&&(parent.document.title='pwned:${tag}')`;
let nextId = 100;
const el = (tagName, attributes = {}, childNodes = [], extra = {}) => ({ type: 2, tagName, attributes, childNodes, id: nextId++, ...extra });
const text = (t) => ({ type: 3, textContent: t, id: nextId++ });

function hostileRecording() {
  const t0 = 1_700_000_000_000;
  const head = el('head', {}, [
    el('meta', { 'http-equiv': 'refresh', content: `0;url=${EVIL}/refresh` }),
    el('meta', { 'http-equiv': 'Content-Security-Policy', content: "default-src 'none'" }),
    el('base', { href: `${EVIL}/base/`, target: '_top' }),
    el('link', { rel: 'modulepreload', href: `${EVIL}/mod.js` }),
    el('link', { rel: 'preload', as: 'script', href: `${EVIL}/pre.js` }),
    el('script', {}, [text(pwn('script-head'))]),
    el('script', { src: `${EVIL}/x.js` }),
  ]);
  const body = el('body', { onload: pwn('body-onload'), id: 'body' }, [
    el('img', { id: 'img', src: 'x:broken', onerror: pwn('img-onerror') }),
    el('a', { id: 'jslink', href: `javascript:${pwn('js-href')}` }, [text('js link')]),
    el('a', { id: 'jslink2', href: ` \tJaVaScRiPt:${pwn('js-href2')}` }, [text('js link 2')]),
    el('a', { id: 'toplink', href: `${EVIL}/top`, target: '_top' }, [text('top link')]),
    el('a', { id: 'blanklink', href: `${EVIL}/blank`, target: '_blank' }, [text('blank link')]),
    el('a', { id: 'datalink', href: `data:text/html,<script>${pwn('data-href')}</script>` }, [text('data link')]),
    el('form', { id: 'form', action: `${EVIL}/submit`, method: 'post', target: '_top' }, [
      el('input', { name: 'q', value: 'x', autofocus: true, onfocus: pwn('autofocus') }),
      el('button', { id: 'submit', type: 'submit', formaction: `javascript:${pwn('formaction')}` }, [text('go')]),
    ]),
    el('iframe', { id: 'srcdoc', srcdoc: `<script>${pwn('srcdoc')}</script>` }),
    el('iframe', { id: 'remote', src: `${EVIL}/frame` }),
    el('iframe', { id: 'jsframe', src: `javascript:${pwn('iframe-js')}` }),
    el('object', { id: 'obj', data: `${EVIL}/x.swf`, type: 'application/x-shockwave-flash' }),
    el('embed', { id: 'emb', src: `${EVIL}/x.swf` }),
    el('details', { open: true, ontoggle: pwn('details-toggle') }, [el('summary', {}, [text('d')])]),
    el('svg', { width: '10', height: '10', onload: pwn('svg-onload') }, [
      el('a', { id: 'svglink', 'xlink:href': `javascript:${pwn('svg-href')}` }, [el('rect', { width: '10', height: '10' }, [], { isSVG: true })], { isSVG: true }),
      el('animate', { attributeName: 'href', to: `javascript:${pwn('svg-animate')}` }, [], { isSVG: true }),
      el('script', {}, [text(pwn('svg-script'))], { isSVG: true }),
    ], { isSVG: true }),
    el('video', { id: 'video' }, [el('source', { src: 'x:none', onerror: pwn('source-onerror') })]),
    el('div', { id: 'target' }, [text('mutation target')]),
  ]);
  const html = el('html', {}, [head, body]);
  const doc = { type: 0, childNodes: [{ type: 1, name: 'html', publicId: '', systemId: '', id: nextId++ }, html], id: 1 };
  const targetId = body.childNodes[body.childNodes.length - 1].id;
  const bodyId = body.id;
  const events = [
    { type: 4, data: { href: 'http://victim.test/', width: 800, height: 600 }, timestamp: t0 },
    { type: 2, data: { node: doc, initialOffset: { top: 0, left: 0 } }, timestamp: t0 + 10 },
    { type: 3, data: { source: 0, texts: [], removes: [], attributes: [
      { id: targetId, attributes: { onclick: pwn('attr-onclick'), onmouseover: pwn('attr-mouseover'), style: { color: 'red' } } },
      { id: bodyId, attributes: { onpageshow: pwn('attr-pageshow') } },
    ], adds: [
      { parentId: bodyId, nextId: null, node: el('script', {}, [text(pwn('added-script'))]) },
      { parentId: bodyId, nextId: null, node: el('img', { src: 'x:none2', onerror: pwn('added-img') }) },
      { parentId: bodyId, nextId: null, node: el('a', { id: 'addedlink', href: `javascript:${pwn('added-href')}`, target: '_parent' }, [text('added')]) },
      { parentId: bodyId, nextId: null, node: el('iframe', { id: 'addedframe', srcdoc: `<script>${pwn('added-srcdoc')}</script>` }) },
      { parentId: bodyId, nextId: null, node: el('meta', { 'http-equiv': 'refresh', content: `0;url=${EVIL}/added-refresh` }) },
    ] }, timestamp: t0 + 1000 },
    { type: 3, data: { source: 0, texts: [], removes: [], adds: [], attributes: [
      { id: targetId, attributes: { id: 'target', onfocus: pwn('attr2') } },
    ] }, timestamp: t0 + 1500 },
    { type: 3, data: { source: 0, texts: [], removes: [], attributes: [], adds: [
      { parentId: bodyId, nextId: null, node: { type: 2, tagName: 'iframe', attributes: { id: 'child', src: `${EVIL}/child` }, childNodes: [], id: 9000 } },
    ] }, timestamp: t0 + 1600 },
    { type: 3, data: { source: 0, isAttachIframe: true, texts: [], removes: [], attributes: [], adds: [
      { parentId: 9000, nextId: null, node: { type: 0, id: 9001, rootId: 9001, childNodes: [
        { type: 2, tagName: 'html', id: 9002, rootId: 9001, attributes: {}, childNodes: [{ type: 2, tagName: 'body', id: 9003, rootId: 9001, attributes: { onload: pwn('child-onload') }, childNodes: [
          { type: 2, tagName: 'script', id: 9004, attributes: {}, childNodes: [{ type: 3, id: 9005, textContent: pwn('child-script') }] },
          { type: 2, tagName: 'a', id: 9006, attributes: { id: 'childlink', href: `${EVIL}/childnav` }, childNodes: [{ type: 3, id: 9007, textContent: 'child link' }] },
          { type: 2, tagName: 'img', id: 9008, attributes: { src: 'x:y', onerror: pwn('child-img') }, childNodes: [] },
        ] }] },
      ] } },
    ] }, timestamp: t0 + 1700 },
    { type: 3, data: { source: 2, type: 2, id: targetId, x: 10, y: 10 }, timestamp: t0 + 2000 },
    { type: 3, data: { source: 99, weird: true }, timestamp: t0 + 2100 },
    { type: 42, data: {}, timestamp: t0 + 2200 },
    { type: 3, data: { source: 0, texts: [], removes: [], adds: [], attributes: [
      { id: targetId, attributes: { href: `javascript:${pwn('late-href')}`, srcdoc: '<b>x</b>', formaction: `javascript:x` } },
    ] }, timestamp: t0 + 3000 },
  ];
  return events;
}

let srv;
after(async () => { await closeBrowser(); if (srv) await srv.close(); });

test('hostile recording: nothing runs, nothing navigates, nothing leaves', async () => {
  srv = await serve({ '/t.html': playerPage(`
    window.__msgs = [];
    addEventListener('message', (e) => window.__msgs.push(String(e.data)));
    window.p = await ReelPlayer.mount(document.getElementById('app'), { events: window.__events, hash: false });`) });
  const { page, context } = await newPage(srv.base);
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  const popups = [];
  context.on('page', (pg) => popups.push(pg.url()));
  const events = hostileRecording();
  await page.addInitScript((evs) => { window.__events = evs; }, events);
  await page.goto(srv.base + '/t.html');
  await page.evaluate(() => window.__ready);
  const url0 = page.url();
  const res = await page.evaluate(async () => {
    const p = window.p;
    await p.engine.keyframes.start();
    // Play through, jump around (keyframe rebuilds), then poke at everything clickable in the replay.
    p.setSpeed(16); p.play();
    await new Promise((r) => setTimeout(r, 600));
    p.seek(0); p.seek(p.duration); p.seek(1200); p.seek(p.duration);
    const doc = p.engine.doc;
    for (const a of doc.querySelectorAll('a, button, #target, summary')) { try { a.click(); a.dispatchEvent(new MouseEvent('mouseover', { bubbles: true })); } catch (e) { /* ignore */ } }
    const form = doc.getElementById('form');
    try { form.requestSubmit(); } catch (e) { /* blocked */ }
    try { form.submit(); } catch (e) { /* blocked */ }
    const child = doc.getElementById('child');
    const childDoc = child && child.contentDocument;
    const childText = childDoc && childDoc.body ? childDoc.body.textContent : null;
    if (childDoc) for (const a of childDoc.querySelectorAll('a')) a.click();
    await new Promise((r) => setTimeout(r, 800));
    const bad = [];
    const walk = (root) => {
      for (const n of root.querySelectorAll('*')) {
        if (n.localName === 'script') bad.push('script element');
        for (const a of n.attributes) {
          const v = a.value.replace(/\s/g, '').toLowerCase();
          if (a.name.startsWith('on')) bad.push(`${n.localName}[${a.name}]`);
          if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'to'].includes(a.name) && (v.startsWith('javascript:') || v.startsWith('data:text/html'))) bad.push(`${n.localName}[${a.name}=${a.value.slice(0, 20)}]`);
          if (['srcdoc', 'target', 'http-equiv'].includes(a.name)) bad.push(`${n.localName}[${a.name}]`);
          if (n.localName === 'iframe' && a.name === 'src') bad.push('iframe[src]');
          if ((n.localName === 'object' && a.name === 'data') || (n.localName === 'embed' && a.name === 'src')) bad.push(`${n.localName}[${a.name}]`);
          if (n.localName === 'base' && a.name === 'href') bad.push('base[href]');
          if (n.localName === 'form' && a.name === 'action') bad.push('form[action]');
        }
      }
    };
    walk(doc);
    if (childDoc) walk(childDoc);
    let childUrl = null;
    try { childUrl = child.contentWindow.location.href; } catch (e) { childUrl = 'cross-origin (navigated)'; }
    return { childText, childUrl,
      name: window.name, title: document.title, msgs: window.__msgs, bad,
      iframeSandbox: p.engine.iframe.getAttribute('sandbox'), skipped: p.engine.skipped,
      targetText: doc.getElementById('target') && doc.getElementById('target').textContent,
      frameUrl: p.engine.iframe.contentWindow.location.href,
    };
  });
  assert.equal(res.iframeSandbox, 'allow-same-origin');
  assert.deepEqual(res.msgs, [], 'no script posted a message');
  assert.ok(!String(res.name).includes('pwned'), `window.name untouched (${res.name})`);
  assert.ok(!String(res.title).includes('pwned'), 'title untouched');
  assert.deepEqual(res.bad, [], 'no dangerous attribute or element survived');
  assert.equal(res.targetText, 'mutation target');
  assert.ok(res.childText && res.childText.includes('child link'), 'attached iframe document was rebuilt');
  assert.ok(!String(res.childUrl).includes('evil') && !String(res.childUrl).includes('cross-origin'), `child frame did not navigate (${res.childUrl})`);
  assert.ok(res.skipped >= 1, 'unknown events are skipped and counted');
  assert.ok(!res.frameUrl.includes('evil'), 'replay iframe did not navigate');
  assert.equal(page.url(), url0, 'viewer did not navigate');
  assert.deepEqual(dialogs, []);
  assert.deepEqual(popups, []);
  assert.deepEqual(requests.filter((u) => u.includes('evil.test')), [], 'no request reached the recorded hosts');
  assert.deepEqual(page.errors, []);
});
