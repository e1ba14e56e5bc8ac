//! The remote answers are a boundary: PostHog's and Sentry's APIs (or anything at the `--host`
//! a user typed) may answer anything. A local server answers generated bodies — random bytes,
//! JSON of the right shape with wrong types, events of every kind, gzip or not, paging that never
//! ends — and listing, reading the facts and fetching every recording must end (no hang, no
//! panic) with data or an error.
use proptest::prelude::*;
use reel_format::Limits;
use reel_move::run::Source;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

#[derive(Default, Clone, Debug)]
struct Answers {
    listing: Vec<u8>,
    sources: Vec<u8>,
    blob: Vec<u8>,
    replays: Vec<u8>,
    segments: Vec<u8>,
    link: Option<String>,
}

/// One server for all cases; each case sets its answers.
fn server() -> (String, Arc<Mutex<Answers>>) {
    let answers = Arc::new(Mutex::new(Answers::default()));
    let a2 = answers.clone();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let a = a2.lock().unwrap().clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or("");
                let (body, link) = if path.contains("recording-segments") {
                    (&a.segments, a.link.as_deref())
                } else if path.contains("/replays/") {
                    (&a.replays, a.link.as_deref())
                } else if path.contains("/snapshots?") {
                    (&a.blob, None)
                } else if path.contains("/snapshots") {
                    (&a.sources, None)
                } else {
                    (&a.listing, None)
                };
                let mut s = s;
                let link = link.map(|l| format!("Link: {l}\r\n")).unwrap_or_default();
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(body);
            });
        }
    });
    (url, answers)
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// rrweb-like events: the right keys with values of any type, now and then a real one.
fn event() -> impl Strategy<Value = Value> {
    prop_oneof![
        any_json(),
        (0i64..8, any::<i64>(), any_json())
            .prop_map(|(t, ts, d)| json!({"type": t, "timestamp": ts, "data": d})),
        (0i64..16, any_json())
            .prop_map(|(s, x)| json!({"type": 3, "timestamp": 1_700_000_000_000i64, "data": {"source": s, "id": x, "adds": x}})),
        Just(json!({"type": 2, "timestamp": 1_700_000_000_000i64, "data": {"node": {"type": 0, "id": 1, "childNodes": []}}})),
        Just(json!({"type": 2, "timestamp": 1_700_000_000_000i64, "cv": "2024-10", "data": "\u{1f}\u{8b}garbage"})),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn answers() -> impl Strategy<Value = Answers> {
    let id = prop_oneof!["[0-9a-f-]{1,36}".prop_map(Value::from), any_json()];
    let listing = prop_oneof![
        bytes(),
        (
            proptest::collection::vec((id.clone(), any_json()), 0..4),
            any::<bool>(),
            proptest::option::of("[a-c]{1,2}")
        )
            .prop_map(|(rs, more, cur)| {
                let results: Vec<Value> = rs
                    .into_iter()
                    .map(|(id, extra)| json!({"id": id, "person": extra, "distinct_id": extra, "start_url": extra}))
                    .collect();
                json!({"results": results, "has_next": more, "next_cursor": cur}).to_string().into_bytes()
            }),
    ];
    let source = prop_oneof![
        Just("blob_v2".to_string()),
        Just("blob_v2_lts".to_string()),
        Just("realtime".to_string()),
        ".{0,6}"
    ];
    let key = prop_oneof!["[0-9]{1,3}".prop_map(Value::from), any_json()];
    let sources = prop_oneof![
        bytes(),
        proptest::collection::vec((source, key), 0..4).prop_map(|v| {
            let s: Vec<Value> = v
                .into_iter()
                .map(|(s, k)| json!({"source": s, "blob_key": k}))
                .collect();
            json!({"sources": s}).to_string().into_bytes()
        }),
    ];
    let blob = prop_oneof![
        bytes(),
        (
            proptest::collection::vec((".{0,4}", event()), 0..6),
            any::<bool>()
        )
            .prop_map(|(lines, zip)| {
                let text: String = lines
                    .into_iter()
                    .map(|(w, e)| format!("{}\n", json!([w, e])))
                    .collect();
                if zip {
                    gz(text.as_bytes())
                } else {
                    text.into_bytes()
                }
            }),
    ];
    let replays = prop_oneof![
        bytes(),
        proptest::collection::vec((id, any_json()), 0..4).prop_map(|v| {
            let d: Vec<Value> = v
                .into_iter()
                .map(|(id, x)| json!({"id": id, "user": x, "sdk": x}))
                .collect();
            json!({"data": d}).to_string().into_bytes()
        }),
    ];
    let crumb = any_json().prop_map(|m| json!({"type": 5, "timestamp": 1_700_000_000.5, "data": {"tag": "breadcrumb", "payload": {"category": "console", "message": m, "data": m}}}));
    let segments = prop_oneof![
        bytes(),
        proptest::collection::vec(
            proptest::collection::vec(prop_oneof![event(), crumb], 0..4),
            0..3
        )
        .prop_map(|v| json!({"data": v}).to_string().into_bytes()),
    ];
    let link = proptest::option::of(
        "[a-b]{1}"
            .prop_map(|c| format!("<http://x/>; rel=\"next\"; results=\"true\"; cursor=\"{c}\"")),
    );
    (listing, sources, blob, replays, segments, link).prop_map(
        |(listing, sources, blob, replays, segments, link)| Answers {
            listing,
            sources,
            blob,
            replays,
            segments,
            link,
        },
    )
}

fn posthog(url: &str) -> reel_move::posthog::PostHog {
    reel_move::posthog::PostHog::new(reel_move::posthog::Config {
        host: url.to_string(),
        project: "1".into(),
        key: "k".into(),
        since: None,
        until: None,
        sessions: vec![],
        rate: 0,
        limits: Limits::default(),
    })
    .unwrap()
}

fn sentry(url: &str) -> reel_move::sentry::Sentry {
    reel_move::sentry::Sentry::new(reel_move::sentry::Config {
        host: url.to_string(),
        org: "o".into(),
        project: "p".into(),
        token: "t".into(),
        since: None,
        until: None,
        replays: vec![],
        rate: 0,
        limits: Limits::default(),
    })
    .unwrap()
}

/// List, read the facts and fetch everything (at most 3 recordings); must end within 60 s.
fn drain(src: Box<dyn Source + Send>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(items) = src.list(&mut |_| {}) {
            for item in items.iter().take(3) {
                let _ = src.session(item);
                let _ = src.fetch(item, &mut |_| Ok(()));
            }
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("listing and fetching did not end (or panicked)");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn any_remote_answer_ends_in_data_or_an_error(a in answers()) {
        static SERVER: std::sync::OnceLock<(String, Arc<Mutex<Answers>>)> = std::sync::OnceLock::new();
        let (url, state) = SERVER.get_or_init(server);
        *state.lock().unwrap() = a;
        let ph = posthog(url);
        drain(Box::new(ph));
        let se = sentry(url);
        drain(Box::new(se));
    }
}

/// A listing that pages forever over the same recordings stops with a clear error.
#[test]
fn endless_paging_is_refused() {
    let (url, state) = server();
    state.lock().unwrap().listing = json!({"results": [{"id": "a"}], "has_next": true})
        .to_string()
        .into_bytes();
    let ph = posthog(&url);
    let e = ph.list(&mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("repeats itself"), "{e}");
    state.lock().unwrap().replays = json!({"data": [{"id": "r"}]}).to_string().into_bytes();
    state.lock().unwrap().link =
        Some("<http://x/>; rel=\"next\"; results=\"true\"; cursor=\"c\"".into());
    let se = sentry(&url);
    let e = se.list(&mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("repeats itself"), "{e}");
    state.lock().unwrap().segments = json!({"data": [[]]}).to_string().into_bytes();
    let item = reel_move::run::Item {
        id: "r".into(),
        listing: json!({}),
    };
    let e = se.fetch(&item, &mut |_| Ok(())).unwrap_err().to_string();
    assert!(e.contains("repeats cursor"), "{e}");
}
