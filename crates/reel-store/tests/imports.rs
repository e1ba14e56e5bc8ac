//! Imports are idempotent in any form: the same recording imported as a package, an rrweb array,
//! a PostHog export, `/s/` wire bodies or a server's own export, in any order, is stored once;
//! an overlapping import adds only what is new. Run against every engine (see tests/store.rs).
use reel_format::import::{import, ImportOptions};
use reel_format::package::PackageWriter;
use reel_format::{Event, Limits, Recording, Session};
use reel_store::Store;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

struct Backend {
    name: &'static str,
    index: String,
    blobs: String,
    _tmp: tempfile::TempDir,
}

fn create_bucket(endpoint: &str, bucket: &str) {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hostport).expect("S3 server reachable");
    write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200"),
        "bucket creation failed: {resp}"
    );
}

async fn backends() -> Vec<Backend> {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = vec![Backend {
        name: "sqlite+folder",
        index: format!("sqlite://{}", tmp.path().join("index.sqlite").display()),
        blobs: tmp.path().join("blobs").display().to_string(),
        _tmp: tmp,
    }];
    let rand = || reel_store::index::random_token(10).to_lowercase();
    match (
        std::env::var("REEL_TEST_POSTGRES"),
        std::env::var("REEL_TEST_S3_ENDPOINT"),
    ) {
        (Ok(pg), Ok(s3)) => {
            let db = format!("reel_t_{}", rand());
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&pg)
                .await
                .expect("PostgreSQL reachable");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .execute(&pool)
                .await
                .unwrap();
            let bucket = format!("reel-t-{}", rand());
            create_bucket(&s3, &bucket);
            std::env::set_var("AWS_ENDPOINT_URL", &s3);
            let base = pg.rsplit_once('/').map(|(a, _)| a.to_string()).unwrap();
            v.push(Backend {
                name: "postgres+s3",
                index: format!("{base}/{db}"),
                blobs: format!("s3://{bucket}/reel"),
                _tmp: tempfile::tempdir().unwrap(),
            });
        }
        _ if std::env::var("REEL_TEST_REQUIRE_SERVICES").is_ok() => {
            panic!("REEL_TEST_POSTGRES and REEL_TEST_S3_ENDPOINT must be set")
        }
        _ => eprintln!("note: PostgreSQL+S3 variant skipped"),
    }
    v
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn parse(bytes: &[u8]) -> Recording {
    import("upload", bytes, &ImportOptions::default())
        .unwrap()
        .1
}

/// What the server's `POST /api/v1/import` does with one request body.
async fn import_body(store: &Store, project: &str, body: &[u8]) -> reel_store::ImportOutcome {
    let rec = parse(body);
    let key = reel_store::index::sha256_hex(&String::from_utf8_lossy(body));
    store
        .import_recording(project, &key[..32], rec, &Limits::default())
        .await
        .unwrap()
}

/// What the server's export (and `reel pull`) gives for a stored session.
async fn server_export(store: &Store, project: &str, sid: &str) -> Vec<u8> {
    let s = store.load_session(project, sid).await.unwrap().unwrap();
    package(&s)
}

fn package(s: &Session) -> Vec<u8> {
    let mut w = PackageWriter::new(std::io::Cursor::new(Vec::new()), Default::default());
    w.add_session(s).unwrap();
    w.finish(None).unwrap().0.into_inner()
}

fn session(sid: &str, window: &str, events: &[Event]) -> Session {
    let mut s = Session::new(sid);
    s.window_mut(window).events = events.to_vec();
    s
}

/// An event as posthog-js sends it: FullSnapshot data and Mutation fields `cv`-packed.
fn cv_packed(e: &Event) -> Value {
    let mut v: Value = serde_json::from_str(e.json()).unwrap();
    let pack = |x: &Value| Value::String(reel_format::cv::pack_field(x));
    match (v["type"].as_i64(), v["data"]["source"].as_i64()) {
        (Some(2), _) => {
            v["data"] = pack(&v["data"]);
            v["cv"] = json!("2024-10");
        }
        (Some(3), Some(0)) => {
            for f in ["texts", "attributes", "removes", "adds"] {
                if let Some(x) = v["data"].get(f).cloned() {
                    v["data"][f] = pack(&x);
                }
            }
            v["cv"] = json!("2024-10");
        }
        _ => {}
    }
    v
}

