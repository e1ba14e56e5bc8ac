//! `reel import posthog`, `reel import sentry` and `reel export posthog` against fake PostHog and
//! Sentry APIs written here from their documented shapes (listing with paging, snapshot sources,
//! blob_v2 ranges of ≤ 20 keys, blob_v2_lts, cv-packed JSONL lines and the older
//! `{"windowId", "data"}` lines, 429 + Retry-After, 5xx, 410; Sentry's replay listing and
//! recording segments with `Link` paging), serving the real recordings in tests/fixtures. The
//! CLI runs as a subprocess; exports go into a real `reel serve`.
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REEL: &str = env!("CARGO_BIN_EXE_reel");
const KEY: &str = "phx_fakePersonalKey_do_not_leak_4242";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn rrweb(name: &str) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(fixtures().join(format!("rrweb/{name}.json"))).unwrap())
        .unwrap()
}

/// The `$snapshot` items of a recorded posthog-js run as `(window id, event)`, events exactly as
/// posthog-js sent them (`cv`-packed), as PostHog's snapshot API serves them.
fn wire_lines(run: &str) -> Vec<(String, Value)> {
    let dir = fixtures().join("posthog-wire").join(run);
    let mut bodies: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-POST-s.bin"))
        .collect();
    bodies.sort();
    let mut out = Vec::new();
    for b in bodies {
        let raw = std::fs::read(&b).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut plain)
            .unwrap();
        let items: Vec<Value> = serde_json::from_slice(&plain).unwrap();
        for it in items {
            if it["event"] != "$snapshot" {
                continue;
            }
            let w = it["properties"]["$window_id"].as_str().unwrap().to_string();
            for e in it["properties"]["$snapshot_data"].as_array().unwrap() {
                out.push((w.clone(), e.clone()));
            }
        }
    }
    assert!(
        out.iter().any(|(_, e)| e.get("cv").is_some()),
        "fixture holds cv-packed events"
    );
    out
}

fn wire_decoded(run: &str) -> Vec<Value> {
    let p = fixtures()
        .join("posthog-wire")
        .join(run)
        .join("decoded-events.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// One recording the fake serves.
#[derive(Clone)]
struct Rec {
    id: String,
    listing: Value,
    /// JSONL text per blob_v2 key.
    blobs: Vec<String>,
    /// Served as one blob_v2_lts source instead of blob_v2.
    lts: Option<String>,
    gone: bool,
    /// The events a package of it must hold (decoded).
    expected: Vec<Value>,
}

fn lines_rec(id: &str, lines: &[(String, Value)], per_blob: usize, expected: Vec<Value>) -> Rec {
    let blobs = lines
        .chunks(per_blob)
        .map(|c| {
            c.iter()
                .map(|(w, e)| format!("{}\n", json!([w, e])))
                .collect::<String>()
        })
        .collect();
    Rec {
        id: id.into(),
        listing: listing(id),
        blobs,
        lts: None,
        gone: false,
        expected,
    }
}

fn listing(id: &str) -> Value {
    json!({
        "id": id, "distinct_id": format!("user-{id}"), "viewed": false, "recording_duration": 41,
        "active_seconds": 30, "inactive_seconds": 11, "start_time": "2026-11-27T14:19:34Z",
        "end_time": "2026-11-27T14:20:15Z", "click_count": 7, "keypress_count": 60,
        "mouse_activity_count": 120, "console_log_count": 1, "console_warn_count": 0,
        "console_error_count": 0, "start_url": "http://127.0.0.1:8000/site/checkout.html",
        "person": {"distinct_ids": [format!("user-{id}")], "properties": {"email": "zelda.canary@example.com"}},
        "snapshot_source": "web", "snapshot_library": "web", "ongoing": false, "activity_score": 3.5
    })
}

/// A fake PostHog + Sentry API on 127.0.0.1. Every request is logged; faults answer the first
/// `n` requests whose URL contains a text; `block` holds requests whose URL contains a text.
struct Fake {
    url: String,
    inner: Arc<Inner>,
}

struct Inner {
    recs: Vec<Rec>,
    sentry: Vec<(String, Value, Vec<Vec<Value>>)>,
    page: usize,
    log: Mutex<Vec<(Instant, String)>>,
    faults: Mutex<Vec<Fault>>,
    block: Mutex<Option<String>>,
    blocked: AtomicUsize,
}

struct Fault {
    contains: String,
    status: u16,
    retry_after: Option<&'static str>,
    times: usize,
}

impl Fake {
    fn start(recs: Vec<Rec>, page: usize) -> Fake {
        Fake::with_sentry(recs, vec![], page)
    }

    fn with_sentry(
        recs: Vec<Rec>,
        sentry: Vec<(String, Value, Vec<Vec<Value>>)>,
        page: usize,
    ) -> Fake {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let inner = Arc::new(Inner {
            recs,
            sentry,
            page,
            log: Mutex::new(vec![]),
            faults: Mutex::new(vec![]),
            block: Mutex::new(None),
            blocked: AtomicUsize::new(0),
        });
        let i2 = inner.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let i = i2.clone();
                std::thread::spawn(move || {
                    let _ = serve(&i, s);
                });
            }
        });
        Fake { url, inner }
    }

    fn fault(&self, contains: &str, status: u16, retry_after: Option<&'static str>, times: usize) {
        self.inner.faults.lock().unwrap().push(Fault {
            contains: contains.into(),
            status,
            retry_after,
            times,
        });
    }

    fn requests(&self) -> Vec<String> {
        self.inner
            .log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, u)| u.clone())
            .collect()
    }

    fn count(&self, contains: &str) -> usize {
        self.requests()
            .iter()
            .filter(|u| u.contains(contains))
            .count()
    }
}

fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|x| x.1).unwrap_or("");
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), pct_decode(v)))
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn serve(inner: &Inner, mut s: TcpStream) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut auth = None;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.to_ascii_lowercase().as_str() {
            "authorization" => auth = Some(v.trim().to_string()),
            "content-length" => len = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    inner
        .log
        .lock()
        .unwrap()
        .push((Instant::now(), target.clone()));
    let blocking = inner.block.lock().unwrap().clone();
    if blocking.as_deref().is_some_and(|b| target.contains(b)) {
        inner.blocked.fetch_add(1, Ordering::SeqCst);
        while inner
            .block
            .lock()
            .unwrap()
            .as_deref()
            .is_some_and(|b| target.contains(b))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let reply = |s: &mut TcpStream, status: u16, extra: &str, ctype: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)
    };
    if auth.as_deref() != Some(&format!("Bearer {KEY}")) {
        return reply(
            &mut s,
            401,
            "",
            "application/json",
            br#"{"detail":"Authentication credentials were not provided."}"#,
        );
    }
    {
        let mut faults = inner.faults.lock().unwrap();
        if let Some(f) = faults
            .iter_mut()
            .find(|f| f.times > 0 && target.contains(&f.contains))
        {
            f.times -= 1;
            let extra = f
                .retry_after
                .map(|r| format!("Retry-After: {r}\r\n"))
                .unwrap_or_default();
            let status = f.status;
            drop(faults);
            return reply(
                &mut s,
                status,
                &extra,
                "application/json",
                br#"{"detail":"fault"}"#,
            );
        }
    }
    let path = target.split('?').next().unwrap().to_string();
    let q = query(&target);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // PostHog: api/{projects|environments}/1/session_recordings[/{sid}/snapshots]
    if parts.len() >= 4 && parts[0] == "api" && parts[3] == "session_recordings" {
        let cursor_mode = parts[1] == "environments";
        if parts.len() == 4 {
            let ids: Option<Vec<String>> = q
                .get("session_ids")
                .map(|s| serde_json::from_str(s).unwrap());
            assert!(
                q.contains_key("date_from") && q.contains_key("date_to"),
                "{target}"
            );
            let all: Vec<&Rec> = inner
                .recs
                .iter()
                .filter(|r| ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
                .collect();
            let limit: usize = q["limit"].parse().unwrap();
            let per = limit.min(inner.page);
            let start = if cursor_mode {
                match q.get("after") {
                    Some(a) => all.iter().position(|r| &r.id == a).unwrap() + 1,
                    None => 0,
                }
            } else {
                q.get("offset").map(|o| o.parse().unwrap()).unwrap_or(0)
            };
            let page: Vec<&&Rec> = all.iter().skip(start).take(per).collect();
            let has_next = start + page.len() < all.len();
            let mut v = json!({"results": page.iter().map(|r| r.listing.clone()).collect::<Vec<_>>(), "has_next": has_next, "version": 4});
            if cursor_mode && has_next {
                v["next_cursor"] = json!(page.last().unwrap().id);
            }
            return reply(
                &mut s,
                200,
                "",
                "application/json",
                v.to_string().as_bytes(),
            );
        }
        let rec = inner.recs.iter().find(|r| r.id == parts[4]);
        let Some(rec) = rec else {
            return reply(
                &mut s,
                404,
                "",
                "application/json",
                br#"{"detail":"Not found."}"#,
            );
        };
        if rec.gone {
            return reply(
                &mut s,
                410,
                "",
                "application/json",
                br#"{"type":"invalid_request","code":"recording_deleted"}"#,
            );
        }
        return match q.get("source").map(String::as_str) {
            None => {
                let sources: Vec<Value> = match &rec.lts {
                    Some(_) => vec![json!({"source": "blob_v2_lts", "blob_key": format!("lts/{}", rec.id)})],
                    None => (0..rec.blobs.len())
                        .map(|i| json!({"source": "blob_v2", "blob_key": i.to_string(), "start_timestamp": "2026-11-27T14:19:34Z", "end_timestamp": "2026-11-27T14:20:15Z"}))
                        .collect(),
                };
                reply(
                    &mut s,
                    200,
                    "",
                    "application/json",
                    json!({"sources": sources}).to_string().as_bytes(),
                )
            }
            Some("blob_v2") => {
                let a: usize = q["start_blob_key"].parse().unwrap();
                let b: usize = q["end_blob_key"].parse().unwrap();
                if b < a || b - a + 1 > 20 {
                    return reply(
                        &mut s,
                        400,
                        "",
                        "application/json",
                        br#"{"detail":"Cannot request more than 20 blob keys at once"}"#,
                    );
                }
                let text: String = rec.blobs[a..=b].concat();
                reply(&mut s, 200, "", "application/jsonl", text.as_bytes())
            }
            Some("blob_v2_lts") => {
                assert_eq!(q["blob_key"], format!("lts/{}", rec.id));
                reply(
                    &mut s,
                    200,
                    "",
                    "application/jsonl",
                    rec.lts.as_ref().unwrap().as_bytes(),
                )
            }
            Some(other) => panic!("unknown source {other}"),
        };
    }
    // Sentry: api/0/organizations/acme/replays/ and api/0/projects/acme/web/replays/{id}/recording-segments/
    if parts.len() == 5 && parts[..3] == ["api", "0", "organizations"] && parts[4] == "replays" {
        assert_eq!(q.get("projectSlug").map(String::as_str), Some("web"));
        assert!(
            q.contains_key("statsPeriod") || q.contains_key("start"),
            "{target}"
        );
        let start: usize = q.get("cursor").map(|c| c.parse().unwrap()).unwrap_or(0);
        let page: Vec<Value> = inner
            .sentry
            .iter()
            .skip(start)
            .take(inner.page)
            .map(|(_, l, _)| l.clone())
            .collect();
        let more = start + page.len() < inner.sentry.len();
        let link = format!(
            "Link: <{0}?cursor=0>; rel=\"previous\"; results=\"false\"; cursor=\"0\", <{0}?cursor={1}>; rel=\"next\"; results=\"{more}\"; cursor=\"{1}\"\r\n",
            path,
            start + page.len()
        );
        return reply(
            &mut s,
            200,
            &link,
            "application/json",
            json!({"data": page}).to_string().as_bytes(),
        );
    }
    // Sentry: api/0/organizations/acme/replays/{id}/ ("Retrieve a Replay Instance").
    if parts.len() == 6 && parts[..3] == ["api", "0", "organizations"] && parts[4] == "replays" {
        assert!(
            q.contains_key("statsPeriod") || q.contains_key("start"),
            "{target}"
        );
        return match inner.sentry.iter().find(|(id, _, _)| id == parts[5]) {
            Some((_, l, _)) => reply(
                &mut s,
                200,
                "",
                "application/json",
                json!({ "data": l }).to_string().as_bytes(),
            ),
            None => reply(
                &mut s,
                404,
                "",
                "application/json",
                br#"{"detail":"Replay not found."}"#,
            ),
        };
    }
    if parts.len() == 8
        && parts[..3] == ["api", "0", "projects"]
        && parts[7] == "recording-segments"
    {
        let (_, _, segs) = inner
            .sentry
            .iter()
            .find(|(id, _, _)| id == parts[6])
            .unwrap();
        let start: usize = q.get("cursor").map(|c| c.parse().unwrap()).unwrap_or(0);
        // Two segments per page, whatever per_page asks: paging must follow the Link header.
        let page: Vec<&Vec<Value>> = segs.iter().skip(start).take(2).collect();
        let more = start + page.len() < segs.len();
        let link = format!(
            "Link: <{path}?cursor={0}>; rel=\"next\"; results=\"{more}\"; cursor=\"{0}\"\r\n",
            start + page.len()
        );
        return reply(
            &mut s,
            200,
            &link,
            "application/json",
            serde_json::to_vec(&page).unwrap().as_slice(),
        );
    }
    reply(
        &mut s,
        404,
        "",
        "application/json",
        br#"{"detail":"Not found."}"#,
    )
}

