// The replay engine: one window's events rendered into a sandboxed iframe at any moment.
import { EV, SRC, h, lastAtOrBefore } from './util.js';
import { Mirror } from './mirror.js';
import { buildDocument } from './rebuild.js';
import { morphDocument } from './morph.js';
import { replayCanvas } from './canvas.js';
import { applyIncremental, applyScroll, adoptSheets, applyMediaState, defineCustom, addFont, sheetOp, sheetFromLog } from './apply.js';
import { KeyframeIndex, eventCost } from './keyframes.js';
import { HOVER_SUBJECTS } from './sanitize.js';

// Blocked elements (rrweb's and PostHog's block classes) show as a solid placeholder, like rrweb.
const REEL_CSS = 'noscript{display:none!important}.rr-block,.ph-no-capture{background:currentColor}';
// While seeking, CSS transitions must not leave elements half-way.
const REEL_SEEK_CSS = REEL_CSS + '*,*::before,*::after{transition:none!important}';

// Incremental sources that change no pixels of the page itself: the cursor, clicks (ripples) and console logs.
const OVERLAY_ONLY = new Set([SRC.MouseMove, SRC.TouchMove, SRC.Drag, SRC.MouseInteraction, SRC.Log]);

/** Renders one window's recording; the caller owns the clock. */
export class ReelEngine {
  /**
   * @param {HTMLElement} host element to put the scaled viewport in
   * @param {any[]} events this window's events, sorted by timestamp
   * @param {{upscale?: boolean, keyframeWork?: number, morph?: boolean, still?: boolean}} [opts]
   */
  constructor(host, events, opts = {}) {
    this.host = host;
    this.events = events;
    this.opts = opts;
    this.viewport = h('div', 'reel-viewport');
    this.iframe = /** @type {HTMLIFrameElement} */ (h('iframe', 'reel-frame'));
    this.iframe.setAttribute('sandbox', 'allow-same-origin');
    this.iframe.setAttribute('referrerpolicy', 'no-referrer');
    this.iframe.setAttribute('title', 'Session replay');
    this.iframe.setAttribute('tabindex', '-1');
    this.cursor = h('div', 'reel-cursor');
    this.fx = h('div', 'reel-fx');
    /** What `ripplesAt` drew last. */
    this.rippleKey = '';
    this.highlight = h('div', 'reel-highlight');
    this.shield = h('div', 'reel-shield');
    this.trail = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.trail.setAttribute('class', 'reel-trail');
    this.trailLine = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    this.trail.appendChild(this.trailLine);
    /** @type {{x: number, y: number, t: number}[]} */
    this.trailPts = [];
    this.viewport.append(this.iframe, this.trail, this.fx, this.cursor, this.highlight, this.shield);
    host.appendChild(this.viewport);
    this.index = -1;
    this.skipped = 0;
    /** @type {any} */
    this.state = { width: 1024, height: 768, href: '', mouse: null };
    this.mirror = new Mirror();
    this.customEls = new Set();
    /** @type {Element[]} */
    this.hoverChain = [];
    this.keyframes = new KeyframeIndex(events, opts.keyframeWork);
    this.firstFull = events.findIndex((e) => e.type === EV.Full);
    this.lastSeekMs = 0;
    /** @type {Map<number, {x: number, y: number}>|null} */
    this.deferScroll = null;
    /** @type {Map<number, any>|null} */
    this.deferCanvas = null;
    this.seeking = false;
    /** Render mode: bumped whenever the page's pixels may change (not for cursor moves, clicks or unstyled hover). */
    this.pageVersion = 0;
    /** Render mode: bumps of `pageVersion` that were a new value in a text field, and those fields (see `valueOnly`). */
    this.inputBumps = 0;
    /** @type {Element[]} */
    this.dirtyInputs = [];
    /** Clicks that ripple (timestamp, x, y), for `overlayAt`. @type {{t: number, x: number, y: number}[]} */
    this.clicks = [];
    for (const e of events) {
      const d = e.data;
      if (e.type === EV.Inc && d && d.source === SRC.MouseInteraction && (d.type === 2 || d.type === 4 || d.type === 7) && d.x != null) this.clicks.push({ t: e.timestamp, x: d.x, y: d.y });
    }
    for (const e of events) if (e.type === EV.Meta && e.data && e.data.width) { this.state.width = e.data.width; this.state.height = e.data.height; break; }
    this.fit();
  }

