// Minimal ZIP reader: central directory (zip64 aware), stored and deflate entries via DecompressionStream.

/** @typedef {{name: string, method: number, csize: number, size: number, offset: number}} ZipEntry */

/** @param {Uint8Array} b @param {number} o */
function u16(b, o) { return b[o] | (b[o + 1] << 8); }
/** @param {Uint8Array} b @param {number} o */
function u32(b, o) { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000; }
/** @param {Uint8Array} b @param {number} o */
function u64(b, o) { return u32(b, o) + u32(b, o + 4) * 0x100000000; }

/**
 * List the entries of a zip archive.
 * @param {Uint8Array} b @returns {Map<string, ZipEntry>}
 */
export function zipEntries(b) {
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 65557); i--) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 5 && b[i + 3] === 6) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  let count = u16(b, eocd + 10);
  let cdOff = u32(b, eocd + 16);
  const loc = eocd - 20;
  if (loc >= 0 && u32(b, loc) === 0x07064b50) {
    const z64 = u64(b, loc + 8);
    if (u32(b, z64) === 0x06064b50) { count = u64(b, z64 + 32); cdOff = u64(b, z64 + 48); }
  }
  const td = new TextDecoder();
  /** @type {Map<string, ZipEntry>} */
  const out = new Map();
  let p = cdOff;
  for (let k = 0; k < count; k++) {
    if (u32(b, p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = u16(b, p + 10);
    let csize = u32(b, p + 20), size = u32(b, p + 24);
    const nlen = u16(b, p + 28), xlen = u16(b, p + 30), clen = u16(b, p + 32);
    let offset = u32(b, p + 42);
    const name = td.decode(b.subarray(p + 46, p + 46 + nlen));
    // zip64 extra field: present values replace the 0xffffffff placeholders, in order.
    let x = p + 46 + nlen;
    const xend = x + xlen;
    while (x + 4 <= xend) {
      const hid = u16(b, x), hlen = u16(b, x + 2);
      if (hid === 1) {
        let q = x + 4;
        if (size === 0xffffffff) { size = u64(b, q); q += 8; }
        if (csize === 0xffffffff) { csize = u64(b, q); q += 8; }
        if (offset === 0xffffffff) { offset = u64(b, q); q += 8; }
      }
      x += 4 + hlen;
    }
    out.set(name, { name, method, csize, size, offset });
    p = xend + clen;
  }
  return out;
}

/**
 * Read one entry's bytes.
 * @param {Uint8Array} b @param {ZipEntry} e @returns {Promise<Uint8Array>}
 */
export async function zipRead(b, e) {
  if (u32(b, e.offset) !== 0x04034b50) throw new Error(`corrupt zip local header for ${e.name}`);
  const start = e.offset + 30 + u16(b, e.offset + 26) + u16(b, e.offset + 28);
  const data = b.subarray(start, start + e.csize);
  if (e.method === 0) return data;
  if (e.method !== 8) throw new Error(`unsupported zip compression method ${e.method} for ${e.name}`);
  return inflateBytes(data, 'deflate-raw');
}

/**
 * Decompress bytes with the browser's DecompressionStream.
 * @param {Uint8Array} data @param {'gzip'|'deflate'|'deflate-raw'} format @returns {Promise<Uint8Array>}
 */
export async function inflateBytes(data, format) {
  const ds = new DecompressionStream(format);
  const stream = new Blob([/** @type {BlobPart} */ (/** @type {unknown} */ (data))]).stream().pipeThrough(ds);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
