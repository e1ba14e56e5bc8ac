// Crash test: numbered batches from many concurrent sessions while `reel serve` is SIGKILLed at
// random moments and restarted (20+ times); clients retry what was not acknowledged. Every
// acknowledged batch must be there exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startReel, modes, api, CAPTURE } from './server.mjs';

const SESSIONS = 24, BATCHES = 10, PER_BATCH = 5, KILLS = 20;

for (const mode of modes()) {
  test(`kill -9 during ingest loses and duplicates nothing (${mode})`, { timeout: 240000 }, async () => {
    let server = await startReel({ mode });
    const base = server.url;
    const acked = new Set();
    let stop = false, retries = 0;
    const t0 = 1_700_000_000_000;
    async function client(s) {
      for (let b = 0; b < BATCHES; b++) {
        const events = Array.from({ length: PER_BATCH }, (_, i) => ({ type: 5, timestamp: t0 + b * 1000 + i, data: { tag: 'n', payload: { s, b, i } } }));
        if (b === 0) events.unshift({ type: 4, timestamp: t0 - 1, data: { href: `http://crash.test/${s}`, width: 800, height: 600 } });
        const body = JSON.stringify({ batch_id: `c${s}-${b}`, session_id: `crash-${s}`, window_id: 'w', events });
        for (;;) {
          try {
            const r = await fetch(`${base}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body });
            if (r.status === 200) { acked.add(`${s}-${b}`); break; }
            assert.ok(r.status >= 500, `unexpected ${r.status}`);
          } catch { /* connection refused or reset: the server is down */ }
          retries++;
          await new Promise((r) => setTimeout(r, 30 + Math.random() * 70));
        }
        await new Promise((r) => setTimeout(r, Math.random() * 40));
      }
    }
    const clients = Promise.all(Array.from({ length: SESSIONS }, (_, s) => client(s)));
    let kills = 0;
    const killer = (async () => {
      while (kills < KILLS && !stop) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
        server = await server.restart();
        kills++;
      }
    })();
    await clients;
    stop = true;
    await killer;
    // Keep killing until the required number of crashes happened, then check.
    while (kills < KILLS) { server = await server.restart(); kills++; }
    assert.equal(acked.size, SESSIONS * BATCHES);
    for (let s = 0; s < SESSIONS; s++) {
      const buf = await api(server, `/api/v1/sessions/crash-${s}/events?format=jsonl`);
      const seen = new Map();
      for (const line of buf.toString().split('\n').filter(Boolean)) {
        const [, e] = JSON.parse(line);
        if (e.type !== 5) continue;
        const k = `${e.data.payload.b}-${e.data.payload.i}`;
        seen.set(k, (seen.get(k) || 0) + 1);
      }
      assert.equal(seen.size, BATCHES * PER_BATCH, `session ${s}: every event present`);
      for (const [k, n] of seen) assert.equal(n, 1, `session ${s}: event ${k} stored ${n} times`);
    }
    console.log(`# crash test (${mode}): ${kills} SIGKILLs, ${retries} client retries, ${acked.size} batches acknowledged, each stored once`);
    await server.stop(); server.cleanup();
  });
}
