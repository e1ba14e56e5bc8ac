// PostHog mobile recordings ("wireframes": posthog-android, -ios, -react-native, -flutter) turned into the rrweb web
// events the engine already plays: a full snapshot becomes a serialized device-sized document, wireframe adds,
// updates and removes become mutations, the keyboard a box, touches clicks and mouse moves. Done once at load, in
// memory, on copies (the recorded events are never changed), and deterministic (same events, same output) so seeking,
// keyframes, screenshots and video all see one replay. The output goes through the same sanitizer as any recording;
// on top of that, recorded values only reach CSS after validation (no `url()` but data: images, no `;` smuggling).
import { EV, SRC, NT } from './util.js';

/** Serialized ids of the fixed document skeleton (the same in every full snapshot, so a seek reuses the nodes). */
const MID = { doc: 1, doctype: 2, html: 3, head: 4, style: 5, css: 6, body: 7, first: 8 };

/** Styles of the replayed device screen; recorded styles are inline and win over these (masked boxes excepted). */
const MOBILE_CSS = `html,body{margin:0;padding:0;width:100%;height:100%;overflow:hidden;background:#fff}
body{font:14px/1.25 system-ui,-apple-system,Roboto,sans-serif;color:#111827}
.wf{position:fixed;box-sizing:border-box;overflow:hidden;margin:0;display:flex;white-space:pre-wrap;overflow-wrap:anywhere}
.wf-masked{background:repeating-linear-gradient(135deg,#d1d5db 0 6px,#e5e7eb 6px 12px)!important;color:#374151!important;
 align-items:center!important;justify-content:center!important;font:12px/1.2 system-ui,sans-serif!important;outline:1px dashed #6b7280;outline-offset:-1px}
.wf-status_bar,.wf-navigation_bar{background:#e5e7eb}
.wf-web_view{background:#f3f4f6;outline:1px dashed #6b7280;outline-offset:-1px;flex-direction:column;align-items:center;justify-content:center;font-size:12px;color:#374151}
.wf-url{font-family:ui-monospace,monospace;color:#1d4ed8}
.wf-disabled{opacity:.55}
.wf-img{width:100%;height:100%;display:block}
.wf-field{width:100%;height:100%;box-sizing:border-box;margin:0;font:inherit;color:inherit;border:1px solid #9ca3af;border-radius:4px;padding:0 6px;background:#fff}
textarea.wf-field{padding:4px 6px;resize:none}
.wf-bare>.wf-field{border:0;background:transparent;padding:0}
.wf-check{display:flex;align-items:center;gap:6px;width:100%}
.wf-check input{margin:0}
.wf-toggle{position:relative;flex:none;width:34px;height:20px;border-radius:10px;background:#9ca3af}
.wf-toggle.wf-on{background:#2563eb}
.wf-knob{position:absolute;top:2px;left:2px;width:16px;height:16px;border-radius:50%;background:#fff}
.wf-on .wf-knob{left:16px}
.wf-input-button{background:#e5e7eb;border-radius:6px}
.wf-btn{all:unset;box-sizing:border-box;width:100%;height:100%;display:flex;align-items:center;justify-content:center;font:inherit;color:inherit;text-align:center}
.wf-track{width:100%;height:100%;min-height:4px;background:#e5e7eb;border-radius:999px;overflow:hidden;align-self:center}
.wf-fill{height:100%;background:currentColor}
.wf-ring{width:100%;height:100%;border-radius:50%;display:flex;align-items:center;justify-content:center}
.wf-hole{width:70%;height:70%;border-radius:50%;background:#fff}
.wf-stars{align-self:center;letter-spacing:2px}
.wf-keyboard{position:fixed;left:0;right:0;bottom:0;box-sizing:border-box;z-index:2147483647;background:#d1d5db;border-top:1px solid #9ca3af;
 display:flex;align-items:center;justify-content:center;color:#4b5563;font:13px system-ui,sans-serif}`;

/**
 * True when a window holds PostHog mobile events (full snapshots of wireframes, or `$snapshot_source: "mobile"`).
 * @param {any[]} events
 */
export function isMobileRecording(events) {
  for (const e of events) {
    if (!e || typeof e !== 'object') continue;
    const d = e.data;
    if (e.type === EV.Full && d && Array.isArray(d.wireframes)) return true;
    if (e.$snapshot_source === 'mobile' || (d && d.$snapshot_source === 'mobile')) return true;
  }
  return false;
}

/**
 * A window's events as web events: unchanged (the same array) unless it is a mobile recording.
 * @param {any[]} events sorted by timestamp @returns {any[]}
 */