// ---------------------------------------------------------------------------------------------

fn reel(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(REEL)
        .args(args)
        .env("POSTHOG_API_KEY", KEY)
        .env("SENTRY_AUTH_TOKEN", KEY)
        .env("TMPDIR", dir)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) -> Value {
    assert!(
        o.status.success(),
        "reel failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// Every event of a package, as JSON values, with its window id; and the session's meta.json.
fn package_events(p: &Path) -> (Vec<(String, Value)>, Value) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    let mut events = Vec::new();
    let mut meta = Value::Null;
    let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
    for n in names {
        let mut text = String::new();
        z.by_name(&n).unwrap().read_to_string(&mut text).unwrap();
        if n.ends_with(".jsonl") {
            let w = n
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".jsonl")
                .to_string();
            for l in text.lines() {
                events.push((w.clone(), serde_json::from_str(l).unwrap()));
            }
        } else if n.ends_with("meta.json") {
            meta = serde_json::from_str(&text).unwrap();
        }
    }
    (events, meta)
}

/// Events as a sorted list of canonical JSON texts (key order and the order of events at one
/// timestamp do not matter).
fn canon(events: impl IntoIterator<Item = Value>) -> Vec<String> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            v => v.clone(),
        }
    }
    let mut v: Vec<String> = events.into_iter().map(|e| sorted(&e).to_string()).collect();
    v.sort();
    v
}

