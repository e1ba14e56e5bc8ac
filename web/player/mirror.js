// The mirror: recorded node id <-> live node, plus the replay state that does not live in the DOM
// (scroll offsets, constructed stylesheets, media state...). One mirror per replayed document tree.

export class Mirror {
  constructor() {
    /** @type {Map<number, Node>} */
    this.nodes = new Map();
    /** @type {WeakMap<Node, number>} */
    this.ids = new WeakMap();
    /** @type {Map<number, {x: number, y: number}>} scroll offsets by node id */
    this.scroll = new Map();
    /** @type {Map<number, any>} media state by node id */
    this.media = new Map();
    /** @type {Map<number, CSSStyleSheet>} constructed stylesheets by styleId */
    this.sheets = new Map();
    /** @type {Map<number, number[]>} adopted styleIds by host node id (document or shadow host) */
    this.adopted = new Map();
    /** @type {Set<number>} ids of style/link elements whose CSSOM was changed by events */
    this.touchedSheets = new Set();
    /** @type {Map<number, Document>} inert documents of iframes (keyframe builder only) */
    this.iframeDocs = new Map();
    /** @type {Map<string, {base: string[]|null, ops: any[]}>} CSSOM edits as recorded: 'n'+node id or 's'+styleId */
    this.sheetLog = new Map();
  }

  /** @param {number} id */
  get(id) { return this.nodes.get(id); }

  /** @param {Node} node @returns {number|undefined} */
  getId(node) { return node ? this.ids.get(node) : undefined; }

  /** @param {number} id @param {Node} node */
  add(id, node) {
    if (id == null) return;
    this.nodes.set(id, node);
    this.ids.set(node, id);
  }

  /** Forget a node and its whole subtree (including shadow roots and iframe documents). @param {Node} node */
  removeTree(node) {
    const id = this.ids.get(node);
    if (id != null) {
      if (this.nodes.get(id) === node) this.nodes.delete(id);
      this.scroll.delete(id);
      this.media.delete(id);
      this.touchedSheets.delete(id);
      this.sheetLog.delete('n' + id);
      const idoc = this.iframeDocs.get(id);
      if (idoc) { this.iframeDocs.delete(id); this.removeTree(idoc); }
    }
    for (let c = node.firstChild; c; c = c.nextSibling) this.removeTree(c);
    const sr = /** @type {Element} */ (node).shadowRoot;
    if (sr) for (let c = sr.firstChild; c; c = c.nextSibling) this.removeTree(c);
    if (node.nodeName === 'IFRAME') {
      try {
        const d = /** @type {HTMLIFrameElement} */ (node).contentDocument;
        if (d && this.ids.has(d)) this.removeTree(d);
      } catch (e) { /* cross-origin: nothing mirrored there */ }
    }
  }

  clear() {
    this.nodes.clear();
    this.ids = new WeakMap();
    this.scroll.clear();
    this.media.clear();
    this.sheets.clear();
    this.adopted.clear();
    this.touchedSheets.clear();
    this.iframeDocs.clear();
    this.sheetLog.clear();
  }
}
