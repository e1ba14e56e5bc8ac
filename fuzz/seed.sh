#!/usr/bin/env bash
# Seed the fuzz corpora (fuzz/corpus/<target>/) from the project's fixtures.
# Usage: fuzz/seed.sh   (needs the `reel` binary: builds it if missing)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
fx="$root/tests/fixtures"
corpus="$here/corpus"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
reel="$target_dir/debug/reel"
if [ ! -x "$reel" ]; then
  (cd "$root" && cargo build -q -p reel)
fi
mkdir -p "$corpus"/{package,import,decode_body,cv,capture_body}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Wire bodies: every encoding posthog-js used (gzip, plain JSON, base64 form).
for run in "$fx"/posthog-wire/*/; do
  r="$(basename "$run")"
  for b in "$run"*-POST-s.bin; do
    cp "$b" "$corpus/decode_body/$r-$(basename "$b")"
    cp "$b" "$corpus/import/$r-$(basename "$b")"
  done
done
# An lz64 body, a base64 form and a JSONL snapshot-API file, made from a small event list.
small='[{"event":"$snapshot","properties":{"$session_id":"s1","$window_id":"w1","distinct_id":"d","$snapshot_data":[{"type":4,"data":{"href":"https://a/","width":1,"height":1},"timestamp":1}]}}]'
printf 'data=%s' "$(printf '%s' "$small" | base64 -w0)" > "$corpus/decode_body/form.txt"
cp "$corpus/decode_body/form.txt" "$corpus/import/form.txt"
# lz64 (lz-string's compressToBase64), from the decoder's test vectors.
python3 - "$root/crates/reel-format/src/import/lz64-vectors.json" "$corpus/decode_body" <<'PY'
import json, sys
for i, case in enumerate(json.load(open(sys.argv[1]))):
    open(f"{sys.argv[2]}/lz64-{i}.txt", "w").write(case["lz64"])
PY
printf '["w1",{"type":4,"data":{"href":"https://a/"},"timestamp":1}]\n["w1",{"type":3,"data":{"source":2,"type":2,"id":1},"timestamp":2}]\n' > "$corpus/import/snapshot.jsonl"
printf '{"batch_id":"b1","session_id":"s1","window_id":"w1","events":[{"type":4,"data":{"href":"https://a/"},"timestamp":1}]}' > "$corpus/import/batch.json"
printf '{"version":"2023-04-28","data":{"id":"s1","person":null,"snapshots":[{"windowId":1,"type":4,"data":{},"timestamp":1}]}}' > "$corpus/import/v2.json"
printf '{"version":"2022-12-02","data":{"person":null,"snapshotsByWindowId":{"1":[{"type":4,"data":{},"timestamp":1}]}}}' > "$corpus/import/v1.json"

# rrweb arrays (the small one whole; the big ones cut to their first events).
for f in "$fx"/rrweb/*.json; do
  python3 - "$f" "$corpus/import/rrweb-$(basename "$f")" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
json.dump(ev[:40], open(sys.argv[2], "w"))
PY
done

# Packages made by the CLI, one per fixture kind, plus a signed one.
"$reel" pack "$corpus/import/rrweb-checkout.json" -o "$tmp/a.reel.zip" 2>/dev/null
"$reel" pack "$fx"/posthog-wire/checkout/00*-POST-s.bin -o "$tmp/b.reel.zip" 2>/dev/null
"$reel" keygen -o "$tmp/k" 2>/dev/null
"$reel" sign "$tmp/a.reel.zip" --key "$tmp/k.key" -o "$tmp/c.reel.zip" 2>/dev/null
for p in a b c; do
  cp "$tmp/$p.reel.zip" "$corpus/package/$p.reel.zip"
  cp "$tmp/$p.reel.zip" "$corpus/import/$p.reel.zip"
done

# cv fields: gzip of JSON as posthog-js packs it (the target turns bytes into a latin1 string).
printf '[{"parentId":1,"nextId":null,"node":{"type":3,"textContent":"hi","id":9}}]' | gzip -c > "$corpus/cv/adds.gz"
printf '{"node":{"type":0,"childNodes":[],"id":1},"initialOffset":{"top":0,"left":0}}' | gzip -c > "$corpus/cv/full.gz"
printf '[]' | gzip -c > "$corpus/cv/empty.gz"
# Capture bodies: every decode_body seed, plus the /s/ bodies and ingest batches of the import corpus.
cp "$corpus/decode_body/"* "$corpus/capture_body/"
cp "$corpus/import/batch.json" "$corpus/capture_body/"
echo "seeded: $(find "$corpus" -type f | wc -l) files in $corpus"
