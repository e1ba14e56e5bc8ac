// Continuous export (`reel serve --export-to`) and `reel export --all`: every sealed session lands in
// the user's folder or bucket as a package (export redaction policy applied) and as Parquet tables that
// DuckDB reads; a session that grows is written again, a restart writes nothing twice, two servers on one
// PostgreSQL + bucket write each session once, a deleted session's copies are deleted there too, failures
// are retried and visible in /metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, statSync, rmSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startReel, scaleOutStorage, modes, api, waitFor, CAPTURE, ADMIN, REEL, ROOT } from './server.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'reel-export-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const PY = join(ROOT, '.tools/venv/bin/python');
const CANARY = 'zelda.canary@example.com';
const checkout = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));

/** A target: a folder, or a fresh bucket on the test's S3 server. {url, list(), get(key)}. */
function target(kind) {
  if (kind === 'folder') {
    const dir = mkdtempSync(join(scratch, 'to-'));
    const walk = (d, out = []) => { for (const n of readdirSync(d)) { const p = join(d, n); if (statSync(p).isDirectory()) walk(p, out); else out.push(relative(dir, p)); } return out; };
    return { url: dir, dir, list: () => walk(dir).sort(), get: (k) => readFileSync(join(dir, k)) };
  }
  const ep = process.env.REEL_TEST_S3_ENDPOINT;
  const bucket = `reel-exp-${randomBytes(5).toString('hex')}`;
  execFileSync('curl', ['-sf', '-X', 'PUT', `${ep}/${bucket}`]);
  return {
    url: `s3://${bucket}/exp`,
    list: () => (execFileSync('curl', ['-sf', `${ep}/${bucket}?list-type=2&prefix=exp/`]).toString().match(/<Key>[^<]*<\/Key>/g) || [])
      .map((k) => k.slice(5, -6).replace(/^exp\//, '')).sort(),
    // moto answers unsigned GETs of objects with 403: sign them (any key works with moto).
    get: (k) => execFileSync('curl', ['-sf', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', 'test:test', `${ep}/${bucket}/exp/${k.split('/').map(encodeURIComponent).join('/')}`], { maxBuffer: 1 << 28 }),
  };
}

/** Rows of a DuckDB query over the target's Parquet files (fetched to a local folder first). */
function duck(t, sql) {
  const dir = mkdtempSync(join(scratch, 'pq-'));
  for (const k of t.list().filter((k) => k.endsWith('.parquet'))) {
    const p = join(dir, k);
    execFileSync('mkdir', ['-p', join(p, '..')]);
    writeFileSync(p, t.get(k));
  }
  const py = `import duckdb, json, sys
con = duckdb.connect()
con.execute("create view sessions as select * from read_parquet('${dir}/parquet/sessions/*/*.parquet', hive_partitioning=true)")
con.execute("create view events as select * from read_parquet('${dir}/parquet/events/*/*.parquet', hive_partitioning=true)")
cur = con.execute(sys.argv[1])
cols = [d[0] for d in cur.description]
print(json.dumps([dict(zip(cols, r)) for r in cur.fetchall()], default=str))`;
  const r = spawnSync(PY, ['-c', py, sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, `duckdb: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function send(server, sid, batch, events) {
  const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: batch, session_id: sid, window_id: 'w1', events }) });
  assert.equal(r.status, 200, await r.text());
}

async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : null;
}

const patch = (server, body) => fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

for (const mode of modes()) {
  test(`--export-to: sealed sessions land as packages and Parquet, grow, survive restarts, leave with deletion (${mode})`, async () => {
    const t = target(mode === 'embedded' ? 'folder' : 's3');
    let server = await startReel({ mode, args: ['--seal-idle-seconds', '1', '--export-to', t.url] });
    try {
      assert.equal((await patch(server, { export_redaction: { preset: 'default' } })).status, 200);
      const sid = `exp-${randomBytes(4).toString('hex')}`;
      await send(server, sid, `${sid}-1`, checkout);
      const day = new Date(checkout[0].timestamp).toISOString().slice(0, 10);
      const zipKey = `sessions/${day.replace(/-/g, '/')}/${sid}.reel.zip`;
      const keys = [zipKey, `parquet/sessions/date=${day}/${sid}.parquet`, `parquet/events/date=${day}/${sid}.parquet`];
      await waitFor(() => keys.every((k) => t.list().includes(k)), { what: 'the session in the target', timeout: 30000 });

      // The package verifies, holds the session as stored, and the export policy applied.
      const zip = join(scratch, `${sid}.reel.zip`);
      writeFileSync(zip, t.get(zipKey));
      execFileSync(REEL, ['verify', zip]);
      const rrweb = execFileSync(REEL, ['convert', zip, '--to', 'rrweb'], { maxBuffer: 1 << 28 }).toString();
      assert.ok(!rrweb.includes(CANARY), 'the export policy applies to the exported package');
      const row = await api(server, `/api/v1/sessions/${sid}`);
      assert.equal(JSON.parse(rrweb).length, row.event_count);

      // Parquet: the session row agrees with the API; its events are there, typed.
      const [s] = duck(t, `select session_id, click_count, keypress_count, event_count, typeof(min_first_timestamp) as ts_type from sessions where session_id = '${sid}'`);
      assert.equal(s.session_id, sid);
      assert.equal(s.click_count, row.click_count);
      assert.equal(s.keypress_count, row.keypress_count);
      assert.equal(s.event_count, row.event_count);
      assert.match(s.ts_type, /TIMESTAMP/);
      const kinds = duck(t, `select kind, count(*) as n from events where session_id = '${sid}' group by kind`);
      assert.ok(kinds.some((k) => k.kind === 'click' && k.n === row.click_count), `clicks in events.parquet: ${JSON.stringify(kinds)}`);
      assert.ok(!JSON.stringify(duck(t, 'select * from events')).includes(CANARY), 'the export policy applies to Parquet too');
      assert.equal(await metric(server, 'reel_export_sessions_total'), 1);
      await waitFor(async () => (await metric(server, 'reel_export_pending')) === 0, { what: 'nothing pending' });

      // The session grows: it is sealed again and written again, under the same keys.
      const last = checkout[checkout.length - 1].timestamp;
      await send(server, sid, `${sid}-2`, [{ type: 5, timestamp: last + 1000, data: { tag: 'later', payload: { n: 1 } } }]);
      await waitFor(async () => (await metric(server, 'reel_export_sessions_total')) === 2, { what: 'the grown session written again', timeout: 30000 });
      writeFileSync(zip, t.get(zipKey));
      const grown = JSON.parse(execFileSync(REEL, ['convert', zip, '--to', 'rrweb'], { maxBuffer: 1 << 28 }).toString());
      assert.equal(grown.length, row.event_count + 1);
      assert.deepEqual(t.list().filter((k) => !k.startsWith('.')), [...keys].sort(), 'the same keys, nothing else');

      // A restart (kill -9) writes nothing that is already there.
      server = await server.restart();
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await metric(server, 'reel_export_sessions_total'), 0, 'nothing exported again after a restart');
      assert.equal(await metric(server, 'reel_export_pending'), 0);

      // Deleting the session deletes its copies in the target.
      const r = await fetch(`${server.url}/api/v1/sessions/${sid}`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN}` } });
      assert.equal(r.status, 204);
      await waitFor(() => t.list().every((k) => !k.includes(sid)), { what: 'the copies deleted', timeout: 30000 });
    } finally { await server.stop(); server.cleanup(); }
  });
}

