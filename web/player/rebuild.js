// Build live DOM from rrweb serialized nodes (full snapshots, mutation adds and Reel keyframes).
import { NT } from './util.js';
import { safeTagName, safeAttr, addHoverTwins } from './sanitize.js';
import { Mirror } from './mirror.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const XLINK_NS = 'http://www.w3.org/1999/xlink';

/**
 * @typedef {object} BuildCtx
 * @property {Mirror} mirror
 * @property {boolean} visual true for the visible replay (hover twins, media, canvas pixels), false for the inert keyframe builder
 * @property {{el: Element, sn: any}[]} [iframes] iframe documents waiting for their element to be connected
 * @property {Set<string>} [customEls] custom element names seen so far
 */

/** The document to build an iframe's recorded content into. @param {HTMLIFrameElement} el @param {BuildCtx} ctx */
export function iframeDocFor(el, ctx) {
  const id = ctx.mirror.getId(el);
  if (ctx.visual) {
    let d = null;
    try { d = el.contentDocument; } catch (e) { d = null; }
    return d;
  }
  let d = id != null ? ctx.mirror.iframeDocs.get(id) : undefined;
  if (!d) {
    d = document.implementation.createHTMLDocument('');
    if (id != null) ctx.mirror.iframeDocs.set(id, d);
  }
  return d;
}

/**
 * Replace the content of `doc` with a recorded Document node.
 * @param {any} sn serialized Document node @param {Document} doc @param {BuildCtx} ctx
 */
export function buildDocument(sn, doc, ctx) {
  const quirks = sn.compatMode === 'BackCompat';
  if (ctx.visual && (doc.compatMode === 'BackCompat') !== quirks) {
    // Only a parse sets the compat mode; no script runs (the iframe is sandboxed without scripts).
    // Skipped when the mode is already right: keeping the document keeps Blink's stylesheet caches warm.
    doc.open();
    doc.write(quirks ? '<html></html>' : '<!DOCTYPE html><html></html>');
    doc.close();
  }
  ctx.mirror.add(sn.id, doc);
  if (ctx.visual && /** @type {any} */ (ctx).hook) /** @type {any} */ (ctx).hook('doc', doc);
  const kids = [];
  for (const c of sn.childNodes || []) {
    const n = buildTree(c, doc, ctx);
    if (n) kids.push(n);
  }
  // A document holds at most one doctype and one element.
  const out = [];
  let el = false, dt = false;
  for (const n of kids) {
    if (n.nodeType === 1) { if (el) continue; el = true; }
    if (n.nodeType === 10) { if (dt || el) continue; dt = true; }
    if (n.nodeType === 3) continue;
    out.push(n);
  }
  while (doc.firstChild) doc.removeChild(doc.firstChild);
  for (const n of out) { try { doc.appendChild(n); } catch (e) { /* misplaced doctype */ } }
  flushIframes(ctx);
}

/** Build the iframe documents collected while building a tree. @param {BuildCtx} ctx */
export function flushIframes(ctx) {
  const list = ctx.iframes || [];
  ctx.iframes = [];
  for (const { el, sn } of list) {
    const d = iframeDocFor(/** @type {HTMLIFrameElement} */ (el), ctx);
    if (d) buildDocument(sn, d, ctx);
  }
}

/**
 * Build one serialized node and its subtree; registers ids in the mirror.
 * @param {any} sn @param {Document} doc @param {BuildCtx} ctx @returns {Node|null}
 */
