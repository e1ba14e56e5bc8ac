// `reel screenshot --at T` against the player's own `#t=T` view (playwright-core, same Chromium): the PNG the CLI
// writes at the recorded page's size must match a screenshot of the player's replayed page at that instant.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { REEL, ROOT, ADMIN, CAPTURE, startReel, api } from './server.mjs';
import { decodePng, mad, probe } from './frames.mjs';

const browser = await launch();
after(() => browser.close());
const dir = mkdtempSync(join(tmpdir(), 'reel-shot-'));

for (const [name, instants] of [['checkout', [3, 20, 38]], ['swagger', [10, 25, 45]]]) {
  test(`reel screenshot matches the player's #t= view (${name} at ${instants.join(', ')} s)`, async () => {
    const fixture = join(ROOT, `tests/fixtures/rrweb/${name}.json`);
    const html = join(dir, `${name}.html`);
    execFileSync(REEL, ['export', '--html', fixture, '-o', html]);
    let prev = null, controls = 0;
    for (const t of instants) {
      // The player as a person opens it: controls, panels, `#t=` deep link; big enough to show the page at 100 %.
      const page = await browser.newPage({ viewport: { width: 2400, height: 1400 } });
      await page.goto(`file://${html}#t=${t}`);
      await page.waitForFunction(() => window.reel && window.reel.engine, null, { timeout: 30000 });
      const { w, h } = await page.evaluate(() => ({ w: window.reel.engine.state.width, h: window.reel.engine.state.height }));
      await page.waitForTimeout(400); // cursor transition, image errors
      const viewShot = decodePng(await page.locator('.reel-viewport').screenshot());
      await page.close();
      const out = join(dir, `${name}-${t}.png`);
      execFileSync(REEL, ['screenshot', fixture, '--at', String(t), '--size', `${w}x${h}`, '-o', out]);
      const cli = decodePng(readFileSync(out));
      assert.deepEqual([cli.w, cli.h], [w, h]);
      const d = mad(cli, viewShot);
      console.log(`${name} at ${t} s (${w}x${h}): mean pixel difference ${d.toFixed(3)}`);
      assert.ok(d < 2, `${name} at ${t} s: mean pixel difference ${d.toFixed(2)} (of 255)`);
      // Control: the same measure tells another instant apart (else the check above proves nothing).
      if (prev && prev.w === cli.w && prev.h === cli.h) {
        const other = mad(cli, prev);
        console.log(`  against the player at the previous instant: ${other.toFixed(3)}`);
        assert.ok(other > 2, `${name}: ${t} s and the instant before look alike (${other.toFixed(2)})`);
        controls++;
      }
      prev = viewShot;
    }
    assert.ok(controls > 0, 'no control comparison ran');
  });
}

test('GET /api/v1/sessions/{id}/screenshot: a PNG of the export-redacted session, one render at a time', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const events = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));
    const ingest = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 's1', session_id: 'shot-1', events }) });
    assert.equal(ingest.status, 200);
    const shot = (q, token = ADMIN) => fetch(`${server.url}/api/v1/sessions/shot-1/screenshot?${q}`, { headers: { Authorization: `Bearer ${token}` } });
    const raw = await shot('t=20&size=1280x800');
    assert.equal(raw.status, 200, await raw.clone().text());
    assert.equal(raw.headers.get('content-type'), 'image/png');
    const plain = decodePng(Buffer.from(await raw.arrayBuffer()));
    assert.deepEqual([plain.w, plain.h], [1280, 800]);

    // Export policy on: the screenshot is the one `reel screenshot` makes of the (redacted) export, and differs from
    // the unredacted one (the values typed into the form at 20 s are masked).
    const patch = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ export_redaction: { preset: 'default' } }) });
    assert.equal(patch.status, 200);
    const red = await shot('t=20&size=1280x800');
    assert.equal(red.status, 200);
    const redacted = decodePng(Buffer.from(await red.arrayBuffer()));
    const zip = join(dir, 'shot-1.reel.zip');
    writeFileSync(zip, await api(server, '/api/v1/sessions/shot-1/export'));
    const cliOut = join(dir, 'shot-1-cli.png');
    execFileSync(REEL, ['screenshot', zip, '--at', '20', '--size', '1280x800', '-o', cliOut]);
    const cli = decodePng(readFileSync(cliOut));
    const same = mad(redacted, cli), changed = mad(redacted, plain);
    console.log(`server vs CLI on the export: ${same.toFixed(3)}; redacted vs plain: ${changed.toFixed(3)}`);
    assert.ok(same < 0.05, `the route renders the export-redacted session (${same})`);
    assert.ok(changed > 0.05, `the export policy changes the pixels (${changed})`);

    // Bad requests: JSON errors, 4xx.
    for (const [q, status, re] of [['t=999', 400, /outside the recording/], ['', 400, /t: seconds/], ['t=abc', 400, /t: seconds/], ['t=1&size=9x', 400, /WIDTHxHEIGHT|from 16/]]) {
      const r = await shot(q);
      assert.equal(r.status, status, q);
      assert.match((await r.json()).error, re);
    }
    assert.equal((await shot('t=1', CAPTURE)).status, 403, 'the capture token cannot read');
    assert.equal((await fetch(`${server.url}/api/v1/sessions/nope/screenshot?t=1`, { headers: { Authorization: `Bearer ${ADMIN}` } })).status, 404);

    // One browser at a time: concurrent requests get 503 with Retry-After instead of queueing browsers.
    const all = await Promise.all([1, 2, 3].map(() => shot('t=5&size=320x200')));
    const codes = all.map((r) => r.status).sort();
    assert.ok(codes.includes(200), `${codes}`);
    assert.ok(codes.includes(503), `${codes}`);
    for (const r of all) {
      if (r.status === 503) { assert.equal(r.headers.get('retry-after'), '5'); assert.match((await r.json()).error, /retry/); }
      else assert.equal(r.headers.get('content-type'), 'image/png');
    }

    // The web UI's "Screenshot" button: the server's PNG of the moment the player shows.
    const page = await browser.newPage({ acceptDownloads: true });
    try {
      await page.goto(server.url + '/');
      await page.fill('input[name=token]', ADMIN);
      await page.click('button[type=submit]');
      await page.click('table.sessions tr.row');
      await page.waitForSelector('.stage iframe', { timeout: 15000 });
      await page.keyboard.press('5'); // the player jumps to 50 %
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('text=Screenshot')]);
      const m = /^shot-1-(\d+(?:\.\d+)?)\.png$/.exec(download.suggestedFilename());
      assert.ok(m, download.suggestedFilename());
      const t = Number(m[1]), half = (events.at(-1).timestamp - events[0].timestamp) / 2000;
      assert.ok(Math.abs(t - half) < 0.5, `the player's time ${t} s (expected about ${half})`);
      const fromUi = decodePng(readFileSync(await download.path()));
      const direct = decodePng(Buffer.from(await (await shot(`t=${t}`)).arrayBuffer()));
      assert.deepEqual([fromUi.w, fromUi.h], [1280, 720]);
      assert.ok(mad(fromUi, direct) < 0.05, 'the button downloads the route\'s PNG at the player\'s time');
    } finally { await page.close(); }
  } finally { await server.stop(); server.cleanup(); }
});

