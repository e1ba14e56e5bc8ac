// Player chrome: controls, timeline with density and markers, keyboard.
import { h, fmtTime } from './util.js';

export const SPEEDS = [1, 2, 4, 8, 16];

/**
 * Build the player shell inside `root`.
 * @param {HTMLElement} root
 */
export function buildShell(root) {
  root.classList.add('reel-player');
  root.tabIndex = 0;
  const main = h('div', 'reel-main');
  const stage = h('div', 'reel-stage');
  const side = h('div', 'reel-side');
  const split = h('div', 'reel-split');
  split.setAttribute('role', 'separator');
  split.setAttribute('aria-orientation', 'vertical');
  split.title = 'Drag to resize the panels';
  main.append(stage, split, side);
  bindSplit(split, side, main);
  const bar = h('div', 'reel-controls');
  const playBtn = btn('reel-play', '▶', 'Play (space)');
  const time = h('span', 'reel-time', '0:00 / 0:00');
  const timeline = h('div', 'reel-timeline');
  const density = h('div', 'reel-density');
  const inactive = h('div', 'reel-inactive');
  const progress = h('div', 'reel-progress');
  const markers = h('div', 'reel-markers');
  const handle = h('div', 'reel-handle');
  timeline.append(inactive, density, progress, markers, handle);
  timeline.setAttribute('role', 'slider');
  timeline.setAttribute('aria-label', 'Seek');
  const speed = /** @type {HTMLSelectElement} */ (h('select', 'reel-speed'));
  speed.title = 'Speed';
  for (const s of SPEEDS) { const o = h('option', '', s + '×'); /** @type {HTMLOptionElement} */ (o).value = String(s); speed.appendChild(o); }
  const skipLabel = h('label', 'reel-skip');
  const skip = /** @type {HTMLInputElement} */ (h('input'));
  skip.type = 'checkbox'; skip.checked = true;
  skipLabel.append(skip, document.createTextNode(' skip inactivity'));
  const sessionSel = /** @type {HTMLSelectElement} */ (h('select', 'reel-session'));
  sessionSel.title = 'Session';
  const windowSel = /** @type {HTMLSelectElement} */ (h('select', 'reel-window'));
  windowSel.title = 'Window';
  const linkBtn = btn('reel-link', '#t', 'Copy a link to this moment');
  const panelsBtn = btn('reel-panels-btn', '☰', 'Panels');
  const fullBtn = btn('reel-full', '', 'Fullscreen (f)');
  fullBtn.innerHTML = '<svg width="14" height="14" viewBox="0 0 14 14" fill="none" stroke="currentColor" stroke-width="1.6"><path d="M1 5V1h4M9 1h4v4M13 9v4H9M5 13H1V9"/></svg>';
  bar.append(playBtn, time, timeline, speed, skipLabel, sessionSel, windowSel, linkBtn, panelsBtn, fullBtn);
  const status = h('div', 'reel-status');
  root.replaceChildren(main, bar, status);
  return { root, main, stage, side, bar, playBtn, time, timeline, density, inactive, progress, markers, handle, speed, skip, sessionSel, windowSel, linkBtn, panelsBtn, fullBtn, status };
}

/** @param {string} cls @param {string} text @param {string} title */
function btn(cls, text, title) {
  const b = h('button', cls, text);
  b.title = title;
  b.setAttribute('aria-label', title);
  /** @type {HTMLButtonElement} */ (b).type = 'button';
  return b;
}

/**
 * Draw density, inactive stretches and markers on the timeline.
 * @param {ReturnType<typeof buildShell>} ui @param {ReturnType<typeof import('./timeline.js').analyse>} info
 * @param {(ms: number, marker?: any) => void} seek
 */
