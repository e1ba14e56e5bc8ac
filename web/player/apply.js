// Apply rrweb incremental snapshots to a live document through the mirror.
import { SRC, NT } from './util.js';
import { buildTree, buildDocument, setAttr, flushIframes, iframeDocFor } from './rebuild.js';
import { addHoverTwins } from './sanitize.js';
import { replayCanvas } from './canvas.js';

/**
 * @typedef {object} ApplyCtx
 * @property {import('./mirror.js').Mirror} mirror
 * @property {boolean} visual
 * @property {boolean} [sync] seeking: skip transient effects (ripples, media playback)
 * @property {Document} doc top replay document
 * @property {Set<string>} customEls
 * @property {any} state player state: {width, height, mouse, hoverId, href, fonts, selection}
 * @property {(name: string, data: any) => void} [hook] visual effects (cursor, click, resize, adopted)
 * @property {{el: Element, sn: any}[]} [iframes]
 * @property {number} [skipped] count of skipped/unknown events
 * @property {Map<number, {x: number, y: number}>|null} [deferScroll] collect scrolls instead of applying them (seeking)
 * @property {Map<number, any>|null} [deferCanvas] keep only the last canvas mutation per canvas (seeking)
 */

/** Apply one IncrementalSnapshot `data`. Unknown sources are counted, never fatal. @param {any} d @param {ApplyCtx} ctx */
export function applyIncremental(d, ctx) {
  try {
    switch (d.source) {
      case SRC.Mutation: applyMutation(d, ctx); break;
      case SRC.MouseMove: case SRC.TouchMove: case SRC.Drag: {
        const p = d.positions && d.positions[d.positions.length - 1];
        if (p) {
          ctx.state.mouse = { x: p.x, y: p.y, id: p.id };
          if (ctx.hook) ctx.hook('move', { x: p.x, y: p.y, id: p.id, positions: d.positions });
        }
        break;
      }
      case SRC.MouseInteraction:
        if (d.x != null) ctx.state.mouse = { x: d.x, y: d.y, id: d.id };
        if (ctx.hook) ctx.hook('interaction', d);
        break;
      case SRC.Scroll: applyScroll(d.id, d.x, d.y, ctx); break;
      case SRC.ViewportResize:
        if (d.width > 0 && d.height > 0) { ctx.state.width = d.width; ctx.state.height = d.height; }
        if (ctx.hook) ctx.hook('resize', d);
        break;
      case SRC.Input: applyInput(d, ctx); break;
      case SRC.MediaInteraction: applyMedia(d, ctx); break;
      case SRC.StyleSheetRule: applySheetRule(d, ctx); break;
      case SRC.StyleDeclaration: applyDeclaration(d, ctx); break;
      case SRC.AdoptedStyleSheet: applyAdopted(d, ctx); break;
      case SRC.CanvasMutation:
        // While jumping, only the last frame of each canvas is drawn (at the end).
        if (!ctx.visual) (ctx.state.canvas || (ctx.state.canvas = new Map())).set(d.id, d); // keyframes keep the last frame
        else if (ctx.deferCanvas) ctx.deferCanvas.set(d.id, d);
        else if (ctx.visual) replayCanvas(ctx.mirror.get(d.id), d, ctx.doc.defaultView);
        break;
      case SRC.Font:
        (ctx.state.fonts || (ctx.state.fonts = [])).push(d);
        if (ctx.visual) addFont(d, ctx.doc);
        break;
      case SRC.Selection: ctx.state.selection = d; if (ctx.visual) applySelection(d, ctx); break;
      case SRC.CustomElement:
        if (d.define && d.define.name) { ctx.customEls.add(d.define.name); if (ctx.visual) defineCustom(ctx.doc, d.define.name); }
        break;
      case SRC.Log: break;
      default: ctx.skipped = (ctx.skipped || 0) + 1;
    }
  } catch (e) {
    ctx.skipped = (ctx.skipped || 0) + 1;
  }
}

