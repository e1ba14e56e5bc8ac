/* Reel recorder 0.1.0 — rrweb-format session recording, private by default, durable delivery.
 * Classic script: defines window.reel. No dependencies, no build step. See README.md. */
(() => {
'use strict';
const W = typeof window != 'undefined' ? window : null;
if (!W || !W.document || W.reel) return;
const VERSION = '0.1.0', D = W.document, LS = 'localStorage', SS = 'sessionStorage', SRC = D.currentScript && D.currentScript.src;
const now = () => Date.now();
const stats = { errors: 0, lastError: '', events: 0, batches: 0, sent: 0, bytesSent: 0, retries: 0, dropped4xx: 0,
  droppedBatches: 0, droppedSessions: 0, droppedBytes: 0, resent: 0, snapshots: 0, snapshotMs: 0, maxSnapshotMs: 0 };
const fail = e => { stats.errors++; stats.lastError = String(e && e.message || e).slice(0, 200); };
/** Wrap a callback so nothing we do can throw into the host page. */
const guard = f => function () { try { return f.apply(this, arguments); } catch (e) { fail(e); } };

// ---------- ids, storage ----------
let lastMs = 0, seq = 0;
/** UUIDv7, monotonic within this page (12-bit counter in rand_a). */
function uuid7() {
  let ms = now();
  if (ms <= lastMs) { ms = lastMs; if (++seq > 4095) { lastMs = ++ms; seq = 0; } } else { lastMs = ms; seq = 0; }
  const b = new Uint8Array(16);
  (W.crypto || {}).getRandomValues ? crypto.getRandomValues(b) : b.forEach((_, i) => b[i] = Math.random() * 256);
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = 0x70 | (seq >> 8); b[7] = seq & 255; b[8] = 0x80 | (b[8] & 0x3f);
  const h = Array.from(b, x => (x + 256).toString(16).slice(1)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
function sget(s, k) { try { return JSON.parse(W[s].getItem(k)); } catch (e) { return null; } }
function sset(s, k, v) { try { v == null ? W[s].removeItem(k) : W[s].setItem(k, JSON.stringify(v)); return true; } catch (e) { return false; } }

// ---------- options & state ----------
const DEF = { apiHost: '', token: '', maskAllText: false, maskAllInputs: true, blockSelector: '', maskTextSelector: '',
  ignoreSelector: '', recordCanvas: false, canvasFps: 1, inlineImages: false, captureConsole: true, captureNetwork: {}, sampleRate: 1,
  flushIntervalMs: 2000, maxBatchBytes: 256000, maxQueueBytes: 20e6, retryBaseMs: 1000, retryMaxMs: 60000, requestTimeoutMs: 30000,
  fullSnapshotIntervalMs: 300000, idleTimeoutMs: 1800000, maxSessionMs: 86400000, mousemoveSampleMs: 50, keepBytes: null, maxExportBytes: 50e6 };
let O = null, on = false, BLOCK, MASK, IGNORE, url = '';
let ids = new WeakMap(), nid = 1, sheetIds = new WeakMap(), sheetSeq = 0;
let sess = null, wid = '', did = '', lastCheck = 0, lastWrite = 0;
let buf = [], bufBytes = 0, bufSid = '', timer = 0, soon = 0, pendingDrop = null;
const undo = []; // functions that undo listeners / patches
const listen = (t, type, f, capture = true) => {
  const g = guard(f); t.addEventListener(type, g, { capture, passive: true });
  undo.push(() => t.removeEventListener(type, g, { capture }));
};
/** Replace obj[name] by wrap(original); restored by stop(). */
function patch(obj, name, wrap) {
  const orig = obj && obj[name];
  if (typeof orig != 'function') return;
  const p = wrap(orig);
  try { obj[name] = p; undo.push(() => { if (obj[name] === p) obj[name] = orig; }); } catch (e) { fail(e); }
}
function patchSetter(proto, name, after) {
  const d = proto && Object.getOwnPropertyDescriptor(proto, name);
  if (!d || !d.set) return;
  Object.defineProperty(proto, name, Object.assign({}, d, { set(v) { d.set.call(this, v); try { after(this); } catch (e) { fail(e); } } }));
  undo.push(() => Object.defineProperty(proto, name, d));
}

// ---------- sessions ----------
/** Returns true if the session changed (idle timeout, 24 h cap, or another tab rotated it). */
function checkSession(active) {
  const t = now();
  let s = sess;
  if (!s || t - lastCheck > 1000) {
    lastCheck = t;
    const st = sget(LS, 'reel_s');
    if (st && st.id && (!s || st.id !== s.id && st.start >= s.start || st.id === s.id && st.last > s.last)) s = st;
  }
  // Idle rotation happens when the user comes back (page-driven events alone keep the idle session), the cap always.
  if (!s || active && t - s.last > O.idleTimeoutMs || t - s.start > O.maxSessionMs)
    s = { id: uuid7(), start: t, last: t, smp: Math.random() < O.sampleRate };
  const changed = !!sess && s.id !== sess.id;
  if (active) s.last = t;
  sess = s;
  if (changed || t - lastWrite > 1000) { lastWrite = t; sset(LS, 'reel_s', s); }
  return changed;
}

// ---------- emitting ----------
const USER_SOURCES = new Set([1, 2, 3, 5, 6, 12, 14]); // mouse/touch moves, interactions, scroll, input, drag, selection
function emit(type, data, ts) {
  if (!on) return;
  const active = type === 3 && USER_SOURCES.has(data.source);
  if (checkSession(active) && type !== 2 && type !== 4) {
    flush(true); snapshot();
    if (type === 3 && data.source === 0) return; // already part of the new full snapshot
  }
  if (!sess.smp) return;
  if (snap && type !== 2 && type !== 4) { snap.held.push([type, data, ts || now()]); return; }
  if (bufSid && bufSid !== sess.id) flush();
  bufSid = sess.id;
  if (!sess.f) sess.f = ts || now(); // the session's first event: where the player's clock starts
  const s = JSON.stringify({ type, data, timestamp: ts || now() });
  buf.push(s); bufBytes += s.length + 1; stats.events++;
  // a full batch is sent from its own task, so serializing and sending never pile onto the task that recorded
  if (bufBytes >= O.maxBatchBytes) { if (!soon) soon = setTimeout(guard(() => { soon = 0; flush(); }), 0); }
  else if (!timer) timer = setTimeout(guard(flush), O.flushIntervalMs);
}
const inc = (source, d, ts) => emit(3, Object.assign({ source }, d), ts);

// ---------- privacy helpers ----------
const closedRoots = new WeakMap(); // host → closed shadow root (seen through the attachShadow patch)
const shadowOf = n => n.shadowRoot || closedRoots.get(n) || null;
const parentOf = n => n.parentNode && n.parentNode.nodeType === 11 ? n.parentNode.host || null : n.parentNode;
/** Closest element (inclusive) matching sel, crossing shadow boundaries. */
function closestX(n, sel) {
  if (!sel) return null;
  let e = n && (n.nodeType === 1 ? n : parentOf(n));
  while (e && e.nodeType === 1) {
    const c = e.closest(sel);
    if (c) return c;
    const r = e.getRootNode();
    e = r && r.host;
  }
  return null;
}
const maskText = s => s.replace(/\S/g, '*');
const pw = new WeakSet();
const isPw = el => pw.has(el) || (el.type || '').toLowerCase() === 'password' || /password/i.test(el.getAttribute && el.getAttribute('autocomplete') || '') ? (pw.add(el), true) : false;
/** The value of an input as it may leave the browser. Password values are never read. */
function inputText(el, v) {
  if (isPw(el)) return '********';
  if (v === undefined) v = String(el.value || '');
  return O.maskAllInputs || closestX(el, MASK) ? '*'.repeat(v.length) : v;
}
const txtInputs = /^(input|textarea|select)$/;

// ---------- urls & css ----------
function abs(u, base) {
  if (!u || /^(data:|blob:|#|javascript:|about:|mailto:|tel:)/i.test(u)) return u;
  try { return new URL(u, base || D.baseURI).href; } catch (e) { return u; }
}
const absCss = (css, base) => css.indexOf('url(') < 0 ? css : css.replace(/url\(\s*(['"]?)([^'")]*)\1\s*\)/g, (m, q, u) => `url(${q}${abs(u, base)}${q})`);
function sheetText(sh) {
  try {
    const r = sh.cssRules;
    if (!r) return null;
    let s = '';
    for (let i = 0; i < r.length; i++) s += r[i].styleSheet ? (sheetText(r[i].styleSheet) || r[i].cssText) : r[i].cssText;
    return absCss(s, sh.href || (sh.ownerNode && sh.ownerNode.baseURI));
  } catch (e) { return null; }
}

// ---------- serialization (rrweb-snapshot node format) ----------
const MASKABLE_ATTR = /^(alt|title|placeholder|aria-label|aria-description|label)$/;
const URL_ATTR = /^(src|href|action|poster|background|data|formaction|xlink:href)$/;
const cssDirty = new WeakSet(), scrolled = new WeakSet();
const NOSCROLL = /^(a|abbr|b|br|button|code|em|h[1-6]|i|img|input|label|li|option|p|path|small|span|strong|sub|sup|svg|td|th|tr|tbody|thead|tfoot|use|g|circle|rect|line|polygon|meta|link|script|style|title|head|html)$/;
let iframesTodo = [], adoptTodo = [], canvases = new Set(), blankCanvas = new Map();
function attrsOf(el, tag, masked, fresh) {
  const a = {}, at = el.attributes;
  for (let i = 0; i < at.length; i++) a[at[i].name] = attrVal(el, tag, at[i].name, at[i].value, masked);
  if (tag === 'link' && el.sheet && /stylesheet/i.test(a.rel || '')) {
    const css = sheetText(el.sheet);
    if (css) { delete a.rel; delete a.href; a._cssText = css; }
  } else if (tag === 'link' && /stylesheet/i.test(a.rel || '') && !hooked.has(el)) {
    hooked.add(el); listen(el, 'load', () => { const css = el.sheet && sheetText(el.sheet), id = ids.get(el); if (css && id) inc(0, { texts: [], removes: [], adds: [], attributes: [{ id, attributes: { _cssText: css } }] }); }, false);
  }
  // <style>: the CSSOM is the truth (CSS-in-JS inserts rules into empty or fresh <style>s); new ones with text keep their text.
  if (tag === 'style' && el.sheet && el.childNodes.length < 2 && (!fresh || cssDirty.has(el) || !el.textContent.trim())) { const css = sheetText(el.sheet); if (css) a._cssText = css; }
  if (txtInputs.test(tag)) {
    const type = (el.type || '').toLowerCase();
    if (type === 'checkbox' || type === 'radio') { if (el.checked) a.checked = true; else delete a.checked; }
    else if (type !== 'submit' && type !== 'button' && type !== 'reset' && type !== 'image' && type !== 'hidden') {
      const v = isPw(el) ? '********' : inputText(el);
      if (v) a.value = v; else delete a.value;
    }
  }
  if (tag === 'option' && O.maskAllInputs) delete a.selected;
  else if (tag === 'option' && el.selected) a.selected = true;
  if (tag === 'dialog' && el.open) a.rr_open_mode = el.matches(':modal') ? 'modal' : 'non-modal';
  if (tag === 'video' || tag === 'audio') Object.assign(a, { rr_mediaState: el.paused ? 'paused' : 'played', rr_mediaCurrentTime: el.currentTime,
    rr_mediaPlaybackRate: el.playbackRate, rr_mediaMuted: el.muted, rr_mediaLoop: el.loop, rr_mediaVolume: el.volume });
  if (tag === 'canvas' && O.recordCanvas) { canvases.add(el); const u = canvasURL(el); if (u) a.rr_dataURL = u; }
  // inlineImages: the picture itself travels (replays offline, years later); one not loaded yet follows when it loads.
  if (tag === 'img' && O.inlineImages) {
    const u = imgURL(el);
    if (u) a.rr_dataURL = u;
    else if (!el.complete && !hooked.has(el)) { hooked.add(el); listen(el, 'load', () => { const i = ids.get(el), v = imgURL(el); if (i && v) inc(0, { texts: [], removes: [], adds: [], attributes: [{ id: i, attributes: { rr_dataURL: v } }] }); }, false); }
  }
  // Reading scroll offsets costs ~2 µs per element: skip tags that practically never scroll unless we saw them scroll.
  if (!fresh && (!NOSCROLL.test(tag) || scrolled.has(el))) { if (el.scrollLeft) a.rr_scrollLeft = el.scrollLeft; if (el.scrollTop) a.rr_scrollTop = el.scrollTop; }
  if (tag === 'iframe') { let d = null; try { d = el.contentDocument; } catch (e) {} if (!d && a.src) a.rr_src = a.src; delete a.src; }
  return a;
}
function attrVal(el, tag, name, v, masked) {
  if (v == null) return null;
  if (name === 'value' && txtInputs.test(tag)) return isPw(el) ? '********' : inputText(el, v);
  if (URL_ATTR.test(name) && !(tag === 'iframe' && name === 'src')) return abs(v, el.baseURI);
  if (name === 'srcset') return v.split(',').map(p => { const t = p.trim().split(/\s+/); t[0] = abs(t[0], el.baseURI); return t.join(' '); }).join(', ');
  if (name === 'style') return absCss(v, el.baseURI);
  if (masked && MASKABLE_ATTR.test(name)) return maskText(v);
  return v;
}
// Same-origin (or CORS-clean) loaded images as data URLs, once per URL; cross-origin ones taint the canvas and stay URLs.
let imgCache = new Map(), imgBytes = 0;
function imgURL(img) {
  const src = img.currentSrc || img.src;
  if (!src || /^data:/i.test(src) || !img.complete || !img.naturalWidth) return '';
  let u = imgCache.get(src);
  if (u != null) return u;
  u = '';
  try {
    const w = img.naturalWidth, h = img.naturalHeight;
    if (w * h <= 4e6) {
      const c = img.ownerDocument.createElement('canvas'); c.width = w; c.height = h;
      c.getContext('2d').drawImage(img, 0, 0);
      u = c.toDataURL('image/webp', 0.85);
    }
  } catch (e) { u = ''; }
  if (u.length > 2e6) u = '';
  if (imgBytes + u.length < 32e6) { imgCache.set(src, u); imgBytes += u.length; }
  return u;
}
function canvasURL(c) {
  try {
    const u = c.toDataURL('image/webp', 0.6), k = c.width + 'x' + c.height;
    if (!blankCanvas.has(k)) { const b = c.ownerDocument.createElement('canvas'); b.width = c.width; b.height = c.height; blankCanvas.set(k, b.toDataURL('image/webp', 0.6)); }
    return u === blankCanvas.get(k) ? '' : u;
  } catch (e) { return ''; }
}
function nextIdOf(n) { for (let s = n.nextSibling; s; s = s.nextSibling) { const i = ids.get(s); if (i) return i; } return null; }

/** Serialize one node, without its children: {o, kids (may have serialized children), masked, cap}. */
function node1(n, masked, rootId, fresh, shadow, cap) {
  let id = ids.get(n);
  if (!id) ids.set(n, id = nid++);
  let o, kids = false, tag = '';
  switch (n.nodeType) {
    case 9: o = { type: 0, childNodes: [] }; if (n.compatMode === 'BackCompat') o.compatMode = n.compatMode; kids = true; break;
    case 10: o = { type: 1, name: n.name, publicId: n.publicId, systemId: n.systemId }; break;
    case 1: {
      tag = n.tagName.toLowerCase();
      masked = masked || !!(MASK && n.matches(MASK));
      const blocked = BLOCK && n.matches(BLOCK);
      let a;
      if (blocked) { const r = n.getBoundingClientRect(); a = { rr_width: r.width + 'px', rr_height: r.height + 'px' }; if (n.getAttribute('class') != null) a.class = n.getAttribute('class'); }
      else a = attrsOf(n, tag, masked, fresh);
      o = { type: 2, tagName: tag, attributes: a, childNodes: [] };
      if (n.namespaceURI === 'http://www.w3.org/2000/svg') o.isSVG = true;
      if (blocked) o.needBlock = true;
      if (tag.indexOf('-') > 0) o.isCustom = true;
      kids = !blocked && tag !== 'textarea';
      if (!blocked && shadowOf(n)) o.isShadowHost = true;
      if (!blocked && tag === 'iframe') iframesTodo.push(n);
      break;
    }
    case 3: {
      const p = n.parentNode, pt = p && p.nodeName;
      o = { type: 3, textContent: pt === 'SCRIPT' ? 'SCRIPT_PLACEHOLDER' : pt === 'STYLE' ? (cap ? '' : absCss(n.data, n.baseURI)) : masked ? maskText(n.data) : n.data };
      if (pt === 'STYLE') o.isStyle = true;
      break;
    }
    case 4: o = { type: 4, textContent: '' }; break;
    case 8: o = { type: 5, textContent: n.data }; break;
    default: return null;
  }
  o.id = id;
  if (rootId && n.nodeType !== 9) o.rootId = rootId;
  if (shadow) o.isShadow = true;
  // a <style> carrying its CSSOM as _cssText has its text children serialized empty (the replayer refills them)
  return { o, kids, masked, cap: tag === 'style' && !!o.attributes._cssText };
}

/**
 * Serialize node n and its subtree (light DOM, then open shadow root). Nested mode (adds == null): returns the tree.
 * Mutation mode: pushes {parentId, nextId, node} entries into adds (parents first, each sibling after its next sibling).
 */
function ser(n, masked, rootId, adds, parentId, shadow, cap) {
  const r = node1(n, masked, rootId, !!adds, shadow, cap);
  if (!r) return null;
  const o = r.o, id = o.id;
  if (adds) adds.push({ parentId, nextId: nextIdOf(n), node: o });
  if (r.kids) {
    if (adds) { for (let c = n.lastChild; c; c = c.previousSibling) ser(c, r.masked, rootId, adds, id, false, r.cap); }
    else for (let c = n.firstChild; c; c = c.nextSibling) { const s = ser(c, r.masked, rootId, null, 0, false, r.cap); if (s) o.childNodes.push(s); }
    const sr = n.nodeType === 1 && shadowOf(n);
    if (sr) {
      observe(sr);
      if (adds) { for (let c = sr.lastChild; c; c = c.previousSibling) ser(c, r.masked, rootId, adds, id, true); }
      else for (let c = sr.firstChild; c; c = c.nextSibling) { const s = ser(c, r.masked, rootId, null, 0, true); if (s) o.childNodes.push(s); }
      if (sr.adoptedStyleSheets && sr.adoptedStyleSheets.length) adoptTodo.push(sr);
    }
  }
  return o;
}

// ---------- full snapshot (time-sliced), iframes, adopted stylesheets ----------
/*
 * A full snapshot walks the document in slices of SLICE_MS so a big DOM never blocks the page for long; small pages
 * finish in the first slice, synchronously. While it runs, the page may change. The snapshot keeps each node as it was
 * when visited, and the mutation observer sorts changes: a node added under an already visited parent, or removed after
 * being visited, becomes a mutation applied right after the snapshot; a node added or removed where the walk has not
 * been yet is simply seen (or not) when the walk gets there. Other events wait and follow the snapshot.
 */
const SLICE_MS = 25;
let snap = null;
function snapshot() {
  if (!on) return Promise.resolve();
  if (snap) return snap.done;
  if (mo) mo.takeRecords();
  clearPending();
  sheetIds = new WeakMap(); iframesTodo = []; adoptTodo = [];
  observe(D);
  const s = snap = { t0: now(), p0: performance.now(), visited: new WeakSet(), skip: new WeakSet(), held: [], maxSlice: 0,
    meta: { href: location.href, width: W.innerWidth, height: W.innerHeight }, offset: { left: W.pageXOffset || 0, top: W.pageYOffset || 0 } };
  let resolve;
  s.done = new Promise(r => { resolve = r; });
  const stack = [];
  const visit = (n, r) => {
    s.visited.add(n);
    if (!r.kids) return;
    const sr = n.nodeType === 1 && shadowOf(n);
    if (sr) {
      observe(sr);
      if (sr.adoptedStyleSheets && sr.adoptedStyleSheets.length) adoptTodo.push(sr);
      for (let c = sr.lastChild; c; c = c.previousSibling) stack.push([c, sr, r.o, r.masked, true, false]);
    }
    for (let c = n.lastChild; c; c = c.previousSibling) stack.push([c, n, r.o, r.masked, false, r.cap]);
  };
  const root = node1(D, O.maskAllText, 0, false, false, false);
  visit(D, root);
  // on any failure: give up this snapshot, release held events (nothing may stay held forever)
  const abort = e => { if (e) fail(e); if (snap === s) { snap = null; for (const h of s.held) emit(h[0], h[1], h[2]); } resolve(); };
  const step = () => { try { step1(); } catch (e) { abort(e); } };
  const step1 = () => {
    if (!on || snap !== s) return abort();
    const t = performance.now();
    let k = 0;
    while (stack.length) {
      const [n, parent, po, masked, shadow, cap] = stack.pop();
      if (s.skip.has(n) || n.parentNode !== parent) continue; // removed or moved since its parent was visited
      const r = node1(n, masked, 0, false, shadow, cap);
      if (!r) continue;
      po.childNodes.push(r.o);
      visit(n, r);
      if (++k % 128 === 0 && performance.now() - t > SLICE_MS) break;
    }
    s.maxSlice = Math.max(s.maxSlice, performance.now() - t);
    if (stack.length) { setTimeout(step, 0); return; }
    // The walk is complete. Stringify the snapshot in this task when it was quick, else in a task of its own; then
    // release the mutations made meanwhile, attached iframes, adopted sheets and held events.
    const out = () => { try { out1(); } catch (e) { abort(e); } };
    const out1 = () => {
      if (snap !== s) return abort();
      const t1 = performance.now();
      emit(4, s.meta, s.t0);
      emit(2, { node: root.o, initialOffset: s.offset }, s.t0);
      s.maxSlice = Math.max(s.maxSlice, performance.now() - t1);
      const t2 = performance.now();
      snap = null;
      if (D.adoptedStyleSheets && D.adoptedStyleSheets.length) adoptTodo.push(D);
      flushMutations(s.t0);
      for (const h of s.held) emit(h[0], h[1], h[2]);
      done(performance.now() - t2);
    };
    if (performance.now() - s.p0 < SLICE_MS) out(); else setTimeout(out, 0);
  };
  const done = last => {
    const ms = performance.now() - s.p0, slice = Math.max(s.maxSlice, last);
    if (!stats.snapshots) stats.firstSnapshotMs = Math.round(ms);
    stats.snapshots++; stats.snapshotMs = Math.round(ms); stats.maxSnapshotMs = Math.max(stats.maxSnapshotMs, Math.round(ms));
    stats.snapshotSliceMs = Math.round(slice); stats.maxSnapshotSliceMs = Math.max(stats.maxSnapshotSliceMs || 0, Math.round(slice));
    resolve();
  };
  step();
  return s.done;
}
function afterSer() {
  const fr = iframesTodo, ad = adoptTodo;
  iframesTodo = []; adoptTodo = [];
  fr.forEach(attachFrame);
  ad.forEach(r => adopted(r));
}
// elements, roots and documents we attached listeners/observers to; reset by start() (stop() removed them all)
let hooked = new WeakSet(), observed = new WeakSet(), watched = new WeakSet();
function attachFrame(f) {
  if (!hooked.has(f)) { hooked.add(f); listen(f, 'load', () => ids.get(f) && f.isConnected && attachFrame(f), false); }
  let d = null;
  try { d = f.contentDocument; } catch (e) {}
  const fid = ids.get(f);
  if (!d || !fid || !d.documentElement || d.URL === 'about:blank' && /^(?!about:)./.test(f.getAttribute('src') || '')) return;
  const did_ = ids.get(d) || nid++;
  ids.set(d, did_);
  const masked = O.maskAllText || !!closestX(f, MASK);
  const node = ser(d, masked, did_);
  inc(0, { adds: [{ parentId: fid, nextId: null, node }], removes: [], texts: [], attributes: [], isAttachIframe: true });
  observe(d);
  watchDoc(d);
  afterSer();
}
function adopted(root) {
  const list = root.adoptedStyleSheets, host = root.nodeType === 9 ? root : root.host, id = host && ids.get(host);
  if (!list || !id) return;
  const styles = [], styleIds = [];
  for (const s of list) {
    let sid = sheetIds.get(s);
    if (!sid) {
      sheetIds.set(s, sid = ++sheetSeq);
      const rules = [];
      try { for (let i = 0; i < s.cssRules.length; i++) rules.push({ rule: s.cssRules[i].cssText, index: i }); } catch (e) {}
      styles.push({ styleId: sid, rules });
    }
    styleIds.push(sid);
  }
  inc(15, { id, styleIds, styles });
}

// ---------- mutations ----------
let mo = null, pAdd = new Set(), pRem = [], pText = new Set(), pAttr = new Map(), pAdopt = new Set();
function clearPending() { pAdd = new Set(); pRem = []; pText = new Set(); pAttr = new Map(); }
function observe(root) {
  if (!mo || observed.has(root)) return;
  observed.add(root);
  mo.observe(root, { childList: true, subtree: true, attributes: true, characterData: true, attributeOldValue: false, characterDataOldValue: false });
  if (root.nodeType === 11) { listen(root, 'scroll', onScroll); listen(root, 'change', onInput); }
}
function onMutations(recs) {
  for (const r of recs) {
    const t = r.target;
    if (r.type === 'childList') {
      for (const n of r.removedNodes) {
        pAdd.delete(n);
        if (snap && !snap.visited.has(n)) { snap.skip.add(n); continue; } // not in the snapshot (yet): nothing to remove
        const i = ids.get(n), p = ids.get(t.nodeType === 11 ? t.host : t);
        if (i && p) pRem.push({ parentId: p, id: i, isShadow: t.nodeType === 11 || undefined, t });
      }
      const tn = t.nodeType === 11 ? t.host : t;
      for (const n of r.addedNodes) {
        if (snap && !snap.visited.has(tn)) { snap.skip.delete(n); continue; } // the walk will see it under its parent
        pAdd.add(n);
      }
    } else if (r.type === 'characterData') pText.add(t);
    else { let s = pAttr.get(t); if (!s) pAttr.set(t, s = new Set()); s.add(r.attributeName); }
  }
  if (!snap) flushMutations();
}
function flushMutations(ts) {
  if (!on) return;
  const adds = [], removes = [], texts = [], attributes = [], seen = new Set();
  const folded = n => { for (let p = parentOf(n); p; p = parentOf(p)) if (pAdd.has(p)) return true; return false; };
  const known = n => n.isConnected && ids.has(n);
  for (const r of pRem) {
    const tn = r.t.nodeType === 11 ? r.t.host : r.t;
    if (seen.has(r.id) || !tn || !tn.isConnected) continue;
    seen.add(r.id); delete r.t; removes.push(r);
  }
  const done = new Set();
  // Top-level adds: a node whose ancestor is also added is folded into that ancestor's subtree;
  // a pending next sibling is emitted first so every nextId already exists when the replayer applies it.
  // (iterative: a run of thousands of appended siblings must not recurse)
  const addOne = n => {
    if (done.has(n)) return;
    done.add(n);
    if (!n.isConnected || folded(n)) return;
    const p = n.parentNode, host = p && p.nodeType === 11 ? p.host : p, pid = host && ids.get(host);
    if (!pid || host.nodeType === 1 && (host.tagName === 'TEXTAREA' || closestX(host, BLOCK))) return;
    const doc = n.ownerDocument, rootId = doc !== D ? ids.get(doc) : 0;
    ser(n, O.maskAllText || !!closestX(host, MASK), rootId, adds, pid, p.nodeType === 11);
  };
  for (const n of pAdd) {
    if (done.has(n)) continue;
    const run = [n];
    for (let x = n.nextSibling; x; x = x.nextSibling) if (pAdd.has(x)) { if (done.has(x)) break; run.push(x); } else if (ids.has(x)) break;
    for (let i = run.length - 1; i >= 0; i--) addOne(run[i]);
  }
  const added = new Set(adds.map(a => a.node.id));
  for (const n of pText) {
    const i = ids.get(n);
    if (!i || added.has(i) || !known(n) || closestX(n, BLOCK)) continue;
    const p = n.parentNode, pt = p && p.nodeName;
    if (pt === 'TEXTAREA') continue;
    const masked = pt !== 'STYLE' && pt !== 'SCRIPT' && (O.maskAllText || !!closestX(n, MASK));
    texts.push({ id: i, value: pt === 'SCRIPT' ? 'SCRIPT_PLACEHOLDER' : pt === 'STYLE' ? absCss(n.data, n.baseURI) : masked ? maskText(n.data) : n.data });
  }
  for (const [el, names] of pAttr) {
    const i = ids.get(el);
    if (!i || added.has(i) || !known(el) || closestX(el, BLOCK)) continue;
    const tag = el.tagName.toLowerCase(), masked = O.maskAllText || !!closestX(el, MASK), a = {};
    for (const name of names) if (!(tag === 'iframe' && name === 'src')) a[name] = attrVal(el, tag, name, el.getAttribute(name), masked);
    if (Object.keys(a).length) attributes.push({ id: i, attributes: a });
  }
  clearPending();
  if (adds.length || removes.length || texts.length || attributes.length) inc(0, { texts, attributes, removes, adds }, ts);
  for (const r of pAdopt) adopted(r);
  pAdopt.clear();
  afterSer();
}

// ---------- user interactions ----------
const tgt = e => (e.composedPath && e.composedPath()[0]) || e.target;
let moves = [], lastMove = 0, moveTimer = 0;
function onMove(e) {
  const t = now();
  if (t - lastMove < O.mousemoveSampleMs) return;
  lastMove = t;
  const p = e.touches ? e.touches[0] : e;
  if (!p) return;
  moves.push({ x: p.clientX, y: p.clientY, id: ids.get(tgt(e)) || 0, t, s: e.touches ? 6 : e.type === 'drag' ? 12 : 1 });
  if (!moveTimer) moveTimer = setTimeout(guard(flushMoves), 500);
}
function flushMoves() {
  clearTimeout(moveTimer); moveTimer = 0;
  if (!moves.length) return;
  const ts = now(), m = moves;
  moves = [];
  for (const s of [1, 6, 12]) {
    const ps = m.filter(p => p.s === s).map(p => ({ x: p.x, y: p.y, id: p.id, timeOffset: p.t - ts }));
    if (ps.length) emit(3, { source: s, positions: ps }, ts);
  }
}
const MI = { mouseup: 0, mousedown: 1, click: 2, contextmenu: 3, dblclick: 4, focus: 5, blur: 6, touchstart: 7, touchend: 9, touchcancel: 10 };
function onInteract(e) {
  const n = tgt(e), id = ids.get(n);
  if (!id || n.nodeType !== 1 && n.nodeType !== 9) return;
  const d = { type: MI[e.type], id };
  const p = e.changedTouches ? e.changedTouches[0] : e;
  if (p && p.clientX != null && e.type !== 'focus' && e.type !== 'blur') { d.x = p.clientX; d.y = p.clientY; }
  if (e.type === 'mousedown' || e.type === 'mouseup' || e.type === 'click') flushMoves();
  inc(2, d);
}
const scrollT = new Map();
function onScroll(e) {
  const n = tgt(e);
  if (n.nodeType === 1) scrolled.add(n);
  if (scrollT.has(n)) return;
  scrollT.set(n, setTimeout(guard(() => {
    scrollT.delete(n);
    const d = n.nodeType === 9 ? n : null, el = d ? (d.scrollingElement || d.documentElement) : n;
    const id = ids.get(d || n);
    if (!id || !n.isConnected && !d || closestX(el, BLOCK) && !d) return;
    const w = d && d.defaultView;
    inc(3, { id, x: w ? w.scrollX : el.scrollLeft, y: w ? w.scrollY : el.scrollTop });
  }), 100));
}
let resizeT = 0;
function onResize() {
  clearTimeout(resizeT);
  resizeT = setTimeout(guard(() => inc(4, { width: W.innerWidth, height: W.innerHeight })), 200);
}
const lastInput = new WeakMap();
const onInput = e => inputEvent(tgt(e), !!e.isTrusted);
/** Input (source 5) for el's current value (masked); programmatic changes come from the patched setters (trusted=false). */
function inputEvent(el, trusted) {
  const id = ids.get(el);
  if (!id || !el.tagName || !txtInputs.test(el.tagName.toLowerCase())) return;
  if (closestX(el, IGNORE) || closestX(el, BLOCK)) return;
  const type = (el.type || '').toLowerCase(), chk = type === 'checkbox' || type === 'radio';
  const d = { id, text: chk ? inputText(el, String(el.value || '')) : inputText(el), isChecked: chk ? !!el.checked : false, userTriggered: trusted };
  const prev = lastInput.get(el);
  if (prev && prev.text === d.text && prev.isChecked === d.isChecked) return;
  lastInput.set(el, d);
  inc(5, d);
  if (type === 'radio' && el.checked && el.name) {
    const root = el.form || el.getRootNode();
    for (const r of root.querySelectorAll('input[type=radio]')) {
      const rid = ids.get(r);
      if (r !== el && r.name === el.name && rid) { const o = { id: rid, text: inputText(r, String(r.value || '')), isChecked: false, userTriggered: trusted }; lastInput.set(r, o); inc(5, o); }
    }
  }
}
const MEDIA = { play: 0, pause: 1, seeked: 2, volumechange: 3, ratechange: 4 };
function onMedia(e) {
  const m = tgt(e), id = ids.get(m);
  if (!id || closestX(m, BLOCK)) return;
  inc(7, { type: MEDIA[e.type], id, currentTime: m.currentTime, volume: m.volume, muted: m.muted, playbackRate: m.playbackRate });
}
let selT = 0;
function onSelection(e) {
  const doc = e.target && e.target.nodeType === 9 ? e.target : D;
  clearTimeout(selT);
  selT = setTimeout(guard(() => {
    const s = doc.getSelection && doc.getSelection(), ranges = [];
    if (!s || s.isCollapsed) return;
    for (let i = 0; i < s.rangeCount; i++) {
      const r = s.getRangeAt(i), a = ids.get(r.startContainer), b = ids.get(r.endContainer);
      if (a && b) ranges.push({ start: a, startOffset: r.startOffset, end: b, endOffset: r.endOffset });
    }
    if (ranges.length) inc(14, { ranges });
  }), 200);
}
function watchDoc(d) {
  if (watched.has(d)) return;
  watched.add(d);
  listen(d, 'mousemove', onMove); listen(d, 'touchmove', onMove); listen(d, 'drag', onMove);
  for (const k in MI) listen(d, k, onInteract);
  listen(d, 'scroll', onScroll); listen(d, 'input', onInput); listen(d, 'change', onInput);
  for (const k in MEDIA) listen(d, k, onMedia);
  listen(d, 'selectionchange', onSelection);
}

// ---------- stylesheet & shadow patches ----------
function sheetEvent(sh, d) {
  const o = sh.ownerNode, id = o && ids.get(o);
  if (o && !id) { cssDirty.add(o); return; } // not serialized yet: it will carry its CSSOM as _cssText
  if (id) d.id = id; else { const s = sheetIds.get(sh); if (!s) return; d.styleId = s; }
  if (o && closestX(o, BLOCK)) return;
  inc(8, d);
}
/** Installed by init() right away (before DOMContentLoaded) so closed shadow roots attached early are seen too. */
function patchShadow() {
  patch(W.Element && Element.prototype, 'attachShadow', f => function () {
    const sr = f.apply(this, arguments);
    try { if (sr.mode === 'closed') closedRoots.set(this, sr); if (ids.has(this) || this.isConnected) observe(sr); } catch (e) { fail(e); }
    return sr;
  });
}
function patchDOM() {
  const CSP = W.CSSStyleSheet && CSSStyleSheet.prototype;
  patch(CSP, 'insertRule', f => function (rule, index) { const r = f.apply(this, arguments); guard(sheetEvent)(this, { adds: [{ rule, index: index === undefined ? 0 : index }] }); return r; });
  patch(CSP, 'deleteRule', f => function (index) { const r = f.apply(this, arguments); guard(sheetEvent)(this, { removes: [{ index }] }); return r; });
  patch(CSP, 'replaceSync', f => function (text) { const r = f.apply(this, arguments); guard(sheetEvent)(this, { replaceSync: text }); return r; });
  patch(CSP, 'replace', f => function (text) { const r = f.apply(this, arguments); guard(sheetEvent)(this, { replace: text }); return r; });
  const later = guard(r => { pAdopt.add(r); queueMicrotask(guard(() => { if (mo) onMutations(mo.takeRecords()); })); });
  patchSetter(W.ShadowRoot && ShadowRoot.prototype, 'adoptedStyleSheets', later);
  const prog = el => { if (on && ids.has(el)) inputEvent(el, false); };
  for (const [C, props] of [[W.HTMLInputElement, ['value', 'checked']], [W.HTMLTextAreaElement, ['value']], [W.HTMLSelectElement, ['value', 'selectedIndex']]])
    for (const p of props) patchSetter(C && C.prototype, p, prog);
  patchSetter(W.Document && Document.prototype, 'adoptedStyleSheets', later);
}

// ---------- console & network plugins ----------
function str(v, depth) {
  try {
    if (typeof v === 'string') return JSON.stringify(v.length > 2000 ? v.slice(0, 2000) + '…' : v);
    if (v instanceof Error) return JSON.stringify(v.name + ': ' + v.message + (v.stack ? '\n' + v.stack : ''));
    if (v && v.nodeType) return JSON.stringify('<' + (v.nodeName || '').toLowerCase() + '>');
    if (typeof v === 'function') return JSON.stringify('function ' + (v.name || ''));
    const seen = new WeakSet();
    const s = JSON.stringify(v, (k, x) => {
      if (typeof x === 'object' && x) { if (seen.has(x)) return '[Circular]'; seen.add(x); if (x.nodeType) return '<' + x.nodeName.toLowerCase() + '>'; }
      if (typeof x === 'bigint') return x + 'n';
      if (typeof x === 'function') return 'function';
      return x;
    });
    return s === undefined ? String(v) : s.length > 5000 ? s.slice(0, 5000) + '…' : s;
  } catch (e) { return '"[unserializable]"'; }
}
let consoleCount = 0, inConsole = false;
function logEvent(level, args, trace) {
  if (consoleCount++ > 1000) return;
  emit(6, { plugin: 'rrweb/console@1', payload: { level, trace: trace || [], payload: Array.from(args).slice(0, 20).map(a => str(a)) } });
}
function patchConsole() {
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'assert', 'trace', 'table']) {
    patch(W.console, level, f => function () {
      if (!inConsole) { inConsole = true; try { const a = level === 'assert' ? (arguments[0] ? null : Array.prototype.slice.call(arguments, 1)) : arguments; if (a) logEvent(level, a); } catch (e) { fail(e); } inConsole = false; }
      return f.apply(this, arguments);
    });
  }
  listen(W, 'error', e => e.message && logEvent('error', [e.message], e.filename ? [`${e.filename}:${e.lineno}:${e.colno}`] : []));
  listen(W, 'unhandledrejection', e => logEvent('error', ['Unhandled rejection', e.reason]));
}
const SENSITIVE = /^(authorization|cookie|set-cookie|x-csrf-token|proxy-authorization)$|token|secret|password|key/i;
function hdrs(h) {
  const o = {};
  const put = (v, k) => { if (!SENSITIVE.test(k)) o[k.toLowerCase()] = String(v).slice(0, 1000); };
  try { if (h && h.forEach) h.forEach(put); else if (Array.isArray(h)) h.forEach(p => put(p[1], p[0])); else if (h) Object.keys(h).forEach(k => put(h[k], k)); } catch (e) {}
  return o;
}
const cut = s => typeof s === 'string' ? (s.length > 10000 ? s.slice(0, 10000) + '…' : s) : undefined;
const own = u => url && u.indexOf(O.apiHost.replace(/\/$/, '') + '/api/v1/ingest') === 0;
/** Query-string values are replaced by '*' unless captureNetwork.queryValues (they often carry emails and tokens). */
function netURL(u) {
  if (O.captureNetwork.queryValues || u.indexOf('?') < 0) return u;
  try { const x = new URL(u); for (const k of [...new Set(x.searchParams.keys())]) x.searchParams.set(k, '*'); return x.href.replace(/=%2A/g, '=*'); } catch (e) { return u.split('?')[0]; }
}
function netEvent(e) {
  e.name = netURL(e.name); emit(6, { plugin: 'rrweb/network@1', payload: { requests: [e] } }); }
function patchNetwork() {
  const cfg = O.captureNetwork;
  const rel = () => Math.round(performance.now() * 10) / 10;
  patch(W, 'fetch', f => function (input, init) {
    let e = null;
    try {
      const req = W.Request && input instanceof Request ? input : null, u = abs(req ? req.url : String(input && input.href || input));
      if (!own(u)) {
        e = { name: u, method: String(init && init.method || req && req.method || 'GET').toUpperCase(), initiatorType: 'fetch', startTime: rel(), timestamp: now() };
        if (cfg.headers) e.requestHeaders = hdrs(init && init.headers || req && req.headers);
        if (cfg.bodies && init && typeof init.body === 'string') e.requestBody = cut(init.body);
      }
    } catch (x) { fail(x); }
    const p = f.apply(this, arguments);
    if (e) p.then(guard(r => {
      e.endTime = rel(); e.responseStatus = r.status;
      if (cfg.headers) e.responseHeaders = hdrs(r.headers);
      if (cfg.bodies && /text|json|xml|javascript|form/.test(r.headers.get('content-type') || '')) r.clone().text().then(t => { e.responseBody = cut(t); netEvent(e); }, () => netEvent(e));
      else netEvent(e);
    }), guard(() => { e.endTime = rel(); e.responseStatus = 0; netEvent(e); }));
    return p;
  });
  const XP = W.XMLHttpRequest && XMLHttpRequest.prototype, xi = new WeakMap();
  patch(XP, 'open', f => function (method, u) {
    try { xi.set(this, { name: abs(String(u)), method: String(method).toUpperCase(), initiatorType: 'xmlhttprequest', h: {} }); } catch (x) { fail(x); }
    return f.apply(this, arguments);
  });
  patch(XP, 'setRequestHeader', f => function (k, v) { const e = xi.get(this); if (e) e.h[k] = v; return f.apply(this, arguments); });
  patch(XP, 'send', f => function (body) {
    const e = xi.get(this), x = this;
    if (e && !own(e.name)) try {
      e.startTime = rel(); e.timestamp = now();
      if (cfg.headers) e.requestHeaders = hdrs(e.h);
      if (cfg.bodies && typeof body === 'string') e.requestBody = cut(body);
      x.addEventListener('loadend', guard(() => {
        e.endTime = rel(); e.responseStatus = x.status;
        if (cfg.headers) { const o = {}; x.getAllResponseHeaders().trim().split(/[\r\n]+/).forEach(l => { const i = l.indexOf(':'); if (i > 0) o[l.slice(0, i).trim()] = l.slice(i + 1).trim(); }); e.responseHeaders = hdrs(o); }
        if (cfg.bodies && (x.responseType === '' || x.responseType === 'text')) e.responseBody = cut(x.responseText);
        delete e.h; netEvent(e);
      }));
    } catch (x) { fail(x); }
    return f.apply(this, arguments);
  });
}

// ---------- delivery: batches, gzip, retries, IndexedDB queue ----------
const q = []; // batches oldest first: {id, sid, wid, did, t, u, ev, n, bytes, tries, at, stored}
let sending = false, pumpT = 0, ofetch = null;
function flush(rotating, noPump) {
  clearTimeout(timer); timer = 0;
  if (!rotating) { flushMoves(); if (mo && on) { const r = mo.takeRecords(); if (r.length) onMutations(r); } }
  if (!buf.length) return;
  const b = { id: uuid7(), sid: bufSid, wid, did, t: now(), u: url, ev: buf.join(','), n: buf.length, tries: 0, at: 0 };
  b.bytes = b.ev.length;
  buf = []; bufBytes = 0;
  stats.batches++;
  if (!url) return keep(b);
  q.push(b);
  persist(b);
  bound();
  if (!noPump) pump();
}
const body = b => `{"batch_id":"${b.id}","session_id":"${b.sid}","window_id":"${b.wid}","distinct_id":${JSON.stringify(b.did)},"sent_at":${now()},"lib":"reel-js","lib_version":"${VERSION}","events":[${b.ev}]}`;
async function gzip(s) {
  if (!W.CompressionStream) return s;
  return new Uint8Array(await new Response(new Blob([s]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}
function schedule(ms) { clearTimeout(pumpT); pumpT = setTimeout(guard(pump), Math.max(0, ms)); }
async function pump() {
  if (sending || !q.length || !ofetch) return;
  const b = q[0], wait = b.at - now();
  if (wait > 0) return schedule(wait);
  sending = true;
  let status = 0;
  try {
    const data = await gzip(body(b)), ac = W.AbortController ? new AbortController() : null;
    const to = ac && setTimeout(() => ac.abort(), O.requestTimeoutMs);
    const r = await ofetch.call(W, b.u, { method: 'POST', body: data, headers: { 'Content-Type': 'text/plain' }, credentials: 'omit', mode: 'cors', signal: ac && ac.signal });
    clearTimeout(to);
    status = r.status;
    if (status === 200) stats.bytesSent += data.length || data.byteLength || 0;
  } catch (e) { status = 0; }
  sending = false;
  const i = q.indexOf(b); // older stored batches may have been queued in front of it meanwhile
  if (i >= 0) {
    if (status >= 200 && status < 300) { q.splice(i, 1); unpersist(b); stats.sent++; keep(b); }
    else if (status === 0 || status === 429 || status >= 500) {
      b.tries++; stats.retries++;
      const d = Math.min(O.retryMaxMs, O.retryBaseMs * 2 ** Math.min(b.tries - 1, 16));
      b.at = now() + d * (0.75 + Math.random() * 0.5);
    } else { q.splice(i, 1); unpersist(b); stats.dropped4xx++; }
  }
  if (q.length) schedule(q[0].at - now());
}
let dbp = null;
function db() {
  if (!dbp) dbp = new Promise((res, rej) => {
    const r = W.indexedDB.open('reel', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('q', { keyPath: 'id' });
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  return dbp;
}
function tx(mode, f) {
  return db().then(d => new Promise((res, rej) => {
    const t = d.transaction('q', mode), out = f(t.objectStore('q'));
    t.oncomplete = () => res(out && out.result);
    t.onerror = t.onabort = () => rej(t.error);
    if (mode !== 'readonly' && t.commit) t.commit();
  }));
}
const rec = b => ({ id: b.id, sid: b.sid, wid: b.wid, did: b.did, t: b.t, u: b.u, ev: b.ev, n: b.n, bytes: b.bytes });
function persist(b) { tx('readwrite', s => s.put(rec(b))).then(() => { b.stored = true; }, fail); }
function unpersist(b) { tx('readwrite', s => s.delete(b.id)).catch(fail); if (b.ls) sset(LS, 'reel_p:' + b.id, null); }
/** Pick up batches left by earlier page loads (this tab's, or any older than 10 s) and queue them oldest first. */
async function loadStored() {
  try {
    for (let i = W.localStorage.length - 1; i >= 0; i--) {
      const k = W.localStorage.key(i);
      if (k && k.indexOf('reel_p:') === 0) { const b = sget(LS, k); if (b && b.id) { await tx('readwrite', s => s.put(b)); } sset(LS, k, null); }
    }
  } catch (e) { fail(e); }
  let all = [];
  try { all = await tx('readonly', s => s.getAll()) || []; } catch (e) { fail(e); return; }
  const have = new Set(q.map(b => b.id)), t = now();
  let added = 0;
  for (const r of all) if (!have.has(r.id) && (r.wid === wid || t - r.t > 10000)) { q.push(Object.assign(r, { tries: 0, at: 0, stored: true })); added++; }
  if (added) { q.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0); stats.resent += added; bound(); }
  pump();
}
/** Keep the queue under maxQueueBytes: drop oldest whole sessions (never the current one) first, then oldest batches. */
function bound() {
  let total = q.reduce((s, b) => s + b.bytes, 0);
  if (total <= O.maxQueueBytes) return;
  const drop = { sessions: 0, batches: 0, bytes: 0 }, cur = sess && sess.id;
  let resnap = false;
  const kill = b => { const i = q.indexOf(b); if (i < 0 || i === 0 && sending) return; q.splice(i, 1); unpersist(b); drop.batches++; drop.bytes += b.bytes; total -= b.bytes; };
  for (const sid of [...new Set(q.map(b => b.sid))]) {
    if (total <= O.maxQueueBytes) break;
    if (sid === cur) continue;
    q.filter(b => b.sid === sid).forEach(kill); drop.sessions++;
  }
  for (const b of q.slice()) { if (total <= O.maxQueueBytes) break; if (b.sid === cur) resnap = true; kill(b); }
  stats.droppedBatches += drop.batches; stats.droppedSessions += drop.sessions; stats.droppedBytes += drop.bytes;
  if (drop.batches) {
    pendingDrop = pendingDrop ? { sessions: pendingDrop.sessions + drop.sessions, batches: pendingDrop.batches + drop.batches, bytes: pendingDrop.bytes + drop.bytes } : drop;
    setTimeout(guard(() => { if (pendingDrop && on) { const p = pendingDrop; pendingDrop = null; emit(5, { tag: 'reel.dropped', payload: p }); if (resnap) snapshot(); } }), 0);
  }
}
/** Page is going away: make everything durable synchronously (localStorage) and try a keepalive send. */
function onHide() {
  flush(false, true);
  let budget = 60000;
  for (const b of q) {
    if (!b.stored && !b.ls) b.ls = sset(LS, 'reel_p:' + b.id, rec(b));
    const s = body(b);
    if (s.length <= budget) {
      budget -= s.length;
      try { ofetch.call(W, b.u, { method: 'POST', body: s, headers: { 'Content-Type': 'text/plain' }, keepalive: true, credentials: 'omit', mode: 'cors' }).catch(() => {}); } catch (e) {}
    }
  }
}

/** Batches nobody waits for (all without apiHost, delivered ones with it) stay for exportPackage, up to keepBytes. */
let kept = [], keptBytes = 0, expP = null;
function keep(b) {
  if (!(O.keepBytes > 0)) return;
  kept.push(b); keptBytes += b.bytes;
  while (keptBytes > O.keepBytes && kept.length > 1) keptBytes -= kept.shift().bytes;
}
/** reel-export.js (next to reel.js, or options.exportScript), injected on first use; its own tag is not recorded. */
const exporter = () => expP || (expP = new Promise((res, rej) => {
  if (W.reelExport) return res(W.reelExport);
  const s = D.createElement('script');
  s.src = O && O.exportScript || new URL('reel-export.js', SRC || reel._base || location.href).href;
  s.onload = () => { s.remove(); W.reelExport ? res(W.reelExport) : rej(new Error('reel: ' + s.src + ' is not the exporter')); };
  s.onerror = () => { s.remove(); expP = null; rej(new Error('reel: cannot load the exporter from ' + s.src)); };
  (D.head || D.documentElement).appendChild(s);
  if (mo) onMutations(mo.takeRecords().filter(r => r.addedNodes[0] !== s));
}));
const inner = () => ({ O, sess, wid, did, q, kept, VERSION, flush, snap: snap && snap.done, tx: url ? tx : null });

// ---------- canvas frames ----------
function canvasTick() {
  for (const c of canvases) {
    if (!c.isConnected) { canvases.delete(c); continue; }
    const id = ids.get(c), u = id && canvasURL(c);
    if (!u || c.__reelURL === u) continue;
    c.__reelURL = u;
    inc(9, { id, type: 0, commands: [{ property: 'clearRect', args: [0, 0, c.width, c.height] }, { property: 'drawImage', args: [{ rr_type: 'HTMLImageElement', src: u }, 0, 0, c.width, c.height] }] });
  }
}

// ---------- public API ----------
let hiddenAt = 0;
function start() {
  if (!on) return;
  mo = new MutationObserver(guard(onMutations));
  hooked = new WeakSet(); observed = new WeakSet(); watched = new WeakSet(); imgCache = new Map(); imgBytes = 0;
  patchDOM();
  if (O.captureConsole) patchConsole();
  if (O.captureNetwork) patchNetwork();
  watchDoc(D);
  listen(W, 'resize', onResize);
  listen(W, 'pagehide', onHide);
  listen(W, 'online', () => { q.forEach(b => b.at = 0); loadStored(); });
  listen(D, 'visibilitychange', () => {
    if (D.visibilityState === 'hidden') { hiddenAt = now(); flush(); }
    else if (hiddenAt) { hiddenAt = 0; checkSession(true); snapshot(); }
  });
  const iv = setInterval(guard(() => { if (D.visibilityState !== 'hidden') snapshot(); }), O.fullSnapshotIntervalMs);
  undo.push(() => clearInterval(iv));
  if (O.recordCanvas) { const cv = setInterval(guard(canvasTick), 1000 / Math.max(0.1, O.canvasFps)); undo.push(() => clearInterval(cv)); }
  snapshot();
}
const reel = {
  _v: VERSION,
  /** Start recording. Options: see README.md. */
  init: guard(opts => {
    if (on) return;
    O = Object.assign({}, DEF, opts || {});
    if (O.keepBytes == null) O.keepBytes = O.apiHost ? 0 : 20e6;
    if (O.captureNetwork === true) O.captureNetwork = { headers: true, bodies: true };
    BLOCK = ['.rr-block', '.ph-no-capture', '[data-reel-block]', O.blockSelector].filter(Boolean).join(',');
    MASK = ['.rr-mask', '.ph-mask', '[data-reel-mask]', O.maskTextSelector, O.maskAllInputs ? '[contenteditable]:not([contenteditable=false])' : ''].filter(Boolean).join(',');
    IGNORE = ['.rr-ignore', '.ph-ignore-input', '[data-reel-ignore]', O.ignoreSelector].filter(Boolean).join(',');
    url = O.apiHost ? O.apiHost.replace(/\/$/, '') + '/api/v1/ingest' + (O.token ? '?token=' + encodeURIComponent(O.token) : '') : '';
    ofetch = url ? W.fetch : null;
    // window id per tab; a duplicated tab copies sessionStorage while the original is alive (flag set) → new id
    wid = !sget(SS, 'reel_wl') && sget(SS, 'reel_w') || uuid7(); sset(SS, 'reel_w', wid); sset(SS, 'reel_wl', 1);
    listen(W, 'pagehide', () => sset(SS, 'reel_wl', null)); listen(W, 'pageshow', () => sset(SS, 'reel_wl', 1));
    did = sget(LS, 'reel_d') || 'anon-' + uuid7(); sset(LS, 'reel_d', did);
    on = true;
    checkSession(false);
    if (url) { loadStored(); const rs = setTimeout(guard(loadStored), 11000); undo.push(() => clearTimeout(rs)); } // again once other tabs' batches are 10 s old
    if (!sess.smp) return;
    patchShadow();
    if (D.readyState === 'loading') D.addEventListener('DOMContentLoaded', guard(start), { once: true }); else start();
  }),
  /** Record a custom event (rrweb type 5). */
  event: guard((tag, payload) => emit(5, { tag: String(tag), payload: payload === undefined ? null : payload })),
  /** Set the distinct id sent with every later batch (persisted). */
  identify: guard(id => { if (id != null) { did = String(id); sset(LS, 'reel_d', did); } }),
  /** Take a full snapshot now. */
  snapshot: guard(() => snapshot()),
  /** Flush buffered events now; resolves when the queue is empty or the next send is backing off. */
  flush: () => new Promise(res => { try { flush(); } catch (e) { fail(e); } const t0 = now(); const w = () => (!q.length || !sending && q[0].at > now() || now() - t0 > 30000 ? res(q.length) : setTimeout(w, 20)); w(); }),
  /** Stop recording: undo every listener and patch, flush what is buffered. */
  stop: guard(() => {
    if (!on) return;
    flush();
    on = false;
    if (mo) mo.disconnect();
    mo = null;
    while (undo.length) try { undo.pop()(); } catch (e) { fail(e); }
  }),
  /** Counters: events, batches, retries, drops, errors, snapshot time. */
  stats: () => Object.assign({ queued: q.length, queuedBytes: q.reduce((s, b) => s + b.bytes, 0), buffered: buf.length, kept: kept.length, keptBytes }, stats),
  /** Promise<Blob>: a .reel.zip of the current session (see README: Export). */
  exportPackage: o => exporter().then(x => x.exportPackage(inner(), o || {})),
  downloadPackage: (name, o) => exporter().then(x => x.downloadPackage(inner(), name, o)),
  /** This session in the server's web UI at now - timestampLookBack s, or null. */
  getReplayUrl: guard(({ withTimestamp = true, timestampLookBack = 10 } = {}) => {
    const host = O && (O.uiHost || O.apiHost);
    if (!sess || !sess.smp || !host) return null;
    const t = Math.max(0, now() - timestampLookBack * 1000 - (sess.f || sess.start));
    return host.replace(/\/$/, '') + '/#/s/' + sess.id + (withTimestamp ? '&t=' + Math.floor(t / 100) / 10 : '');
  }),
};
Object.defineProperty(reel, 'sessionId', { get: () => sess ? sess.id : null, enumerable: true });
Object.defineProperty(reel, 'windowId', { get: () => wid || null, enumerable: true });
Object.defineProperty(reel, 'distinctId', { get: () => did || null, enumerable: true });
W.reel = reel;
})();