test('--export-to: a target that fails is retried with backoff and counted in /metrics; nothing is lost', async () => {
  const t = target('folder');
  chmodSync(t.dir, 0o500); // not writable
  const server = await startReel({ mode: 'embedded', args: ['--seal-idle-seconds', '1', '--export-to', t.url] });
  try {
    if (process.getuid && process.getuid() === 0) {
      // root writes anyway: make the folder a file's child instead (not a folder at all).
      chmodSync(t.dir, 0o700);
      rmSync(t.dir, { recursive: true });
      writeFileSync(t.dir, 'not a folder');
    }
    const sid = `fail-${randomBytes(4).toString('hex')}`;
    await send(server, sid, `${sid}-1`, checkout);
    await waitFor(async () => (await metric(server, 'reel_export_failures_total')) >= 1, { what: 'a failed export counted', timeout: 30000 });
    assert.equal(await metric(server, 'reel_export_sessions_total'), 0);
    await waitFor(async () => (await metric(server, 'reel_export_retrying')) === 1, { what: 'the session retrying' });
    assert.equal(await metric(server, 'reel_export_pending'), 1);
    // The session itself is intact.
    assert.equal((await api(server, `/api/v1/sessions/${sid}`)).event_count, checkout.length);
  } finally {
    await server.stop(); server.cleanup();
    if (existsSync(t.dir) && statSync(t.dir).isDirectory()) chmodSync(t.dir, 0o700); else rmSync(t.dir, { force: true });
  }
});

