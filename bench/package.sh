#!/usr/bin/env bash
# Package throughput: `reel pack` and `reel verify` (release build) side by side with
# `zip -6 -r` + `sha256sum` on the same files, at several input sizes, with peak memory.
#
# Usage: bench/package.sh [SIZE_MB...]     (default: 250 500)
#   WORK=/path   scratch folder (default: a new folder under ${TMPDIR:-/tmp}); needs ~2.5x the
#                largest size free. Removed at the end unless KEEP=1.
#   REEL=/path   reel binary to use (default: build the release binary of this checkout)
#   REPEAT=N     run each measured command N times, report the fastest (default 3)
# Prints a Markdown table for bench/RESULTS.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(250 500)

command -v /usr/bin/time >/dev/null || { apt-get install -y time >/dev/null; }
command -v zip >/dev/null || { apt-get install -y zip >/dev/null; }

if [ -z "${REEL:-}" ]; then
  (cd "$root" && cargo build --release -q -p reel)
  REEL="${CARGO_TARGET_DIR:-$root/target}/release/reel"
fi
work="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/reel-bench-XXXXXX")}"
mkdir -p "$work"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# Run a command under /usr/bin/time REPEAT times; print "wall_seconds max_rss_kb cpu_seconds": wall and
# CPU of the fastest run, the largest peak RSS of all runs (cpu = user + sys of all threads: on a shared machine wall time includes waiting for a
# core, CPU time does not; the fastest of several runs is the least disturbed).
measure() {
  local best="" i
  for i in $(seq "${REPEAT:-3}"); do
    /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
      cat "$work/stderr.txt" >&2
      return 1
    }
    # keep the fastest wall time with its CPU time, and the largest peak RSS of all runs
    best=$(awk -v best="$best" '{ cpu = sprintf("%.2f", $3 + $4)
      if (best == "") { print $1, $2, cpu; exit }
      split(best, b, " "); rss = ($2 > b[2]) ? $2 : b[2]
      if ($1 < b[1]) print $1, rss, cpu; else print b[1], rss, b[3] }' "$work/time.txt")
  done
  echo "$best"
}

# Make SIZE MB of rrweb JSON recordings: copies of the fixtures, each under a file name that gives
# it a fresh session id (`export-<uuid>-rrweb-recording.json`).
generate() {
  local mb=$1 dir=$2
  python3 - "$root/tests/fixtures/rrweb" "$dir" "$mb" <<'PY'
import os, sys, uuid
src, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
fixtures = [open(os.path.join(src, f), "rb").read() for f in sorted(os.listdir(src)) if f.endswith(".json")]
total, i = 0, 0
while total < mb * 1_000_000:
    data = fixtures[i % len(fixtures)]
    with open(os.path.join(out, f"export-{uuid.uuid4()}-rrweb-recording.json"), "wb") as f:
        f.write(data)
    total += len(data)
    i += 1
print(f"{i} files, {total} bytes", file=sys.stderr)
PY
}

mbps() { python3 -c "print(f'{$1 / 1e6 / max($2, 0.001):.1f}')"; }

echo "<!-- $(date -u +%FT%TZ), load average at start: $(cut -d' ' -f1-3 /proc/loadavg) -->"
echo "| input | files | tool | wall s | MB/s (wall) | CPU s | MB/s (CPU) | peak RSS |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
row() { # label wall cpu rss_kb
  printf '| %d MB | %d | %s | %s | %s | %s | %s | %d MB |\n' "$mb" "$files" "$1" "$2" "$(mbps "$bytes" "$2")" "$3" "$(mbps "$bytes" "$3")" $(($4 / 1024))
}
for mb in "${sizes[@]}"; do
  data="$work/data-$mb"
  generate "$mb" "$data" 2>/dev/null
  files=$(find "$data" -type f | wc -l)
  bytes=$(du -sb --apparent-size "$data" | cut -f1)
  sync

  read -r w_pack rss_pack c_pack < <(measure "$REEL" pack "$data"/*.json -o "$work/out.reel.zip")
  read -r w_verify rss_verify c_verify < <(measure "$REEL" verify "$work/out.reel.zip")
  # The baseline works on exactly the files inside the package.
  rm -rf "$work/unpacked"
  "$REEL" unpack "$work/out.reel.zip" -o "$work/unpacked" 2>/dev/null
  read -r w_zip rss_zip c_zip < <(cd "$work/unpacked" && measure sh -c 'rm -f "$1" && zip -6 -r -q "$1" .' zip "$work/base.zip")
  read -r w_sum rss_sum c_sum < <(cd "$work/unpacked" && measure sh -c 'find . -type f -print0 | xargs -0 sha256sum > /dev/null')
  pkg=$(stat -c %s "$work/out.reel.zip")
  base=$(stat -c %s "$work/base.zip")
  row '`reel pack`' "$w_pack" "$c_pack" "$rss_pack"
  row '`reel verify`' "$w_verify" "$c_verify" "$rss_verify"
  row '`zip -6 -r` + `sha256sum`' "$(python3 -c "print(round($w_zip + $w_sum, 2))")" "$(python3 -c "print(round($c_zip + $c_sum, 2))")" "$(( rss_zip > rss_sum ? rss_zip : rss_sum ))"
  echo "<!-- $mb MB: event JSON $bytes bytes; package $pkg bytes; zip -6 $base bytes; zip -6 alone: wall $w_zip s, CPU $c_zip s -->"
  rm -rf "$data" "$work/unpacked" "$work/out.reel.zip" "$work/base.zip"
done
echo "<!-- load average at end: $(cut -d' ' -f1-3 /proc/loadavg) -->"
