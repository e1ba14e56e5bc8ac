// Assets inside a package (format 1.2): images, fonts and stylesheets the recording loads, kept as
// `assets/sha256/<hex>` entries with a URL map in manifest.json. Every URL the package holds is
// served from it as a `blob:` URL (stylesheets rewritten so their own fonts and images come from the
// package too); a URL it does not hold stays as recorded. The events are rewritten once, when the
// package is read, so snapshots, mutations and keyframes all see the same URLs.
// SVG files are used only where they render as images (img, srcset, poster, CSS url()), never as
// documents (`use`/`image` href keeps the recorded URL). Only image, font and CSS types become blobs.
import { zipRead } from './zip.js';

const ASSET_TYPES = /^(image\/|font\/|text\/css$|application\/(font-|x-font-|vnd\.ms-fontobject$|octet-stream$))/;
const CSS_URL = /url\(\s*(['"]?)([^'")]*?)\1\s*\)/gi;
const CSS_IMPORT = /@import\s+(['"])([^'"]*)\1/gi;

/**
 * The package's assets as blob URLs, or null when it has none.
 * @typedef {{blobs: Map<string, string>, svg: Set<string>}} AssetTable
 * @param {any} manifest @param {Map<string, any>} entries @param {Uint8Array} buf
 * @param {(p: string, bytes: Uint8Array) => Promise<boolean>} check true when the bytes match their hash
 * @returns {Promise<AssetTable|null>}
 */
export async function assetTable(manifest, entries, buf, check) {
  const list = manifest && manifest.assets && typeof manifest.assets === 'object' ? manifest.assets : null;
  return buildTable(list, async (path) => {
    const e = entries.get(path);
    if (!e) return null;
    const bytes = await zipRead(buf, e);
    return (await check(path, bytes)) ? bytes : null;
  });
}

/**
 * A server's assets as blob URLs (share and embed pages): `list` is a manifest-style map
 * `{url: {sha256, content_type}}`, `href(sha256)` where the bytes are. Bytes whose SHA-256 does not
 * match are left out. Null when there are none.
 * @param {any} list @param {(sha256: string) => string} href @returns {Promise<AssetTable|null>}
 */
export async function remoteAssetTable(list, href) {
  return buildTable(list, async (path) => {
    const sha = path.slice('assets/sha256/'.length);
    const res = await fetch(href(sha)).catch(() => null);
    if (!res || !res.ok) return null;
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (typeof crypto !== 'undefined' && crypto.subtle) {
      const got = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
      if (got !== sha) return null;
    }
    return bytes;
  });
}

/**
 * @param {any} list manifest-style asset map
 * @param {(path: string) => Promise<Uint8Array|null>} read an entry's checked bytes, or null
 * @returns {Promise<AssetTable|null>}
 */
async function buildTable(list, read) {
  if (!list || typeof list !== 'object' || typeof URL.createObjectURL !== 'function') return null;
  /** @type {Map<string, {type: string, path: string}>} */
  const known = new Map();
  for (const [url, a] of Object.entries(list)) {
    const type = String((a && a.content_type) || '').toLowerCase();
    if (!a || !/^[0-9a-f]{64}$/.test(String(a.sha256)) || !ASSET_TYPES.test(type)) continue;
    known.set(url, { type, path: `assets/sha256/${a.sha256}` });
  }
  /** @type {AssetTable} */
  const table = { blobs: new Map(), svg: new Set() };
  const busy = new Set();
  /** @param {string} url @returns {Promise<void>} */
  const make = async (url) => {
    const k = known.get(url);
    if (!k || table.blobs.has(url) || busy.has(url)) return;
    busy.add(url);
    /** @type {Uint8Array|null} */
    let bytes = await read(k.path);
    if (bytes) {
      if (k.type === 'text/css') {
        const css = new TextDecoder().decode(bytes);
        for (const ref of cssRefs(css)) { const abs = absoluteUrl(ref, url); if (abs) await make(abs); }
        bytes = new TextEncoder().encode(assetCss(css, url, table));
      }
      if (k.type === 'image/svg+xml') table.svg.add(url);
      table.blobs.set(url, URL.createObjectURL(new Blob([/** @type {any} */ (bytes)], { type: k.type })));
    }
    busy.delete(url);
  };
  for (const url of known.keys()) await make(url);
  return table.blobs.size ? table : null;
}

/** @param {string} css @returns {string[]} the URLs CSS text refers to */
function cssRefs(css) {
  const out = [];
  for (const m of css.matchAll(CSS_URL)) out.push(m[2]);
  for (const m of css.matchAll(CSS_IMPORT)) out.push(m[2]);
  return out;
}

/** `raw` resolved against `base`, without fragment; null when not http(s). @param {string} raw @param {string|null} base */
function absoluteUrl(raw, base) {
  const s = String(raw).trim();
  if (!s || s[0] === '#') return null;
  try {
    const u = base ? new URL(s, base) : new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    u.hash = '';
    return u.href;
  } catch (e) { return null; }
}

/** The blob URL for `raw` (resolved against `base`), or null. @param {AssetTable} t @param {string} raw @param {string|null} base @param {boolean} [asDocument] */
function assetBlob(t, raw, base, asDocument) {
  const abs = absoluteUrl(raw, base);
  if (!abs || (asDocument && t.svg.has(abs))) return null;
  return t.blobs.get(abs) || null;
}

/** CSS text with every `url()` and `@import` the package holds pointing at its blob. @param {string} css @param {string|null} base @param {AssetTable} t */
export function assetCss(css, base, t) {
  if (typeof css !== 'string' || (css.indexOf('url(') < 0 && css.indexOf('URL(') < 0 && css.indexOf('@import') < 0)) return css;
  return css
    .replace(CSS_URL, (all, _q, raw) => { const b = assetBlob(t, raw, base); return b ? `url("${b}")` : all; })
    .replace(CSS_IMPORT, (all, _q, raw) => { const b = assetBlob(t, raw, base); return b ? `@import "${b}"` : all; });
}

/** A srcset with the candidates the package holds pointing at their blobs. @param {string} v @param {string|null} base @param {AssetTable} t */
function assetSrcset(v, base, t) {
  const s = String(v);
  let out = '';
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j < s.length && (/\s/.test(s[j]) || s[j] === ',')) j++;
    out += s.slice(i, j);
    i = j;
    if (i >= s.length) break;
    while (j < s.length && !/\s/.test(s[j])) j++;
    let url = s.slice(i, j);
    const tail = (/,+$/.exec(url) || [''])[0];
    if (tail) url = url.slice(0, -tail.length);
    out += (assetBlob(t, url, base) || url) + tail;
    i = j;
    if (!tail) { // descriptors, up to and with the next comma
      const k = s.indexOf(',', i);
      const stop = k < 0 ? s.length : k + 1;
      out += s.slice(i, stop);
      i = stop;
    }
  }
  return out;
}

/**
 * Rewrite one window's events in place so what the package holds loads from it.
 * @param {any[]} events @param {AssetTable} t
 */
export function rewriteAssetUrls(events, t) {
  /** @type {string|null} */
  let base = null;
  /** @type {Map<number, string>} id -> tag of elements whose attributes may name an asset */
  const tags = new Map();
  /** @type {Set<number>} text nodes inside <style> */
  const styleTexts = new Set();
  /** @param {any} n @param {string|null} parent */
  const node = (n, parent) => {
    if (!n || typeof n !== 'object') return;
    if (n.type === 2) {
      const tag = String(n.tagName || '').toLowerCase();
      const a = n.attributes && typeof n.attributes === 'object' ? n.attributes : null;
      if (typeof n.id === 'number') tags.set(n.id, tag === 'link' ? `link ${String((a && a.rel) || '').toLowerCase()}` : tag === 'input' ? `input ${String((a && a.type) || '').toLowerCase()}` : tag);
      if (tag === 'base' && a && typeof a.href === 'string') base = absoluteUrl(a.href, base) || base;
      if (a) for (const k of Object.keys(a)) a[k] = attr(tags.get(n.id) || tag, k, a[k]);
      if (Array.isArray(n.childNodes)) for (const c of n.childNodes) node(c, tag);
    } else if (n.type === 3) {
      if ((parent === 'style' || n.isStyle) && typeof n.textContent === 'string') {
        if (typeof n.id === 'number') styleTexts.add(n.id);
        n.textContent = assetCss(n.textContent, base, t);
      }
    } else if (Array.isArray(n.childNodes)) for (const c of n.childNodes) node(c, null);
  };
  /** @param {string} tag @param {string} name @param {any} v */
  const attr = (tag, name, v) => {
    const k = name.toLowerCase();
    if (k === 'style' || k === '_csstext') {
      if (typeof v === 'string') return assetCss(v, base, t);
      if (v && typeof v === 'object') {
        for (const p of Object.keys(v)) {
          if (typeof v[p] === 'string') v[p] = assetCss(v[p], base, t);
          else if (Array.isArray(v[p]) && typeof v[p][0] === 'string') v[p][0] = assetCss(v[p][0], base, t);
        }
      }
      return v;
    }
    if (typeof v !== 'string') return v;
    const word = tag.split(' ')[0];
    const image = (word === 'img' && k === 'src') || (word === 'video' && k === 'poster') || (tag === 'input image' && k === 'src');
    const sheet = word === 'link' && k === 'href' && /(^|\s)(stylesheet|icon|apple-touch-icon)(\s|$)/.test(tag.slice(5));
    if (image || sheet) return assetBlob(t, v, base) || v;
    if ((word === 'img' || word === 'source') && k === 'srcset') return assetSrcset(v, base, t);
    if ((word === 'use' || word === 'image') && (k === 'href' || k === 'xlink:href')) return assetBlob(t, v, base, true) || v;
    return v;
  };
  for (const e of events) {
    const d = e && e.data;
    if (!d || typeof d !== 'object') continue;
    if (e.type === 4 && typeof d.href === 'string') base = d.href;
    else if (e.type === 2) { tags.clear(); styleTexts.clear(); node(d.node, null); }
    else if (e.type === 3 && d.source === 0) {
      for (const a of Array.isArray(d.adds) ? d.adds : []) node(a && a.node, a ? tags.get(a.parentId) || null : null);
      for (const a of Array.isArray(d.attributes) ? d.attributes : []) {
        const tag = tags.get(a && a.id) || '';
        if (a && a.attributes && typeof a.attributes === 'object') for (const k of Object.keys(a.attributes)) a.attributes[k] = attr(tag, k, a.attributes[k]);
      }
      for (const x of Array.isArray(d.texts) ? d.texts : []) if (x && styleTexts.has(x.id) && typeof x.value === 'string') x.value = assetCss(x.value, base, t);
    } else if (e.type === 3 && d.source === 8) {
      for (const a of Array.isArray(d.adds) ? d.adds : []) if (a && typeof a.rule === 'string') a.rule = assetCss(a.rule, base, t);
    } else if (e.type === 3 && d.source === 15) {
      for (const s of Array.isArray(d.styles) ? d.styles : []) for (const r of (s && Array.isArray(s.rules)) ? s.rules : []) if (r && typeof r.rule === 'string') r.rule = assetCss(r.rule, base, t);
    }
  }
}
