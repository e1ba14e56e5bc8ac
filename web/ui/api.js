// Reel web UI: the API client. The admin token lives in this browser's localStorage only.
export const TOKEN_KEY = 'reel.adminToken';

export function token() { return localStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t) { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); }

/** Call the API with the admin token; throws an Error carrying the server's message. */
export async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), Authorization: `Bearer ${token()}` } });
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
    const err = new Error(`${res.status}: ${msg}`);
    err.status = res.status;
    throw err;
  }
  return res;
}

/** `[windowId, event]` JSONL → {windowId: events[]} for the player. */
export async function windowsFrom(res) {
  const text = await res.text();
  const windows = {};
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [w, e] = JSON.parse(line);
    (windows[w] = windows[w] || []).push(e);
  }
  return windows;
}

/** Element helper: h('div', {class: 'x', onclick}, ...children). Text children are set as text, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export function fmtDuration(s) {
  s = Math.round(s);
  const m = Math.floor(s / 60), r = s % 60;
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : m ? `${m}m ${r}s` : `${r}s`;
}

/** The colour theme: the one chosen in this browser (`reel.theme`), else the system's preference. */
export function applyTheme() {
  let t = '';
  try { t = localStorage.getItem('reel.theme') || ''; } catch { /* storage off */ }
  if (t !== 'dark' && t !== 'light') t = window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = t;
  return t;
}

/** Switch between light and dark and remember the choice; returns the new theme. */
export function toggleTheme() {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  try { localStorage.setItem('reel.theme', next); } catch { /* storage off */ }
  return applyTheme();
}