  /** The replayed document. @returns {Document} */
  get doc() { return /** @type {Document} */ (this.iframe.contentDocument); }

  /** Scale the recorded viewport to fit the host. */
  fit() {
    const w = this.state.width || 1024, hh = this.state.height || 768;
    const bw = this.host.clientWidth || w, bh = this.host.clientHeight || hh;
    let s = Math.min(bw / w, bh / hh);
    if (!this.opts.upscale) s = Math.min(s, 1);
    if (!(s > 0)) s = 1;
    this.scale = s;
    const vs = this.viewport.style;
    vs.width = w + 'px'; vs.height = hh + 'px';
    vs.transform = `scale(${s})`;
    vs.left = Math.floor(Math.max(0, (bw - w * s) / 2)) + 'px';
    vs.top = Math.floor(Math.max(0, (bh - hh * s) / 2)) + 'px';
    this.iframe.width = String(w); this.iframe.height = String(hh);
  }

  /** @returns {import('./apply.js').ApplyCtx} */
  ctx(sync) {
    return {
      mirror: this.mirror, visual: true, sync, doc: this.doc, customEls: this.customEls, state: this.state,
      hook: (name, data) => this.onHook(name, data, sync), iframes: [], skipped: 0, deferScroll: this.deferScroll, deferCanvas: this.deferCanvas,
    };
  }

  /** Visual side effects of events. @param {string} name @param {any} d @param {boolean} sync */
  onHook(name, d, sync) {
    if (this.deferScroll && (name === 'move' || name === 'interaction')) return; // cursor placed once after the jump
    if (name === 'move') {
      this.moveCursor(d.x, d.y, d.id);
      if (!sync) this.addTrail(d.positions || [d]);
    }
    else if (name === 'interaction') {
      if (d.x != null) this.moveCursor(d.x, d.y, null);
      // Click ripples are drawn from the time shown (`ripplesAt`), not from the events applied on the way.
    } else if (name === 'resize') this.fit();
    else if (name === 'adopt') this.setDocSheets(d);
    else if (name === 'doc') this.guard(d);
  }

  /** @param {CSSStyleSheet[]} list */
  setDocSheets(list) {
    const win = /** @type {any} */ (this.doc.defaultView);
    if (!win) return;
    if (!this.reelSheet || !(this.reelSheet instanceof win.CSSStyleSheet)) {
      this.reelSheet = new win.CSSStyleSheet();
      this.reelSheet.replaceSync(this.seeking || this.opts.still ? REEL_SEEK_CSS : REEL_CSS);
    }
    try { this.doc.adoptedStyleSheets = [...list, this.reelSheet]; } catch (e) { /* realm mismatch */ }
  }

  /** @param {number} x @param {number} y @param {number|null} id */
  moveCursor(x, y, id) {
    if (x == null) return;
    this.cursor.style.transform = `translate(${x}px, ${y}px)`;
    this.cursor.classList.add('on');
    if (id != null) this.setHover(id);
  }

  /** Put the `:hover` class on the hovered node and its ancestors. @param {number} id */
  setHover(id) {
    const old = this.hoverChain;
    /** @type {Element[]} */
    const chain = [];
    /** @type {any} */
    let n = this.mirror.get(id);
    while (n) {
      if (n.nodeType === 1) chain.push(n);
      n = n.parentNode || n.host || null;
      if (n && n.nodeType === 9) break;
    }
    const changed = old.filter((el) => !chain.includes(el)).concat(chain.filter((el) => !old.includes(el)));
    for (const el of old) el.classList.remove(':hover');
    for (const el of chain) el.classList.add(':hover');
    this.hoverChain = chain;
    if (changed.length && changed.some((el) => hoverStyled(el))) this.pageVersion++;
  }

