// Side panels: console, network, events, metadata and the DOM explorer.
import { h, fmtTime, fmtBytes, EV, SRC } from './util.js';
import { reqDuration, reqStatus } from './timeline.js';
import { Describer, KINDS, humanLabel } from './describe.js';

const TABS = [['moments', 'Moments'], ['console', 'Console'], ['network', 'Network'], ['events', 'Events'], ['meta', 'Meta'], ['dom', 'DOM']];

/**
 * @typedef {object} PanelHost
 * @property {() => any} info analysis of the session (timeline.js)
 * @property {() => number} time current ms from start
 * @property {(ms: number) => void} seek
 * @property {() => import('./engine.js').ReelEngine|null} engine
 * @property {() => any} meta
 */

export class ReelPanels {
  /** @param {HTMLElement} side @param {PanelHost} host */
  constructor(side, host) {
    this.side = side;
    this.host = host;
    this.tabs = h('div', 'reel-tabs');
    this.body = h('div', 'reel-panel-body');
    side.append(this.tabs, this.body);
    /** @type {Record<string, HTMLElement>} */
    this.views = {};
    /** @type {Record<string, HTMLElement>} */
    this.tabBtns = {};
    for (const [key, label] of TABS) {
      const b = h('button', 'reel-tab', label);
      b.dataset.tab = key;
      b.addEventListener('click', (ev) => this.show(key, ev.shiftKey));
      b.title = `${label} (shift-click to open beside the others)`;
      this.tabs.appendChild(b);
      this.tabBtns[key] = b;
      const v = h('div', 'reel-view reel-view-' + key);
      this.views[key] = v;
      this.body.appendChild(v);
    }
    this.current = '';
    /** @type {{el: HTMLElement, t: number, ev?: boolean}[]} */
    this.timed = [];
    this.eventsStale = true;
    this.domSelected = null;
    this.inspecting = false;
    this.lastDomRefresh = 0;
  }

  /**
   * Show one panel, or with `add` toggle it next to the open ones (shift-click on a tab).
   * @param {string} key @param {boolean} [add]
   */
  show(key, add) {
    if (!this.visible) this.visible = new Set();
    if (add) { if (this.visible.has(key) && this.visible.size > 1) this.visible.delete(key); else this.visible.add(key); }
    else this.visible = new Set([key]);
    this.current = key;
    for (const k in this.views) {
      this.views[k].hidden = !this.visible.has(k);
      this.tabBtns[k].classList.toggle('on', this.visible.has(k));
    }
    if (this.visible.has('dom')) this.refreshDom();
    if (this.visible.has('meta')) this.renderMeta();
    if (this.visible.has('events') && this.eventsStale) this.renderEvents();
  }

  /** Is panel `key` open? @param {string} key */
  isOpen(key) { return !!this.visible && this.visible.has(key); }

  /** (Re)render everything that depends on the loaded session. */
  render() {
    this.timed = [];
    this.renderMoments();
    this.renderConsole();
    this.renderNetwork();
    this.eventsStale = true; // the event list can be long: built when its tab is first shown
    this.renderMeta();
    this.renderDomShell();
    const keep = this.visible && this.visible.size ? Array.from(this.visible) : ['console'];
    this.show(keep[0]);
    for (const k of keep.slice(1)) this.show(k, true);
  }

  /** Dim entries after the current time. @param {number} t */
  tick(t) {
    const now = performance.now();
    if (now - (this.lastTick || 0) < 250 && Math.abs(t - (this.lastT || 0)) < 5000) return;
    this.lastTick = now; this.lastT = t;
    for (const x of this.timed) x.el.classList.toggle('future', x.t > t);
    if (this.isOpen('dom') && performance.now() - this.lastDomRefresh > 1000) this.refreshDom();
  }

