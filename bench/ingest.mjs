// Ingest benchmark: sustained ingest into `reel serve` from many concurrent sessions (native
// /api/v1/ingest, gzip bodies of real fixture events), reply latency p50/p99, against the bare cost
// of the same work in a tight loop (crates/reel-store/examples/bare_cost.rs); then bytes at rest per
// recorded minute after sealing versus gzip -6 and xz -9 of the same events.
// Usage: node bench/ingest.mjs [--sessions 1000] [--seconds 20] [--rate 1000]
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { startReel, api, waitFor, CAPTURE, ROOT } from '../e2e/server.mjs';

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const SESSIONS = arg('sessions', 1000), SECONDS = arg('seconds', 20), RATE = arg('rate', 1000);
process.env.REEL_BIN ||= join(ROOT, 'target/release/reel');

const fixture = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));
// A typical batch: ~2 s of a session (here 20 events of the checkout recording, ~4 KB).
const slices = [];
for (let i = 0; i + 20 <= fixture.length; i += 20) slices.push(fixture.slice(i, i + 20));
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': body.length } }, (res) => {
      res.resume(); res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', reject); req.end(body);
  });
}

const server = await startReel({ args: ['--seal-idle-seconds', '2'] });
const url = `${server.url}/api/v1/ingest?token=${CAPTURE}`;
const lat = [];
let sent = 0, decoded = 0, errors = 0;
const start = Date.now();
const interval = 1000 / RATE;
const inflight = new Set();
let seq = 0;
while (Date.now() - start < SECONDS * 1000) {
  const due = start + seq * interval;
  if (Date.now() < due) await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  const s = seq % SESSIONS, b = Math.floor(seq / SESSIONS);
  const events = slices[b % slices.length];
  const json = JSON.stringify({ batch_id: `s${s}-b${b}`, session_id: `bench-${s}`, window_id: 'w', events });
  const body = gzipSync(json);
  decoded += json.length;
  const p = post(url, body).then((r) => { lat.push(r.ms); if (r.status !== 200) errors++; }).catch(() => { errors++; });
  inflight.add(p); p.finally(() => inflight.delete(p));
  sent++; seq++;
}
await Promise.all(inflight);
const secs = (Date.now() - start) / 1000;
lat.sort((a, b) => a - b);
const pct = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(1);
const served = { batches_per_s: +(sent / secs).toFixed(1), mb_per_s: +(decoded / secs / 1e6).toFixed(2), p50_ms: +pct(0.5), p99_ms: +pct(0.99), errors };

// Bare cost of the same work.
const dir = mkdtempSync(join(tmpdir(), 'reel-bare-'));
const sample = join(dir, 'batch.json.gz');
writeFileSync(sample, gzipSync(JSON.stringify({ batch_id: 'x', session_id: 'y', events: slices[3] })));
const bareBin = join(ROOT, 'target/release/examples/bare_cost');
const bare = JSON.parse(execFileSync(bareBin, [sample, '5', join(dir, 'out')]).toString());

await server.stop(); server.cleanup();

// Bytes at rest after sealing, on whole fixture sessions (a fresh server), versus gzip -6 and xz -9.
const restServer = await startReel({ args: ['--seal-idle-seconds', '1'] });
const restUrl = `${restServer.url}/api/v1/ingest?token=${CAPTURE}`;
const rest = [];
for (const name of ['checkout', 'swagger', 'shoelace']) {
  const evs = JSON.parse(readFileSync(join(ROOT, `tests/fixtures/rrweb/${name}.json`), 'utf8'));
  for (let i = 0; i < evs.length; i += 30) {
    await post(restUrl, Buffer.from(JSON.stringify({ batch_id: `${name}-${i}`, session_id: `rest-${name}`, window_id: 'w', events: evs.slice(i, i + 30) })));
  }
  const jsonl = evs.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const f = join(dir, `${name}.jsonl`); writeFileSync(f, jsonl);
  const gz = execFileSync('gzip', ['-6', '-c', f], { maxBuffer: 1 << 28 }).length;
  const xz = execFileSync('xz', ['-9', '-c', f], { maxBuffer: 1 << 28 }).length;
  const minutes = (evs[evs.length - 1].timestamp - evs[0].timestamp) / 60000;
  rest.push({ name, jsonl: jsonl.length, gz, xz, minutes });
}
for (const r of rest) {
  const s = await waitFor(async () => { const x = await api(restServer, `/api/v1/sessions/rest-${r.name}`); return x.sealed ? x : null; }, { timeout: 60000, what: 'sealing' });
  r.sealed = s.stored_bytes; r.is_sealed = s.sealed;
}
await restServer.stop(); restServer.cleanup();

const kb = (b) => (b / 1024).toFixed(1);
let md = `## Ingest (reel serve, embedded mode: SQLite + local folder, fsync on every batch)\n\n`;
md += `Command: \`cargo build --release -p reel -p reel-store --examples && node bench/ingest.mjs --sessions ${SESSIONS} --seconds ${SECONDS} --rate ${RATE}\` — 2-core machine, release build, client on the same machine.\n\n`;
md += `| | batches/s | MB/s decoded JSON | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n`;
md += `| reel serve, ${SESSIONS} concurrent sessions, offered ${RATE}/s | ${served.batches_per_s} | ${served.mb_per_s} | ${served.p50_ms} | ${served.p99_ms} | ${served.errors} |\n`;
md += `| bare cost, one thread (gunzip + parse + zstd + write + fsync) | ${bare.batches_per_s} | ${bare.mb_per_s} | | | |\n\n`;
md += `Served / bare throughput: ${(served.mb_per_s / bare.mb_per_s * 100).toFixed(0)} % (note: the server ran at the offered rate, so this is a floor, not its ceiling).\n\n`;
md += `Bytes at rest per recorded minute (sealed blocks) vs the same events as JSONL compressed whole:\n\n| fixture | minutes | JSONL KB/min | gzip -6 KB/min | xz -9 KB/min | Reel sealed KB/min | Reel / xz -9 |\n|---|---:|---:|---:|---:|---:|---:|\n`;
for (const r of rest) md += `| ${r.name} | ${r.minutes.toFixed(2)} | ${kb(r.jsonl / r.minutes)} | ${kb(r.gz / r.minutes)} | ${kb(r.xz / r.minutes)} | ${kb(r.sealed / r.minutes)}${r.is_sealed ? '' : ' (unsealed!)'} | ${(r.sealed / r.xz).toFixed(2)}× |\n`;
console.log(md);
writeFileSync(join(ROOT, 'bench/RESULTS-ingest.md'), md); // paste into bench/RESULTS.md