  /** Mouse trail: the last positions as a fading line. @param {{x: number, y: number}[]} pts */
  addTrail(pts) {
    const now = performance.now();
    for (const p of pts) if (p && p.x != null) this.trailPts.push({ x: p.x, y: p.y, t: now });
    this.trailPts = this.trailPts.filter((p) => now - p.t < 600).slice(-24);
    this.trailLine.setAttribute('points', this.trailPts.map((p) => `${p.x},${p.y}`).join(' '));
    clearTimeout(this.trailTimer);
    this.trailTimer = setTimeout(() => { this.trailPts = []; this.trailLine.setAttribute('points', ''); }, 700);
  }

  /**
   * The click ripples shown at `ts`, drawn as their animation (0.6 s ease-out, scale .2→1.3, opacity 1→0) looks at
   * their age (`overlayAt`). A function of `ts` alone, the same whether the player plays, steps frame by frame or jumps
   * straight to `ts` (`#t=`). The DOM is touched only when what is drawn changes. Returns a key of it.
   * @param {number} ts
   */
  ripplesAt(ts) {
    const list = this.overlayAt(ts).r;
    const key = list.map((r) => r.join(',')).join(';');
    if (key === this.rippleKey) return key;
    this.rippleKey = key;
    for (const r of Array.from(this.fx.querySelectorAll('.reel-ripple'))) r.remove();
    for (const [x, y, scale, opacity] of list) {
      const r = h('div', 'reel-ripple');
      Object.assign(r.style, { left: x + 'px', top: y + 'px', transform: `scale(${scale})`, opacity: String(opacity) });
      this.fx.appendChild(r);
    }
    return key;
  }

  /**
   * The cursor and click ripples at `ts` in page pixels (render mode: for a renderer that draws them itself). `c` is the
   * cursor's position (null: not shown); each ripple is `[x, y, scale, opacity]`, the state of the `reel-ripple`
   * animation (0.6 s ease-out, scale .2→1.3, opacity 1→0) at its age, so a frame does not depend on wall-clock time.
   * @param {number} ts @returns {{c: number[]|null, r: number[][]}}
   */
  overlayAt(ts) {
    const m = this.state.mouse;
    const c = m && this.cursor.classList.contains('on') ? [m.x, m.y] : null;
    const r = [];
    for (let i = lastAtOrBefore(this.clicks, ts, (x) => x.t); i >= 0 && ts - this.clicks[i].t < 600; i--) {
      const k = easeOut(Math.round(ts - this.clicks[i].t) / 600);
      r.push([this.clicks[i].x, this.clicks[i].y, 0.2 + 1.1 * k, 1 - k]);
    }
    return { c, r: r.reverse() };
  }