export function buildTree(sn, doc, ctx) {
  const node = buildNode(sn, doc, ctx);
  if (!node) return null;
  if (sn.type === NT.Element) {
    const el = /** @type {Element} */ (node);
    const isStyle = el.localName === 'style';
    const cssText = sn.attributes && sn.attributes._cssText;
    const textKids = isStyle && cssText != null ? (sn.childNodes || []).filter((c) => c.type === NT.Text) : [];
    const parts = textKids.length > 1 ? String(cssText).split('/* rr_split */') : [];
    let ti = 0;
    for (const c of sn.childNodes || []) {
      if (c.type === NT.Document) {
        (ctx.iframes || (ctx.iframes = [])).push({ el, sn: c });
        continue;
      }
      let child;
      if (isStyle && cssText != null && c.type === NT.Text) {
        const t = textKids.length === parts.length ? parts[ti] : (ti === 0 ? String(cssText) : '');
        ti++;
        child = doc.createTextNode(ctx.visual ? addHoverTwins(t) : t);
        ctx.mirror.add(c.id, child);
      } else {
        child = buildTree(c, doc, ctx);
      }
      if (!child) continue;
      if (c.isShadow && el.attachShadow) {
        let sr = el.shadowRoot;
        if (!sr) { try { sr = el.attachShadow({ mode: 'open' }); } catch (e) { sr = null; } }
        (sr || el).appendChild(child);
      } else {
        el.appendChild(child);
      }
    }
    if (isStyle && cssText != null && !textKids.length) {
      el.appendChild(doc.createTextNode(ctx.visual ? addHoverTwins(String(cssText)) : String(cssText)));
    }
    if (sn.isShadowHost && !el.shadowRoot) { try { el.attachShadow({ mode: 'open' }); } catch (e) { /* not allowed on this tag */ } }
    finishElement(el, sn, ctx);
  }
  return node;
}

/**
 * Create a single node (no children).
 * @param {any} sn @param {Document} doc @param {BuildCtx} ctx @returns {Node|null}
 */
export function buildNode(sn, doc, ctx) {
  let node = null;
  switch (sn.type) {
    case NT.DocumentType:
      try {
        node = doc.implementation.createDocumentType(sn.name || 'html', sn.publicId || '', sn.systemId || '');
      } catch (e) { node = null; }
      break;
    case NT.Element: node = buildElement(sn, doc, ctx); break;
    case NT.Text: {
      const t = sn.textContent == null ? '' : String(sn.textContent);
      node = doc.createTextNode(ctx.visual && sn.isStyle ? addHoverTwins(t) : t);
      break;
    }
    case NT.CDATA: node = doc.createTextNode(''); break;
    case NT.Comment: node = doc.createComment(String(sn.textContent || '')); break;
    default: return null;
  }
  if (node) ctx.mirror.add(sn.id, node);
  return node;
}

/** @param {any} sn @param {Document} doc @param {BuildCtx} ctx */
function buildElement(sn, doc, ctx) {
  const attrs = sn.attributes || {};
  let tag = String(sn.tagName || 'div').toLowerCase();
  if (tag === 'link' && attrs._cssText != null) tag = 'style';
  const svg = !!sn.isSVG && tag !== 'foreignobject' || tag === 'svg';
  const name = safeTagName(tag, svg);
  /** @type {Element} */
  let el;
  try { el = svg ? doc.createElementNS(SVG_NS, name) : doc.createElement(name); } catch (e) { el = doc.createElement('span'); }
  if (sn.isCustom || name.includes('-')) ctx.customEls && ctx.customEls.add(name);
  ctx.mirror.add(sn.id, el); // before the attributes: rr_scroll*/rr_media* state is keyed by id
  for (const k in attrs) setAttr(el, tag, k, attrs[k], attrs, ctx);
  return el;
}

/**
 * Set one recorded attribute on a live element, through the safety rules.
 * @param {Element} el @param {string} tag @param {string} name @param {any} value
 * @param {Record<string, any>|null} attrs @param {BuildCtx} ctx
 */
export function setAttr(el, tag, name, value, attrs, ctx) {
  if (name.startsWith('rr_')) { rrAttr(el, name, value, ctx); return; }
  if (name === '_cssText') return;
  if (name === 'style' && value && typeof value === 'object') { styleDiff(el, value); return; }
  if (tag === 'textarea' && name === 'value') {
    // Like a parsed page: a textarea's value is its text.
    el.textContent = value == null ? '' : String(value);
    /** @type {HTMLTextAreaElement} */ (el).value = el.textContent;
    return;
  }
  const v = safeAttr(tag, name, value, attrs || attrsOf(el));
  if (v == null) {
    try { el.removeAttribute(name); } catch (e) { /* invalid name */ }
    return;
  }
  try {
    if (name.startsWith('xlink:')) el.setAttributeNS(XLINK_NS, name, v);
    else el.setAttribute(name, v);
  } catch (e) { /* invalid attribute name: skip */ }
  if (name === 'value' && 'value' in el && tag !== 'button' && tag !== 'li' && tag !== 'option' && tag !== 'param') {
    try { /** @type {any} */ (el).value = v; } catch (e) { /* file inputs */ }
  }
  if (name === 'checked' && 'checked' in el) /** @type {any} */ (el).checked = true;
}