if (modes().includes('postgres+s3')) {
  test('--export-to: two servers on one PostgreSQL and bucket write each session once', async () => {
    const storage = scaleOutStorage();
    const t = target('s3');
    const args = ['--seal-idle-seconds', '1', '--export-to', t.url];
    const a = await startReel({ storage, args });
    const b = await startReel({ storage, args });
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `two-${i}-${randomBytes(3).toString('hex')}`);
      for (const [i, sid] of ids.entries()) await send(i % 2 ? a : b, sid, `${sid}-1`, checkout);
      await waitFor(() => ids.every((sid) => t.list().some((k) => k.endsWith(`${sid}.reel.zip`))), { what: 'every session exported', timeout: 60000 });
      await new Promise((r) => setTimeout(r, 3000));
      const written = (await metric(a, 'reel_export_sessions_total')) + (await metric(b, 'reel_export_sessions_total'));
      assert.equal(written, ids.length, 'each session written once across both servers');
      const rows = duck(t, 'select session_id from sessions order by session_id');
      assert.deepEqual(rows.map((r) => r.session_id), [...ids].sort());
    } finally { await a.stop(); await b.stop(); a.cleanup(); b.cleanup(); }
  });
}

test('reel export --all: existing history into a folder, resumable, with --since and --json', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const sid = `all-${i}-${randomBytes(3).toString('hex')}`;
      const shift = (i - 2) * 86_400_000 * 3; // the first two started days earlier
      await send(server, sid, `${sid}-1`, checkout.map((e) => ({ ...e, timestamp: e.timestamp + shift })));
      ids.push(sid);
    }
    const t = target('folder');
    const run = (...extra) => {
      const r = spawnSync(REEL, ['export', '--all', '--server', server.url, '--token', ADMIN, '--to', t.url, '--json', ...extra], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const first = run();
    assert.equal(first.exported, 3);
    for (const sid of ids) assert.ok(t.list().some((k) => k.startsWith('sessions/') && k.endsWith(`/${sid}.reel.zip`)), sid);
    assert.equal(duck(t, 'select count(*) as n from sessions')[0].n, 3);
    // A rerun writes nothing; a session that grew is written again.
    assert.deepEqual([run().exported, run().unchanged], [0, 3]);
    const last = checkout[checkout.length - 1].timestamp;
    await send(server, ids[2], `${ids[2]}-2`, [{ type: 5, timestamp: last + 1000, data: { tag: 'later', payload: {} } }]);
    const again = run();
    assert.deepEqual([again.exported, again.unchanged], [1, 2]);
    // --since: only sessions that started at or after the date.
    const t2 = target('folder');
    const since = new Date(checkout[0].timestamp - 86_400_000).toISOString();
    const r = spawnSync(REEL, ['export', '--all', '--server', server.url, '--token', ADMIN, '--to', t2.url, '--since', since, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).exported, 1);
    // Errors say what to do.
    const bad = spawnSync(REEL, ['export', '--all', '--server', server.url, '--token', 'wrong', '--to', t2.url], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /401|token/);
    const noTo = spawnSync(REEL, ['export', '--all', '--server', server.url, '--token', ADMIN], { encoding: 'utf8' });
    assert.notEqual(noTo.status, 0);
    assert.match(noTo.stderr, /--to/);
    // A state file that is not one (hand-edited, another tool's) is refused with what to do; nothing is written.
    writeFileSync(join(t2.dir, '.reel-export-state.json'), '{"sessions": 12');
    const before = t2.list();
    const broken = spawnSync(REEL, ['export', '--all', '--server', server.url, '--token', ADMIN, '--to', t2.url], { encoding: 'utf8' });
    assert.notEqual(broken.status, 0);
    assert.match(broken.stderr, /reel-export-state\.json.*delete it to start over/);
    assert.deepEqual(t2.list(), before);
  } finally { await server.stop(); server.cleanup(); }
});

