// Rebuild a document from a keyframe by reusing the live nodes that have the same id (a keyed tree
// morph), so a seek only touches what differs instead of re-creating and re-styling the whole page.
import { NT } from './util.js';
import { safeTagName, addHoverTwins } from './sanitize.js';
import { buildTree, setAttr, flushIframes, finishElement } from './rebuild.js';

/**
 * Morph `doc` into the serialized Document `sn`. Throws when the live tree cannot be reused safely;
 * the caller then rebuilds from scratch.
 * @param {any} sn @param {Document} doc @param {import('./rebuild.js').BuildCtx & {hook?: Function}} ctx
 * @param {import('./mirror.js').Mirror} old mirror of the live document
 */
export function morphDocument(sn, doc, ctx, old) {
  /** @type {Set<Node>} */
  const used = new Set();
  ctx.mirror.add(sn.id, doc);
  if (ctx.hook) ctx.hook('doc', doc);
  const kids = [];
  let el = false, dt = false;
  for (const c of sn.childNodes || []) {
    const n = morphNode(c, doc, ctx, old, used);
    if (!n || n.nodeType === 3) continue;
    if (n.nodeType === 1) { if (el) continue; el = true; }
    if (n.nodeType === 10) { if (dt || el) continue; dt = true; }
    kids.push(n);
  }
  syncChildren(doc, kids);
  flushIframes(ctx);
}

/** @param {any} sn @param {Document} doc @param {any} ctx @param {import('./mirror.js').Mirror} old @param {Set<Node>} used @returns {Node|null} */
function morphNode(sn, doc, ctx, old, used) {
  const prev = /** @type {any} */ (old.get(sn.id));
  if (!prev || used.has(prev) || prev.ownerDocument !== doc || !compatible(prev, sn, old)) return buildTree(sn, doc, ctx);
  used.add(prev);
  ctx.mirror.add(sn.id, prev);
  if (sn.type === NT.Text || sn.type === NT.Comment) {
    const t = sn.textContent == null ? '' : String(sn.textContent);
    const v = ctx.visual && sn.type === NT.Text && prev.parentNode && prev.parentNode.localName === 'style' ? addHoverTwins(t) : t;
    if (prev.nodeValue !== v) prev.nodeValue = v;
    return prev;
  }
  if (sn.type !== NT.Element) return prev;
  const el = /** @type {Element} */ (prev);
  if (el.localName === 'style') {
    // Reused only when its text is already right (compatible() checked): keeps the parsed sheet.
    const texts = (sn.childNodes || []).filter((c) => c.type === NT.Text);
    const live = Array.from(el.childNodes).filter((n) => n.nodeType === 3);
    texts.forEach((t, i) => ctx.mirror.add(t.id, live[i]));
  }
  const tag = String(sn.tagName || '').toLowerCase();
  const attrs = sn.attributes || {};
  // Attributes: drop what the keyframe does not have, then set what differs.
  const want = new Set(Object.keys(attrs).map((k) => k.toLowerCase()));
  for (const a of Array.from(el.attributes)) if (!want.has(a.name.toLowerCase())) el.removeAttribute(a.name);
  for (const k in attrs) {
    const v = attrs[k];
    if (k.startsWith('rr_') || k === '_cssText' || (k === 'style' && v && typeof v === 'object') || el.getAttribute(k) !== (v === true ? '' : v == null ? null : String(v))) {
      setAttr(el, tag, k, v, attrs, ctx);
    }
  }
  const kids = [], shadow = [];
  for (const c of sn.childNodes || []) {
    if (c.type === NT.Document) { (ctx.iframes || (ctx.iframes = [])).push({ el, sn: c }); continue; }
    if (el.localName === 'style') continue;
    const n = morphNode(c, doc, ctx, old, used);
    if (!n) continue;
    if (c.isShadow) shadow.push(n); else kids.push(n);
  }
  // Children the replayer made itself (a textarea's value text, an iframe's document) stay.
  if (tag !== 'iframe' && el.localName !== 'style' && !(tag === 'textarea' && attrs.value != null)) syncChildren(el, kids);
  if (shadow.length || el.shadowRoot) {
    let sr = el.shadowRoot;
    if (!sr) { try { sr = el.attachShadow({ mode: 'open' }); } catch (e) { sr = null; } }
    if (sr) syncChildren(sr, shadow);
  }
  resetFormState(el, sn);
  finishElement(el, sn, ctx);
  return el;
}

