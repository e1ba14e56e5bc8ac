// Video jobs that behave (issue 11): a bounded queue (a burst beyond it gets 503 + Retry-After), random job ids,
// downloads only with the admin token, jobs cut by a kill -9 reported failed after the restart with their `.part`
// files gone, finished files expiring (`--render-ttl-seconds`: the job says "expired", the file 410), the renders of
// a deleted session (deleted, or its person forgotten) gone from `<data>/renders`, and the export redaction policy
// applied to pixels: text it masks is in no screenshot or video frame.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReel, ROOT, ADMIN, CAPTURE, REEL } from './server.mjs';
import { decodePng, mad, ssim, frameAt, probe } from './frames.mjs';

const dir = mkdtempSync(join(tmpdir(), 'reel-jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const checkout = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json'), 'utf8'));
const JSON_H = { Authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ingest(server, sid, events, distinctId) {
  const r = await fetch(`${server.url}/api/v1/ingest?token=${CAPTURE}`, { method: 'POST', body: JSON.stringify({ batch_id: sid, session_id: sid, distinct_id: distinctId, events }) });
  assert.equal(r.status, 200, await r.text());
}
const post = (server, sid, body) => fetch(`${server.url}/api/v1/sessions/${sid}/video`, { method: 'POST', headers: JSON_H, body: JSON.stringify(body) });
const job = async (server, id, token = ADMIN) => {
  const r = await fetch(`${server.url}/api/v1/jobs/${id}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: r.status, ...(await r.json()) };
};
async function done(server, id) {
  for (let i = 0; i < 1200; i++) {
    const st = await job(server, id);
    if (st.state !== 'queued' && st.state !== 'running') return st;
    await sleep(100);
  }
  throw new Error(`job ${id} did not finish`);
}
const renders = (server) => (existsSync(join(server.data, 'renders')) ? readdirSync(join(server.data, 'renders')) : []);

test('a burst beyond the queue gets 503 + Retry-After; kill -9 mid-job: after the restart the jobs say failed and no .part is left', async () => {
  let server = await startReel({ mode: 'embedded' });
  const data = server.data;
  try {
    await ingest(server, 'burst-1', checkout);
    const long = { format: 'mp4', fps: 24, size: '320x200' };
    const answers = await Promise.all(Array.from({ length: 14 }, () => post(server, 'burst-1', long)));
    const codes = answers.map((r) => r.status);
    console.log(`14 POSTs at once: ${codes.join(' ')}`);
    assert.equal(codes.filter((c) => c === 202).length, 8, 'eight jobs are taken (one running, seven waiting)');
    assert.equal(codes.filter((c) => c === 503).length, 6);
    const ids = [];
    for (const r of answers) {
      if (r.status === 503) {
        assert.equal(r.headers.get('retry-after'), '30');
        assert.match((await r.json()).error, /retry/);
      } else ids.push((await r.json()).job_id);
    }
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/, 'job ids are 128 random bits');
    assert.equal(new Set(ids).size, ids.length);

    // One runs (its file is `<id>.part` while ffmpeg writes it), the others wait.
    let running;
    for (let i = 0; i < 600 && !running; i++) {
      for (const id of ids) { const st = await job(server, id); if (st.state === 'running' && st.progress > 0) running = id; }
      if (!running) await sleep(100);
    }
    assert.ok(running, 'a job runs');
    assert.ok(renders(server).includes(`${running}.part`), renders(server).join(' '));
    await server.kill(); // SIGKILL: no chance to tidy up
    assert.ok(readdirSync(join(data, 'renders')).includes(`${running}.part`), 'the killed job left its .part');
    server = await startReel({ mode: 'embedded', data });
    for (const id of ids) {
      const st = await job(server, id);
      assert.equal(st.state, 'failed', JSON.stringify(st));
      assert.match(st.error, /restarted before the job finished/);
    }
    await sleep(1500); // an orphaned encoder of the killed server has stopped by now
    assert.deepEqual(renders(server).filter((f) => !f.endsWith('.json')), [], 'no half-written file is left');
    // The restarted server takes jobs again.
    const r = await post(server, 'burst-1', { format: 'gif', from: 2, to: 3, size: '320x200' });
    assert.equal(r.status, 202);
    assert.equal((await done(server, (await r.json()).job_id)).state, 'done');
  } finally { await server.stop(); rmSync(data, { recursive: true, force: true }); }
});

test('the file needs the admin token; a finished file expires after --render-ttl-seconds (job "expired", file 410)', async () => {
  const server = await startReel({ mode: 'embedded', args: ['--render-ttl-seconds', '3'] });
  try {
    await ingest(server, 'ttl-1', checkout);
    const r = await post(server, 'ttl-1', { format: 'webm', from: 4, to: 6, fps: 10, size: '320x200' });
    const { job_id } = await r.json();
    const st = await done(server, job_id);
    assert.equal(st.state, 'done', JSON.stringify(st));
    const get = (token) => fetch(server.url + st.url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    assert.equal((await get(null)).status, 401, 'no token');
    assert.equal((await get(CAPTURE)).status, 403, 'the capture token only writes');
    assert.equal((await job(server, job_id, CAPTURE)).status, 403);
    const ok = await get(ADMIN);
    assert.equal(ok.status, 200);
    const webm = join(dir, 'ttl.webm');
    writeFileSync(webm, Buffer.from(await ok.arrayBuffer()));
    assert.deepEqual([probe(webm).codec, probe(webm).frames], ['vp9', 20]);
    assert.ok(renders(server).includes(`${job_id}.webm`));
    await sleep(3500);
    const gone = await job(server, job_id);
    assert.equal(gone.state, 'expired', JSON.stringify(gone));
    assert.match(gone.error, /expired 3 s after it was made/);
    assert.equal(gone.url, undefined);
    const f = await get(ADMIN);
    assert.equal(f.status, 410);
    assert.match((await f.json()).error, /start the job again/);
    assert.ok(!renders(server).includes(`${job_id}.webm`), 'the expired file is removed');
    assert.match(execFileSync(REEL, ['serve', '--help'], { encoding: 'utf8' }), /--render-ttl-seconds/);
  } finally { await server.stop(); server.cleanup(); }
});

test('deleting a session or forgetting its person removes its rendered videos from <data>/renders', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const jobs = {};
    for (const [sid, person] of [['del-1', 'keep-person'], ['del-2', 'forget-me-person'], ['keep-1', 'keep-person']]) {
      await ingest(server, sid, checkout, person);
      const { job_id } = await (await post(server, sid, { format: 'mp4', from: 1, to: 2, fps: 5, size: '320x200' })).json();
      assert.equal((await done(server, job_id)).state, 'done');
      jobs[sid] = job_id;
    }
    const mentions = (s) => renders(server).filter((f) => f.includes(s) || readFileSync(join(server.data, 'renders', f)).includes(s));
    assert.equal(mentions(jobs['del-1']).length, 2, 'record and video of del-1\'s job');
    assert.equal(mentions('del-1').length, 1, 'the record names the session');
    assert.equal((await fetch(`${server.url}/api/v1/sessions/del-1`, { method: 'DELETE', headers: JSON_H })).status, 204);
    assert.deepEqual(mentions('del-1'), []);
    assert.deepEqual(mentions(jobs['del-1']), []);
    assert.equal((await job(server, jobs['del-1'])).status, 404);
    const fg = await fetch(`${server.url}/api/v1/people/forget-me-person/forget`, { method: 'POST', headers: JSON_H });
    assert.equal(fg.status, 200);
    assert.deepEqual(mentions('del-2'), []);
    assert.deepEqual(mentions(jobs['del-2']), []);
    // Another session's render stays.
    assert.equal((await job(server, jobs['keep-1'])).state, 'done');
    assert.equal(mentions(jobs['keep-1']).length, 2);
  } finally { await server.stop(); server.cleanup(); }
});

/** A one-page recording with a big distinctive line of text (`secret`) in `h1.secret`. */
function secretPage(secret) {
  const t0 = 1_790_000_000_000;
  const E = (tagName, id, attributes = {}, childNodes = []) => ({ type: 2, tagName, id, attributes, childNodes });
  const T = (id, textContent) => ({ type: 3, id, textContent });
  const node = { type: 0, id: 1, childNodes: [{ type: 1, id: 2, name: 'html', publicId: '', systemId: '' },
    E('html', 3, {}, [E('head', 4, {}, [E('style', 5, {}, [T(6, 'body{margin:40px;font-family:sans-serif} h1{font-size:96px;margin:0} p{font-size:28px}')])]),
      E('body', 7, {}, [E('h1', 8, { class: 'secret' }, [T(9, secret)]), E('p', 10, {}, [T(11, 'Public text stays readable')])])])] };
  return [
    { type: 4, data: { href: 'https://site.test/account', width: 1280, height: 720 }, timestamp: t0 },
    { type: 2, data: { node, initialOffset: { top: 0, left: 0 } }, timestamp: t0 + 10 },
    { type: 3, data: { source: 1, positions: [{ x: 900, y: 600, id: 7, timeOffset: 0 }] }, timestamp: t0 + 2000 },
    { type: 3, data: { source: 1, positions: [{ x: 950, y: 620, id: 7, timeOffset: 0 }] }, timestamp: t0 + 3000 },
  ];
}

test('the export policy applies to pixels: text it masks is in no screenshot or video frame', async () => {
  const server = await startReel({ mode: 'embedded' });
  try {
    const secret = 'ACCOUNT 4242 SECRET';
    await ingest(server, 'red-1', secretPage(secret));
    const shot = async (file) => {
      const r = await fetch(`${server.url}/api/v1/sessions/red-1/screenshot?t=2.5&size=1280x720`, { headers: JSON_H });
      assert.equal(r.status, 200, await r.clone().text());
      writeFileSync(file, Buffer.from(await r.arrayBuffer()));
      return file;
    };
    const plain = await shot(join(dir, 'plain.png'));
    const patch = await fetch(`${server.url}/api/v1/project`, { method: 'PATCH', headers: JSON_H, body: JSON.stringify({ export_redaction: { rules: 'mask_text = [".secret"]' } }) });
    assert.equal(patch.status, 200, await patch.text());
    const redacted = await shot(join(dir, 'redacted.png'));
    // What the page looks like with the text masked (`*` for every character but spaces), rendered by the CLI.
    const masked = join(dir, 'masked.json');
    writeFileSync(masked, JSON.stringify(secretPage(secret.replace(/\S/g, '*'))));
    const reference = join(dir, 'reference.png');
    execFileSync(REEL, ['screenshot', masked, '--at', '2.5', '--size', '1280x720', '-o', reference]);
    const [p, r, ref] = [plain, redacted, reference].map((f) => decodePng(readFileSync(f)));
    const headline = { x: 0, y: 0, w: 1280, h: 160 };
    console.log(`redacted vs masked page: ${mad(r, ref).toFixed(4)}; redacted vs plain: ${mad(r, p).toFixed(3)}; headline SSIM redacted/plain ${ssim(redacted, plain, headline).toFixed(4)}`);
    assert.equal(mad(r, ref), 0, 'the screenshot is the page with the text masked: not one pixel of it is left');
    assert.ok(ssim(redacted, plain, headline) < 0.9, 'the headline changed');
    assert.ok(ssim(redacted, plain, { x: 0, y: 200, w: 1280, h: 200 }) > 0.99, 'the rest of the page did not');
    // A video job of the same session: its frames are masked too.
    const { job_id } = await (await post(server, 'red-1', { format: 'mp4', from: 2, to: 3, fps: 5, size: '1280x720' })).json();
    const st = await done(server, job_id);
    assert.equal(st.state, 'done', JSON.stringify(st));
    const mp4 = join(dir, 'red.mp4');
    writeFileSync(mp4, Buffer.from(await (await fetch(server.url + st.url, { headers: JSON_H })).arrayBuffer()));
    const frame = frameAt(mp4, 2, join(dir, 'red-frame.png'), 5);
    const [toMasked, toPlain] = [ssim(frame, reference, headline), ssim(frame, plain, headline)];
    console.log(`video frame headline SSIM: masked page ${toMasked.toFixed(4)}, plain page ${toPlain.toFixed(4)}`);
    assert.ok(toMasked >= 0.95 && toPlain < 0.9, 'the video shows the masked text, not the secret');
  } finally { await server.stop(); server.cleanup(); }
});
