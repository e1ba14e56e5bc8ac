// The whole chain with Reel's own parts: reel.js served by `reel serve` records a page across a
// reload, the session is stored, exported as a package, and plays in Reel's player (the offline
// HTML) and in rrweb's Replayer with the page's text — and no typed value ever reached the server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { startReel, api, servePages, waitFor, CAPTURE, REEL, ROOT } from './server.mjs';

const browser = await launch();
after(() => browser.close());

test('reel.js → reel serve → .reel.zip → Reel player and rrweb Replayer', async () => {
  const server = await startReel({ mode: 'embedded' });
  const page = await `<!doctype html><html><head><title>Chain</title>
    <script src="${server.url}/static/reel.js"></script>
    <script>reel.init({ apiHost: '${server.url}', token: '${CAPTURE}', flushIntervalMs: 300 });</script></head>
    <body><h1>Order form</h1><input id="card" value=""><p class="rr-mask">masked note</p>
    <button id="add" onclick="const li=document.createElement('li');li.textContent='item '+(document.querySelectorAll('li').length+1);document.getElementById('list').append(li)">Add</button>
    <ul id="list"></ul></body></html>`;
  const site = await servePages({ '/chain.html': page });
  const tab = await browser.newPage();
  try {
    await tab.goto(`${site.url}/chain.html`);
    await tab.waitForFunction(() => window.reel && window.reel.sessionId);
    const sid = await tab.evaluate(() => window.reel.sessionId);
    await tab.click('#card'); await tab.keyboard.type('4111111111111111', { delay: 10 });
    await tab.click('#add'); await tab.click('#add');
    await tab.evaluate(() => window.reel.flush());
    await tab.reload();
    await tab.waitForFunction(() => window.reel && window.reel.sessionId);
    assert.equal(await tab.evaluate(() => window.reel.sessionId), sid, 'the session survives a reload');
    for (let i = 0; i < 3; i++) await tab.click('#add');
    await tab.evaluate(() => window.reel.flush());
    const s = await waitFor(async () => { const r = await api(server, `/api/v1/sessions/${sid}`); return r.click_count >= 5 ? r : null; }, { what: 'the reel.js session' });
    assert.equal(s.lib, 'reel-js');
    const events = await api(server, `/api/v1/sessions/${sid}/events`);
    const text = JSON.stringify(events);
    assert.ok(!text.includes('4111111111111111') && !text.includes('4111 1111'), 'the typed card number never left the browser');
    assert.ok(!text.includes('masked note'));

    const dir = mkdtempSync(join(tmpdir(), 'reel-chain-'));
    const pkg = join(dir, 's.reel.zip');
    writeFileSync(pkg, await api(server, `/api/v1/sessions/${sid}/export`));
    execFileSync(REEL, ['verify', pkg]);
    const html = join(dir, 's.html');
    execFileSync(REEL, ['export', '--html', pkg, '-o', html]);
    const ctx = await browser.newContext();
    await ctx.setOffline(true);
    const p = await ctx.newPage();
    await p.goto(`file://${html}`);
    await p.waitForFunction(() => window.reel && window.reel.duration > 0, null, { timeout: 20000 });
    await p.evaluate(() => window.reel.seek(window.reel.duration));
    await p.waitForFunction(() => /item 3/.test(document.querySelector('iframe').contentDocument.body.innerText), null, { timeout: 10000 });
    const replayed = await p.evaluate(() => document.querySelector('iframe').contentDocument.body.innerText);
    assert.match(replayed, /Order form/);
    assert.doesNotMatch(replayed, /item 4/);
    await ctx.close();

    // rrweb's own Replayer plays the same recording.
    const r = await browser.newPage();
    await r.setContent('<div id="root"></div>');
    await r.addScriptTag({ content: readFileSync(join(ROOT, 'node_modules/@rrweb/replay/dist/replay.umd.cjs'), 'utf8') });
    const last = await r.evaluate(async (evs) => {
      const rp = new window.rrwebReplay.Replayer(evs, { root: document.getElementById('root'), showWarning: false });
      rp.pause(evs[evs.length - 1].timestamp - evs[0].timestamp + 1000);
      await new Promise((res) => setTimeout(res, 300));
      return rp.iframe.contentDocument.body.innerText;
    }, events);
    assert.match(last, /item 3/);
    await r.close();
  } finally {
    await tab.close(); await site.close(); await server.stop(); server.cleanup();
  }
});
