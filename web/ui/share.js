// Share and embed pages: the player only, reading what the token opens — one session, or a whole collection (a list
// of its sessions beside the player; `#s=<id>` names the one playing, so a link can point at it).
import { h, windowsFrom, fmtDuration, applyTheme } from './api.js';
import { ReelPlayer } from '/player/index.js';

const app = document.getElementById('app');
const base = location.pathname.replace(/^\/(share|embed)\//, '/share/');
const embed = document.body.dataset.mode === 'embed';
const GONE = 'This link does not exist, has expired or was revoked.';
let mounted = null;
applyTheme();

/** Mount the player on `stage` for one session (`session`: only for a collection's link). */
async function play(stage, session) {
  const q = session ? `&session=${encodeURIComponent(session)}` : '';
  const res = await fetch(`${base}/events?format=jsonl${q}`);
  if (!res.ok) { stage.replaceChildren(h('p', { class: 'error' }, GONE)); return; }
  const windows = await windowsFrom(res);
  // Key moments as timeline markers (and the moments panel on the share page), as the session page shows them.
  const moments = await fetch(`${base}/moments${session ? `?session=${encodeURIComponent(session)}` : ''}`)
    .then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const panel = moments && moments.moments && moments.moments.length ? 'moments' : 'console';
  // Assets the server kept (--capture-assets): images, fonts and stylesheets as recorded.
  const map = await fetch(`${base}/assets${session ? `?session=${encodeURIComponent(session)}` : ''}`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const assets = map && Object.keys(map).length ? { map, href: (/** @type {string} */ sha) => `${base}/assets/${sha}${q.replace('&', '?')}` } : undefined;
  if (mounted) mounted.destroy?.();
  stage.replaceChildren();
  mounted = await ReelPlayer.mount(stage, { windows, moments, assets, openPanels: embed ? [] : [panel] });
}

async function collection(meta) {
  const { name, description } = meta.collection;
  const sessions = meta.sessions || [];
  if (!embed) {
    app.append(h('header', {}, h('span', { class: 'brand' }, 'Reel'), h('span', { class: 'grow' }), name));
    if (description) app.append(h('p', { class: 'hint collection-description' }, description));
  }
  if (!sessions.length) { app.append(h('p', { class: 'empty' }, 'This collection has no recordings.')); return; }
  const stage = h('div', { class: 'stage' });
  const items = sessions.map((s, i) => h('li', {},
    h('button', { type: 'button', class: 'link', 'data-id': s.id, onclick: () => { location.hash = `s=${encodeURIComponent(s.id)}`; } },
      `${i + 1}. ${new Date(s.start_time).toLocaleString()} · ${fmtDuration(s.recording_duration)}`),
    s.start_url ? h('div', { class: 'hint' }, s.start_url) : null));
  const nav = h('nav', { class: 'collection-list', 'aria-label': `Recordings in ${name}` },
    h('h2', {}, `${sessions.length} recording${sessions.length === 1 ? '' : 's'}`), h('ol', {}, ...items));
  app.append(h('div', { class: 'collection-share' }, nav, stage));
  let playing = null;
  const show = async () => {
    // `#s=<id>`, maybe followed by the player's own `&t=<seconds>` (a deep link into that session).
    const want = decodeURIComponent((location.hash.match(/^#s=([^&]+)/) || [])[1] || '');
    const current = sessions.find((s) => s.id === want) || sessions[0];
    if (current.id === playing) return;
    playing = current.id;
    for (const b of nav.querySelectorAll('button')) {
      if (b.dataset.id === current.id) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
    }
    await play(stage, current.id);
  };
  window.addEventListener('hashchange', () => { show().catch(fail); });
  await show();
}

function fail(e) { app.replaceChildren(h('p', { class: 'error' }, String(e))); }

async function main() {
  const metaRes = await fetch(`${base}/meta`);
  if (!metaRes.ok) { app.replaceChildren(h('p', { class: 'error' }, GONE)); return; }
  const meta = await metaRes.json();
  if (meta.collection) { await collection(meta); return; }
  if (!embed) app.append(h('header', {}, h('span', { class: 'brand' }, 'Reel'), h('span', { class: 'grow' }), meta.start_url || ''));
  const stage = h('div', { class: 'stage' });
  app.append(stage);
  await play(stage, null);
}
main().catch(fail);
