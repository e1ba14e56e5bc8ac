// A minimal ingest receiver that follows Reel's wire protocol strictly (see ../README.md "Wire protocol").
// The delivery tests only use startReceiver(). To run them against the real server, pass its URL as `upstream`
// (one line: startReceiver({ upstream: 'http://127.0.0.1:PORT' })): the receiver then becomes a proxy that still
// injects outages (setMode) but forwards every request to the server and records what the server accepted (200).
import http from 'node:http';
import zlib from 'node:zlib';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Start a receiver on 127.0.0.1.
 * @param {{token?: string, port?: number, upstream?: string}} [opts]
 * @returns {Promise<{url: string, batches: () => object[], events: () => object[], bodies: () => Buffer[],
 *   stats: () => object, setMode: (m: 'ok'|'down'|'503'|'429'|'hang'|'400') => void, stop: () => Promise<void>}>}
 */
export async function startReceiver({ token = 'test-token', port = 0, upstream = process.env.REEL_UPSTREAM || '' } = {}) {
  const stored = new Map(); // batch_id -> batch (durable before 200)
  const raw = []; // every request body as received
  const st = { requests: 0, duplicates: 0, rejected: 0, failed: 0, gzip: 0, plain: 0, preflights: 0 };
  let mode = 'ok';
  const hanging = new Set();
  const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'POST, OPTIONS', 'Access-Control-Allow-Headers': 'content-type' };
  const reply = (res, code, obj) => { res.writeHead(code, { 'Content-Type': 'application/json', ...cors }); res.end(JSON.stringify(obj)); };

  const server = http.createServer((req, res) => {
    if (mode === 'down') { req.socket.destroy(); return; }
    const u = new URL(req.url, 'http://x');
    if (req.method === 'OPTIONS') { st.preflights++; res.writeHead(204, cors); res.end(); return; }
    if (req.method !== 'POST' || u.pathname !== '/api/v1/ingest') return reply(res, 404, { status: 'error', error: 'not found' });
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      st.requests++;
      const buf = Buffer.concat(chunks);
      raw.push(buf);
      if (mode === 'hang') { hanging.add(res); return; }
      if (mode === '503' || mode === '429') { st.failed++; return reply(res, +mode, { status: 'error', error: 'unavailable' }); }
      if (mode === '400') { st.rejected++; return reply(res, 400, { status: 'error', error: 'forced' }); }
      const isGz = buf[0] === 0x1f && buf[1] === 0x8b;
      isGz ? st.gzip++ : st.plain++;
      if (upstream) return forward(req, res, buf);
      let json;
      try {
        json = JSON.parse((isGz ? zlib.gunzipSync(buf) : buf).toString('utf8'));
      } catch (e) { st.rejected++; return reply(res, 400, { status: 'error', error: 'bad body: ' + e.message }); }
      const tok = u.searchParams.get('token') || json.token;
      if (tok !== token) { st.rejected++; return reply(res, 401, { status: 'error', error: 'bad token' }); }
      const bad = ['batch_id', 'session_id', 'window_id', 'distinct_id'].find(k => typeof json[k] !== 'string' || !json[k])
        || (!UUID.test(json.batch_id) && 'batch_id') || (typeof json.sent_at !== 'number' && 'sent_at')
        || (json.lib !== 'reel-js' && 'lib') || (typeof json.lib_version !== 'string' && 'lib_version') || (!Array.isArray(json.events) && 'events')
        || (json.events.some(e => typeof e.type !== 'number' || typeof e.timestamp !== 'number' || !('data' in e)) && 'events[]');
      if (bad) { st.rejected++; return reply(res, 400, { status: 'error', error: 'invalid field ' + bad }); }
      if (stored.has(json.batch_id)) st.duplicates++;
      else stored.set(json.batch_id, json);
      reply(res, 200, { status: 'ok', batch_id: json.batch_id, events: json.events.length });
    });
  });
  /** Proxy mode: the real server decides; what it accepted is recorded (deduped by batch_id) for the tests. */
  async function forward(req, res, buf) {
    try {
      const r = await fetch(upstream.replace(/\/$/, '') + req.url, { method: 'POST', headers: { 'content-type': req.headers['content-type'] || 'text/plain' }, body: buf });
      const text = await r.text();
      if (r.status === 200) {
        const json = JSON.parse((buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf).toString('utf8'));
        if (stored.has(json.batch_id)) st.duplicates++; else stored.set(json.batch_id, json);
      } else st.rejected++;
      res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') || 'application/json', ...cors });
      res.end(text);
    } catch (e) { st.failed++; reply(res, 502, { status: 'error', error: 'upstream: ' + e.message }); }
  }
  await new Promise(r => server.listen(port, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    token,
    batches: () => [...stored.values()],
    events: () => [...stored.values()].flatMap(b => b.events).sort((a, b) => a.timestamp - b.timestamp),
    bodies: () => raw.slice(),
    stats: () => ({ ...st, stored: stored.size }),
    setMode(m) { mode = m; if (m !== 'hang') { for (const r of hanging) r.destroy(); hanging.clear(); } },
    stop: () => new Promise(r => { for (const h of hanging) h.destroy(); server.closeAllConnections(); server.close(() => r()); }),
  };
}