/** Define an inert custom element class in the replay window so `:defined` styles match. @param {Document} doc @param {string} name */
export function defineCustom(doc, name) {
  const win = /** @type {any} */ (doc.defaultView);
  if (!win || !win.customElements || !/^[a-z][a-z0-9._]*-[a-z0-9._-]*$/.test(name)) return;
  try {
    if (!win.customElements.get(name)) win.customElements.define(name, class extends win.HTMLElement {});
  } catch (e) { /* invalid or reserved name */ }
}

/** @param {any} m @param {ApplyCtx} ctx */
function applyMutation(m, ctx) {
  const mirror = ctx.mirror;
  for (const r of m.removes || []) {
    const node = mirror.get(r.id);
    if (!node) continue;
    mirror.removeTree(node);
    if (node.parentNode) node.parentNode.removeChild(node);
  }
  // Adds: build each node once its parent (and next sibling, when given) exists; retry the rest.
  let queue = (m.adds || []).slice();
  let progress = true;
  while (queue.length && progress) {
    progress = false;
    const rest = [];
    for (const a of queue) {
      const parent = mirror.get(a.parentId);
      const next = a.nextId != null ? mirror.get(a.nextId) : null;
      if (!parent || (a.nextId != null && !next)) { rest.push(a); continue; }
      insertAdd(a, parent, next, ctx);
      progress = true;
    }
    queue = rest;
  }
  for (const a of queue) {
    // Last chance: parent present but next sibling never came; append at the end.
    const parent = mirror.get(a.parentId);
    if (parent) insertAdd(a, parent, null, ctx); else ctx.skipped = (ctx.skipped || 0) + 1;
  }
  for (const t of m.texts || []) {
    const node = mirror.get(t.id);
    if (!node) continue;
    const v = t.value == null ? '' : String(t.value);
    const inStyle = node.parentNode && node.parentNode.nodeName === 'STYLE';
    if (inStyle) {
      // New text, new sheet: earlier CSSOM edits are gone (as in the browser).
      const pid = mirror.getId(/** @type {Node} */ (node.parentNode));
      if (pid != null) { mirror.touchedSheets.delete(pid); mirror.sheetLog.delete('n' + pid); }
    }
    node.textContent = ctx.visual && inStyle ? addHoverTwins(v) : v;
  }
  for (const at of m.attributes || []) {
    const el = /** @type {Element} */ (mirror.get(at.id));
    if (!el || el.nodeType !== 1) continue;
    const tag = el.localName.toLowerCase();
    for (const k in at.attributes) {
      const v = at.attributes[k];
      if (k === '_cssText' && el.localName === 'style') {
        el.textContent = ctx.visual ? addHoverTwins(String(v || '')) : String(v || '');
        mirror.touchedSheets.delete(at.id);
        mirror.sheetLog.delete('n' + at.id);
        continue;
      }
      setAttr(el, tag, k, v, null, ctx);
    }
  }
  flushIframes(ctx);
}

/** @param {any} a @param {Node} parent @param {Node|null} next @param {ApplyCtx} ctx */
function insertAdd(a, parent, next, ctx) {
  const sn = a.node;
  if (sn.type === NT.Document) {
    // An iframe's document (isAttachIframe) or a re-snapshotted document.
    if (parent.nodeType === 1) {
      const d = iframeDocFor(/** @type {HTMLIFrameElement} */ (parent), ctx);
      if (d) buildDocument(sn, d, ctx);
    }
    return;
  }
  const old = ctx.mirror.get(sn.id);
  if (old) { ctx.mirror.removeTree(old); if (old.parentNode) old.parentNode.removeChild(old); }
  const doc = parent.nodeType === 9 ? /** @type {Document} */ (parent) : /** @type {Document} */ (parent.ownerDocument);
  const node = buildTree(sn, doc, ctx);
  if (!node) return;
  /** @type {Node} */
  let target = parent;
  if (sn.isShadow && /** @type {Element} */ (parent).attachShadow) {
    const host = /** @type {Element} */ (parent);
    let sr = host.shadowRoot;
    if (!sr) { try { sr = host.attachShadow({ mode: 'open' }); } catch (e) { sr = null; } }
    if (sr) target = sr;
  }
  if (parent.nodeType === 9) {
    // Only one element / doctype under a document.
    const d = /** @type {Document} */ (parent);
    if (node.nodeType === 1 && d.documentElement) d.documentElement.remove();
    if (node.nodeType === 10 && d.doctype) d.doctype.remove();
    if (node.nodeType === 3) return;
  }
  const prev = a.previousId != null ? ctx.mirror.get(a.previousId) : null;
  try {
    if (next && next.parentNode === target) target.insertBefore(node, next);
    else if (prev && prev.parentNode === target) target.insertBefore(node, prev.nextSibling);
    else target.appendChild(node);
  } catch (e) { ctx.skipped = (ctx.skipped || 0) + 1; }
  if (ctx.visual) restoreScrolls(node, ctx);
}

