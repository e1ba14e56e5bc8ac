// Keyframes: DOM checkpoints built on load in an inert document, so a seek rebuilds from the
// nearest checkpoint and applies a bounded number of events instead of replaying from the start.
import { EV, NT, SRC, yieldTask, lastAtOrBefore } from './util.js';
import { Mirror } from './mirror.js';
import { buildDocument } from './rebuild.js';
import { applyIncremental } from './apply.js';

const SVG_URI = 'http://www.w3.org/2000/svg';

/**
 * @typedef {object} Keyframe
 * @property {number} i index of the last event included
 * @property {number} t timestamp of that event
 * @property {any} tree serialized Document node (rrweb format, Reel extras in attributes)
 * @property {any} state non-DOM state (viewport, scroll offsets, constructed sheets, media, fonts...)
 */

/**
 * Serialize a live node (from the inert builder document) back to rrweb's node format.
 * @param {Node} node @param {Mirror} mirror @returns {any}
 */
export function serializeNode(node, mirror) {
  const id = mirror.getId(node);
  if (id == null) return null;
  switch (node.nodeType) {
    case 9: {
      const kids = [];
      for (let c = node.firstChild; c; c = c.nextSibling) { const s = serializeNode(c, mirror); if (s) kids.push(s); }
      return { type: NT.Document, id, childNodes: kids, compatMode: /** @type {Document} */ (node).compatMode };
    }
    case 10: {
      const dt = /** @type {DocumentType} */ (node);
      return { type: NT.DocumentType, id, name: dt.name, publicId: dt.publicId, systemId: dt.systemId };
    }
    case 3: return { type: NT.Text, id, textContent: node.nodeValue };
    case 8: return { type: NT.Comment, id, textContent: node.nodeValue };
    case 1: return serializeElement(/** @type {Element} */ (node), id, mirror);
    default: return null;
  }
}

/** @param {Element} el @param {number} id @param {Mirror} mirror */
function serializeElement(el, id, mirror) {
  /** @type {Record<string, any>} */
  const attributes = {};
  for (const a of el.attributes) attributes[a.name] = a.value;
  const tag = el.localName;
  const any = /** @type {any} */ (el);
  /** @type {any} */
  const extra = {};
  if (tag === 'input' || tag === 'textarea' || tag === 'select') {
    // Form state lives in properties; keep it beside the attributes so the attributes stay as recorded.
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (type === 'checkbox' || type === 'radio') extra.checked = !!any.checked;
    else if (type !== 'file') extra.value = any.value;
    // A recorded textarea `value` attribute was turned into its text: turn it back.
    if (tag === 'textarea' && el.firstChild && mirror.getId(el.firstChild) == null) attributes.value = el.textContent;
  }
  const kids = [];
  if (tag === 'style') {
    const texts = [];
    let allMirrored = true;
    for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 3) { texts.push(c.nodeValue); if (mirror.getId(c) == null) allMirrored = false; }
    // The text as recorded; CSSOM edits travel in the keyframe state's sheet logs.
    attributes._cssText = allMirrored ? texts.join('/* rr_split */') : texts.join('');
  }
  for (let c = el.firstChild; c; c = c.nextSibling) {
    const s = serializeNode(c, mirror);
    if (s) kids.push(s);
  }
  /** @type {any} */
  const out = { type: NT.Element, id, tagName: tag, attributes, childNodes: kids, ...extra };
  if (el.namespaceURI === SVG_URI) out.isSVG = true;
  if (el.shadowRoot) {
    out.isShadowHost = true;
    for (let c = el.shadowRoot.firstChild; c; c = c.nextSibling) {
      const s = serializeNode(c, mirror);
      if (s) { s.isShadow = true; kids.push(s); }
    }
  }
  const idoc = mirror.iframeDocs.get(id);
  if (idoc) { const s = serializeNode(idoc, mirror); if (s) { s.rootId = id; kids.push(s); } }
  return out;
}

/** Snapshot of the non-DOM replay state. @param {Mirror} mirror @param {any} state @param {Set<string>} customEls */
export function captureState(mirror, state, customEls) {
  return {
    width: state.width, height: state.height, href: state.href,
    mouse: state.mouse ? { ...state.mouse } : null,
    fonts: state.fonts ? state.fonts.slice() : [],
    canvas: state.canvas ? Array.from(state.canvas) : [],
    selection: state.selection || null,
    customEls: Array.from(customEls),
    scroll: Array.from(mirror.scroll, ([k, v]) => [k, v.x, v.y]),
    media: Array.from(mirror.media, ([k, v]) => [k, { ...v }]),
    logs: Array.from(mirror.sheetLog, ([k, l]) => [k, { base: l.base ? l.base.slice() : null, ops: l.ops.slice() }]),
    adopted: Array.from(mirror.adopted, ([k, v]) => [k, v.slice()]),
  };
}