test('video jobs: POST /api/v1/sessions/{id}/video, progress, the file; a job cut by a restart is reported failed', async () => {
  let server = await startReel({ mode: 'embedded' });
  try {
    const events = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));
    const ingest = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: 'v1', session_id: 'vid-1', events }) });
    assert.equal(ingest.status, 200);
    const auth = { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const post = (body, sid = 'vid-1') => fetch(`${server.url}/api/v1/sessions/${sid}/video`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    const job = async (id) => (await fetch(`${server.url}/api/v1/jobs/${id}`, { headers: auth })).json();

    const r = await post({ format: 'mp4', from: 2, to: 6, fps: 5, size: '320x200' });
    assert.equal(r.status, 202);
    const { job_id } = await r.json();
    let st;
    for (let i = 0; i < 600; i++) {
      st = await job(job_id);
      assert.ok(['queued', 'running', 'done'].includes(st.state), JSON.stringify(st));
      assert.ok(st.progress >= 0 && st.progress <= 1);
      if (st.state === 'done') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(st.state, 'done');
    assert.equal(st.progress, 1);
    const f = await fetch(server.url + st.url, { headers: auth });
    assert.equal(f.status, 200);
    assert.equal(f.headers.get('content-type'), 'video/mp4');
    const mp4 = join(dir, 'job.mp4');
    writeFileSync(mp4, Buffer.from(await f.arrayBuffer()));
    const p = probe(mp4);
    assert.deepEqual([p.codec, p.width, p.height, p.frames], ['h264', 320, 200, 20]);
    assert.equal((await fetch(server.url + st.url)).status, 401, 'the file needs the admin token');

    // Bad requests.
    for (const body of [{ format: 'avi' }, { format: 'mp4', from: 5, to: 2 }, { format: 'mp4', size: 'big' }, { format: 'mp4', fps: 0 }, { formats: 'mp4' }]) {
      assert.equal((await post(body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await post({ format: 'mp4' }, 'nope')).status, 404);
    assert.equal((await job('0'.repeat(32))).error, 'no such job');

    // The web UI's "Clip" menu: a 5 s GIF around the player's time, with progress, then a link to download it.
    const page = await browser.newPage({ acceptDownloads: true });
    try {
      await page.goto(server.url + '/');
      await page.fill('input[name=token]', ADMIN);
      await page.click('button[type=submit]');
      await page.click('table.sessions tr.row');
      await page.waitForSelector('.stage iframe', { timeout: 15000 });
      await page.keyboard.press('5'); // 50 %: about 20.6 s of 41.3 s
      await page.click('details.clip summary');
      await page.selectOption('#clip-format', 'gif');
      await page.click('.clip-menu button[data-span="5"]');
      await page.waitForSelector('progress.job-progress:not([hidden])', { timeout: 10000 });
      await page.waitForFunction(() => /Clip: (queued|running)/.test(document.querySelector('.shot-status').textContent), null, { timeout: 10000 });
      const link = page.locator('#clip-link');
      await link.waitFor({ state: 'visible', timeout: 60000 });
      assert.match(await link.textContent(), /Download clip \(GIF, 5\.0 s\)/);
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), link.click()]);
      const m = /^vid-1-(\d+\.\d)-(\d+\.\d)\.gif$/.exec(download.suggestedFilename());
      assert.ok(m, download.suggestedFilename());
      assert.ok(Math.abs(Number(m[1]) - 18.1) < 0.3 && Math.abs(Number(m[2]) - Number(m[1]) - 5) < 0.11, download.suggestedFilename());
      const gif = join(dir, 'clip.gif');
      writeFileSync(gif, readFileSync(await download.path()));
      const p = probe(gif);
      assert.deepEqual([p.codec, p.width, p.height, p.frames], ['gif', 1280, 720, 60], '5 s at 12 fps');
    } finally { await page.close(); }

    // A long job, then the server is killed while it runs: after the restart the job says failed, with the reason.
    const long = await (await post({ format: 'mp4' })).json();
    server = await server.restart(); // SIGKILL, then start again on the same data
    const after = await job(long.job_id);
    assert.equal(after.state, 'failed', JSON.stringify(after));
    assert.match(after.error, /restarted/);
  } finally { await server.stop(); server.cleanup(); }
});
