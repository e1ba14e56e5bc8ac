// Shared launcher for Reel's browser tests: Debian's Chromium, headless, driven by playwright-core.
// Never downloads a browser; set CHROMIUM to use another binary.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Launch headless Chromium with the flags this machine needs (and `extra` ones). @param {string[]} [extra] */
export async function launch(extra = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra,
    ],
  });
}

/**
 * Collect what a page reports as wrong: console errors, uncaught exceptions and responses of 400 or more (a page that
 * works logs none). @param {import('playwright-core').Page} tab @returns {string[]}
 */
export function pageErrors(tab) {
  const errors = [];
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  tab.on('pageerror', (e) => errors.push(e.message));
  tab.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  return errors;
}

/** Open the web UI at `url` signed in with `token` (kept in the page's localStorage), at `hash`. */
export async function signedIn(tab, url, token, hash = '#/') {
  await tab.goto(`${url}/`);
  await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), token);
  await tab.goto(`${url}/${hash}`);
}
