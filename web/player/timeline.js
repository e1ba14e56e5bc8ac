// Derived session data: duration, activity density, markers, inactive stretches, console and network entries.
import { EV, SRC, ACTIVE_SOURCES } from './util.js';

/**
 * @typedef {{t: number, kind: string, label: string, windowId?: string}} Marker
 * @typedef {{t: number, level: string, text: string, trace: string[], windowId: string}} ConsoleEntry
 * @typedef {{t: number, req: any, windowId: string}} NetworkEntry
 */

const INACTIVE_GAP = 5000;

/**
 * @typedef {{t: number, kind: string, label: string, windowId: string, moment: any}} MomentEntry
 */

/**
 * Analyse all windows of a session. Times are ms relative to `start`. With `insight` (a session's
 * summary.json: from a package or the server's /moments endpoint) its moments become markers
 * and the moments list; the player does not detect moments itself.
 * @param {{id: string, events: any[]}[]} windows @param {any} [insight]
 */
export function analyse(windows, insight) {
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
        if (!insight && recent.length >= 3 && !markers.some((m) => m.kind === 'rage' && t - m.t < 1000)) markers.push({ t: recent[0].t, kind: 'rage', label: 'rage click', windowId: w.id });
      } else if (e.type === EV.Meta && d.href != null) {
        if (href !== null && d.href !== href) markers.push({ t, kind: 'page', label: String(d.href), windowId: w.id });
        href = d.href;
      } else if (e.type === EV.Custom) {
        markers.push({ t, kind: 'custom', label: String(d.tag), windowId: w.id });
      } else if (e.type === EV.Plugin && d.plugin === 'rrweb/console@1' && d.payload) {
        const p = d.payload;
        const text = (p.payload || []).map(unquote).join(' ');
        consoleEntries.push({ t, level: String(p.level || 'log'), text, trace: p.trace || [], windowId: w.id });
        if (!insight && (p.level === 'error' || p.level === 'assert')) markers.push({ t, kind: 'error', label: text.slice(0, 80), windowId: w.id });
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
  const moments = momentsOf(insight, start, windows);
  for (const m of moments) markers.push({ t: m.t, kind: 'mo-' + m.kind, label: m.label, windowId: m.windowId });
  markers.sort((a, b) => a.t - b.t);
  consoleEntries.sort((a, b) => a.t - b.t);
  network.sort((a, b) => a.t - b.t);
  return { start, end, duration, density, markers, consoleEntries, network, inactive, activity, moments, summary: insight && insight.summary ? insight.summary : null };
}

/**
 * The moments of a summary.json as list entries (ms relative to `start`), in time order.
 * @param {any} insight @param {number} start @param {{id: string}[]} windows @returns {MomentEntry[]}
 */
export function momentsOf(insight, start, windows) {
  if (!insight || !Array.isArray(insight.moments)) return [];
  const ids = new Set(windows.map((w) => w.id));
  /** @type {MomentEntry[]} */
  const out = [];
  for (const m of insight.moments) {
    if (!m || typeof m.kind !== 'string') continue;
    const at = Date.parse(m.timestamp);
    const t = isFinite(at) && start ? at - start : +m.t_ms || 0;
    const tg = m.target && (m.target.text || m.target.selector);
    const d = m.detail || {};
    const what = tg ? String(tg) : d.message || d.request_url || d.tag || m.url || '';
    out.push({ t: Math.max(0, t), kind: m.kind, label: `${m.kind.replace(/_/g, ' ')}${what ? ': ' + String(what).slice(0, 80) : ''}`, windowId: ids.has(m.window_id) ? m.window_id : '', moment: m });
  }
  return out.sort((a, b) => a.t - b.t);
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
