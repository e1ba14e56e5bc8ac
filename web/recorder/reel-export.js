/* Reel exporter 0.1.0 — packages the recorder's current session as a `.reel.zip` (format v1, docs/format.md) in the
 * browser: JSONL windows, meta.json and manifest.json as the Rust writer (crates/reel-format) writes them, SHA256SUMS,
 * entries deflated with CompressionStream('deflate-raw') (stored where it is missing), the ZIP written here.
 * Classic script, no dependencies: reel.js loads it on first use of reel.exportPackage() / reel.downloadPackage().
 * Nothing here is on the recording path: it only reads batches the recorder already made (already masked). */
(() => {
'use strict';
const W = typeof window != 'undefined' ? window : null;
if (!W || W.reelExport) return;
const enc = new TextEncoder();
/** Give the page (and the recorder, which keeps recording) the main thread back now and then. */
const breather = () => { let t = performance.now(); return () => performance.now() - t < 20 ? null : new Promise(r => setTimeout(() => { t = performance.now(); r(); }, 0)); };

// ---------- checksums ----------
let crcTable = null;
/** CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor ~0) of bytes, continuing from crc. */
function crc32(bytes, crc = 0) {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1; crcTable[n] = c; }
  }
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return ~c >>> 0;
}
async function crcOf(bytes) {
  const pause = breather(), STEP = 1 << 20;
  let c = 0;
  for (let i = 0; i < bytes.length; i += STEP) { c = crc32(bytes.subarray(i, i + STEP), c); const p = pause(); if (p) await p; }
  return c;
}
const hex = buf => Array.from(new Uint8Array(buf), b => (b + 256).toString(16).slice(1)).join('');
/** SHA-256 (lowercase hex) with SubtleCrypto; pages that are not a secure context have none: FIPS 180-4 in JS then. */
async function sha256(bytes) {
  const s = W.crypto && W.crypto.subtle;
  if (s) try { return hex(await s.digest('SHA-256', bytes)); } catch (e) { /* fall through */ }
  return sha256js(bytes);
}
const K = [];
function sha256js(m) {
  if (!K.length) { // first 32 bits of the fractional parts of the cube roots of the first 64 primes
    for (let n = 2; K.length < 64; n++) { let p = true; for (let d = 2; d * d <= n; d++) if (n % d === 0) { p = false; break; } if (p) K.push((Math.cbrt(n) % 1) * 2 ** 32 | 0); }
  }
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const len = m.length, padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  padded.set(m); padded[len] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(len / 2 ** 29)); dv.setUint32(padded.length - 4, len << 3 >>> 0);
  const w = new Int32Array(64), rot = (x, n) => x >>> n | x << (32 - n);
  for (let o = 0; o < padded.length; o += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getInt32(o + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      w[i] = (rot(a, 7) ^ rot(a, 18) ^ a >>> 3) + w[i - 7] + (rot(b, 17) ^ rot(b, 19) ^ b >>> 10) + w[i - 16] | 0;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = k + (rot(e, 6) ^ rot(e, 11) ^ rot(e, 25)) + (e & f ^ ~e & g) + K[i] + w[i] | 0;
      const t2 = (rot(a, 2) ^ rot(a, 13) ^ rot(a, 22)) + (a & b ^ a & c ^ b & c) | 0;
      k = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
    }
    [a, b, c, d, e, f, g, k].forEach((v, i) => { h[i] = h[i] + v | 0; });
  }
  return h.map(v => (v >>> 0).toString(16).padStart(8, '0')).join('');
}

