// Reel web UI: sign in with the admin token, list and filter sessions, open one (player, facts,
// comments, export, delete, share). Plain DOM, no framework, no build step.
import { api, token, setToken, h, fmtDuration, windowsFrom, applyTheme, toggleTheme } from './api.js';
import { ReelPlayer } from '/player/index.js';
import { allCollections, bulkBar, collectionPage, collectionsPage, sessionCollections } from './collections.js';
import { importer } from './importer.js';

const app = document.getElementById('app');
let player = null;
applyTheme();

function signIn(message) {
  app.replaceChildren(h('form', { class: 'signin', onsubmit: async (e) => {
    e.preventDefault();
    setToken(e.target.elements.token.value.trim());
    try { await api('/api/v1/project'); route(); } catch (err) { setToken(''); signIn(err.message); }
  } },
  h('h1', {}, 'Reel'),
  h('p', {}, 'Sign in with the admin token that ', h('code', {}, 'reel serve'), ' printed on first start.'),
  h('input', { name: 'token', type: 'password', placeholder: 'reel_admin_…', autocomplete: 'current-password', required: true }),
  h('button', { type: 'submit' }, 'Sign in'),
  message ? h('p', { class: 'error', role: 'alert' }, message) : null));
}

function header() {
  return h('header', {}, h('a', { href: '#/' , class: 'brand' }, 'Reel'),
    h('nav', { class: 'main-nav', 'aria-label': 'Main' }, h('a', { href: '#/' }, 'Sessions'), h('a', { href: '#/c' }, 'Collections')),
    h('span', { class: 'grow' }),
    h('a', { href: '#/settings', class: 'nav-settings' }, 'Settings'),
    h('button', { type: 'button', class: 'secondary theme-toggle', title: 'Switch between the light and the dark theme', onclick: (e) => {
      e.target.textContent = toggleTheme() === 'dark' ? 'Light theme' : 'Dark theme';
    } }, document.documentElement.dataset.theme === 'dark' ? 'Light theme' : 'Dark theme'),
    h('button', { onclick: () => { setToken(''); signIn(); } }, 'Sign out'));
}

const filters = { q: '', person: '', url: '', has_errors: '', watched: '', min_duration: '', from: '', to: '', has: '', collection: '', source: '', sort: '' };

/** The list's filters live in the URL (`#/?sort=duration&q=…`): a filtered list is a link to share. */
function filtersFromUrl() {
  const m = location.hash.match(/^#\/\?(.*)$/);
  const p = new URLSearchParams(m ? m[1] : '');
  for (const k of Object.keys(filters)) filters[k] = p.get(k) || '';
}
function filtersToUrl() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) p.set(k, v);
  const qs = p.toString();
  history.replaceState(null, '', qs ? `#/?${qs}` : '#/');
}

/** The list's orders (PostHog's recording orders and the key-moment counts), descending. */
const ORDERS = [['', 'newest'], ['duration', 'longest'], ['active_seconds', 'most active time'], ['inactive_seconds', 'most inactive time'],
  ['click_count', 'most clicks'], ['keypress_count', 'most keypresses'], ['mouse_activity_count', 'most mouse activity'],
  ['console_error_count', 'most console errors'], ['activity_score', 'activity score'], ['rage_click_count', 'rage clicks'],
  ['dead_click_count', 'dead clicks'], ['error_click_count', 'error clicks'], ['network_error_count', 'failed requests']];

/** Key-moment badges of a session row (counts computed by the server at seal; docs/moments.md). */
function badges(s) {
  const b = [['rage_click_count', 'rage', 'Rage clicks'], ['dead_click_count', 'dead', 'Dead clicks'],
    ['error_click_count', 'error click', 'Clicks followed by an error'], ['network_error_count', 'net', 'Failed requests']];
  return h('td', { class: 'badges' }, ...b.filter(([k]) => s[k] > 0).map(([k, label, title]) => h('span', { class: 'badge', title }, `${s[k]} ${label}`)));
}

/** The empty list teaches: how to point Reel's recorder or unmodified posthog-js at this server (with its capture token). */
async function firstSteps() {
  const p = await api('/api/v1/project').then((r) => r.json()).catch(() => ({}));
  const host = location.origin, token = p.capture_token || 'YOUR_CAPTURE_TOKEN';
  const code = (text) => h('pre', { class: 'snippet' }, h('code', {}, text));
  return h('div', { class: 'first-steps' }, h('h3', {}, 'No recordings yet'),
    h('p', {}, 'Add one of these to the pages you want to record. The capture token can only write; recordings appear here within seconds.'),
    h('p', {}, "Reel's recorder (no dependencies):"),
    code(`<script src="${host}/static/reel.js"></script>\n<script>reel.init({ apiHost: '${host}', token: '${token}' });</script>`),
    h('p', {}, 'Or posthog-js, unmodified:'),
    code(`posthog.init('${token}', { api_host: '${host}', person_profiles: 'always' })`),
    h('p', {}, 'Or import what you have: drop PostHog exports, rrweb JSON or .reel.zip files on this page, or ', h('code', {}, 'reel push FILE --server ' + host + ' --token ADMIN_TOKEN'), ' for large ones.'));
}