/** Re-apply recorded scroll offsets inside a freshly inserted subtree. @param {Node} root @param {ApplyCtx} ctx */
function restoreScrolls(root, ctx) {
  if (!ctx.mirror.scroll.size || root.nodeType !== 1) return;
  for (const [id, s] of ctx.mirror.scroll) {
    const n = ctx.mirror.get(id);
    if (n && n.nodeType === 1 && root.contains(n)) { /** @type {Element} */ (n).scrollLeft = s.x; /** @type {Element} */ (n).scrollTop = s.y; }
  }
}

/** @param {number} id @param {number} x @param {number} y @param {ApplyCtx} ctx */
export function applyScroll(id, x, y, ctx) {
  ctx.mirror.scroll.set(id, { x, y });
  if (!ctx.visual) return;
  // While seeking, scroll once at the end (setting scrollTop forces a layout).
  if (ctx.deferScroll) { ctx.deferScroll.set(id, { x, y }); return; }
  const n = ctx.mirror.get(id);
  if (!n) return;
  if (n.nodeType === 9) {
    const d = /** @type {Document} */ (n);
    const se = d.scrollingElement || d.documentElement;
    if (se) { se.scrollLeft = x; se.scrollTop = y; }
  } else if (n.nodeType === 1) {
    /** @type {Element} */ (n).scrollLeft = x; /** @type {Element} */ (n).scrollTop = y;
  }
}

/** @param {any} d @param {ApplyCtx} ctx */
function applyInput(d, ctx) {
  const el = /** @type {any} */ (ctx.mirror.get(d.id));
  if (!el || el.nodeType !== 1) return;
  const type = (el.getAttribute('type') || '').toLowerCase();
  if (type === 'checkbox' || type === 'radio') {
    el.checked = !!d.isChecked;
    // Like rrweb: the recorded text goes to .value too (for a checkbox that sets the value attribute).
    if (typeof d.text === 'string') el.value = d.text;
  } else if ('value' in el && type !== 'file') {
    el.value = d.text == null ? '' : String(d.text);
  }
}

/** @param {any} d @param {ApplyCtx} ctx */
function applyMedia(d, ctx) {
  const m = ctx.mirror.media.get(d.id) || {};
  if (d.type === 0) m.State = 'played';
  if (d.type === 1) m.State = 'paused';
  if (d.currentTime != null) m.CurrentTime = d.currentTime;
  if (d.volume != null) m.Volume = d.volume;
  if (d.muted != null) m.Muted = d.muted;
  if (d.playbackRate != null) m.PlaybackRate = d.playbackRate;
  ctx.mirror.media.set(d.id, m);
  if (ctx.visual) applyMediaState(/** @type {any} */ (ctx.mirror.get(d.id)), m, !ctx.sync);
}

/** @param {any} el @param {any} m @param {boolean} live */
export function applyMediaState(el, m, live) {
  if (!el || typeof el.pause !== 'function') return;
  try {
    if (m.Muted != null) el.muted = !!m.Muted;
    if (m.Volume != null) el.volume = +m.Volume;
    if (m.PlaybackRate != null) el.playbackRate = +m.PlaybackRate;
    if (m.CurrentTime != null) el.currentTime = +m.CurrentTime;
    if (m.State === 'played' && live) { el.muted = true; const p = el.play(); if (p && p.catch) p.catch(() => {}); } else el.pause();
  } catch (e) { /* media not ready */ }
}