/** @param {Element} el */
function attrsOf(el) {
  /** @type {Record<string, string>} */
  const o = {};
  for (const a of el.attributes) o[a.name] = a.value;
  return o;
}

/** Apply a `style` object diff: {prop: value | [value, priority] | false}. @param {Element} el @param {any} diff */
export function styleDiff(el, diff) {
  const st = /** @type {HTMLElement} */ (el).style;
  if (!st) return;
  for (const p in diff) {
    const v = diff[p];
    if (v === false || v == null) st.removeProperty(p);
    else if (Array.isArray(v)) st.setProperty(p, String(v[0]), v[1] || '');
    else if (!/javascript:|expression\s*\(/i.test(String(v))) st.setProperty(p, String(v));
  }
}

const MEDIA_KEYS = { state: 'State', currenttime: 'CurrentTime', volume: 'Volume', muted: 'Muted', playbackrate: 'PlaybackRate', loop: 'Loop' };

/**
 * rrweb's `rr_*` attributes (matched case-insensitively: HTML documents lowercase attribute names).
 * @param {Element} el @param {string} name @param {any} value @param {BuildCtx} ctx
 */
function rrAttr(el, name, value, ctx) {
  const id = ctx.mirror.getId(el);
  const n = name.toLowerCase();
  if (!ctx.visual && value != null) el.setAttribute(name, String(value)); // kept so keyframes can rebuild them
  if (value == null) { el.removeAttribute(name); return; }
  const st = /** @type {HTMLElement} */ (el).style;
  if (n === 'rr_width' && st) st.setProperty('width', String(value));
  else if (n === 'rr_height' && st) st.setProperty('height', String(value));
  else if (n === 'rr_dataurl' && ctx.visual && /^data:image\//i.test(String(value))) {
    // The recorded picture wins over the URLs (a srcset candidate would be chosen over src).
    if (el.localName === 'img') { el.setAttribute('src', String(value)); el.removeAttribute('srcset'); }
    else if (el.localName === 'canvas') {
      const img = new Image();
      img.onload = () => {
        const c2 = /** @type {HTMLCanvasElement} */ (el).getContext('2d');
        if (c2) c2.drawImage(img, 0, 0);
      };
      img.src = String(value);
    }
  } else if (n === 'rr_open_mode' && el.localName === 'dialog') {
    el.setAttribute('open', '');
  }
  if (id == null) return;
  if (n === 'rr_scrollleft' || n === 'rr_scrolltop') {
    const s = ctx.mirror.scroll.get(id) || { x: 0, y: 0 };
    if (n === 'rr_scrollleft') s.x = +value; else s.y = +value;
    ctx.mirror.scroll.set(id, s);
  } else if (n.startsWith('rr_media')) {
    const m = ctx.mirror.media.get(id) || {};
    m[MEDIA_KEYS[n.slice(8)] || n.slice(8)] = value;
    ctx.mirror.media.set(id, m);
  }
}

/** Post-build fixes for one element. @param {Element} el @param {any} sn @param {BuildCtx} ctx */
export function finishElement(el, sn, ctx) {
  const a = sn.attributes || {};
  if (el.localName === 'textarea' && a.value != null) /** @type {HTMLTextAreaElement} */ (el).value = String(a.value);
  if (el.localName === 'select' && a.value != null) /** @type {HTMLSelectElement} */ (el).value = String(a.value);
  if (el.localName === 'option' && a.selected != null && el.parentElement) /** @type {HTMLOptionElement} */ (el).selected = true;
  // Form state from a Reel keyframe.
  if (sn.value != null && 'value' in el) { try { /** @type {any} */ (el).value = sn.value; } catch (e) { /* file input */ } }
  if (sn.checked != null && 'checked' in el) /** @type {any} */ (el).checked = !!sn.checked;
}
