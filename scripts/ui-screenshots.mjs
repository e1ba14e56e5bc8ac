#!/usr/bin/env node
// Screenshots of the web UI for docs/ui/ and the README: every page of e2e/ui-pages.mjs at 1440x900 and 375x812, light
// and dark (the list and a session, desktop only). Needs a built `reel` (REEL_BIN, default target/debug/reel) and Chromium; writes docs/ui/<page>-<width>x<height>[-dark].png.
//   node scripts/ui-screenshots.mjs
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from '../e2e/browser.mjs';
import { startReel, ROOT } from '../e2e/server.mjs';
import { seed, pages, open } from '../e2e/ui-pages.mjs';

const out = join(ROOT, 'docs/ui');
mkdirSync(out, { recursive: true });
const browser = await launch();
const server = await startReel({ mode: 'embedded' });
try {
  const s = await seed(server);
  for (const theme of ['light', 'dark']) {
    for (const [w, hgt] of theme === 'dark' ? [[1440, 900]] : [[1440, 900], [375, 812]]) {
      const ctx = await browser.newContext({ viewport: { width: w, height: hgt }, colorScheme: theme });
      const tab = await ctx.newPage();
      for (const [name, path, ready] of pages(s)) {
        if (theme === 'dark' && !['sessions', 'session'].includes(name)) continue;
        await open(tab, server, path, ready);
        await tab.waitForTimeout(400);
        const file = join(out, `${name}-${w}x${hgt}${theme === "dark" ? "-dark" : ""}.png`);
        await tab.screenshot({ path: file });
        console.log(file);
      }
      await ctx.close();
    }
  }
} finally { await server.stop(); server.cleanup(); await browser.close(); }