export function mobileToWeb(events) {
  if (!isMobileRecording(events)) return events;
  const scene = new WireframeScene();
  const out = [];
  let sized = false;
  for (const e of events) {
    if (!e || typeof e !== 'object') continue;
    const d = e.data;
    try {
      if (e.type === EV.Meta && d) {
        if (d.width > 0 && d.height > 0) { scene.width = +d.width; scene.height = +d.height; sized = true; }
        out.push(e);
      } else if (e.type === EV.Full && d && Array.isArray(d.wireframes)) {
        // No meta before the first screen: size the device from what the screen covers.
        if (!sized) { out.push({ type: EV.Meta, data: extentOf(d.wireframes), timestamp: e.timestamp }); sized = true; }
        out.push({ ...e, data: { node: scene.full(d.wireframes), initialOffset: { top: 0, left: 0 } } });
      } else if (e.type === EV.Inc && d && d.source === SRC.Mutation && isWireframeMutation(d)) {
        // Nothing to change (e.g. removes of unknown ids) still leaves the event in the list, as an empty mutation.
        out.push({ ...e, data: scene.mutate(d) || { source: SRC.Mutation, texts: [], attributes: [], removes: [], adds: [] } });
      } else if (e.type === EV.Inc && d && d.source === SRC.MouseInteraction) {
        // A tap starts with TouchStart: shown (ripple, timeline marker) as the click it is.
        out.push({ ...e, data: { ...d, type: d.type === 7 ? 2 : d.type, id: scene.nodeId(d.id) } });
      } else if (e.type === EV.Inc && d && d.source === SRC.TouchMove && Array.isArray(d.positions)) {
        const positions = d.positions.map((/** @type {any} */ p) => ({ ...p, id: scene.nodeId(p && p.id) }));
        out.push({ ...e, data: { ...d, source: SRC.MouseMove, positions } });
      } else if (e.type === EV.Inc && d && d.id != null) {
        // Any other source naming a wireframe (scroll, input…): its id becomes the node's, never a node id by chance.
        out.push({ ...e, data: { ...d, id: scene.nodeId(d.id) } });
      } else if (e.type === EV.Custom && d && d.tag === 'keyboard') {
        out.push(e);
        const m = scene.keyboard(d.payload || {});
        if (m) out.push({ type: EV.Inc, data: m, timestamp: e.timestamp });
      } else out.push(e);
    } catch (err) {
      out.push(e); // a broken mobile event stays as recorded: the engine skips and counts it
    }
  }
  return out;
}

/**
 * A mutation of wireframes, not of rrweb nodes. In a mobile window that is every mutation but one that carries nodes,
 * texts or attributes (its ids are node ids: passing wireframe ids through would touch unrelated nodes).
 * @param {any} d
 */
function isWireframeMutation(d) {
  if (Array.isArray(d.updates) && d.updates.length) return true;
  const a = Array.isArray(d.adds) ? d.adds[0] : null;
  if (a && a.wireframe) return true;
  if (a && a.node) return false;
  return !(Array.isArray(d.texts) && d.texts.length) && !(Array.isArray(d.attributes) && d.attributes.length);
}

/** The device size a screen's wireframes cover (fallback when no meta event came first). @param {any[]} wfs */
function extentOf(wfs) {
  let width = 0, height = 0;
  const visit = (/** @type {any[]} */ list) => {
    for (const w of list || []) {
      if (!w || typeof w !== 'object') continue;
      width = Math.max(width, toNum(w.x) + (typeof w.width === 'number' ? w.width : 0));
      height = Math.max(height, toNum(w.y) + toNum(w.height));
      visit(kidsOf(w));
    }
  };
  visit(wfs);
  return { width: Math.round(width) || 360, height: Math.round(height) || 640 };
}

/**
 * @typedef {object} WfEntry one wireframe on screen
 * @property {number} nid serialized node id of its element
 * @property {any} parent wireframe id of its parent (null: top level)
 * @property {any[]} kids wireframe ids of its child wireframes, in order
 * @property {any} own its element, with its own content but without the child wireframes' elements
 * @property {any} last the wireframe as last seen, without its children (to rebuild it under another parent)
 */

/** The screen as wireframes, kept in step with the serialized document the events describe. */
class WireframeScene {
  constructor() {
    this.width = 0;
    this.height = 0;
    this.next = MID.first;
    /** Wireframe id → node id, kept for the whole recording (a wireframe keeps its node id across screens). @type {Map<any, number>} */
    this.ids = new Map();
    /** @type {Map<any, WfEntry>} */
    this.on = new Map();
    /** Top-level wireframe ids. @type {any[]} */
    this.roots = [];
    /** The keyboard box while it is open. @type {any} */
    this.kb = null;
  }