async function list() {
  filtersFromUrl();
  const rows = h('tbody');
  const more = h('button', { hidden: true }, 'Load more');
  const status = h('div', { class: 'status', role: 'status' });
  let cursor = null, total = null;
  // Bulk actions over the ticked rows (add to a collection, export, delete).
  const picked = new Set();
  const bulk = bulkBar(() => [...picked], () => load(true));
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select every listed session', onchange: (e) => {
    for (const box of rows.querySelectorAll('input.pick')) { box.checked = e.target.checked; if (box.checked) picked.add(box.value); else picked.delete(box.value); }
    bulk.update(picked.size);
  } });
  async function load(reset) {
    if (reset) { rows.replaceChildren(); cursor = null; picked.clear(); all.checked = false; bulk.update(0); refreshSources(); }
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
    if (cursor) q.set('cursor', cursor);
    try {
      const data = await (await api(`/api/v1/sessions?${q}`)).json();
      for (const s of data.results) {
        rows.append(h('tr', { onclick: () => { location.hash = `#/s/${encodeURIComponent(s.id)}`; }, class: s.viewed ? 'row' : 'row unwatched', title: s.viewed ? null : 'Not watched yet' },
          h('td', { class: 'pick-cell', onclick: (e) => e.stopPropagation() }, h('input', { type: 'checkbox', class: 'pick', value: s.id, 'aria-label': `Select the session of ${new Date(s.start_time).toLocaleString()}`,
            onchange: (e) => { if (e.target.checked) picked.add(s.id); else picked.delete(s.id); bulk.update(picked.size); } })),
          // A link, so that the keyboard reaches every session (the whole row also opens it for the mouse).
          h('td', {}, h('a', { href: `#/s/${encodeURIComponent(s.id)}`, class: 'open-session', onclick: (e) => e.stopPropagation() }, new Date(s.start_time).toLocaleString())),
          h('td', {}, s.distinct_id ? personLink(s.distinct_id) : '—'),
          h('td', { class: 'url' }, s.start_url || '—'),
          h('td', {}, fmtDuration(s.recording_duration)),
          h('td', {}, String(s.click_count)),
          h('td', { class: s.console_error_count ? 'bad' : '' }, String(s.console_error_count)),
          badges(s),
          h('td', {}, String(s.event_count))));
      }
      cursor = data.next_cursor; more.hidden = !data.has_next;
      // The order the list shows: "autoplay next" on a session page follows it.
      try { sessionStorage.setItem(LIST_ORDER, JSON.stringify([...rows.querySelectorAll('input.pick')].map((b) => b.value))); } catch { /* storage off */ }
      if (data.total != null) total = data.total;
      const n = rows.children.length;
      status.textContent = n ? `${n.toLocaleString()} of ${(total ?? n).toLocaleString()} session${total === 1 ? '' : 's'}` : 'No sessions match these filters.';
      if (!rows.children.length && !Object.values(filters).some(Boolean)) status.replaceChildren(await firstSteps());
    } catch (err) { if (err.status === 401) return signIn(err.message); status.textContent = err.message; }
  }
  more.onclick = () => load(false);
  const input = (name, attrs) => h('label', {}, attrs.label, h('input', { ...attrs, label: null, name, value: filters[name],
    oninput: (e) => { filters[name] = e.target.value; } }));
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); filtersToUrl(); load(true); } },
    input('q', { label: 'Search', placeholder: 'person, URL or page title', type: 'search' }),
    input('person', { label: 'Person', placeholder: 'distinct id' }),
    input('url', { label: 'URL contains', placeholder: '/checkout' }),
    input('min_duration', { label: 'Min seconds', type: 'number', min: 0 }),
    input('from', { label: 'From', type: 'datetime-local' }),
    input('to', { label: 'To', type: 'datetime-local' }),
    h('label', {}, 'Errors', h('select', { name: 'has_errors', onchange: (e) => { filters.has_errors = e.target.value; } },
      h('option', { value: '' }, 'any'), h('option', { value: 'true', selected: filters.has_errors === 'true' }, 'with errors'),
      h('option', { value: 'false', selected: filters.has_errors === 'false' }, 'without'))),
    h('label', {}, 'Watched', h('select', { name: 'watched', onchange: (e) => { filters.watched = e.target.value; } },
      h('option', { value: '' }, 'any'), h('option', { value: 'false', selected: filters.watched === 'false' }, 'not watched'),
      h('option', { value: 'true', selected: filters.watched === 'true' }, 'watched'))),
    h('label', {}, 'Moments', h('select', { name: 'has', onchange: (e) => { filters.has = e.target.value; } },
      ...[['', 'any'], ['rage_click', 'rage clicks'], ['dead_click', 'dead clicks'], ['error_click', 'error clicks'], ['network_error', 'failed requests'], ['exception', 'exceptions']]
        .map(([v, t]) => h('option', { value: v, selected: filters.has === v }, t)))),
    collectionFilter(), h('label', {}, 'Source', sourceSelect),
    h('label', {}, 'Sort', h('select', { name: 'sort', onchange: (e) => { filters.sort = e.target.value; } },
      ...ORDERS.map(([v, t]) => h('option', { value: v, selected: filters.sort === v }, t)))),
    h('button', { type: 'submit' }, 'Filter'));
  const main = h('main', {});
  // Files dropped anywhere on the list are imported (PostHog exports, rrweb JSON, .reel.zip); the button does the same.
  const imp = importer(main, () => load(true));
  app.replaceChildren(header(), main);
  main.append(h('div', { class: 'list-head' }, h('h2', {}, 'Sessions'), imp.button), imp.results, form, bulk.bar,
    h('table', { class: 'sessions' }, h('thead', {}, h('tr', {}, h('th', {}, all), ...['Started', 'Person', 'First page', 'Duration', 'Clicks', 'Errors', 'Moments', 'Events'].map((t) => h('th', {}, t)))), rows),
    status, more);
  await load(true);
}

