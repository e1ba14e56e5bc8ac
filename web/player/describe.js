// Readable event rows for the Events panel: "Click button#pay “Pay now”", "Input input#email",
// "Navigation https://…". One pass over a window's events keeps a flat map of node id → short label,
// built from full snapshots and mutation adds (no DOM: cheap for long recordings); a full snapshot
// starts it again. Text is as recorded (masked stays masked); nothing here touches the replay.
import { EV, SRC } from './util.js';

const SRC_NAMES = Object.fromEntries(Object.entries(SRC).map(([k, v]) => [v, k]));
const EV_NAMES = Object.fromEntries(Object.entries(EV).map(([k, v]) => [v, k]));
/** rrweb's MouseInteractions. */
const MOUSE = ['MouseUp', 'MouseDown', 'Click', 'ContextMenu', 'DblClick', 'Focus', 'Blur', 'TouchStart', 'TouchMove_Departed', 'TouchEnd', 'TouchCancel'];

/** The kinds the panel can filter on (in menu order). */
export const KINDS = ['click', 'input', 'navigation', 'scroll', 'snapshot', 'mutation', 'console', 'network', 'custom', 'other'];

const clip = (/** @type {string} */ s, n = 40) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/**
 * A short label of a serialized element: `tag#id.class` plus its direct text.
 * @param {any} n @returns {string}
 */
function label(n) {
  if (!n || n.type !== 2) return n && n.type === 3 ? 'text' : 'node';
  const a = n.attributes || {};
  let s = String(n.tagName || '').toLowerCase();
  if (typeof a.id === 'string' && a.id) s += '#' + a.id;
  else if (typeof a.class === 'string' && a.class.trim()) s += '.' + a.class.trim().split(/\s+/).slice(0, 2).join('.');
  let text = '';
  for (const c of n.childNodes || []) if (c && c.type === 3 && typeof c.textContent === 'string') text += c.textContent;
  text = text.replace(/\s+/g, ' ').trim() || String(a['aria-label'] || a.placeholder || a.title || a.alt || (a.type === 'submit' || a.type === 'button' ? a.value || '' : '')).trim();
  return text ? `${s} “${clip(text)}”` : s;
}

/** Keeps node labels as the events go by. */
export class Describer {
  constructor() { /** @type {Map<number, string>} */ this.nodes = new Map(); }

  /** @param {any} n */
  add(n) {
    const stack = [n];
    while (stack.length) {
      const x = stack.pop();
      if (!x || typeof x !== 'object') continue;
      if (typeof x.id === 'number') this.nodes.set(x.id, label(x));
      if (Array.isArray(x.childNodes)) for (const c of x.childNodes) stack.push(c);
    }
  }

  /** @param {number} id */
  node(id) { return this.nodes.get(id) || `node ${id}`; }

  /**
   * The row for event `e` (call for every event of a window, in order): `{kind, text}`.
   * @param {any} e @returns {{kind: string, text: string}}
   */
  describe(e) {
    const d = (e && e.data) || {};
    switch (e && e.type) {
      case EV.Meta: return { kind: 'navigation', text: `Navigation ${d.href || ''}`.trim() };
      case EV.Full:
        this.nodes.clear();
        this.add(d.node);
        return { kind: 'snapshot', text: 'Full snapshot' };
      case EV.Custom: return { kind: 'custom', text: `Custom ${d.tag}` };
      case EV.Plugin: {
        const p = d.payload || {};
        if (d.plugin === 'rrweb/console@1') return { kind: 'console', text: `Console ${p.level || ''} ${clip(String((p.payload || []).join(' ')), 80)}` };
        if (d.plugin === 'rrweb/network@1') return { kind: 'network', text: `Network ${(p.requests || []).length} request(s)` };
        return { kind: 'other', text: `Plugin ${d.plugin}` };
      }
      case EV.Inc:
        switch (d.source) {
          case SRC.Mutation:
            for (const a of d.adds || []) if (a) this.add(a.node);
            return { kind: 'mutation', text: `Mutation +${(d.adds || []).length} −${(d.removes || []).length}` };
          case SRC.MouseInteraction: {
            const what = MOUSE[d.type] || `Interaction ${d.type}`;
            return { kind: d.type === 2 || d.type === 4 || d.type === 3 ? 'click' : 'other', text: `${what} ${this.node(d.id)}` };
          }
          case SRC.Input: {
            const v = typeof d.text === 'string' ? ` = “${clip(d.text, 30)}”` : typeof d.isChecked === 'boolean' ? ` = ${d.isChecked}` : '';
            return { kind: 'input', text: `Input ${this.node(d.id)}${v}` };
          }
          case SRC.Scroll: return { kind: 'scroll', text: `Scroll ${d.id === 1 ? 'page' : this.node(d.id)} to ${Math.round(d.y || 0)}` };
          case SRC.ViewportResize: return { kind: 'other', text: `Viewport ${d.width}×${d.height}` };
          default: return { kind: 'other', text: SRC_NAMES[d.source] || `source ${d.source}` };
        }
      default: return { kind: 'other', text: EV_NAMES[e && e.type] || `type ${e && e.type}` };
    }
  }
}

/** Labels of metadata fields people read (meta.json, PostHog's listing); others are spelled out from their name. */
const LABELS = {
  distinct_id: 'Person', start_time: 'Started', end_time: 'Ended', start: 'Started', duration: 'Duration', duration_ms: 'Duration (ms)',
  active_seconds: 'Active (s)', inactive_seconds: 'Inactive (s)', recording_duration: 'Duration (s)', first_url: 'First page',
  start_url: 'First page', urls: 'Pages', click_count: 'Clicks', keypress_count: 'Keypresses', mouse_activity_count: 'Mouse activity',
  console_log_count: 'Console logs', console_warn_count: 'Console warnings', console_error_count: 'Console errors', event_count: 'Events',
  user_agent: 'Browser', url: 'Current page', viewport: 'Viewport', window: 'Window', windows: 'Windows', session: 'Session',
  'source.system': 'Recorded by', 'source.lib': 'Recorder', 'source.lib_version': 'Recorder version', size: 'Size (bytes)',
};

/** A metadata key as a label: `console_error_count` → "Console errors", `person.properties.email` → "Person › properties › email". */
export function humanLabel(/** @type {string} */ k) {
  if (LABELS[k]) return LABELS[k];
  const s = k.replace(/[_]+/g, ' ').split('.').join(' › ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