  /** @returns {number} a fresh node id */
  fresh() { return this.next++; }

  /** The node id of a wireframe id (undefined when it never was on screen). @param {any} id */
  nodeId(id) { return id == null ? undefined : this.ids.get(wfKey(id)); }

  /** @param {any} id wireframe id @returns {number} */
  nidFor(id) {
    const k = wfKey(id);
    let n = this.ids.get(k);
    if (n == null) { n = this.fresh(); this.ids.set(k, n); }
    return n;
  }

  /** A full snapshot: a new document of the whole screen. @param {any[]} wfs */
  full(wfs) {
    this.on = new Map();
    this.roots = [];
    for (const w of wfs) this.insert(w, null, true);
    const body = snEl('body', { class: 'wf-screen' }, this.roots.map((id) => this.tree(id)), MID.body);
    if (this.kb) body.childNodes.push(snClone(this.kb));
    const head = snEl('head', {}, [snEl('style', {}, [{ type: NT.Text, textContent: MOBILE_CSS, id: MID.css }], MID.style)], MID.head);
    return {
      type: NT.Document, id: MID.doc, childNodes: [
        { type: NT.DocumentType, name: 'html', publicId: '', systemId: '', id: MID.doctype },
        snEl('html', { 'data-reel': 'mobile' }, [head, body], MID.html),
      ],
    };
  }

  /**
   * Put a wireframe (and its child wireframes) on screen, in the model only. An id already on screen is replaced,
   * except within one full snapshot (`dup`: SDKs do send one id twice there, both are shown) and when it is an
   * ancestor of the new place: then the newcomer gets a key of its own (`id#n`, the same on every run).
   * @param {any} w @param {any} parent wireframe id or null @param {boolean} [dup]
   * @returns {any} its key, or undefined when unusable
   */
  insert(w, parent, dup = false) {
    if (!w || typeof w !== 'object' || w.id == null) return undefined;
    let id = wfKey(w.id);
    let at = -1;
    if (this.on.has(id)) {
      if (dup || this.holds(id, parent)) {
        let n = 1;
        while (this.on.has(`${id}#${n}`)) n++;
        id = `${id}#${n}`;
      } else {
        // Sent again under the same parent (iOS adds a tree, then its subtrees again): it keeps its place.
        const old = this.on.get(id);
        if (old.parent === (parent != null && this.on.has(parent) ? parent : null)) at = this.siblings(old).indexOf(id);
        this.drop(id);
      }
    }
    const entry = { nid: this.nidFor(id), parent, kids: [], own: this.ownNode(w, null, id), last: { ...w, childWireframes: undefined, childNodes: undefined } };
    this.on.set(id, entry);
    if (parent == null || !this.on.has(parent)) entry.parent = null;
    const list = this.siblings(entry);
    if (at >= 0 && at <= list.length) list.splice(at, 0, id); else list.push(id);
    for (const c of kidsOf(w)) this.insert(c, id, dup);
    return id;
  }

  /** Whether wireframe `id` is `at` or one of its ancestors. @param {any} id @param {any} at */
  holds(id, at) {
    for (let x = at; x != null; x = this.on.has(x) ? this.on.get(x).parent : null) if (x === id) return true;
    return false;
  }

  /** The list a wireframe sits in: its parent's kids, or the top level. @param {WfEntry} e @returns {any[]} */
  siblings(e) { return e.parent != null && this.on.has(e.parent) ? this.on.get(e.parent).kids : this.roots; }

  /** Take a wireframe and its descendants off the model. @param {any} id */
  drop(id) {
    const e = this.on.get(id);
    if (!e) return;
    for (const k of e.kids.slice()) this.drop(k);
    this.on.delete(id);
    const list = this.siblings(e);
    const i = list.indexOf(id);
    if (i >= 0) list.splice(i, 1);
  }

  /** The serialized element of a wireframe with its child wireframes (a fresh copy). @param {any} id @returns {any} */
  tree(id) {
    const e = this.on.get(id);
    const n = snClone(e.own);
    for (const k of e.kids) n.childNodes.push(this.tree(k));
    return n;
  }

