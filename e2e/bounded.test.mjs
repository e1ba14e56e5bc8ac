// Sessions that cost hundreds of MB to expand: sealed, read and exported by `reel serve` in
// bounded memory (peak RSS of the server process from /proc), and the per-session cap (413).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startReel, CAPTURE, ADMIN, waitFor } from './server.mjs';

const MB = 1 << 20;

function status(pid, field) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(s)[1]) * 1024;
}

async function ingest(server, batch) {
  return fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, {
    method: 'POST', body: gzipSync(Buffer.from(JSON.stringify(batch))), headers: { 'content-type': 'text/plain' },
  });
}

/** Read a streamed body to the end without keeping it; returns {bytes, first, last}. */
async function drain(res) {
  let bytes = 0; let first = null; let last = null;
  for await (const chunk of res.body) {
    if (first == null && chunk.length) first = chunk[0];
    if (chunk.length) last = chunk[chunk.length - 1];
    bytes += chunk.length;
  }
  return { bytes, first, last };
}

const payload = 'reel-bounded-memory 0123456789 abcdefghijklmnopqrstuvwxyz '.repeat(Math.floor(MB / 57));

test('a session of hundreds of MB is sealed, read and exported with the server in bounded memory', async () => {
  const server = await startReel({ args: ['--seal-idle-seconds', '1'] });
  try {
    const auth = { Authorization: `Bearer ${ADMIN}` };
    // 96 batches × 4 events of 1 MB; batches interleave in time (every one spans the session).
    const batches = 96; const per = 4; const base = Date.now() - 3600_000;
    for (let b = 0; b < batches; b++) {
      const events = [];
      for (let i = 0; i < per; i++) {
        events.push({ type: 5, timestamp: base + i * batches + b, data: { tag: 'big', payload: { text: payload, b, i } } });
      }
      const r = await ingest(server, { batch_id: `big-${b}`, session_id: 'big', window_id: 'w', events });
      assert.equal(r.status, 200, await r.text());
    }
    const row = await (await fetch(`${server.url}/api/v1/sessions/big`, { headers: auth })).json();
    assert.ok(row.size > 350 * MB, `session is ${row.size / MB} MB`);
    await waitFor(async () => (await (await fetch(`${server.url}/api/v1/sessions/big`, { headers: auth })).json()).sealed,
      { timeout: 300_000, every: 500, what: 'the session to be sealed' });
    const afterSeal = status(server.proc.pid, 'VmHWM');

    const json = await drain(await fetch(`${server.url}/api/v1/sessions/big/events`, { headers: auth }));
    assert.equal(String.fromCharCode(json.first, json.last), '[]');
    assert.ok(json.bytes > row.size, `${json.bytes} bytes of JSON`);
    const jsonl = await drain(await fetch(`${server.url}/api/v1/sessions/big/events?format=jsonl`, { headers: auth }));
    assert.ok(jsonl.bytes > row.size);
    const afterRead = status(server.proc.pid, 'VmHWM');

    const dir = mkdtempSync(join(tmpdir(), 'reel-bounded-'));
    try {
      const res = await fetch(`${server.url}/api/v1/sessions/big/export`, { headers: auth });
      assert.equal(res.status, 200);
      const pkg = Buffer.from(await res.arrayBuffer());
      writeFileSync(join(dir, 'big.reel.zip'), pkg);
      // The manifest's count, and the lines of the window entry read back (streamed).
      const py = 'import zipfile,json,sys\nz=zipfile.ZipFile(sys.argv[1])\nm=json.loads(z.read("manifest.json"))\n'
        + 'n=0\nwith z.open(m["sessions"][0]["windows"][0]) as f:\n  for chunk in iter(lambda: f.read(1<<20), b""): n+=chunk.count(b"\\n")\n'
        + 'print(m["sessions"][0]["event_count"], n)';
      const out = execFileSync('python3', ['-c', py, join(dir, 'big.reel.zip')]).toString().trim();
      assert.equal(out, `${batches * per} ${batches * per}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const afterExport = status(server.proc.pid, 'VmHWM');
    // With an ingest policy that follows the DOM, a batch for a new window of this session warms
    // up only that window (not the whole session).
    const patch = await fetch(`${server.url}/api/v1/project`, {
      method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ingest_redaction: { rules: 'block = [".private"]\n' } }),
    });
    assert.equal(patch.status, 200, await patch.text());
    const tiny = await ingest(server, { batch_id: 'tiny', session_id: 'big', window_id: 'new-window', events: [{ type: 5, timestamp: base, data: { tag: 'x' } }] });
    assert.equal(tiny.status, 200, await tiny.text());
    const afterWarm = status(server.proc.pid, 'VmHWM');
    console.log(`session ${Math.round(row.size / MB)} MB; server peak RSS: after seal ${Math.round(afterSeal / MB)} MB, after reads ${Math.round(afterRead / MB)} MB, after export ${Math.round(afterExport / MB)} MB, after a new window under an ingest policy ${Math.round(afterWarm / MB)} MB`);
    assert.ok(afterWarm < 256 * MB, `server peak RSS ${afterWarm / MB} MB`);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('batches past the per-session cap are refused with 413 naming the cap and the flag', async () => {
  const server = await startReel({ args: ['--max-session-bytes', '200000'] });
  try {
    const events = (n) => [{ type: 5, timestamp: Date.now(), data: { tag: 't', payload: 'z'.repeat(n) } }];
    const a = await ingest(server, { batch_id: 'a', session_id: 's', window_id: 'w', events: events(150_000) });
    assert.equal(a.status, 200, await a.text());
    const b = await ingest(server, { batch_id: 'b', session_id: 's', window_id: 'w', events: events(150_000) });
    assert.equal(b.status, 413);
    const msg = (await b.json()).error;
    assert.match(msg, /per-session cap of 200000 bytes/);
    assert.match(msg, /--max-session-bytes/);
    // Another session still records.
    const c = await ingest(server, { batch_id: 'c', session_id: 's2', window_id: 'w', events: events(150_000) });
    assert.equal(c.status, 200);
  } finally {
    await server.stop();
    server.cleanup();
  }
});