if (modes().includes('postgres+s3')) {
  test('reel export --all into an S3 bucket (scale-out server)', async () => {
    const server = await startReel({ mode: 'postgres+s3' });
    try {
      const sid = `alls3-${randomBytes(3).toString('hex')}`;
      await send(server, sid, `${sid}-1`, checkout);
      const t = target('s3');
      const env = { ...process.env, AWS_ENDPOINT_URL: process.env.REEL_TEST_S3_ENDPOINT };
      const run = () => {
        const r = spawnSync(REEL, ['export', '--all', '--server', server.url, '--token', ADMIN, '--to', t.url, '--json'], { encoding: 'utf8', env });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout);
      };
      assert.equal(run().exported, 1);
      const day = new Date(checkout[0].timestamp).toISOString().slice(0, 10);
      assert.deepEqual(t.list(), ['.reel-export-state.json', `parquet/events/date=${day}/${sid}.parquet`, `parquet/sessions/date=${day}/${sid}.parquet`, `sessions/${day.replace(/-/g, '/')}/${sid}.reel.zip`].sort());
      assert.equal(duck(t, 'select count(*) as n from events where kind = \'click\'')[0].n, (await api(server, `/api/v1/sessions/${sid}`)).click_count);
      assert.deepEqual([run().exported, run().unchanged], [0, 1], 'the state file in the bucket makes a rerun skip it');
    } finally { await server.stop(); server.cleanup(); }
  });
}

test('reel export --all: a server naming a session "../…" writes nothing outside the target', async () => {
  const http = await import('node:http');
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ results: [{ id: '../../escaped', start_ms: 0, end_ms: 1, event_count: 1, size: 1 }], has_next: false }));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const t = target('folder');
    // Not spawnSync: the fake server answers from this process's event loop.
    const { spawn } = await import('node:child_process');
    const child = spawn(REEL, ['export', '--all', '--server', `http://127.0.0.1:${srv.address().port}`, '--token', ADMIN, '--to', join(t.dir, 'a', 'b'), '--json']);
    const r = { stdout: '', stderr: '' };
    child.stdout.on('data', (d) => { r.stdout += d; });
    child.stderr.on('data', (d) => { r.stderr += d; });
    r.status = await new Promise((res) => child.on('close', res));
    assert.equal(r.status, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).failures[0].error, 'invalid session id');
    assert.deepEqual(t.list().filter((k) => !k.endsWith('.reel-export-state.json')), []);
    assert.ok(!existsSync(join(t.dir, 'escaped.reel.zip')) && !existsSync(join(t.dir, 'escaped')));
  } finally { await new Promise((r) => srv.close(r)); }
});
