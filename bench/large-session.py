#!/usr/bin/env python3
"""Peak RSS of `reel serve` while it seals, reads and exports one large session.

    bench/large-session.py target/release/reel [MB]

Builds a session of MB (default 1000) megabytes of event JSON through the native ingest API
(gzip bodies of highly compressible 1 MB events, batches interleaved in time), then measures the
server's peak RSS (VmHWM, reset before each step through /proc/PID/clear_refs) for: sealing,
GET …/events?format=jsonl, GET …/events (JSON), GET …/export, and one 150-byte batch with a new
window id under an ingest redaction policy with a selector rule (warm-up).
"""
import gzip, json, os, socket, subprocess, sys, tempfile, time, urllib.request

REEL = sys.argv[1]
MB_TOTAL = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
ADMIN, CAPTURE = "reel_admin_bench", "phc_reelBenchCaptureToken0000000000000000"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def status(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reset(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def req(url, body=None, method=None, auth=True, headers=None):
    h = dict(headers or {})
    if auth:
        h["Authorization"] = f"Bearer {ADMIN}"
    return urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=h), timeout=3600)


def drain(r):
    n = 0
    while True:
        b = r.read(1 << 20)
        if not b:
            return n
        n += len(b)


def main():
    data = tempfile.mkdtemp(prefix="reel-large-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, REEL_ADMIN_TOKEN=ADMIN, REEL_CAPTURE_TOKEN=CAPTURE, REEL_LOG="warn")
    proc = subprocess.Popen([REEL, "serve", "--listen", f"127.0.0.1:{port}", "--data", data,
                             "--seal-idle-seconds", "3600"], env=env, stderr=subprocess.DEVNULL)
    proc2 = None
    try:
        for _ in range(300):
            try:
                req(url + "/healthz", auth=False); break
            except Exception:
                time.sleep(0.1)
        idle = status(proc.pid, "VmRSS")
        unit = "reel-bounded-memory 0123456789 abcdefghijklmnopqrstuvwxyz "
        payload = unit * ((1 << 20) // len(unit))
        per, batches = 10, MB_TOTAL // 10
        base = int(time.time() * 1000) - 3_600_000
        reset(proc.pid)
        t = time.time()
        for b in range(batches):
            events = [{"type": 5, "timestamp": base + i * batches + b,
                       "data": {"tag": "big", "payload": {"text": payload, "b": b, "i": i}}} for i in range(per)]
            body = gzip.compress(json.dumps({"batch_id": f"big-{b}", "session_id": "big", "window_id": "w",
                                             "events": events}).encode(), 6)
            req(f"{url}/api/v1/ingest?token={CAPTURE}", body, auth=False, headers={"content-type": "text/plain"})
        size = json.load(req(f"{url}/api/v1/sessions/big"))["size"]
        print(f"idle RSS {idle >> 20} MB; session {size >> 20} MB of event JSON in {batches} batches "
              f"(ingest peak {status(proc.pid, 'VmHWM') >> 20} MB, {time.time() - t:.0f} s)")
        # Restart with a 1 s idle time so the sweep seals it now; the peak is then the seal's.
        proc.terminate(); proc.wait()
        proc2 = subprocess.Popen([REEL, "serve", "--listen", f"127.0.0.1:{port}", "--data", data,
                                  "--seal-idle-seconds", "1"], env=env, stderr=subprocess.DEVNULL)
        t = time.time()
        while True:
            try:
                s = json.load(req(f"{url}/api/v1/sessions/big"))
                if s["sealed"]:
                    break
            except Exception:
                pass
            if time.time() - t > 3600:
                raise SystemExit("not sealed after an hour")
            time.sleep(0.2)
        print(f"{'seal':<28} peak RSS {status(proc2.pid, 'VmHWM') >> 20:>6} MB  {time.time() - t:6.1f} s  "
              f"(whole process since start; stored {s.get('stored_bytes')} bytes)")
        def get(path):
            return lambda: f"{drain(req(url + path)) >> 20} MB"

        def step2(name, fn):
            reset(proc2.pid)
            t = time.time()
            out = fn()
            print(f"{name:<28} peak RSS {status(proc2.pid, 'VmHWM') >> 20:>6} MB  {time.time() - t:6.1f} s  {out}")
        step2("GET events?format=jsonl", get("/api/v1/sessions/big/events?format=jsonl"))
        step2("GET events (JSON)", get("/api/v1/sessions/big/events"))
        step2("GET export (.reel.zip)", get("/api/v1/sessions/big/export"))
        req(f"{url}/api/v1/project", json.dumps({"ingest_redaction": {"rules": "block = [\".private\"]\n"}}).encode(),
            method="PATCH", headers={"content-type": "application/json"})

        def warm():
            body = json.dumps({"batch_id": "tiny", "session_id": "big", "window_id": "new-window",
                               "events": [{"type": 5, "timestamp": base, "data": {"tag": "x"}}]}).encode()
            r = req(f"{url}/api/v1/ingest?token={CAPTURE}", body, auth=False, headers={"content-type": "text/plain"})
            return r.status
        step2("new window, ingest policy", warm)
    finally:
        if proc2 is not None and proc2.poll() is None:
            proc2.terminate(); proc2.wait()
        if proc.poll() is None:
            proc.terminate(); proc.wait()
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