fn verify(p: &Path, dir: &Path) {
    let o = reel(&["verify", p.to_str().unwrap()], dir);
    assert!(
        o.status.success(),
        "verify {}: {}",
        p.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

const SID: [&str; 5] = [
    "0192f0a1-0000-7000-8000-000000000001",
    "0192f0a1-0000-7000-8000-000000000002",
    "0192f0a1-0000-7000-8000-000000000003",
    "0192f0a1-0000-7000-8000-000000000004",
    "0192f0a1-0000-7000-8000-000000000005",
];

/// Five recordings: cv-packed wire lines in 9 blobs, shoelace in 25 blobs (two ranges), swagger
/// in the older `{"windowId", "data"}` shape behind blob_v2_lts, one deleted (410), checkout.
fn project() -> Vec<Rec> {
    let wire = wire_lines("checkout");
    let a = lines_rec(SID[0], &wire, 30, wire_decoded("checkout"));
    let sh = rrweb("shoelace");
    let sh_lines: Vec<(String, Value)> = sh
        .iter()
        .map(|e| ("w-shoelace".to_string(), e.clone()))
        .collect();
    let per = sh_lines.len().div_ceil(25);
    let b = lines_rec(SID[1], &sh_lines, per, sh.clone());
    assert_eq!(b.blobs.len(), 25);
    let sw = rrweb("swagger");
    let lts: String = sw
        .chunks(50)
        .map(|c| format!("{}\n", json!({"windowId": "w-swagger", "data": c})))
        .collect();
    let c = Rec {
        lts: Some(lts),
        ..lines_rec(SID[2], &[], 1, sw.clone())
    };
    let d = Rec {
        gone: true,
        ..lines_rec(SID[3], &[("w".into(), sw[0].clone())], 1, vec![])
    };
    let co = rrweb("checkout");
    let co_lines: Vec<(String, Value)> = co
        .iter()
        .map(|e| ("w-checkout".to_string(), e.clone()))
        .collect();
    let e = lines_rec(SID[4], &co_lines, 100, co.clone());
    vec![a, b, c, d, e]
}

fn check_packages(dir: &Path, recs: &[Rec], scratch: &Path) {
    for r in recs {
        let p = dir.join(format!("{}.reel.zip", r.id));
        if r.gone {
            assert!(!p.exists(), "{}: a deleted recording was written", r.id);
            continue;
        }
        verify(&p, scratch);
        let (events, meta) = package_events(&p);
        assert_eq!(
            canon(events.into_iter().map(|(_, e)| e)),
            canon(r.expected.clone()),
            "{}: events differ from the source",
            r.id
        );
        assert_eq!(meta["id"], r.id);
        assert_eq!(meta["distinct_id"], format!("user-{}", r.id));
        assert_eq!(
            meta["person"]["properties"]["email"],
            "zelda.canary@example.com"
        );
        assert_eq!(
            meta["posthog"], r.listing,
            "{}: the listing's fields are kept",
            r.id
        );
    }
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".reel.zip") && !n.starts_with('.')),
        "only packages: {names:?}"
    );
}

