#!/usr/bin/env bash
# Render benchmark (bench/RESULTS-render.md): `reel video` on a long recording of real activity.
#
#   bench/render.sh [RECORDING] [extra reel video flags...]
#
# RECORDING defaults to bench/out/long.json (made by `node bench/make-long-recording.mjs`, 10 minutes of real time).
# Prints, per output format: wall time, recording seconds per wall second, frames / stored / page captures, and the
# peak RSS of the whole process tree (reel + Chromium + ffmpeg, sampled every 200 ms; summed RSS over-counts Chromium's shared
# pages, summed PSS does not, with the PSS peak split by kind of process) and of its largest process.
set -euo pipefail
cd "$(dirname "$0")/.."
REEL=${REEL:-target/release/reel}
IN=${1:-bench/out/long.json}
shift || true
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
[ -x "$REEL" ] || { echo "build first: cargo build --release -p reel" >&2; exit 1; }
[ -f "$IN" ] || { echo "no $IN: node bench/make-long-recording.mjs" >&2; exit 1; }

# Peak summed RSS (KB) of the tree under PID, the largest single process, and the peak summed PSS (shared pages
# divided among the processes sharing them: the tree's real footprint), sampled until it exits.
peak_rss() {
  python3 - "$1" <<'EOF'
import os, sys, time
root = int(sys.argv[1]); peak = big = 0
def kids(p):
    out = [p]
    try:
        for t in os.listdir(f'/proc/{p}/task'):
            for c in open(f'/proc/{p}/task/{t}/children').read().split():
                out += kids(int(c))
    except OSError:
        pass
    return out
def kind(p):
    # Chromium rewrites its command line into one string: split it again.
    a = open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\0', b' ').decode(errors='replace').split()
    t = next((x[7:] for x in a if x.startswith('--type=')), None)
    sub = next((x.split('.')[-1] for x in a if x.startswith('--utility-sub-type=')), None)
    return os.path.basename(a[0]) if t is None else 'chromium-' + (sub or t)
pss_peak = n = 0; at_peak = {}
while os.path.exists(f'/proc/{root}'):
    n += 1
    tot = pss = 0; parts = {}
    for p in kids(root):
        try:
            for line in open(f'/proc/{p}/status'):
                if line.startswith('VmRSS:'):
                    kb = int(line.split()[1]); tot += kb; big = max(big, kb)
            # Proportional set size: pages shared between processes (Chromium's) counted once in the sum.
            # Read once a second: walking Chromium's mappings five times a second slowed the render measurably.
            if n % 5 == 0:
                for line in open(f'/proc/{p}/smaps_rollup'):
                    if line.startswith('Pss:'):
                        kb = int(line.split()[1]); pss += kb
                        k = kind(p); parts[k] = parts.get(k, 0) + kb
        except OSError:
            pass
    peak = max(peak, tot)
    if pss > pss_peak:
        pss_peak, at_peak = pss, parts
    time.sleep(0.2)
# At the PSS peak, per kind of process (MB).
split = ','.join(f'{k}={v // 1024}' for k, v in sorted(at_peak.items(), key=lambda kv: -kv[1]))
print(f'{peak} {big} {pss_peak} {split}')
EOF
}

for ext in ${FORMATS:-mp4 webm gif}; do
  out="$OUT/long.$ext"
  start=$(date +%s.%N)
  "$REEL" video "$IN" -o "$out" "$@" 2> "$OUT/render-$ext.log" &
  pid=$!
  rss=$(peak_rss $pid)
  wait $pid
  end=$(date +%s.%N)
  summary=$(tail -1 "$OUT/render-$ext.log")
  echo "$ext: $(echo "$end - $start" | bc) s wall; peak RSS tree $(echo $rss | cut -d' ' -f1) KB (PSS $(echo $rss | cut -d' ' -f3) KB: $(echo $rss | cut -d' ' -f4) MB), largest process $(echo $rss | cut -d' ' -f2) KB; $summary; $(stat -c %s "$out") bytes; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
