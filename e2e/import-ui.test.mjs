// Import by drag and drop in the web UI (issue 15): files dropped on the sessions list are imported one by one with a
// result per file — an rrweb JSON file, a .reel.zip made by `reel pack`, the same rrweb file again ("already stored")
// and a file that is no recording (the server's reason, nothing stored) — and the list shows the new sessions. The
// "Import files…" button does the same for keyboard users. No console errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, signedIn } from './browser.mjs';
import { startReel, api, ADMIN, ROOT, REEL } from './server.mjs';

const browser = await launch();
after(() => browser.close());

test('drag and drop import: result per file, duplicates reported, bad files refused', async () => {
  const server = await startReel({ mode: 'embedded' });
  const tmp = mkdtempSync(join(tmpdir(), 'reel-drop-'));
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  tab.on('console', (m) => { if (m.type() === 'error' && !/status of 400/.test(m.text())) errors.push(m.text()); });
  tab.on('pageerror', (e) => errors.push(e.message));
  try {
    const zip = join(tmp, 'shoelace.reel.zip');
    execFileSync(REEL, ['pack', join(ROOT, 'tests/fixtures/rrweb/shoelace.json'), '-o', zip]);
    const files = [
      ['checkout.json', readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json')).toString('base64'), 'application/json'],
      ['shoelace.reel.zip', readFileSync(zip).toString('base64'), 'application/zip'],
      ['again.json', readFileSync(join(ROOT, 'tests/fixtures/rrweb/checkout.json')).toString('base64'), 'application/json'],
      ['notes.txt', Buffer.from('not a recording').toString('base64'), 'text/plain'],
    ];
    await signedIn(tab, server.url, ADMIN);
    await tab.waitForSelector('.first-steps');
    // A real drag: dragenter shows the drop target, drop hands over the files.
    const dt = await tab.evaluateHandle((list) => {
      const d = new DataTransfer();
      for (const [name, b64, type] of list) d.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type }));
      return d;
    }, files);
    await tab.dispatchEvent('main', 'dragenter', { dataTransfer: dt });
    assert.equal(await tab.isVisible('.drop-overlay'), true, 'the page says where to drop');
    await tab.dispatchEvent('main', 'drop', { dataTransfer: dt });
    assert.equal(await tab.isVisible('.drop-overlay'), false);
    await tab.waitForFunction(() => document.querySelectorAll('.import-file.ok, .import-file.failed').length === 4);
    const lines = await tab.$$eval('.import-file', (els) => els.map((e) => [e.querySelector('strong').textContent, e.className, e.querySelector('.import-status').textContent]));
    assert.equal(lines[0][0], 'checkout.json');
    assert.match(lines[0][1], /ok/);
    assert.match(lines[0][2], /imported · rrweb JSON array · 1 session, \d+ new events/);
    assert.match(lines[1][2], /imported · reel package · 1 session/);
    assert.match(lines[2][2], /already stored/);
    assert.match(lines[3][1], /failed/);
    assert.ok(lines[3][2].length > 10 && !/HTTP/.test(lines[3][2]), `a reason, not a code: ${lines[3][2]}`);
    // The list reloaded with both recordings; nothing stored twice.
    await tab.waitForFunction(() => document.querySelectorAll('tbody tr.row').length === 2);
    assert.equal((await api(server, '/api/v1/sessions')).results.length, 2);

    // The button: same path through a file picker.
    const [chooser] = await Promise.all([tab.waitForEvent('filechooser'), tab.click('button:text("Import files…")')]);
    await chooser.setFiles({ name: 'swagger.json', mimeType: 'application/json', buffer: readFileSync(join(ROOT, 'tests/fixtures/rrweb/swagger.json')) });
    await tab.waitForFunction(() => [...document.querySelectorAll('.import-file')].some((e) => e.textContent.includes('swagger.json') && e.classList.contains('ok')));
    assert.equal((await api(server, '/api/v1/sessions')).results.length, 3);
    // The source filter: every source with its count, and the list narrowed to one.
    const { results: sources } = await api(server, '/api/v1/sources');
    assert.equal(sources.reduce((n, x) => n + x.sessions, 0), 3);
    for (const x of sources) assert.equal((await api(server, `/api/v1/sessions?source=${encodeURIComponent(x.source)}`)).total, x.sessions, x.source);
    assert.equal((await api(server, '/api/v1/sessions?source=no-such-source')).total, 0);
    await tab.waitForSelector(`select[name=source] option[value="${sources[0].source}"]`, { state: 'attached' });
    await tab.selectOption('select[name=source]', sources[0].source);
    await tab.click('form.filters button[type=submit]');
    await tab.waitForSelector(`main .status:text("${sources[0].sessions} of ${sources[0].sessions} session")`);
    assert.match(tab.url(), new RegExp(`source=${encodeURIComponent(sources[0].source)}`));
    assert.deepEqual(errors, []);
  } finally { await tab.close(); await server.stop(); server.cleanup(); rmSync(tmp, { recursive: true, force: true }); }
});
