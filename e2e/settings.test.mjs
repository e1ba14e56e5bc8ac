// Settings (issue 15): rotate the capture token and see the old one refused by every capture route (at once here, at
// the next refresh on another server of the same index); named admin tokens that work until revoked; retention as a
// project setting that the background sweep follows; storage use; a redaction policy checked before it is saved and
// previewed on a stored session. The API on SQLite and on PostgreSQL+S3 (two servers), then the settings page walked in
// Chromium (sign in, rotate, create and revoke a token, an invalid then a valid export policy, the preview before and
// after, retention, storage use, a 375 px wide screen) with no console errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, pageErrors, signedIn } from './browser.mjs';
import { startReel, api, modes, waitFor, CAPTURE, ADMIN } from './server.mjs';

const browser = await launch();
after(() => browser.close());

const DAY = 86_400_000;
const SECRET = 'Ada Lovelace';

/** A page whose `.secret` paragraph says SECRET, then a mouse move. */
function page(ts, url = 'https://shop.example/account') {
  const el = (id, tagName, attributes, childNodes = []) => ({ type: 2, id, tagName, attributes, childNodes });
  return [
    { type: 4, data: { href: url, width: 800, height: 600 }, timestamp: ts },
    { type: 2, data: { node: { type: 0, id: 1, childNodes: [el(2, 'html', {}, [el(3, 'head', {}), el(4, 'body', {}, [
      el(5, 'h1', {}, [{ type: 3, id: 6, textContent: 'Your account' }]),
      el(7, 'p', { class: 'secret' }, [{ type: 3, id: 8, textContent: SECRET }])])])] }, initialOffset: { top: 0, left: 0 } }, timestamp: ts + 1 },
    { type: 3, data: { source: 1, positions: [{ x: 10, y: 10, id: 5, timeOffset: 0 }] }, timestamp: ts + 2000 },
  ];
}

const ingest = (server, token, sid, events, batch = `b-${sid}`) => fetch(`${server.url}/api/v1/ingest?token=${encodeURIComponent(token)}`,
  { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ batch_id: batch, session_id: sid, distinct_id: 'ada', events }) });

/** Every capture route a page or SDK sends to, with `token`; their statuses by route. */
async function captureStatuses(server, token, sid) {
  const ts = Date.now() - 60_000;
  const post = (path, body) => fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) });
  const snap = { event: '$snapshot', properties: { token, $session_id: `${sid}-s`, $window_id: 'w', distinct_id: 'ada', $snapshot_data: page(ts) } };
  const pv = { event: '$pageview', timestamp: new Date(ts).toISOString(), properties: { token, $session_id: `${sid}-e`, $current_url: 'https://shop.example/' } };
  return {
    ingest: (await ingest(server, token, `${sid}-i`, page(ts))).status,
    s: (await post('/s/', [snap])).status,
    e: (await post('/e/', { api_key: token, batch: [pv] })).status,
    i_v0_e: (await post('/i/v0/e/', { api_key: token, batch: [pv] })).status,
    batch: (await post('/batch/', { api_key: token, batch: [pv] })).status,
    capture: (await post('/capture/', { api_key: token, batch: [pv] })).status,
    config: (await fetch(`${server.url}/array/${encodeURIComponent(token)}/config`)).status,
  };
}

const call = (server, path, { token = ADMIN, method = 'GET', body } = {}) => fetch(server.url + path, {
  method, headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
});

