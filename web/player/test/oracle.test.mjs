// Oracle: Reel's player and rrweb's own Replayer (@rrweb/replay 2.1.6) must show the same DOM and
// nearly the same pixels at several moments of every fixture recording.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, newPage, closeBrowser, PLAYER_DIR_EXPORT } from './helpers.mjs';
import { syntheticRecording } from './synthetic.mjs';

const FIXTURES = ['checkout', 'swagger', 'shoelace', 'posthog-checkout', 'posthog-shoelace', 'synthetic'];
const MAX_PIXEL_DIFF = 1.0; // percent of pixels

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/player/player.css"><link rel="stylesheet" href="/nm/@rrweb/replay/dist/style.css">
<style>html,body{margin:0} .reel-cursor,.replayer-mouse,.replayer-mouse-tail,.reel-fx,.reel-trail{display:none!important}
#reel{position:absolute;left:0;top:0} #rr iframe{border:0} #rr{position:absolute;left:0} .replayer-wrapper{position:relative}</style>
<script src="/nm/@rrweb/replay/dist/replay.umd.min.cjs"></script></head><body><div id="reel"></div><div id="rr"></div>
<script type="module">import { ReelPlayer } from '/player/index.js'; window.ReelPlayer = ReelPlayer;</script></body></html>`;

// Serialize a document for comparison: tags, attributes (minus replayer-internal ones), normalized text,
// form state, shadow roots and same-origin iframe documents.
const NORMALIZE = `(doc) => {
  const out = [];
  const SKIP_TAGS = new Set(['script', 'noscript']);
  const walk = (n, d) => {
    if (n.nodeType === 3) {
      const t = n.nodeValue.replace(/\\s+/g, ' ').trim();
      if (t && !(n.parentNode && n.parentNode.localName === 'style')) out.push(' '.repeat(d) + '"' + t + '"');
      return;
    }
    if (n.nodeType !== 1) return;
    const tag = n.localName;
    if (SKIP_TAGS.has(tag)) return;
    if (tag === 'style' && n.parentNode && n.parentNode.localName === 'html') return; // rrweb's injected style
    const attrs = [];
    for (const a of n.attributes) {
      const k = a.name;
      if (k.startsWith('rr_') || k.startsWith('rrweb-') || k.startsWith('on') || k === '_csstext' || k.startsWith('data-rrweb') || k === 'data-reel' || k === 'autocomplete' || k === 'target' || k === 'autofocus') continue; // target/autofocus: Reel drops them on purpose (safety, focus)
      let v = a.value;
      if (k === 'class') v = v.split(/\\s+/).filter((c) => c && c !== ':hover' && !c.startsWith('rrweb-')).sort().join(' ');
      if (k === 'style') v = v.replace(/\\s+/g, '').replace(/;$/, '');
      if (k === 'style' && !v) continue;
      if (k === 'class' && !v) continue;
      attrs.push(k + '=' + JSON.stringify(v));
    }
    if (tag === 'input' || tag === 'textarea' || tag === 'select') {
      if (n.type === 'checkbox' || n.type === 'radio') attrs.push('.checked=' + n.checked); else attrs.push('.value=' + JSON.stringify(n.value));
    }
    attrs.sort();
    out.push(' '.repeat(d) + '<' + tag + (attrs.length ? ' ' + attrs.join(' ') : '') + '>');
    if (n.shadowRoot) { out.push(' '.repeat(d + 1) + '#shadow'); for (const c of n.shadowRoot.childNodes) walk(c, d + 2); }
    if (tag === 'iframe') { try { const cd = n.contentDocument; if (cd && cd.documentElement) walk(cd.documentElement, d + 1); } catch (e) {} }
    for (const c of n.childNodes) walk(c, d + 1);
  };
  if (doc.documentElement) walk(doc.documentElement, 0);
  return out;
}`;

const results = [];
let srv;
after(async () => {
  await closeBrowser();
  if (srv) await srv.close();
  const lines = ['| fixture | Reel keyframes | moments | DOM match | max pixel diff % | Reel seek max ms |', '|---|---:|---:|---|---:|---:|'];
  for (const r of results) lines.push(`| ${r.fixture} | ${r.keyframes} | ${r.moments} | ${r.domMatch}/${r.moments} | ${r.maxDiff.toFixed(3)} | ${r.seekMax.toFixed(1)} |`);
  const md = `# Oracle: Reel player vs rrweb Replayer (@rrweb/replay 2.1.6)\n\nCommand: \`node --test web/player/test/oracle.test.mjs\` (headless Chromium, ${new Date().toISOString().slice(0, 10)}).\n` +
    `Moments: 60, 20, 100, 40, 80, 0 % of each recording, in that order (backward jumps rebuild from keyframes). DOM = tags, attributes (minus rr_/on*/internal), normalized text, form values, shadow roots, iframe documents.\n` +
    `Pixel diff = share of pixels whose RGB differs by more than 32 in any channel, replay area only, cursors hidden.\n` +
    `Reel runs with dense keyframes (one per ~25 nodes of work) so that jumps exercise serialized keyframes and the morphing restore; ` +
    `rrweb gets a fresh Replayer per moment. Not compared: attributes Reel drops on purpose (target, autofocus, on*), rrweb's own ` +
    `(rrweb-*, autocomplete="off", rrweb-paused class, its injected <style>), empty style="". The harness gives rrweb's iframe the recorded ` +
    `viewport size at the moment (its fast-forward skips ViewportResize). "synthetic" is test/synthetic.mjs (CSSOM edits, adopted sheets, rr_* attributes, shadow DOM...).\n\n${lines.join('\n')}\n`;
  console.log('\n' + lines.join('\n'));
  // scripts/test sends it elsewhere (REEL_ORACLE_RESULTS) so a full run rewrites no tracked file.
  await writeFile(process.env.REEL_ORACLE_RESULTS || join(PLAYER_DIR_EXPORT, 'test', 'RESULTS-oracle.md'), md);
});

