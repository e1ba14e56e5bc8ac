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
