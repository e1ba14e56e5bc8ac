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

// The load: crates/reel-store/examples/load.rs — one keep-alive connection per session, gzip
// batches of 20 events (~2 s of the checkout recording, ~4 KB of JSON) built before the clock
// starts, sent open-loop at RATE batches/s in all; latency counts from when a batch was due.
const fixturePath = join(ROOT, 'tests/fixtures/rrweb/checkout.json');
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8'));
const slices = [];
for (let i = 0; i + 20 <= fixture.length; i += 20) slices.push(fixture.slice(i, i + 20));
const loadBin = join(ROOT, 'target/release/examples/load');
const server = await startReel({ args: ['--seal-idle-seconds', '2'] });
const load = (srv, rate, secs) => JSON.parse(execFileSync(loadBin, [srv.url, CAPTURE, fixturePath, String(SESSIONS), String(rate), String(secs)]).toString());
const served = load(server, RATE, SECONDS);
await server.stop(); server.cleanup();
// The ceiling: offer far more than the server can take; what it answers is its throughput.
const satServer = await startReel({ args: ['--seal-idle-seconds', '2'] });
const ceiling = load(satServer, 5000, 10);
await satServer.stop(); satServer.cleanup();

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'text/plain', 'content-length': body.length } }, (res) => {
      res.resume(); res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject); req.end(body);
  });
}
// Bare cost of the same work.
const dir = mkdtempSync(join(tmpdir(), 'reel-bare-'));
const sample = join(dir, 'batch.json.gz');
writeFileSync(sample, gzipSync(JSON.stringify({ batch_id: 'x', session_id: 'y', events: slices[3] })));
const bareBin = join(ROOT, 'target/release/examples/bare_cost');
const bare = JSON.parse(execFileSync(bareBin, [sample, '5', join(dir, 'out')]).toString());

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
let md = `## Ingest (reel serve, embedded mode: SQLite index + local folder)\n\n`;
md += `Command: \`cargo build --release -p reel -p reel-store --examples && node bench/ingest.mjs --sessions ${SESSIONS} --seconds ${SECONDS} --rate ${RATE}\` — 2-core machine, release build, client on the same machine.\n\n`;
md += `| | batches/s | MB/s decoded JSON | p50 ms | p90 ms | p99 ms | max ms | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n`;
md += `| reel serve, ${SESSIONS} concurrent sessions, offered ${RATE}/s | ${served.batches_per_s} | ${served.mb_per_s} | ${served.p50_ms} | ${served.p90_ms} | ${served.p99_ms} | ${served.max_ms} | ${served.errors} |\n`;
md += `| reel serve, ${SESSIONS} sessions, offered 5000/s (saturated: its ceiling) | ${ceiling.batches_per_s} | ${ceiling.mb_per_s} | ${ceiling.p50_ms} | ${ceiling.p90_ms} | ${ceiling.p99_ms} | ${ceiling.max_ms} | ${ceiling.errors} |\n`;
md += `| bare cost, one thread (gunzip + parse + zstd + write + fsync) | ${bare.batches_per_s} | ${bare.mb_per_s} | | | | | |\n\n`;
md += `Served ceiling / bare throughput: ${(ceiling.mb_per_s / bare.mb_per_s * 100).toFixed(0)} %.\n\n`;
md += `Bytes at rest per recorded minute (sealed blocks) vs the same events as JSONL compressed whole:\n\n| fixture | minutes | JSONL KB/min | gzip -6 KB/min | xz -9 KB/min | Reel sealed KB/min | Reel / xz -9 |\n|---|---:|---:|---:|---:|---:|---:|\n`;
for (const r of rest) md += `| ${r.name} | ${r.minutes.toFixed(2)} | ${kb(r.jsonl / r.minutes)} | ${kb(r.gz / r.minutes)} | ${kb(r.xz / r.minutes)} | ${kb(r.sealed / r.minutes)}${r.is_sealed ? '' : ' (unsealed!)'} | ${(r.sealed / r.xz).toFixed(2)}× |\n`;
console.log(md);
writeFileSync(join(ROOT, 'bench/RESULTS-ingest.md'), md); // paste into bench/RESULTS.md