for (const mode of modes()) {
  test(`settings API: rotation, named admin tokens, retention, usage, redaction preview (${mode})`, async () => {
    // A sweep (and settings refresh) every second.
    const a = await startReel({ mode, args: ['--seal-idle-seconds', '1'] });
    // Scale-out: a second server on the same index and bucket, started before the rotation.
    const b = mode === 'postgres+s3' ? await startReel({ storage: a.storage, args: ['--seal-idle-seconds', '1'] }) : null;
    try {
      // ---- capture token rotation ----
      const before = await captureStatuses(a, CAPTURE, 'pre');
      assert.deepEqual(before, { ingest: 200, s: 200, e: 200, i_v0_e: 200, batch: 200, capture: 200, config: 200 });
      assert.equal((await call(a, '/api/v1/project/capture-token', { method: 'POST', token: CAPTURE })).status, 403, 'the capture token cannot rotate');
      assert.equal((await call(a, '/api/v1/project/capture-token', { method: 'POST', token: 'nope' })).status, 401);
      const r = await call(a, '/api/v1/project/capture-token', { method: 'POST' });
      assert.equal(r.status, 200);
      const rotated = await r.json();
      const fresh = rotated.capture_token;
      assert.match(fresh, /^phc_reel[A-Za-z0-9]{20}$/);
      assert.match(rotated.warning, /REEL_CAPTURE_TOKEN/, 'started with the flag: says its next start sets it again');
      assert.equal((await api(a, '/api/v1/project')).capture_token, fresh);
      const refused = await captureStatuses(a, CAPTURE, 'old');
      assert.deepEqual(refused, { ingest: 401, s: 401, e: 401, i_v0_e: 401, batch: 401, capture: 401, config: 404 }, 'the old token is refused at once');
      const old = await ingest(a, CAPTURE, 'old-2', page(Date.now() - 60_000));
      assert.match((await old.json()).error, /unknown capture token \(a rotated token is refused: the web UI's Settings shows the current one\)/, 'says what to do');
      assert.deepEqual(await captureStatuses(a, fresh, 'new'), { ingest: 200, s: 200, e: 200, i_v0_e: 200, batch: 200, capture: 200, config: 200 });
      const ids = async (s) => (await api(s, '/api/v1/sessions?limit=100')).results.map((x) => x.id).sort();
      assert.deepEqual(await ids(a), ['new-i', 'new-s', 'pre-i', 'pre-s'], 'nothing sent with the old token was stored');
      if (b) {
        // The other server follows at its next settings refresh (every sweep).
        await waitFor(async () => (await captureStatuses(b, CAPTURE, 'old-b')).ingest === 401, { what: 'server B refusing the old token' });
        assert.deepEqual(await captureStatuses(b, fresh, 'new-b'), { ingest: 200, s: 200, e: 200, i_v0_e: 200, batch: 200, capture: 200, config: 200 });
        assert.equal((await api(b, '/api/v1/project')).capture_token, fresh);
      }
      const audit = await api(a, '/api/v1/audit');
      assert.ok(audit.results.some((x) => x.action === 'capture_token.rotate'));
      assert.ok(!JSON.stringify(audit).includes(fresh) && !JSON.stringify(audit).includes(CAPTURE), 'no token in the audit log');

      // ---- named admin tokens ----
      for (const [body, status, msg] of [[{ name: '' }, 400, /1 to 100/], [{ name: 'x'.repeat(101) }, 400, /at most 100/], [{}, 400, /name/],
        ['not json', 400, /not JSON/], [{ name: 'x'.repeat(5000) }, 413, /at most 4096 bytes/]]) {
        const res = await call(a, '/api/v1/tokens', { method: 'POST', body });
        assert.equal(res.status, status, JSON.stringify(body).slice(0, 40));
        assert.match((await res.json()).error, msg);
      }
      const made = await call(a, '/api/v1/tokens', { method: 'POST', body: { name: '  CI export ' } });
      assert.equal(made.status, 201);
      const ci = await made.json();
      assert.equal(ci.name, 'CI export');
      assert.match(ci.token, /^reel_admin_[A-Za-z0-9]{32}$/);
      assert.equal((await call(a, '/api/v1/sessions', { token: ci.token })).status, 200, 'the named token reads');
      for (const s of [a, b].filter(Boolean)) assert.equal((await call(s, '/api/v1/usage', { token: ci.token })).status, 200);
      const listed = await (await call(a, '/api/v1/tokens', { token: ci.token })).json();
      assert.deepEqual(listed.results.map((t) => [t.name, t.revoked_ms]), [['CI export', null]]);
      assert.ok(listed.results[0].last_used_ms >= listed.results[0].created_ms, 'last use noted');
      assert.ok(!JSON.stringify(listed).includes(ci.token), 'never listed again');
      assert.equal((await call(a, '/api/v1/tokens', { token: fresh })).status, 403, 'the capture token cannot list them');
      assert.equal((await call(a, `/api/v1/tokens/${ci.id}`, { method: 'DELETE' })).status, 204);
      assert.equal((await call(a, `/api/v1/tokens/${ci.id}`, { method: 'DELETE' })).status, 404, 'already revoked');
      for (const s of [a, b].filter(Boolean)) {
        const res = await call(s, '/api/v1/sessions', { token: ci.token });
        assert.equal(res.status, 401, 'revoked on every server at once');
        assert.match((await res.json()).error, /revoked token/);
      }
      assert.ok((await api(a, '/api/v1/tokens')).results[0].revoked_ms > 0, 'listed as revoked');
      const actions = (await api(a, '/api/v1/audit')).results.map((x) => x.action);
      assert.ok(actions.includes('admin_token.create') && actions.includes('admin_token.revoke'));
      assert.ok(!JSON.stringify(await api(a, '/api/v1/audit')).includes(ci.token));

      // ---- retention as a project setting ----
      for (const v of [0, -1, 1.5, '30', 36501, true]) {
        const res = await call(a, '/api/v1/project', { method: 'PATCH', body: { retention_days: v } });
        assert.equal(res.status, 400, String(v));
        assert.match((await res.json()).error, /retention_days: a whole number of days/);
      }
      assert.equal((await ingest(a, fresh, 'ancient', page(Date.now() - 3 * DAY))).status, 200);
      assert.ok((await ids(a)).includes('ancient'));
      assert.equal((await api(a, '/api/v1/usage')).retention_days, null, 'no --retention-days, no setting');
      await api(a, '/api/v1/project', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retention_days: 2 }) });
      assert.equal((await api(a, '/api/v1/project')).settings.retention_days, 2);
      await waitFor(async () => !(await ids(a)).includes('ancient'), { what: 'the sweep deleting a session older than 2 days' });
      assert.ok((await ids(a)).includes('new-i'), 'newer sessions stay');
      await api(a, '/api/v1/project', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retention_days: null }) });
      assert.equal((await api(a, '/api/v1/project')).settings.retention_days, null);

      // ---- storage use ----
      const u = await api(a, '/api/v1/usage');
      const rows = (await api(a, '/api/v1/sessions?limit=100')).results;
      assert.equal(u.sessions, rows.length);
      assert.equal(u.events, rows.reduce((n, s) => n + s.event_count, 0));
      assert.equal(u.event_bytes, rows.reduce((n, s) => n + s.size, 0));
      assert.ok(u.stored_bytes > 0 && u.blocks >= rows.length, JSON.stringify(u));

      // ---- redaction: check and preview ----
      const POLICY = { rules: 'mask_text = [".secret"]' };
      assert.deepEqual(await api(a, '/api/v1/redaction-policy/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ policy: POLICY }) }), { valid: true, error: null });
      const bad = await api(a, '/api/v1/redaction-policy/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ policy: { rules: 'mask_text = [' } }) });
      assert.equal(bad.valid, false);
      assert.match(bad.error, /^policy: .*line 1/);
      const preview = (body, token) => call(a, '/api/v1/sessions/new-i/redaction-preview', { method: 'POST', body, token });
      const raw = await (await preview({ policy: null })).json();
      assert.ok(JSON.stringify(raw.events).includes(SECRET), 'null: the events as stored');
      assert.equal(raw.report.removed, 0);
      const res = await preview({ policy: POLICY });
      assert.equal(res.status, 200);
      const out = await res.json();
      assert.equal(out.truncated, false);
      assert.equal(out.events.length, raw.events.length);
      assert.deepEqual(out.events[0][1], raw.events[0][1], 'each line is [windowId, event] as /events?format=jsonl');
      assert.equal(typeof out.events[0][0], 'string');
      assert.ok(!JSON.stringify(out.events).includes(SECRET), 'the policy removed the text');
      assert.ok(JSON.stringify(out.events).includes('Your account'), 'and only what it names');
      assert.ok(out.report.removed >= 1 && out.report.counts.by_rule['mask_text .secret'] >= 1, JSON.stringify(out.report));
      assert.equal(out.report.totals.events_in, raw.events.length);
      const invalid = await preview({ policy: { rules: 'mask_text = [' } });
      assert.equal(invalid.status, 400);
      assert.match((await invalid.json()).error, /^policy: /);
      assert.equal((await preview({ nothing: 1 })).status, 400);
      assert.equal((await preview({ policy: { rules: 'x'.repeat(300 << 10) } })).status, 413);
      assert.equal((await preview({ policy: null }, 'nope')).status, 401);
      assert.equal((await call(a, '/api/v1/sessions/nope/redaction-preview', { method: 'POST', body: { policy: null } })).status, 404);
      assert.equal((await api(a, '/api/v1/project')).settings.export_redaction ?? null, null, 'a preview saves nothing');
    } finally {
      if (b) { await b.stop(); b.cleanup(); }
      await a.stop(); a.cleanup();
    }
  });
}