  /** Rebuild the iframe from a serialized document plus replay state. @param {any} tree @param {any} st @param {any} [offset] */
  restore(tree, st, offset) {
    this.pageVersion++;
    const old = this.mirror;
    this.mirror = new Mirror();
    for (const el of this.hoverChain) el.classList.remove(':hover');
    this.hoverChain = [];
    if (st) {
      Object.assign(this.state, { width: st.width || this.state.width, height: st.height || this.state.height, href: st.href, mouse: st.mouse, fonts: (st.fonts || []).slice(), selection: st.selection });
      for (const n of st.customEls || []) this.customEls.add(n);
    }
    const ctx = this.ctx(true);
    for (const n of this.customEls) defineCustom(this.doc, n);
    const canMorph = this.opts.morph !== false && old.nodes.size > 0 && this.doc.documentElement && (this.doc.compatMode === 'BackCompat') === (tree.compatMode === 'BackCompat');
    let morphed = false;
    if (canMorph) {
      try { morphDocument(tree, this.doc, ctx, old); morphed = true; } catch (e) {
        this.mirror = new Mirror();
        ctx.mirror = this.mirror;
        ctx.iframes = [];
      }
    }
    if (!morphed) buildDocument(tree, this.doc, ctx);
    if (morphed) {
      // Reused nodes keep live state the keyframe may not mention: scroll offsets and shadow-root sheets.
      const keep = new Set((st && st.scroll || []).map((x) => x[0]));
      for (const id of old.scroll.keys()) {
        const n = /** @type {any} */ (this.mirror.get(id));
        if (!keep.has(id) && n && n.nodeType === 1 && old.get(id) === n) { n.scrollTop = 0; n.scrollLeft = 0; }
      }
      for (const id of old.adopted.keys()) {
        const n = /** @type {any} */ (this.mirror.get(id));
        if (n && n.shadowRoot) { try { n.shadowRoot.adoptedStyleSheets = []; } catch (e) { /* ignore */ } }
      }
      const sel = this.doc.getSelection && this.doc.getSelection();
      if (sel) sel.removeAllRanges();
    }
    this.setDocSheets([]);
    this.guard(this.doc);
    for (const n of this.customEls) defineCustom(this.doc, n);
    // The window survives document.open(): forget the previous scroll position.
    const se = this.doc.scrollingElement;
    if (se) { se.scrollLeft = 0; se.scrollTop = 0; }
    if (st) {
      const win = /** @type {any} */ (this.doc.defaultView);
      for (const [key, log] of st.logs || []) {
        const copy = { base: log.base ? log.base.slice() : null, ops: log.ops.slice() };
        this.mirror.sheetLog.set(key, copy);
        const id = +key.slice(1);
        if (key[0] === 's') this.mirror.sheets.set(id, sheetFromLog(win, copy, true));
        else {
          const el = /** @type {any} */ (this.mirror.get(id));
          if (el && el.sheet) { for (const op of copy.ops) sheetOp(el.sheet, op, true); this.mirror.touchedSheets.add(id); }
        }
      }
      for (const [hid, ids] of st.adopted || []) { this.mirror.adopted.set(hid, ids.slice()); adoptSheets(hid, ctx); }
      for (const [id, x, y] of st.scroll || []) applyScroll(id, x, y, ctx);
      for (const [id, m] of st.media || []) { this.mirror.media.set(id, { ...m }); applyMediaState(this.mirror.get(id), m, false); }
      for (const f of this.state.fonts || []) addFont(f, this.doc);
      for (const [id, d] of st.canvas || []) replayCanvas(this.mirror.get(id), d, this.doc.defaultView);
    }
    if (offset && (offset.top || offset.left)) applyScroll(tree.id, offset.left || 0, offset.top || 0, ctx);
    // rr_scroll attributes collected while building
    for (const [id, s] of this.mirror.scroll) applyScroll(id, s.x, s.y, ctx);
    this.fit();
    if (this.state.mouse) this.moveCursor(this.state.mouse.x, this.state.mouse.y, this.state.mouse.id);
    else this.cursor.classList.remove('on');
  }

  /**
   * Second wall against navigation inside the replay: cancel every navigation and link activation.
   * (The sandbox already blocks scripts, forms, popups and top navigation.)
   * @param {Document} doc
   */
  guard(doc) {
    const win = /** @type {any} */ (doc.defaultView);
    if (!win) return;
    // document.open() drops listeners, so add them after every rebuild (same function: no duplicates).
    const stop = this.stopNav || (this.stopNav = (/** @type {Event} */ ev) => {
      const t = /** @type {any} */ (ev.target);
      const a = t && t.closest ? t.closest('a,area,button,input,form') : null;
      if (a || ev.type === 'submit') ev.preventDefault();
    });
    const cancel = this.cancelNav || (this.cancelNav = (/** @type {Event} */ ev) => ev.preventDefault());
    doc.addEventListener('click', stop, true);
    doc.addEventListener('auxclick', stop, true);
    doc.addEventListener('submit', stop, true);
    try { if (win.navigation) win.navigation.addEventListener('navigate', cancel); } catch (e) { /* no Navigation API */ }
  }

  /** Apply one event; a broken one is skipped and counted. @param {any} e @param {boolean} sync */
  apply(e, sync) {
    const d = e && e.data;
    if (!e || e.type === EV.Full || e.type === EV.Meta || (e.type === EV.Inc && !(d && OVERLAY_ONLY.has(d.source)))) {
      this.pageVersion++;
      // A new value in a text field changes only that field's box: a renderer may capture just that rectangle.
      const el = e && e.type === EV.Inc && d && d.source === SRC.Input ? this.mirror.get(d.id) : null;
      if (el && textField(el, this.doc) && this.dirtyInputs.length < 64) { this.inputBumps++; this.dirtyInputs.push(el); }
    }
    try { this.applyOne(e, sync); } catch (err) { this.skipped++; }
  }

