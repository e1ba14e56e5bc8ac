// Reel web UI: import by drag and drop onto the sessions list (or the "Import files…" button, for keyboards): each file
// goes to POST /api/v1/import in turn, with its upload progress and its result — sessions and events stored, "already
// stored" for a duplicate, or the server's reason. Accepts what the server does: .reel.zip, PostHog "Export to JSON"
// files, PostHog snapshot-API lines, rrweb JSON.
import { token, h } from './api.js';

/** Upload one file; resolves to {status, body}. `progress(fraction)` follows the upload. */
function upload(file, progress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/import');
    xhr.setRequestHeader('Authorization', `Bearer ${token()}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => resolve({ status: 0, body: { error: 'the server could not be reached' } });
    xhr.send(file);
  });
}

/** What an import's answer means for a person. */
export function describe(status, body) {
  if (status === 200 && body) {
    const n = body.sessions?.length ?? 0;
    if (body.duplicate) return { ok: true, text: `already stored (${n} session${n === 1 ? '' : 's'}; nothing new)` };
    const parts = [`${n} session${n === 1 ? '' : 's'}`, `${body.events} new events`];
    if (body.already_stored) parts.push(`${body.already_stored} already stored`);
    if (body.comments) parts.push(`${body.comments} comments`);
    return { ok: true, text: `imported · ${body.kind} · ${parts.join(', ')}`, sessions: body.sessions, warnings: body.warnings || [] };
  }
  if (status === 413) return { ok: false, text: `too large for the web upload (${body?.error || 'body limit'}); use reel push FILE --server … instead` };
  if (status === 401 || status === 403) return { ok: false, text: `not allowed: ${body?.error || status}` };
  return { ok: false, text: body?.error || `failed (HTTP ${status})` };
}

/**
 * Make `zone` accept dropped files (and give it an "Import files…" button). `done()` runs after a drop's files are all
 * imported (the list reloads).
 * @param {HTMLElement} zone @param {() => void} done
 */
export function importer(zone, done) {
  const results = h('ul', { class: 'import-results', 'aria-live': 'polite' });
  const overlay = h('div', { class: 'drop-overlay', hidden: true }, 'Drop .reel.zip, PostHog export or rrweb JSON files to import them');
  async function run(files) {
    for (const file of files) {
      const bar = h('progress', { max: 1, value: 0, 'aria-label': `Uploading ${file.name}` });
      const line = h('span', { class: 'import-status' }, 'uploading…');
      const li = h('li', { class: 'import-file' }, h('strong', {}, file.name), ' ', bar, ' ', line);
      results.append(li);
      const { status, body } = await upload(file, (f) => { bar.value = f; });
      bar.remove();
      const r = describe(status, body);
      li.classList.add(r.ok ? 'ok' : 'failed');
      line.textContent = r.text;
      if (r.sessions && r.sessions.length === 1) line.append(' ', h('a', { href: `#/s/${encodeURIComponent(r.sessions[0])}` }, 'open'));
      for (const w of (r.warnings || []).slice(0, 3)) li.append(h('div', { class: 'hint' }, w));
    }
    done();
  }
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  zone.addEventListener('dragenter', (e) => { if (!hasFiles(e)) return; e.preventDefault(); depth++; overlay.hidden = false; });
  zone.addEventListener('dragover', (e) => { if (!hasFiles(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  zone.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; overlay.hidden = true; } });
  zone.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault(); depth = 0; overlay.hidden = true;
    run([...e.dataTransfer.files]);
  });
  const pick = h('input', { type: 'file', multiple: true, hidden: true, accept: '.zip,.json,.jsonl,.ndjson,application/zip,application/json',
    onchange: (e) => { const f = [...e.target.files]; e.target.value = ''; if (f.length) run(f); } });
  const button = h('button', { type: 'button', class: 'secondary', onclick: () => pick.click() }, 'Import files…');
  zone.classList.add('drop-zone');
  zone.append(overlay);
  return { button: h('span', { class: 'import' }, button, pick), results };
}