/** Resolve a (possibly nested) rule index to [container, index]. @param {any} sheet @param {number|number[]} index */
function ruleTarget(sheet, index) {
  if (!Array.isArray(index)) return [sheet, index];
  let container = sheet;
  for (let i = 0; i < index.length - 1; i++) {
    const r = container.cssRules[index[i]];
    if (!r || !r.cssRules) return [null, 0];
    container = r;
  }
  return [container, index[index.length - 1]];
}

/**
 * The CSSStyleSheet an event targets (a style/link element's sheet or a constructed sheet) and its log.
 * Every CSSOM edit is logged as recorded, because a rule's cssText does not always parse back
 * (Chrome serializes a shorthand holding var() as empty longhands).
 * @param {any} d @param {ApplyCtx} ctx @returns {[any, {base: string[]|null, ops: any[]}]|null}
 */
function targetSheet(d, ctx) {
  const m = ctx.mirror;
  if (d.styleId != null) {
    let s = m.sheets.get(d.styleId);
    if (!s) { s = newSheet(ctx); m.sheets.set(d.styleId, s); }
    const key = 's' + d.styleId;
    if (!m.sheetLog.has(key)) m.sheetLog.set(key, { base: [], ops: [] });
    return [s, /** @type {any} */ (m.sheetLog.get(key))];
  }
  const el = /** @type {any} */ (m.get(d.id));
  if (!el || !el.sheet) return null;
  m.touchedSheets.add(d.id);
  const key = 'n' + d.id;
  if (!m.sheetLog.has(key)) m.sheetLog.set(key, { base: null, ops: [] });
  return [el.sheet, /** @type {any} */ (m.sheetLog.get(key))];
}

/** A constructed stylesheet in the right realm. @param {ApplyCtx} ctx */
function newSheet(ctx) {
  const win = /** @type {any} */ (ctx.visual && ctx.doc.defaultView) || window;
  return new win.CSSStyleSheet();
}

/**
 * Apply one logged CSSOM operation.
 * @param {any} sheet @param {any} op {add, index} | {del} | {replace} | {decl, set, remove} @param {boolean} visual
 */
export function sheetOp(sheet, op, visual) {
  if (op.replace != null) {
    try { sheet.replaceSync(String(op.replace)); } catch (e) { /* not constructed */ }
  } else if (op.del != null) {
    const [c, i] = ruleTarget(sheet, op.del);
    try { if (c) c.deleteRule(i); } catch (e) { /* index out of range */ }
  } else if (op.add != null) {
    const [c, i] = ruleTarget(sheet, op.index == null ? sheet.cssRules.length : op.index);
    if (!c) return;
    const rule = visual ? addHoverTwins(String(op.add)) : String(op.add);
    try { c.insertRule(rule, i == null ? c.cssRules.length : Math.min(i, c.cssRules.length)); } catch (e) {
      try { c.insertRule(String(op.add), c.cssRules.length); } catch (e2) { /* unparsable rule */ }
    }
  } else if (op.decl != null) {
    const [c, i] = ruleTarget(sheet, op.decl);
    const rule = c && c.cssRules[i];
    if (!rule || !rule.style) return;
    if (op.set) rule.style.setProperty(op.set.property, op.set.value, op.set.priority || '');
    if (op.remove) rule.style.removeProperty(op.remove.property);
  }
}

/**
 * A constructed sheet rebuilt from its log, in window `win`.
 * @param {any} win @param {{base: string[]|null, ops: any[]}} log @param {boolean} visual
 */
export function sheetFromLog(win, log, visual) {
  const sheet = new win.CSSStyleSheet();
  for (const r of log.base || []) { try { sheet.insertRule(r, sheet.cssRules.length); } catch (e) { /* skip bad rule */ } }
  for (const op of log.ops) sheetOp(sheet, op, visual);
  return sheet;
}