export function drawTimeline(ui, info, seek) {
  const max = Math.max(1, ...info.density);
  ui.density.replaceChildren(...info.density.map((n) => {
    const b = h('i');
    b.style.height = Math.round((n / max) * 100) + '%';
    return b;
  }));
  const pct = (/** @type {number} */ t) => (info.duration ? (t / info.duration) * 100 : 0) + '%';
  ui.inactive.replaceChildren(...info.inactive.map(([a, b]) => {
    const s = h('i');
    s.style.left = pct(a); s.style.width = `calc(${pct(b)} - ${pct(a)})`;
    return s;
  }));
  ui.markers.replaceChildren(...info.markers.map((m) => {
    const el = h('button', 'reel-marker reel-m-' + m.kind);
    el.style.left = pct(m.t);
    el.title = `${fmtTime(m.t)} ${m.label}`;
    el.addEventListener('click', (ev) => { ev.stopPropagation(); seek(m.t, m); });
    return el;
  }));
}

/**
 * Seek by click and drag on the timeline.
 * @param {HTMLElement} timeline @param {() => number} duration @param {(ms: number, final: boolean) => void} onSeek
 */
export function bindScrub(timeline, duration, onSeek) {
  const at = (/** @type {PointerEvent} */ ev) => {
    const r = timeline.getBoundingClientRect();
    return Math.max(0, Math.min(1, (ev.clientX - r.left) / (r.width || 1))) * duration();
  };
  let dragging = false;
  timeline.addEventListener('pointerdown', (ev) => {
    if (/** @type {HTMLElement} */ (ev.target).classList.contains('reel-marker')) return;
    dragging = true;
    try { timeline.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic event */ }
    onSeek(at(ev), false);
  });
  timeline.addEventListener('pointermove', (ev) => { if (dragging) onSeek(at(ev), false); });
  const stop = (/** @type {PointerEvent} */ ev) => { if (!dragging) return; dragging = false; onSeek(at(ev), true); };
  timeline.addEventListener('pointerup', stop);
  timeline.addEventListener('pointercancel', stop);
}

/** Update the progress bar and clock. @param {ReturnType<typeof buildShell>} ui @param {number} t @param {number} duration @param {boolean} playing */
export function drawProgress(ui, t, duration, playing) {
  const p = duration ? Math.min(100, (t / duration) * 100) : 0;
  ui.progress.style.width = p + '%';
  ui.handle.style.left = p + '%';
  ui.time.textContent = `${fmtTime(t)} / ${fmtTime(duration)}`;
  ui.timeline.setAttribute('aria-valuemin', '0');
  ui.timeline.setAttribute('aria-valuemax', String(Math.round(duration / 1000)));
  ui.timeline.setAttribute('aria-valuenow', String(Math.round(t / 1000)));
  ui.timeline.setAttribute('aria-valuetext', ui.time.textContent);
  ui.playBtn.textContent = playing ? '❚❚' : '▶';
  ui.playBtn.title = playing ? 'Pause (space)' : 'Play (space)';
}

const SIDE_KEY = 'reel.sideWidth';

/**
 * Resize the side panels by dragging the bar between them and the page; the width is kept for next time (this
 * browser's localStorage, when the page may use it).
 * @param {HTMLElement} split @param {HTMLElement} side @param {HTMLElement} main
 */
function bindSplit(split, side, main) {
  const apply = (/** @type {number} */ w) => {
    const max = Math.max(240, main.getBoundingClientRect().width - 240);
    side.style.width = Math.round(Math.max(220, Math.min(max, w))) + 'px';
    side.style.maxWidth = 'none';
  };
  try { const w = Number(localStorage.getItem(SIDE_KEY)); if (w > 0) requestAnimationFrame(() => apply(w)); } catch (e) { /* storage not allowed */ }
  split.addEventListener('pointerdown', (ev) => {
    ev.preventDefault();
    split.setPointerCapture(ev.pointerId);
    split.classList.add('dragging');
    const move = (/** @type {PointerEvent} */ e) => apply(main.getBoundingClientRect().right - e.clientX);
    const up = () => {
      split.classList.remove('dragging');
      split.removeEventListener('pointermove', move);
      split.removeEventListener('pointerup', up);
      try { localStorage.setItem(SIDE_KEY, String(side.getBoundingClientRect().width)); } catch (e) { /* storage not allowed */ }
    };
    split.addEventListener('pointermove', move);
    split.addEventListener('pointerup', up);
  });
}
