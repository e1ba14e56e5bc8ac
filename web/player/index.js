// Reel player entry: ReelPlayer.mount(element, options).
import { h, fmtTime, lastAtOrBefore, EV } from './util.js';
import { loadSessions } from './load.js';
import { ReelEngine, inputClip } from './engine.js';
import { analyse } from './timeline.js';
import { buildShell, drawTimeline, drawProgress, bindScrub, SPEEDS } from './ui.js';
import { ReelPanels } from './panels.js';

/** One frame at 24 fps: the step of keys `,` and `.`. */
const FRAME_MS = 1000 / 24;
const SHORTCUTS = [['Space or k', 'play / pause'], ['← / →', 'back / forward 5 s'], [', / .', 'previous / next frame (pauses)'],
  ['0 … 9', 'jump to 0 % … 90 %'], ['n / p', 'next / previous key moment or comment'], ['f', 'full screen'], ['?', 'this list (Escape closes it)']];

/**
 * @typedef {object} MountOptions
 * @property {string} [src] URL of a JSON array, JSONL file or .reel.zip
 * @property {any[]} [events] rrweb events (optionally each with windowId)
 * @property {ArrayBuffer|Blob|Uint8Array} [package] a .reel.zip
 * @property {Record<string, any[]>|{id: string, events: any[]}[]} [windows] events per window
 * @property {{map: Record<string, {sha256: string, content_type: string}>, href: (sha256: string) => string}} [assets]
 *   with `windows`: assets kept by a server (share pages): the manifest-style URL map and where each hash's bytes are
 * @property {number} [startAt] ms from the first event
 * @property {boolean} [autoplay]
 * @property {boolean} [hash] read `#t=SECONDS` from location.hash (default true)
 * @property {boolean} [panels] show the side panels (default true)
 * @property {boolean} [keyboard] listen to keys on the document (default true)
 * @property {boolean} [upscale] scale the replay above 100% to fill the stage
 * @property {number} [speed]
 * @property {string[]} [openPanels] panels to open side by side: moments, console, network, events, meta, dom
 * @property {string|object} [moments] key moments for the first session when the input has no summary.json: the URL of
 *   the server's `/api/v1/sessions/{id}/moments` (fetched with the page's credentials) or that document itself
 * @property {[string, string][]} [shortcuts] more keys for the `?` list (handled by the page: the web UI's `c`)
 * @property {number} [keyframeWork] least work (≈ nodes touched) between keyframes; default 600 or the DOM size
 * @property {boolean} [morph] reuse live nodes when rebuilding from a keyframe (default true)
 * @property {boolean} [render] render mode (screenshots, video): only the page, scaled to fill the element and
 *   letterboxed, no controls, panels or status, and no cursor or click ripples (the renderer draws them from
 *   `overlay()`); drive it with `renderFrame()` and `renderSteps()`
 */

export class ReelPlayer extends EventTarget {
  /**
   * Mount a player into `element` and load the recording. Resolves once the first frame is shown.
   * @param {HTMLElement} element @param {MountOptions} opts @returns {Promise<ReelPlayer>}
   */
  static async mount(element, opts = {}) {
    const p = new ReelPlayer(element, opts);
    await p.load(opts);
    return p;
  }

  /** @param {HTMLElement} element @param {MountOptions} opts */
  constructor(element, opts = {}) {
    super();
    this.opts = opts;
    this.ui = buildShell(element);
    this.sessions = [];
    this.sessionIndex = 0;
    /** @type {Map<string, ReelEngine>} */
    this.engines = new Map();
    this.windowId = '';
    this.time = 0;
    this.speed = opts.speed && SPEEDS.includes(opts.speed) ? opts.speed : 1;
    this.skipInactive = true;
    this.playing = false;
    this.raf = 0;
    /** @type {any} */
    this.info = analyse([]);
    this.panels = new ReelPanels(this.ui.side, {
      info: () => this.info, time: () => this.time, seek: (ms) => this.seek(ms),
      engine: () => this.engine, meta: () => this.metaInfo(),
    });
    this.ui.root.classList.toggle('reel-no-panels', opts.panels === false || (!!opts.render && !(opts.openPanels && opts.openPanels.length)));
    this.ui.root.classList.toggle('reel-render', !!opts.render);
    this.bind();
    this.onResize = () => { for (const e of this.engines.values()) e.fit(); };
    window.addEventListener('resize', this.onResize);
    if (typeof ResizeObserver !== 'undefined') { this.ro = new ResizeObserver(this.onResize); this.ro.observe(this.ui.stage); }
  }

