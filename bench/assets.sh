#!/usr/bin/env bash
# Asset collection benchmark (issue 14): `reel assets` fetching a recording's images from a loopback web server,
# side by side with curl fetching the same URLs one after another (the obvious alternative). The goal: collection is
# bounded by the network, not by Reel (≥ 100 MB/s from loopback).
#
#   bench/assets.sh [COUNT] [MB_EACH]       (default: 40 assets of 5 MB)
#
# The server is node's http module serving bytes from memory (keep-alive), so it is not the bottleneck.
set -euo pipefail
cd "$(dirname "$0")/.."
REEL=${REEL:-target/release/reel}
N=${1:-40}
MB=${2:-5}
[ -x "$REEL" ] || { echo "build first: cargo build --release -p reel" >&2; exit 1; }
W=$(mktemp -d)
trap 'kill $SRV 2>/dev/null || true; rm -rf "$W"' EXIT

# A server with N distinct images of MB megabytes each (random bytes behind a PNG signature).
cat > "$W/srv.mjs" <<'EOF'
import http from 'node:http';
import { randomBytes } from 'node:crypto';
const [n, mb] = process.argv.slice(2).map(Number);
const files = Array.from({ length: n }, () => { const b = randomBytes(mb * 1e6); b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]); return b; });
const s = http.createServer((req, res) => {
  const m = /^\/img\/(\d+)\.png$/.exec(req.url);
  const b = m && files[+m[1]];
  if (!b) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': b.length });
  res.end(b);
});
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
EOF
node "$W/srv.mjs" "$N" "$MB" > "$W/port" &
SRV=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
BASE="http://127.0.0.1:$(cat "$W/port")"

# A recording whose page shows the N images.
python3 - "$BASE" "$N" > "$W/rec.json" <<'EOF'
import json, sys
base, n = sys.argv[1], int(sys.argv[2])
t = 1795000000000
imgs = [{"type": 2, "id": 10 + i, "tagName": "img", "attributes": {"src": f"{base}/img/{i}.png"}, "childNodes": []} for i in range(n)]
doc = {"type": 0, "id": 1, "childNodes": [{"type": 2, "id": 2, "tagName": "html", "attributes": {}, "childNodes": [
    {"type": 2, "id": 3, "tagName": "body", "attributes": {}, "childNodes": imgs}]}]}
print(json.dumps([{"type": 4, "timestamp": t, "data": {"href": base + "/", "width": 800, "height": 600}},
                  {"type": 2, "timestamp": t + 1, "data": {"node": doc, "initialOffset": {"top": 0, "left": 0}}}]))
EOF
TOTAL=$(python3 -c "print($N * $MB)")
rate() { python3 -c "print(f'{$TOTAL / $1:.0f}')"; }

# Warm-up (page cache, server JIT), then the runs.
for i in 0 1; do curl -s -o /dev/null "$BASE/img/$i.png"; done
t0=$(date +%s.%N)
/usr/bin/time -f '%e %U %S %M' -o "$W/reel.time" "$REEL" assets "$W/rec.json" -o "$W/out.reel.zip" --allow-private \
  --max-asset-bytes $((MB * 1000000 + 1)) --max-total-bytes $((N * MB * 1000000 + 1)) --json > "$W/out.json"
read -r wall user sys rss < "$W/reel.time"
echo "reel assets: $N × $MB MB in ${wall} s = $(rate "$wall") MB/s (CPU ${user} s user + ${sys} s sys, peak RSS $((rss / 1024)) MB)"
python3 -c "import json; d=json.load(open('$W/out.json')); print('  fetched', d['fetched'], 'failed', len(d['failed']), 'bytes', d['bytes'])"
urls=$(for i in $(seq 0 $((N - 1))); do echo "$BASE/img/$i.png"; done)
/usr/bin/time -f '%e %U %S' -o "$W/curl.time" sh -c "for u in $(echo $urls); do curl -s -o /dev/null \"\$u\"; done"
read -r wall user sys < "$W/curl.time"
echo "curl, one URL after another: ${wall} s = $(rate "$wall") MB/s (CPU ${user} s user + ${sys} s sys)"
/usr/bin/time -f '%e %U %S' -o "$W/curl1.time" curl -s $(for u in $urls; do echo "-o /dev/null $u"; done)
read -r wall user sys < "$W/curl1.time"
echo "curl, all URLs in one process (keep-alive): ${wall} s = $(rate "$wall") MB/s (CPU ${user} s user + ${sys} s sys)"
