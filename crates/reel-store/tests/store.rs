//! The store's behaviour, run against every engine: SQLite + a local folder always, and
//! PostgreSQL + S3 when `REEL_TEST_POSTGRES` and `REEL_TEST_S3_ENDPOINT` are set (scripts/test sets
//! them; with `REEL_TEST_REQUIRE_SERVICES=1` a missing service fails the test instead of skipping).
use reel_format::recording::Source;
use reel_format::Event;
use reel_store::{IngestUnit, SessionFilter, Store};
use std::io::{Read, Write};
use std::path::Path;

struct Backend {
    name: &'static str,
    index: String,
    blobs: String,
    _tmp: tempfile::TempDir,
}

fn fixture_events() -> Vec<Event> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rrweb/checkout.json");
    let items: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    items
        .iter()
        .map(|r| Event::parse(r.get()).unwrap())
        .collect()
}

fn rand_name() -> String {
    reel_store::index::random_token(10).to_lowercase()
}

/// Create a bucket on the local S3 server (moto accepts unsigned requests).
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
    match (std::env::var("REEL_TEST_POSTGRES"), std::env::var("REEL_TEST_S3_ENDPOINT")) {
        (Ok(pg), Ok(s3)) => {
            let db = format!("reel_t_{}", rand_name());
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&pg).await.expect("PostgreSQL reachable");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&pool).await.unwrap();
            let bucket = format!("reel-t-{}", rand_name());
            create_bucket(&s3, &bucket);
            std::env::set_var("AWS_ENDPOINT_URL", &s3);
            let base = pg.rsplit_once('/').map(|(a, _)| a.to_string()).unwrap();
            v.push(Backend { name: "postgres+s3", index: format!("{base}/{db}"), blobs: format!("s3://{bucket}/reel"), _tmp: tempfile::tempdir().unwrap() });
        }
        _ if std::env::var("REEL_TEST_REQUIRE_SERVICES").is_ok() => panic!("REEL_TEST_POSTGRES and REEL_TEST_S3_ENDPOINT must be set"),
        _ => eprintln!("note: PostgreSQL+S3 variant skipped (set REEL_TEST_POSTGRES and REEL_TEST_S3_ENDPOINT; scripts/test does)"),
    }
    v
}

fn unit(key: &str, session: &str, window: &str, events: Vec<Event>) -> IngestUnit {
    IngestUnit {
        key: key.into(),
        session_id: session.into(),
        window_id: window.into(),
        distinct_id: Some("person-1".into()),
        source: Source {
            system: "test".into(),
            ..Default::default()
        },
        user_agent: None,
        events,
    }
}

