// Turn the player's inputs (events, URLs, JSON, JSONL, .reel.zip, PostHog exports) into sessions of windows.
import { zipEntries, zipRead, inflateBytes } from './zip.js';
import { assetTable, remoteAssetTable, rewriteAssetUrls } from './assets.js';
import { mobileToWeb } from './mobile.js';

/**
 * @typedef {{id: string, events: any[]}} ReelWindow
 * @typedef {{id: string, meta: any, windows: ReelWindow[], warnings?: string[], integrity?: string}} ReelSession
 */

/** Decode PostHog `cv: "2024-10"` packed fields in place. @param {any[]} events @returns {Promise<any[]>} */
export async function decodePacked(events) {
  const out = [];
  for (const e of events) {
    if (!e || typeof e !== 'object') continue;
    if (e.cv === '2024-10') {
      try {
        // Decode into a copy: the caller's events stay as they were.
        const c = { ...e };
        delete c.cv;
        const d = e.data;
        if (e.type === 2 && typeof d === 'string') c.data = await unpackField(d);
        else if (e.type === 3 && d && typeof d === 'object') {
          c.data = { ...d };
          for (const k of ['texts', 'attributes', 'removes', 'adds']) if (typeof d[k] === 'string') c.data[k] = await unpackField(d[k]);
        }
        out.push(c);
      } catch (err) { /* undecodable event: skipped */ }
      continue;
    }
    out.push(e);
  }
  return out;
}

/** string of byte char codes → gunzip → JSON. @param {string} s */
export async function unpackField(s) {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i) & 255;
  return JSON.parse(new TextDecoder().decode(await inflateBytes(bytes, 'gzip')));
}

/**
 * Group events into windows by `windowId`. A window of PostHog mobile events comes out as the web events that show it
 * (`mobile.js`; copies, the events given stay as they are).
 * @param {any[]} events @returns {ReelWindow[]}
 */
export function splitWindows(events) {
  /** @type {Map<string, any[]>} */
  const m = new Map();
  for (const e of events) {
    const w = e.windowId != null ? String(e.windowId) : (e.$window_id != null ? String(e.$window_id) : 'main');
    if (!m.has(w)) m.set(w, []);
    m.get(w).push(e);
  }
  return Array.from(m, ([id, ev]) => ({ id, events: mobileToWeb(ev) }));
}

/**
 * Parse text that holds a recording: JSON array, PostHog export (v1/v2), or JSONL (events or [windowId, event]).
 * @param {string} text @returns {any[]} events (with windowId when known)
 */
export function parseRecordingText(text) {
  let k = 0;
  while (k < text.length && text.charCodeAt(k) <= 32) k++;
  const c = text[k];
  if (c === '[' || c === '{') {
    try { return fromJson(JSON.parse(text)); } catch (e) { /* maybe JSONL */ }
  }
  const t = text;
  const out = [];
  for (const line of t.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    let v;
    try { v = JSON.parse(l); } catch (e) { continue; }
    if (Array.isArray(v) && v.length === 2 && v[1] && typeof v[1] === 'object' && !Array.isArray(v[1])) out.push({ ...v[1], windowId: v[0] });
    else if (v && (v.window_id != null || v.windowId != null) && Array.isArray(v.data)) for (const e of v.data) out.push({ ...e, windowId: v.window_id ?? v.windowId });
    else if (v && typeof v === 'object') out.push(v);
  }
  return out;
}

/** @param {any} v */
function fromJson(v) {
  if (Array.isArray(v)) return v;
  if (v && v.data && v.data.snapshotsByWindowId) {
    const out = [];
    for (const [w, evs] of Object.entries(v.data.snapshotsByWindowId)) for (const e of /** @type {any[]} */ (evs)) out.push({ ...e, windowId: w });
    return out;
  }
  if (v && v.data && Array.isArray(v.data.snapshots)) return v.data.snapshots;
  if (v && Array.isArray(v.events)) return v.events;
  if (v && v.type != null && v.timestamp != null) return [v];
  throw new Error('unrecognised recording JSON (expected an array of rrweb events)');
}

/** Sort by timestamp (stable) and drop junk. @param {any[]} events */
export function cleanEvents(events) {
  const ok = events.filter((e) => e && typeof e === 'object' && typeof e.timestamp === 'number');
  let sorted = true;
  for (let i = 1; i < ok.length && sorted; i++) if (ok[i].timestamp < ok[i - 1].timestamp) sorted = false;
  if (sorted) return ok;
  return ok.map((e, i) => [e, i]).sort((a, b) => a[0].timestamp - b[0].timestamp || a[1] - b[1]).map((p) => p[0]);
}

/**
 * Read a `.reel.zip` package.
 * @param {ArrayBuffer|Uint8Array|Blob} input @returns {Promise<ReelSession[]>}
 */
