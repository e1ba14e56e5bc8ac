// Renders web/player/docs-screenshot.png: the player on the PostHog checkout fixture with the
// console, network and DOM panels open. Usage: node web/player/bench/screenshot.mjs
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, newPage, closeBrowser, playerPage } from '../test/helpers.mjs';
import { PLAYER_DIR } from '../test/inline.mjs';

const events = JSON.parse(await readFile(join(PLAYER_DIR, 'test', 'fixtures', 'posthog-checkout.json'), 'utf8'));
const t0 = events[0].timestamp;
events.push({ type: 6, data: { plugin: 'rrweb/console@1', payload: { level: 'error', trace: ['pay (checkout.html:120:9)'], payload: ['"TypeError: cannot read properties of undefined (reading \'brand\')"'] } }, timestamp: t0 + 29500 });
events.sort((a, b) => a.timestamp - b.timestamp);
const srv = await serve({ '/s.html': playerPage(`window.p = await ReelPlayer.mount(document.getElementById('app'), { events: window.__events, hash: false, openPanels: ['console', 'network', 'dom'] });`) });
const { page } = await newPage(srv.base, { viewport: { width: 1600, height: 960 } });
await page.addInitScript((evs) => { window.__events = evs; }, events);
await page.goto(srv.base + '/s.html');
await page.evaluate(() => window.__ready);
await page.evaluate(async () => {
  p.seek(31000);
  p.panels.findSelector('#card');
  await new Promise((r) => setTimeout(r, 300));
});
await page.screenshot({ path: join(PLAYER_DIR, 'docs-screenshot.png') });
await closeBrowser();
await srv.close();
console.log('wrote web/player/docs-screenshot.png');