  /** Subscribe to `play`, `pause`, `timeupdate`, `ended`, `load`, `error`. @param {string} name @param {(ev: CustomEvent) => void} fn */
  on(name, fn) { this.addEventListener(name, /** @type {any} */ (fn)); return () => this.removeEventListener(name, /** @type {any} */ (fn)); }

  /** @param {string} name @param {any} [detail] */
  emit(name, detail) { this.dispatchEvent(new CustomEvent(name, { detail })); }

  /** The engine of the window being shown. @returns {ReelEngine|null} */
  get engine() { return this.engines.get(this.windowId) || null; }

  /** Session length in ms. */
  get duration() { return this.info.duration; }

  /** Current time in ms from the first event. */
  get currentTime() { return this.time; }

  /** @param {MountOptions} opts */
  async load(opts) {
    this.status('Loading…');
    const t0 = performance.now();
    try {
      this.sessions = await loadSessions(opts);
      if (opts.moments && this.sessions[0] && !this.sessions[0].insight) this.sessions[0].insight = await fetchMoments(opts.moments);
      this.parseMs = performance.now() - t0;
    } catch (e) {
      this.status(String(/** @type {any} */ (e).message || e), true);
      this.emit('error', e);
      throw e;
    }
    this.loadMs = performance.now() - t0;
    this.openSession(0, opts);
    this.firstFrameMs = performance.now() - t0;
    this.emit('load', { firstFrameMs: this.firstFrameMs });
    if (opts.autoplay && !this.fromHash) this.play();
  }