/** Can `prev` stand for `sn`? @param {any} prev @param {any} sn @param {import('./mirror.js').Mirror} old */
function compatible(prev, sn, old) {
  switch (sn.type) {
    case NT.Text: return prev.nodeType === 3 && !(prev.parentNode && prev.parentNode.localName === 'style');
    case NT.Comment: return prev.nodeType === 8;
    case NT.DocumentType: return prev.nodeType === 10 && prev.name === (sn.name || 'html') && prev.publicId === (sn.publicId || '') && prev.systemId === (sn.systemId || '');
    case NT.Element: {
      if (prev.nodeType !== 1) return false;
      let tag = String(sn.tagName || '').toLowerCase();
      const attrs = sn.attributes || {};
      if (tag === 'link' && attrs._cssText != null) tag = 'style';
      // Style sheets: reuse only when the text is unchanged and the CSSOM untouched (keeps the parsed sheet).
      if (tag === 'style') return prev.localName === 'style' && !old.touchedSheets.has(sn.id) && styleMatches(prev, sn, attrs);
      // A shadow root cannot be removed: a host only stays a host.
      if (prev.shadowRoot && !sn.isShadowHost && !(sn.childNodes || []).some((/** @type {any} */ c) => c.isShadow)) return false;
      const svg = (!!sn.isSVG && tag !== 'foreignobject') || tag === 'svg';
      if (svg !== (prev.namespaceURI === 'http://www.w3.org/2000/svg')) return false;
      return prev.localName === safeTagName(tag, svg) && !old.touchedSheets.has(sn.id);
    }
    default: return false;
  }
}

/**
 * Does a live <style> already hold what building `sn` would give (same text per text child)?
 * @param {Element} prev @param {any} sn @param {Record<string, any>} attrs
 */
function styleMatches(prev, sn, attrs) {
  const kids = sn.childNodes || [];
  if (kids.some((/** @type {any} */ c) => c.type !== NT.Text)) return false;
  const live = Array.from(prev.childNodes);
  if (live.some((n) => n.nodeType !== 3)) return false;
  /** @type {string[]} */
  let want;
  if (attrs._cssText != null) {
    const css = String(attrs._cssText);
    const parts = kids.length > 1 ? css.split('/* rr_split */') : [];
    want = kids.length ? kids.map((/** @type {any} */ c, /** @type {number} */ i) => (kids.length === parts.length ? parts[i] : i === 0 ? css : '')) : [css];
  } else want = kids.map((/** @type {any} */ c) => (c.textContent == null ? '' : String(c.textContent)));
  if (live.length !== want.length) return false;
  // The live text carries the :hover twins added for display.
  return want.every((w, i) => live[i].nodeValue === addHoverTwins(w) || live[i].nodeValue === w);
}

/** Put exactly `list` (in order) under `parent`, moving as little as possible. @param {Node} parent @param {Node[]} list */
function syncChildren(parent, list) {
  let cur = parent.firstChild;
  for (const n of list) {
    if (n === cur) { cur = cur.nextSibling; continue; }
    parent.insertBefore(n, cur);
  }
  while (cur) { const nx = cur.nextSibling; parent.removeChild(cur); cur = nx; }
}

/** Live form state of a reused control goes back to what its attributes say. @param {any} el @param {any} sn */
function resetFormState(el, sn) {
  const tag = el.localName;
  if (tag === 'input') {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (type === 'checkbox' || type === 'radio') { if (sn.checked == null) el.checked = el.hasAttribute('checked'); }
    else if (type !== 'file' && sn.value == null) el.value = el.getAttribute('value') || '';
  } else if (tag === 'textarea' && sn.value == null) el.value = el.textContent;
  else if (tag === 'select' && sn.value == null && !(sn.attributes && sn.attributes.value != null)) {
    for (const o of el.options) o.selected = o.defaultSelected;
  }
}
