// Test helper: the same text transform the Rust binary uses to inline web/player into one HTML file.
// 1. topologically sort modules by their imports starting at index.js; 2. drop import lines;
// 3. strip the leading `export `; 4. concatenate; 5. wrap in an IIFE that sets window.ReelPlayer.
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLAYER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

const IMPORT_RE = /^import \{ ([A-Za-z0-9_$, ]+) \} from '\.\/([a-z0-9_-]+\.js)';$/;
const DECL_RE = /^(?:export )?(?:async )?(?:function\*?|class|const|let|var) +([A-Za-z0-9_$]+)/;

/** Read the modules, check the convention, return them in dependency order. */
export function orderedModules(dir = PLAYER_DIR) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
  const src = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  const deps = {};
  for (const f of files) {
    deps[f] = [];
    const lines = src[f].split('\n');
    let header = true;
    for (const line of lines) {
      if (line.startsWith('import ')) {
        const m = IMPORT_RE.exec(line);
        if (!m) throw new Error(`${f}: unsupported import form: ${line}`);
        if (!header) throw new Error(`${f}: import after code: ${line}`);
        if (!src[m[2]]) throw new Error(`${f}: imports missing module ${m[2]}`);
        deps[f].push(m[2]);
      } else if (line.trim() && !line.startsWith('//')) header = false;
      if (/^export\s*(\{|default|\*)/.test(line)) throw new Error(`${f}: unsupported export form: ${line}`);
      const code = line.replace(/\/\*.*?\*\//g, '');
      if (!/^\s*(\*|\/\/|\/\*)/.test(line) && /\bimport\s*\(/.test(code)) throw new Error(`${f}: dynamic import: ${line}`);
    }
  }
  const order = [];
  const state = {};
  const visit = (f) => {
    if (state[f] === 2) return;
    if (state[f] === 1) throw new Error(`import cycle through ${f}`);
    state[f] = 1;
    for (const d of deps[f]) visit(d);
    state[f] = 2;
    order.push(f);
  };
  visit('index.js');
  // Unique top-level names across all inlined files.
  const seen = new Map();
  for (const f of order) {
    for (const line of src[f].split('\n')) {
      const m = DECL_RE.exec(line);
      if (!m) continue;
      if (seen.has(m[1])) throw new Error(`top-level name ${m[1]} defined in both ${seen.get(m[1])} and ${f}`);
      seen.set(m[1], f);
    }
  }
  return order.map((f) => ({ file: f, code: src[f] }));
}

/** The inlined player script (classic script; sets window.ReelPlayer). */
export function inlineJs(dir = PLAYER_DIR) {
  const parts = orderedModules(dir).map(({ file, code }) => `// ---- ${file}\n` + code.split('\n')
    .filter((l) => !l.startsWith('import '))
    .map((l) => (l.startsWith('export ') ? l.slice(7) : l))
    .join('\n'));
  return `(() => {\n${parts.join('\n')}\nwindow.ReelPlayer = ReelPlayer;\n})();\n`;
}

/**
 * player.html made self-contained: CSS and JS inline, optionally a recording embedded (base64 of a .reel.zip or JSON).
 * @param {{recording?: Uint8Array|Buffer}} [opts]
 */
export function inlineHtml(opts = {}, dir = PLAYER_DIR) {
  let html = readFileSync(join(dir, 'player.html'), 'utf8');
  const css = readFileSync(join(dir, 'player.css'), 'utf8');
  const js = inlineJs(dir);
  if (js.includes('</script')) throw new Error('inlined JS contains </script');
  html = html.replace('<link rel="stylesheet" href="./player.css">', () => `<style>\n${css}</style>`);
  html = html.replace("import { ReelPlayer } from './index.js';\n", '');
  html = html.replace('<script type="module">', () => `<script>\n${js}</script>\n<script type="module">`);
  if (opts.recording) {
    const b64 = Buffer.from(opts.recording).toString('base64');
    html = html.replace('<!-- reel:embedded-recording -->', () => `<script type="application/octet-stream" id="reel-recording">${b64}</script>`);
  }
  return html;
}