  /**
   * A wireframe's own element: the positioned, styled box and what it shows, without child wireframes. Content ids
   * come from `old` when its content has the same shape (an update then changes only texts and attributes).
   * @param {any} w @param {any} old previous own element, or null @param {string} k its key
   */
  ownNode(w, old, k) {
    const type = typeOf(w);
    const s = w.style && typeof w.style === 'object' ? w.style : {};
    const r = wireframeContent(w, type, s);
    const cls = ['wf', 'wf-' + type];
    if (type === 'input') cls.push('wf-input-' + inputTypeOf(w));
    if (r.masked) cls.push('wf-masked');
    if (w.disabled === true) cls.push('wf-disabled');
    if (s.backgroundColor != null || s.borderWidth != null) cls.push('wf-bare');
    /** @type {Record<string, string>} */
    const attrs = { id: 'wf-' + k.replace(/[^\w-]/g, '_'), class: cls.join(' '), style: boxStyle(w, s, type) };
    // A control's name for the Events panel and the DOM explorer (its text sits deeper than the box).
    const name = type === 'input' ? (inputTypeOf(w) === 'button' && w.value != null ? w.value : w.label) : null;
    if (name != null && String(name)) attrs['aria-label'] = String(name);
    const content = r.nodes;
    if (old && shapeOf(old.childNodes) === shapeOf(content)) reuseIds(content, old.childNodes);
    else this.numberAll(content);
    return { type: NT.Element, tagName: 'div', attributes: attrs, childNodes: content, id: this.nidFor(k) };
  }

  /** @param {any[]} nodes */
  numberAll(nodes) {
    for (const n of nodes) { n.id = this.fresh(); if (n.childNodes) this.numberAll(n.childNodes); }
  }

  /**
   * A mobile mutation (adds, updates, removes of wireframes) as one rrweb mutation. Removes first, then adds, then
   * updates; what is added is serialized once at the end, as it then is (later updates in the same event included).
   * @param {any} d @returns {any} rrweb mutation data, or null when nothing changes
   */
  mutate(d) {
    const out = { source: SRC.Mutation, texts: /** @type {any[]} */ ([]), attributes: /** @type {any[]} */ ([]), removes: /** @type {any[]} */ ([]), adds: /** @type {any[]} */ ([]) };
    /** Wireframes (re)built in this event, serialized at the end. @type {any[]} */
    const added = [];
    /** Wireframes whose content is replaced: their old content node ids. @type {Map<any, number[]>} */
    const replaced = new Map();
    const removeNode = (/** @type {any} */ id) => {
      const e = this.on.get(id);
      if (!e) return;
      out.removes.push({ parentId: e.parent != null ? this.on.get(e.parent).nid : MID.body, id: e.nid });
      this.drop(id);
    };
    for (const r of Array.isArray(d.removes) ? d.removes : []) if (r && r.id != null) removeNode(wfKey(r.id));
    const inserted = (/** @type {any} */ id) => {
      // Within something built in this event: it is serialized whole at the end.
      for (let x = id; x != null; x = this.on.get(x) ? this.on.get(x).parent : null) if (added.includes(x)) return true;
      return false;
    };
    const add = (/** @type {any} */ w, /** @type {any} */ parentId) => {
      const parent = parentId != null && this.on.has(wfKey(parentId)) ? wfKey(parentId) : null;
      const id = this.insert(w, parent);
      if (id !== undefined) added.push(id);
    };
    const list = Array.isArray(d.adds) ? d.adds.filter((/** @type {any} */ a) => a && a.wireframe) : [];
    // Flat adds may name a parent added later in the list: add parents first.
    let queue = list;
    while (queue.length) {
      const ids = new Set(queue.map((/** @type {any} */ a) => wfKey(a.wireframe.id)));
      const ready = queue.filter((/** @type {any} */ a) => a.parentId == null || !ids.has(wfKey(a.parentId)) || wfKey(a.parentId) === wfKey(a.wireframe.id));
      const go = ready.length ? ready : queue.slice(0, 1);
      for (const a of go) {
        const id = wfKey(a.wireframe.id);
        if (this.on.has(id) && !inserted(id)) removeNode(id); // added again: replace it
        add(a.wireframe, a.parentId);
      }
      queue = queue.filter((/** @type {any} */ a) => !go.includes(a));
    }
    for (const u of Array.isArray(d.updates) ? d.updates : []) {
      if (u && u.wireframe) this.update(u.wireframe, u.parentId, out, added, replaced, inserted, add, removeNode);
    }
    for (const [id, oldIds] of replaced) {
      const e = this.on.get(id);
      if (!e || inserted(id)) continue;
      for (const n of oldIds) out.removes.push({ parentId: e.nid, id: n });
      const firstKid = e.kids.find((k) => !inserted(k));
      const nextId = firstKid != null ? this.on.get(firstKid).nid : null;
      for (const c of e.own.childNodes) out.adds.push({ parentId: e.nid, nextId, node: snClone(c) });
    }
    for (const id of new Set(added)) {
      const e = this.on.get(id);
      if (!e) continue;
      if (e.parent != null && inserted(e.parent)) continue; // inside another added tree
      out.adds.push({ parentId: e.parent != null ? this.on.get(e.parent).nid : MID.body, nextId: null, node: this.tree(id) });
    }
    if (!out.adds.length && !out.removes.length && !out.texts.length && !out.attributes.length) return null;
    return out;
  }

