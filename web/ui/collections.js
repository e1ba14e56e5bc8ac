// Reel web UI: collections — named lists of recordings (`#/c`, `#/c/<id>`), the control that adds sessions to one, and
// the list's bulk actions (add to a collection, export one .reel.zip, delete with confirmation). Plain DOM.
import { api, h, fmtDuration } from './api.js';

const json = (body) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
const enc = encodeURIComponent;

/** Save a response body as a file. */
async function saveAs(res, fallback) {
  const m = (res.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
  const a = h('a', { href: URL.createObjectURL(await res.blob()), download: m ? m[1] : fallback });
  document.body.append(a); a.click(); a.remove();
}

let asking = null;
/** Every collection of the project (for pickers and the list's filter); callers at the same moment share one request. */
export function allCollections() {
  if (!asking) {
    asking = api('/api/v1/collections').then((r) => r.json()).then((d) => d.results).finally(() => { asking = null; });
  }
  return asking;
}

/**
 * "Add to collection": pick one (or name a new one) and add `ids()` to it. `done(message)` reports the result.
 * @param {() => string[]} ids @param {(msg: string) => void} done
 */
export function addControl(ids, done) {
  const NEW = '__new__';
  const select = h('select', { name: 'collection', 'aria-label': 'Collection' }, h('option', { value: '' }, 'Add to collection…'));
  const name = h('input', { name: 'new-collection', placeholder: 'New collection name', 'aria-label': 'New collection name', hidden: true, maxlength: 200 });
  const fill = async () => {
    const list = await allCollections().catch(() => []);
    select.replaceChildren(h('option', { value: '' }, 'Add to collection…'),
      ...list.map((c) => h('option', { value: c.id }, `${c.name} (${c.session_count})`)), h('option', { value: NEW }, 'New collection…'));
  };
  select.addEventListener('change', () => { name.hidden = select.value !== NEW; if (!name.hidden) name.focus(); });
  const form = h('form', { class: 'add-to-collection', onsubmit: async (e) => {
    e.preventDefault();
    const sessionIds = ids();
    if (!sessionIds.length) return done('Select sessions first.');
    try {
      let id = select.value, label = select.selectedOptions[0]?.textContent || '';
      if (!id) return done('Choose a collection.');
      if (id === NEW) {
        const c = await (await api('/api/v1/collections', json({ name: name.value, session_ids: sessionIds }))).json();
        id = c.id; label = c.name;
        done(`Created “${c.name}” with ${c.added} session(s).`);
      } else {
        const r = await (await api(`/api/v1/collections/${enc(id)}/sessions`, json({ session_ids: sessionIds }))).json();
        done(`Added ${r.added} to ${label.replace(/ \(\d+\)$/, '')}${r.already ? ` (${r.already} already in it)` : ''}${r.unknown.length ? `; ${r.unknown.length} no longer exist` : ''}.`);
      }
      name.value = ''; name.hidden = true;
      await fill();
      select.value = id;
    } catch (err) { done(err.message); }
  } }, select, name, h('button', { type: 'submit' }, 'Add'));
  fill();
  return form;
}

/**
 * The sessions list's bulk bar: shown while rows are selected. `selected()` gives the ids; `after()` reloads the list.
 * @param {() => string[]} selected @param {() => void} after
 */
export function bulkBar(selected, after) {
  const count = h('strong', { class: 'bulk-count' });
  const status = h('span', { class: 'status', role: 'status' });
  const say = (m) => { status.textContent = m; };
  const confirmBox = h('span', { class: 'bulk-confirm', hidden: true });
  const del = h('button', { type: 'button', class: 'danger', onclick: () => {
    const ids = selected();
    confirmBox.replaceChildren(`Delete ${ids.length} session(s) everywhere? This cannot be undone. `,
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        confirmBox.hidden = true;
        let n = 0;
        for (const id of ids) {
          try { await api(`/api/v1/sessions/${enc(id)}`, { method: 'DELETE' }); n++; say(`Deleting… ${n} of ${ids.length}`); } catch (err) { if (err.status !== 404) { say(`${err.message} (after ${n} deleted)`); return; } }
        }
        say(`Deleted ${n} session(s).`);
        after();
      } }, `Delete ${ids.length}`),
      h('button', { type: 'button', onclick: () => { confirmBox.hidden = true; } }, 'Cancel'));
    confirmBox.hidden = false;
  } }, 'Delete…');
  const bar = h('div', { class: 'bulk', hidden: true, role: 'region', 'aria-label': 'Selected sessions' },
    count, addControl(selected, say),
    h('button', { type: 'button', onclick: async () => {
      say('Packing…');
      try { await saveAs(await api('/api/v1/export', json({ session_ids: selected() })), 'sessions.reel.zip'); say('Exported.'); } catch (err) { say(err.message); }
    } }, 'Export .reel.zip'), del, confirmBox, status);
  return {
    bar,
    /** Show or hide the bar for `n` selected rows. */
    update(n) { bar.hidden = n === 0; count.textContent = `${n} selected`; if (!n) { confirmBox.hidden = true; } },
  };
}

