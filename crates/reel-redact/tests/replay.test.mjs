// The redacted checkout recording still plays in rrweb's Replayer (headless Chromium), and the
// replayed page holds no canary.
//
//   node --test crates/reel-redact/tests/replay.test.mjs
//
// Uses the `reel` binary from $REEL, else $CARGO_TARGET_DIR/debug/reel, else target/debug/reel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const { launch } = await import(join(repo, 'e2e/browser.mjs'));

function reelBinary() {
  const candidates = [
    process.env.REEL,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug/reel'),
    join(repo, 'target/debug/reel'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no reel binary; build it (cargo build -p reel) or set REEL (tried ${candidates.join(', ')})`);
  return found;
}

const RULES = `
name = "replay test"
mask_text = [".secret"]
[mask_inputs]
all = true
[patterns]
builtin = ["email", "card", "phone"]
[[patterns.custom]]
name = "person name"
regex = 'Zelda Canary'
[[patterns.custom]]
name = "address"
regex = '42 Canary Wharf Lane, Springfield'
`;

const CANARIES = ['Zelda Canary', 'zelda.canary@example.com', '4111 1111 1111 1111', '+1-555-0142',
  '42 Canary Wharf', 'SECRET-CANARY-7731'];

test('redacted checkout replays in rrweb without errors and shows no canary', async () => {
  const reel = reelBinary();
  const dir = mkdtempSync(join(tmpdir(), 'reel-replay-'));
  writeFileSync(join(dir, 'rules.toml'), RULES);
  const pkg = join(dir, 'out.reel.zip');
  execFileSync(reel, ['redact', join(here, 'fixtures/checkout.json'), '--rules', join(dir, 'rules.toml'), '-o', pkg], { stdio: 'pipe' });
  execFileSync(reel, ['verify', pkg], { stdio: 'pipe' });
  const json = join(dir, 'events.json');
  execFileSync(reel, ['convert', pkg, '--to', 'rrweb', '-o', json], { stdio: 'pipe' });
  const text = readFileSync(json, 'utf8');
  const events = JSON.parse(text);
  assert.ok(Array.isArray(events) && events.length > 200);
  for (const c of CANARIES) assert.ok(!text.includes(c), `${c} in converted events`);

  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The recorded page's own images and styles pointed at a server that is gone: not replay errors.
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    await page.setContent('<!doctype html><html><body><div id="root"></div></body></html>');
    await page.addScriptTag({ path: join(repo, 'node_modules/@rrweb/replay/dist/replay.umd.min.cjs') });
    const result = await page.evaluate(async (evs) => {
      const warnings = [];
      const r = new rrwebReplay.Replayer(evs, {
        root: document.getElementById('root'),
        showWarning: true,
        logger: { log: () => {}, warn: (...a) => warnings.push(a.join(' ')) },
      });
      const total = r.getMetaData().totalTime;
      r.pause(total); // apply every event synchronously
      await new Promise((ok) => setTimeout(ok, 200));
      const doc = r.iframe.contentDocument;
      return {
        total,
        html: doc.documentElement.outerHTML,
        secret: doc.querySelector('.secret')?.textContent ?? null,
        warnings,
      };
    }, events);
    assert.deepEqual(errors, [], 'no page errors');
    assert.ok(result.total > 30000, `plays ${result.total} ms`);
    assert.ok(result.secret && !result.secret.includes('SECRET'), `secret masked: ${result.secret}`);
    for (const c of CANARIES) assert.ok(!result.html.includes(c), `${c} in the replayed page`);
    const notFound = result.warnings.filter((w) => /not found|Node with id/i.test(w));
    assert.deepEqual(notFound, [], 'no missing-node warnings');
  } finally {
    await browser.close();
  }
});