  /** Key moments (from summary.json or the server) and the session's summary text. */
  renderMoments() {
    const v = this.views.moments;
    const info = this.host.info();
    /** @type {HTMLElement[]} */
    const kids = [];
    if (info.summary && info.summary.text) kids.push(h('div', 'reel-summary', String(info.summary.text)));
    const list = h('div', 'reel-list');
    for (const m of info.moments) {
      const r = h('div', 'reel-row reel-moment reel-mo-' + m.kind);
      const link = /** @type {HTMLAnchorElement} */ (h('a', 'reel-t', fmtTime(m.t)));
      link.href = '#t=' + (m.t / 1000).toFixed(1);
      link.title = 'Link to this moment';
      r.append(link, h('span', 'reel-lvl', m.kind.replace(/_/g, ' ')), h('span', 'reel-msg', m.label.replace(/^[^:]*: ?/, '')));
      r.title = m.moment.url || '';
      r.addEventListener('click', (ev) => { if (ev.target !== link) ev.preventDefault(); this.host.seek(m.t); });
      this.timed.push({ el: r, t: m.t });
      list.appendChild(r);
    }
    if (!info.moments.length) list.appendChild(h('div', 'reel-empty', info.summary ? 'No key moments.' : 'No moments: this recording has no summary.json (reel pack adds one).'));
    kids.push(list);
    v.replaceChildren(...kids);
  }

  renderConsole() {
    const v = this.views.console;
    const bar = h('div', 'reel-filter');
    const q = /** @type {HTMLInputElement} */ (h('input'));
    q.placeholder = 'Filter console'; q.type = 'search';
    const lvl = /** @type {HTMLSelectElement} */ (h('select'));
    for (const l of ['all', 'error', 'warn', 'info', 'log', 'debug']) { const o = /** @type {HTMLOptionElement} */ (h('option', '', l)); o.value = l; lvl.appendChild(o); }
    bar.append(q, lvl);
    const list = h('div', 'reel-list');
    const entries = this.host.info().consoleEntries;
    const rows = entries.map((c) => {
      const r = h('div', 'reel-row reel-log reel-log-' + c.level);
      r.append(h('span', 'reel-t', fmtTime(c.t)), h('span', 'reel-lvl', c.level), h('span', 'reel-msg', c.text));
      r.title = (c.trace || []).join('\n');
      r.addEventListener('click', () => this.host.seek(c.t));
      this.timed.push({ el: r, t: c.t });
      return { r, c };
    });
    const apply = () => {
      const text = q.value.toLowerCase();
      for (const { r, c } of rows) {
        r.hidden = (lvl.value !== 'all' && c.level !== lvl.value) || (!!text && !c.text.toLowerCase().includes(text));
      }
    };
    q.addEventListener('input', apply);
    lvl.addEventListener('change', apply);
    list.append(...rows.map((x) => x.r));
    if (!rows.length) list.append(h('div', 'reel-empty', 'No console messages recorded.'));
    this.tabBtns.console.textContent = `Console (${entries.length})`;
    const errs = entries.filter((c) => c.level === 'error').length;
    if (errs) this.tabBtns.console.append(h('span', 'reel-badge', String(errs)));
    v.replaceChildren(bar, list);
  }

  renderNetwork() {
    const v = this.views.network;
    const entries = this.host.info().network;
    const bar = h('div', 'reel-filter');
    const q = /** @type {HTMLInputElement} */ (h('input'));
    q.placeholder = 'Filter URL'; q.type = 'search';
    bar.append(q);
    const table = h('table', 'reel-net');
    const head = h('tr');
    for (const c of ['Time', 'Method', 'URL', 'Status', 'Type', 'Duration', 'Size']) head.append(h('th', '', c));
    table.append(head);
    const detail = h('div', 'reel-net-detail');
    detail.hidden = true;
    const rows = entries.map((n) => {
      const r = n.req;
      const tr = h('tr', 'reel-row');
      const st = reqStatus(r);
      if (+st >= 400) tr.classList.add('reel-bad');
      const dur = reqDuration(r);
      const size = r.transferSize || r.decodedBodySize || r.encodedBodySize;
      let short = String(r.name || r.url || '');
      try { const u = new URL(short); short = u.pathname + u.search; } catch (e) { /* keep */ }
      tr.append(h('td', 'reel-t', fmtTime(n.t)), h('td', '', r.method || 'GET'), h('td', 'reel-url', short), h('td', '', String(st)),
        h('td', '', r.initiatorType || ''), h('td', '', dur != null ? Math.round(dur) + ' ms' : ''), h('td', '', fmtBytes(size)));
      tr.title = String(r.name || '');
      tr.addEventListener('click', () => { this.host.seek(n.t); this.showRequest(detail, r); });
      this.timed.push({ el: tr, t: n.t });
      return { tr, name: String(r.name || '') };
    });
    q.addEventListener('input', () => { for (const x of rows) x.tr.hidden = !!q.value && !x.name.toLowerCase().includes(q.value.toLowerCase()); });
    table.append(...rows.map((x) => x.tr));
    this.tabBtns.network.textContent = `Network (${entries.length})`;
    v.replaceChildren(bar, entries.length ? table : h('div', 'reel-empty', 'No network requests recorded.'), detail);
  }

