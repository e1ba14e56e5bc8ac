#!/usr/bin/env python3
"""Validate Reel packages against the JSON Schemas in this folder.

Usage: python3 docs/schema/validate.py PACKAGE.reel.zip [PACKAGE...]

Checks manifest.json, every sessions/<id>/meta.json, every sessions/<id>/summary.json (format 1.1),
every sessions/<id>/comments.json (format 1.3) and every line of every window file.
Prints one line per problem (package: entry[:line]: message) and exits 1 if there was any.
Needs the `jsonschema` package (pip install jsonschema).
"""
import json
import sys
import zipfile
from pathlib import Path

from jsonschema import Draft202012Validator

HERE = Path(__file__).resolve().parent


def validator(name):
    schema = json.loads((HERE / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


MANIFEST = validator("manifest.schema.json")
META = validator("session-meta.schema.json")
EVENT = validator("event.schema.json")
SUMMARY = validator("summary.schema.json")
COMMENTS = validator("comments.schema.json")


def problems(v, doc, where):
    for err in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
        at = "/".join(str(p) for p in err.absolute_path)
        yield f"{where}: {'/' + at + ': ' if at else ''}{err.message}"


def check(path):
    out = []
    counts = {"meta": 0, "events": 0, "summary": 0}
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
        out += problems(MANIFEST, manifest, "manifest.json")
        for s in manifest.get("sessions", []):
            meta = json.loads(z.read(s["meta"]))
            counts["meta"] += 1
            out += problems(META, meta, s["meta"])
            summary = f"sessions/{s['id']}/summary.json"
            if summary in {f["path"] for f in manifest.get("files", [])}:
                counts["summary"] += 1
                out += problems(SUMMARY, json.loads(z.read(summary)), summary)
            comments = f"sessions/{s['id']}/comments.json"
            if comments in {f["path"] for f in manifest.get("files", [])}:
                counts["comments"] = counts.get("comments", 0) + 1
                out += problems(COMMENTS, json.loads(z.read(comments)), comments)
            for w in s.get("windows", []):
                with z.open(w) as f:
                    for n, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        try:
                            event = json.loads(line)
                        except ValueError as e:
                            out.append(f"{w}:{n}: not JSON: {e}")
                            continue
                        counts["events"] += 1
                        out += problems(EVENT, event, f"{w}:{n}")
    return out, counts


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bad = 0
    for p in argv:
        try:
            errs, c = check(p)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
            errs, c = [f"cannot read: {e}"], {"meta": 0, "events": 0, "summary": 0}
        for e in errs[:50]:
            print(f"{p}: {e}")
        if len(errs) > 50:
            print(f"{p}: … {len(errs) - 50} more")
        if errs:
            bad += 1
        else:
            print(f"{p}: valid (manifest, {c['meta']} meta.json, {c['summary']} summary.json, {c['events']} events)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