for (const fixture of FIXTURES) {
  test(`oracle: ${fixture}`, async () => {
    if (!srv) srv = await serve({ '/oracle.html': PAGE });
    const events = fixture === 'synthetic' ? syntheticRecording() : JSON.parse(await readFile(join(PLAYER_DIR_EXPORT, 'test', 'fixtures', fixture + '.json'), 'utf8'));
    const { page, context } = await newPage(srv.base, { viewport: { width: 1400, height: 2000 } });
    page.on('console', (m) => { if (m.text().startsWith('size')) console.log(m.text()); });
    await page.goto(srv.base + '/oracle.html');
    await page.waitForFunction(() => window.ReelPlayer && window.rrwebReplay);
    const info = await page.evaluate(async (evs) => {
      let w = 0, hgt = 0;
      for (const e of evs) if ((e.type === 4 && e.data.width) || (e.type === 3 && e.data.source === 4)) { w = Math.max(w, e.data.width); hgt = Math.max(hgt, e.data.height); }
      const reel = document.getElementById('reel');
      reel.style.width = w + 'px'; reel.style.height = hgt + 60 + 'px';
      const rr = document.getElementById('rr');
      rr.style.top = hgt + 80 + 'px';
      // Dense keyframes so backward seeks rebuild from serialized keyframes, not only from full snapshots.
      window.reel = await window.ReelPlayer.mount(reel, { events: evs, panels: false, hash: false, keyboard: false, keyframeWork: 25 });
      await window.reel.engine.keyframes.start();
      window.evs = evs;
      return { duration: window.reel.duration, w, h: hgt, keyframes: window.reel.engine.keyframes.frames.length };
    }, events);
    // Out of order on purpose: backward jumps go through keyframes, forward ones apply events.
    const moments = [0.6, 0.2, 1, 0.4, 0.8, 0].map((f) => Math.round(info.duration * f));
    const row = { fixture, keyframes: info.keyframes, moments: moments.length, domMatch: 0, maxDiff: 0, seekMax: 0, failures: [] };
    for (const t of moments) {
      const r = await page.evaluate(async ([t, normSrc]) => {
        const norm = eval(normSrc);
        window.reel.seek(t);
        // A fresh rrweb Replayer per moment: the oracle starts from a clean state every time.
        if (window.rr) { try { window.rr.pause(); } catch (e) {} document.getElementById('rr').replaceChildren(); }
        window.rr = new window.rrwebReplay.Replayer(window.evs, { root: document.getElementById('rr'), skipInactive: false, showWarning: false, showDebug: false, mouseTail: false, triggerFocus: false, speed: 1 });
        window.rr.pause(t);
        await new Promise((res) => setTimeout(res, 150));
        // rrweb's fast-forward does not resize its iframe for ViewportResize events: give it the recorded size at t.
        let vw = 0, vh = 0;
        for (const e of window.evs) {
          if (e.timestamp - window.evs[0].timestamp > t) break;
          if ((e.type === 4 && e.data.width) || (e.type === 3 && e.data.source === 4)) { vw = e.data.width; vh = e.data.height; }
        }
        if (vw && (+window.rr.iframe.width !== vw || +window.rr.iframe.height !== vh)) { window.rr.iframe.width = vw; window.rr.iframe.height = vh; window.rr.iframe.style.width = vw + 'px'; window.rr.iframe.style.height = vh + 'px'; window.__resized = (window.__resized || 0) + 1;
          // ...and re-apply the document scroll, which it applied at the wrong size.
          const docId = window.evs.find((e) => e.type === 2).data.node.id;
          let sc = null;
          for (const e of window.evs) { if (e.timestamp - window.evs[0].timestamp > t) break; if (e.type === 3 && e.data.source === 3 && e.data.id === docId) sc = e.data; }
          if (sc) window.rr.iframe.contentWindow.scrollTo(sc.x, sc.y);
        }
        const a = norm(window.reel.engine.doc), b = norm(window.rr.iframe.contentDocument);
        let diffAt = -1;
        for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) { diffAt = i; break; }
        return { same: diffAt < 0, seekMs: window.reel.engine.lastSeekMs, diff: diffAt < 0 ? null : { i: diffAt, reel: a.slice(Math.max(0, diffAt - 2), diffAt + 3), rrweb: b.slice(Math.max(0, diffAt - 2), diffAt + 3), lens: [a.length, b.length] } };
      }, [t, NORMALIZE]);
      const shotA = await page.locator('#reel iframe.reel-frame').screenshot();
      const shotB = await page.locator('#rr iframe').screenshot();
      const pct = await page.evaluate(async ([a, b]) => {
        const load = (s) => new Promise((res) => { const i = new Image(); i.onload = () => res(i); i.src = 'data:image/png;base64,' + s; });
        const [ia, ib] = await Promise.all([load(a), load(b)]);
        const w = Math.min(ia.width, ib.width), h = Math.min(ia.height, ib.height);
        const px = (img) => { const c = document.createElement('canvas'); c.width = w; c.height = h; const x = c.getContext('2d'); x.drawImage(img, 0, 0); return x.getImageData(0, 0, w, h).data; };
        const da = px(ia), db = px(ib);
        let bad = 0;
        for (let i = 0; i < da.length; i += 4) if (Math.abs(da[i] - db[i]) > 32 || Math.abs(da[i + 1] - db[i + 1]) > 32 || Math.abs(da[i + 2] - db[i + 2]) > 32) bad++;
        const sizePenalty = ia.width !== ib.width || ia.height !== ib.height ? 100 : 0;
        if (sizePenalty) console.log('size', ia.width, ia.height, ib.width, ib.height);
        return Math.max(sizePenalty, (bad / (w * h)) * 100);
      }, [shotA.toString('base64'), shotB.toString('base64')]);
      if (pct > MAX_PIXEL_DIFF && process.env.ORACLE_SHOTS) { await writeFile(`/tmp/oracle-${fixture}-${t}-reel.png`, shotA); await writeFile(`/tmp/oracle-${fixture}-${t}-rrweb.png`, shotB); }
      if (process.env.ORACLE_SHOTS) console.log(fixture, t, pct.toFixed(3));
      if (r.same) row.domMatch++; else row.failures.push({ t, ...r.diff });
      row.maxDiff = Math.max(row.maxDiff, pct);
      row.seekMax = Math.max(row.seekMax, r.seekMs);
    }
    results.push(row);
    await context.close();
    if (row.failures.length) console.log(fixture, JSON.stringify(row.failures, null, 1).slice(0, 3000));
    assert.equal(row.domMatch, row.moments, `${fixture}: DOM differs from rrweb at ${row.failures.map((f) => f.t).join(', ')} ms`);
    assert.ok(row.maxDiff <= MAX_PIXEL_DIFF, `${fixture}: pixel diff ${row.maxDiff.toFixed(2)} % > ${MAX_PIXEL_DIFF} %`);
  });
}
