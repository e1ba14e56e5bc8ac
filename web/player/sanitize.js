// Safety rules for hostile recorded DOM. The replay iframe is sandboxed without scripts;
// these rules are the second wall: nothing executable, nothing that navigates, nothing that submits,
// no referrer policy of the recording (requests from the replay never carry the player page's URL).

const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'background', 'poster', 'data',
  'codebase', 'cite', 'longdesc', 'lowsrc', 'dynsrc', 'manifest', 'icon', 'archive', 'classid', 'profile', 'usemap']);
const DROP_ATTRS = new Set(['srcdoc', 'target', 'ping', 'formtarget', 'http-equiv', 'autofocus', 'nonce', 'integrity',
  'popovertarget', 'attributionsrc']);
const INERT_TAGS = new Set(['object', 'embed', 'applet', 'portal', 'fencedframe', 'frame']);
const ANIM_TAGS = new Set(['animate', 'set', 'animatetransform', 'animatemotion', 'animatecolor']);
const LINK_BLOCKED_RELS = /(^|\s)(preload|modulepreload|prefetch|prerender|import|dns-prefetch|preconnect|serviceworker|manifest)(\s|$)/i;

/** SVG tag names whose case matters (rrweb records lowercase tag names). */
const SVG_CASE = new Map(['altGlyph', 'altGlyphDef', 'altGlyphItem', 'animateColor', 'animateMotion', 'animateTransform',
  'clipPath', 'feBlend', 'feColorMatrix', 'feComponentTransfer', 'feComposite', 'feConvolveMatrix', 'feDiffuseLighting',
  'feDisplacementMap', 'feDistantLight', 'feDropShadow', 'feFlood', 'feFuncA', 'feFuncB', 'feFuncG', 'feFuncR',
  'feGaussianBlur', 'feImage', 'feMerge', 'feMergeNode', 'feMorphology', 'feOffset', 'fePointLight',
  'feSpecularLighting', 'feSpotLight', 'feTile', 'feTurbulence', 'foreignObject', 'glyphRef', 'linearGradient',
  'radialGradient', 'textPath'].map((n) => [n.toLowerCase(), n]));

/**
 * True when a URL would execute or render attacker markup when followed.
 * @param {string} v
 */
export function isDangerousUrl(v) {
  // Browsers ignore ASCII whitespace and control chars inside the scheme: strip them before checking.
  const s = String(v).replace(/[\u0000-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u2029\u205f\u3000\ufeff]/g, '').toLowerCase();
  return s.startsWith('javascript:') || s.startsWith('vbscript:') || s.startsWith('data:text/html') ||
    s.startsWith('data:application/xhtml') || s.startsWith('livescript:');
}

/**
 * The tag to create for a recorded tag name (scripts become inert placeholders).
 * @param {string} tag lowercase recorded tag name @param {boolean} svg
 */
export function safeTagName(tag, svg) {
  const t = String(tag).toLowerCase();
  if (t === 'script') return 'noscript';
  if (svg) return SVG_CASE.get(t) || tag;
  if (!/^[a-z][a-z0-9._-]*$/.test(t)) return 'span';
  return t;
}

/**
 * Decide what to do with one recorded attribute: returns the value to set, or null to drop it.
 * @param {string} tag lowercase tag name @param {string} name @param {any} value
 * @param {Record<string, any>} [attrs] the element's other attributes (for context such as rel)
 * @returns {string|null}
 */
export function safeAttr(tag, name, value, attrs) {
  const n = String(name).toLowerCase();
  if (value == null || value === false) return null;
  const v = value === true ? '' : String(value);
  if (n.startsWith('on')) return null;
  if (n.startsWith('rr_') || n === '_csstext') return null;
  if (DROP_ATTRS.has(n)) return null;
  if (!/^[a-z_:][-a-z0-9_:.]*$/i.test(n)) return null;
  if (tag === 'iframe' && (n === 'src' || n === 'allow' || n === 'sandbox' || n === 'csp')) return null;
  if (tag === 'frame' || INERT_TAGS.has(tag)) {
    if (n === 'src' || n === 'data' || n === 'type' || n === 'code' || n === 'classid' || n === 'codebase') return null;
  }
  if (tag === 'base' && (n === 'href' || n === 'target')) return null;
  if (tag === 'meta' && n === 'content' && attrs && attrs['http-equiv']) return null;
  // No recorded markup may loosen the referrer policy: the replay document's URL is the page
  // hosting the player (a share link carries its token), so every request leaves with no Referer.
  if (n === 'referrerpolicy') return 'no-referrer';
  if (tag === 'meta' && n === 'name' && /referrer/i.test(v)) return null;
  if (tag === 'form' && (n === 'action' || n === 'method')) return null;
  if ((tag === 'button' || tag === 'input') && (n === 'formaction' || n === 'formmethod')) return null;
  if (tag === 'link' && n === 'href' && attrs && LINK_BLOCKED_RELS.test(String(attrs.rel || ''))) return null;
  if (tag === 'link' && n === 'rel' && LINK_BLOCKED_RELS.test(v)) return null;
  if (ANIM_TAGS.has(tag)) {
    if (n === 'attributename' && /href/i.test(v)) return null;
    if ((n === 'to' || n === 'from' || n === 'values' || n === 'by') && /script:/i.test(v.replace(/\s/g, ''))) return null;
  }
  if (URL_ATTRS.has(n) && isDangerousUrl(v)) return null;
  if (n === 'srcset' || n === 'imagesrcset') {
    if (v.split(',').some((part) => isDangerousUrl(part.trim()))) return null;
  }
  if (n === 'style' && /expression\s*\(|javascript:/i.test(v)) return null;
  return v;
}

const HOVER_CACHE = new Map();

/**
 * What the `:hover` rules seen so far apply to: for `.card:hover .title`, `.card` (the element that gets the
 * `:hover` class). Render mode uses it to tell a hover change that changes pixels from one that does not.
 * @type {Set<string>}
 */
export const HOVER_SUBJECTS = new Set();

/** @param {string} sel one selector of a list, containing `:hover` */
function hoverSubject(sel) {
  if (sel.includes('\\:hover')) return; // a twin added earlier
  let s = sel.slice(0, sel.indexOf(':hover')).trim();
  if (!s || /[>+~(,]$/.test(s)) s += '*';
  if (HOVER_SUBJECTS.size < 4096) HOVER_SUBJECTS.add(s);
}

/**
 * Add a `.\:hover` twin to every selector that uses `:hover`, so hover state can be shown with a class.
 * Linear in the text (split at braces and semicolons) and memoized: big sheets come back at every seek.
 * @param {string} css
 */
export function addHoverTwins(css) {
  if (!css || css.indexOf(':hover') < 0) return css;
  const hit = HOVER_CACHE.get(css);
  if (hit !== undefined) return hit;
  const parts = css.split(/([{};])/);
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const sel = parts[i];
    if (parts[i + 1] !== '{' || sel.indexOf(':hover') < 0) continue;
    const hovered = sel.split(',').filter((x) => x.includes(':hover'));
    for (const x of hovered) hoverSubject(x);
    const twins = hovered.map((x) => x.replace(/:hover/g, '.\\:hover'));
    parts[i] = `${sel.trimEnd()}, ${twins.join(',').trim()} `;
  }
  const out = parts.join('');
  if (HOVER_CACHE.size > 64) HOVER_CACHE.clear();
  HOVER_CACHE.set(css, out);
  return out;
}
