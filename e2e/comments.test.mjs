// Comments on recordings (issue 15): the API (tokens, checks, order, deletion, audit), comments
// travelling in an export (`sessions/<id>/comments.json`, the export policy's text patterns
// applied) and coming back with an import (once, however often it is imported), and the web UI's
// session page driven in Chromium: `c`, the list, the timeline marker, a reload, the deletion.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, modes, api, ADMIN, CAPTURE, ROOT, REEL } from './server.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'reel-comments-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const RRWEB = join(ROOT, 'tests/fixtures/rrweb/checkout.json');

/** Import the checkout fixture; returns its session row. */
async function checkout(server) {
  const r = await api(server, '/api/v1/import', { method: 'POST', body: readFileSync(RRWEB) });
  return api(server, `/api/v1/sessions/${r.sessions[0]}`);
}

/** fetch with an optional token; returns {status, body}. */
async function call(server, path, { method = 'GET', token = ADMIN, body } = {}) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: json, text };
}

for (const mode of modes()) {
  test(`${mode}: comments API — tokens, checks, time order, deletion, audit`, async () => {
    const server = await startReel({ mode });
    try {
      const s = await checkout(server);
      const path = `/api/v1/sessions/${s.id}/comments`;
      // The admin token only: none → 401, the capture token → 403, on every route.
      for (const [method, p] of [['GET', path], ['POST', path], ['DELETE', '/api/v1/comments/x']]) {
        assert.equal((await call(server, p, { method, token: null, body: method === 'POST' ? { at: 1, text: 'x' } : undefined })).status, 401, `${method} ${p}`);
        assert.equal((await call(server, p, { method, token: CAPTURE, body: method === 'POST' ? { at: 1, text: 'x' } : undefined })).status, 403, `${method} ${p}`);
      }
      assert.deepEqual((await call(server, path)).body, { comments: [] });
      // Bad input: 400 with the reason; an unknown session 404; a huge body 413 before parsing.
      for (const [body, re] of [[{ at: -1, text: 'x' }, /^at:/], [{ at: 'soon', text: 'x' }, /^at:/], [{ text: 'x' }, /at: missing/],
        [{ at: 1, text: '  ' }, /write something/], [{ at: 1, text: 'x'.repeat(2001) }, /2000/], [{ at: 1, text: 'a\u0007b' }, /control/],
        [{ at: 1, text: 'x', author: 'a'.repeat(101) }, /100/], [{ at: s.recording_duration + 5, text: 'x' }, /past the end/], ['nope', /not JSON/]]) {
        const r = await call(server, path, { method: 'POST', body });
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.body.error, re);
      }
      assert.equal((await call(server, path, { method: 'POST', body: { at: 1, text: 'x'.repeat(20000) } })).status, 413);
      assert.equal((await call(server, '/api/v1/sessions/no-such-session/comments', { method: 'POST', body: { at: 1, text: 'x' } })).status, 404);
      assert.equal((await call(server, '/api/v1/sessions/no-such-session/comments')).status, 404);

      const late = await call(server, path, { method: 'POST', body: { at: 2.5, text: ' the pay button did nothing \n twice ', author: 'ana', unknown: 1 } });
      assert.equal(late.status, 201);
      assert.deepEqual([late.body.at, late.body.text, late.body.author], [2.5, 'the pay button did nothing \n twice', 'ana']);
      assert.match(late.body.created_at, /^\d{4}-\d\d-\d\dT.*Z$/);
      const early = (await call(server, path, { method: 'POST', body: { at: 0.75, text: '<b>not bold</b>' } })).body;
      assert.equal(early.author, '');
      const list = (await call(server, path)).body.comments;
      assert.deepEqual(list.map((c) => c.id), [early.id, late.body.id], 'time order');
      assert.equal(list[0].text, '<b>not bold</b>', 'kept as written: plain text');

      const audit = (await api(server, `/api/v1/audit?subject=${s.id}`)).results.map((e) => e.action);
      assert.ok(audit.includes('comment.create'), audit.join());
      assert.equal((await call(server, `/api/v1/comments/${early.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await call(server, `/api/v1/comments/${early.id}`, { method: 'DELETE' })).status, 404);
      assert.deepEqual((await call(server, path)).body.comments.map((c) => c.id), [late.body.id]);
      assert.ok((await api(server, `/api/v1/audit?subject=${s.id}`)).results.some((e) => e.action === 'comment.delete'));
      assert.ok(!JSON.stringify(await api(server, '/api/v1/audit')).includes('not bold'), 'the audit never holds the text');

      // Deleting the session takes its comments, and no copy stays in the data folder.
      const grep = (needle) => { try { execFileSync('grep', ['-rlF', needle, server.data]); return true; } catch { return false; } };
      if (mode === 'embedded') assert.ok(grep('the pay button did nothing'), 'the search finds it before');
      await api(server, `/api/v1/sessions/${s.id}`, { method: 'DELETE' });
      assert.equal((await call(server, path)).status, 404);
      if (mode === 'embedded') assert.ok(!grep('the pay button did nothing'), 'no copy left in the data folder');
    } finally { await server.stop(); server.cleanup(); }
  });

  test(`${mode}: comments travel in an export and come back once with an import`, async () => {
    const server = await startReel({ mode });
    const other = await startReel({ mode });
    try {
      const s = await checkout(server);
      const path = `/api/v1/sessions/${s.id}/comments`;
      const made = [];
      for (const body of [{ at: 1.2, text: 'mail ana@example.com about this', author: 'bo' }, { at: 0.3, text: 'first\nsecond line' }]) {
        made.push((await api(server, path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })));
      }
      const pkg = join(tmp, `${mode}-${s.id}.reel.zip`);
      writeFileSync(pkg, await api(server, `/api/v1/sessions/${s.id}/export`));
      execFileSync(REEL, ['verify', pkg]);
      // The JSON Schemas agree (docs/schema/comments.schema.json), when scripts/test installed jsonschema.
      const py = join(ROOT, '.tools/venv/bin/python');
      if (existsSync(py)) assert.match(execFileSync(py, [join(ROOT, 'docs/schema/validate.py'), pkg]).toString(), /: valid \(/);
      const dir = join(tmp, `${mode}-unpacked`);
      execFileSync(REEL, ['unpack', pkg, '-o', dir]);
      const doc = JSON.parse(readFileSync(join(dir, `sessions/${s.id}/comments.json`), 'utf8'));
      assert.equal(doc.session_id, s.id);
      assert.deepEqual(doc.comments.map((c) => [c.t_ms, c.text, c.author]), [[300, 'first\nsecond line', ''], [1200, 'mail ana@example.com about this', 'bo']]);
      assert.equal(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).format_version, '1.3');

      // `reel pack` of the package keeps them as they are; `reel redact` keeps them through its rules' text patterns.
      const repacked = join(tmp, `${mode}-repacked.reel.zip`);
      const packed = JSON.parse(execFileSync(REEL, ['pack', pkg, '-o', repacked, '--json']).toString());
      assert.equal(packed.comments, 2);
      const pdir = join(tmp, `${mode}-repacked`);
      execFileSync(REEL, ['unpack', repacked, '-o', pdir]);
      assert.deepEqual(JSON.parse(readFileSync(join(pdir, `sessions/${s.id}/comments.json`), 'utf8')).comments, doc.comments);
      const rules = join(tmp, 'email.toml');
      writeFileSync(rules, '[patterns]\nbuiltin = ["email"]\n');
      const cliRedacted = join(tmp, `${mode}-cli-redacted.reel.zip`);
      const rep = JSON.parse(execFileSync(REEL, ['redact', pkg, '--rules', rules, '-o', cliRedacted, '--json']).toString());
      const cdir = join(tmp, `${mode}-cli-redacted`);
      execFileSync(REEL, ['unpack', cliRedacted, '-o', cdir]);
      const cdoc = JSON.parse(readFileSync(join(cdir, `sessions/${s.id}/comments.json`), 'utf8'));
      assert.deepEqual(cdoc.comments.map((c) => [c.id, c.t_ms]), doc.comments.map((c) => [c.id, c.t_ms]));
      assert.ok(!JSON.stringify(cdoc).includes('ana@example.com'), JSON.stringify(cdoc));
      assert.ok(JSON.stringify(rep).includes('comment'), 'the report counts what it removed from comments');

      // Into another server, twice (the API, then `reel push`): the comments once, as they were.
      const first = await api(other, '/api/v1/import', { method: 'POST', body: readFileSync(pkg) });
      assert.equal(first.comments, 2);
      const pushed = JSON.parse(execFileSync(REEL, ['push', pkg, '--server', other.url, '--json'], { env: { ...process.env, REEL_ADMIN_TOKEN: ADMIN } }).toString());
      assert.equal(pushed.comments, 0);
      const back = (await api(other, path)).comments;
      assert.deepEqual(back.map((c) => [c.id, c.at, c.text, c.author, c.created_at]), made.sort((a, b) => a.at - b.at).map((c) => [c.id, c.at, c.text, c.author, c.created_at]));

      // With an export policy, its text patterns reach comments too.
      await api(server, '/api/v1/project', { method: 'PATCH', body: JSON.stringify({ export_redaction: { rules: '[patterns]\nbuiltin = ["email"]\n' } }), headers: { 'Content-Type': 'application/json' } });
      const redacted = join(tmp, `${mode}-redacted.reel.zip`);
      writeFileSync(redacted, await api(server, `/api/v1/sessions/${s.id}/export`));
      const rdir = join(tmp, `${mode}-redacted`);
      execFileSync(REEL, ['unpack', redacted, '-o', rdir]);
      const rdoc = readFileSync(join(rdir, `sessions/${s.id}/comments.json`), 'utf8');
      assert.ok(!rdoc.includes('ana@example.com'), rdoc);
      assert.ok(rdoc.includes('first\\nsecond line'), rdoc);
      assert.ok(existsSync(join(rdir, 'manifest.json')));
    } finally { await server.stop(); server.cleanup(); await other.stop(); other.cleanup(); }
  });
}

test('web UI: c opens the comment box at the current time; the list, the marker, a reload, the deletion', async () => {
  const server = await startReel({ mode: 'embedded' });
  const browser = await launch();
  try {
    const s = await checkout(server);
    const tab = await browser.newPage();
    await tab.goto(`${server.url}/`);
    await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
    await tab.goto(`${server.url}/#/s/${encodeURIComponent(s.id)}&t=1.5`);
    await tab.waitForSelector('.reel-timeline');
    await tab.waitForSelector('#comment-list li');
    // `?` lists the key.
    await tab.locator('body').click({ position: { x: 2, y: 2 } });
    await tab.keyboard.press('?');
    assert.match(await tab.textContent('.reel-help'), /comment at the current time/);
    await tab.keyboard.press('Escape');
    await tab.keyboard.press('c');
    assert.equal(await tab.evaluate(() => document.activeElement.id), 'comment-text');
    assert.equal(await tab.textContent('.comment-at'), '0:01');
    await tab.keyboard.type('<img src=x onerror=alert(1)> the total is wrong');
    await tab.fill('#comment-author', 'tester');
    await tab.click('.comment-form button[type=submit]');
    await tab.waitForSelector('#comment-list li.comment');
    const entry = async () => tab.evaluate(() => {
      const li = document.querySelector('#comment-list li.comment');
      return li && { text: li.querySelector('.comment-text').textContent, author: li.querySelector('.author').textContent,
        time: li.querySelector('.time').textContent, link: li.querySelector('.comment-link').href, imgs: li.querySelectorAll('img').length,
        markers: document.querySelectorAll('.reel-marker.reel-m-comment').length, title: (document.querySelector('.reel-m-comment') || {}).title };
    });
    let e = await entry();
    assert.equal(e.text, '<img src=x onerror=alert(1)> the total is wrong', 'shown as text');
    assert.equal(e.imgs, 0, 'never as HTML');
    assert.deepEqual([e.author, e.time, e.markers], ['tester', '0:01', 1]);
    assert.match(e.title, /tester: <img/);
    assert.ok(e.link.endsWith(`#/s/${encodeURIComponent(s.id)}&t=1.5`), e.link);
    const stored = (await api(server, `/api/v1/sessions/${s.id}/comments`)).comments;
    assert.equal(stored.length, 1);
    assert.ok(Math.abs(stored[0].at - 1.5) < 0.05, `at ${stored[0].at}`);
    // `n` from the start reaches the comment (a marker like the key moments).
    await tab.locator('body').click({ position: { x: 2, y: 2 } });
    await tab.keyboard.press('0');
    for (let i = 0; i < 10; i++) {
      const t = await tab.evaluate(() => document.querySelector('.reel-time').textContent);
      if (t.startsWith('0:01')) break;
      await tab.keyboard.press('n');
    }
    assert.match(await tab.evaluate(() => document.querySelector('.reel-time').textContent), /^0:01/);
    // Clicking a comment seeks there.
    await tab.keyboard.press('5');
    assert.match(await tab.evaluate(() => document.querySelector('.reel-time').textContent), /^0:2/);
    await tab.click('#comment-list .comment-text');
    assert.match(await tab.evaluate(() => document.querySelector('.reel-time').textContent), /^0:01/);

    // After a reload: still there; the author label is remembered.
    await tab.reload();
    await tab.waitForSelector('#comment-list li.comment');
    await tab.waitForSelector('.reel-m-comment');
    e = await entry();
    assert.equal(e.text, '<img src=x onerror=alert(1)> the total is wrong');
    assert.equal(await tab.inputValue('#comment-author'), 'tester');

    // Delete, confirmed.
    tab.once('dialog', (d) => d.accept());
    await tab.click('#comment-list li.comment button.danger');
    await tab.waitForFunction(() => !document.querySelector('#comment-list li.comment') && !document.querySelector('.reel-m-comment'));
    assert.deepEqual((await api(server, `/api/v1/sessions/${s.id}/comments`)).comments, []);
    // A share page shows no comments (shares honour the export policy; comments stay inside).
    await api(server, `/api/v1/sessions/${s.id}/comments`, { method: 'POST', body: JSON.stringify({ at: 1, text: 'internal note' }), headers: { 'Content-Type': 'application/json' } });
    const share = await api(server, `/api/v1/sessions/${s.id}/shares`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    await tab.goto(server.url + share.url);
    await tab.waitForSelector('.reel-timeline');
    assert.equal(await tab.locator('.reel-m-comment').count(), 0);
    assert.ok(!(await tab.content()).includes('internal note'));
  } finally { await browser.close(); await server.stop(); server.cleanup(); }
});
