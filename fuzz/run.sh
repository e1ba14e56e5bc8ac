#!/usr/bin/env bash
# Run every fuzz target for a bounded time.
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, all targets)
# Needs cargo-fuzz (installed here if missing). Works on the stable toolchain via RUSTC_BOOTSTRAP=1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(package import decode_body cv capture_body)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz…" >&2
  cargo install cargo-fuzz --locked
fi
# Seed the corpora from the fixtures the first time.
if [ ! -d "$here/corpus/package" ]; then
  "$here/seed.sh"
fi
cd "$here"
export RUSTC_BOOTSTRAP=1
failed=()
for t in "${targets[@]}"; do
  echo "== fuzz target $t for ${secs}s" >&2
  # -rss_limit_mb: the readers cap memory themselves; anything near 2 GB is a bug.
  if ! cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]} (reproducers under fuzz/artifacts/)" >&2
  exit 1
fi
echo "all targets ran ${secs}s without a crash" >&2
