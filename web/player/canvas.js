// Best-effort canvas replay: rrweb CanvasMutation commands for 2D contexts, including the serialized
// arguments rrweb and PostHog record (typed arrays, ArrayBuffers in base64, Blobs, ImageBitmaps, images).

/** @type {WeakMap<Element, Promise<void>>} commands of one canvas run in order, even when some arguments load */
const CANVAS_QUEUE = new WeakMap();

/**
 * Turn a recorded argument back into a value (a Promise when it has to load).
 * @param {any} a @param {any} win the replay window (constructors of its realm)
 * @returns {any}
 */
export function reviveArg(a, win) {
  if (Array.isArray(a)) return a.map((x) => reviveArg(x, win));
  if (!a || typeof a !== 'object' || typeof a.rr_type !== 'string') return a;
  const args = (a.args || []).map((/** @type {any} */ x) => reviveArg(x, win));
  switch (a.rr_type) {
    case 'ArrayBuffer': {
      const bin = atob(String(a.base64 || ''));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out.buffer;
    }
    case 'Blob': return Promise.all((a.data || []).map((/** @type {any} */ x) => reviveArg(x, win))).then((parts) => new Blob(parts, { type: a.type || '' }));
    case 'ImageBitmap': return Promise.all(args).then(([src]) => (src ? createImageBitmap(src) : null));
    case 'HTMLImageElement': return new Promise((resolve) => {
      const img = new win.Image();
      img.onload = () => resolve(img);
      img.onerror = () => resolve(null);
      img.src = /^data:image\//i.test(String(a.src)) ? String(a.src) : '';
    });
    case 'ImageData': return Promise.all(args).then(([data, w, h]) => new win.ImageData(new Uint8ClampedArray(data), w, h));
    default: {
      // Typed arrays: {rr_type: 'Uint8ClampedArray', args: [[...] | ArrayBuffer]}
      const T = /Array$/.test(a.rr_type) ? win[a.rr_type] : null;
      return T ? Promise.all(args).then(([x]) => new T(x)) : null;
    }
  }
}

/**
 * Replay one CanvasMutation on a canvas element (2D only).
 * @param {any} el @param {any} d @param {any} win
 */
export function replayCanvas(el, d, win) {
  if (!el || el.localName !== 'canvas' || (d.type != null && d.type !== 0)) return;
  const run = async () => {
    const c2 = el.getContext('2d');
    if (!c2) return;
    for (const cmd of d.commands || [d]) {
      if (!cmd || !cmd.property) continue;
      const args = await Promise.all((cmd.args || []).map((/** @type {any} */ x) => reviveArg(x, win)));
      if (args.some((x) => x === null)) continue;
      try {
        if (cmd.setter) c2[cmd.property] = args[0];
        else if (typeof c2[cmd.property] === 'function') c2[cmd.property](...args);
      } catch (e) { /* unsupported command */ }
    }
  };
  const next = (CANVAS_QUEUE.get(el) || Promise.resolve()).then(run, run);
  CANVAS_QUEUE.set(el, next);
}