  /** Show session `i` of the loaded package. @param {number} i @param {MountOptions} [opts] */
  openSession(i, opts = {}) {
    this.pause();
    for (const e of this.engines.values()) e.destroy();
    this.engines.clear();
    this.sessionIndex = i;
    const s = this.sessions[i];
    this.info = analyse(s.windows, s.insight);
    const sel = this.ui.sessionSel;
    sel.replaceChildren(...this.sessions.map((x, k) => { const o = /** @type {HTMLOptionElement} */ (h('option', '', `Session ${x.id}`)); o.value = String(k); return o; }));
    sel.value = String(i);
    sel.hidden = this.sessions.length < 2;
    const ws = this.ui.windowSel;
    ws.replaceChildren(...s.windows.map((w, k) => { const o = /** @type {HTMLOptionElement} */ (h('option', '', `Window ${k + 1}`)); o.value = w.id; o.title = w.id; return o; }));
    ws.hidden = s.windows.length < 2;
    // Show the window with the most events first.
    const main = s.windows.slice().sort((a, b) => b.events.length - a.events.length)[0];
    this.windowId = main ? main.id : '';
    this.ensureEngine(this.windowId);
    ws.value = this.windowId;
    this.comments = [];
    this.drawMarkers();
    this.autoWindow = s.windows.length > 1;
    this.panels.render();
    if (opts.openPanels && opts.openPanels.length) opts.openPanels.forEach((k, n) => this.panels.show(k, n > 0));
    let t = opts.startAt || 0;
    this.fromHash = false;
    if (opts.hash !== false && typeof location !== 'undefined') {
      const m = /(?:^#|[#&])t=(\d+(?:\.\d+)?)/.exec(location.hash);
      if (m) { t = parseFloat(m[1]) * 1000; this.fromHash = true; }
    }
    this.status(s.warnings && s.warnings.length ? 'Warning: ' + s.warnings.join('; ') : '', !!(s.warnings && s.warnings.length));
    if (s.warnings && s.warnings.length) setTimeout(() => this.status(''), 6000);
    this.seek(t);
    // Build keyframes for the shown window first, then for the others. Not in render mode: it steps forward (a jump
    // replays from the last full snapshot), and checkpoints of a long recording would only cost memory and CPU.
    const eng = this.engine;
    if (eng && !this.opts.render) eng.keyframes.start().then(() => {
      for (const e of this.engines.values()) e.keyframes.start();
      this.emit('keyframes', { count: eng.keyframes.frames.length, ms: eng.keyframes.buildMs });
    });
  }

  /** @param {string} id */
  ensureEngine(id) {
    let e = this.engines.get(id);
    if (!e) {
      const w = this.sessions[this.sessionIndex].windows.find((x) => x.id === id);
      if (!w) return null;
      e = new ReelEngine(this.ui.stage, w.events, { upscale: this.opts.upscale, keyframeWork: this.opts.keyframeWork, morph: this.opts.morph, still: !!this.opts.render });
      this.engines.set(id, e);
    }
    return e;
  }

  /**
   * Switch the shown window. A user's choice stops automatic switching; `auto` keeps it.
   * @param {string} id @param {boolean} [auto]
   */
  selectWindow(id, auto) {
    if (!auto) this.autoWindow = false;
    if (id === this.windowId && this.engine) return;
    const e = this.ensureEngine(id);
    if (!e) return;
    this.windowId = id;
    for (const [k, x] of this.engines) x.viewport.hidden = k !== id;
    if (!this.opts.render) e.keyframes.start();
    e.fit();
    e.renderAt(this.info.start + this.time, true);
    this.ui.windowSel.value = id;
    if (this.panels.isOpen('dom')) this.panels.refreshDom();
    this.panels.renderEvents();
  }

  play() {
    if (this.playing) return;
    if (this.time >= this.info.duration) this.seek(0);
    this.playing = true;
    this.lastWall = performance.now();
    this.emit('play');
    const tick = () => {
      if (!this.playing) return;
      const now = performance.now();
      let t = this.time + (now - this.lastWall) * this.speed;
      this.lastWall = now;
      if (this.skipInactive) {
        for (const [a, b] of this.info.inactive) if (t > a && t < b) { t = b; break; }
      }
      if (t >= this.info.duration) {
        this.setTime(this.info.duration, false);
        this.pause();
        this.emit('ended');
        return;
      }
      this.setTime(t, false);
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
    this.draw();
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.emit('pause');
    this.draw();
  }

  toggle() { if (this.playing) this.pause(); else this.play(); }

  /** Draw the timeline's markers (the session's, then comments). */
  drawMarkers() {
    drawTimeline(this.ui, this.info, (ms, m) => {
      if (m && m.windowId != null && m.windowId !== this.windowId && this.engines.size) this.selectWindow(m.windowId, true);
      this.seek(ms);
    });
  }

  /**
   * Show comments as markers on the timeline; `n` and `p` step through them with the key moments. Replaces the
   * previous list. Labels are shown as text (a title), never as HTML.
   * @param {{t: number, label: string, id?: string}[]} list `t`: ms from the first event
   */
  setComments(list) {
    if (!this.info) return;
    this.comments = list.map((c) => ({ t: Math.max(0, Math.min(this.info.duration, +c.t || 0)), kind: 'comment', label: String(c.label || ''), id: c.id }));
    this.info.markers = this.info.markers.filter((/** @type {{kind: string}} */ m) => m.kind !== 'comment').concat(this.comments)
      .sort((/** @type {{t: number}} */ a, /** @type {{t: number}} */ b) => a.t - b.t);
    this.drawMarkers();
  }

  /** Jump to the next (`dir` 1) or previous (-1) key moment or comment; keys `n` and `p`. @param {number} dir */
  stepMoment(dir) {
    const ms = this.info.moments.concat(this.comments || []).map((/** @type {{t: number}} */ m) => m.t).sort((a, b) => a - b);
    const cur = this.time;
    const t = dir > 0 ? ms.find((/** @type {number} */ x) => x > cur + 50) : ms.reverse().find((/** @type {number} */ x) => x < cur - 50);
    if (t != null) this.seek(t);
  }

  /** Seek to `ms` from the first event (keeps playing if playing). @param {number} ms */
  seek(ms) {
    const t = Math.max(0, Math.min(this.info.duration, +ms || 0));
    this.lastWall = performance.now();
    this.setTime(t, true);
    if (this.panels.isOpen('dom')) this.panels.refreshDom();
  }

  /**
   * Render mode: show the instant `ms` (from the first event) paused, with no real-time effects, and resolve once
   * the frame is settled: images in the replay loaded or failed and web fonts ready (or `maxWaitMs` passed), then
   * painted. Resolves to the time shown.
   * @param {number} ms @param {number} [maxWaitMs]
   */
  async renderFrame(ms, maxWaitMs = 2000, paint = true) {
    this.pause();
    this.seek(ms);
    this.panelsKey();
    const e = this.engine;
    // Animations stop at their frame; again only if images or fonts arrived meanwhile (they may start new ones).
    if (e) { e.settleAnimations(true); if (await settleDoc(e.doc, maxWaitMs)) e.settleAnimations(true); }
    if (paint) await new Promise((r) => { requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 200); });
    return this.time;
  }

  /**
   * Render mode for frame sequences (video): step through the instants `list` (ms, increasing) and stop at the first
   * whose page differs from the page shown by the previous call (events that change pixels applied, a styled hover,
   * window, size or panels); that frame is settled like `renderFrame`. Frames before it show the same page, so they
   * need no capture. Returns `i` (that index, or `list.length` when the page did not change), the cursor and ripples
   * of every frame stepped through (`overlay()`, up to and including `i`) and the page's geometry (`geometry()`).
   * @param {number[]} list @param {number} [maxWaitMs]
   */
  async renderSteps(list, maxWaitMs = 2000) {
    this.pause();
    const frames = [];
    const quiet = this.ui.root.classList.contains('reel-no-panels') && !this.autoWindow;
    for (let i = 0; i < list.length; i++) {
      const e0 = this.engine;
      const from = e0 ? e0.index : -1;
      // Between events (most frames) nothing is applied: only the clock moves.
      if (i > 0 && quiet && e0 && lastAtOrBefore(e0.events, this.info.start + list[i], (x) => x.timestamp) <= e0.index) this.time = list[i];
      else this.seek(list[i]);
      const e = this.engine;
      frames.push(this.overlay());
      const rest = e ? [this.windowId, e.viewport.style.transform, e.viewport.style.left, e.viewport.style.top, this.panelsKey()].join('|') : '';
      const key = e ? `${rest}|${e.pageVersion}` : '';
      if (key === this.pageKey) continue;
      this.pageKey = key;
      await this.renderFrame(list[i], maxWaitMs, false);
      // A scroll offset set from script reaches a screenshot only with the next composited frame (a capture taken
      // at once shows the previous offset): wait for one when this step scrolled.
      if (!e || e !== e0 || scrolledBetween(e.events, from, e.index)) await new Promise((r) => { requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 200); });
      const geo = this.geometry();
      // When every change since the last capture of this page was a new value in a text field, only those fields'
      // rectangle needs capturing (`clip`); the renderer keeps the rest of its last capture.
      const last = this.lastCapture;
      let clip = null;
      if (e && last && last.engine === e && last.rest === rest && e.pageVersion - last.version === e.inputBumps - last.bumps) clip = inputClip(e, geo);
      if (e) { this.lastCapture = { engine: e, rest, version: e.pageVersion, bumps: e.inputBumps }; e.dirtyInputs.length = 0; }
      return { i, frames, geo, clip };
    }
    return { i: list.length, frames, geo: this.geometry() };
  }

