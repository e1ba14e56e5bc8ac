// Imports are idempotent in any form, through the real server and CLI (issue 10, section 4):
// `reel pull` then `reel push` of a captured session, and a package then the raw rrweb JSON of the
// same recording, each leave the session as it was. Hostile packages are refused with a 400.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReel, modes, api, ADMIN, ROOT, REEL } from './server.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'reel-import-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const reel = (...args) => execFileSync(REEL, args, { env: { ...process.env, REEL_ADMIN_TOKEN: ADMIN } });

for (const mode of modes()) {
  test(`${mode}: pull then push, and a package then its rrweb JSON, store the recording once`, async () => {
    // The fixture's bodies carry the token they were recorded with.
    const token = 'phc_corpusTestToken0000000000000000000000000';
    const server = await startReel({ mode, env: { REEL_CAPTURE_TOKEN: token } });
    try {
      // Live capture: the real posthog-js bodies of the checkout run.
      const dir = join(ROOT, 'tests/fixtures/posthog-wire/checkout');
      const bodies = readdirSync(dir).filter((f) => f.endsWith('-POST-s.bin')).sort();
      for (const f of bodies) {
        const r = await fetch(`${server.url}/s/`, { method: 'POST', body: readFileSync(join(dir, f)), headers: { 'content-type': 'text/plain' } });
        assert.equal(r.status, 200, f);
      }
      const list = await api(server, '/api/v1/sessions');
      assert.equal(list.results.length, 1);
      const sid = list.results[0].id;
      const before = (await api(server, `/api/v1/sessions/${sid}`)).event_count;
      assert.ok(before > 200, `${before} events captured`);

      const pulled = join(tmp, `${mode}-pulled.reel.zip`);
      reel('pull', sid, '--server', server.url, '-o', pulled);
      const pushed = JSON.parse(reel('push', pulled, '--server', server.url, '--json').toString());
      assert.equal(pushed.events, 0);
      assert.equal(pushed.already_stored, before);
      assert.equal(pushed.duplicate, true);
      assert.equal((await api(server, `/api/v1/sessions/${sid}`)).event_count, before, 'pull then push');

      // A package made by `reel pack`, then the rrweb array it came from.
      const rrweb = join(ROOT, 'tests/fixtures/rrweb/checkout.json');
      const pkg = join(tmp, `${mode}-checkout.reel.zip`);
      reel('pack', rrweb, '-o', pkg);
      const first = JSON.parse(reel('push', pkg, '--server', server.url, '--json').toString());
      assert.equal(first.events, 263);
      const second = await api(server, '/api/v1/import', { method: 'POST', body: readFileSync(rrweb) });
      assert.deepEqual([second.events, second.already_stored], [0, 263]);
      const s = await api(server, `/api/v1/sessions/${first.sessions[0]}`);
      assert.equal(s.event_count, 263);
      const events = await api(server, `/api/v1/sessions/${first.sessions[0]}/events`);
      assert.equal(events.length, 263, 'read back once');

      // A session id that is not an id: 400 naming the field.
      const bad = JSON.stringify({ version: '2023-04-28', data: { id: '../../x', snapshots: [{ type: 4, data: {}, timestamp: 1700000000000 }] } });
      const r = await fetch(`${server.url}/api/v1/import`, { method: 'POST', body: bad, headers: { Authorization: `Bearer ${ADMIN}` } });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /data\.id/);
    } finally {
      await server.stop();
      server.cleanup();
    }
  });
}