fn texts(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.json().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_durable_idempotent_and_complete_across_servers() {
    let all = fixture_events();
    for b in backends().await {
        // Two servers sharing one index and one blob store.
        let a = Store::open(&b.index, &b.blobs).await.unwrap();
        let c = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = a.index.ensure_project(None, None).await.unwrap();
        let chunks: Vec<Vec<Event>> = all.chunks(40).map(|c| c.to_vec()).collect();
        for (i, ch) in chunks.iter().enumerate() {
            let s = if i % 2 == 0 { &a } else { &c };
            let o = s
                .ingest(
                    &p.id,
                    vec![unit(&format!("b{i}"), "sess-1", "w1", ch.clone())],
                )
                .await
                .unwrap();
            assert_eq!(o.stored, 1, "{}", b.name);
        }
        // Retries of every batch, on the other server: stored once.
        for (i, ch) in chunks.iter().enumerate() {
            let s = if i % 2 == 0 { &c } else { &a };
            let o = s
                .ingest(
                    &p.id,
                    vec![unit(&format!("b{i}"), "sess-1", "w1", ch.clone())],
                )
                .await
                .unwrap();
            assert_eq!((o.stored, o.duplicates), (0, 1), "{}", b.name);
        }
        for s in [&a, &c] {
            let got = s.load_session(&p.id, "sess-1").await.unwrap().unwrap();
            assert_eq!(got.windows.len(), 1);
            assert_eq!(
                texts(&got.windows[0].events),
                texts(&all),
                "{}: events differ",
                b.name
            );
        }
        let row = a.index.session(&p.id, "sess-1").await.unwrap().unwrap();
        let expected = reel_format::stats::of_events(&all);
        assert_eq!(row.event_count as u64, expected.event_count, "{}", b.name);
        assert_eq!(row.click_count as u64, expected.click_count);
        assert_eq!(row.keypress_count as u64, expected.keypress_count);
        assert_eq!(row.urls, expected.urls);
        assert_eq!(row.distinct_id.as_deref(), Some("person-1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_store_once() {
    let all = fixture_events();
    for b in backends().await {
        let a = Store::open(&b.index, &b.blobs).await.unwrap();
        let c = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = a.index.ensure_project(None, None).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { a.clone() } else { c.clone() };
            let (pid, evs) = (p.id.clone(), all[..50].to_vec());
            tasks.push(tokio::spawn(async move {
                s.ingest(&pid, vec![unit("same-batch", "sess-2", "w", evs)])
                    .await
                    .unwrap()
            }));
        }
        let stored: usize = futures::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap().stored)
            .sum();
        assert_eq!(
            stored, 1,
            "{}: one of the concurrent deliveries stores it",
            b.name
        );
        let got = a.load_session(&p.id, "sess-2").await.unwrap().unwrap();
        assert_eq!(got.event_count(), 50, "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_merges_blocks_and_keeps_every_event() {
    let all = fixture_events();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        for (i, ch) in all.chunks(20).enumerate() {
            s.ingest(
                &p.id,
                vec![unit(&format!("k{i}"), "sess-3", "w", ch.to_vec())],
            )
            .await
            .unwrap();
        }
        let before = s.index.blocks(&p.id, "sess-3").await.unwrap();
        assert!(before.len() > 5);
        let files = |dir: &str| walk(std::path::Path::new(dir));
        if b.name == "sqlite+folder" {
            // Fresh blocks live in the index (one fsync per group commit, no file per batch).
            assert!(before.iter().all(|x| x.blob_key.starts_with("index:")));
            assert_eq!(files(&b.blobs), 0, "no block file before sealing");
        }
        assert!(s.seal(&p.id, "sess-3").await.unwrap());
        let after = s.index.blocks(&p.id, "sess-3").await.unwrap();
        assert_eq!(after.len(), 1, "{}", b.name);
        assert!(after[0].sealed);
        assert!(
            !after[0].blob_key.starts_with("index:"),
            "sealed blocks go to the blob store"
        );
        for old in &before {
            assert!(s.index.block_data(&old.id).await.unwrap().is_none());
        }
        if b.name == "sqlite+folder" {
            assert_eq!(files(&b.blobs), 1, "one sealed block file");
        }
        let stored_before: i64 = before.iter().map(|b| b.stored_bytes).sum();
        assert!(
            after[0].stored_bytes < stored_before,
            "{}: sealed block is smaller",
            b.name
        );
        let got = s.load_session(&p.id, "sess-3").await.unwrap().unwrap();
        assert_eq!(texts(&got.windows[0].events), texts(&all), "{}", b.name);
        assert!(
            s.index
                .session(&p.id, "sess-3")
                .await
                .unwrap()
                .unwrap()
                .sealed
        );
        // A batch after sealing un-seals the session and is kept.
        s.ingest(&p.id, vec![unit("late", "sess-3", "w", all[..1].to_vec())])
            .await
            .unwrap();
        assert!(
            !s.index
                .session(&p.id, "sess-3")
                .await
                .unwrap()
                .unwrap()
                .sealed
        );
        assert_eq!(
            s.load_session(&p.id, "sess-3")
                .await
                .unwrap()
                .unwrap()
                .event_count(),
            all.len() + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_pagination_delete_forget_retention_shares() {
    let all = fixture_events();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        for i in 0..7 {
            let mut u = unit(&format!("u{i}"), &format!("s{i}"), "w", all.clone());
            u.distinct_id = Some(if i < 3 { "alice".into() } else { "bob".into() });
            s.ingest(&p.id, vec![u]).await.unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (rows, next) = s
                .index
                .sessions(
                    &p.id,
                    &SessionFilter {
                        limit: 3,
                        cursor: cursor.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            seen.extend(rows.into_iter().map(|r| r.id));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            (0..7).map(|i| format!("s{i}")).collect::<Vec<_>>(),
            "{}: pagination sees each session once",
            b.name
        );
        let f = |person: Option<&str>, url: Option<&str>| SessionFilter {
            person: person.map(Into::into),
            url_contains: url.map(Into::into),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            s.index
                .sessions(&p.id, &f(Some("alice"), None))
                .await
                .unwrap()
                .0
                .len(),
            3
        );
        assert_eq!(
            s.index
                .sessions(&p.id, &f(None, Some("CHECKOUT.html")))
                .await
                .unwrap()
                .0
                .len(),
            7,
            "URL filter is case-insensitive"
        );
        assert_eq!(
            s.index
                .sessions(&p.id, &f(None, Some("no-such-page")))
                .await
                .unwrap()
                .0
                .len(),
            0
        );
        let errs = SessionFilter {
            has_errors: Some(true),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(s.index.sessions(&p.id, &errs).await.unwrap().0.len(), 0);
        let long = SessionFilter {
            min_duration_ms: Some(10_000_000),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(s.index.sessions(&p.id, &long).await.unwrap().0.len(), 0);

        // Shares: resolve, revoke, expire.
        let (sid, tok) = s.index.create_share(&p.id, "s0", None).await.unwrap();
        assert_eq!(
            s.index.share(&tok).await.unwrap(),
            Some((p.id.clone(), "s0".into()))
        );
        assert!(tok.len() >= 32);
        assert!(s.index.revoke_share(&p.id, &sid).await.unwrap());
        assert_eq!(s.index.share(&tok).await.unwrap(), None);
        let (_, expired) = s.index.create_share(&p.id, "s0", Some(1)).await.unwrap();
        assert_eq!(s.index.share(&expired).await.unwrap(), None);

        // Forget a person: every session, block and row; the audit keeps only a hash.
        let keys: Vec<String> = s
            .index
            .blocks(&p.id, "s0")
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.blob_key)
            .collect();
        assert_eq!(s.forget_person(&p.id, "alice").await.unwrap(), 3);
        assert!(s.index.session(&p.id, "s0").await.unwrap().is_none());
        for k in keys {
            assert!(
                s.blobs.get(&k).await.is_err(),
                "{}: blob {k} deleted",
                b.name
            );
        }
        let audit = s.index.audit_log(&p.id, 10).await.unwrap();
        assert!(audit.iter().any(|a| a["action"] == "person.forget"));
        assert!(
            !serde_json::to_string(&audit).unwrap().contains("alice"),
            "audit holds no personal data"
        );

        // Retention: a session from 1970 goes, the recent ones stay.
        let old =
            vec![
                Event::parse(r#"{"type":4,"data":{"href":"http://old/"},"timestamp":1000}"#)
                    .unwrap(),
            ];
        s.ingest(&p.id, vec![unit("old", "ancient", "w", old)])
            .await
            .unwrap();
        assert_eq!(
            s.enforce_retention(&p.id, 30).await.unwrap(),
            1,
            "{}",
            b.name
        );
        assert!(s.index.session(&p.id, "ancient").await.unwrap().is_none());
        assert!(s.index.session(&p.id, "s4").await.unwrap().is_some());
        assert!(s.delete_session(&p.id, "s3").await.unwrap());
        assert!(!s.delete_session(&p.id, "s3").await.unwrap());
    }
}

/// Regular files under `dir` (0 if it does not exist).
fn walk(dir: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk(&p)
            } else {
                1
            }
        })
        .sum()
}

/// `/e/` page URLs: many at once, from several sessions concurrently (on SQLite they meet in one
/// group commit with batches), the earliest time kept per URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_urls_many_at_once_through_the_committer() {
    let all = fixture_events();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        for sid in ["u-1", "u-2"] {
            s.ingest(
                &p.id,
                vec![unit(&format!("k-{sid}"), sid, "w1", all[..5].to_vec())],
            )
            .await
            .unwrap();
        }
        let t = all[0].timestamp;
        let urls: Vec<(String, i64)> = (0..2000)
            .map(|i| {
                (
                    format!("https://shop.example/p/{}", i % 1000),
                    t + 1000 - i as i64 % 7,
                )
            })
            .collect();
        let (a, c) = futures::join!(
            s.add_urls(&p.id, "u-1", &urls),
            s.add_urls(&p.id, "u-2", &urls[..10])
        );
        a.unwrap();
        c.unwrap();
        let row = s.index.session(&p.id, "u-1").await.unwrap().unwrap();
        let pages = row
            .urls
            .iter()
            .filter(|u| u.starts_with("https://shop.example/p/"))
            .count();
        assert_eq!(pages, 1000, "{}", b.name);
        let row2 = s.index.session(&p.id, "u-2").await.unwrap().unwrap();
        let pages2 = row2
            .urls
            .iter()
            .filter(|u| u.starts_with("https://shop.example/p/"))
            .count();
        assert_eq!(pages2, 10, "{}", b.name);
        s.add_urls(&p.id, "u-1", &[]).await.unwrap();
    }
}
