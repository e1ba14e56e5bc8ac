#!/usr/bin/env python3
"""Make a large PostHog snapshot-API JSONL (`[windowId, event]` per line) from the fixtures.

Usage: gen.py OUT.jsonl [MEGABYTES]   (default 110 MB)
Each copy of a fixture recording becomes its own window, so every window starts with its own
full snapshot and the DOM-aware rules see complete pages.
"""
import json, os, sys

root = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
sources = [os.path.join(root, "rrweb", f) for f in ("checkout.json", "swagger.json", "shoelace.json")]
sources.append(os.path.join(root, "posthog-wire", "checkout", "decoded-events.json"))
recordings = []
for p in sources:
    with open(p) as f:
        ev = json.load(f)
    if isinstance(ev, dict):
        ev = ev.get("events") or ev.get("data") or []
    recordings.append([json.dumps(e, separators=(",", ":")) for e in ev if isinstance(e, dict)])

out, target = sys.argv[1], int(sys.argv[2] if len(sys.argv) > 2 else 110) * 1_000_000
written, copy = 0, 0
with open(out, "w") as f:
    while written < target:
        for rec in recordings:
            copy += 1
            w = json.dumps(f"w{copy}")
            for line in rec:
                s = f"[{w},{line}]\n"
                f.write(s)
                written += len(s)
print(f"{out}: {written/1e6:.1f} MB, {copy} windows")
