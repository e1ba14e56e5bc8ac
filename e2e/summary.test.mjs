// Summaries where a recording appears: the optional LLM summary on the server (`reel serve
// --llm-url`, a fake OpenAI-compatible endpoint on loopback: the one remote the tests cannot reach),
// the summary block of the web UI's session page, and key moments on share and embed pages.
// A page recorded in Chromium by Reel's recorder, with typing kept unmasked on purpose, an error
// thrown by a click and a secret in the page's query string: what reaches the model must hold none
// of the typed text, the query values or the DOM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, api, servePages, waitFor, CAPTURE, ADMIN, REEL } from './server.mjs';

const browser = await launch();
after(() => browser.close());

const TYPED = 'typed-secret-value-4242';
const QUERY_SECRET = 'querysecret123';
const KEY = 'sk-fake-llm-key-never-shown';

/** A chat-completions endpoint: remembers each request, answers `answer()` (a message content) or `status`. */
async function fakeLlm() {
  const seen = [];
  const self = { seen, status: 200, content: null };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ path: req.url, authorization: req.headers.authorization, body: JSON.parse(body || 'null') });
      const content = self.content ?? JSON.stringify({
        text: 'The person typed into the form, clicked Throw and hit an error.',
        segments: [{ start_ms: 0, end_ms: 0, url: '/page.html', summary: 'Form and an error', failure: true }],
        key_actions: [{ t_ms: 0, description: 'clicked Throw', abandonment: false, confusion: false, exception: true }],
        outcome: { success: false, description: 'An error stopped them.' },
      });
      res.writeHead(self.status, { 'content-type': 'application/json' });
      res.end(self.status === 200
        ? JSON.stringify({ model: 'fake-model-x', choices: [{ message: { role: 'assistant', content } }] })
        : JSON.stringify({ error: { message: 'the fake is down' } }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  self.url = `http://127.0.0.1:${server.address().port}/v1`;
  self.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return self;
}

/** Record a page with typing, a click that throws and a console error (as `person` when given); returns the session id. */
async function record(server, person) {
  const site = await servePages({ '/page.html': `<!doctype html><html><head><title>Form</title>
    <script src="${server.url}/static/reel.js"></script>
    <script>reel.init({ apiHost: '${server.url}', token: '${CAPTURE}', flushIntervalMs: 300, maskAllInputs: false });</script>
    </head><body><h1>Checkout</h1><input id="name" name="name">
    <button id="throw" onclick="console.error('payment failed badly'); throw new Error('boom')">Throw</button></body></html>` });
  const tab = await browser.newPage();
  try {
    await tab.goto(`${site.url}/page.html?token=${QUERY_SECRET}`);
    await tab.waitForFunction(() => window.reel && window.reel.sessionId);
    if (person) await tab.evaluate((p) => window.reel.identify(p), person);
    await tab.click('#name');
    await tab.keyboard.type(TYPED, { delay: 5 });
    await tab.click('#throw');
    await new Promise((r) => setTimeout(r, 600));
    const sid = await tab.evaluate(() => window.reel.sessionId);
    await tab.evaluate(() => window.reel.flush());
    await waitFor(async () => {
      const doc = await api(server, `/api/v1/sessions/${sid}/moments`);
      return doc.counts.exception >= 1;
    }, { what: 'the recorded exception' });
    return sid;
  } finally { await tab.close(); await site.close(); }
}

test('LLM summary: only the compact timeline is sent, the answer is checked and kept apart', async () => {
  const llm = await fakeLlm();
  const server = await startReel({ mode: 'embedded', args: ['--llm-url', llm.url, '--llm-model', 'asked-model'], env: { REEL_LLM_API_KEY: KEY } });
  try {
    assert.equal((await api(server, '/api/v1/project')).llm_summaries, true);
    const sid = await record(server);
    // The server holds what was typed (masking was off on purpose): the test can see a leak.
    const events = (await api(server, `/api/v1/sessions/${sid}/events?format=jsonl`)).toString();
    assert.ok(events.includes(TYPED), 'the typed value is stored');

    const doc = await api(server, `/api/v1/sessions/${sid}/summary/llm`, { method: 'POST' });
    assert.equal(doc.llm_summary.model, 'fake-model-x');
    assert.equal(doc.llm_summary.outcome.success, false);
    assert.equal(doc.llm_summary.key_actions[0].exception, true);
    assert.ok(doc.summary.text && doc.summary.text !== doc.llm_summary.text, 'the deterministic summary stays');
    assert.equal(llm.seen.length, 1);
    const req = llm.seen[0];
    assert.equal(req.path, '/v1/chat/completions');
    assert.equal(req.authorization, `Bearer ${KEY}`);
    assert.equal(req.body.model, 'asked-model');
    const sent = JSON.stringify(req.body);
    for (const secret of [TYPED, QUERY_SECRET, 'childNodes', '<input', ADMIN, CAPTURE]) {
      assert.ok(!sent.includes(secret), `${secret} reached the model: ${req.body.messages[1].content}`);
    }
    const timeline = req.body.messages[1].content;
    assert.match(timeline, /moment exception/);
    assert.match(timeline, /payment failed badly|boom/);
    assert.match(timeline, /token=…/, 'the query key stays, its value goes');

    // Kept: the moments endpoint and an export carry it; the key never shows in the server's log.
    assert.equal((await api(server, `/api/v1/sessions/${sid}/moments`)).llm_summary.text, doc.llm_summary.text);
    const dir = mkdtempSync(join(tmpdir(), 'reel-llm-'));
    const pkg = join(dir, 's.reel.zip');
    writeFileSync(pkg, await api(server, `/api/v1/sessions/${sid}/export`));
    const inspect = JSON.parse(execFileSync(REEL, ['inspect', pkg, '--json']).toString());
    assert.equal(inspect.sessions[0].llm_summary, doc.llm_summary.text);
    execFileSync(REEL, ['verify', pkg]);

    // A bad answer is refused with the reason and the kept summary stays.
    llm.content = JSON.stringify({ text: 'x', key_actions: [{ t_ms: 999999999, description: 'later' }], outcome: { success: true, description: 'ok' } });
    let r = await fetch(`${server.url}/api/v1/sessions/${sid}/summary/llm`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 502);
    assert.match((await r.json()).error, /outside the session/);
    llm.content = null; llm.status = 500;
    r = await fetch(`${server.url}/api/v1/sessions/${sid}/summary/llm`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 502);
    assert.match((await r.json()).error, /500/);
    assert.equal((await api(server, `/api/v1/sessions/${sid}/moments`)).llm_summary.text, doc.llm_summary.text);
    llm.status = 200;

    // Read APIs need the admin token; a capture token cannot ask.
    r = await fetch(`${server.url}/api/v1/sessions/${sid}/summary/llm`, { method: 'POST', headers: { Authorization: `Bearer ${CAPTURE}` } });
    assert.ok(r.status === 401 || r.status === 403, `capture token: ${r.status}`);
    r = await fetch(`${server.url}/api/v1/sessions/${sid}/summary/llm`, { method: 'POST' });
    assert.equal(r.status, 401);
    assert.ok(!server.stderr().includes(KEY), 'the key is not logged');

    // The web UI: the summary block, and the button that asks the model.
    llm.content = JSON.stringify({ text: 'Second opinion from the fake model.', segments: [], key_actions: [], outcome: { success: false, description: 'Still broken.' } });
    const tab = await browser.newPage();
    try {
      await tab.goto(`${server.url}/`);
      await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
      await tab.goto(`${server.url}/#/s/${encodeURIComponent(sid)}`);
      await tab.waitForSelector('#summary .summary-text');
      const text = await tab.textContent('#summary');
      assert.ok(text.includes(doc.summary.text.slice(0, 40)), `deterministic summary shown: ${text}`);
      assert.ok(text.includes('Written by fake-model-x'), text);
      await tab.click('#llm-summary');
      await tab.waitForFunction(() => document.getElementById('summary').textContent.includes('Second opinion from the fake model.'));
      // Times in the key actions seek the player.
      await tab.click('#summary details summary');
      await tab.click('#summary .key-actions .time');
    } finally { await tab.close(); }
  } finally { await server.stop(); server.cleanup(); await llm.close(); }
});

test('LLM summary is off by default; share and embed pages show key moments', async () => {
  const server = await startReel({ mode: 'embedded', env: { REEL_LLM_URL: '' } });
  try {
    assert.equal((await api(server, '/api/v1/project')).llm_summaries, false);
    // An empty server's list teaches how to record, with this server's address and capture token.
    const empty = await browser.newPage();
    try {
      await empty.goto(`${server.url}/`);
      await empty.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
      await empty.goto(`${server.url}/#/`);
      const steps = await (await empty.waitForSelector('.first-steps')).textContent();
      assert.ok(steps.includes(`${server.url}/static/reel.js`) && steps.includes(CAPTURE), steps);
      assert.ok(!steps.includes(ADMIN), 'never the admin token');
    } finally { await empty.close(); }
    const sid = await record(server, 'ann-42');
    const other = await record(server, 'ann-42');
    const r = await fetch(`${server.url}/api/v1/sessions/${sid}/summary/llm`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 409);
    assert.match((await r.json()).error, /--llm-url/);

    const share = await api(server, `/api/v1/sessions/${sid}/shares`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const moments = await (await fetch(`${server.url}/share/${share.token}/moments`)).json();
    assert.ok(moments.counts.exception >= 1, JSON.stringify(moments.counts));
    const tab = await browser.newPage();
    try {
      for (const page of [share.url, share.embed_url]) {
        await tab.goto(server.url + page);
        await tab.waitForSelector('.reel-marker.reel-m-mo-exception', { state: 'attached' });
      }
      // The share page opens the moments panel.
      await tab.goto(server.url + share.url);
      await tab.waitForSelector('.reel-moment.reel-mo-exception');
      // No page of the UI shows the summary button when the server has no LLM.
      await tab.goto(`${server.url}/`);
      await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
      await tab.goto(`${server.url}/#/s/${encodeURIComponent(sid)}`);
      await tab.waitForSelector('#summary .summary-text');
      assert.equal(await tab.$('#llm-summary'), null);
      // On a phone nothing is wider than the screen (list and session page).
      await tab.setViewportSize({ width: 390, height: 800 });
      await tab.waitForTimeout(300);
      const over = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(over <= 0, `session page overflows a phone by ${over}px`);
      // The side panels resize by dragging the bar between them and the page, and keep their width.
      await tab.setViewportSize({ width: 1400, height: 900 });
      const side0 = (await tab.locator('.reel-side').boundingBox()).width;
      const bar = await tab.locator('.reel-split').boundingBox();
      await tab.mouse.move(bar.x + bar.width / 2, bar.y + 40);
      await tab.mouse.down();
      await tab.mouse.move(bar.x - 150, bar.y + 40, { steps: 5 });
      await tab.mouse.up();
      const side1 = (await tab.locator('.reel-side').boundingBox()).width;
      assert.ok(Math.abs(side1 - side0 - 150) < 12, `side ${side0} → ${side1}`);
      // The person's other sessions, one click away.
      await tab.click(`#person-sessions a[href="#/s/${other}"]`);
      await tab.waitForFunction((o) => location.hash === `#/s/${o}`, other);
      await tab.waitForSelector('.reel-side');
      await tab.waitForTimeout(200);
      const kept = (await tab.locator('.reel-side').boundingBox()).width;
      assert.ok(Math.abs(kept - side1) < 12, `width kept: ${side1} → ${kept}`);
      await tab.setViewportSize({ width: 390, height: 800 });
      await tab.goto(`${server.url}/#/`);
      await tab.waitForSelector('tr.row');
      const overList = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overList <= 0, `list overflows a phone by ${overList}px`);
    } finally { await tab.close(); }
    // The list: PostHog's orders and a free-text search, kept in the URL (a filtered list is a link).
    let r2 = await fetch(`${server.url}/api/v1/sessions?sort=nope`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r2.status, 400);
    assert.match((await r2.json()).error, /duration/);
    r2 = await fetch(`${server.url}/api/v1/sessions?q=${'x'.repeat(201)}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.equal(r2.status, 400);
    const found = (await api(server, '/api/v1/sessions?q=PAGE.HTML&sort=duration')).results;
    assert.deepEqual(found.map((x) => x.id).sort(), [sid, other].sort());
    assert.ok(found[0].recording_duration >= found[1].recording_duration, 'longest first');
    assert.deepEqual((await api(server, '/api/v1/sessions?q=ANN-42')).results.length, 2);
    assert.equal((await api(server, '/api/v1/sessions?q=no-such-thing')).results.length, 0);
    const list = await browser.newPage();
    try {
      await list.goto(`${server.url}/`);
      await list.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
      await list.goto(`${server.url}/#/?sort=duration&q=no-such-thing`);
      await list.waitForSelector('.status:has-text("No sessions match")');
      assert.equal(await list.inputValue('select[name=sort]'), 'duration');
      await list.fill('input[name=q]', 'page.html');
      await list.click('form.filters button[type=submit]');
      await list.waitForSelector('tr.row');
      assert.match(list.url(), /#\/\?q=page\.html&sort=duration$/);
    } finally { await list.close(); }

    // A revoked share's moments are gone too.
    await api(server, `/api/v1/shares/${share.id}`, { method: 'DELETE' });
    assert.equal((await fetch(`${server.url}/share/${share.token}/moments`)).status, 404);
  } finally { await server.stop(); server.cleanup(); }
});