test('settings page: rotate, admin tokens, policies with preview, retention, storage (Chromium)', async () => {
  const server = await startReel({ mode: 'embedded' });
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = pageErrors(tab);
  try {
    const t0 = Date.now() - 3_600_000;
    assert.equal((await ingest(server, CAPTURE, 'older', page(t0))).status, 200);
    assert.equal((await ingest(server, CAPTURE, 'latest', page(t0 + 60_000))).status, 200);
    await waitFor(async () => (await api(server, '/api/v1/sessions')).results.length === 2, { what: 'sessions listed' });

    await signedIn(tab, server.url, ADMIN);
    await tab.click('header a:text("Settings")');
    await tab.waitForSelector('main.settings #capture-token');
    assert.match(tab.url(), /#\/settings$/);
    assert.equal(await tab.inputValue('#capture-token'), CAPTURE);
    assert.match(await tab.textContent('#snippet-posthog'), new RegExp(`posthog.init\\('${CAPTURE}', \\{ api_host: '${server.url}'`));
    assert.match(await tab.textContent('#snippet-reel'), new RegExp(`token: '${CAPTURE}'`));

    // Copy puts the token on the clipboard.
    await tab.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await tab.click('button:text("Copy token")');
    await tab.waitForSelector('#capture .copy-note:text("Copied")');
    assert.equal(await tab.evaluate(() => navigator.clipboard.readText()), CAPTURE);

    // Every control has a label.
    const unlabelled = await tab.evaluate(() => [...document.querySelectorAll('main.settings input, main.settings textarea, main.settings select')]
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map((el) => el.outerHTML));
    assert.deepEqual(unlabelled, []);

    // Rotate, with a confirmation step that says what happens; then the old token is refused, the new one stored.
    await tab.click('#rotate');
    await tab.waitForSelector('#capture .confirm-box:has-text("stop being recorded")');
    await tab.click('#capture .confirm-box button.cancel');
    assert.equal(await tab.inputValue('#capture-token'), CAPTURE, 'cancel changes nothing');
    await tab.click('#rotate');
    await tab.keyboard.press('Enter'); // focus is on "Rotate now"
    await tab.waitForSelector('#capture .status:text("Rotated")');
    const fresh = await tab.inputValue('#capture-token');
    assert.notEqual(fresh, CAPTURE);
    assert.match(await tab.textContent('#snippet-posthog'), new RegExp(`posthog.init\\('${fresh}'`), 'the snippets follow');
    const oldPost = await ingest(server, CAPTURE, 'after-rotation-old', page(t0 + 120_000));
    assert.equal(oldPost.status, 401);
    assert.equal((await ingest(server, fresh, 'after-rotation-new', page(t0 + 30_000))).status, 200);
    const ids = (await api(server, '/api/v1/sessions')).results.map((s) => s.id);
    assert.ok(ids.includes('after-rotation-new') && !ids.includes('after-rotation-old'), ids.join());

    // A named admin token: shown once, works on the API, revoked with a confirmation, then 401.
    await tab.fill('#token-name', 'e2e laptop');
    await tab.press('#token-name', 'Enter');
    await tab.waitForSelector('#new-token-value');
    const named = await tab.inputValue('#new-token-value');
    assert.match(named, /^reel_admin_/);
    assert.equal((await call(server, '/api/v1/sessions', { token: named })).status, 200);
    const row = tab.locator('#tokens tbody tr', { hasText: 'e2e laptop' });
    assert.equal(await row.locator('.state').textContent(), 'active');
    await row.locator('button:text("Revoke…")').click();
    await row.locator('.confirm-box button.confirm').click();
    await tab.waitForSelector('#tokens tbody tr:has-text("e2e laptop") .state:text("revoked")');
    const after = await call(server, '/api/v1/sessions', { token: named });
    assert.equal(after.status, 401);
    assert.match((await after.json()).error, /revoked token/);

    // An invalid export policy: the error is shown where it is typed and nothing is saved.
    const area = '#policy-export_redaction';
    await tab.fill(area, '{"rules": ');
    await tab.waitForSelector('#policy-export_redaction-error:text("Not JSON")');
    await tab.click('button:text("Save export policy")');
    await tab.fill(area, '{"rules": "mask_text = ["}');
    await tab.waitForSelector('#policy-export_redaction-error:text("policy:")');
    await tab.click('button:text("Save export policy")');
    await tab.waitForSelector('#policy-export_redaction-error:text("policy:")');
    assert.equal(await tab.getAttribute(area, 'aria-invalid'), 'true');
    assert.equal((await api(server, '/api/v1/project')).settings.export_redaction ?? null, null, 'nothing saved');

    // A valid one: saved; the preview on the latest session shows before and after side by side.
    await tab.fill(area, JSON.stringify({ rules: 'mask_text = [".secret"]' }));
    await tab.waitForFunction(() => document.getElementById('policy-export_redaction-error').textContent === '');
    await tab.click('button:text("Save export policy")');
    await tab.waitForSelector('form[data-policy=export_redaction] .status:text("Saved")');
    assert.deepEqual((await api(server, '/api/v1/project')).settings.export_redaction, { rules: 'mask_text = [".secret"]' });
    assert.equal(await tab.inputValue('#preview-session'), 'latest', 'the latest session by default');
    await tab.click('button:text("Preview export policy")');
    await tab.waitForSelector('.preview-removed');
    assert.match(await tab.textContent('.preview-removed'), /on latest: [1-9]\d* value\(s\) removed/);
    assert.match(await tab.textContent('.preview-rules'), /mask_text \.secret: [1-9]/);
    const frameText = (id) => tab.evaluate((sel) => {
      const f = /** @type {HTMLIFrameElement|null} */ (document.querySelector(`${sel} iframe.reel-frame`));
      return f && f.contentDocument && f.contentDocument.body ? f.contentDocument.body.textContent : '';
    }, id);
    await waitFor(async () => (await frameText('#preview-before')).includes(SECRET), { what: 'the text in the before player' });
    await waitFor(async () => (await frameText('#preview-after')).includes('Your account'), { what: 'the after player' });
    assert.ok(!(await frameText('#preview-after')).includes(SECRET), 'the after player does not show it');
    const box = async (sel) => tab.locator(sel).boundingBox();
    const [l, r] = [await box('#preview-before'), await box('#preview-after')];
    assert.ok(r.x > l.x + l.width - 1 && Math.abs(r.y - l.y) < 2, 'side by side');

    // Retention: an invalid number is refused inline; a valid one saved.
    await tab.fill('#retention-days', '0');
    await tab.click('button:text("Save retention")');
    await tab.waitForSelector('#retention-error:text("whole number of days")');
    await tab.fill('#retention-days', '30');
    await tab.click('button:text("Save retention")');
    await tab.waitForSelector('#retention .status:text("30 days")');
    assert.equal((await api(server, '/api/v1/project')).settings.retention_days, 30);

    // Storage use: as the page opened (2 sessions), then refreshed.
    assert.equal(await tab.textContent('.usage-sessions'), '2');
    await tab.click('#storage button:text("Refresh")');
    await tab.waitForSelector('.usage-sessions:text-is("3")');
    assert.match(await tab.textContent('.usage-stored-bytes'), /^\d+(\.\d)? (B|KB|MB)$/);

    // A phone: nothing wider than the screen; the players stack.
    await tab.setViewportSize({ width: 375, height: 812 });
    await tab.waitForTimeout(200);
    assert.ok(await tab.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scrolling at 375 px');
    const [l2, r2] = [await box('#preview-before'), await box('#preview-after')];
    assert.ok(r2.y >= l2.y + l2.height - 1, 'stacked on a phone');
    assert.deepEqual(errors, []);
  } finally { await tab.close(); await server.stop(); server.cleanup(); }
});