/** sessionStorage keys: the ids the list showed last (in order), and "the next session should start playing". */
const LIST_ORDER = 'reel.listOrder', AUTOPLAY_NOW = 'reel.autoplayNow';

/** The session after `id` in the list the admin came from, if any. */
function nextInList(id) {
  try {
    const ids = JSON.parse(sessionStorage.getItem(LIST_ORDER) || '[]');
    const i = ids.indexOf(id);
    return i >= 0 && i + 1 < ids.length ? ids[i + 1] : null;
  } catch { return null; }
}

/** The list's source filter: the recorders and import formats of the project's sessions, with counts (again after
 * each reload of the list: an import may bring a new one). */
const sourceSelect = h('select', { name: 'source', onchange: (e) => { filters.source = e.target.value; } });
function refreshSources() {
  api('/api/v1/sources').then((r) => r.json()).then((d) => {
    sourceSelect.replaceChildren(h('option', { value: '' }, 'any'),
      ...d.results.filter((x) => x.source).map((x) => h('option', { value: x.source, selected: filters.source === x.source }, `${x.source} (${x.sessions})`)));
  }).catch(() => {});
}

/** The list's collection filter: a select filled with the project's collections (kept in the URL like every filter). */
function collectionFilter() {
  const select = h('select', { name: 'collection', onchange: (e) => { filters.collection = e.target.value; } }, h('option', { value: '' }, 'any'));
  allCollections().then((list) => {
    select.append(...list.map((c) => h('option', { value: c.id, selected: filters.collection === c.id }, c.name)));
  }).catch(() => {});
  return h('label', {}, 'Collection', select);
}