  /**
   * Render mode: the cursor (`c`: `[x, y]` or null) and click ripples (`r`: `[x, y, scale, opacity]` each) at the current
   * time, in the recorded page's pixels.
   */
  overlay() {
    const e = this.engine;
    return e ? e.overlayAt(this.info.start + this.time) : { c: null, r: [] };
  }

  /** Render mode: where the replayed page is drawn, in CSS pixels of the render window: `{x, y, w, h, s}` (s: scale). */
  geometry() {
    const e = this.engine;
    if (!e) return { x: 0, y: 0, w: 0, h: 0, s: 1 };
    const b = e.viewport.getBoundingClientRect();
    return { x: b.left, y: b.top, w: b.width, h: b.height, s: e.scale };
  }

  /**
   * Render mode: the player's cursor image drawn at `scale`, as `{w, h, rgba}` (base64 of unpremultiplied RGBA rows),
   * so a renderer draws the same arrow.
   * @param {number} scale
   */
  async cursorSprite(scale) {
    const e = this.engine;
    const el = e ? e.cursor : document.body;
    const m = /url\("?(.*?)"?\)$/.exec(getComputedStyle(el).backgroundImage);
    const box = parseFloat(getComputedStyle(el).width) || 18;
    const n = Math.max(1, Math.ceil(box * scale));
    const cv = document.createElement('canvas');
    cv.width = n; cv.height = n;
    const ctx = /** @type {CanvasRenderingContext2D} */ (cv.getContext('2d'));
    if (m) {
      const img = new Image();
      img.src = m[1];
      await img.decode();
      ctx.drawImage(img, 0, 0, box * scale, box * scale);
    }
    const px = ctx.getImageData(0, 0, n, n).data;
    let bin = '';
    for (let k = 0; k < px.length; k += 0x8000) bin += String.fromCharCode.apply(null, Array.from(px.subarray(k, k + 0x8000)));
    return { w: n, h: n, rgba: btoa(bin) };
  }

