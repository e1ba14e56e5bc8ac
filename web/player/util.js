// Shared constants and small helpers for the Reel player.

/** rrweb event types (open enum: unknown numbers are skipped, never fatal). */
export const EV = { DomLoaded: 0, Load: 1, Full: 2, Inc: 3, Meta: 4, Custom: 5, Plugin: 6, Asset: 7 };

/** rrweb incremental sources. */
export const SRC = {
  Mutation: 0, MouseMove: 1, MouseInteraction: 2, Scroll: 3, ViewportResize: 4, Input: 5, TouchMove: 6,
  MediaInteraction: 7, StyleSheetRule: 8, CanvasMutation: 9, Font: 10, Log: 11, Drag: 12, StyleDeclaration: 13,
  Selection: 14, AdoptedStyleSheet: 15, CustomElement: 16,
};

/** rrweb serialized node types. */
export const NT = { Document: 0, DocumentType: 1, Element: 2, Text: 3, CDATA: 4, Comment: 5 };

/** Incremental sources that count as user activity (for inactivity skipping and density). */
export const ACTIVE_SOURCES = new Set([0, 1, 2, 3, 4, 5, 6, 7, 12, 14]);

/**
 * Create an element in the host page with a class and optional text.
 * @param {string} tag @param {string} [cls] @param {string} [text] @returns {HTMLElement}
 */
export function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text != null) el.textContent = text;
  return el;
}

/** Format milliseconds as m:ss (or h:mm:ss). @param {number} ms */
export function fmtTime(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

/** Format a byte count. @param {number} n */
export function fmtBytes(n) {
  if (n == null || isNaN(n)) return '';
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1048576).toFixed(1) + ' MB';
}

/** Binary search: index of the last item with key(item) <= x, or -1. @template T @param {T[]} arr @param {number} x @param {(t: T) => number} key */
export function lastAtOrBefore(arr, x, key) {
  let lo = 0, hi = arr.length - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(arr[mid]) <= x) { ans = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return ans;
}

/** Yield to the event loop (used to chunk long work). @returns {Promise<void>} */
export function yieldTask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
