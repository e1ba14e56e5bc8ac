#!/usr/bin/env python3
"""A straightforward redactor for comparison: the same pattern rules as patterns.toml, applied with
`json` and `re` to every string of every event of a `[windowId, event]` JSONL file.

Usage: redact.py IN.jsonl OUT.jsonl
"""
import json, re, sys

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}")
CARD = re.compile(r"\b\d(?:[ \-]?\d){12,22}\b")
PHONE = re.compile(r"\+\d{1,3}[ .\-]?\(?\d{1,4}\)?(?:[ .\-]?\d{2,4}){1,4}|\(\d{3}\) ?\d{3}[ .\-]\d{4}|\b\d{3}-\d{3}-\d{4}\b|\b\d{3}\.\d{3}\.\d{4}\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
BEARER = re.compile(r"(?i)\bbearer[ \t]+[A-Za-z0-9\-._~+/]{8,}=*")
IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b")
IPV6 = re.compile(r"(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}\b")
CUSTOM = [re.compile(r"Zelda Canary"), re.compile(r"SECRET-CANARY-\d+")]


def luhn(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        v = int(c)
        if i % 2:
            v *= 2
            if v > 9:
                v -= 9
        s += v
    return s % 10 == 0


def star(m):
    return "".join(c if c.isspace() else "*" for c in m)


def card(m):
    d = re.sub(r"\D", "", m.group(0))
    return star(m.group(0)) if 13 <= len(d) <= 19 and luhn(d) else m.group(0)


def ipv4(m):
    p = [int(x) for x in m.group(0).split(".")]
    private = p[0] in (0, 10, 127) or p[:2] == [192, 168] or (p[0] == 172 and 16 <= p[1] <= 31)
    return m.group(0) if private else star(m.group(0))


def scrub(s):
    s = EMAIL.sub(lambda m: m.group(0) if m.group(0).rsplit(".", 1)[-1].lower() in ("png", "jpg", "svg", "gif", "css", "js") else star(m.group(0)), s)
    s = CARD.sub(card, s)
    s = PHONE.sub(lambda m: star(m.group(0)) if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0), s)
    s = IBAN.sub(lambda m: star(m.group(0)), s)
    s = JWT.sub(lambda m: star(m.group(0)), s)
    s = BEARER.sub(lambda m: star(m.group(0)), s)
    s = IPV4.sub(ipv4, s)
    s = IPV6.sub(lambda m: star(m.group(0)) if m.group(0).count(":") >= 2 else m.group(0), s)
    for c in CUSTOM:
        s = c.sub(lambda m: star(m.group(0)), s)
    return s


def walk(v):
    if isinstance(v, str):
        return scrub(v)
    if isinstance(v, list):
        return [walk(x) for x in v]
    if isinstance(v, dict):
        return {k: walk(x) for k, x in v.items()}
    return v


with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        w, e = json.loads(line)
        out.write(json.dumps([w, walk(e)], separators=(",", ":")) + "\n")