/** m:ss from ms. @param {number} ms */
const clock = (ms) => { const s = Math.max(0, Math.floor(ms / 1000)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`; };

/**
 * The session's summary block: the deterministic summary (docs/moments.md) with its outcome and key actions, and the
 * LLM's summary when one was asked (kept apart, labelled with its model). Times seek the player.
 * `llmOn`: the server offers LLM summaries (`reel serve --llm-url`).
 */
function summaryBlock(id, insight, llmOn) {
  const box = h('section', { class: 'summary', id: 'summary', 'aria-label': 'Summary' });
  const at = (ms) => h('button', { type: 'button', class: 'time', title: 'Jump there', onclick: () => player && player.seek(ms) }, clock(ms));
  const flags = (a) => ['abandonment', 'confusion', 'exception'].filter((f) => a[f]).map((f) => h('span', { class: `flag ${f}` }, f));
  const outcome = (o) => h('p', { class: `outcome ${o && o.success ? 'good' : 'bad'}` }, (o && o.description) || '');
  const actions = (list, total) => list.length ? h('details', {}, h('summary', {}, `Key actions (${total})`),
    h('ol', { class: 'key-actions' }, ...list.map((a) => h('li', {}, at(a.t_ms), ' ', a.description, ...flags(a))))) : null;
  const status = h('span', { class: 'status llm-status', role: 'status' });
  function render(x) {
    const s = x.summary || {};
    const parts = [h('h3', {}, 'Summary'), h('p', { class: 'summary-text' }, s.text || 'No activity recorded.'), outcome(s.outcome),
      actions((s.key_actions || []).slice(0, 100), s.key_action_count || 0)];
    const l = x.llm_summary;
    if (l) {
      parts.push(h('div', { class: 'llm-summary' }, h('h4', {}, `Written by ${l.model}`, h('small', {}, ` · ${new Date(l.created_at).toLocaleString()} · from the redacted timeline`)),
        h('p', { class: 'summary-text' }, l.text), outcome(l.outcome), actions(l.key_actions || [], (l.key_actions || []).length)));
    }
    if (llmOn) {
      parts.push(h('p', {}, h('button', { type: 'button', id: 'llm-summary', onclick: async (e) => {
        e.target.disabled = true; status.textContent = 'Asking the model…';
        try {
          render(await (await api(`/api/v1/sessions/${encodeURIComponent(id)}/summary/llm`, { method: 'POST' })).json());
        } catch (err) { status.textContent = `LLM summary: ${err.message}`; e.target.disabled = false; }
      } }, l ? 'Ask the LLM again' : 'Summarize with LLM'), ' ', status));
    }
    box.replaceChildren(...parts.filter(Boolean));
  }
  render(insight || {});
  return box;
}

/** Where the comment form remembers the author label between visits (this browser only). */
const AUTHOR_KEY = 'reel.commentAuthor';

/** The web UI's deep link to `seconds` of session `id` (`#/s/<id>&t=<seconds>`, the player reads it). */
const linkTo = (id, seconds) => `${location.origin}${location.pathname}#/s/${encodeURIComponent(id)}&t=${Math.round(seconds * 10) / 10}`;

/**
 * The session's comments: a list (time, author, text — always inserted as text), each seeking the player, with a
 * link to its time and a delete button; a form adding one at the player's current time (key `c` opens it); the
 * comments as markers on the player's timeline (`n`/`p` step through them). `startMs`: the session's first event
 * (comment times count from there; the player's from its first loaded event).
 */
function commentsBlock(id, startMs) {
  const path = `/api/v1/sessions/${encodeURIComponent(id)}/comments`;
  const list = h('ol', { class: 'comment-list', id: 'comment-list' });
  const count = h('span', { class: 'count' });
  const status = h('span', { class: 'status comment-status', role: 'status' });
  const at = h('button', { type: 'button', class: 'time comment-at', title: 'The comment is at this time; click to jump there', onclick: () => player && player.seek(atMs - offset()) }, '0:00');
  const text = h('textarea', { name: 'text', id: 'comment-text', 'aria-label': 'Comment', rows: 2, maxlength: 2000, required: true, placeholder: 'What happens here? (plain text; c opens this box at the current time)' });
  const author = h('input', { name: 'author', id: 'comment-author', 'aria-label': 'Your name', maxlength: 100, placeholder: 'your name', value: localStorage.getItem(AUTHOR_KEY) || '' });
  let atMs = 0;
  let comments = [];
  /** ms between the session's start and the player's time 0 (the export policy may drop early events). */
  const offset = () => (player && player.info ? player.info.start - startMs : 0);
  /** Take the player's current time as the comment's. */
  function takeTime() {
    atMs = Math.max(0, Math.round((player ? player.currentTime : 0) + offset()));
    at.textContent = clock(atMs);
  }
  function markers() {
    if (player && player.setComments) player.setComments(comments.map((c) => ({ id: c.id, t: c.at * 1000 - offset(), label: `${c.author || 'comment'}: ${c.text.slice(0, 80)}` })));
  }
  function render() {
    count.textContent = comments.length ? ` (${comments.length})` : '';
    list.replaceChildren(...comments.map((c) => h('li', { class: 'comment', 'data-id': c.id, title: 'Click to jump there',
      onclick: (e) => { if (!(/** @type {HTMLElement} */ (e.target)).closest('a, button') && player) player.seek(c.at * 1000 - offset()); } },
      h('button', { type: 'button', class: 'time', title: 'Jump there', onclick: () => player && player.seek(c.at * 1000 - offset()) }, clock(c.at * 1000)),
      ' ', h('span', { class: 'author' }, c.author || 'anonymous'),
      h('small', {}, ` · ${new Date(c.created_at).toLocaleString()}`),
      h('p', { class: 'comment-text' }, c.text),
      h('a', { class: 'comment-link', href: linkTo(id, c.at), title: 'Copy a link to this time', onclick: (e) => {
        e.preventDefault();
        const url = linkTo(id, c.at);
        if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
        status.textContent = `Link copied: ${url}`;
      } }, 'Copy link'), ' ',
      h('button', { type: 'button', class: 'danger small', onclick: async () => {
        if (!confirm('Delete this comment?')) return;
        try { await api(`/api/v1/comments/${encodeURIComponent(c.id)}`, { method: 'DELETE' }); await load(); } catch (err) { status.textContent = `Delete: ${err.message}`; }
      } }, 'Delete'))));
    if (!comments.length) list.append(h('li', { class: 'status' }, 'No comments yet.'));
    markers();
  }
  async function load() {
    comments = (await (await api(path)).json()).comments;
    render();
  }
  const form = h('form', { class: 'comment-form', onsubmit: async (e) => {
    e.preventDefault();
    localStorage.setItem(AUTHOR_KEY, author.value.trim());
    status.textContent = 'Saving…';
    try {
      await api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ at: atMs / 1000, text: text.value, author: author.value }) });
      text.value = ''; status.textContent = '';
      await load();
    } catch (err) { status.textContent = err.message; }
  } }, h('label', {}, 'At ', at), text, author, h('button', { type: 'submit' }, 'Comment'), status);
  text.addEventListener('focus', () => { if (!text.value) takeTime(); });
  const box = h('section', { class: 'comments', id: 'comments', 'aria-label': 'Comments' }, h('h3', {}, 'Comments', count), list, form);
  return {
    box, load, markers,
    /** Key `c`: pause, take the current time, focus the box. */
    open() { if (player) player.pause(); takeTime(); text.focus(); },
  };
}