  /**
   * One updated wireframe: its box and content change in place; a new parent moves it; child wireframes listed
   * are updated too (the ones not listed stay: removes are explicit).
   * @param {any} w @param {any} parentId @param {any} out @param {any[]} added @param {Map<any, number[]>} replaced
   * @param {(id: any) => boolean} inserted @param {(w: any, p: any) => void} add @param {(id: any) => void} removeNode
   */
  update(w, parentId, out, added, replaced, inserted, add, removeNode) {
    if (!w || typeof w !== 'object' || w.id == null) return;
    const id = wfKey(w.id);
    const e = this.on.get(id);
    const newParent = parentId != null && this.on.has(wfKey(parentId)) ? wfKey(parentId) : (e ? e.parent : null);
    if (!e) { add(w, parentId); return; }
    if (newParent !== e.parent && newParent !== id) {
      // Moved to another parent: off the old one, onto the new one, keeping its child wireframes.
      const kids = e.kids.map((k) => this.snapshotOf(k));
      if (!inserted(id)) removeNode(id); else this.drop(id);
      const nid = this.insert({ ...w, childWireframes: kids }, newParent);
      if (nid !== undefined) added.push(nid);
      return;
    }
    const own = this.ownNode(w, e.own, id);
    if (!inserted(id)) {
      diffAttrs(e.own, own, out);
      if (shapeOf(own.childNodes) === shapeOf(e.own.childNodes)) {
        for (let i = 0; i < own.childNodes.length; i++) diffNode(e.own.childNodes[i], own.childNodes[i], out);
      } else if (!replaced.has(id)) replaced.set(id, e.own.childNodes.map((/** @type {any} */ c) => c.id));
    }
    e.own = own;
    e.last = { ...w, childWireframes: undefined, childNodes: undefined };
    for (const c of kidsOf(w)) this.update(c, id, out, added, replaced, inserted, add, removeNode);
  }

  /** A wireframe as last seen, with its children (to rebuild it elsewhere). @param {any} id @returns {any} */
  snapshotOf(id) {
    const e = this.on.get(id);
    return { ...e.last, childWireframes: e.kids.map((k) => this.snapshotOf(k)) };
  }

  /**
   * The software keyboard: a box at the bottom of the device while it is open.
   * @param {any} p payload `{open, height?, styles?, x?, y?, width?}` @returns {any} rrweb mutation data, or null
   */
  keyboard(p) {
    if (p.open === false || p.open === 'false') {
      if (!this.kb) return null;
      const id = this.kb.id;
      this.kb = null;
      return { source: SRC.Mutation, texts: [], attributes: [], removes: [{ parentId: MID.body, id }], adds: [] };
    }
    const st = p.styles && typeof p.styles === 'object' ? p.styles : {};
    let hgt = toNum(p.height != null ? p.height : st.height);
    // Without a height, a phone keyboard covers about 40 % of the screen.
    if (!(hgt > 0)) hgt = Math.round((this.height || 640) * 0.4);
    const bg = cssColor(st.backgroundColor);
    let style = `height:${hgt}px` + (bg ? `;background:${bg}` : '');
    // With x and y (the schema allows them) it sits there; without, at the bottom, full width.
    if (typeof p.x === 'number' && typeof p.y === 'number') {
      style += `;left:${cssLen(p.x)};top:${cssLen(p.y)};bottom:auto` + (typeof p.width === 'number' ? `;width:${cssLen(p.width)};right:auto` : '');
    }
    if (this.kb) {
      if (this.kb.attributes.style === style) return null;
      this.kb.attributes.style = style;
      return { source: SRC.Mutation, texts: [], attributes: [{ id: this.kb.id, attributes: { style } }], removes: [], adds: [] };
    }
    this.kb = snEl('div', { id: 'wf-keyboard', class: 'wf-keyboard', style }, [{ type: NT.Text, textContent: 'keyboard', id: 0 }], this.fresh());
    this.kb.childNodes[0].id = this.fresh();
    return { source: SRC.Mutation, texts: [], attributes: [], removes: [], adds: [{ parentId: MID.body, nextId: null, node: snClone(this.kb) }] };
  }
}

// ---- serialized nodes