  /** @param {any} e @param {boolean} sync */
  applyOne(e, sync) {
    const d = e.data;
    switch (e.type) {
      case EV.Full:
        if (d && d.node) { this.state.fonts = []; this.restore(d.node, null, d.initialOffset); } else this.skipped++; // e.g. mobile wireframes
        break;
      case EV.Meta:
        if (d) {
          if (d.width > 0) this.state.width = d.width;
          if (d.height > 0) this.state.height = d.height;
          if (d.href) this.state.href = d.href;
          this.fit();
        }
        break;
      case EV.Inc: {
        if (!d || this.index < this.firstFull) break;
        const c = this.ctx(sync);
        applyIncremental(d, c);
        this.skipped += c.skipped || 0;
        if (d.source === SRC.Scroll || d.source === SRC.ViewportResize) break;
        break;
      }
      case EV.DomLoaded: case EV.Load: case EV.Custom: case EV.Plugin: case EV.Asset: break;
      default: this.skipped++;
    }
  }

  /**
   * Show the state at absolute timestamp `ts`: apply forward when cheap, else rebuild from the nearest keyframe.
   * @param {number} ts @param {boolean} [sync] true when seeking (no transient effects)
   */
  renderAt(ts, sync = true) {
    const t0 = performance.now();
    let target = lastAtOrBefore(this.events, ts, (e) => e.timestamp);
    if (target < this.firstFull) target = this.firstFull;
    if (target < 0) return;
    if (target === this.index) return;
    // Seeking: transitions off until the end (reused and changed elements must not animate).
    this.seeking = sync;
    // `still` (render mode): transitions are off for good, so nothing to switch (a style recalculation of the whole
    // page each way) and nothing to finish; a frame shows each property at its end value, as after a seek.
    const toggle = sync && this.reelSheet && !this.opts.still;
    if (toggle) this.reelSheet.replaceSync(REEL_SEEK_CSS);
    let from = this.index;
    if (target < this.index || from < this.firstFull) from = -1;
    if (from >= 0) {
      // Forward from here, or rebuild from a later keyframe if that is cheaper.
      const kf = this.keyframes.at(target);
      const viaKf = kf && kf.i > from ? 300 + this.mirror.nodes.size + this.costBetween(kf.i, target, 1e9) : Infinity;
      const fwd = this.costBetween(from, target, Math.min(viaKf, 3000));
      if (fwd >= Math.min(viaKf, 3000)) from = -1;
    }
    if (from < 0) {
      const kf = this.keyframes.at(target);
      if (kf && kf.i >= this.firstFull) {
        this.restore(kf.tree, kf.state, null);
        from = kf.i;
      } else {
        // No keyframe yet (builder still running): start at the last full snapshot.
        const fi = this.lastFullAtOrBefore(target);
        this.index = fi - 1;
        from = fi - 1;
      }
      this.index = from;
    }
    const jump = sync && target - from > 1;
    if (jump) { this.deferScroll = new Map(); this.deferCanvas = new Map(); }
    try {
      for (let i = from + 1; i <= target; i++) {
        this.index = i;
        this.apply(this.events[i], sync || i < target - 50);
      }
    } finally {
      const pending = this.deferScroll;
      const frames = this.deferCanvas;
      this.deferScroll = null;
      this.deferCanvas = null;
      if (frames) for (const [id, d] of frames) replayCanvas(this.mirror.get(id), d, this.doc.defaultView);
      if (pending) {
        const c = this.ctx(true);
        for (const [id, s] of pending) applyScroll(id, s.x, s.y, c);
        const m = this.state.mouse;
        if (m) this.moveCursor(m.x, m.y, m.id);
      }
    }
    this.index = target;
    if (toggle) {
      const de = this.doc.documentElement;
      if (de) void getComputedStyle(de).color; // flush styles with transitions off
      this.reelSheet.replaceSync(REEL_CSS);
    }
    if (sync && !this.opts.still) this.settleAnimations(false);
    this.seeking = false;
    this.lastSeekMs = performance.now() - t0;
  }