#[test]
fn posthog_project_imports_with_paging_limits_and_faults() {
    let t = tempfile::tempdir().unwrap();
    let recs = project();
    let fake = Fake::start(recs.clone(), 2);
    fake.fault("/session_recordings?", 429, Some("1"), 1);
    fake.fault(
        &format!("{}/snapshots?source=blob_v2&start_blob_key=20", SID[1]),
        503,
        None,
        1,
    );
    let out = t.path().join("out");
    let state = t.path().join("state.json");
    let args = [
        "import",
        "posthog",
        "--host",
        &fake.url,
        "--project",
        "1",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--rate",
        "0",
        "--json",
    ];
    let o = reel(&args, t.path());
    let s = ok(&o);
    assert_eq!(s["listed"], 5);
    assert_eq!(s["imported"].as_array().unwrap().len(), 4);
    assert_eq!(s["gone"], json!([SID[3]]));
    assert_eq!(s["failed"], json!([]));
    assert!(s["throttled"].as_u64().unwrap() >= 1 && s["retries"].as_u64().unwrap() >= 2);
    check_packages(&out, &recs, t.path());

    // Paging: three listing pages of two, by offset.
    let reqs = fake.requests();
    let listing: Vec<&String> = reqs
        .iter()
        .filter(|u| u.contains("/session_recordings?"))
        .collect();
    assert_eq!(listing.len(), 4, "one 429 and three pages: {listing:?}");
    assert!(listing[3].contains("offset=4"));
    // 429 + Retry-After: 1 was waited out.
    let log = fake.inner.log.lock().unwrap().clone();
    let (t429, _) = log
        .iter()
        .find(|(_, u)| u.contains("/session_recordings?"))
        .unwrap();
    let (t_next, _) = log
        .iter()
        .filter(|(_, u)| u.contains("/session_recordings?"))
        .nth(1)
        .unwrap();
    assert!(t_next.duration_since(*t429) >= Duration::from_millis(950));
    // blob_v2 in ranges of at most 20 keys; the 503 was retried.
    assert_eq!(
        fake.count(&format!(
            "{}/snapshots?source=blob_v2&start_blob_key=0&end_blob_key=19",
            SID[1]
        )),
        1
    );
    assert_eq!(
        fake.count(&format!(
            "{}/snapshots?source=blob_v2&start_blob_key=20&end_blob_key=24",
            SID[1]
        )),
        2
    );
    assert_eq!(
        fake.count(&format!(
            "{}/snapshots?source=blob_v2_lts&blob_key=lts%2F{}",
            SID[2], SID[2]
        )),
        1
    );

    // The key is sent (the fake refuses anything else) but never printed or stored.
    let state_text = std::fs::read_to_string(&state).unwrap();
    for text in [
        state_text.as_str(),
        &String::from_utf8_lossy(&o.stdout),
        &String::from_utf8_lossy(&o.stderr),
    ] {
        assert!(!text.contains(KEY), "the API key leaked");
    }

    // A rerun fetches nothing but the listing.
    let before = fake.requests().len();
    let s = ok(&reel(&args, t.path()));
    assert_eq!(s["already_done"], 5);
    let after = fake.requests();
    assert!(
        after[before..].iter().all(|u| !u.contains("/snapshots")),
        "{:?}",
        &after[before..]
    );
}

#[test]
fn posthog_environments_url_cursor_paging_session_filter_and_errors() {
    let t = tempfile::tempdir().unwrap();
    let recs = project();
    let fake = Fake::start(recs.clone(), 1);
    let out = t.path().join("out");
    // A URL pasted from PostHog's API docs; cursor paging (`next_cursor` → `after`).
    let host = format!("{}/api/environments/1/session_recordings", fake.url);
    let s = ok(&reel(
        &[
            "import",
            "posthog",
            "--host",
            &host,
            "--project",
            "1",
            "--session",
            SID[0],
            "--session",
            SID[4],
            "-o",
            out.to_str().unwrap(),
            "--rate",
            "0",
            "--json",
        ],
        t.path(),
    ));
    assert_eq!(s["imported"], json!([SID[0], SID[4]]));
    assert!(fake.count("after=0192f0a1-0000-7000-8000-000000000001") == 1);
    assert_eq!(
        fake.count("/snapshots"),
        4,
        "a source list and one range each"
    );
    check_packages(&out, &[recs[0].clone(), recs[4].clone()], t.path());

    // Wrong key: one clear line, non-zero exit, no output.
    let o = Command::new(REEL)
        .args([
            "import",
            "posthog",
            "--host",
            &fake.url,
            "--project",
            "1",
            "-o",
        ])
        .arg(t.path().join("out2"))
        .env("POSTHOG_API_KEY", "phx_wrong")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("401") && !err.contains("phx_wrong"), "{err}");
    // No key at all.
    let o = Command::new(REEL)
        .args([
            "import",
            "posthog",
            "--host",
            &fake.url,
            "--project",
            "1",
            "-o",
            "x",
        ])
        .env_remove("POSTHOG_API_KEY")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("POSTHOG_API_KEY is not set"));
}