/** Rough cost of applying one event (DOM nodes touched). @param {any} e */
export function eventCost(e) {
  if (e.type === EV.Full) return 1e9;
  const d = e.data;
  if (e.type !== EV.Inc || !d) return 0.05;
  if (d.source === SRC.Mutation) {
    let n = 1 + (d.removes ? d.removes.length : 0) + (d.texts ? d.texts.length : 0) + (d.attributes ? d.attributes.length : 0);
    for (const a of d.adds || []) n += countNodes(a.node);
    return n;
  }
  if (d.source === SRC.MouseMove || d.source === SRC.TouchMove || d.source === SRC.Drag) return 0.1;
  if (d.source === SRC.AdoptedStyleSheet || d.source === SRC.StyleSheetRule) return 5;
  return 1;
}

/** @param {any} sn */
function countNodes(sn) {
  let n = 1;
  if (sn && sn.childNodes) for (const c of sn.childNodes) n += countNodes(c);
  return n;
}

/** Keyframe index for one window's events, built incrementally without blocking the page for long. */
export class KeyframeIndex {
  /** @param {any[]} events sorted by timestamp @param {number} [minWork] least work between keyframes (tests use small values) */
  constructor(events, minWork = 600) {
    this.events = events;
    this.minWork = minWork;
    /** @type {Keyframe[]} */
    this.frames = [];
    /** index of the last event processed by the builder */
    this.builtTo = -1;
    this.done = false;
    this.cancelled = false;
    this.buildMs = 0;
    /** @type {Promise<void>|null} */
    this.ready = null;
  }

  /** Last keyframe at or before event index `i`, or null. @param {number} i @returns {Keyframe|null} */
  at(i) {
    const k = lastAtOrBefore(this.frames, i, (f) => f.i);
    return k < 0 ? null : this.frames[k];
  }

  /** Start building (idempotent). @param {number} [sliceMs] @returns {Promise<void>} */
  start(sliceMs = 12) {
    if (!this.ready) this.ready = this.run(sliceMs);
    return this.ready;
  }

  /** @param {number} sliceMs */
  async run(sliceMs) {
    const ev = this.events;
    const customEls = new Set();
    /** @type {any} */
    const state = { width: 0, height: 0, href: '', mouse: null };
    /** @type {Mirror|null} */
    let mirror = null;
    /** @type {any} */
    let ctx = null;
    let work = 0;
    let sliceStart = performance.now();
    for (let i = 0; i < ev.length; i++) {
      if ((i & 15) === 0 && performance.now() - sliceStart > sliceMs) {
        this.buildMs += performance.now() - sliceStart;
        await yieldTask();
        if (this.cancelled) return;
        sliceStart = performance.now();
      }
      const e = ev[i];
      if (e.type === EV.Full && e.data && e.data.node) {
        mirror = new Mirror();
        state.fonts = []; state.selection = null; state.canvas = new Map();
        ctx = { mirror, visual: false, doc: document.implementation.createHTMLDocument(''), customEls, state, iframes: [] };
        try { buildDocument(e.data.node, ctx.doc, ctx); } catch (err) { /* keep going with what was built */ }
        const off = e.data.initialOffset;
        if (off && (off.top || off.left)) mirror.scroll.set(e.data.node.id, { x: off.left || 0, y: off.top || 0 });
        this.frames.push({ i, t: e.timestamp, tree: e.data.node, state: captureState(mirror, state, customEls) });
        work = 0;
      } else if (e.type === EV.Meta && e.data) {
        if (e.data.width > 0) state.width = e.data.width;
        if (e.data.height > 0) state.height = e.data.height;
        if (e.data.href) state.href = e.data.href;
      } else if (e.type === EV.Inc && ctx && e.data) {
        applyIncremental(e.data, ctx);
        work += eventCost(e);
        if (work >= Math.max(this.minWork, mirror.nodes.size * 0.75) || (this.minWork < 600 && work >= this.minWork)) {
          const tree = serializeNode(ctx.doc, mirror);
          if (tree) this.frames.push({ i, t: e.timestamp, tree, state: captureState(mirror, state, customEls) });
          work = 0;
        }
      }
      this.builtTo = i;
    }
    this.buildMs += performance.now() - sliceStart;
    this.done = true;
  }
}