  /**
   * After a seek: CSS transitions jump to their end (in shadow roots too, where the seek style sheet does not reach; a
   * seek must not leave elements half-way at a wall-clock-dependent point). With `freeze` (render mode) CSS animations
   * stop too, finite ones at their end, endless ones at their start: a frame depends only on the time shown.
   * @param {boolean} freeze
   */
  settleAnimations(freeze) {
    /** @type {Animation[]} */
    const list = [];
    // `Document.getAnimations()` leaves out shadow trees: ask each shadow root too.
    const visit = (/** @type {Document|ShadowRoot} */ root) => {
      list.push(...root.getAnimations());
      for (const el of Array.from(root.querySelectorAll('*'))) if (el.shadowRoot) visit(el.shadowRoot);
    };
    try {
      // Style and layout of the whole tree now (shadow trees included), so the transitions this state starts exist.
      if (this.doc.documentElement) void (/** @type {HTMLElement} */ (this.doc.documentElement)).offsetHeight;
      visit(this.doc);
    } catch (e) { return; }
    for (const a of list) {
      try {
        if ('transitionProperty' in a) a.finish();
        else if (freeze && a.playState !== 'finished') {
          const end = a.effect ? a.effect.getComputedTiming().endTime : Infinity;
          if (Number.isFinite(end)) a.finish(); else { a.pause(); a.currentTime = 0; }
        }
      } catch (e) { /* cannot finish (e.g. no effect): leave it */ }
    }
  }

  /** Cost of applying events (a, b], stopping at `cap`. @param {number} a @param {number} b @param {number} cap */
  costBetween(a, b, cap) {
    let cost = 0;
    for (let i = a + 1; i <= b && cost < cap; i++) cost += Math.min(eventCost(this.events[i]), 1e6) + 0.2;
    return cost;
  }

  /** @param {number} i */
  lastFullAtOrBefore(i) {
    for (let k = i; k >= 0; k--) if (this.events[k].type === EV.Full) return k;
    return this.firstFull;
  }

  /** Highlight a replayed node (DOM explorer hover). @param {Node|null} node */
  highlightNode(node) {
    const hs = this.highlight.style;
    if (!node || node.nodeType !== 1 || !node.isConnected) { hs.display = 'none'; return; }
    const r = /** @type {Element} */ (node).getBoundingClientRect();
    let x = r.left, y = r.top;
    // Add the offsets of enclosing iframes.
    let win = /** @type {any} */ (node.ownerDocument && node.ownerDocument.defaultView);
    while (win && win.frameElement && win !== this.iframe.contentWindow) {
      const fr = win.frameElement.getBoundingClientRect();
      x += fr.left; y += fr.top; win = win.parent;
    }
    Object.assign(hs, { display: 'block', left: x + 'px', top: y + 'px', width: r.width + 'px', height: r.height + 'px' });
  }

  destroy() {
    this.keyframes.cancelled = true;
    this.viewport.remove();
  }
}

/**
 * CSS `ease-out` (cubic-bezier(0, 0, 0.58, 1)) at progress `p` in [0, 1].
 * @param {number} p
 */
function easeOut(p) {
  const x = Math.max(0, Math.min(1, p));
  let lo = 0, hi = 1, t = x;
  for (let i = 0; i < 30; i++) {
    t = (lo + hi) / 2;
    const bx = 3 * (1 - t) * t * t * 0.58 + t * t * t;
    if (bx < x) lo = t; else hi = t;
  }
  return 3 * (1 - t) * t * t + t * t * t;
}

/**
 * Whether `el` is the subject of a `:hover` rule seen in the replayed styles (then hovering it may change pixels).
 * @param {Element} el
 */