  /** Render mode: panels brought to the current time now (not throttled by the wall clock); a key of their state. */
  panelsKey() {
    if (this.ui.root.classList.contains('reel-no-panels')) return '';
    this.panels.lastTick = 0;
    this.panels.tick(this.time);
    let n = 0;
    for (const x of this.panels.timed || []) if (x.t <= this.time) n++;
    return String(n);
  }

  /** What a renderer checks before asking for frames: sessions, the shown one, its length and whether it can be drawn. */
  renderInfo() {
    const s = this.sessions[this.sessionIndex];
    return {
      session: s ? s.id : '', sessions: this.sessions.map((x) => x.id), duration: this.info.duration, inactive: this.info.inactive,
      drawable: !!s && s.windows.some((w) => w.events.some((e) => e.type === EV.Full && e.data && e.data.node)),
    };
  }

  /** The window with the latest user activity at or before `t` (multi-window sessions). @param {number} t */
  activeWindowAt(t) {
    let best = null, bestT = -Infinity;
    for (const [id, times] of this.info.activity) {
      const k = lastAtOrBefore(times, t, (x) => x);
      if (k >= 0 && times[k] > bestT) { bestT = times[k]; best = id; }
    }
    return best;
  }

  /** @param {number} t @param {boolean} sync */
  setTime(t, sync) {
    this.time = t;
    if (this.autoWindow) {
      const w = this.activeWindowAt(t);
      if (w != null && w !== this.windowId) this.selectWindow(w, true);
    }
    const e = this.engine;
    if (e) { e.renderAt(this.info.start + t, sync); e.ripplesAt(this.info.start + t); }
    this.draw();
    this.panels.tick(t);
    this.emit('timeupdate', { time: t });
  }

  draw() { drawProgress(this.ui, this.time, this.info.duration, this.playing); }

  /** @param {number} s */
  setSpeed(s) { this.speed = s; this.ui.speed.value = String(s); }

  /** @param {boolean} on */
  setSkipInactive(on) { this.skipInactive = on; this.ui.skip.checked = on; }

  /** @param {string} msg @param {boolean} [error] */
  status(msg, error) {
    this.ui.status.textContent = msg;
    this.ui.status.classList.toggle('reel-error', !!error);
    this.ui.status.hidden = !msg;
  }

