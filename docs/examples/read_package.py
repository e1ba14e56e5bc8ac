#!/usr/bin/env python3
"""Read a Reel package with nothing but Python: check every checksum, list sessions.
Usage: python3 read_package.py PACKAGE.reel.zip   (exit 1 on any mismatch)"""
import hashlib, json, sys, zipfile

def sha256(z, name):
    h = hashlib.sha256()
    with z.open(name) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

with zipfile.ZipFile(sys.argv[1]) as z:
    manifest = json.loads(z.read("manifest.json"))
    sums = dict(reversed(l.split("  ", 1)) for l in z.read("SHA256SUMS").decode().splitlines())
    expected = {f["path"]: f["sha256"] for f in manifest["files"]}
    bad = [p for p, h in expected.items() if sums.get(p) != h]  # the two lists agree
    for path, digest in sums.items():  # SHA256SUMS also covers manifest.json
        try:
            ok = sha256(z, path) == digest
        except Exception:  # missing entry, bad CRC-32, broken deflate data
            ok = False
        if not ok:
            bad.append(path)
    for url, a in manifest.get("assets", {}).items():  # 1.2: URL -> entry named by its hash
        path = f"assets/sha256/{a['sha256']}"
        bad += [] if expected.get(path) == a["sha256"] else [path]
        print(f"asset {url}: {a['content_type']}, {a['size']} bytes, {path}")
    for path in sorted(set(bad)):
        print(f"MISMATCH {path}", file=sys.stderr)
    for s in manifest["sessions"]:
        events = sum(sum(1 for line in z.open(w) if line.strip()) for w in s["windows"])
        print(f"{s['id']}: {events} events")
    sys.exit(1 if bad else 0)