// ---------- ZIP (deflate or stored, no zip64, DOS epoch, mode 0644: like the Rust writer) ----------
/** Raw deflate with CompressionStream, or null where the browser has none (the entry is then stored). */
async function deflateRaw(bytes) {
  if (!W.CompressionStream) return null;
  try {
    const s = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(s).arrayBuffer());
  } catch (e) { return null; } // 'deflate-raw' unknown (older browsers)
}
function zipWriter() {
  const parts = [], central = [];
  let offset = 0;
  const header = (size, fill) => { const b = new Uint8Array(size), v = new DataView(b.buffer); fill(v); return b; };
  return {
    /** Add one entry: name, its uncompressed bytes. */
    async add(name, data) {
      const nm = enc.encode(name), z = await deflateRaw(data), body = z || data, method = z ? 8 : 0, crc = await crcOf(data);
      if (offset + body.length > 0xFFFFFFFF) throw new Error('reel.exportPackage: the package would pass 4 GiB (zip64 is not written in the browser)');
      // version needed 2.0, flag 0x800 (UTF-8 name), time 00:00, date 1980-01-01 (0x21)
      const common = (v, at) => { v.setUint16(at, 20, true); v.setUint16(at + 2, 0x800, true); v.setUint16(at + 4, method, true); v.setUint16(at + 6, 0, true);
        v.setUint16(at + 8, 0x21, true); v.setUint32(at + 10, crc, true); v.setUint32(at + 14, body.length, true); v.setUint32(at + 18, data.length, true); v.setUint16(at + 22, nm.length, true); };
      parts.push(header(30, v => { v.setUint32(0, 0x04034b50, true); common(v, 4); }), nm, body);
      central.push(header(46, v => {
        v.setUint32(0, 0x02014b50, true); v.setUint16(4, 0x0314, true); common(v, 6); // made by: Unix, 2.0
        v.setUint32(38, 0o100644 << 16 >>> 0, true); v.setUint32(42, offset, true);
      }), nm);
      offset += 30 + nm.length + body.length;
    },
    blob() {
      const size = central.reduce((s, b) => s + b.length, 0), n = central.length / 2;
      const end = header(22, v => { v.setUint32(0, 0x06054b50, true); v.setUint16(8, n, true); v.setUint16(10, n, true); v.setUint32(12, size, true); v.setUint32(16, offset, true); });
      return new Blob([...parts, ...central, end], { type: 'application/zip' });
    },
  };
}

// ---------- statistics (crates/reel-format/src/stats.rs and event.rs, the same definitions) ----------
const TYPE = ['DomContentLoaded', 'Load', 'FullSnapshot', 'IncrementalSnapshot', 'Meta', 'Custom', 'Plugin', 'Asset'];
const SOURCE = ['Mutation', 'MouseMove', 'MouseInteraction', 'Scroll', 'ViewportResize', 'Input', 'TouchMove', 'MediaInteraction',
  'StyleSheetRule', 'CanvasMutation', 'Font', 'Log', 'Drag', 'StyleDeclaration', 'Selection', 'AdoptedStyleSheet', 'CustomElement'];