  /** @param {HTMLElement} detail @param {any} r */
  showRequest(detail, r) {
    detail.hidden = false;
    const close = h('button', 'reel-close', '×');
    close.addEventListener('click', () => { detail.hidden = true; });
    const parts = [close, h('div', 'reel-net-title', `${r.method || 'GET'} ${r.name || ''}`)];
    const kv = (/** @type {string} */ title, /** @type {any} */ obj) => {
      if (!obj || typeof obj !== 'object' || !Object.keys(obj).length) return;
      parts.push(h('h4', '', title));
      const dl = h('dl');
      for (const [k, val] of Object.entries(obj)) dl.append(h('dt', '', k), h('dd', '', String(val)));
      parts.push(dl);
    };
    const body = (/** @type {string} */ title, /** @type {any} */ b) => {
      if (b == null || b === '') return;
      parts.push(h('h4', '', title));
      parts.push(h('pre', '', typeof b === 'string' ? b : JSON.stringify(b, null, 2)));
    };
    kv('Summary', { status: reqStatus(r), type: r.initiatorType, duration: reqDuration(r) != null ? Math.round(reqDuration(r)) + ' ms' : '', transferSize: r.transferSize, decodedBodySize: r.decodedBodySize });
    kv('Request headers', r.requestHeaders);
    body('Request body', r.requestBody);
    kv('Response headers', r.responseHeaders);
    body('Response body', r.responseBody);
    detail.replaceChildren(...parts);
  }

  renderEvents() {
    if (!this.isOpen('events')) { this.eventsStale = true; return; }
    this.eventsStale = false;
    this.timed = this.timed.filter((x) => !x.ev);
    const v = this.views.events;
    const eng = this.host.engine();
    const evs = eng ? eng.events : [];
    const start = this.host.info().start;
    const list = h('div', 'reel-list');
    // Filter by kind (kept across re-renders); the element, text and URL of each event come from describe.js.
    const bar = h('div', 'reel-filter');
    const sel = /** @type {HTMLSelectElement} */ (h('select', 'reel-events-kind'));
    sel.title = 'Show only events of this kind';
    for (const k of ['', ...KINDS]) { const o = /** @type {HTMLOptionElement} */ (h('option', '', k || 'all events')); o.value = k; sel.append(o); }
    sel.value = this.eventsKind || '';
    sel.addEventListener('change', () => { this.eventsKind = sel.value; this.renderEvents(); });
    bar.append(sel);
    const LIMIT = 3000;
    const rows = [];
    const desc = new Describer();
    for (let i = 0; i < evs.length && rows.length < LIMIT; i++) {
      const e = evs[i];
      const t = e.timestamp - start;
      const { kind, text } = desc.describe(e); // every event, so that node labels stay current
      if (e.type === EV.Inc && e.data && (e.data.source === SRC.MouseMove || e.data.source === SRC.TouchMove)) continue;
      if (this.eventsKind && kind !== this.eventsKind) continue;
      const r = h('div', 'reel-row reel-ev-' + kind);
      r.append(h('span', 'reel-t', fmtTime(t)), h('span', 'reel-msg', text));
      r.title = text;
      r.addEventListener('click', () => this.host.seek(t));
      this.timed.push({ el: r, t, ev: true });
      rows.push(r);
    }
    list.append(...rows);
    if (rows.length >= LIMIT) list.append(h('div', 'reel-empty', `First ${LIMIT} events shown.`));
    if (!rows.length) list.append(h('div', 'reel-empty', 'No events of this kind.'));
    v.replaceChildren(bar, list);
  }