/** Key `c` on the session page (set while one is shown). */
let commentKey = null;
document.addEventListener('keydown', (ev) => {
  const t = /** @type {HTMLElement} */ (ev.target);
  if (!commentKey || ev.key !== 'c' || ev.metaKey || ev.ctrlKey || ev.altKey) return;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
  ev.preventDefault();
  commentKey();
});

/** The person's other sessions (newest first, up to 20), each a link. */
async function otherSessions(person, id) {
  const box = h('section', { class: 'person-sessions', id: 'person-sessions' }, h('h3', {}, 'Other sessions of ', personLink(person)));
  try {
    const data = await (await api(`/api/v1/sessions?person=${encodeURIComponent(person)}&limit=21`)).json();
    const others = data.results.filter((x) => x.id !== id).slice(0, 20);
    if (!others.length) box.append(h('p', { class: 'status' }, 'None.'));
    else box.append(h('ul', {}, ...others.map((x) => h('li', {}, h('a', { href: `#/s/${encodeURIComponent(x.id)}` }, new Date(x.start_time).toLocaleString()),
      ` · ${fmtDuration(x.recording_duration)} · ${x.start_url || ''}`))));
  } catch (err) { box.append(h('p', { class: 'error' }, err.message)); }
  return box;
}

async function session(id) {
  const main = h('main', { class: 'session' });
  app.replaceChildren(header(), main);
  let s;
  try { s = await (await api(`/api/v1/sessions/${encodeURIComponent(id)}`)).json(); } catch (err) {
    if (err.status === 401) return signIn(err.message);
    main.append(h('p', { class: 'error' }, err.message)); return;
  }
  // Opened: no longer "not watched" in the list.
  if (!s.viewed) api(`/api/v1/sessions/${encodeURIComponent(id)}/watched`, { method: 'POST' }).catch(() => {});
  const stage = h('div', { class: 'stage' });
  const shares = h('ul', { class: 'shares' });
  const facts = [['Session', s.id], ['Person', s.distinct_id || '—'], ['Started', new Date(s.start_time).toLocaleString()],
    ['Duration', fmtDuration(s.recording_duration)], ['Active', fmtDuration(s.active_seconds)], ['Pages', (s.urls || []).join('\n') || '—'],
    ['Clicks', s.click_count], ['Keypresses', s.keypress_count], ['Console errors', s.console_error_count],
    ['Events', s.event_count], ['Windows', (s.windows || []).length], ['Browser', s.user_agent || '—'], ['Source', [s.source, s.lib, s.lib_version].filter(Boolean).join(' ')]];
  const download = (href, name) => { const a = h('a', { href, download: name }); document.body.append(a); a.click(); a.remove(); };
  const jobBar = h('progress', { class: 'job-progress', max: 1, value: 0, hidden: true });
  /**
   * Run a video job (POST …/video) showing its progress; resolves to an object URL of the file, or null (the reason is
   * shown).
   * @param {object} body @param {string} label
   */
  async function renderJob(body, label) {
    shotStatus.textContent = `${label}: queued…`;
    jobBar.hidden = false; jobBar.value = 0;
    try {
      const { job_id } = await (await api(`/api/v1/sessions/${encodeURIComponent(id)}/video`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })).json();
      let st;
      for (;;) {
        st = await (await api(`/api/v1/jobs/${job_id}`)).json();
        if (st.state !== 'queued' && st.state !== 'running') break;
        jobBar.value = st.progress;
        shotStatus.textContent = `${label}: ${st.state} ${Math.round(st.progress * 100)} %`;
        await new Promise((r) => setTimeout(r, 500));
      }
      if (st.state !== 'done') { shotStatus.textContent = `${label} ${st.state}: ${st.error}`; return null; }
      const url = URL.createObjectURL(await (await api(st.url)).blob());
      shotStatus.textContent = '';
      return url;
    } catch (err) { shotStatus.textContent = `${label}: ${err.message}`; return null; } finally { jobBar.hidden = true; }
  }
  /** "Clip": a short GIF or MP4 of the 5, 10 or 15 s around the player's time, then a link to download it. */
  function clipMenu() {
    const link = h('a', { id: 'clip-link', class: 'clip-link', hidden: true });
    const format = h('select', { id: 'clip-format', title: 'Clip format' }, h('option', { value: 'gif' }, 'GIF'), h('option', { value: 'mp4' }, 'MP4'));
    const menu = h('details', { class: 'clip' }, h('summary', {}, 'Clip'),
      h('div', { class: 'clip-menu' }, format, ...[5, 10, 15].map((span) => h('button', { type: 'button', 'data-span': span, onclick: async () => {
        menu.open = false;
        const now = player ? player.currentTime / 1000 : 0, end = player ? player.duration / 1000 : 0;
        const from = Math.max(0, Math.min(now - span / 2, end - span)), to = Math.min(end, from + span);
        const f = /** @type {HTMLSelectElement} */ (format).value;
        link.hidden = true;
        const url = await renderJob({ format: f, from: +from.toFixed(3), to: +to.toFixed(3) }, 'Clip');
        if (!url) return;
        const name = `${id}-${from.toFixed(1)}-${to.toFixed(1)}.${f}`;
        Object.assign(link, { href: url, download: name, textContent: `Download clip (${f.toUpperCase()}, ${(to - from).toFixed(1)} s)`, hidden: false });
      } }, `${span} s around now`))));
    return h('span', { class: 'clip-box' }, menu, link);
  }
  const actions = h('div', { class: 'actions' },
    h('button', { onclick: async () => {
      const blob = await (await api(`/api/v1/sessions/${encodeURIComponent(id)}/export`)).blob();
      const a = h('a', { href: URL.createObjectURL(blob), download: `${id}.reel.zip` }); document.body.append(a); a.click(); a.remove();
    } }, 'Export .reel.zip'),
    h('button', { onclick: async () => {
      // What the player shows now, rendered by the server (export policy applied) at 1280x720.
      const t = player ? Math.round(player.currentTime) / 1000 : 0;
      shotStatus.textContent = 'Rendering…';
      try {
        const blob = await (await api(`/api/v1/sessions/${encodeURIComponent(id)}/screenshot?t=${t}&size=1280x720`)).blob();
        download(URL.createObjectURL(blob), `${id}-${t}.png`);
        shotStatus.textContent = '';
      } catch (err) { shotStatus.textContent = `Screenshot: ${err.message}`; }
    } }, 'Screenshot'),
    h('select', { id: 'video-format', title: 'Video format' }, h('option', { value: 'mp4' }, 'MP4'), h('option', { value: 'webm' }, 'WebM'), h('option', { value: 'gif' }, 'GIF')),
    h('button', { id: 'video-export', onclick: async () => {
      // The whole session as a server job (export policy applied), downloaded when done.
      const format = /** @type {HTMLSelectElement} */ (document.getElementById('video-format')).value;
      const url = await renderJob({ format }, 'Video');
      if (url) download(url, `${id}.${format}`);
    } }, 'Export video'),
    clipMenu(),
    h('button', { onclick: async () => {
      const sel = document.getElementById('expiry').value;
      const body = sel ? JSON.stringify({ expires_in_seconds: Number(sel) }) : '{}';
      await api(`/api/v1/sessions/${encodeURIComponent(id)}/shares`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } })
        .then((r) => r.json()).then((x) => { showShare(x); loadShares(); });
    } }, 'Share'),
    h('select', { id: 'expiry', 'aria-label': 'Share link expires' }, h('option', { value: '86400' }, 'for 1 day'), h('option', { value: '604800' }, 'for 7 days'), h('option', { value: '' }, 'until revoked')),
    h('button', { class: 'danger', onclick: async () => {
      if (!confirm('Delete this recording everywhere? This cannot be undone.')) return;
      await api(`/api/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }); location.hash = '#/';
    } }, 'Delete'));
  const shotStatus = h('span', { class: 'status shot-status' });
  const autoNext = h('input', { type: 'checkbox', id: 'autoplay-next', checked: localStorage.getItem('reel.autoplayNext') === '1',
    onchange: (e) => localStorage.setItem('reel.autoplayNext', e.target.checked ? '1' : '0') });
  const nextNote = h('span', { class: 'status next-note', role: 'status' });
  actions.append(jobBar, shotStatus, h('label', { class: 'autoplay-next', title: 'When this recording ends, play the next one of the list' }, autoNext, ' Autoplay next'), nextNote);
  const shareBox = h('div', { class: 'share-result' });
  function showShare(x) {
    const url = new URL(x.url, location.href).href, embed = new URL(x.embed_url, location.href).href;
    shareBox.replaceChildren(h('p', {}, 'Link: ', h('input', { readonly: true, value: url, size: 60 })),
      h('p', {}, 'Embed: ', h('input', { readonly: true, size: 60, value: `<iframe src="${embed}" width="960" height="600" style="border:0"></iframe>` })));
  }
  async function loadShares() {
    const data = await (await api(`/api/v1/sessions/${encodeURIComponent(id)}/shares`)).json();
    shares.replaceChildren(...data.results.map((x) => h('li', {}, `share ${x.id.slice(-8)} · created ${new Date(x.created_ms).toLocaleString()}`,
      x.expires_ms ? ` · expires ${new Date(x.expires_ms).toLocaleString()}` : '', x.revoked_ms ? ' · revoked' : ' ',
      x.revoked_ms ? null : h('button', { onclick: async () => { await api(`/api/v1/shares/${x.id}`, { method: 'DELETE' }); loadShares(); } }, 'Revoke'))));
  }
  const comments = commentsBlock(id, s.start_ms);
  commentKey = () => comments.open();
  comments.load().catch((err) => comments.box.append(h('p', { class: 'error' }, err.message)));
  main.append(h('h2', {}, 'Session'), stage, comments.box, h('section', { class: 'facts' }, h('dl', {}, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]))),
    actions, shareBox, sessionCollections(id, s.collections), h('h3', {}, 'Shares'), shares);
  if (s.distinct_id) main.append(await otherSessions(s.distinct_id, id));
  loadShares().catch(() => {});
  try {
    const windows = await windowsFrom(await api(`/api/v1/sessions/${encodeURIComponent(id)}/events?format=jsonl`));
    // Key moments and the summary (computed by the server; the player only shows them).
    const moments = await api(`/api/v1/sessions/${encodeURIComponent(id)}/moments`).then((r) => r.json()).catch(() => null);
    const project = await api('/api/v1/project').then((r) => r.json()).catch(() => ({}));
    if (moments) stage.after(summaryBlock(id, moments, !!project.llm_summaries));
    if (player) player.destroy?.();
    let autoplay = false;
    try { autoplay = sessionStorage.getItem(AUTOPLAY_NOW) === id; sessionStorage.removeItem(AUTOPLAY_NOW); } catch { /* storage off */ }
    player = await ReelPlayer.mount(stage, { windows, moments, autoplay, openPanels: [moments && moments.moments.length ? 'moments' : 'console'],
      shortcuts: [['c', 'comment at the current time']] });
    // Autoplay next: when this one ends, the next session of the list starts (unless cancelled within 3 s).
    player.on?.('ended', () => {
      const next = nextInList(id);
      if (!autoNext.checked || !next) return;
      let timer = setTimeout(() => {
        try { sessionStorage.setItem(AUTOPLAY_NOW, next); } catch { /* storage off */ }
        location.hash = `#/s/${encodeURIComponent(next)}`;
      }, 3000);
      nextNote.replaceChildren('Next session in 3 s… ', h('button', { type: 'button', class: 'small', onclick: () => { clearTimeout(timer); timer = null; nextNote.replaceChildren(); } }, 'Cancel'));
    });
    comments.markers();
  } catch (err) { stage.append(h('p', { class: 'error' }, `Cannot play: ${err.message}`)); }
}

