// The web UI's pages with realistic content, for the layout test (e2e/ui-layout.test.mjs) and for the screenshots in
// docs/ui/ (scripts/ui-screenshots.mjs): three real recordings imported, a collection, a comment, a share link.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, ROOT, ADMIN } from './server.mjs';

const JSON_H = { 'Content-Type': 'application/json' };

/** Import the rrweb fixtures and organise them a little; returns ids for the pages. */
export async function seed(server) {
  const ids = [];
  for (const name of ['checkout', 'shoelace', 'swagger']) {
    const r = await api(server, '/api/v1/import', { method: 'POST', body: readFileSync(join(ROOT, `tests/fixtures/rrweb/${name}.json`)) });
    ids.push(r.sessions[0]);
  }
  const coll = await api(server, '/api/v1/collections', { method: 'POST', headers: JSON_H, body: JSON.stringify({ name: 'Checkout bugs', description: 'Sessions to look at before the release', session_ids: ids.slice(0, 2) }) });
  await api(server, `/api/v1/sessions/${encodeURIComponent(ids[0])}/comments`, { method: 'POST', headers: JSON_H, body: JSON.stringify({ at: 2, text: 'The pay button does nothing here', author: 'ana' }) });
  const share = await api(server, `/api/v1/collections/${coll.id}/shares`, { method: 'POST', headers: JSON_H, body: '{}' });
  const person = (await api(server, `/api/v1/sessions/${encodeURIComponent(ids[0])}`)).distinct_id;
  return { ids, collection: coll.id, shareUrl: server.url + share.url, person };
}

/** [name, path after the server's URL (or a full URL), selector that says the page is ready]. */
export function pages(s) {
  const list = [
    ['sessions', '/#/', 'tbody tr.row'],
    ['session', `/#/s/${encodeURIComponent(s.ids[0])}`, '.reel-timeline'],
    ['collections', '/#/c', 'main.collections tbody tr'],
    ['collection', `/#/c/${s.collection}`, 'main.collection tbody tr'],
    ['collection-share', s.shareUrl, '.collection-list li'],
    ['settings', '/#/settings', 'main.settings .card'],
  ];
  if (s.person) list.push(['person', `/#/p/${encodeURIComponent(s.person)}`, 'main.person tbody tr']);
  return list;
}

/** Open `path` signed in (admin token in this browser) and wait for `ready`. */
export async function open(tab, server, path, ready) {
  if (!path.startsWith('http')) {
    await tab.goto(`${server.url}/ui/icon.svg`);
    await tab.evaluate((t) => localStorage.setItem('reel.adminToken', t), ADMIN);
  }
  await tab.goto(path.startsWith('http') ? path : server.url + path);
  await tab.waitForSelector(ready);
}
