// Pixels for Reel's render tests: PNG decoding, and ffmpeg/ffprobe (Debian's packages) to pull frames out of
// videos, measure structural similarity (ffmpeg's `ssim` filter) and read a file's duration, rate and size.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { inflateSync } from 'node:zlib';

/** Decode a non-interlaced 8-bit RGB/RGBA PNG into {w, h, rgb}. @param {Buffer} buf */
export function decodePng(buf) {
  assert.equal(buf.subarray(0, 8).toString('latin1'), '\x89PNG\r\n\x1a\n');
  let p = 8, w = 0, h = 0, ch = 0;
  const idat = [];
  while (p + 8 <= buf.length) {
    const len = buf.readUInt32BE(p), kind = buf.subarray(p + 4, p + 8).toString('latin1'), data = buf.subarray(p + 8, p + 8 + len);
    if (kind === 'IHDR') {
      w = data.readUInt32BE(0); h = data.readUInt32BE(4);
      assert.equal(data[8], 8); assert.equal(data[12], 0);
      ch = data[9] === 6 ? 4 : data[9] === 2 ? 3 : assert.fail('colour type ' + data[9]);
    } else if (kind === 'IDAT') idat.push(data);
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat)), stride = w * ch, out = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)], o = y * (stride + 1) + 1;
    for (let x = 0; x < stride; x++) {
      const a = x >= ch ? out[y * stride + x - ch] : 0, b = y ? out[(y - 1) * stride + x] : 0, c = x >= ch && y ? out[(y - 1) * stride + x - ch] : 0;
      let pr = 0;
      if (f === 1) pr = a; else if (f === 2) pr = b; else if (f === 3) pr = (a + b) >> 1;
      else if (f === 4) { const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c); pr = pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      out[y * stride + x] = (raw[o + x] + pr) & 255;
    }
  }
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) for (let k = 0; k < 3; k++) rgb[i * 3 + k] = out[i * ch + k];
  return { w, h, rgb };
}

/** Mean absolute difference per channel (0–255) of two decoded images of one size. */
export function mad(a, b) {
  assert.deepEqual([a.w, a.h], [b.w, b.h]);
  let s = 0;
  for (let i = 0; i < a.rgb.length; i++) s += Math.abs(a.rgb[i] - b.rgb[i]);
  return s / a.rgb.length;
}

/**
 * Structural similarity (ffmpeg's `ssim` filter) of two images, or of the same rectangle of both: "All" (luma and
 * chroma), or with `channel: 'Y'` luma only (for small regions of a yuv420p video, whose colour is at half resolution).
 * @param {string} a @param {string} b @param {{x: number, y: number, w: number, h: number}} [crop] @param {'All'|'Y'} [channel]
 */
export function ssim(a, b, crop, channel = 'All') {
  const c = crop ? `crop=${crop.w}:${crop.h}:${crop.x}:${crop.y},` : '';
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', a, '-i', b, '-lavfi',
    `[0:v]${c}format=yuv444p[x];[1:v]${c}format=yuv444p[y];[x][y]ssim`, '-f', 'null', '-'], { encoding: 'utf8' });
  const m = new RegExp(`SSIM .*${channel}:([0-9.]+)`).exec(r.stderr);
  assert.ok(m, `ffmpeg ssim ${a} ${b}: ${r.stderr.slice(-600)}`);
  return Number(m[1]);
}

/**
 * Write frame number `n` (0-based) of `video` played at `fps` to `png`. Reel's videos have a variable frame rate on the
 * `--fps` grid (a picture is stored once for as long as it lasts), so frames are counted as a player shows them: at `fps`.
 */
export function frameAt(video, n, png, fps) {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', video,
    '-vf', `fps=${fps},select=eq(n\\,${n})`, '-fps_mode', 'passthrough', '-frames:v', '1', png]);
  return png;
}

/**
 * ffprobe: {codec, width, height, fps, frames, duration} of the first video stream. `fps` is the stream's frame-rate grid
 * (`r_frame_rate`); `frames` the number of frames a player shows at that rate (decoded through ffmpeg's `fps` filter).
 */
export function probe(file) {
  const j = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=codec_name,width,height,r_frame_rate,duration:format=duration', '-of', 'json', file]));
  const s = j.streams[0], [n, d] = s.r_frame_rate.split('/').map(Number);
  const fps = d ? n / d : 0;
  const log = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', file, '-vf', `fps=${s.r_frame_rate}`, '-f', 'null', '-'], { encoding: 'utf8' }).stderr;
  const counted = [...log.matchAll(/frame=\s*(\d+)/g)].at(-1);
  return { codec: s.codec_name, width: s.width, height: s.height, fps, frames: counted ? Number(counted[1]) : 0,
    duration: Number(s.duration || j.format.duration) };
}

/**
 * ffmpeg's `blackdetect` and `freezedetect` over a video: black stretches and frozen stretches (seconds from the start).
 * @param {string} video @param {{freezeSeconds?: number, noise?: string}} [o]
 */
export function detect(video, o = {}) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', video, '-vf',
    `blackdetect=d=0:pix_th=0.10,freezedetect=n=${o.noise || '0.0005'}:d=${o.freezeSeconds || 0.5}`, '-f', 'null', '-'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr.slice(-600));
  const black = [...r.stderr.matchAll(/black_start:([0-9.]+) black_end:([0-9.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const starts = [...r.stderr.matchAll(/freeze_start: ([0-9.]+)/g)].map((m) => Number(m[1]));
  const ends = [...r.stderr.matchAll(/freeze_end: ([0-9.]+)/g)].map((m) => Number(m[1]));
  const frozen = starts.map((s, i) => [s, ends[i] ?? Infinity]);
  return { black, frozen };
}
