#!/usr/bin/env bash
# Moments + summary throughput (reel-insight), MB/s of event JSON per core, release build:
# the analysis alone (import done first, not timed; crates/reel-insight/examples/throughput.rs),
# and what it adds to `reel pack` (which computes summary.json while it writes).
#
#   bench/moments.sh [MEGABYTES]      (default 110; input made by bench/redact/gen.py from the fixtures)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
mb="${1:-110}"
work="$(mktemp -d "${TMPDIR:-/tmp}/reel-moments-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p reel-insight --example throughput && cargo build --release -q -p reel)
input="$work/input.jsonl"
python3 "$here/redact/gen.py" "$input" "$mb" >&2
echo "input: $(stat -c %s "$input" | awk '{printf "%.1f", $1/1e6}') MB ([windowId, event] lines, one window per fixture copy), $(nproc) cores"
for i in 1 2 3; do "$CARGO_TARGET_DIR/release/examples/throughput" "$input"; done
reel="$CARGO_TARGET_DIR/release/reel"
for i in 1 2; do
  /usr/bin/time -f "reel pack (with summary.json): wall %e s, CPU %U+%S s, peak RSS %M KB" "$reel" pack "$input" -o "$work/p.reel.zip" 2>&1 >/dev/null | tail -1
done