  renderMeta() {
    const m = this.host.meta();
    const dl = h('dl', 'reel-meta');
    for (const [k, val] of Object.entries(m)) {
      if (val == null || val === '') continue;
      const dt = h('dt', '', humanLabel(k));
      dt.title = k; // the field's own name, for scripts and searches
      dl.append(dt, h('dd', '', typeof val === 'object' ? JSON.stringify(val) : String(val)));
    }
    this.views.meta.replaceChildren(dl);
  }

  renderDomShell() {
    const v = this.views.dom;
    const bar = h('div', 'reel-filter');
    const insp = h('button', 'reel-inspect', 'Inspect');
    insp.title = 'Click an element in the replay to select it';
    const q = /** @type {HTMLInputElement} */ (h('input', 'reel-dom-query'));
    q.placeholder = 'CSS selector, Enter to find';
    const go = h('button', 'reel-dom-find', 'Find');
    const find = () => this.findSelector(q.value);
    q.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') find(); ev.stopPropagation(); });
    go.addEventListener('click', find);
    insp.addEventListener('click', () => this.setInspect(!this.inspecting));
    bar.append(insp, q, go);
    this.domMsg = h('div', 'reel-dom-msg');
    this.domTree = h('div', 'reel-dom-tree');
    this.domInfo = h('div', 'reel-dom-info');
    this.inspectBtn = insp;
    v.replaceChildren(bar, this.domMsg, this.domTree, this.domInfo);
    this.domTree.addEventListener('mouseleave', () => { const e = this.host.engine(); if (e) e.highlightNode(this.domSelected); });
  }

  /** @param {boolean} on */
  setInspect(on) {
    const eng = this.host.engine();
    this.inspecting = on;
    if (this.inspectBtn) this.inspectBtn.classList.toggle('on', on);
    if (!eng) return;
    eng.shield.classList.toggle('inspect', on);
    if (on && !eng.shield.dataset.bound) {
      eng.shield.dataset.bound = '1';
      const pick = (/** @type {MouseEvent} */ ev) => {
        const r = eng.viewport.getBoundingClientRect();
        const x = (ev.clientX - r.left) / eng.scale, y = (ev.clientY - r.top) / eng.scale;
        let el = eng.doc.elementFromPoint(x, y);
        while (el && el.shadowRoot) { const inner = el.shadowRoot.elementFromPoint(x, y); if (!inner || inner === el) break; el = inner; }
        return el;
      };
      eng.shield.addEventListener('mousemove', (ev) => { if (this.inspecting) eng.highlightNode(pick(ev)); });
      eng.shield.addEventListener('click', (ev) => {
        if (!this.inspecting) return;
        const el = pick(ev);
        this.setInspect(false);
        if (el) { if (!this.isOpen('dom')) this.show('dom'); this.select(el); }
      });
    }
  }

  /** @param {string} sel */
  findSelector(sel) {
    const eng = this.host.engine();
    if (!eng || !sel.trim()) return null;
    let el = null;
    try { el = eng.doc.querySelector(sel); } catch (e) { this.domMsg.textContent = `Invalid selector: ${sel}`; return null; }
    if (!el) { this.domMsg.textContent = `No element matches ${sel} at ${fmtTime(this.host.time())}.`; return null; }
    this.domMsg.textContent = '';
    this.select(el);
    return el;
  }

  /** Select a replayed node: reveal it in the tree and highlight it. @param {Node} node */
  select(node) {
    this.domSelected = node;
    const eng = this.host.engine();
    if (eng) eng.highlightNode(node);
    this.refreshDom(true);
  }