function hoverStyled(el) {
  if (!HOVER_SUBJECTS.size) return false;
  if (HOVER_LIST.size !== HOVER_SUBJECTS.size) { HOVER_LIST.size = HOVER_SUBJECTS.size; HOVER_LIST.sel = Array.from(HOVER_SUBJECTS).join(','); }
  try { return el.matches(HOVER_LIST.sel); } catch (e) {
    // One odd selector makes the list invalid: test them one by one (an invalid one counts as a match).
    for (const s of HOVER_SUBJECTS) { try { if (el.matches(s)) return true; } catch (x) { return true; } }
    return false;
  }
}
const HOVER_LIST = { size: -1, sel: '' };

const TEXT_INPUTS = new Set(['', 'text', 'search', 'email', 'url', 'tel', 'password', 'number']);

/**
 * A text field or textarea of the replayed document itself (not of a nested frame or shadow root): a new value changes
 * the pixels of its own box only, unless its size follows its content or the page styles by value (see
 * `valueStyledDoc`). Checkboxes and radios are not: `:checked` styles other elements, a radio unchecks its group.
 * @param {any} el @param {Document|null} doc
 */
export function textField(el, doc) {
  if (!el || !doc || el.ownerDocument !== doc || !el.isConnected || el.getRootNode() !== doc) return false;
  if (el.localName === 'textarea') return true;
  return el.localName === 'input' && TEXT_INPUTS.has((el.getAttribute('type') || '').toLowerCase());
}

/** Selectors that react to a field's value (floating labels, validation styles, `:has()`). */
const VALUE_STYLED = /:(placeholder-shown|valid|invalid|user-valid|user-invalid|in-range|out-of-range|blank|has\(|autofill|-webkit-autofill)/;
/** @type {WeakMap<Document, {key: string, styled: boolean}>} */
const styledCache = new WeakMap();

/**
 * Whether the document's style sheets may style anything by a field's value (true when a sheet cannot be read).
 * @param {Document} doc
 */
export function valueStyledDoc(doc) {
  const sheets = [...Array.from(doc.styleSheets), ...Array.from(doc.adoptedStyleSheets || [])];
  let key = `${sheets.length}`;
  try { for (const sh of sheets) key += `:${sh.cssRules.length}`; } catch (e) { return true; }
  const hit = styledCache.get(doc);
  if (hit && hit.key === key) return hit.styled;
  let styled = false;
  for (const sh of sheets) {
    for (const r of Array.from(sh.cssRules)) if (VALUE_STYLED.test(r.cssText)) { styled = true; break; }
    if (styled) break;
  }
  styledCache.set(doc, { key, styled });
  return styled;
}

/**
 * Render mode: the rectangle (CSS pixels of the render window) that holds every change since the last capture when
 * all of them were new values of text fields, or null. `geo` is where the page is drawn (`geometry()`).
 * @param {any} engine @param {{x: number, y: number, w: number, h: number, s: number}} geo
 */
export function inputClip(engine, geo) {
  const doc = engine.doc;
  const els = engine.dirtyInputs;
  if (!doc || !els.length || valueStyledDoc(doc)) return null;
  const view = doc.defaultView;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const el of els) {
    if (!textField(el, doc)) return null;
    const cs = view.getComputedStyle(el);
    if (/** @type {any} */ (cs).fieldSizing === 'content' || cs.display === 'contents') return null;
    const r = el.getBoundingClientRect();
    x0 = Math.min(x0, r.left); y0 = Math.min(y0, r.top); x1 = Math.max(x1, r.right); y1 = Math.max(y1, r.bottom);
  }
  // Into the render window, two pixels wider (anti-aliased edges), within the drawn page.
  const m = 2;
  const cx0 = Math.max(geo.x, Math.floor(geo.x + x0 * geo.s) - m);
  const cy0 = Math.max(geo.y, Math.floor(geo.y + y0 * geo.s) - m);
  const cx1 = Math.min(geo.x + geo.w, Math.ceil(geo.x + x1 * geo.s) + m);
  const cy1 = Math.min(geo.y + geo.h, Math.ceil(geo.y + y1 * geo.s) + m);
  if (!(cx1 > cx0 && cy1 > cy0)) return null;
  return { x: Math.floor(cx0), y: Math.floor(cy0), w: Math.ceil(cx1) - Math.floor(cx0), h: Math.ceil(cy1) - Math.floor(cy0) };
}