  metaInfo() {
    const s = this.sessions[this.sessionIndex];
    const e = this.engine;
    return {
      session: s ? s.id : '', ...(s ? flat(s.meta) : {}),
      integrity: s && s.integrity ? s.integrity + (s.warnings && s.warnings.length ? ' — ' + s.warnings.join('; ') : '') : '',
      start: this.info.start ? new Date(this.info.start).toISOString() : '', duration: fmtTime(this.info.duration),
      windows: s ? s.windows.length : 0, window: this.windowId, events: e ? e.events.length : 0,
      url: e ? e.state.href : '', viewport: e ? `${e.state.width}×${e.state.height}` : '',
      'skipped events': e ? e.skipped : 0,
      keyframes: e ? `${e.keyframes.frames.length}${e.keyframes.done ? '' : ' (building)'}` : '',
      'last seek': e ? e.lastSeekMs.toFixed(1) + ' ms' : '',
    };
  }

  /** Show (or hide) the list of keyboard shortcuts over the player; key `?`, Escape closes it. @param {boolean} [on] */
  toggleHelp(on = !this.helpEl) {
    if (this.helpEl) { this.helpEl.remove(); this.helpEl = null; }
    if (!on) return;
    const box = h('div', 'reel-help');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', 'Keyboard shortcuts');
    const dl = h('dl');
    for (const [k, what] of SHORTCUTS.concat(this.opts.shortcuts || [])) dl.append(h('dt', '', k), h('dd', '', what));
    const close = h('button', 'reel-help-close', 'Close');
    close.addEventListener('click', () => this.toggleHelp(false));
    box.append(h('strong', '', 'Keyboard shortcuts'), dl, close);
    this.ui.root.append(box);
    this.helpEl = box;
  }

