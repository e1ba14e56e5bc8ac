// Reel web UI: the settings page (`#/settings`). Capture token (show, copy, rotate), snippets for posthog-js and
// Reel's recorder, named admin tokens, retention, the ingest and export redaction policies (validated, with a preview
// on a stored session: before and after side by side) and storage use. Plain DOM through h(): no inline handlers.
import { api, h } from './api.js';
import { ReelPlayer } from '/player/index.js';

/** Players of the redaction preview, destroyed when the page changes. */
let players = [];
function stopPlayers() { for (const p of players) p.destroy?.(); players = []; }
window.addEventListener('hashchange', stopPlayers);

const json = (path, opts) => api(path, opts).then((r) => r.json());
const send = (method, body) => ({ method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
const when = (ms) => (ms ? new Date(ms).toLocaleString() : '—');

/** Bytes as B, KB, MB, GB (powers of 1000, one decimal). */
export function fmtBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}

/**
 * A copy button for the text `get()` returns; says "Copied" or how to copy by hand (the clipboard may be refused).
 * @param {() => string} get @param {string} label
 */
function copyButton(get, label) {
  const note = h('span', { class: 'status copy-note', role: 'status' });
  const btn = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try { await navigator.clipboard.writeText(get()); note.textContent = 'Copied'; } catch {
      note.textContent = 'Copying was refused: select the text and copy it';
    }
    setTimeout(() => { note.textContent = ''; }, 4000);
  } }, label);
  return h('span', { class: 'copy' }, btn, note);
}

/** A section with a heading (its id labels it). */
function section(id, title, ...children) {
  return h('section', { class: 'card', id, 'aria-labelledby': `${id}-h` }, h('h3', { id: `${id}-h` }, title), ...children);
}

/** An inline two-step confirmation: `ask` reveals `text` with a confirm and a cancel button. */
function confirmStep(text, confirmLabel, onConfirm) {
  const status = h('p', { class: 'status', role: 'status' });
  const box = h('div', { class: 'confirm-box', role: 'group', hidden: true }, h('p', {}, text),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger confirm', onclick: async () => {
        box.hidden = true;
        try { status.textContent = await onConfirm() || ''; } catch (err) { status.textContent = err.message; }
      } }, confirmLabel),
      h('button', { type: 'button', class: 'secondary cancel', onclick: () => { box.hidden = true; } }, 'Cancel')));
  return { box, status, open() { box.hidden = false; box.querySelector('button.confirm').focus(); } };
}

function captureSection(state, onRotate) {
  const input = h('input', { id: 'capture-token', readonly: true, value: state.token, size: 40, spellcheck: 'false' });
  const warning = h('p', { class: 'error', role: 'alert', hidden: true });
  const step = confirmStep('Rotate the capture token? Pages that still send the old token stop being recorded at once: ' +
    'paste the new snippets into them. Other servers sharing this index follow at their next settings refresh.', 'Rotate now', async () => {
    const r = await json('/api/v1/project/capture-token', { method: 'POST' });
    state.token = r.capture_token;
    input.value = r.capture_token;
    warning.hidden = !r.warning; warning.textContent = r.warning || '';
    onRotate();
    return 'Rotated: the old token is refused from now on.';
  });
  return section('capture', 'Capture',
    h('p', {}, 'The capture token sits in every recorded page. It can only send recordings, never read them.'),
    h('div', { class: 'row' }, h('label', { for: 'capture-token' }, 'Capture token'), input, copyButton(() => input.value, 'Copy token'),
      h('button', { type: 'button', class: 'danger', id: 'rotate', onclick: () => step.open() }, 'Rotate…')),
    step.box, step.status, warning);
}

function snippetsSection(state) {
  const box = h('div');
  const host = location.origin;
  const snippet = (id, title, text) => {
    const code = h('pre', { class: 'snippet', id, tabindex: 0, 'aria-label': title }, h('code', {}, text));
    return h('div', { class: 'snippet-box' }, h('p', {}, title), code, copyButton(() => code.textContent, `Copy ${title}`));
  };
  function render() {
    box.replaceChildren(
      snippet('snippet-reel', "Reel's recorder", `<script src="${host}/static/reel.js"></script>\n<script>reel.init({ apiHost: '${host}', token: '${state.token}' });</script>`),
      snippet('snippet-posthog', 'posthog-js', `posthog.init('${state.token}', { api_host: '${host}', person_profiles: 'always' })`));
  }
  render();
  return { el: section('snippets', 'Snippets', h('p', {}, 'Paste one into the pages to record (they carry the current capture token).'), box), render };
}

