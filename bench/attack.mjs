// Peak RSS of `reel serve` per kind of hostile request (issue 10, "Under attack").
//
// Usage: REEL_BIN=target/release/reel node bench/attack.mjs [kind…]
// Each kind runs against a fresh server (embedded SQLite mode, loopback): idle RSS is read from
// /proc/<pid>/status, the request(s) sent, then VmHWM (the peak) read. Prints a Markdown table.
// REEL_BENCH_AS_LIMIT=<bytes> caps the server's address space (prlimit) so that a server without
// the bounds dies instead of taking the machine's memory.
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { startReel, CAPTURE } from '../e2e/server.mjs';

const MB = 1 << 20;

function mem(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => { const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s); return m ? Number(m[1]) * 1024 : NaN; };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** `[0,0,0,…]` of `mb` MB. */
function zerosPlain(mb) {
  const n = Math.floor((mb * 1e6) / 2);
  const b = Buffer.alloc(2 * n + 1);
  b[0] = 0x5b;
  b.fill('0,', 1, 2 * n + 1);
  b[2 * n] = 0x5d;
  return b;
}
const zeros = (mb) => zlib.gzipSync(zerosPlain(mb), { level: 9 });

/** A `cv`-packed FullSnapshot whose data inflates to `mb` MB of `[0,0,…]`, as posthog-js packs it (latin1). */
function cvBomb(mb) {
  const packed = zeros(mb);
  let data = '';
  for (const b of packed) data += String.fromCharCode(b);
  const ev = { type: 2, data, timestamp: Date.now() - 1000, cv: '2024-10' };
  return zlib.gzipSync(JSON.stringify([{ event: '$snapshot', properties: { token: CAPTURE, $session_id: 'cvbomb', $snapshot_data: [ev, ev, ev, ev] } }]));
}

function pageviews(n, distinct = n) {
  const t = Date.now() - 60_000;
  const batch = Array.from({ length: n }, (_, i) => ({ event: '$pageview', timestamp: new Date(t + i).toISOString(), properties: { $session_id: 'pv-1', $current_url: `https://shop.example/p/${i % distinct}` } }));
  return zlib.gzipSync(JSON.stringify({ api_key: CAPTURE, batch }));
}

const post = (server, path, body) => fetch(server.url + path, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });

const kinds = {
  'gzip [0,…] 50 MB → /e/ (no token)': { body: () => zeros(50), paths: ['/e/'] },
  'gzip [0,…] 50 MB → /flags/ (no token)': { body: () => zeros(50), paths: ['/flags/?v=2'] },
  'gzip [0,…] 50 MB → /s/ (no token)': { body: () => zeros(50), paths: ['/s/'] },
  'gzip [0,…] 50 MB → /api/v1/ingest (no token)': { body: () => zeros(50), paths: ['/api/v1/ingest'] },
  'gzip [0,…] 200 MB → /e/ (no token)': { body: () => zeros(200), paths: ['/e/'] },
  'gzip [0,…] 200 MB → /s/ (no token)': { body: () => zeros(200), paths: ['/s/'] },
  '20 × 50 MB in parallel (/s/, /e/, /flags/, ingest)': { body: () => zeros(50), paths: Array.from({ length: 20 }, (_, i) => ['/s/', '/e/', '/flags/?v=2', '/api/v1/ingest'][i % 4]), parallel: true },
  'cv bomb: 4 FullSnapshots × 60 MB → /s/ (token)': { body: () => cvBomb(60), paths: ['/s/'] },
  '100k $pageview URLs → /e/ (token)': { body: () => pageviews(100_000), paths: ['/e/'] },
  '50k $pageviews of 1000 URLs → /e/ (token)': { body: () => pageviews(50_000, 1000), paths: ['/e/'] },
};

const only = process.argv.slice(2);
console.log(`| hostile request | compressed | answers | peak RSS over idle | time |`);
console.log(`|---|---|---|---|---|`);
for (const [name, k] of Object.entries(kinds)) {
  if (only.length && !only.some((o) => name.includes(o))) continue;
  const server = await startReel({ mode: 'embedded', env: { REEL_QUOTA_BYTES_PER_SECOND: '0' } });
  try {
    const body = k.body();
    if (process.env.REEL_BENCH_AS_LIMIT) execFileSync('prlimit', ['--pid', String(server.proc.pid), `--as=${process.env.REEL_BENCH_AS_LIMIT}`]);
    await new Promise((r) => setTimeout(r, 300));
    const idle = mem(server.proc.pid).rss;
    const t0 = Date.now();
    const send = (p) => post(server, p, body).then(async (r) => { await r.arrayBuffer(); return r.status; }, (e) => `error ${e.cause?.code || e.message}`);
    let statuses;
    let health = '';
    if (k.parallel) {
      const flood = k.paths.map(send);
      const h0 = Date.now();
      const h = await fetch(`${server.url}/healthz`).then((r) => r.status, () => 'down');
      health = `; /healthz ${h} in ${Date.now() - h0} ms`;
      statuses = await Promise.all(flood);
    } else {
      statuses = [];
      for (const p of k.paths) statuses.push(await send(p));
    }
    const ms = Date.now() - t0;
    let m = server.proc.exitCode == null ? mem(server.proc.pid) : { hwm: NaN };
    const alive = !Number.isNaN(m.hwm);
    if (!alive) m = { hwm: NaN };
    const counts = {};
    for (const s of statuses) counts[s] = (counts[s] || 0) + 1;
    const answers = Object.entries(counts).map(([s, n]) => (n > 1 ? `${n}× ${s}` : `${s}`)).join(', ') + health;
    console.log(`| ${name} | ${(body.length / 1024).toFixed(0)} KB | ${alive ? answers : 'server died'} | ${((m.hwm - idle) / MB).toFixed(0)} MB | ${(ms / 1000).toFixed(1)} s |`);
  } finally {
    await server.kill();
    server.cleanup();
  }
}
