// Derived session data: duration, activity density, markers, inactive stretches, console and network entries.
import { EV, SRC, ACTIVE_SOURCES } from './util.js';

/**
 * @typedef {{t: number, kind: string, label: string, windowId?: string}} Marker
 * @typedef {{t: number, level: string, text: string, trace: string[], windowId: string}} ConsoleEntry
 * @typedef {{t: number, req: any, windowId: string}} NetworkEntry
 */

const INACTIVE_GAP = 5000;

/**
 * Analyse all windows of a session. Times are ms relative to `start`.
 * @param {{id: string, events: any[]}[]} windows
 */
export function analyse(windows) {
  let start = Infinity, end = -Infinity;
  for (const w of windows) for (const e of w.events) { if (e.timestamp < start) start = e.timestamp; if (e.timestamp > end) end = e.timestamp; }
  if (!isFinite(start)) { start = 0; end = 0; }
  const duration = end - start;
  const BUCKETS = 120;
  const density = new Array(BUCKETS).fill(0);
  /** @type {Marker[]} */
  const markers = [];
  /** @type {ConsoleEntry[]} */
  const consoleEntries = [];
  /** @type {NetworkEntry[]} */
  const network = [];
  /** @type {number[]} */
  const active = [];
  const seenReq = new Set();
  /** @type {Map<string, number[]>} user-activity times per window (which window was in use when) */
  const activity = new Map();
  for (const w of windows) {
    /** @type {number[]} */
    const acts = [];
    activity.set(w.id, acts);
    let href = null;
    /** @type {{t: number, x: number, y: number}[]} */
    const clicks = [];
    for (const e of w.events) {
      const t = e.timestamp - start;
      const d = e.data || {};
      if (e.type === EV.Inc && ACTIVE_SOURCES.has(d.source) && !(d.source === SRC.Mutation)) {
        active.push(t);
        acts.push(t);
        density[Math.min(BUCKETS - 1, Math.floor((t / (duration || 1)) * BUCKETS))]++;
      }
      if (e.type === EV.Inc && d.source === SRC.MouseInteraction && d.type === 2) {
        markers.push({ t, kind: 'click', label: 'click', windowId: w.id });
        clicks.push({ t, x: d.x, y: d.y });
        const recent = clicks.filter((c) => t - c.t <= 1000 && Math.hypot((c.x || 0) - (d.x || 0), (c.y || 0) - (d.y || 0)) < 40);
        if (recent.length >= 3 && !markers.some((m) => m.kind === 'rage' && t - m.t < 1000)) markers.push({ t: recent[0].t, kind: 'rage', label: 'rage click', windowId: w.id });
      } else if (e.type === EV.Meta && d.href != null) {
        if (href !== null && d.href !== href) markers.push({ t, kind: 'page', label: String(d.href), windowId: w.id });
        href = d.href;
      } else if (e.type === EV.Custom) {
        markers.push({ t, kind: 'custom', label: String(d.tag), windowId: w.id });
      } else if (e.type === EV.Plugin && d.plugin === 'rrweb/console@1' && d.payload) {
        const p = d.payload;
        const text = (p.payload || []).map(unquote).join(' ');
        consoleEntries.push({ t, level: String(p.level || 'log'), text, trace: p.trace || [], windowId: w.id });
        if (p.level === 'error' || p.level === 'assert') markers.push({ t, kind: 'error', label: text.slice(0, 80), windowId: w.id });
      } else if (e.type === EV.Inc && d.source === SRC.Log && d.payload) {
        const p = d;
        consoleEntries.push({ t, level: String(p.level || 'log'), text: (p.payload || []).map(unquote).join(' '), trace: p.trace || [], windowId: w.id });
      } else if (e.type === EV.Plugin && d.plugin === 'rrweb/network@1' && d.payload) {
        for (const r of d.payload.requests || []) {
          const key = `${r.name}|${r.startTime}|${r.method}|${r.timeOrigin}`;
          if (seenReq.has(key)) continue;
          seenReq.add(key);
          const rt = r.timestamp != null ? r.timestamp - start : (r.timeOrigin && r.startTime != null ? r.timeOrigin + r.startTime - start : t);
          network.push({ t: Math.max(0, rt), req: r, windowId: w.id });
        }
      }
    }
  }
  active.sort((a, b) => a - b);
  /** @type {[number, number][]} inactive [from, to] stretches (ms relative) */
  const inactive = [];
  let prev = 0;
  for (const t of active.concat([duration])) {
    if (t - prev > INACTIVE_GAP) inactive.push([prev + 1000, t - 500]);
    prev = t;
  }
  markers.sort((a, b) => a.t - b.t);
  consoleEntries.sort((a, b) => a.t - b.t);
  network.sort((a, b) => a.t - b.t);
  return { start, end, duration, density, markers, consoleEntries, network, inactive, activity };
}

/** Console payloads are JSON-stringified by the plugin; show strings without quotes. @param {any} s */
function unquote(s) {
  if (typeof s !== 'string') return JSON.stringify(s);
  if (s.length >= 2 && s[0] === '"' && s[s.length - 1] === '"') { try { return JSON.parse(s); } catch (e) { return s; } }
  return s;
}

/** Request duration in ms. @param {any} r */
export function reqDuration(r) {
  if (r.duration != null) return r.duration;
  if (r.endTime != null && r.startTime != null) return r.endTime - r.startTime;
  return null;
}

/** Request status. @param {any} r */
export function reqStatus(r) {
  return r.responseStatus || r.status || (r.responseStatus === 0 ? 0 : '');
}