#[test]
fn posthog_import_killed_mid_recording_resumes_without_refetching() {
    let t = tempfile::tempdir().unwrap();
    let recs = project();
    let fake = Fake::start(recs.clone(), 100);
    // Hold the second range of the second recording: the CLI is inside it when killed.
    let hold = format!("{}/snapshots?source=blob_v2&start_blob_key=20", SID[1]);
    *fake.inner.block.lock().unwrap() = Some(hold.clone());
    let out = t.path().join("out");
    let state = t.path().join("state.json");
    let args = [
        "import",
        "posthog",
        "--host",
        &fake.url,
        "--project",
        "1",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--rate",
        "0",
        "--concurrency",
        "1",
        "--json",
    ];
    let mut child = Command::new(REEL)
        .args(args)
        .env("POSTHOG_API_KEY", KEY)
        .env("TMPDIR", t.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while fake.inner.blocked.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the import never reached the held request"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = out.join(format!("{}.reel.zip", SID[0]));
    assert!(first.exists(), "the finished recording is written");
    assert!(
        !out.join(format!("{}.reel.zip", SID[1])).exists(),
        "no half package"
    );
    let st: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(st["done"].get(SID[0]).is_some() && st["done"].get(SID[1]).is_none());
    let first_meta = std::fs::metadata(&first).unwrap().modified().unwrap();
    *fake.inner.block.lock().unwrap() = None;

    let s = ok(&reel(&args, t.path()));
    assert_eq!(s["already_done"], 1);
    assert_eq!(s["imported"].as_array().unwrap().len(), 3);
    check_packages(&out, &recs, t.path());
    // The finished recording was neither fetched nor written again.
    assert_eq!(fake.count(&format!("{}/snapshots", SID[0])), 1 + 1);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        first_meta
    );
    // Every other recording was fetched once (the interrupted one twice: its first range again).
    assert_eq!(
        fake.count(&format!(
            "{}/snapshots?source=blob_v2&start_blob_key=0&",
            SID[1]
        )),
        2
    );
    assert_eq!(
        fake.count(&format!("{}/snapshots?source=blob_v2_lts", SID[2])),
        1
    );
    assert_eq!(fake.count(&format!("{}/snapshots", SID[4])), 2);
}

// ------------------------------------------------------------------------------ reel serve

struct Server {
    url: String,
    child: std::process::Child,
    _data: tempfile::TempDir,
}

const ADMIN: &str = "reel_admin_test_token";
const CAPTURE: &str = "phc_reelTestCaptureToken000000000000000000";