/** @param {string} tag @param {Record<string, string>} attributes @param {any[]} [childNodes] @param {number} [id] */
function snEl(tag, attributes, childNodes = [], id = 0) {
  return { type: NT.Element, tagName: tag, attributes, childNodes, id };
}

/** @param {any} text */
function snText(text) { return { type: NT.Text, textContent: String(text), id: 0 }; }

/** A deep copy (events must not share node objects: the model keeps changing). @param {any} n @returns {any} */
function snClone(n) {
  const c = { ...n };
  if (n.attributes) c.attributes = { ...n.attributes };
  if (n.childNodes) c.childNodes = n.childNodes.map(snClone);
  return c;
}

/** Wireframe ids are numbers in every SDK; strings are kept apart from nothing (`10` and `"10"` are one wireframe). @param {any} id */
function wfKey(id) { return String(id); }

/** Form elements: any change of their attributes rebuilds them (properties such as `checked` outlive attributes). */
const FORM_TAGS = new Set(['input', 'select', 'option', 'textarea']);

/** What must match for content to be updated in place. @param {any[]} nodes @returns {string} */
function shapeOf(nodes) {
  let s = '';
  for (const n of nodes) {
    if (n.type === NT.Text) s += 't,';
    else s += n.tagName + (FORM_TAGS.has(n.tagName) ? JSON.stringify(n.attributes) : '') + '(' + shapeOf(n.childNodes || []) + '),';
  }
  return s;
}

/** Give new content the ids of the same-shaped old content. @param {any[]} nodes @param {any[]} old */
function reuseIds(nodes, old) {
  for (let i = 0; i < nodes.length; i++) {
    nodes[i].id = old[i].id;
    if (nodes[i].childNodes) reuseIds(nodes[i].childNodes, old[i].childNodes || []);
  }
}

/** Attribute changes of one element as an rrweb `attributes` entry (null removes). @param {any} a @param {any} b @param {any} out */
function diffAttrs(a, b, out) {
  /** @type {Record<string, string|null>} */
  const ch = {};
  let any = false;
  for (const k in b.attributes) if (a.attributes[k] !== b.attributes[k]) { ch[k] = b.attributes[k]; any = true; }
  for (const k in a.attributes) if (!(k in b.attributes)) { ch[k] = null; any = true; }
  if (any) out.attributes.push({ id: b.id, attributes: ch });
}

/** Texts and attributes that differ between same-shaped nodes. @param {any} a @param {any} b @param {any} out */
function diffNode(a, b, out) {
  if (b.type === NT.Text) {
    if (a.textContent !== b.textContent) out.texts.push({ id: b.id, value: b.textContent });
    return;
  }
  diffAttrs(a, b, out);
  for (let i = 0; i < (b.childNodes || []).length; i++) diffNode(a.childNodes[i], b.childNodes[i], out);
}

// ---- what a wireframe shows

/**
 * @typedef {object} WfContent
 * @property {any[]} nodes serialized content (ids not yet given)
 * @property {boolean} [masked] shown as a masked placeholder
 */

/** @param {any} w @param {string} type @param {any} s style @returns {WfContent} */
function wireframeContent(w, type, s) {
  switch (type) {
    case 'text': {
      const t = w.text == null ? '' : String(w.text);
      // The SDKs mask text as asterisks of the same length.
      if (/^\s*\*+\s*$/.test(t)) return maskedBox(t.trim());
      return { nodes: t ? [snText(t)] : [] };
    }
    case 'image': case 'screenshot': {
      const src = imageSrc(w.base64);
      if (!src) return maskedBox(w.label != null && String(w.label) ? String(w.label) : type);
      const fit = type === 'screenshot' ? 'fill' : (s.backgroundSize === 'cover' || s.backgroundSize === 'fill' ? s.backgroundSize : 'contain');
      return { nodes: [snEl('img', { class: 'wf-img', src, alt: '', style: `object-fit:${fit}` })] };
    }
    case 'placeholder': return maskedBox(w.label != null && String(w.label) ? String(w.label) : 'placeholder');
    case 'web_view': {
      const nodes = [snEl('span', { class: 'wf-label' }, [snText('Web view')])];
      if (w.url != null && String(w.url)) nodes.push(snEl('span', { class: 'wf-url' }, [snText(String(w.url))]));
      return { nodes };
    }
    case 'input': return { nodes: inputContent(w, s) };
    default:
      return { nodes: typeof w.text === 'string' && w.text ? [snText(w.text)] : [] };
  }
}

/** The wireframe type: lower case, spaces as `_` (`"radio group"`, `" radio_group"` are seen); unknown shapes are `div`. @param {any} w */
function typeOf(w) {
  const t = typeof w.type === 'string' ? w.type.trim().toLowerCase().replace(/\s+/g, '_') : 'div';
  return /^[a-z_]{1,32}$/.test(t) ? t : 'div';
}

