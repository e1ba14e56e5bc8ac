// Start a real `reel serve` for tests: embedded (SQLite + folder) or PostgreSQL + S3 (when the
// test command exported REEL_TEST_POSTGRES and REEL_TEST_S3_ENDPOINT).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REEL = process.env.REEL_BIN || join(ROOT, 'target/debug/reel');
export const CAPTURE = 'phc_reelTestCaptureToken000000000000000000';
export const ADMIN = 'reel_admin_test_token';

export async function freePort() {
  return new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
}

/** Which storage modes this run can test. */
export function modes() {
  const m = ['embedded'];
  if (process.env.REEL_TEST_POSTGRES && process.env.REEL_TEST_S3_ENDPOINT) m.push('postgres+s3');
  else if (process.env.REEL_TEST_REQUIRE_SERVICES) throw new Error('REEL_TEST_POSTGRES / REEL_TEST_S3_ENDPOINT not set');
  return m;
}

/** Make a fresh PostgreSQL database and S3 bucket; returns {index, blobs}. */
export function scaleOutStorage() {
  // reel_e2e_<run>_<random>: scripts/test sets REEL_TEST_RUN and drops only its own run's databases.
  const run = /^[a-z0-9]{1,24}$/.test(process.env.REEL_TEST_RUN || '') ? `${process.env.REEL_TEST_RUN}_` : '';
  const name = `reel_e2e_${run}${randomBytes(5).toString('hex')}`;
  const pg = process.env.REEL_TEST_POSTGRES;
  execFileSync('psql', [pg, '-qc', `create database ${name}`]);
  const ep = process.env.REEL_TEST_S3_ENDPOINT;
  const bucket = name.replace(/_/g, '-');
  execFileSync('curl', ['-sf', '-X', 'PUT', `${ep}/${bucket}`]);
  return { index: pg.replace(/\/[^/]*$/, `/${name}`), blobs: `s3://${bucket}/reel` };
}

/**
 * Start `reel serve`. opts: {mode, data, storage, env, args}. Returns {url, port, data, proc, stop(), kill(), restart()}.
 */
export async function startReel(opts = {}) {
  const data = opts.data || mkdtempSync(join(tmpdir(), 'reel-e2e-'));
  const port = opts.port || await freePort();
  const storage = opts.storage || (opts.mode === 'postgres+s3' ? scaleOutStorage() : null);
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data', data,
    '--posthog-js-dist', join(ROOT, 'node_modules/posthog-js/dist'), ...(opts.args || [])];
  if (storage) args.push('--index', storage.index, '--blobs', storage.blobs);
  const env = { ...process.env, REEL_CAPTURE_TOKEN: CAPTURE, REEL_ADMIN_TOKEN: ADMIN, REEL_LOG: 'warn',
    AWS_ENDPOINT_URL: process.env.REEL_TEST_S3_ENDPOINT || '', ...(opts.env || {}) };
  const proc = spawn(REEL, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode != null) throw new Error(`reel serve exited: ${stderr}`);
    try { const r = await fetch(`${url}/healthz`); if (r.ok) break; } catch { /* not yet */ }
    if (i > 300) throw new Error(`reel serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const self = {
    url, port, data, storage, proc, stderr: () => stderr,
    async stop() { if (proc.exitCode == null) { proc.kill('SIGTERM'); await new Promise((r) => proc.once('exit', r)); } },
    async kill() { if (proc.exitCode == null) { proc.kill('SIGKILL'); await new Promise((r) => proc.once('exit', r)); } },
    async restart() { await self.kill(); return startReel({ ...opts, data, port, storage }); },
    cleanup() { if (!opts.data) rmSync(data, { recursive: true, force: true }); },
  };
  return self;
}

/** GET/POST the admin API; returns parsed JSON (throws on non-2xx). */
export async function api(server, path, init = {}) {
  const r = await fetch(server.url + path, { ...init, headers: { Authorization: `Bearer ${ADMIN}`, ...(init.headers || {}) } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  const ct = r.headers.get('content-type') || '';
  return ct.includes('json') && !ct.includes('jsonl') ? r.json() : Buffer.from(await r.arrayBuffer());
}

/** Serve static HTML pages (name → html) on a fresh port; returns {url, close()}. */
export async function servePages(pages) {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const body = pages[path];
    if (body == null) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': path.endsWith('.js') ? 'text/javascript' : 'text/html' });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export async function waitFor(fn, { timeout = 20000, every = 250, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what}: ${last && last.message ? last.message : JSON.stringify(last)}`);
}