  /** Re-render the tree for the current document, keeping the selection. @param {boolean} [reveal] */
  refreshDom(reveal) {
    if (!this.domTree) return;
    this.lastDomRefresh = performance.now();
    const eng = this.host.engine();
    if (!eng || !eng.doc || !eng.doc.documentElement) { this.domTree.replaceChildren(h('div', 'reel-empty', 'Nothing replayed yet.')); return; }
    const sel = this.domSelected;
    if (sel && !sel.isConnected) this.domSelected = null;
    /** @type {Set<Node>} */
    const open = new Set();
    for (let n = /** @type {any} */ (this.domSelected); n; n = n.parentNode || n.host) open.add(n);
    const rows = [];
    const walk = (/** @type {Node} */ n, /** @type {number} */ depth) => {
      if (rows.length > 4000) return;
      if (n.nodeType === 3) {
        const t = (n.nodeValue || '').trim();
        if (!t) return;
        rows.push(this.domRow(n, depth, JSON.stringify(t.length > 60 ? t.slice(0, 60) + '…' : t), false, false));
        return;
      }
      if (n.nodeType !== 1) return;
      const el = /** @type {Element} */ (n);
      const kids = Array.from(el.childNodes).filter((c) => c.nodeType === 1 || (c.nodeType === 3 && (c.nodeValue || '').trim()));
      const hasKids = kids.length > 0 || !!el.shadowRoot;
      const expanded = depth < 2 || open.has(el);
      const isOpen = expanded || (this.openNodes && this.openNodes.has(el));
      rows.push(this.domRow(el, depth, describe(el), hasKids, !!isOpen));
      if (!isOpen) return;
      if (el.shadowRoot) {
        rows.push(this.domRow(el.shadowRoot, depth + 1, '#shadow-root', false, false));
        for (const c of el.shadowRoot.childNodes) walk(c, depth + 2);
      }
      for (const c of kids) walk(c, depth + 1);
    };
    walk(eng.doc.documentElement, 0);
    const keep = this.domTree.scrollTop;
    this.domTree.replaceChildren(...rows);
    this.domTree.scrollTop = keep;
    const cur = rows.find((r) => r.classList.contains('on'));
    if (cur && reveal) {
      const top = cur.offsetTop;
      if (top < this.domTree.scrollTop || top > this.domTree.scrollTop + this.domTree.clientHeight - 20) this.domTree.scrollTop = top - this.domTree.clientHeight / 3;
    }
    this.renderDomInfo();
  }

  /** @param {Node} node @param {number} depth @param {string} label @param {boolean} hasKids @param {boolean} isOpen */
  domRow(node, depth, label, hasKids, isOpen) {
    const r = h('div', 'reel-dom-row');
    r.style.paddingLeft = depth * 12 + 4 + 'px';
    const tw = h('span', 'reel-twisty', hasKids ? (isOpen ? '▾' : '▸') : ' ');
    r.append(tw, h('span', node.nodeType === 1 ? 'reel-tag' : 'reel-text', label));
    if (node === this.domSelected) r.classList.add('on');
    if (!this.openNodes) this.openNodes = new WeakSet();
    tw.addEventListener('click', (ev) => {
      ev.stopPropagation();
      if (isOpen) this.openNodes.delete(node); else this.openNodes.add(node);
      if (isOpen && node === this.domSelected) this.domSelected = null;
      this.refreshDom();
    });
    r.addEventListener('mouseenter', () => { const e = this.host.engine(); if (e) e.highlightNode(node); });
    r.addEventListener('click', () => { this.domSelected = node; this.openNodes.add(node); const e = this.host.engine(); if (e) e.highlightNode(node); this.refreshDom(); });
    return r;
  }

  renderDomInfo() {
    const n = /** @type {any} */ (this.domSelected);
    if (!n || n.nodeType !== 1) { this.domInfo.replaceChildren(); return; }
    const eng = this.host.engine();
    const id = eng ? eng.mirror.getId(n) : undefined;
    const dl = h('dl');
    dl.append(h('dt', '', 'node id'), h('dd', '', String(id ?? '')));
    for (const a of n.attributes) dl.append(h('dt', '', a.name), h('dd', '', a.value));
    const r = n.getBoundingClientRect();
    dl.append(h('dt', '', 'box'), h('dd', '', `${Math.round(r.width)}×${Math.round(r.height)} at ${Math.round(r.left)},${Math.round(r.top)}`));
    this.domInfo.replaceChildren(h('div', 'reel-tag', describe(n)), dl);
  }
}

/** Short CSS-like description of an element. @param {Element} el */
function describe(el) {
  let s = '<' + el.localName;
  if (el.id) s += '#' + el.id;
  const cls = (el.getAttribute('class') || '').split(/\s+/).filter((c) => c && c !== ':hover').slice(0, 3);
  if (cls.length) s += '.' + cls.join('.');
  return s + '>';
}
