#!/usr/bin/env bash
# Redaction throughput, side by side in one run: `reel redact` (release) against a straightforward
# Python script (json + re) applying the same pattern rules, on the same ≥100 MB input made from
# the fixtures; then `reel redact` with selector rules and with the presets.
#
#   bench/redact/compare.sh [MEGABYTES]
#
# MB/s per core = input MB / (user + system CPU seconds). Needs python3 and GNU time (/usr/bin/time)
# or falls back to bash's `times`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mb="${1:-110}"
work="$(mktemp -d "${TMPDIR:-/tmp}/reel-redact-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p reel)
reel="$CARGO_TARGET_DIR/release/reel"
input="$work/input.jsonl"
python3 "$here/gen.py" "$input" "$mb" >&2
bytes=$(stat -c %s "$input")

# run NAME CMD...: wall and CPU seconds of CMD, MB/s (wall) and MB/s per core (CPU).
run() {
  local name="$1"; shift
  local t0 t1 cpu wall
  t0=$(date +%s.%N)
  /usr/bin/time -o "$work/time" -f "%U %S" "$@" >/dev/null 2>"$work/err" || { echo "$name failed:" >&2; cat "$work/err" >&2; return 1; }
  t1=$(date +%s.%N)
  cpu=$(tail -1 "$work/time" | awk '{print $1 + $2}')
  wall=$(echo "$t1 $t0" | awk '{print $1 - $2}')
  awk -v n="$name" -v b="$bytes" -v w="$wall" -v c="$cpu" \
    'BEGIN { printf "| %-44s | %7.1f | %7.1f | %8.1f | %8.1f |\n", n, w, c, b/1e6/w, b/1e6/c }'
}

echo "input: $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB of event JSON ([windowId, event] lines), $(nproc) cores"
echo
echo "| run | wall s | CPU s | MB/s | MB/s per core |"
echo "|---|---:|---:|---:|---:|"
run "python3 redact.py (json + re), patterns" python3 "$here/redact.py" "$input" "$work/py.jsonl"
run "reel redact --rules patterns.toml" "$reel" redact "$input" --rules "$here/patterns.toml" -o "$work/p.reel.zip" --level 1
run "reel redact --rules patterns.toml --report-only" "$reel" redact "$input" --rules "$here/patterns.toml" --report-only
run "reel redact --rules selectors.toml" "$reel" redact "$input" --rules "$here/selectors.toml" -o "$work/s.reel.zip" --level 1
run "reel redact --preset default" "$reel" redact "$input" --preset default -o "$work/d.reel.zip" --level 1
run "reel redact --preset strict" "$reel" redact "$input" --preset strict -o "$work/t.reel.zip" --level 1
run "reel pack (no redaction, for reference)" "$reel" pack "$input" -o "$work/plain.reel.zip" --level 1

echo
echo "Engine alone (import not timed; one core):"
(cd "$repo" && cargo build --release -q -p reel-redact --example throughput)
ex="$CARGO_TARGET_DIR/release/examples/throughput"
"$ex" "$input" "$here/patterns.toml"
"$ex" "$input" "$here/selectors.toml"
"$ex" "$input" --preset default
"$ex" "$input" --preset strict