/** @param {any} d @param {ApplyCtx} ctx */
function applySheetRule(d, ctx) {
  const t = targetSheet(d, ctx);
  if (!t) return;
  const ops = [];
  if (d.replace != null || d.replaceSync != null) ops.push({ replace: String(d.replaceSync != null ? d.replaceSync : d.replace) });
  for (const r of d.removes || []) ops.push({ del: r.index });
  for (const a of d.adds || []) ops.push({ add: String(a.rule), index: a.index });
  for (const op of ops) {
    sheetOp(t[0], op, ctx.visual);
    if (op.replace != null) { t[1].base = []; t[1].ops = [op]; } else t[1].ops.push(op);
  }
}

/** @param {any} d @param {ApplyCtx} ctx */
function applyDeclaration(d, ctx) {
  const t = targetSheet(d, ctx);
  if (!t) return;
  const op = { decl: d.index, set: d.set, remove: d.remove };
  sheetOp(t[0], op, ctx.visual);
  t[1].ops.push(op);
}

/** @param {any} d @param {ApplyCtx} ctx */
function applyAdopted(d, ctx) {
  const win = /** @type {any} */ (ctx.visual && ctx.doc.defaultView) || window;
  for (const s of d.styles || []) {
    const base = (s.rules || []).slice().sort((a, b) => (a.index || 0) - (b.index || 0)).map((r) => String(r.rule));
    const log = { base, ops: [] };
    ctx.mirror.sheetLog.set('s' + s.styleId, log);
    ctx.mirror.sheets.set(s.styleId, sheetFromLog(win, log, ctx.visual));
  }
  ctx.mirror.adopted.set(d.id, d.styleIds || []);
  if (ctx.visual) adoptSheets(d.id, ctx);
}

/**
 * Set adoptedStyleSheets on a document or shadow root from the mirror's constructed sheets.
 * @param {number} hostId @param {ApplyCtx} ctx
 */
export function adoptSheets(hostId, ctx) {
  const host = /** @type {any} */ (ctx.mirror.get(hostId));
  if (!host) return;
  const target = host.nodeType === 9 ? host : host.shadowRoot;
  if (!target) return;
  const win = (host.nodeType === 9 ? host : host.ownerDocument).defaultView;
  const list = [];
  for (const sid of ctx.mirror.adopted.get(hostId) || []) {
    let s = ctx.mirror.sheets.get(sid);
    if (!s) continue;
    if (win && !(s instanceof win.CSSStyleSheet)) {
      // A sheet can only be adopted in its own window: rebuild it there from its log.
      const log = ctx.mirror.sheetLog.get('s' + sid);
      s = log ? sheetFromLog(win, log, ctx.visual) : new win.CSSStyleSheet();
      ctx.mirror.sheets.set(sid, s);
    }
    list.push(s);
  }
  if (host.nodeType === 9 && ctx.hook) ctx.hook('adopt', list);
  else { try { target.adoptedStyleSheets = list; } catch (e) { /* other realm */ } }
}

/** @param {any} d @param {Document} doc */
export function addFont(d, doc) {
  const win = /** @type {any} */ (doc.defaultView);
  if (!win || !win.FontFace || !doc.fonts) return;
  try {
    const src = d.buffer ? new Uint8Array(JSON.parse(d.fontSource)) : `url(${JSON.stringify(String(d.fontSource))})`;
    const ff = new win.FontFace(d.family, src, d.descriptors || {});
    doc.fonts.add(ff);
    ff.load().catch(() => {});
  } catch (e) { /* bad font */ }
}

/** @param {any} d @param {ApplyCtx} ctx */
function applySelection(d, ctx) {
  const sel = ctx.doc.getSelection && ctx.doc.getSelection();
  if (!sel) return;
  try {
    sel.removeAllRanges();
    for (const r of d.ranges || []) {
      const s = ctx.mirror.get(r.start), e = ctx.mirror.get(r.end);
      if (!s || !e) continue;
      const range = ctx.doc.createRange();
      range.setStart(s, r.startOffset);
      range.setEnd(e, r.endOffset);
      sel.addRange(range);
    }
  } catch (e) { /* stale offsets */ }
}