export async function readPackage(input) {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input instanceof Blob ? await input.arrayBuffer() : input);
  const entries = zipEntries(buf);
  const td = new TextDecoder();
  /** @type {(p: string) => Promise<string|null>} */
  let text = async (p) => {
    const e = entries.get(p);
    return e ? td.decode(await zipRead(buf, e)) : null;
  };
  const mtext = await text('manifest.json');
  const manifest = mtext ? JSON.parse(mtext) : null;
  if (manifest && manifest.format && manifest.format !== 'reel') throw new Error(`not a Reel package (format "${manifest.format}")`);
  const major = manifest && manifest.format_version ? parseInt(String(manifest.format_version), 10) : 1;
  if (major > 1) throw new Error(`package format_version ${manifest.format_version} is newer than this player supports (1.x); use a newer Reel`);
  /** @type {Map<string, string>} */
  const sums = new Map();
  for (const f of (manifest && manifest.files) || []) if (f && f.path && f.sha256) sums.set(String(f.path), String(f.sha256).toLowerCase());
  /** @type {string[]} */
  const warnings = [];
  let verified = 0;
  const canHash = typeof crypto !== 'undefined' && !!crypto.subtle;
  // Check an entry's bytes against the manifest's sha256 (when the page can hash).
  const check = async (/** @type {string} */ p, /** @type {Uint8Array} */ bytes) => {
    const want = sums.get(p);
    if (!want || !canHash) return true;
    const got = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', /** @type {any} */ (bytes))), (b) => b.toString(16).padStart(2, '0')).join('');
    if (got !== want) { warnings.push(`${p}: sha256 does not match the manifest (the package was modified or damaged)`); return false; }
    verified++;
    return true;
  };
  text = async (/** @type {string} */ p) => {
    const e = entries.get(p);
    if (!e) return null;
    const bytes = await zipRead(buf, e);
    await check(p, bytes);
    return td.decode(bytes);
  };
  // Assets (format 1.2): what the package holds loads from it (blob: URLs), the rest as recorded.
  const assets = await assetTable(manifest, entries, buf, check);
  /** @type {string[]} */
  let ids = manifest && Array.isArray(manifest.sessions) ? manifest.sessions.map((s) => String(s.id)) : [];
  if (!ids.length) {
    const set = new Set();
    for (const n of entries.keys()) { const m = /^sessions\/([^/]+)\//.exec(n); if (m) set.add(m[1]); }
    ids = Array.from(set);
  }
  /** @type {ReelSession[]} */
  const sessions = [];
  for (const id of ids) {
    const ms = manifest && Array.isArray(manifest.sessions) ? manifest.sessions.find((/** @type {any} */ x) => String(x.id) === id) : null;
    const metaText = await text(ms && typeof ms.meta === 'string' ? ms.meta : `sessions/${id}/meta.json`);
    const meta = metaText ? JSON.parse(metaText) : ms || {};
    const windows = [];
    const prefix = `sessions/${id}/windows/`;
    const paths = ms && Array.isArray(ms.windows) && ms.windows.every((/** @type {any} */ w) => typeof w === 'string')
      ? ms.windows : Array.from(entries.keys()).filter((n) => n.startsWith(prefix) && n.endsWith('.jsonl'));
    for (const n of paths) {
      const body = await text(n);
      if (body == null) { warnings.push(`${n}: listed in the manifest but missing`); continue; }
      const evs = parseRecordingText(body);
      const wid = n.split('/').pop().replace(/\.jsonl$/, '');
      const events = cleanEvents(await decodePacked(evs));
      if (assets) rewriteAssetUrls(events, assets);
      windows.push({ id: wid, events: mobileToWeb(events) });
    }
    // Key moments and summary (format 1.1), computed by Reel: the player shows them, never detects them.
    let insight = null;
    const sp = `sessions/${id}/summary.json`;
    if (sums.has(sp)) {
      const st = await text(sp);
      try { insight = st ? JSON.parse(st) : null; } catch (e) { warnings.push(`${sp}: not JSON`); }
    }
    sessions.push({ id, meta, windows, warnings, insight });
  }
  // Package-level: every session of the package shares the manifest.
  const integrity = sums.size ? (canHash ? `${verified} of ${sums.size} files verified` : 'not verified (no WebCrypto here)') : 'no checksums';
  for (const s of sessions) s.integrity = integrity;
  if (!sessions.length) throw new Error('the package holds no sessions (expected sessions/<id>/windows/<window>.jsonl)');
  return sessions;
}

/**
 * Load whatever the caller passed to `mount` into sessions.
 * @param {{src?: string, events?: any[], package?: ArrayBuffer|Blob|Uint8Array, windows?: any, assets?: {map: any, href: (sha256: string) => string}}} opts
 * @returns {Promise<ReelSession[]>}
 */
export async function loadSessions(opts) {
  if (opts.package) {
    const p = opts.package;
    return loadBytes(p instanceof Uint8Array ? p : new Uint8Array(p instanceof Blob ? await p.arrayBuffer() : p));
  }
  if (opts.windows) {
    const list = Array.isArray(opts.windows) ? opts.windows : Object.entries(opts.windows).map(([id, events]) => ({ id, events }));
    // A server's assets (share and embed pages): {map: {url: {sha256, content_type}}, href(sha256)}.
    const assets = opts.assets && opts.assets.map ? await remoteAssetTable(opts.assets.map, opts.assets.href) : null;
    const windows = [];
    for (const w of list) {
      const events = cleanEvents(await decodePacked(w.events.slice()));
      if (assets) rewriteAssetUrls(events, assets);
      windows.push({ id: String(w.id), events: mobileToWeb(events) });
    }
    return [{ id: 'session', meta: {}, windows }];
  }
  if (opts.events) return [{ id: 'session', meta: {}, windows: splitWindows(cleanEvents(await decodePacked(opts.events.slice()))) }];
  if (opts.src) {
    const res = await fetch(opts.src);
    if (!res.ok) throw new Error(`could not load ${opts.src}: HTTP ${res.status}`);
    const buf = new Uint8Array(await res.arrayBuffer());
    return loadBytes(buf);
  }
  throw new Error('nothing to play: pass {src}, {events}, {windows} or {package}');
}

/** Load a file's bytes (zip or text). @param {Uint8Array} buf @returns {Promise<ReelSession[]>} */
export async function loadBytes(buf) {
  if (buf[0] === 0x50 && buf[1] === 0x4b) return readPackage(buf);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = await inflateBytes(buf, 'gzip');
  const evs = parseRecordingText(new TextDecoder().decode(buf));
  return [{ id: 'session', meta: {}, windows: splitWindows(cleanEvents(await decodePacked(evs))) }];
}