function tokensSection() {
  const rows = h('tbody');
  const status = h('p', { class: 'status', role: 'status' });
  const shown = h('div', { class: 'new-token', hidden: true });
  async function load() {
    const data = await json('/api/v1/tokens');
    rows.replaceChildren(...data.results.map((t) => {
      const step = confirmStep(`Revoke "${t.name}"? Requests with it are refused at once.`, 'Revoke', async () => {
        await api(`/api/v1/tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' });
        await load();
        status.textContent = `Revoked "${t.name}".`;
      });
      return h('tr', { 'data-id': t.id },
        h('td', { class: 'name' }, t.name), h('td', {}, when(t.created_ms)), h('td', {}, when(t.last_used_ms)),
        h('td', { class: 'state' }, t.revoked_ms ? `revoked ${when(t.revoked_ms)}` : 'active'),
        h('td', {}, t.revoked_ms ? null : h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke ${t.name}`, onclick: () => step.open() }, 'Revoke…'),
          step.box, step.status));
    }));
    if (!data.results.length) rows.append(h('tr', {}, h('td', { colspan: 5, class: 'status' }, 'No named tokens yet.')));
  }
  const form = h('form', { class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    const name = e.target.elements.name.value.trim();
    try {
      const t = await json('/api/v1/tokens', send('POST', { name }));
      const value = h('input', { id: 'new-token-value', readonly: true, value: t.token, size: 48, spellcheck: 'false' });
      shown.replaceChildren(h('p', {}, `Token "${t.name}": copy it now, it is not shown again.`),
        h('div', { class: 'row' }, h('label', { for: 'new-token-value' }, 'New token'), value, copyButton(() => value.value, 'Copy new token')));
      shown.hidden = false;
      e.target.reset();
      status.textContent = '';
      await load();
    } catch (err) { status.textContent = err.message; }
  } },
  h('label', { for: 'token-name' }, 'Name'), h('input', { id: 'token-name', name: 'name', maxlength: 100, required: true, placeholder: 'what it is for, e.g. CI export' }),
  h('button', { type: 'submit' }, 'Create token'));
  load().catch((err) => { status.textContent = err.message; });
  return section('tokens', 'Admin tokens',
    h('p', {}, 'Named tokens that can do everything the first admin token can; revoke one when it is no longer needed. ' +
      'The first token (printed at first start) stays valid; REEL_ADMIN_TOKEN resets it.'),
    form, shown, status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'sessions tokens' }, h('thead', {}, h('tr', {}, ...['Name', 'Created', 'Last used', 'State', ''].map((t) => h('th', {}, t)))), rows)));
}

function retentionSection(project) {
  const current = project.settings.retention_days;
  const fallback = project.retention_days_default ? `the server's default, ${project.retention_days_default} days (--retention-days)` : 'kept until deleted (the server has no --retention-days)';
  const err = h('p', { class: 'error', id: 'retention-error', role: 'alert' });
  const status = h('p', { class: 'status', role: 'status' });
  const input = h('input', { id: 'retention-days', name: 'days', type: 'number', min: 1, max: 36500, step: 1, inputmode: 'numeric',
    value: current == null ? '' : current, placeholder: project.retention_days_default || 'forever', 'aria-describedby': 'retention-help retention-error' });
  return section('retention', 'Retention', h('form', { novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = ''; status.textContent = '';
    const raw = input.value.trim();
    const days = raw === '' ? null : Number(raw);
    if (days !== null && !(Number.isInteger(days) && days >= 1 && days <= 36500)) {
      err.textContent = 'A whole number of days from 1 to 36500, or empty for the server default.';
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    input.removeAttribute('aria-invalid');
    try {
      await api('/api/v1/project', send('PATCH', { retention_days: days }));
      status.textContent = days === null ? `Saved: ${fallback}.` : `Saved: sessions are deleted ${days} days after their last event.`;
    } catch (x) { err.textContent = x.message; }
  } },
  h('div', { class: 'row' }, h('label', { for: 'retention-days' }, 'Delete sessions older than (days)'), input, h('button', { type: 'submit' }, 'Save retention')),
  h('p', { class: 'help', id: 'retention-help' }, `Empty: ${fallback}. The background sweep deletes older sessions for good.`), err, status));
}

