#!/usr/bin/env bash
# `reel parquet` throughput, MB/s of event JSON (issue 12 asks ≥ 100 MB/s on this 2-core machine), release build,
# against the obvious alternative: DuckDB's Python package reading the same events as JSON and writing Parquet
# (clicks/inputs/scrolls/console/network by type and source only: no DOM, so no click targets or text).
#
#   bench/parquet.sh [MEGABYTES]      (default 100; input made by bench/redact/gen.py from the fixtures)
#
# Times, on the same events: `reel parquet` on a package (the usual input; packing is not timed), `reel parquet` on
# the raw JSONL (import + spool + tables), and DuckDB on the JSONL. Needs a Python with duckdb for the last
# (.tools/venv, which scripts/test makes, or python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
mb="${1:-100}"
work="$(mktemp -d "${TMPDIR:-/tmp}/reel-parquet-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p reel)
reel="$CARGO_TARGET_DIR/release/reel"
input="$work/input.jsonl"
python3 "$here/redact/gen.py" "$input" "$mb" >&2
"$reel" pack "$input" -o "$work/input.reel.zip" 2>/dev/null
bytes=$("$reel" parquet "$work/input.reel.zip" -o "$work/warm" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_in"])')
echo "input: $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB of event JSON ([windowId, event] lines, one window per fixture copy), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
rate() { awk -v b="$bytes" -v s="$1" -v c="$2" 'BEGIN{printf "%.1f MB/s (wall %.2f s), %.1f MB/s per CPU second (CPU %.2f s)", b/1e6/s, s, b/1e6/c, c}'; }
timed() { # label, command...
  local label="$1"; shift
  local t
  t="$(/usr/bin/time -f '%e %U %S %M' "$@" 2>&1 >/dev/null | tail -1)"
  read -r wall user sys rss <<<"$t"
  echo "$label: $(rate "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')"), peak RSS $((rss / 1024)) MB"
}
for i in 1 2; do
  timed "reel parquet (package)     run $i" "$reel" parquet "$work/input.reel.zip" -o "$work/out-pkg"
done
timed "reel parquet (raw JSONL)   run 1" "$reel" parquet "$input" -o "$work/out-raw"
py=python3
[ -x "$repo/.tools/venv/bin/python" ] && py="$repo/.tools/venv/bin/python"
if "$py" -c 'import duckdb' 2>/dev/null; then
  cat >"$work/duck.py" <<'PY'
import duckdb, sys
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"""
COPY (
  WITH l AS (SELECT json->>'$[0]' AS window_id, json->'$[1]' AS e
             FROM read_json_objects('{src}', format = 'newline_delimited', maximum_object_size = 1000000000))
  SELECT window_id, epoch_ms(CAST(e->>'timestamp' AS BIGINT)) AS timestamp,
         CASE WHEN e->>'type' = '4' THEN 'navigation'
              WHEN e->>'type' = '5' THEN 'custom'
              WHEN e->>'type' = '6' THEN e->'data'->>'plugin'
              WHEN e->'data'->>'source' = '2' THEN 'click'
              WHEN e->'data'->>'source' = '3' THEN 'scroll'
              WHEN e->'data'->>'source' = '4' THEN 'viewport'
              ELSE 'input' END AS kind,
         e->'data'->>'href' AS url, CAST(e->'data'->>'x' AS DOUBLE) AS x, CAST(e->'data'->>'y' AS DOUBLE) AS y,
         CAST(e->'data'->>'id' AS BIGINT) AS target_id, e->'data'->>'text' AS input_value,
         e->'data'->'payload'->>'level' AS console_level, e->'data'->>'tag' AS custom_tag
  FROM l
  WHERE e->>'type' IN ('4', '5', '6')
     OR (e->>'type' = '3' AND e->'data'->>'source' IN ('2', '3', '4', '5'))
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
PY
  for i in 1 2; do
    timed "duckdb read_json → parquet run $i (no DOM: no targets)" "$py" "$work/duck.py" "$input" "$work/duck.parquet"
  done
else
  echo "duckdb: not installed for $py (pip install duckdb), skipped"
fi