/// `/s/` bodies (gzip, cv-packed, 40 events each) carrying `events`.
fn wire(sid: &str, window: &str, events: &[Event]) -> Vec<Vec<u8>> {
    events
        .chunks(40)
        .enumerate()
        .map(|(i, chunk)| {
            let items: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    json!({"event": "$snapshot", "uuid": format!("{sid}-{i}-{k}"), "properties": {
                        "$session_id": sid, "$window_id": window, "$snapshot_data": [cv_packed(e)]}})
                })
                .collect();
            gzip(&serde_json::to_vec(&items).unwrap())
        })
        .collect()
}

fn posthog_export(sid: &str, window: &str, events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    reel_format::export::posthog_v2(&session(sid, window, events), &mut out).unwrap();
    // Another key order and whitespace than the stored events: still the same events.
    let v: Value = serde_json::from_slice(&out).unwrap();
    serde_json::to_vec_pretty(&v).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Rrweb,
    Package,
    Posthog,
    Wire,
    ServerExport,
}

const FORMS: [Form; 5] = [
    Form::Rrweb,
    Form::Package,
    Form::Posthog,
    Form::Wire,
    Form::ServerExport,
];

/// One recording and the ways it can arrive.
struct Recorded {
    sid: String,
    events: Vec<Event>,
    /// The rrweb array file (its session id is derived from its bytes), if this recording has one.
    rrweb: Option<Vec<u8>>,
    /// Wire bodies as a recorder sent them, if any (else made from `events`).
    real_wire: Option<Vec<Vec<u8>>>,
}

impl Recorded {
    /// The request bodies of `form` for the first `n` events (window ids differ by form, as they
    /// do in real life: `1` for packs of rrweb arrays, the recorder's id for wire bodies).
    async fn bodies(&self, store: &Store, form: Form, n: usize) -> Vec<Vec<u8>> {
        let ev = &self.events[..n];
        let whole = n == self.events.len();
        match form {
            Form::Rrweb => {
                assert!(whole);
                vec![self.rrweb.clone().expect("an rrweb file")]
            }
            Form::Package => vec![package(&session(&self.sid, "1", ev))],
            Form::Posthog => vec![posthog_export(&self.sid, "0191ffff-posthog-window", ev)],
            Form::Wire => match (&self.real_wire, whole) {
                (Some(w), true) => w.clone(),
                _ => wire(&self.sid, "0191eeee-wire-window", ev),
            },
            Form::ServerExport => {
                // Another project of the same store plays the server it came from.
                let src = format!("src-{}", reel_store::index::random_token(8));
                for b in wire(&self.sid, "0191dddd-source-window", ev) {
                    import_body(store, &src, &b).await;
                }
                vec![server_export(store, &src, &self.sid).await]
            }
        }
    }
}

/// Event count and window ids of a stored session.
async fn stored(store: &Store, project: &str, sid: &str) -> (i64, Vec<String>) {
    let row = store
        .index
        .session(project, sid)
        .await
        .unwrap()
        .expect("session stored");
    let mut windows: Vec<String> = store
        .index
        .blocks(project, sid)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.window_id)
        .collect();
    windows.dedup();
    (row.event_count, windows)
}

fn rrweb_recording() -> Recorded {
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    let rec = parse(&bytes);
    let s = &rec.sessions[0];
    Recorded {
        sid: s.id.clone(),
        events: s.windows[0].events.clone(),
        rrweb: Some(bytes),
        real_wire: None,
    }
}

fn real_wire_recording() -> Recorded {
    let dir = fixtures().join("posthog-wire/checkout");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-POST-s.bin"))
        .collect();
    names.sort();
    let bodies: Vec<Vec<u8>> = names.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let mut rec = Recording::default();
    for b in &bodies {
        rec.merge(parse(b));
    }
    rec.sort();
    assert_eq!(rec.sessions.len(), 1);
    let s = &rec.sessions[0];
    assert_eq!(s.windows.len(), 1);
    Recorded {
        sid: s.id.clone(),
        events: s.windows[0].events.clone(),
        rrweb: None,
        real_wire: Some(bodies),
    }
}