const POLICIES = [
  ['ingest_redaction', 'Ingest policy', 'applied before anything is stored (what it removes is never kept)'],
  ['export_redaction', 'Export policy', 'applied to everything that leaves the server: the player, exports, shares, screenshots, videos'],
];

/**
 * Parse a policy textarea: null, {"preset": "default"|"strict"} or {"rules": "<TOML>"}; returns {value} or {error}.
 * @param {string} text
 */
export function parsePolicy(text) {
  let v;
  try { v = JSON.parse(text.trim() || 'null'); } catch (e) { return { error: `Not JSON: ${/** @type {Error} */ (e).message}` }; }
  if (v === null) return { value: null };
  if (typeof v !== 'object' || Array.isArray(v)) return { error: 'A policy is null, {"preset": "default"} or {"rules": "<TOML>"}' };
  if (!('preset' in v) && !('rules' in v)) return { error: 'Give "preset" ("default" or "strict") or "rules" (TOML as a string)' };
  return { value: v };
}

function redactionSection(project) {
  const sessionInput = h('input', { id: 'preview-session', name: 'session', size: 30, spellcheck: 'false', placeholder: 'session id' });
  const report = h('div', { class: 'preview-report', role: 'status', 'aria-live': 'polite' });
  const before = h('div', { class: 'stage preview-stage', id: 'preview-before' });
  const after = h('div', { class: 'stage preview-stage', id: 'preview-after' });
  const pair = h('div', { class: 'preview-pair', hidden: true },
    h('figure', {}, h('figcaption', {}, 'Before (as stored)'), before), h('figure', {}, h('figcaption', {}, 'After the policy'), after));
  json('/api/v1/sessions?limit=1').then((d) => { if (d.results[0] && !sessionInput.value) sessionInput.value = d.results[0].id; }).catch(() => {});

  async function preview(which, policy) {
    const id = sessionInput.value.trim();
    if (!id) { report.textContent = 'Give a session id to preview on.'; return; }
    report.textContent = 'Preparing the preview…';
    stopPlayers();
    const path = `/api/v1/sessions/${encodeURIComponent(id)}/redaction-preview`;
    try {
      const [a, b] = await Promise.all([json(path, send('POST', { policy: null })), json(path, send('POST', { policy }))]);
      const r = b.report, t = r.totals;
      const byRule = Object.entries(r.counts.by_rule);
      report.replaceChildren(
        h('p', { class: 'preview-removed' }, `${POLICIES.find((p) => p[0] === which)[1]} on ${id}: ${r.removed} value(s) removed; ` +
          `${t.events_changed} event(s) changed, ${t.events_dropped} dropped of ${t.events_in}.${b.truncated ? ' (Only the start of this long session is shown.)' : ''}`),
        byRule.length ? h('ul', { class: 'preview-rules' }, ...byRule.map(([k, n]) => h('li', {}, `${k}: ${n}`))) : null);
      pair.hidden = false;
      const windows = (d) => { const w = {}; for (const [id2, e] of d.events) (w[id2] = w[id2] || []).push(e); return w; };
      const opts = { hash: false, keyboard: false, panels: false };
      players = [await ReelPlayer.mount(before, { ...opts, windows: windows(a) }), await ReelPlayer.mount(after, { ...opts, windows: windows(b) })];
    } catch (err) { report.textContent = `Preview: ${err.message}`; }
  }

  const editors = POLICIES.map(([key, title, what]) => {
    const id = `policy-${key}`;
    const area = h('textarea', { id, name: key, rows: 6, spellcheck: 'false', 'aria-describedby': `${id}-help ${id}-error` });
    area.value = JSON.stringify(project.settings[key] ?? null, null, 2);
    const err = h('p', { class: 'error policy-error', id: `${id}-error`, role: 'alert' });
    const status = h('p', { class: 'status', role: 'status' });
    const show = (r) => {
      err.textContent = r.error || '';
      if (r.error) area.setAttribute('aria-invalid', 'true'); else area.removeAttribute('aria-invalid');
      return r;
    };
    /** JSON here, then the server's compiler (the message it gives is the one a save would). */
    let seq = 0;
    const check = async () => {
      const mine = ++seq;
      let r = parsePolicy(area.value);
      if (!r.error) {
        try {
          const c = await json('/api/v1/redaction-policy/check', send('POST', { policy: r.value }));
          if (!c.valid) r = { error: c.error };
        } catch (x) { r = { error: x.message }; }
      }
      return mine === seq ? show(r) : r;
    };
    let timer = 0;
    area.addEventListener('input', () => {
      status.textContent = '';
      show(parsePolicy(area.value));
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
    return h('form', { class: 'policy', 'data-policy': key, onsubmit: async (e) => {
      e.preventDefault();
      status.textContent = '';
      clearTimeout(timer);
      const r = await check();
      if (r.error) { area.focus(); return; }
      try {
        await api('/api/v1/project', send('PATCH', { [key]: r.value }));
        status.textContent = `Saved: the ${title.toLowerCase()} applies from now on.`;
      } catch (x) { err.textContent = x.message; area.setAttribute('aria-invalid', 'true'); }
    } },
    h('label', { for: id }, `${title} (JSON)`),
    h('p', { class: 'help', id: `${id}-help` }, `${what}. null, {"preset": "default"}, {"preset": "strict"} or {"rules": "mask_text = [\\".secret\\"]"} (rules: TOML, see docs/redaction.md).`),
    area, err,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, `Save ${title.toLowerCase()}`),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { const r = await check(); if (!r.error) preview(key, r.value); } }, `Preview ${title.toLowerCase()}`)),
    status);
  });
  return section('redaction', 'Redaction policies', ...editors,
    h('h4', {}, 'Preview on a session'),
    h('p', { class: 'help' }, 'Applies the policy in the box (saved or not) to a stored session: nothing is saved. Default: the latest session.'),
    h('div', { class: 'row' }, h('label', { for: 'preview-session' }, 'Session id'), sessionInput),
    report, pair);
}

