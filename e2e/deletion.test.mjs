// Deleting and forgetting through the HTTP API remove everything, for good: a byte search of the
// whole data folder (embedded) or every table and the bucket (PostgreSQL + S3) finds nothing of it,
// a late batch does not bring a deleted session back, and forget covers every session that ever
// carried the person's id (anonymous then identified; page views without a recording).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startReel, modes, api, waitFor, CAPTURE, ADMIN } from './server.mjs';

const rnd = () => randomBytes(6).toString('hex');

/** Recognisable strings of one session. */
function marked(sid) {
  const r = rnd();
  return { sid, url: `https://shop-${r}.example/checkout`, ua: `MarkedBrowser/${r}`, content: `typed-${r}`,
    anon: `anon-${r}`, person: `user-${r}@example.com` };
}

async function ingest(server, m, batch, distinctId) {
  const now = Date.now();
  const body = { batch_id: `${m.sid}-${batch}`, session_id: m.sid, window_id: 'w1', distinct_id: distinctId, events: [
    { type: 4, data: { href: m.url, width: 800, height: 600 }, timestamp: now },
    { type: 2, data: { node: { type: 0, id: 1, childNodes: [] }, initialOffset: { top: 0, left: 0 } }, timestamp: now + 1 },
    { type: 5, data: { tag: 'note', payload: { text: `${m.content} ${batch}` } }, timestamp: now + 2 },
  ] };
  const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, {
    method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': m.ua }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
}

async function pageview(server, sid, url, distinctId) {
  const r = await fetch(`${server.url}/e/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([
    { event: '$pageview', api_key: CAPTURE, distinct_id: distinctId, timestamp: new Date().toISOString(),
      properties: { $session_id: sid, $current_url: url, distinct_id: distinctId } }]) });
  assert.equal(r.status, 200, await r.text());
}

function files(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out); else out.push(p);
  }
  return out;
}

/** Where the strings are still found: the data folder's files, or PostgreSQL rows and S3 keys. */
function traces(server, strings, sid) {
  const found = [];
  if (!server.storage) {
    for (const f of files(server.data)) {
      const bytes = readFileSync(f);
      for (const s of strings) if (bytes.indexOf(s) >= 0) found.push(`${s} in ${f}`);
    }
    const folder = join(server.data, 'blobs/p/default/s', sid);
    if (existsSync(folder)) found.push(`folder ${folder}`);
  } else {
    const db = server.storage.index;
    const tables = execFileSync('psql', [db, '-Atc', "select table_name from information_schema.tables where table_schema = current_schema()"])
      .toString().trim().split('\n');
    assert.ok(tables.includes('sessions'));
    for (const t of tables) {
      const rows = execFileSync('psql', [db, '-Atc', `select x::text from "${t}" x`], { maxBuffer: 1 << 28 }).toString();
      for (const s of strings) if (rows.includes(s)) found.push(`${s} in table ${t}`);
    }
    const [bucket, prefix] = server.storage.blobs.replace('s3://', '').split(/\/(.*)/);
    const list = execFileSync('curl', ['-sf', `${process.env.REEL_TEST_S3_ENDPOINT}/${bucket}?list-type=2&prefix=${prefix}/p/default/s/${sid}/`]).toString();
    for (const k of list.match(/<Key>[^<]*<\/Key>/g) || []) found.push(`object ${k}`);
  }
  return found;
}

for (const mode of modes()) {
  test(`DELETE and forget leave nothing behind (${mode})`, async () => {
    const server = await startReel({ mode, args: ['--seal-idle-seconds', '1'] });
    try {
      const auth = { Authorization: `Bearer ${ADMIN}` };
      // A recorded session, sealed into the blob store, then a batch that stays unsealed.
      const gone = marked(`del-${rnd()}`);
      await ingest(server, gone, 0, gone.person);
      await waitFor(async () => (await api(server, `/api/v1/sessions/${gone.sid}`)).sealed, { what: 'the session sealed' });
      await ingest(server, gone, 1, gone.person);
      await pageview(server, gone.sid, `${gone.url}?e=1`, gone.person);
      const goneStrings = [gone.url, gone.ua, gone.content, gone.person];
      assert.ok(traces(server, goneStrings, gone.sid).length >= 3, 'the search finds the session before deleting');

      let r = await fetch(`${server.url}/api/v1/sessions/${gone.sid}`, { method: 'DELETE', headers: auth });
      assert.equal(r.status, 204);
      r = await fetch(`${server.url}/api/v1/sessions/${gone.sid}`, { headers: auth });
      assert.equal(r.status, 404);
      assert.deepEqual(traces(server, goneStrings, gone.sid), [], 'nothing of the deleted session is left');

      // Late batches (a retry of an acknowledged one, a new one) are acknowledged and dropped.
      await ingest(server, gone, 1, gone.person);
      await ingest(server, gone, 2, gone.person);
      await pageview(server, gone.sid, gone.url, gone.person);
      r = await fetch(`${server.url}/api/v1/sessions/${gone.sid}`, { headers: auth });
      assert.equal(r.status, 404, 'a late batch does not bring the session back');
      assert.deepEqual(traces(server, goneStrings, gone.sid), []);

      // Forget: anonymous, then identified in a later batch; page views of a session without a recording.
      const p = marked(`fg-${rnd()}`);
      await ingest(server, p, 0, p.anon);
      await ingest(server, p, 1, p.person);
      const pv = marked(`pv-${rnd()}`);
      await pageview(server, pv.sid, pv.url, p.anon);
      const kept = marked(`keep-${rnd()}`);
      await ingest(server, kept, 0, kept.person);
      assert.equal((await api(server, `/api/v1/sessions/${p.sid}`)).distinct_id, p.person);

      const out = await api(server, `/api/v1/people/${encodeURIComponent(p.anon)}/forget`, { method: 'POST' });
      assert.equal(out.sessions_deleted, 2);
      const pStrings = [p.url, p.ua, p.content, p.person, p.anon, pv.url];
      assert.deepEqual(traces(server, pStrings, p.sid), [], 'nothing of the forgotten person is left');
      assert.equal((await api(server, `/api/v1/sessions/${kept.sid}`)).distinct_id, kept.person, 'others stay');
      assert.ok(traces(server, [kept.url], kept.sid).length > 0);

      // The audit log names subjects only by a keyed hash, findable with ?subject=.
      const audit = await api(server, '/api/v1/audit');
      assert.ok(!JSON.stringify(audit).includes(p.anon));
      const mine = await api(server, `/api/v1/audit?subject=${encodeURIComponent(p.anon)}`);
      assert.deepEqual(mine.results.map((e) => e.action), ['person.forget']);
      assert.match(mine.results[0].subject_hmac, /^[0-9a-f]{64}$/);
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
}
