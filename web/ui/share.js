// Share and embed pages: the player only, reading the one session the token opens.
import { h, windowsFrom } from './api.js';
import { ReelPlayer } from '/player/index.js';

const app = document.getElementById('app');
const base = location.pathname.replace(/^\/(share|embed)\//, '/share/');
const embed = document.body.dataset.mode === 'embed';

async function main() {
  const res = await fetch(`${base}/events?format=jsonl`);
  if (!res.ok) { app.replaceChildren(h('p', { class: 'error' }, 'This link does not exist, has expired or was revoked.')); return; }
  const windows = await windowsFrom(res);
  const stage = h('div', { class: 'stage' });
  if (!embed) {
    const meta = await fetch(`${base}/meta`).then((r) => r.json()).catch(() => ({}));
    app.append(h('header', {}, h('span', { class: 'brand' }, 'Reel'), h('span', { class: 'grow' }), meta.start_url || ''));
  }
  app.append(stage);
  // Key moments as timeline markers (and the moments panel on the share page), as the session page shows them.
  const moments = await fetch(`${base}/moments`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const panel = moments && moments.moments && moments.moments.length ? 'moments' : 'console';
  // Assets the server kept (--capture-assets): images, fonts and stylesheets as recorded.
  const map = await fetch(`${base}/assets`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const assets = map && Object.keys(map).length ? { map, href: (/** @type {string} */ sha) => `${base}/assets/${sha}` } : undefined;
  await ReelPlayer.mount(stage, { windows, moments, assets, openPanels: embed ? [] : [panel] });
}
main().catch((e) => app.replaceChildren(h('p', { class: 'error' }, String(e))));