function storageSection() {
  const dl = h('dl', { class: 'usage' });
  const status = h('p', { class: 'status', role: 'status' });
  async function load() {
    const u = await json('/api/v1/usage');
    const facts = [['Sessions', u.sessions.toLocaleString(), 'sessions'], ['Events', u.events.toLocaleString(), 'events'],
      ['Event data (as recorded)', fmtBytes(u.event_bytes), 'event-bytes'], ['Stored (compressed blocks)', fmtBytes(u.stored_bytes), 'stored-bytes'],
      ['People', u.people.toLocaleString(), 'people'], ['Retention', u.retention_days ? `${u.retention_days} days` : 'until deleted', 'retention']];
    dl.replaceChildren(...facts.flatMap(([k, v, c]) => [h('dt', {}, k), h('dd', { class: `usage-${c}` }, v)]));
  }
  load().catch((err) => { status.textContent = err.message; });
  return section('storage', 'Storage use', dl, h('button', { type: 'button', class: 'secondary', onclick: () => load().catch((err) => { status.textContent = err.message; }) }, 'Refresh'), status);
}

/**
 * The settings page into `app`, with the app's header; `signIn` when the token is refused.
 * @param {HTMLElement} app @param {{header: () => HTMLElement, signIn: (msg?: string) => void}} shell
 */
export async function settingsPage(app, { header, signIn }) {
  stopPlayers();
  const main = h('main', { class: 'settings' });
  app.replaceChildren(header(), main);
  let project;
  try { project = await json('/api/v1/project'); } catch (err) {
    if (err.status === 401) return signIn(err.message);
    main.append(h('p', { class: 'error' }, err.message));
    return;
  }
  const state = { token: project.capture_token };
  const snippets = snippetsSection(state);
  main.append(h('h2', {}, 'Settings'), captureSection(state, snippets.render), snippets.el, tokensSection(),
    retentionSection(project), redactionSection(project), storageSection());
}