/** A link to a person's page. */
const personLink = (id) => h('a', { href: `#/p/${encodeURIComponent(id)}`, class: 'person-link', onclick: (e) => e.stopPropagation() }, id);

/**
 * A person's page (`#/p/<distinct id>`): their sessions, first and last seen, and "Forget this person" — every session
 * and everything recorded about them deleted after the id is typed again, then what was deleted is shown.
 */
async function person(id) {
  const main = h('main', { class: 'person' });
  app.replaceChildren(header(), main);
  main.append(h('h2', {}, 'Person ', h('code', {}, id)));
  const rows = [];
  let cursor = null;
  try {
    // Every session of the person (pages of 500, up to 5,000 listed).
    do {
      const q = new URLSearchParams({ person: id, limit: '500' });
      if (cursor) q.set('cursor', cursor);
      const data = await (await api(`/api/v1/sessions?${q}`)).json();
      rows.push(...data.results);
      cursor = data.has_next ? data.next_cursor : null;
    } while (cursor && rows.length < 5000);
  } catch (err) { if (err.status === 401) return signIn(err.message); main.append(h('p', { class: 'error' }, err.message)); return; }
  const starts = rows.map((r) => Date.parse(r.start_time)).filter(Number.isFinite);
  const ends = rows.map((r) => Date.parse(r.end_time || r.start_time)).filter(Number.isFinite);
  const when = (ms) => (ms.length ? new Date(Math.max(...ms)).toLocaleString() : '—');
  const facts = [['Distinct id', id], ['Sessions', `${rows.length}${cursor ? '+' : ''}`],
    ['First seen', starts.length ? new Date(Math.min(...starts)).toLocaleString() : '—'], ['Last seen', when(ends)]];
  main.append(h('section', { class: 'facts' }, h('dl', {}, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: `fact-${k.toLowerCase().replace(/ /g, '-')}` }, String(v))]))));
  const list = h('table', { class: 'sessions' }, h('thead', {}, h('tr', {}, ...['Started', 'Duration', 'Start URL', 'Clicks', 'Errors'].map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', { class: 'row', onclick: () => { location.hash = `#/s/${encodeURIComponent(r.id)}`; } },
      h('td', {}, h('a', { href: `#/s/${encodeURIComponent(r.id)}` }, new Date(r.start_time).toLocaleString())), h('td', {}, fmtDuration(r.recording_duration)),
      h('td', { class: 'url' }, r.start_url || '—'), h('td', {}, String(r.click_count)), h('td', { class: r.console_error_count ? 'bad' : '' }, String(r.console_error_count))))));
  main.append(h('h3', {}, 'Sessions'), rows.length ? list : h('p', { class: 'status' }, 'No sessions of this person are kept.'));
  // Forget: a second step that asks for the id again.
  const result = h('p', { role: 'status', class: 'forget-result' });
  const confirmBox = h('form', { class: 'forget-confirm', hidden: true, onsubmit: async (e) => {
    e.preventDefault();
    if (e.target.elements.confirm.value !== id) { result.textContent = 'The id does not match; nothing was deleted.'; return; }
    try {
      const r = await (await api(`/api/v1/people/${encodeURIComponent(id)}/forget`, { method: 'POST' })).json();
      confirmBox.hidden = true;
      result.replaceChildren(`Forgotten: ${r.sessions_deleted} session(s) of ${id} deleted, with their events, comments, shares and rendered videos. `,
        h('a', { href: '#/' }, 'Back to the sessions'));
    } catch (err) { result.textContent = err.message; }
  } },
  h('p', {}, `This deletes every session of ${id} (${rows.length}${cursor ? '+' : ''}) and everything recorded about them, on this server and in its exports' copies. It cannot be undone. Type the id to confirm:`),
  h('label', {}, 'Distinct id ', h('input', { name: 'confirm', autocomplete: 'off', required: true })),
  h('button', { type: 'submit', class: 'danger' }, 'Forget'));
  main.append(h('section', { class: 'forget' }, h('h3', {}, 'Forget this person'),
    h('button', { class: 'danger', onclick: () => { confirmBox.hidden = false; confirmBox.elements.confirm.focus(); } }, 'Forget this person…'), confirmBox, result));
}

function route() {
  if (!token()) return signIn();
  if (player) { player.destroy?.(); player = null; }
  commentKey = null;
  // #/s/<id>, optionally &t=<seconds> (the player's deep link; reel.getReplayUrl() makes these)
  const m = location.hash.match(/^#\/s\/([^&]+)/);
  const p = location.hash.match(/^#\/p\/([^&?]+)/);
  const c = location.hash.match(/^#\/c(?:\/([^&?]+))?$/);
  const ctx = { app, header, signIn };
  if (m) session(decodeURIComponent(m[1])); else if (p) person(decodeURIComponent(p[1]));
  // Loaded when first opened: the list's first paint does not wait for it.
  else if (location.hash.startsWith('#/settings')) import('./settings.js').then((m) => m.settingsPage(app, { header, signIn }));
  else if (c && c[1]) collectionPage(decodeURIComponent(c[1]), ctx); else if (c) collectionsPage(ctx); else list();
}

window.addEventListener('hashchange', route);
route();