/** The collections a session is in (`initial`: the session's `collections`), and the control to add it to one. */
export function sessionCollections(id, initial) {
  const chips = h('span', { class: 'chips' });
  const status = h('span', { class: 'status', role: 'status' });
  const show = (list) => chips.replaceChildren(...(list.length ? list.map((c) => h('a', { class: 'chip', href: `#/c/${enc(c.id)}` }, c.name))
    : [h('span', { class: 'hint' }, 'In no collection.')]));
  const reload = async () => show((await (await api(`/api/v1/sessions/${enc(id)}`)).json()).collections || []);
  const box = h('section', { class: 'session-collections', 'aria-label': 'Collections' }, h('h3', {}, 'Collections'), chips,
    addControl(() => [id], (m) => { status.textContent = m; reload().catch(() => {}); }), status);
  show(initial || []);
  return box;
}

/** `#/c`: the collections, and a form to make one. */
export async function collectionsPage({ app, header, signIn }) {
  const main = h('main', { class: 'collections' });
  app.replaceChildren(header(), main);
  main.append(h('h2', {}, 'Collections'));
  let list;
  try { list = await allCollections(); } catch (err) { if (err.status === 401) return signIn(err.message); main.append(h('p', { class: 'error' }, err.message)); return; }
  const status = h('p', { class: 'status', role: 'status' });
  const form = h('form', { class: 'new-collection', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const c = await (await api('/api/v1/collections', json({ name: e.target.elements.name.value, description: e.target.elements.description.value }))).json();
      location.hash = `#/c/${enc(c.id)}`;
    } catch (err) { status.textContent = err.message; }
  } }, h('label', {}, 'Name ', h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'Checkout bugs' })),
  h('label', {}, 'Description ', h('input', { name: 'description', maxlength: 2000, placeholder: 'optional' })),
  h('button', { type: 'submit' }, 'New collection'));
  main.append(form, status);
  if (!list.length) {
    main.append(h('p', { class: 'first-steps' }, 'No collections yet. Name one above, or select sessions in the ',
      h('a', { href: '#/' }, 'list'), ' and choose “Add to collection…”.'));
    return;
  }
  main.append(h('table', { class: 'sessions' }, h('thead', {}, h('tr', {}, ...['Name', 'Sessions', 'Changed', 'Description'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...list.map((c) => h('tr', { class: 'row', onclick: () => { location.hash = `#/c/${enc(c.id)}`; } },
      h('td', {}, h('a', { href: `#/c/${enc(c.id)}` }, c.name)), h('td', {}, String(c.session_count)),
      h('td', {}, new Date(c.updated_at).toLocaleString()), h('td', { class: 'url' }, c.description || ''))))));
}

/** `#/c/<id>`: a collection — its sessions, rename, share links, export, delete. */
export async function collectionPage(id, { app, header, signIn }) {
  const main = h('main', { class: 'collection' });
  app.replaceChildren(header(), main);
  let c;
  try { c = await (await api(`/api/v1/collections/${enc(id)}`)).json(); } catch (err) {
    if (err.status === 401) return signIn(err.message);
    main.append(h('p', { class: 'error' }, err.message), h('a', { href: '#/c' }, 'All collections')); return;
  }
  const status = h('p', { class: 'status', role: 'status' });
  const say = (m) => { status.textContent = m; };
  const title = h('h2', {}, c.name);
  const rename = h('form', { class: 'rename', hidden: true, onsubmit: async (e) => {
    e.preventDefault();
    try {
      c = await (await api(`/api/v1/collections/${enc(id)}`, { ...json({ name: e.target.elements.name.value, description: e.target.elements.description.value }), method: 'PATCH' })).json();
      title.textContent = c.name; desc.textContent = c.description; rename.hidden = true; say('Saved.');
    } catch (err) { say(err.message); }
  } }, h('label', {}, 'Name ', h('input', { name: 'name', required: true, maxlength: 200, value: c.name })),
  h('label', {}, 'Description ', h('input', { name: 'description', maxlength: 2000, value: c.description })),
  h('button', { type: 'submit' }, 'Save'));
  const desc = h('p', { class: 'hint' }, c.description);
  // The sessions, oldest first (the order a collection share plays them in).
  const rows = h('tbody');
  const shownRows = [];
  const listed = await (await api(`/api/v1/sessions?collection=${enc(id)}&limit=500`)).json();
  for (const s of listed.results) {
    shownRows.push(s);
    rows.append(h('tr', { class: 'row' },
      h('td', {}, h('a', { href: `#/s/${enc(s.id)}` }, new Date(s.start_time).toLocaleString())),
      h('td', {}, s.distinct_id || '—'), h('td', { class: 'url' }, s.start_url || '—'), h('td', {}, fmtDuration(s.recording_duration)),
      h('td', {}, h('button', { type: 'button', 'aria-label': `Remove ${s.id} from the collection`, onclick: async (e) => {
        await api(`/api/v1/collections/${enc(id)}/sessions/${enc(s.id)}`, { method: 'DELETE' });
        e.target.closest('tr').remove(); say('Removed from the collection (the recording is kept).');
      } }, 'Remove'))));
  }
  const table = h('table', { class: 'sessions' }, h('thead', {}, h('tr', {}, ...['Started', 'Person', 'First page', 'Duration', ''].map((t) => h('th', {}, t)))), rows);
  // Share links for the whole collection (same rules as a session's: unguessable, expiring, revocable).
  const shares = h('ul', { class: 'shares' });
  const shareBox = h('div', { class: 'share-result' });
  async function loadShares() {
    const data = await (await api(`/api/v1/collections/${enc(id)}/shares`)).json();
    shares.replaceChildren(...data.results.map((x) => h('li', {}, `share ${x.id.slice(-8)} · created ${new Date(x.created_ms).toLocaleString()}`,
      x.expires_ms ? ` · expires ${new Date(x.expires_ms).toLocaleString()}` : '', x.revoked_ms ? ' · revoked' : ' ',
      x.revoked_ms ? null : h('button', { type: 'button', onclick: async () => { await api(`/api/v1/shares/${x.id}`, { method: 'DELETE' }); loadShares(); } }, 'Revoke'))));
  }
  const expiry = h('select', { name: 'expiry', 'aria-label': 'Link expires' }, h('option', { value: '86400' }, 'for 1 day'), h('option', { value: '604800', selected: true }, 'for 7 days'), h('option', { value: '' }, 'until revoked'));
  const confirmDelete = h('span', { hidden: true }, 'Delete this collection? Its recordings are kept; its share links stop working. ',
    h('button', { type: 'button', class: 'danger', onclick: async () => {
      await api(`/api/v1/collections/${enc(id)}`, { method: 'DELETE' }); location.hash = '#/c';
    } }, 'Delete collection'), h('button', { type: 'button', onclick: () => { confirmDelete.hidden = true; } }, 'Cancel'));
  const actions = h('div', { class: 'actions' },
    h('button', { type: 'button', onclick: () => { rename.hidden = !rename.hidden; } }, 'Rename…'),
    h('button', { type: 'button', disabled: !shownRows.length, onclick: async () => {
      say('Packing…');
      try { await saveAs(await api(`/api/v1/collections/${enc(id)}/export`), 'collection.reel.zip'); say('Exported.'); } catch (err) { say(err.message); }
    } }, 'Export .reel.zip'),
    h('button', { type: 'button', onclick: async () => {
      try {
        const x = await (await api(`/api/v1/collections/${enc(id)}/shares`, json(expiry.value ? { expires_in_seconds: Number(expiry.value) } : {}))).json();
        const url = new URL(x.url, location.href).href;
        shareBox.replaceChildren(h('p', {}, h('label', {}, 'Link to the collection: ', h('input', { readonly: true, value: url, size: 60, class: 'share-url' }))));
        loadShares();
      } catch (err) { say(err.message); }
    } }, 'Share collection'), expiry,
    h('button', { type: 'button', class: 'danger', onclick: () => { confirmDelete.hidden = false; } }, 'Delete…'), confirmDelete);
  main.append(h('p', {}, h('a', { href: '#/c' }, '← All collections')), title, desc, rename, actions, status, shareBox,
    h('h3', {}, `Sessions (${c.session_count})`), listed.has_next ? h('p', { class: 'hint' }, 'The newest 500 are shown.') : null,
    shownRows.length ? table : h('p', { class: 'first-steps' }, 'Empty. Select sessions in the ', h('a', { href: '#/' }, 'list'), ' and add them here, or use “Add to collection…” on a session page.'),
    h('p', {}, h('a', { href: `#/?collection=${enc(id)}` }, 'Open these sessions in the list (filter, sort)')),
    h('h3', {}, 'Share links'), shares);
  loadShares().catch(() => {});
}