impl Server {
    fn start() -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(REEL)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data.path())
            .env("REEL_CAPTURE_TOKEN", CAPTURE)
            .env("REEL_ADMIN_TOKEN", ADMIN)
            .env("REEL_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "reel serve did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            url,
            child,
            _data: data,
        }
    }

    fn pull(&self, id: &str, to: &Path) -> (Vec<(String, Value)>, Value) {
        // Sessions arriving through /s/ are written asynchronously: wait for all of them.
        let o = Command::new(REEL)
            .args(["pull", id, "--server", &self.url, "--token", ADMIN, "-o"])
            .arg(to)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pull: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        package_events(to)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn posthog_import_pushes_to_a_reel_server_once() {
    let t = tempfile::tempdir().unwrap();
    let recs = project();
    let fake = Fake::start(recs.clone(), 100);
    let server = Server::start();
    let args = [
        "import",
        "posthog",
        "--host",
        &fake.url,
        "--project",
        "1",
        "--session",
        SID[0],
        "--session",
        SID[1],
        "--server",
        &server.url,
        "--token",
        ADMIN,
        "--rate",
        "0",
        "--json",
    ];
    ok(&reel(&args, t.path()));
    // Without a state file everything is fetched and pushed again: the server stores it once.
    ok(&reel(&args, t.path()));
    for r in &recs[..2] {
        let (events, meta) = server.pull(&r.id, &t.path().join("pulled.reel.zip"));
        assert_eq!(
            canon(events.into_iter().map(|(_, e)| e)),
            canon(r.expected.clone()),
            "{}",
            r.id
        );
        assert_eq!(meta["distinct_id"], r.listing["distinct_id"]);
        // The listing's fields and the person travel through the server too.
        assert_eq!(
            meta["posthog"], r.listing,
            "{}: the listing's fields are kept by the server",
            r.id
        );
        assert_eq!(
            meta["person"]["properties"]["email"],
            "zelda.canary@example.com"
        );
    }
}

#[test]
fn export_posthog_into_reel_serve_keeps_every_event() {
    let t = tempfile::tempdir().unwrap();
    let recs = project();
    let fake = Fake::start(recs.clone(), 100);
    let out = t.path().join("out");
    ok(&reel(
        &[
            "import",
            "posthog",
            "--host",
            &fake.url,
            "--project",
            "1",
            "--session",
            SID[0],
            "--session",
            SID[2],
            "-o",
            out.to_str().unwrap(),
            "--rate",
            "0",
        ],
        t.path(),
    ));
    let server = Server::start();
    let inputs: Vec<String> = [SID[0], SID[2]]
        .iter()
        .map(|s| out.join(format!("{s}.reel.zip")).display().to_string())
        .collect();
    let s = ok(&reel(
        &[
            "export",
            "posthog",
            &inputs[0],
            &inputs[1],
            "--host",
            &server.url,
            "--token",
            CAPTURE,
            "--json",
        ],
        t.path(),
    ));
    assert_eq!(s["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(s["events"], 267 + 425, "{s}");
    for (i, sid) in [SID[0], SID[2]].iter().enumerate() {
        let (src_events, src_meta) = package_events(Path::new(&inputs[i]));
        let want = canon(src_events.iter().map(|(w, e)| json!([w, e])));
        let t0 = Instant::now();
        loop {
            let (events, meta) = server.pull(sid, &t.path().join("pulled.reel.zip"));
            let got = canon(events.iter().map(|(w, e)| json!([w, e])));
            if got == want {
                assert_eq!(meta["distinct_id"], src_meta["distinct_id"]);
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{sid}: {} events arrived of {}",
                got.len(),
                want.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

// ---------------------------------------------------------------------------------- Sentry

/// A Sentry replay made of the checkout recording: three segments, breadcrumbs (one console, one
/// click) with timestamps in seconds as Sentry writes them.
fn sentry_replay(id: &str) -> (String, Value, Vec<Vec<Value>>, Vec<Value>) {
    let co = rrweb("checkout");
    let mut expected = co.clone();
    let t = co[5]["timestamp"].as_i64().unwrap();
    let console = json!({"type": 5, "timestamp": t as f64 / 1000.0, "data": {"tag": "breadcrumb", "payload": {
        "timestamp": t as f64 / 1000.0, "type": "default", "category": "console", "level": "warning",
        "message": "low stock 3", "data": {"arguments": ["low stock", 3], "logger": "console"}}}});
    let click = json!({"type": 5, "timestamp": t + 1, "data": {"tag": "breadcrumb", "payload": {
        "timestamp": (t + 1) as f64 / 1000.0, "type": "default", "category": "ui.click", "message": "button#pay"}}});
    let mut console_ms = console.clone();
    console_ms["timestamp"] = json!(t);
    expected.push(console_ms);
    expected.push(click.clone());
    expected.push(json!({"type": 6, "timestamp": t, "data": {"plugin": "rrweb/console@1", "payload": {"level": "warn", "payload": ["\"low stock\"", "3"], "trace": []}}}));
    let third = co.len() / 3;
    let mut segs: Vec<Vec<Value>> = vec![
        co[..third].to_vec(),
        co[third..2 * third].to_vec(),
        co[2 * third..].to_vec(),
    ];
    segs[1].push(console);
    segs[1].push(click);
    let listing = json!({"id": id, "project_id": "11", "started_at": "2026-11-27T14:19:34+00:00",
        "finished_at": "2026-11-27T14:20:15+00:00", "duration": 41, "count_errors": 0, "count_segments": 3,
        "urls": ["http://127.0.0.1:8000/site/checkout.html"], "user": {"id": "u-7", "email": "zelda.canary@example.com", "display_name": "Zelda"},
        "browser": {"name": "Chrome", "version": "156"}, "sdk": {"name": "sentry.javascript.browser", "version": "8.40.0"}});
    (id.to_string(), listing, segs, expected)
}

#[test]
fn sentry_replays_import_with_breadcrumbs_as_console_events() {
    let t = tempfile::tempdir().unwrap();
    let ids = [
        "3a5f0c1e2b9d4c7fa0e1d2c3b4a59687",
        "4b6f0c1e2b9d4c7fa0e1d2c3b4a59687",
        "5c7f0c1e2b9d4c7fa0e1d2c3b4a59687",
    ];
    let replays: Vec<_> = ids.iter().map(|i| sentry_replay(i)).collect();
    let fake = Fake::with_sentry(
        vec![],
        replays
            .iter()
            .map(|(i, l, s, _)| (i.clone(), l.clone(), s.clone()))
            .collect(),
        2,
    );
    fake.fault("/recording-segments/", 502, None, 1);
    let out = t.path().join("out");
    let state = t.path().join("sentry.json");
    let args = [
        "import",
        "sentry",
        "--host",
        &fake.url,
        "--org",
        "acme",
        "--project",
        "web",
        "-o",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--json",
    ];
    let s = ok(&reel(&args, t.path()));
    assert_eq!(s["imported"].as_array().unwrap().len(), 3, "{s}");
    assert_eq!(
        fake.count("/organizations/acme/replays/"),
        2,
        "two listing pages by Link cursor"
    );
    for (id, listing, _, expected) in &replays {
        let p = out.join(format!("{id}.reel.zip"));
        verify(&p, t.path());
        let (events, meta) = package_events(&p);
        assert_eq!(
            canon(events.into_iter().map(|(_, e)| e)),
            canon(expected.clone()),
            "{id}"
        );
        assert_eq!(meta["sentry"], *listing);
        assert_eq!(meta["distinct_id"], "u-7");
        assert_eq!(meta["source"]["system"], "sentry");
        let warns_before = rrweb("checkout")
            .iter()
            .filter(|e| {
                e["data"]["plugin"] == "rrweb/console@1" && e["data"]["payload"]["level"] == "warn"
            })
            .count();
        assert_eq!(
            meta["console_warn_count"],
            warns_before + 1,
            "the console panel counts the breadcrumb"
        );
    }
    assert!(!std::fs::read_to_string(&state).unwrap().contains(KEY));
    let s = ok(&reel(&args, t.path()));
    assert_eq!(s["already_done"], 3);
    assert_eq!(
        fake.count("/recording-segments/"),
        1 + 3 * 2,
        "one 502, two pages per replay, no refetch"
    );

    // --replay: just those replays, looked up one by one (no listing).
    let listings = fake.count("/organizations/acme/replays/?");
    let only = t.path().join("only");
    let s = ok(&reel(
        &[
            "import",
            "sentry",
            "--host",
            &fake.url,
            "--org",
            "acme",
            "--project",
            "web",
            "--replay",
            ids[2],
            "--replay",
            ids[0],
            "-o",
            only.to_str().unwrap(),
            "--json",
        ],
        t.path(),
    ));
    assert_eq!(s["imported"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(
        fake.count("/organizations/acme/replays/?"),
        listings,
        "no listing"
    );
    let mut names: Vec<String> = std::fs::read_dir(&only)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{}.reel.zip", ids[0]),
            format!("{}.reel.zip", ids[2])
        ]
    );
    let (_, meta) = package_events(&only.join(format!("{}.reel.zip", ids[2])));
    assert_eq!(meta["sentry"], replays[2].1);
    // An unknown id is an error that names it.
    let o = reel(
        &[
            "import",
            "sentry",
            "--host",
            &fake.url,
            "--org",
            "acme",
            "--project",
            "web",
            "--replay",
            "ffff0c1e2b9d4c7fa0e1d2c3b4a59687",
            "-o",
            only.to_str().unwrap(),
        ],
        t.path(),
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ffff0c1e2b9d4c7fa0e1d2c3b4a59687"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ------------------------------------------------------------------------------- benchmark

/// `cargo test --release -p reel --test import -- --ignored --nocapture bench_posthog_import`:
/// MB/s of decoded events into packages against the fake with no rate limit (bench/RESULTS.md).
#[test]
#[ignore]
fn bench_posthog_import() {
    let n: usize = std::env::var("BENCH_RECORDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut sources: Vec<Vec<(String, Value)>> = ["swagger", "shoelace", "checkout"]
        .iter()
        .map(|f| rrweb(f).into_iter().map(|e| ("w".to_string(), e)).collect())
        .collect();
    sources.push(wire_lines("shoelace"));
    let recs: Vec<Rec> = (0..n)
        .map(|i| {
            let id = format!("0192f0a1-0000-7000-8000-{i:012}");
            let lines = &sources[i % sources.len()];
            lines_rec(&id, lines, lines.len().div_ceil(10), vec![])
        })
        .collect();
    let fake = Fake::start(recs, 100);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let conc = std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "4".into());
    let started = Instant::now();
    let s = ok(&reel(
        &[
            "import",
            "posthog",
            "--host",
            &fake.url,
            "--project",
            "1",
            "-o",
            out.to_str().unwrap(),
            "--rate",
            "0",
            "--concurrency",
            &conc,
            "--json",
        ],
        t.path(),
    ));
    let wall = started.elapsed().as_secs_f64();
    let mb = s["event_bytes"].as_f64().unwrap() / 1e6;
    println!(
        "recordings {} events {} decoded {:.1} MB downloaded {:.1} MB packages {:.1} MB wall {:.2} s => {:.1} MB/s decoded events into packages",
        s["imported"].as_array().unwrap().len(),
        s["events"],
        mb,
        s["downloaded_bytes"].as_f64().unwrap() / 1e6,
        s["package_bytes"].as_f64().unwrap() / 1e6,
        wall,
        mb / wall
    );
}