async fn import_all(store: &Store, project: &str, bodies: &[Vec<u8>]) {
    for b in bodies {
        import_body(store, project, b).await;
    }
}

/// Every ordered pair of forms: the count after both equals the count after one, in one window.
async fn every_pair(store: &Store, backend: &str, r: &Recorded, forms: &[Form]) {
    let n = r.events.len();
    for &a in forms {
        let project = format!("one-{}", reel_store::index::random_token(8));
        import_all(store, &project, &r.bodies(store, a, n).await).await;
        let (one, _) = stored(store, &project, &r.sid).await;
        assert_eq!(one as usize, n, "{backend}: {a:?} alone");
        for &b in forms {
            let project = format!("pair-{}", reel_store::index::random_token(8));
            import_all(store, &project, &r.bodies(store, a, n).await).await;
            import_all(store, &project, &r.bodies(store, b, n).await).await;
            let (count, windows) = stored(store, &project, &r.sid).await;
            assert_eq!(count, one, "{backend}: {a:?} then {b:?}");
            assert_eq!(windows.len(), 1, "{backend}: {a:?} then {b:?}: {windows:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_recording_in_any_two_forms_in_either_order_is_stored_once() {
    let rrweb = rrweb_recording();
    let real = real_wire_recording();
    for b in backends().await {
        let store = Store::open(&b.index, &b.blobs).await.unwrap();
        every_pair(&store, b.name, &rrweb, &FORMS).await;
        every_pair(
            &store,
            b.name,
            &real,
            &[Form::Package, Form::Posthog, Form::Wire, Form::ServerExport],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_import_adds_only_what_is_new() {
    let r = rrweb_recording();
    let n = r.events.len();
    let halves = [Form::Package, Form::Posthog, Form::Wire, Form::ServerExport];
    for b in backends().await {
        let store = Store::open(&b.index, &b.blobs).await.unwrap();
        for &a in &halves {
            for &w in &FORMS {
                let project = format!("half-{}", reel_store::index::random_token(8));
                import_all(&store, &project, &r.bodies(&store, a, n / 2).await).await;
                let (half, _) = stored(&store, &project, &r.sid).await;
                assert_eq!(half as usize, n / 2, "{}: first half as {a:?}", b.name);
                import_all(&store, &project, &r.bodies(&store, w, n).await).await;
                let (count, windows) = stored(&store, &project, &r.sid).await;
                assert_eq!(count as usize, n, "{}: half {a:?} then whole {w:?}", b.name);
                assert_eq!(
                    windows.len(),
                    1,
                    "{}: half {a:?}, whole {w:?}: {windows:?}",
                    b.name
                );
                // Once more, whole: nothing new.
                let again = r.bodies(&store, w, n).await;
                let mut added = 0;
                for body in &again {
                    added += import_body(&store, &project, body).await.events;
                }
                assert_eq!(added, 0, "{}: {w:?} again", b.name);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_really_repeated_in_a_recording_are_kept_and_sealed_sessions_are_compared() {
    let r = rrweb_recording();
    // A recording holding one event twice at the same millisecond keeps both copies; importing
    // it again adds neither.
    let mut events = r.events.clone();
    let dup = events[5].clone();
    events.insert(6, dup);
    let s = session("repeated-event-session", "1", &events);
    let pkg = package(&s);
    for b in backends().await {
        let store = Store::open(&b.index, &b.blobs).await.unwrap();
        let project = format!("rep-{}", reel_store::index::random_token(8));
        let o = import_body(&store, &project, &pkg).await;
        assert_eq!(o.events, events.len());
        // Sealed (blocks moved to the blob store) before the second import.
        assert!(store
            .seal(&project, "repeated-event-session")
            .await
            .unwrap());
        let body = posthog_export("repeated-event-session", "other-window", &events);
        let o = import_body(&store, &project, &body).await;
        assert_eq!(
            (o.events, o.already_stored, o.duplicate),
            (0, events.len(), true)
        );
        let (count, _) = stored(&store, &project, "repeated-event-session").await;
        assert_eq!(count as usize, events.len(), "{}", b.name);
    }
}