const named = (list, n) => list[n] || `Unknown(${n})`;
const int = v => Number.isInteger(v) ? v : null;
const str = v => typeof v === 'string' ? v : null;
const obj = v => v && typeof v === 'object' && !Array.isArray(v) ? v : {};
const ACTIVE = new Set([1, 2, 3, 4, 5, 6, 7, 12]);
/** What statistics need of one event: {ts, type, src, click, con, net, href}. */
function head(e) {
  const d = obj(e.data), h = { ts: Math.floor(e.timestamp), type: e.type, src: e.type === 3 ? int(d.source) : null, click: false, con: '', net: 0, href: null };
  if (e.type === 4) h.href = str(d.href);
  else if (h.src === 2) h.click = d.type === 2 || d.type === 4;
  else if (e.type === 6) {
    const plugin = str(d.plugin) || '', p = obj(d.payload);
    if (plugin.includes('console')) { const l = str(p.level); h.con = l === 'warn' ? 'warn' : l === 'error' || l === 'assert' ? 'error' : 'log'; }
    else if (plugin.includes('network')) h.net = Array.isArray(p.requests) ? p.requests.length : 0;
  } else if (e.type === 5 && (d.tag === '$pageview' || d.tag === '$url_changed')) {
    let ph = null;
    for (const k of Object.keys(obj(d.payload))) if (k === 'href' || k === '$current_url') ph = str(d.payload[k]);
    h.href = str(d.href) ?? ph;
  }
  return h;
}
/** Session statistics over windows [{heads}] in writing order (urls sorted by time, stably, like StatsBuilder). */
function statsOf(windows) {
  const s = { start_ms: null, end_ms: null, event_count: 0, size: 0, click_count: 0, keypress_count: 0, mouse_activity_count: 0,
    console_log_count: 0, console_warn_count: 0, console_error_count: 0, network_request_count: 0, active_ms: 0, urls: [], events_by_type: {}, events_by_source: {} };
  const act = [], urls = [], by = (o, k) => { o[k] = (o[k] || 0) + 1; };
  for (const w of windows) {
    s.size += w.size;
    for (const h of w.heads) {
      s.event_count++;
      s.start_ms = s.start_ms == null ? h.ts : Math.min(s.start_ms, h.ts);
      s.end_ms = s.end_ms == null ? h.ts : Math.max(s.end_ms, h.ts);
      by(s.events_by_type, named(TYPE, h.type));
      if (h.src != null) {
        by(s.events_by_source, named(SOURCE, h.src));
        if (h.src === 5) s.keypress_count++;
        if (h.src === 1 || h.src === 2 || h.src === 6 || h.src === 12) s.mouse_activity_count++;
        if (ACTIVE.has(h.src)) act.push(h.ts);
      }
      if (h.click) s.click_count++;
      if (h.con) s[`console_${h.con}_count`]++;
      s.network_request_count += h.net;
      if (h.href != null) urls.push([h.ts, h.href]);
    }
  }
  act.sort((a, b) => a - b);
  for (let i = 1; i < act.length; i++) if (act[i] - act[i - 1] <= 5000) s.active_ms += act[i] - act[i - 1];
  urls.sort((a, b) => a[0] - b[0]);
  s.urls = [...new Set(urls.map(u => u[1]))];
  const sorted = o => Object.fromEntries(Object.keys(o).sort().map(k => [k, o[k]]));
  s.events_by_type = sorted(s.events_by_type); s.events_by_source = sorted(s.events_by_source);
  return s;
}
const iso = ms => ms == null ? null : new Date(ms).toISOString();
/** serde_json writes an f64 with a fraction always ("12.0"); JSON.stringify would write "12". */
const pretty = (o, floats = []) => floats.reduce((s, k) => s.replace(new RegExp(`^(  "${k}": -?\\d+)(,?)$`, 'm'), '$1.0$2'), JSON.stringify(o, null, 2));

// ---------- gathering the session's batches ----------
/**
 * Batches of session sid, oldest first, each once: the recorder's kept batches (always), its queue and the
 * IndexedDB / localStorage copies of unsent batches (includeQueued). since: skip batches made before it.
 */
async function gather(x, sid, includeQueued, since) {
  const seen = new Set(), out = [];
  const add = b => { if (b && b.id && b.sid === sid && b.ev && !seen.has(b.id) && (since == null || b.t >= since)) { seen.add(b.id); out.push(b); } };
  x.kept.forEach(add);
  if (includeQueued) {
    x.q.forEach(add);
    if (x.tx) {
      try { (await x.tx('readonly', s => s.getAll()) || []).forEach(add); } catch (e) { /* no IndexedDB (private mode): memory only */ }
      try { for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i); if (k && k.indexOf('reel_p:') === 0) add(JSON.parse(localStorage.getItem(k))); } } catch (e) { /* none */ }
    }
  }
  return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0); // UUIDv7: creation order
}

/** UTF-8 JSONL of rows [head, text], encoded ~1 MB at a time (the page gets the thread back in between). */
async function jsonl(rows, pause) {
  const chunks = [];
  let part = [], len = 0, total = 0;
  const cut = () => { const b = enc.encode(part.join('')); chunks.push(b); total += b.length; part = []; len = 0; };
  for (const r of rows) {
    part.push(r[1], '\n'); len += r[1].length + 1;
    if (len > 1 << 20) { cut(); const p = pause(); if (p) await p; }
  }
  cut();
  const out = new Uint8Array(total);
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
  return out;
}

/**
 * Build the package. x: the recorder's state (reel._i()); o: {includeQueued = true, since, maxExportBytes}.
 * Recording goes on meanwhile: what is recorded after the call began is not in the package.
 */
