// The player's entry points from the binary: `reel export --html` (one self-contained file that
// plays from disk with the network off) and `reel play` (serves the player and prints the URL).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './browser.mjs';
import { REEL, ROOT } from './server.mjs';

const browser = await launch();
after(() => browser.close());
const dir = mkdtempSync(join(tmpdir(), 'reel-html-'));
const pkg = join(dir, 'checkout.reel.zip');
execFileSync(REEL, ['pack', join(ROOT, 'tests/fixtures/rrweb/checkout.json'), '-o', pkg]);

test('reel export --html plays from disk with the network off, at #t=', async () => {
  const out = join(dir, 'session.html');
  execFileSync(REEL, ['export', '--html', pkg, '-o', out]);
  const ctx = await browser.newContext();
  await ctx.setOffline(true);
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:') && !r.url().startsWith('blob:') && !r.url().startsWith('about:')) requests.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`file://${out}#t=20`);
  await page.waitForFunction(() => window.reel && window.reel.time != null, null, { timeout: 20000 });
  const t = await page.evaluate(() => window.reel.time);
  assert.ok(Math.abs(t - 20000) < 1500, `opened at 20 s, got ${t}`);
  const text = await page.evaluate(() => document.querySelector('iframe').contentDocument.body.innerText);
  assert.match(text, /Checkout|checkout/i);
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('reel export --html without input is the standalone player; reel play serves a package', async () => {
  const out = join(dir, 'player.html');
  execFileSync(REEL, ['export', '--html', '-o', out]);
  const page = await browser.newPage();
  await page.goto(`file://${out}`);
  await page.setInputFiles('#file', pkg);
  await page.waitForFunction(() => window.reel && document.querySelector('iframe'), null, { timeout: 20000 });
  await page.close();

  const proc = spawn(REEL, ['play', pkg], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((res) => proc.stdout.once('data', (d) => res(String(d).trim())));
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const p2 = await browser.newPage();
  await p2.goto(url);
  await p2.waitForFunction(() => window.reel && document.querySelector('iframe'), null, { timeout: 20000 });
  await p2.close();
  proc.kill('SIGTERM');
});

async function finalHtml(file) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`file://${file}`);
  await page.waitForFunction(() => window.reel && window.reel.duration > 0, null, { timeout: 20000 });
  await page.evaluate(() => window.reel.seek(window.reel.duration));
  await page.waitForTimeout(300);
  const html = await page.evaluate(() => {
    const d = document.querySelector('iframe').contentDocument;
    return d.documentElement.outerHTML + [...d.querySelectorAll('input,textarea')].map((i) => i.value).join('|');
  });
  await page.close();
  return { html, errors };
}

test('a redacted package plays in Reel player with the canaries gone', async () => {
  const plain = join(dir, 'plain.html');
  execFileSync(REEL, ['export', '--html', pkg, '-o', plain]);
  const before = await finalHtml(plain);
  // What the default preset removes (a plain name is not a pattern it knows).
  const canaries = ['zelda.canary@example.com', '+1-555-0142'];
  for (const c of canaries) assert.ok(before.html.includes(c), `the unredacted replay shows ${c}`);
  const red = join(dir, 'red.reel.zip');
  execFileSync(REEL, ['redact', pkg, '--preset', 'default', '-o', red], { stdio: 'ignore' });
  const out = join(dir, 'red.html');
  execFileSync(REEL, ['export', '--html', red, '-o', out]);
  const after = await finalHtml(out);
  assert.match(after.html, /Checkout|checkout/i, 'the page is still there');
  for (const c of canaries) assert.ok(!after.html.includes(c), c);
  assert.deepEqual(after.errors, []);
});