/** Child wireframes (`childNodes` is seen for them too, told apart from rrweb nodes by a string `type`). @param {any} w @returns {any[]} */
function kidsOf(w) {
  if (Array.isArray(w.childWireframes)) return w.childWireframes;
  if (Array.isArray(w.childNodes)) return w.childNodes.filter((/** @type {any} */ c) => c && typeof c === 'object' && typeof c.type === 'string');
  return [];
}

/** @param {string} label @returns {WfContent} */
function maskedBox(label) { return { nodes: [snText(label)], masked: true }; }

/** The input type, lower case (`textarea` and `switch` as the schema names them). @param {any} w */
function inputTypeOf(w) {
  const t = typeof w.inputType === 'string' ? w.inputType.toLowerCase() : 'text';
  if (t === 'textarea') return 'text_area';
  if (t === 'switch') return 'toggle';
  return /^[a-z_]{1,20}$/.test(t) ? t : 'text';
}

/** Plain HTML for one input wireframe: nothing scripted, nothing that fetches. @param {any} w @param {any} s @returns {any[]} */
function inputContent(w, s) {
  const it = inputTypeOf(w);
  /** @type {Record<string, string>} */
  const dis = w.disabled === true ? { disabled: '' } : {};
  const val = w.value == null ? '' : String(w.value);
  const label = w.label == null ? '' : String(w.label);
  const labelNodes = label ? [snEl('span', { class: 'wf-label' }, [snText(label)])] : [];
  switch (it) {
    case 'checkbox': case 'radio':
      return [snEl('label', { class: 'wf-check' }, [snEl('input', { type: it, ...(w.checked === true ? { checked: '' } : {}), ...dis }), ...labelNodes])];
    case 'toggle':
      return [snEl('span', { class: 'wf-check' }, [snEl('span', { class: w.checked === true ? 'wf-toggle wf-on' : 'wf-toggle' }, [snEl('span', { class: 'wf-knob' })]), ...labelNodes])];
    case 'select': {
      const options = Array.isArray(w.options) ? w.options.map(String) : [];
      if (!options.includes(val)) options.unshift(val);
      return [snEl('select', { class: 'wf-field', value: val, ...dis }, options.map((o) => snEl('option', { value: o, ...(o === val ? { selected: '' } : {}) }, [snText(o)])))];
    }
    case 'text_area': return [snEl('textarea', { class: 'wf-field', value: val, readonly: '', ...dis })];
    case 'button': return [snEl('button', { class: 'wf-btn', type: 'button', ...dis }, val || label ? [snText(val || label)] : [])];
    case 'progress': return progressContent(w, s);
    default:
      // Every text-like type shows its value as recorded (a masked `***` would vanish from a type=number box).
      return [snEl('input', { class: 'wf-field', type: it === 'password' ? 'password' : 'text', value: val, readonly: '', ...dis })];
  }
}

/** Progress: a bar (default), a ring (`bar: circular`) or stars (`bar: rating`). @param {any} w @param {any} s @returns {any[]} */
function progressContent(w, s) {
  const bar = s.bar === 'circular' || s.bar === 'rating' ? s.bar : 'horizontal';
  // Without a max: 5 stars, else 1 as the schema says (a value above 1 is taken as a percentage).
  const max = toNum(w.max) > 0 ? toNum(w.max) : (bar === 'rating' ? 5 : (toNum(w.value) > 1 ? 100 : 1));
  const v = w.value == null ? null : Math.max(0, Math.min(max, toNum(w.value)));
  const color = cssColor(s.color) || (bar === 'rating' ? '#f59e0b' : '#2563eb');
  if (bar === 'rating') {
    const n = Math.max(1, Math.min(20, Math.round(max)));
    const full = Math.round(((v || 0) / max) * n);
    return [snEl('span', { class: 'wf-stars', style: `color:${color}` }, [snText('★'.repeat(full) + '☆'.repeat(n - full))])];
  }
  // No value: indeterminate, drawn as a quarter.
  const pct = v == null ? 25 : Math.round((v / max) * 1000) / 10;
  if (bar === 'circular') return [snEl('div', { class: 'wf-ring', style: `background:conic-gradient(${color} ${pct}%, #e5e7eb 0)` }, [snEl('div', { class: 'wf-hole' })])];
  return [snEl('div', { class: 'wf-track' }, [snEl('div', { class: 'wf-fill', style: `width:${pct}%;background:${color}` })])];
}

