#!/usr/bin/env bash
# Package throughput: `reel pack` and `reel verify` (release build) side by side with
# `zip -6 -r` + `sha256sum` on the same files, at several input sizes, with peak memory.
#
# Usage: bench/package.sh [SIZE_MB...]     (default: 250 500)
#   WORK=/path   scratch folder (default: a new folder under ${TMPDIR:-/tmp}); needs ~2.5x the
#                largest size free. Removed at the end unless KEEP=1.
#   REEL=/path   reel binary to use (default: build the release binary of this checkout)
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

# Run a command under /usr/bin/time; print "seconds max_rss_kb".
measure() {
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
    cat "$work/stderr.txt" >&2
    return 1
  }
  cat "$work/time.txt"
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

echo "| input | files | tool | seconds | MB/s of event JSON | peak RSS |"
echo "|---|---:|---|---:|---:|---:|"
for mb in "${sizes[@]}"; do
  data="$work/data-$mb"
  generate "$mb" "$data" 2>/dev/null
  files=$(find "$data" -type f | wc -l)
  bytes=$(du -sb "$data" | cut -f1)
  sync

  read -r t_pack rss_pack < <(measure "$REEL" pack "$data"/*.json -o "$work/out.reel.zip")
  read -r t_verify rss_verify < <(measure "$REEL" verify "$work/out.reel.zip")
  # The baseline works on exactly the files inside the package.
  rm -rf "$work/unpacked"
  "$REEL" unpack "$work/out.reel.zip" -o "$work/unpacked" 2>/dev/null
  read -r t_zip rss_zip < <(cd "$work/unpacked" && measure zip -6 -r -q "$work/base.zip" .)
  read -r t_sum rss_sum < <(cd "$work/unpacked" && measure sh -c 'find . -type f -print0 | xargs -0 sha256sum > /dev/null')
  pkg=$(stat -c %s "$work/out.reel.zip")
  base=$(stat -c %s "$work/base.zip")
  t_base=$(python3 -c "print(round($t_zip + $t_sum, 2))")
  printf '| %d MB | %d | `reel pack` | %s | %s | %d MB |\n' "$mb" "$files" "$t_pack" "$(mbps "$bytes" "$t_pack")" $((rss_pack / 1024))
  printf '| %d MB | %d | `reel verify` | %s | %s | %d MB |\n' "$mb" "$files" "$t_verify" "$(mbps "$bytes" "$t_verify")" $((rss_verify / 1024))
  printf '| %d MB | %d | `zip -6 -r` + `sha256sum` | %s (%s + %s) | %s | %d MB |\n' "$mb" "$files" "$t_base" "$t_zip" "$t_sum" "$(mbps "$bytes" "$t_base")" $(( (rss_zip > rss_sum ? rss_zip : rss_sum) / 1024 ))
  echo "<!-- $mb MB: package $pkg bytes, zip -6 $base bytes, event JSON $bytes bytes -->"
  rm -rf "$data" "$work/unpacked" "$work/out.reel.zip" "$work/base.zip"
done