async function exportPackage(x, o) {
  if (!x.sess) throw new Error('reel.exportPackage: nothing recorded (call reel.init first)');
  const max = o.maxExportBytes != null ? o.maxExportBytes : x.O.maxExportBytes;
  const since = o.since == null ? null : +new Date(o.since);
  if (o.since != null && !isFinite(since)) throw new Error('reel.exportPackage: since must be a Date or milliseconds since the epoch');
  if (x.snap) await x.snap; // events wait while a full snapshot is walked: let them out
  x.flush();
  const sid = x.sess.id, did = x.did;
  const batches = await gather(x, sid, o.includeQueued !== false, since);
  const total = batches.reduce((s, b) => s + b.bytes, 0);
  if (total > max) {
    const e = new Error(`reel.exportPackage: session ${sid} holds ${total} bytes of events, more than maxExportBytes (${max}); export a part with {since} or raise maxExportBytes`);
    e.code = 'REEL_EXPORT_TOO_LARGE';
    throw e;
  }
  // Split batches into events, per window; each event's text is what the recorder sent (JSON.stringify round-trips it).
  const wins = new Map(), pause = breather();
  for (const b of batches) {
    let w = wins.get(b.wid);
    if (!w) wins.set(b.wid, w = { id: b.wid, rows: [] });
    for (const e of JSON.parse('[' + b.ev + ']')) if (since == null || e.timestamp >= since) w.rows.push([head(e), JSON.stringify(e)]);
    const p = pause(); if (p) await p;
  }
  const windows = [...wins.values()].filter(w => w.rows.length).sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  if (!windows.length) throw new Error(`reel.exportPackage: nothing to export in session ${sid}${since != null ? ' since ' + iso(since) : ''}${o.includeQueued === false ? ' without the queue (includeQueued: false)' : ''}`);
  const zip = zipWriter(), files = [], dir = `sessions/${sid}/`;
  const put = async (path, bytes) => { await zip.add(path, bytes); files.push({ path, bytes: bytes.length, sha256: await sha256(bytes) }); };
  for (const w of windows) {
    w.rows.sort((a, b) => a[0].ts - b[0].ts); // stable: equal times keep their recorded order
    w.heads = w.rows.map(r => r[0]);
    const bytes = await jsonl(w.rows, pause);
    w.rows = null;
    w.size = bytes.length - w.heads.length; // event JSON without the newlines
    w.path = `${dir}windows/${w.id}.jsonl`;
    await put(w.path, bytes);
  }
  const st = statsOf(windows), dur = st.end_ms - st.start_ms;
  const meta = Object.assign({ id: sid, distinct_id: did || null, person: null, start_time: iso(st.start_ms), end_time: iso(st.end_ms),
    recording_duration: dur / 1000, active_seconds: st.active_ms / 1000, start_url: st.urls[0] || null, user_agent: navigator.userAgent || null,
    source: { system: 'reel', lib: 'reel-js', lib_version: x.VERSION },
    windows: windows.map(w => ({ id: w.id, path: w.path, event_count: w.heads.length, start_time: iso(w.heads[0].ts), end_time: iso(w.heads[w.heads.length - 1].ts) })) }, st);
  await put(`${dir}meta.json`, enc.encode(pretty(meta, ['recording_duration', 'active_seconds'])));
  const session = { id: sid, meta: `${dir}meta.json`, windows: windows.map(w => w.path), start_time: meta.start_time, end_time: meta.end_time, duration_ms: dur, event_count: st.event_count };
  if (did) session.distinct_id = did;
  const manifest = enc.encode(pretty({ format: 'reel', format_version: '1.1', producer: `reel-js ${x.VERSION}`, created_at: iso(Date.now()), sessions: [session], files }));
  await zip.add('manifest.json', manifest);
  const sums = files.map(f => `${f.sha256}  ${f.path}\n`).join('') + `${await sha256(manifest)}  manifest.json\n`;
  await zip.add('SHA256SUMS', enc.encode(sums));
  return zip.blob();
}

/** Save the package through an anchor download (not attached to the page: nothing shows in the recording). */
async function downloadPackage(x, name, o) {
  const blob = await exportPackage(x, o || {}), a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name || `${x.sess.id}.reel.zip`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  return blob;
}

W.reelExport = { exportPackage, downloadPackage, crc32, sha256js };
})();