// ---- recorded values → CSS (validated: a recorded value never adds a declaration or fetches)

/** A number from a number or a `"12px"` string; 0 otherwise. @param {any} v */
function toNum(v) {
  const n = typeof v === 'number' ? v : (typeof v === 'string' && /^\s*-?\d+(\.\d+)?(px)?\s*$/.test(v) ? parseFloat(v) : NaN);
  return Number.isFinite(n) ? n : 0;
}

/** A CSS length of points, or a `vw`/`vh`/`%` string. @param {any} v */
function cssLen(v) {
  if (typeof v === 'string' && /^\d+(\.\d+)?(vw|vh|%)$/.test(v.trim())) return v.trim();
  return toNum(v) + 'px';
}

/** A recorded colour if it is one (hex, rgb/hsl functions, a name), else null. @param {any} v */
function cssColor(v) {
  if (typeof v !== 'string') return null;
  const c = v.trim();
  if (/^#[0-9a-f]{3,8}$/i.test(c) || /^(rgb|rgba|hsl|hsla)\([-0-9.,%\s/a-z]*\)$/i.test(c) && !/url|expression|var|attr/i.test(c) || /^[a-z]{3,24}$/i.test(c)) return c;
  return null;
}

/** A recorded image as a data: URL (bare base64 is a PNG, as the schema says), or null: never a URL that fetches. @param {any} v */
function imageSrc(v) {
  if (typeof v !== 'string' || !v) return null;
  const s = v.replace(/\s+/g, '');
  if (/^data:image\/(png|jpe?g|gif|webp|bmp);base64,[A-Za-z0-9+/=]+$/i.test(s)) return s;
  if (/^[A-Za-z0-9+/]+=*$/.test(s)) return 'data:image/png;base64,' + s;
  return null;
}

/** @param {any} v */
function cssFont(v) {
  return typeof v === 'string' && /^[\w\s,.'-]{1,100}$/.test(v) ? v.replace(/'/g, '') : null;
}

const ALIGN = { top: 'flex-start', left: 'flex-start', center: 'center', bottom: 'flex-end', right: 'flex-end' };

/**
 * The inline style of a wireframe's box: position and size in device points, then the recorded style fields.
 * @param {any} w @param {any} s @param {string} type
 */
function boxStyle(w, s, type) {
  // The system bars span the screen when no width came.
  const bar = (type === 'status_bar' || type === 'navigation_bar') && w.width == null;
  const p = [`left:${cssLen(w.x)}`, `top:${cssLen(w.y)}`, `width:${bar ? '100vw' : cssLen(w.width)}`, `height:${cssLen(w.height)}`];
  const color = cssColor(s.color);
  if (color && !(type === 'input' && s.bar)) p.push(`color:${color}`);
  const bg = cssColor(s.backgroundColor);
  if (bg) p.push(`background-color:${bg}`);
  const bgi = imageSrc(s.backgroundImage);
  if (bgi) {
    p.push(`background-image:url("${bgi}")`);
    const size = typeof s.backgroundSize === 'string' && /^(cover|contain|auto|\d+(\.\d+)?(px|%)( \d+(\.\d+)?(px|%))?)$/.test(s.backgroundSize) ? s.backgroundSize : 'cover';
    p.push(`background-size:${size}`, 'background-repeat:no-repeat', 'background-position:center');
  }
  const bc = cssColor(s.borderColor);
  if (s.borderWidth != null) p.push(`border:${cssLen(s.borderWidth)} solid ${bc || 'currentColor'}`);
  else if (bc) p.push(`border:1px solid ${bc}`);
  if (s.borderRadius != null) p.push(`border-radius:${cssLen(s.borderRadius)}`);
  if (s.fontSize != null) p.push(`font-size:${cssLen(s.fontSize)}`);
  const ff = cssFont(s.fontFamily);
  if (ff) p.push(`font-family:${ff}`);
  for (const side of ['Top', 'Right', 'Bottom', 'Left']) if (s['padding' + side] != null) p.push(`padding-${side.toLowerCase()}:${cssLen(s['padding' + side])}`);
  const va = ALIGN[/** @type {keyof typeof ALIGN} */ (s.verticalAlign)];
  if (va && s.verticalAlign !== 'left' && s.verticalAlign !== 'right') p.push(`align-items:${va}`);
  const ha = ALIGN[/** @type {keyof typeof ALIGN} */ (s.horizontalAlign)];
  if (ha && s.horizontalAlign !== 'top' && s.horizontalAlign !== 'bottom') p.push(`justify-content:${ha}`, `text-align:${s.horizontalAlign}`);
  return p.join(';');
}