  bind() {
    const ui = this.ui;
    ui.playBtn.addEventListener('click', () => this.toggle());
    ui.speed.value = String(this.speed);
    ui.speed.addEventListener('change', () => { this.speed = +ui.speed.value; });
    ui.skip.addEventListener('change', () => { this.skipInactive = ui.skip.checked; });
    ui.windowSel.addEventListener('change', () => this.selectWindow(ui.windowSel.value));
    ui.timeline.addEventListener('pointermove', (ev) => {
      const r = ui.timeline.getBoundingClientRect();
      ui.timeline.title = fmtTime(Math.max(0, Math.min(1, (ev.clientX - r.left) / (r.width || 1))) * this.info.duration);
    });
    ui.sessionSel.addEventListener('change', () => this.openSession(+ui.sessionSel.value));
    ui.linkBtn.addEventListener('click', () => {
      // Deep link to the current moment: #t=SECONDS, or &t= after a route the page keeps in its hash (the web UI's
      // #/s/<id>); no hashchange, so nothing re-seeks.
      const route = location.hash.replace(/[#&]t=[\d.]*/, '');
      const url = location.href.replace(/#.*$/, '') + (route ? route + '&' : '#') + 't=' + (Math.round(this.time / 100) / 10);
      try { history.replaceState(null, '', url); } catch (e) { /* sandboxed or file: */ }
      if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
      this.status('Link to ' + fmtTime(this.time) + ' copied');
      setTimeout(() => this.status(''), 1500);
    });
    ui.panelsBtn.addEventListener('click', () => { ui.root.classList.toggle('reel-no-panels'); this.onResize(); });
    ui.fullBtn.addEventListener('click', () => {
      if (document.fullscreenElement) document.exitFullscreen(); else ui.root.requestFullscreen && ui.root.requestFullscreen().catch(() => {});
    });
    bindScrub(ui.timeline, () => this.info.duration, (ms) => this.seek(ms));
    this.onKey = (/** @type {KeyboardEvent} */ ev) => {
      const t = /** @type {HTMLElement} */ (ev.target);
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      if (ev.metaKey || ev.ctrlKey || ev.altKey) return;
      if (ev.key === ' ' || ev.key === 'k') { this.toggle(); ev.preventDefault(); }
      else if (ev.key === 'ArrowLeft') { this.seek(this.time - 5000); ev.preventDefault(); }
      else if (ev.key === 'ArrowRight') { this.seek(this.time + 5000); ev.preventDefault(); }
      else if (/^[0-9]$/.test(ev.key)) this.seek((this.info.duration * +ev.key) / 10);
      else if (ev.key === 'f') ui.fullBtn.click();
      else if (ev.key === 'n' || ev.key === 'p') this.stepMoment(ev.key === 'n' ? 1 : -1);
      else if (ev.key === ',' || ev.key === '.') { this.pause(); this.seek(this.time + (ev.key === '.' ? FRAME_MS : -FRAME_MS)); }
      else if (ev.key === '?') this.toggleHelp();
      else if (ev.key === 'Escape' && this.helpEl) this.toggleHelp(false);
    };
    this.onHash = () => {
      const m = /(?:^#|[#&])t=(\d+(?:\.\d+)?)/.exec(location.hash);
      if (m && this.opts.hash !== false) { this.pause(); this.seek(parseFloat(m[1]) * 1000); }
    };
    window.addEventListener('hashchange', this.onHash);
    // Space on a focused player button must not also "click" it (keydown already toggled playback).
    ui.root.addEventListener('keyup', (ev) => {
      const t = /** @type {HTMLElement} */ (ev.target);
      if (ev.key === ' ' && t && t.tagName === 'BUTTON') ev.preventDefault();
    });
    if (this.opts.keyboard === false) ui.root.addEventListener('keydown', this.onKey);
    else document.addEventListener('keydown', this.onKey);
  }

  destroy() {
    this.pause();
    for (const e of this.engines.values()) e.destroy();
    document.removeEventListener('keydown', this.onKey);
    window.removeEventListener('resize', this.onResize);
    window.removeEventListener('hashchange', this.onHash);
    if (this.ro) this.ro.disconnect();
    this.ui.root.replaceChildren();
  }
}

/**
 * Resolve once the images (not lazy ones) and fonts of `doc` and its same-origin iframes are loaded, or after `maxMs`;
 * to whether there was anything to wait for.
 * @param {Document|null} doc @param {number} maxMs @returns {Promise<boolean>}
 */
function settleDoc(doc, maxMs) {
  /** @type {Promise<any>[]} */
  const waits = [];
  const visit = (/** @type {Document|null} */ d) => {
    if (!d) return;
    for (const img of Array.from(d.images)) {
      if (img.complete || img.loading === 'lazy') continue;
      waits.push(new Promise((r) => { img.addEventListener('load', r, { once: true }); img.addEventListener('error', r, { once: true }); }));
    }
    if (d.fonts && d.fonts.status !== 'loaded') waits.push(d.fonts.ready);
    for (const f of Array.from(d.querySelectorAll('iframe'))) { try { visit(f.contentDocument); } catch (e) { /* cross-origin */ } }
  };
  visit(doc);
  if (!waits.length) return Promise.resolve(false);
  return Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, maxMs))]).then(() => true);
}

/** Flatten one level of metadata for display. @param {any} m */
function flat(m) {
  /** @type {Record<string, any>} */
  const o = {};
  if (m && typeof m === 'object') for (const [k, v] of Object.entries(m)) if (k !== 'id') o[k] = v;
  return o;
}

/** A summary.json given as a document or a URL; a failed fetch shows no moments rather than no recording. @param {string|object} m */
async function fetchMoments(m) {
  if (typeof m !== 'string') return m;
  try {
    const res = await fetch(m, { credentials: 'same-origin' });
    return res.ok ? await res.json() : null;
  } catch (e) { return null; }
}

/**
 * Whether events (from, to] of a window may move a scroll offset: scrolls, a new page or window size (full snapshot,
 * meta, viewport resize); a range that is not a short forward step (a jump) counts too.
 * @param {any[]} events @param {number} from @param {number} to
 */
function scrolledBetween(events, from, to) {
  if (to < from || to - from > 2000) return true;
  for (let i = from + 1; i <= to; i++) {
    const x = events[i];
    if (!x) continue;
    if (x.type === 2 || x.type === 4 || (x.type === 3 && x.data && (x.data.source === 3 || x.data.source === 4))) return true;
  }
  return false;
}
