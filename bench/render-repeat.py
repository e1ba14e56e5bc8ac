#!/usr/bin/env python3
"""A long recording for the render memory benchmark: IN's events repeated N times, each copy shifted after the last.

    python3 bench/render-repeat.py bench/out/long.json 18 bench/out/long3h.json   # 10 min x 18 = 3.1 h
"""
import json
import sys

src, times, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
events = json.load(open(src))
span = events[-1]['timestamp'] - events[0]['timestamp'] + 1000
out = [dict(e, timestamp=e['timestamp'] + k * span) for k in range(times) for e in events]
json.dump(out, open(dst, 'w'))
print(f'{dst}: {len(out)} events, {(out[-1]["timestamp"] - out[0]["timestamp"]) / 3.6e6:.2f} h')
