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

/// A fresh database name, `reel_t_<run>_<random>`: scripts/test sets REEL_TEST_RUN and drops
/// only its own run's databases when it ends.
fn db_name() -> String {
    match std::env::var("REEL_TEST_RUN") {
        Ok(run)
            if !run.is_empty()
                && run.len() <= 24
                && run
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) =>
        {
            format!("reel_t_{run}_{}", rand_name())
        }
        _ => format!("reel_t_{}", rand_name()),
    }
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
            let db = db_name();
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

        // Key moments: kept per session, filtered by kind (`has`), sorted by a count with a
        // cursor that pages through the sorted order; not analysed sessions sort last.
        assert_eq!(s.index.insight(&p.id, "s1").await.unwrap().unwrap().0, None);
        for (id, rage, kinds) in [
            ("s1", 3, vec!["rage_click", "dead_click"]),
            ("s2", 1, vec!["rage_click"]),
            ("s3", 0, vec!["navigation"]),
        ] {
            let (_, as_of) = s.index.insight(&p.id, id).await.unwrap().unwrap();
            let row = reel_store::InsightRow {
                rage_click_count: rage,
                kinds: kinds.into_iter().map(String::from).collect(),
                json: format!("{{\"session_id\":\"{id}\"}}"),
                ..Default::default()
            };
            s.index.set_insight(&p.id, id, &row, as_of).await.unwrap();
        }
        let (kept, _) = s.index.insight(&p.id, "s1").await.unwrap().unwrap();
        assert_eq!(
            kept.as_deref(),
            Some("{\"session_id\":\"s1\"}"),
            "{}",
            b.name
        );
        let has = |k: &[&str]| SessionFilter {
            has: k.iter().map(|x| x.to_string()).collect(),
            limit: 50,
            ..Default::default()
        };
        let ids =
            |rows: Vec<reel_store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let mut got = ids(s
            .index
            .sessions(&p.id, &has(&["rage_click"]))
            .await
            .unwrap()
            .0);
        got.sort();
        assert_eq!(got, ["s1", "s2"], "{}", b.name);
        assert_eq!(
            ids(s
                .index
                .sessions(&p.id, &has(&["rage_click", "dead_click"]))
                .await
                .unwrap()
                .0),
            ["s1"]
        );
        assert!(s
            .index
            .sessions(&p.id, &has(&["idle"]))
            .await
            .unwrap()
            .0
            .is_empty());
        let mut sorted = Vec::new();
        let mut cursor = None;
        loop {
            let f = SessionFilter {
                sort: Some("rage_click_count".into()),
                limit: 2,
                cursor: cursor.clone(),
                ..Default::default()
            };
            let (rows, next) = s.index.sessions(&p.id, &f).await.unwrap();
            sorted.extend(rows.into_iter().map(|r| (r.id, r.rage_click_count)));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(
            sorted.len(),
            7,
            "{}: every session once: {sorted:?}",
            b.name
        );
        assert_eq!(
            &sorted[..3],
            &[
                ("s1".to_string(), Some(3)),
                ("s2".to_string(), Some(1)),
                ("s3".to_string(), Some(0))
            ],
            "{}",
            b.name
        );
        assert!(sorted[3..].iter().all(|(_, n)| n.is_none()));
        // PostHog's recording orders: sessions of different lengths (prefixes of the fixture) come
        // back longest first, page by page, each once, for every order.
        let q = p.clone();
        let before = s
            .index
            .sessions(
                &q.id,
                &SessionFilter {
                    limit: 500,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .0
            .len();
        for (i, n) in [40usize, 263, 120, 10].iter().enumerate() {
            let mut u = unit(
                &format!("o{i}"),
                &format!("o{i}"),
                "w",
                all[..(*n).min(all.len())].to_vec(),
            );
            u.distinct_id = Some(format!("Person-{i}"));
            s.ingest(&q.id, vec![u]).await.unwrap();
        }
        for order in reel_store::SORT_COLUMNS {
            let mut got = Vec::new();
            let mut cursor = None;
            loop {
                let f = SessionFilter {
                    sort: Some(order.to_string()),
                    limit: 1,
                    cursor: cursor.clone(),
                    ..Default::default()
                };
                let (rows, next) = s.index.sessions(&q.id, &f).await.unwrap();
                got.extend(rows);
                match next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
            assert_eq!(
                got.len(),
                before + 4,
                "{}: {order}: each session once",
                b.name
            );
            let v = |r: &reel_store::SessionRow| -> f64 {
                match *order {
                    "duration" => r.recording_duration,
                    "active_seconds" => r.active_seconds,
                    "inactive_seconds" => r.recording_duration - r.active_seconds,
                    "click_count" => r.click_count as f64,
                    "keypress_count" => r.keypress_count as f64,
                    "mouse_activity_count" => r.mouse_activity_count as f64,
                    "console_error_count" => r.console_error_count as f64,
                    _ => 0.0,
                }
            };
            assert!(
                got.windows(2).all(|w| v(&w[0]) >= v(&w[1]) - 1e-9),
                "{}: {order} descending: {:?}",
                b.name,
                got.iter().map(v).collect::<Vec<_>>()
            );
        }
        let longest = SessionFilter {
            sort: Some("duration".into()),
            limit: 500,
            ..Default::default()
        };
        let ids_of =
            |rows: Vec<reel_store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let mine: Vec<String> = ids_of(s.index.sessions(&q.id, &longest).await.unwrap().0)
            .into_iter()
            .filter(|i| i.starts_with('o'))
            .collect();
        assert_eq!(mine, ["o1", "o2", "o0", "o3"], "{}", b.name);
        // Free text: the person (any case) or a page URL; LIKE's wildcards are plain text.
        let search = |t: &str| SessionFilter {
            search: Some(t.into()),
            limit: 500,
            ..Default::default()
        };
        assert_eq!(
            ids_of(
                s.index
                    .sessions(&q.id, &search("person-2"))
                    .await
                    .unwrap()
                    .0
            ),
            ["o2"],
            "{}",
            b.name
        );
        assert_eq!(
            s.index
                .sessions(&q.id, &search("CHECKOUT"))
                .await
                .unwrap()
                .0
                .len(),
            before + 4,
            "{}",
            b.name
        );
        assert!(
            s.index
                .sessions(&q.id, &search("%"))
                .await
                .unwrap()
                .0
                .is_empty(),
            "{}",
            b.name
        );
        assert!(
            s.index
                .sessions(&q.id, &search("Person_"))
                .await
                .unwrap()
                .0
                .is_empty(),
            "{}",
            b.name
        );

        let bad = SessionFilter {
            sort: Some("id; DROP TABLE sessions".into()),
            limit: 5,
            ..Default::default()
        };
        assert!(s.index.sessions(&p.id, &bad).await.is_err());

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_capture_token_rotation_named_admin_tokens_and_usage() {
    use reel_store::index::sha256_hex;
    let all = fixture_events();
    for b in backends().await {
        // Two servers sharing one index.
        let a = Store::open(&b.index, &b.blobs).await.unwrap();
        let c = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = a.index.ensure_project(None, None).await.unwrap();
        let idx = &a.index;

        // Rotation: a new token, the old one finds no project any more, on either server.
        let old = p.capture_token.clone();
        let new = idx.rotate_capture_token(&p.id).await.unwrap();
        assert_ne!(new, old, "{}", b.name);
        assert!(new.starts_with("phc_reel") && new.len() >= 28);
        assert!(c
            .index
            .project_by_capture_token(&old)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            c.index
                .project_by_capture_token(&new)
                .await
                .unwrap()
                .unwrap()
                .id,
            p.id
        );
        let seen = c.index.project(&p.id).await.unwrap().unwrap();
        assert_eq!(
            seen.capture_token, new,
            "{}: a refresh by id sees it",
            b.name
        );
        assert!(c.index.project("nope").await.unwrap().is_none());

        // Named admin tokens: the token once, only its hash stored, listed without it.
        let (ci, ci_token) = idx
            .create_admin_token(&p.id, "CI export", 3)
            .await
            .unwrap()
            .unwrap();
        assert!(ci_token.starts_with("reel_admin_") && ci_token.len() >= 40);
        assert_eq!(ci.token_sha256, sha256_hex(&ci_token));
        let (_, other) = idx
            .create_admin_token(&p.id, "laptop", 3)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(other, ci_token);
        let listed = c.index.admin_tokens(&p.id).await.unwrap();
        assert_eq!(
            listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["CI export", "laptop"],
            "{}",
            b.name
        );
        let json = serde_json::to_string(&listed).unwrap();
        assert!(
            !json.contains(&ci_token) && !json.contains(&ci.token_sha256),
            "never the token nor its hash: {json}"
        );
        assert!(listed
            .iter()
            .all(|t| t.last_used_ms.is_none() && t.revoked_ms.is_none()));

        // Looked up by hash on the other server; use is noted (at most once a minute).
        let found = c
            .index
            .admin_token_by_hash(&sha256_hex(&ci_token))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.id.as_str(), found.project_id.as_str()),
            (ci.id.as_str(), p.id.as_str())
        );
        assert!(c
            .index
            .admin_token_by_hash(&sha256_hex("reel_admin_guess"))
            .await
            .unwrap()
            .is_none());
        c.index
            .touch_admin_token(&p.id, &ci.id, 1_000_000)
            .await
            .unwrap();
        c.index
            .touch_admin_token(&p.id, &ci.id, 1_030_000)
            .await
            .unwrap();
        let used = |v: Vec<reel_store::AdminTokenRow>| {
            v.into_iter().find(|t| t.id == ci.id).unwrap().last_used_ms
        };
        assert_eq!(
            used(idx.admin_tokens(&p.id).await.unwrap()),
            Some(1_000_000),
            "{}",
            b.name
        );
        c.index
            .touch_admin_token(&p.id, &ci.id, 1_070_000)
            .await
            .unwrap();
        assert_eq!(
            used(idx.admin_tokens(&p.id).await.unwrap()),
            Some(1_070_000)
        );

        // A bounded number of live tokens; revoking one makes room; revoked stays listed.
        idx.create_admin_token(&p.id, "third", 3)
            .await
            .unwrap()
            .unwrap();
        assert!(
            idx.create_admin_token(&p.id, "fourth", 3)
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        assert!(idx.revoke_admin_token(&p.id, &ci.id).await.unwrap());
        assert!(
            !idx.revoke_admin_token(&p.id, &ci.id).await.unwrap(),
            "already revoked"
        );
        assert!(!idx
            .revoke_admin_token("other-project", &listed[1].id)
            .await
            .unwrap());
        assert!(!idx.revoke_admin_token(&p.id, "nope").await.unwrap());
        let gone = c
            .index
            .admin_token_by_hash(&sha256_hex(&ci_token))
            .await
            .unwrap()
            .unwrap();
        assert!(
            gone.revoked_ms.is_some(),
            "{}: revoked is seen by every server",
            b.name
        );
        idx.create_admin_token(&p.id, "fourth", 3)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(idx.admin_tokens(&p.id).await.unwrap().len(), 4);

        // Usage: sessions, events and bytes recorded, what the blocks take, people.
        assert_eq!(
            idx.usage(&p.id).await.unwrap(),
            reel_store::Usage::default(),
            "{}",
            b.name
        );
        a.ingest(&p.id, vec![unit("u1", "use-1", "w1", all[..60].to_vec())])
            .await
            .unwrap();
        a.ingest(&p.id, vec![unit("u2", "use-2", "w1", all[60..].to_vec())])
            .await
            .unwrap();
        let u = c.index.usage(&p.id).await.unwrap();
        let rows = [
            idx.session(&p.id, "use-1").await.unwrap().unwrap(),
            idx.session(&p.id, "use-2").await.unwrap().unwrap(),
        ];
        assert_eq!(u.sessions, 2, "{}", b.name);
        assert_eq!(u.events, all.len() as i64);
        assert_eq!(u.event_bytes, rows.iter().map(|r| r.size).sum::<i64>());
        assert!(u.event_bytes > 0);
        let stored: i64 = [
            idx.blocks(&p.id, "use-1").await.unwrap(),
            idx.blocks(&p.id, "use-2").await.unwrap(),
        ]
        .iter()
        .flatten()
        .map(|b| b.stored_bytes)
        .sum();
        assert_eq!(u.stored_bytes, stored);
        assert!(u.stored_bytes > 0 && u.blocks >= 2);
        assert_eq!(u.people, 1);
        assert_eq!(
            c.index.usage("other-project").await.unwrap(),
            reel_store::Usage::default()
        );
        a.delete_session(&p.id, "use-1").await.unwrap();
        assert_eq!(idx.usage(&p.id).await.unwrap().sessions, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_admin_tokens_are_kept_listed_up_to_a_bound() {
    use reel_store::index::KEPT_REVOKED_TOKENS;
    // SQLite only: the bound is the same SQL on both engines, and the loop is long.
    let tmp = tempfile::tempdir().unwrap();
    let index = format!("sqlite://{}", tmp.path().join("index.sqlite").display());
    let s = Store::open(&index, &tmp.path().join("blobs").display().to_string())
        .await
        .unwrap();
    let (p, _) = s.index.ensure_project(None, None).await.unwrap();
    let mut first = String::new();
    for i in 0..KEPT_REVOKED_TOKENS + 2 {
        let (t, _) = s
            .index
            .create_admin_token(&p.id, &format!("t{i}"), 1)
            .await
            .unwrap()
            .unwrap();
        assert!(s.index.revoke_admin_token(&p.id, &t.id).await.unwrap());
        if i == 0 {
            first = t.id;
        }
    }
    let (live, _) = s
        .index
        .create_admin_token(&p.id, "live", 1)
        .await
        .unwrap()
        .unwrap();
    let listed = s.index.admin_tokens(&p.id).await.unwrap();
    assert_eq!(
        listed.len() as i64,
        KEPT_REVOKED_TOKENS + 1,
        "the newest revoked ones and the live one"
    );
    assert!(
        !listed.iter().any(|t| t.id == first),
        "the oldest revoked are forgotten"
    );
    assert!(listed
        .iter()
        .any(|t| t.id == live.id && t.revoked_ms.is_none()));
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

// ---- deletion that lasts (issue 10, section 2) ----

/// A session with recognisable strings everywhere: page URL (in an event and from `/e/`), user
/// agent, person id, event content and a comment.
struct Marked {
    id: String,
    url: String,
    ua: String,
    person: String,
    content: String,
    comment: String,
}

impl Marked {
    fn new(id: &str) -> Marked {
        let r = rand_name();
        Marked {
            id: id.into(),
            url: format!("https://page-{r}.example/cart"),
            ua: format!("MarkedAgent/{r}"),
            person: format!("person-{r}@example.com"),
            content: format!("typed-secret-{r}"),
            comment: format!("comment-secret-{r}"),
        }
    }

    fn strings(&self) -> [&str; 5] {
        [
            &self.url,
            &self.ua,
            &self.person,
            &self.content,
            &self.comment,
        ]
    }

    /// Batch `i` of the session: fixture events plus a page view and a custom event carrying
    /// the content, at `base_ms`.
    fn batch(&self, i: usize, base_ms: i64) -> IngestUnit {
        let mut events: Vec<Event> = fixture_events()
            .into_iter()
            .skip(3)
            .take(60)
            .map(|e| {
                Event::parse(e.json().replacen(
                    &format!("\"timestamp\":{}", e.timestamp),
                    &format!("\"timestamp\":{}", base_ms + i as i64),
                    1,
                ))
                .unwrap()
            })
            .collect();
        let t = base_ms + 10 + i as i64;
        events.push(
            Event::parse(format!(
                r#"{{"type":4,"data":{{"href":"{}","width":1280,"height":800}},"timestamp":{t}}}"#,
                self.url
            ))
            .unwrap(),
        );
        events.push(
            Event::parse(format!(
                r#"{{"type":5,"data":{{"tag":"note","payload":{{"text":"{} {i}"}}}},"timestamp":{t}}}"#,
                self.content
            ))
            .unwrap(),
        );
        let mut u = unit(&format!("{}-b{i}", self.id), &self.id, "win-1", events);
        u.distinct_id = Some(self.person.clone());
        u.user_agent = Some(self.ua.clone());
        u
    }

    /// Two batches, sealed (a blob), then a third (kept in the index on SQLite), an `/e/` page
    /// view and a comment.
    async fn store(&self, s: &Store, project: &str, base_ms: i64) {
        for i in 0..2 {
            s.ingest(project, vec![self.batch(i, base_ms)])
                .await
                .unwrap();
        }
        assert!(s.seal(project, &self.id).await.unwrap());
        s.ingest(project, vec![self.batch(2, base_ms)])
            .await
            .unwrap();
        s.add_urls(
            project,
            &self.id,
            &[(format!("{}?from=e", self.url), base_ms)],
        )
        .await
        .unwrap();
        s.index
            .add_comment(project, &self.id, 1500, &self.comment, "tester")
            .await
            .unwrap()
            .expect("the session exists");
    }
}

/// Every file under `dir`, with its path.
fn files_under(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
}

/// The files of the data folder holding `needle`.
fn holders(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p.display().to_string())
        .collect()
}

/// Every row of every table of the PostgreSQL index, as text.
async fn pg_rows(s: &Store) -> Vec<String> {
    use sqlx::Row;
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(&s.index.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get("t").unwrap())
    .collect();
    assert!(tables.contains(&"sessions".to_string()));
    let mut out = Vec::new();
    for t in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(x AS TEXT) AS r FROM \"{t}\" x"
        )))
        .fetch_all(&s.index.pool)
        .await
        .unwrap();
        out.extend(
            rows.iter()
                .map(|r| format!("{t}: {}", r.try_get::<String, _>("r").unwrap())),
        );
    }
    out
}

/// Where the strings of `m` (and the bytes in `chunks`) are still found: the whole data folder
/// (index.sqlite, -wal, -shm, blobs/) on SQLite; every table and the bucket in scale-out mode.
async fn traces(
    b: &Backend,
    s: &Store,
    project: &str,
    m: &Marked,
    chunks: &[Vec<u8>],
) -> Vec<String> {
    let mut found = Vec::new();
    if b.name == "sqlite+folder" {
        let root = b._tmp.path();
        for x in m.strings() {
            found.extend(
                holders(root, x.as_bytes())
                    .into_iter()
                    .map(|f| format!("{x} in {f}")),
            );
        }
        for (i, c) in chunks.iter().enumerate() {
            found.extend(
                holders(root, c)
                    .into_iter()
                    .map(|f| format!("block bytes #{i} in {f}")),
            );
        }
        let folder = Path::new(&b.blobs).join(format!("p/{project}/s/{}", m.id));
        if folder.exists() {
            found.push(format!("folder {}", folder.display()));
        }
    } else {
        for row in pg_rows(s).await {
            for x in m.strings() {
                if row.contains(x) {
                    found.push(format!("{x} in {row}"));
                }
            }
        }
    }
    for k in s
        .blobs
        .list(&format!("p/{project}/s/{}", m.id))
        .await
        .unwrap()
    {
        found.push(format!("blob {k}"));
    }
    found
}

async fn block_bytes(s: &Store, project: &str, id: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for blk in s.index.blocks(project, id).await.unwrap() {
        out.push(match s.index.block_data(&blk.id).await.unwrap() {
            Some(d) => d,
            None => s.blobs.get(&blk.blob_key).await.unwrap().to_vec(),
        });
    }
    out
}

/// 48 bytes out of each block of a session (index rows and blobs) found in no block of
/// `other` (similar sessions compress to partly equal bytes).
async fn block_chunks(s: &Store, project: &str, id: &str, other: &str) -> Vec<Vec<u8>> {
    let others = block_bytes(s, project, other).await;
    let mut out = Vec::new();
    for bytes in block_bytes(s, project, id).await {
        let chunk = (0..bytes.len().saturating_sub(48))
            .step_by(48)
            .map(|i| &bytes[i..i + 48])
            .find(|c| !others.iter().any(|o| o.windows(48).any(|w| w == *c)))
            .expect("a chunk of the block unique to the session");
        out.push(chunk.to_vec());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_leaves_no_trace_in_the_data_folder_index_or_bucket() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let victim = Marked::new("victim-1");
        let keeper = Marked::new("keeper-1");
        victim.store(&s, &p.id, now - 60_000).await;
        keeper.store(&s, &p.id, now - 60_000).await;
        let chunks = block_chunks(&s, &p.id, &victim.id, &keeper.id).await;
        assert!(
            chunks.len() >= 2,
            "{}: a sealed and an unsealed block",
            b.name
        );
        // The search can fail: before the deletion it finds everything.
        let before = traces(&b, &s, &p.id, &victim, &chunks).await;
        for x in [&victim.url, &victim.ua, &victim.person, &victim.comment] {
            assert!(
                before.iter().any(|t| t.starts_with(x.as_str())),
                "{}: {x} not found before deleting: {before:?}",
                b.name
            );
        }
        assert!(s.delete_session(&p.id, &victim.id).await.unwrap());
        let after = traces(&b, &s, &p.id, &victim, &chunks).await;
        assert!(after.is_empty(), "{}: left after DELETE: {after:?}", b.name);
        // The other session is intact (and still found by the same search).
        let kept = traces(&b, &s, &p.id, &keeper, &[]).await;
        assert!(
            kept.iter().any(|t| t.starts_with(keeper.url.as_str())),
            "{}",
            b.name
        );
        assert_eq!(
            s.load_session(&p.id, &keeper.id)
                .await
                .unwrap()
                .unwrap()
                .event_count(),
            3 * 62,
            "{}",
            b.name
        );
        if b.name == "sqlite+folder" {
            use sqlx::Row;
            let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
                .fetch_one(&s.index.pool)
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            assert_eq!(mode, 2, "index.sqlite is in incremental auto-vacuum mode");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_leaves_no_trace_either() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let old = Marked::new("old-1");
        let recent = Marked::new("recent-1");
        old.store(&s, &p.id, now - 40 * 86_400_000).await;
        recent.store(&s, &p.id, now - 60_000).await;
        // A session known only from `/e/` page views, as old.
        let pv = Marked::new("pageviews-only");
        s.add_urls(&p.id, &pv.id, &[(pv.url.clone(), now - 40 * 86_400_000)])
            .await
            .unwrap();
        let chunks = block_chunks(&s, &p.id, &old.id, &recent.id).await;
        assert!(!traces(&b, &s, &p.id, &pv, &[]).await.is_empty());
        assert_eq!(
            s.enforce_retention(&p.id, 30).await.unwrap(),
            2,
            "{}",
            b.name
        );
        let after = traces(&b, &s, &p.id, &old, &chunks).await;
        assert!(
            after.is_empty(),
            "{}: left after retention: {after:?}",
            b.name
        );
        let after = traces(&b, &s, &p.id, &pv, &[]).await;
        assert!(
            after.is_empty(),
            "{}: page views left after retention: {after:?}",
            b.name
        );
        assert!(s.index.session(&p.id, &recent.id).await.unwrap().is_some());
        // Retention tombstones like a deletion.
        assert_eq!(
            s.ingest(&p.id, vec![old.batch(7, now)])
                .await
                .unwrap()
                .dropped,
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_during_sealing_wins() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let m = Marked::new("sealing-1");
        for i in 0..3 {
            s.ingest(&p.id, vec![m.batch(i, now - 60_000)])
                .await
                .unwrap();
        }
        // The sealer stops once its sealed block is written, before its index transaction;
        // the deletion runs exactly there.
        let (reached_tx, reached) = tokio::sync::oneshot::channel();
        let (resume, resume_rx) = tokio::sync::oneshot::channel();
        *s.seal_pause.lock().unwrap() = Some(reel_store::seal::SealPause {
            reached: reached_tx,
            resume: resume_rx,
        });
        let sealer = {
            let (s, pid, id) = (s.clone(), p.id.clone(), m.id.clone());
            tokio::spawn(async move { s.seal(&pid, &id).await })
        };
        let in_blobs = s
            .index
            .blocks(&p.id, &m.id)
            .await
            .unwrap()
            .iter()
            .filter(|b| !b.blob_key.starts_with("index:"))
            .count();
        reached.await.unwrap();
        assert_eq!(
            s.blobs
                .list(&format!("p/{}/s/{}", p.id, m.id))
                .await
                .unwrap()
                .len(),
            in_blobs + 1,
            "{}: the sealed block is written",
            b.name
        );
        assert!(s.delete_session(&p.id, &m.id).await.unwrap());
        resume.send(()).unwrap();
        assert!(
            !sealer.await.unwrap().unwrap(),
            "{}: the seal gives up",
            b.name
        );
        assert!(s.index.session(&p.id, &m.id).await.unwrap().is_none());
        assert!(
            s.index.blocks(&p.id, &m.id).await.unwrap().is_empty(),
            "{}: no block row",
            b.name
        );
        let left = traces(&b, &s, &p.id, &m, &[]).await;
        assert!(left.is_empty(), "{}: left: {left:?}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_batches_of_a_deleted_session_are_dropped_until_the_tombstone_expires() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let m = Marked::new("late-1");
        s.ingest(&p.id, vec![m.batch(0, now)]).await.unwrap();
        assert!(s.delete_session(&p.id, &m.id).await.unwrap());
        // A retry of the acknowledged batch and a new one: acknowledged, not stored.
        for i in [0, 1] {
            let o = s.ingest(&p.id, vec![m.batch(i, now)]).await.unwrap();
            assert_eq!((o.stored, o.dropped), (0, 1), "{}", b.name);
        }
        s.add_urls(&p.id, &m.id, &[(m.url.clone(), now)])
            .await
            .unwrap();
        s.index
            .link_people(&p.id, &[(m.id.clone(), m.person.clone())])
            .await
            .unwrap();
        assert!(
            s.index.session(&p.id, &m.id).await.unwrap().is_none(),
            "{}",
            b.name
        );
        assert!(s
            .index
            .sessions_of_person(&p.id, &m.person)
            .await
            .unwrap()
            .is_empty());
        assert!(
            traces(&b, &s, &p.id, &m, &[]).await.is_empty(),
            "{}",
            b.name
        );
        // Other sessions in the same request are stored.
        let other = Marked::new("late-2");
        let o = s
            .ingest(&p.id, vec![m.batch(2, now), other.batch(0, now)])
            .await
            .unwrap();
        assert_eq!((o.stored, o.dropped), (1, 1), "{}", b.name);
        // Once the tombstone is gone the id starts a new session.
        s.maintain(30).await.unwrap();
        assert_eq!(
            s.ingest(&p.id, vec![m.batch(3, now)])
                .await
                .unwrap()
                .dropped,
            1
        );
        assert!(
            s.index
                .purge_tombstones(reel_store::now_ms() + 1000)
                .await
                .unwrap()
                >= 1
        );
        let o = s.ingest(&p.id, vec![m.batch(3, now)]).await.unwrap();
        assert_eq!((o.stored, o.dropped), (1, 0), "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_covers_every_session_that_ever_carried_the_person() {
    use sqlx::Row;
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let anon = format!("anon-{}", rand_name());
        // Anonymous, then identified: the session row ends up with the e-mail.
        let a = Marked::new("ident-1");
        let mut first = a.batch(0, now);
        first.distinct_id = Some(anon.clone());
        s.ingest(&p.id, vec![first]).await.unwrap();
        s.ingest(&p.id, vec![a.batch(1, now)]).await.unwrap();
        s.index
            .add_comment(&p.id, &a.id, 0, &a.comment, "tester")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.index
                .session(&p.id, &a.id)
                .await
                .unwrap()
                .unwrap()
                .distinct_id
                .as_deref(),
            Some(a.person.as_str())
        );
        // Page views of a session without a recording, from the anonymous id.
        let pv = Marked::new("pv-only-1");
        s.add_urls(&p.id, &pv.id, &[(pv.url.clone(), now)])
            .await
            .unwrap();
        s.index
            .link_people(&p.id, &[(pv.id.clone(), anon.clone())])
            .await
            .unwrap();
        // Someone else's session stays.
        let other = Marked::new("other-1");
        s.ingest(&p.id, vec![other.batch(0, now)]).await.unwrap();

        assert_eq!(
            s.forget_person(&p.id, &anon).await.unwrap(),
            2,
            "{}",
            b.name
        );
        assert!(
            s.index.session(&p.id, &a.id).await.unwrap().is_none(),
            "{}",
            b.name
        );
        for (m, name) in [(&a, "identified session"), (&pv, "page views")] {
            let left = traces(&b, &s, &p.id, m, &[]).await;
            assert!(left.is_empty(), "{}: {name} left: {left:?}", b.name);
        }
        for person in [&anon, &a.person] {
            let n: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM people WHERE project_id = $1 AND distinct_id = $2",
            )
            .bind(&p.id)
            .bind(person)
            .fetch_one(&s.index.pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
            assert_eq!(n, 0, "{}: people row of {person} gone", b.name);
        }
        assert!(s.index.session(&p.id, &other.id).await.unwrap().is_some());
        // The audit names the person only by a keyed hash.
        let audit = s.index.audit_log(&p.id, 10).await.unwrap();
        let entry = audit
            .iter()
            .find(|e| e["action"] == "person.forget")
            .unwrap();
        assert_eq!(entry["subject_hmac"], s.index.subject_hash(&anon));
        let text = serde_json::to_string(&audit).unwrap();
        assert!(!text.contains(&anon));
        assert!(
            !text.contains(&reel_store::index::sha256_hex(&anon)),
            "not a plain SHA-256"
        );
        // The key is the server's: another index gives another hash.
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = reel_store::Index::connect(&format!(
            "sqlite://{}",
            tmp.path().join("i.sqlite").display()
        ))
        .await
        .unwrap();
        assert_ne!(elsewhere.subject_hash(&anon), s.index.subject_hash(&anon));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_sqlite_gives_freed_pages_back_after_sealing() {
    use sqlx::Row;
    let b = backends().await.into_iter().next().unwrap();
    let s = Store::open(&b.index, &b.blobs).await.unwrap();
    let (p, _) = s.index.ensure_project(None, None).await.unwrap();
    let now = reel_store::now_ms();
    for i in 0..8 {
        let m = Marked::new(&format!("bulk-{i}"));
        for j in 0..4 {
            s.ingest(&p.id, vec![m.batch(j, now)]).await.unwrap();
        }
    }
    let file = b._tmp.path().join("index.sqlite");
    let pragma = |q: &'static str| {
        let pool = s.index.pool.clone();
        async move {
            sqlx::query(q)
                .fetch_one(&pool)
                .await
                .unwrap()
                .try_get::<i64, _>(0)
                .unwrap()
        }
    };
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&s.index.pool)
        .await
        .unwrap();
    let full = std::fs::metadata(&file).unwrap().len();
    for i in 0..8 {
        assert!(s.seal(&p.id, &format!("bulk-{i}")).await.unwrap());
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&s.index.pool)
        .await
        .unwrap();
    let sealed = std::fs::metadata(&file).unwrap().len();
    let free = pragma("PRAGMA freelist_count").await as u64;
    let page = pragma("PRAGMA page_size").await as u64;
    assert!(free > 0, "sealing frees the blocks' pages");
    s.maintain(30).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&s.index.pool)
        .await
        .unwrap();
    assert_eq!(pragma("PRAGMA freelist_count").await, 0);
    let after = std::fs::metadata(&file).unwrap().len();
    eprintln!("index.sqlite: {full} bytes with 32 unsealed blocks; sealed: {sealed} ({free} free pages); after upkeep: {after}");
    assert!(
        after <= sealed - free * page,
        "free pages go back to the file system: {sealed} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_index_is_switched_to_incremental_auto_vacuum() {
    use sqlx::Row;
    let tmp = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("old.sqlite").display()
    );
    {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        for q in [
            "PRAGMA auto_vacuum=NONE",
            "PRAGMA journal_mode=WAL",
            "CREATE TABLE t (x TEXT)",
            "INSERT INTO t VALUES ('old data')",
        ] {
            sqlx::query(q).execute(&pool).await.unwrap();
        }
        let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(mode, 0);
        pool.close().await;
    }
    let idx = reel_store::Index::connect(&url).await.unwrap();
    let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
        .fetch_one(&idx.pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode, 2, "switched by a one-time VACUUM");
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM t")
        .fetch_one(&idx.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(n, 1, "data kept");
}

/// PostgreSQL: a batch whose session is being deleted by another server waits for the deletion
/// and is then dropped (it checked the tombstone before the deletion committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_racing_a_deletion_on_postgres_is_dropped() {
    use sqlx::Row;
    let now = reel_store::now_ms();
    for b in backends().await {
        if b.name != "postgres+s3" {
            continue;
        }
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let m = Marked::new("race-1");
        s.ingest(&p.id, vec![m.batch(0, now)]).await.unwrap();
        // Another server's deletion, stopped half-way: lock taken, tombstone written, not committed.
        let mut del = s.index.pool.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(reel_store::index::session_lock_key(&p.id, &m.id))
            .execute(&mut *del)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO tombstones (project_id, session_id, deleted_ms) VALUES ($1, $2, $3)",
        )
        .bind(&p.id)
        .bind(&m.id)
        .bind(now)
        .execute(&mut *del)
        .await
        .unwrap();
        let late = {
            let (s, pid, u) = (s.clone(), p.id.clone(), m.batch(1, now));
            tokio::spawn(async move { s.ingest(&pid, vec![u]).await })
        };
        // The batch passed the tombstone check and now waits for the session lock.
        let waiting = || async {
            sqlx::query(
                "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&s.index.pool)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap()
        };
        while waiting().await == 0 {
            assert!(!late.is_finished(), "the batch must wait for the deletion");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for t in ["blocks", "session_urls", "batches", "session_people"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {t} WHERE project_id = $1 AND session_id = $2"
            )))
            .bind(&p.id)
            .bind(&m.id)
            .execute(&mut *del)
            .await
            .unwrap();
        }
        sqlx::query("DELETE FROM sessions WHERE project_id = $1 AND id = $2")
            .bind(&p.id)
            .bind(&m.id)
            .execute(&mut *del)
            .await
            .unwrap();
        del.commit().await.unwrap();
        let o = late.await.unwrap().unwrap();
        assert_eq!((o.stored, o.dropped), (0, 1));
        assert!(
            s.index.session(&p.id, &m.id).await.unwrap().is_none(),
            "the session stays deleted"
        );
        assert!(s.index.blocks(&p.id, &m.id).await.unwrap().is_empty());
    }
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

/// Continuous export's bookkeeping on both engines: a sealed session is due once per version, one
/// of two claimers gets it, a written version is not claimed again (even by a server that listed it
/// before), a grown session is due again with its old keys, failures back off, and a deletion marks
/// the copies for deletion (and makes an export in flight report that it must remove what it wrote).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_bookkeeping_once_per_version_leases_backoff_and_deletion() {
    use reel_store::export::ExportKeys;
    let all = fixture_events();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let t = "s3://bucket/out";
        s.ingest(&p.id, vec![unit("e1", "exp-1", "w", all[..30].to_vec())])
            .await
            .unwrap();
        assert!(
            s.exports_due(&p.id, t, 10).await.unwrap().is_empty(),
            "{}: not before sealing",
            b.name
        );
        assert!(s.seal(&p.id, "exp-1").await.unwrap());
        let due = s.exports_due(&p.id, t, 10).await.unwrap();
        assert_eq!(due.len(), 1, "{}", b.name);
        let v1 = due[0].version;
        // Two servers claim at once: one wins.
        let (a, c) = tokio::join!(
            s.claim_export(&p.id, "exp-1", t, v1),
            s.claim_export(&p.id, "exp-1", t, v1)
        );
        let (a, c) = (a.unwrap(), c.unwrap());
        assert!(
            a.is_some() != c.is_some(),
            "{}: exactly one claim wins",
            b.name
        );
        let (lease, old) = a.or(c).unwrap();
        assert!(old.is_empty());
        assert!(
            s.exports_due(&p.id, t, 10).await.unwrap().is_empty(),
            "{}: leased",
            b.name
        );
        let keys = ExportKeys::new("exp-1", due[0].start_ms);
        assert!(s
            .finish_export(&p.id, "exp-1", t, lease, v1, &keys)
            .await
            .unwrap());
        // A server that listed it before it was written does not get it again.
        assert!(
            s.claim_export(&p.id, "exp-1", t, v1)
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        assert!(s.exports_due(&p.id, t, 10).await.unwrap().is_empty());
        // A second server that listed the session for sealing before the first sealed it does not
        // seal it again (that would make a new version to export).
        assert!(!s.seal(&p.id, "exp-1").await.unwrap(), "{}", b.name);
        assert!(
            s.exports_due(&p.id, t, 10).await.unwrap().is_empty(),
            "{}: same version",
            b.name
        );
        // Another target is its own queue.
        assert_eq!(
            s.exports_due(&p.id, "/elsewhere", 10).await.unwrap().len(),
            1
        );

        // The session grows and is sealed again: due with a new version and the old keys.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        s.ingest(&p.id, vec![unit("e2", "exp-1", "w", all[30..40].to_vec())])
            .await
            .unwrap();
        assert!(
            s.exports_due(&p.id, t, 10).await.unwrap().is_empty(),
            "{}: not while unsealed",
            b.name
        );
        assert!(s.seal(&p.id, "exp-1").await.unwrap());
        let due = s.exports_due(&p.id, t, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert!(due[0].version > v1, "{}", b.name);
        let (lease, old) = s
            .claim_export(&p.id, "exp-1", t, due[0].version)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old, keys.all().map(str::to_string).to_vec());
        // It fails: released, counted, backed off (not due until the retry time).
        s.fail_export(&p.id, "exp-1", t, "bucket unreachable")
            .await
            .unwrap();
        assert!(
            s.exports_due(&p.id, t, 10).await.unwrap().is_empty(),
            "{}: backing off",
            b.name
        );
        s.refresh_export_gauges(&p.id, t).await.unwrap();
        assert_eq!(
            s.metrics
                .export_pending
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            s.metrics
                .export_retrying
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // The old lease is gone: finishing with it records nothing.
        assert!(!s
            .finish_export(&p.id, "exp-1", t, lease, due[0].version, &keys)
            .await
            .unwrap());

        // Deletion: the copies are due for deletion; nothing is due for export.
        assert!(s.delete_session(&p.id, "exp-1").await.unwrap());
        assert!(s.exports_due(&p.id, t, 10).await.unwrap().is_empty());
        let dels = s.export_deletions_due(&p.id, t, 10).await.unwrap();
        assert_eq!(dels.len(), 1, "{}", b.name);
        assert_eq!(dels[0].keys, keys.all().map(str::to_string).to_vec());
        s.export_deleted(&p.id, "exp-1", t).await.unwrap();
        assert!(s
            .export_deletions_due(&p.id, t, 10)
            .await
            .unwrap()
            .is_empty());

        // A session deleted while its export is in flight: finishing reports false.
        s.ingest(&p.id, vec![unit("f1", "exp-2", "w", all[..10].to_vec())])
            .await
            .unwrap();
        assert!(s.seal(&p.id, "exp-2").await.unwrap());
        let due = s.exports_due(&p.id, t, 10).await.unwrap();
        let (lease, _) = s
            .claim_export(&p.id, "exp-2", t, due[0].version)
            .await
            .unwrap()
            .unwrap();
        assert!(s.delete_session(&p.id, "exp-2").await.unwrap());
        let k2 = ExportKeys::new("exp-2", due[0].start_ms);
        assert!(
            !s.finish_export(&p.id, "exp-2", t, lease, due[0].version, &k2)
                .await
                .unwrap(),
            "{}",
            b.name
        );
    }
}

// ---- comments (issue 15) ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_kept_in_time_order_imported_once_and_deleted_for_good() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let m = Marked::new("commented-1");
        s.ingest(&p.id, vec![m.batch(0, now - 60_000)])
            .await
            .unwrap();
        let idx = &s.index;
        let late = idx
            .add_comment(
                &p.id,
                &m.id,
                9000,
                "  the pay button\r\ndid nothing ",
                "ana",
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(late.text, "the pay button\ndid nothing", "{}", b.name);
        let early = idx
            .add_comment(&p.id, &m.id, 1200, &m.comment, "")
            .await
            .unwrap()
            .unwrap();
        assert_ne!(early.id, late.id);
        // Negative offsets are the session's start.
        let first = idx
            .add_comment(&p.id, &m.id, -5, "at the start", "bo")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.at_ms, 0);
        let list = idx.comments(&p.id, &m.id).await.unwrap();
        let ids: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, [&first.id, &early.id, &late.id], "{}", b.name);
        assert_eq!(list[2], late);
        // No such session; text refused with the reason.
        assert!(idx
            .add_comment(&p.id, "no-such-session", 0, "x", "")
            .await
            .unwrap()
            .is_none());
        let err = idx
            .add_comment(&p.id, &m.id, 0, "   ", "")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("write something"), "{err}");
        // An import keeps id, time and author, and stores a comment once.
        let imported = reel_store::Comment {
            id: "0192f0c1-7a3e-7b00-8000-00000000beef".into(),
            session_id: m.id.clone(),
            at_ms: 5000,
            text: "from a package".into(),
            author: "someone else".into(),
            created_ms: 1_700_000_000_000,
        };
        assert_eq!(
            idx.insert_comment(&p.id, &imported).await.unwrap(),
            Some(true)
        );
        assert_eq!(
            idx.insert_comment(&p.id, &imported).await.unwrap(),
            Some(false)
        );
        let mut elsewhere = imported.clone();
        elsewhere.session_id = "no-such-session".into();
        assert_eq!(idx.insert_comment(&p.id, &elsewhere).await.unwrap(), None);
        let list = idx.comments(&p.id, &m.id).await.unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list[2], imported);
        // Deleting one: gone from the list and from the data folder (or every table).
        let gone = idx.delete_comment(&p.id, &early.id).await.unwrap().unwrap();
        assert_eq!(gone.session_id, m.id);
        assert!(idx
            .delete_comment(&p.id, &early.id)
            .await
            .unwrap()
            .is_none());
        assert_eq!(idx.comments(&p.id, &m.id).await.unwrap().len(), 3);
        let left: Vec<String> = traces(&b, &s, &p.id, &m, &[])
            .await
            .into_iter()
            .filter(|t| t.starts_with(&m.comment))
            .collect();
        assert!(
            left.is_empty(),
            "{}: deleted comment left: {left:?}",
            b.name
        );
        // The other comments go with their session.
        assert!(s.delete_session(&p.id, &m.id).await.unwrap());
        assert!(idx.comments(&p.id, &m.id).await.unwrap().is_empty());
        for t in ["the pay button", "from a package"] {
            if b.name == "sqlite+folder" {
                assert!(holders(b._tmp.path(), t.as_bytes()).is_empty(), "{t}");
            } else {
                assert!(!pg_rows(&s).await.iter().any(|r| r.contains(t)), "{t}");
            }
        }
    }
}

// ---- collections (issue 15) ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_hold_sessions_until_they_are_deleted_and_share_links_open_only_them() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let (a, c, d) = (
            Marked::new("coll-a"),
            Marked::new("coll-b"),
            Marked::new("coll-c"),
        );
        for (i, m) in [&a, &c, &d].into_iter().enumerate() {
            s.ingest(&p.id, vec![m.batch(0, now - 60_000 + i as i64 * 1000)])
                .await
                .unwrap();
        }
        let idx = &s.index;
        // Names are checked and cleaned.
        let err = idx.create_collection(&p.id, "  \n ", "").await.unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
        let long = "x".repeat(reel_store::collections::MAX_NAME_CHARS + 1);
        assert!(idx.create_collection(&p.id, &long, "").await.is_err());
        let bugs = idx
            .create_collection(&p.id, " Checkout\u{0} bugs ", "seen in Q3")
            .await
            .unwrap();
        assert_eq!(bugs.name, "Checkout bugs", "{}", b.name);
        let other = idx.create_collection(&p.id, "Other", "").await.unwrap();
        // Adding: new, repeated and unknown ids each reported; repeats in one call count once.
        let ids = |v: &[&Marked]| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        let mut req = ids(&[&a, &c, &a]);
        req.push("no-such-session".into());
        let r = idx
            .add_to_collection(&p.id, &bugs.id, &req)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.added, ids(&[&a, &c]), "{}", b.name);
        assert_eq!(r.unknown, ["no-such-session"]);
        let r = idx
            .add_to_collection(&p.id, &bugs.id, &ids(&[&c, &d]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((r.added.len(), r.already.len()), (1, 1));
        assert!(idx
            .add_to_collection(&p.id, "no-such-collection", &ids(&[&a]))
            .await
            .unwrap()
            .is_none());
        let too_many = vec!["x".to_string(); reel_store::collections::MAX_BATCH + 1];
        assert!(idx
            .add_to_collection(&p.id, &bugs.id, &too_many)
            .await
            .is_err());
        idx.add_to_collection(&p.id, &other.id, &ids(&[&a]))
            .await
            .unwrap();
        // Oldest recording first; counts; the list filter; a session's collections.
        assert_eq!(
            idx.collection_sessions(&p.id, &bugs.id).await.unwrap(),
            ids(&[&a, &c, &d]),
            "{}",
            b.name
        );
        assert_eq!(
            idx.collection(&p.id, &bugs.id)
                .await
                .unwrap()
                .unwrap()
                .session_count,
            3
        );
        let f = reel_store::SessionFilter {
            collection: Some(other.id.clone()),
            limit: 50,
            ..Default::default()
        };
        let (rows, _) = idx.sessions(&p.id, &f).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            [a.id.as_str()]
        );
        let names: Vec<String> = idx
            .collections_of_session(&p.id, &a.id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Checkout bugs", "Other"], "{}", b.name);
        // Rename; remove one (the session stays).
        let renamed = idx
            .update_collection(&p.id, &bugs.id, Some("Pay bugs"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.description.as_str()),
            ("Pay bugs", "seen in Q3")
        );
        assert_eq!(
            idx.remove_from_collection(&p.id, &bugs.id, &ids(&[&d]))
                .await
                .unwrap(),
            Some(1)
        );
        assert!(idx.session(&p.id, &d.id).await.unwrap().is_some());
        // A collection share opens the collection (not a session share), until revoked.
        let (share_id, token) = idx
            .create_collection_share(&p.id, &bugs.id, None)
            .await
            .unwrap();
        assert_eq!(
            idx.collection_share(&token).await.unwrap(),
            Some((p.id.clone(), bugs.id.clone()))
        );
        assert_eq!(idx.share(&token).await.unwrap(), None, "{}", b.name);
        assert!(idx.in_collection(&p.id, &bugs.id, &a.id).await.unwrap());
        assert!(!idx.in_collection(&p.id, &bugs.id, &d.id).await.unwrap());
        let (_, expired) = idx
            .create_collection_share(&p.id, &bugs.id, Some(now - 1))
            .await
            .unwrap();
        assert_eq!(idx.collection_share(&expired).await.unwrap(), None);
        assert_eq!(
            idx.list_collection_shares(&p.id, &bugs.id)
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(idx.revoke_share(&p.id, &share_id).await.unwrap());
        assert_eq!(idx.collection_share(&token).await.unwrap(), None);
        // Deleting a session takes it out of every collection.
        assert!(s.delete_session(&p.id, &a.id).await.unwrap());
        assert_eq!(
            idx.collection_sessions(&p.id, &bugs.id).await.unwrap(),
            ids(&[&c])
        );
        assert_eq!(
            idx.collection(&p.id, &other.id)
                .await
                .unwrap()
                .unwrap()
                .session_count,
            0,
            "{}",
            b.name
        );
        // Deleting a collection keeps its sessions and kills its links.
        let (_, live) = idx
            .create_collection_share(&p.id, &bugs.id, None)
            .await
            .unwrap();
        assert!(idx.delete_collection(&p.id, &bugs.id).await.unwrap());
        assert!(!idx.delete_collection(&p.id, &bugs.id).await.unwrap());
        assert_eq!(idx.collection_share(&live).await.unwrap(), None);
        assert!(idx.session(&p.id, &c.id).await.unwrap().is_some());
        assert_eq!(
            idx.collections(&p.id)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>(),
            ["Other"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_titles_are_searchable_and_deleted_with_their_session() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let r = rand_name();
        let title = format!("Order summary {r} — Acme");
        let snap = |t: i64, title: &str| {
            Event::parse(format!(
                r#"{{"type":2,"data":{{"node":{{"type":0,"id":1,"childNodes":[{{"type":2,"id":2,"tagName":"html","attributes":{{}},"childNodes":[{{"type":2,"id":3,"tagName":"head","attributes":{{}},"childNodes":[{{"type":2,"id":4,"tagName":"title","attributes":{{}},"childNodes":[{{"type":3,"id":5,"textContent":"{title}"}}]}}]}}]}}]}},"initialOffset":{{"top":0,"left":0}}}},"timestamp":{t}}}"#
            ))
            .unwrap()
        };
        s.ingest(
            &p.id,
            vec![unit(
                "titled-b0",
                "titled",
                "w1",
                vec![snap(now - 5000, &title), snap(now - 4000, "Cart")],
            )],
        )
        .await
        .unwrap();
        s.ingest(
            &p.id,
            vec![unit(
                "other-b0",
                "other",
                "w1",
                vec![snap(now - 3000, "Home")],
            )],
        )
        .await
        .unwrap();
        let search = |q: &str| reel_store::SessionFilter {
            search: Some(q.into()),
            limit: 50,
            ..Default::default()
        };
        for q in [format!("order SUMMARY {r}"), "cart".to_string()] {
            let (rows, _) = s.index.sessions(&p.id, &search(&q)).await.unwrap();
            assert_eq!(
                rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                ["titled"],
                "{}: {q}",
                b.name
            );
        }
        // LIKE's own characters match themselves.
        let (rows, _) = s.index.sessions(&p.id, &search("%")).await.unwrap();
        assert!(rows.is_empty(), "{}", b.name);
        assert!(s.delete_session(&p.id, "titled").await.unwrap());
        let (rows, _) = s.index.sessions(&p.id, &search("cart")).await.unwrap();
        assert!(rows.is_empty());
        s.index.reclaim().await.unwrap();
        if b.name == "sqlite+folder" {
            assert!(
                holders(b._tmp.path(), r.as_bytes()).is_empty(),
                "the title stays nowhere in the data folder"
            );
        } else {
            assert!(!pg_rows(&s).await.iter().any(|row| row.contains(&r)));
        }
    }
}

// ---- assets the server collects (issue 14) ----

fn fetched(url: &str, bytes: &[u8], refs: &[&str]) -> reel_store::assets::FetchedAsset {
    let now = reel_store::now_ms();
    reel_store::assets::FetchedAsset {
        url: url.into(),
        content_type: if refs.is_empty() {
            "image/png"
        } else {
            "text/css"
        }
        .into(),
        bytes: bytes.to_vec(),
        fetched_ms: now,
        fresh_until_ms: now + 60_000,
        refs: refs.iter().map(|r| r.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_fetched_once_shared_and_deleted_with_their_last_session() {
    let now = reel_store::now_ms();
    for b in backends().await {
        let s = Store::open(&b.index, &b.blobs).await.unwrap();
        let (p, _) = s.index.ensure_project(None, None).await.unwrap();
        let one = Marked::new("assets-1");
        let two = Marked::new("assets-2");
        one.store(&s, &p.id, now - 60_000).await;
        two.store(&s, &p.id, now - 60_000).await;
        let r = rand_name();
        let css = format!("https://a-{r}.example/site.css");
        let font = format!("https://a-{r}.example/site.woff2");
        let img = format!("https://a-{r}.example/only-one.png");
        let bad = format!("https://a-{r}.example/bad.png");
        let (css_bytes, font_bytes, img_bytes) = (
            format!("@font-face{{src:url(site.woff2)}} /* {r} */"),
            format!("font bytes {r}"),
            format!("image only the first session loads {r}"),
        );
        let size_before = s.index.session(&p.id, &one.id).await.unwrap().unwrap().size;
        // First session: everything new, all due.
        let due = s
            .link_assets(&p.id, &one.id, &[css.clone(), img.clone(), bad.clone()], 0)
            .await
            .unwrap();
        assert_eq!(due, 3, "{}", b.name);
        let mut claimed = s.claim_due_assets(&p.id, 10).await.unwrap();
        claimed.sort();
        assert_eq!(claimed.len(), 3, "{}", b.name);
        assert!(
            s.claim_due_assets(&p.id, 10).await.unwrap().is_empty(),
            "leased"
        );
        // A copy exported (--export-to) before its assets arrive is written again.
        let (lease, _) = s
            .claim_export(&p.id, &one.id, "t", 7)
            .await
            .unwrap()
            .unwrap();
        let keys = reel_store::export::ExportKeys::new(&one.id, now);
        assert!(s
            .finish_export(&p.id, &one.id, "t", lease, 7, &keys)
            .await
            .unwrap());
        s.asset_fetched(&p.id, fetched(&css, css_bytes.as_bytes(), &[&font]), 0)
            .await
            .unwrap();
        assert!(
            s.claim_export(&p.id, &one.id, "t", 7)
                .await
                .unwrap()
                .is_some(),
            "{}: due again",
            b.name
        );
        s.asset_fetched(&p.id, fetched(&img, img_bytes.as_bytes(), &[]), 0)
            .await
            .unwrap();
        s.asset_failed(&p.id, &bad, "HTTP 500", false)
            .await
            .unwrap();
        // The stylesheet's font was linked and became due.
        assert_eq!(
            s.claim_due_assets(&p.id, 10).await.unwrap(),
            vec![font.clone()]
        );
        s.asset_fetched(&p.id, fetched(&font, font_bytes.as_bytes(), &[]), 0)
            .await
            .unwrap();
        let mine: Vec<String> = s
            .session_assets(&p.id, &one.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.url)
            .collect();
        assert_eq!(mine, {
            let mut v = vec![css.clone(), font.clone(), img.clone()];
            v.sort();
            v
        });
        let size_after = s.index.session(&p.id, &one.id).await.unwrap().unwrap().size;
        assert_eq!(
            size_after - size_before,
            (css_bytes.len() + font_bytes.len() + img_bytes.len()) as i64,
            "{}: the session size counts its assets",
            b.name
        );
        // Second session: the stylesheet is fresh, so nothing is fetched again, and its font comes along.
        assert_eq!(
            s.link_assets(&p.id, &two.id, std::slice::from_ref(&css), 0)
                .await
                .unwrap(),
            0
        );
        assert!(s.claim_due_assets(&p.id, 10).await.unwrap().is_empty());
        assert_eq!(s.session_assets(&p.id, &two.id).await.unwrap().len(), 2);
        let rows = s.asset_rows(&p.id).await.unwrap();
        let bad_row = rows.iter().find(|a| a.url == bad).unwrap();
        assert_eq!(bad_row.failures, 1);
        assert!(bad_row.due_ms.unwrap() > now, "backing off");
        // Not forever: given up after MAX_ATTEMPTS, and a session linking it now does not revive it.
        for _ in 1..reel_store::assets::MAX_ATTEMPTS {
            s.asset_failed(&p.id, &bad, "HTTP 500", false)
                .await
                .unwrap();
        }
        let rows = s.asset_rows(&p.id).await.unwrap();
        let bad_row = rows.iter().find(|a| a.url == bad).unwrap();
        assert_eq!(
            (bad_row.failures, bad_row.due_ms),
            (reel_store::assets::MAX_ATTEMPTS, None),
            "{}",
            b.name
        );
        assert_eq!(
            s.link_assets(&p.id, &two.id, std::slice::from_ref(&bad), 0)
                .await
                .unwrap(),
            0
        );
        let one_font = s
            .session_assets(&p.id, &one.id)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.url == font)
            .unwrap();
        let (ct, got) = s
            .session_asset(&p.id, &two.id, &one_font.sha256, 1 << 20)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (ct.as_str(), &got[..]),
            ("image/png", font_bytes.as_bytes())
        );
        assert!(s
            .session_asset(&p.id, &two.id, &"0".repeat(64), 1 << 20)
            .await
            .unwrap()
            .is_none());

        let find = |needle: String| {
            let b = &b;
            let s = &s;
            let p = p.id.clone();
            async move {
                let mut found = Vec::new();
                if b.name == "sqlite+folder" {
                    found.extend(holders(b._tmp.path(), needle.as_bytes()));
                } else {
                    found.extend(pg_rows(s).await.into_iter().filter(|r| r.contains(&needle)));
                    for k in s.blobs.list(&format!("p/{p}/assets")).await.unwrap() {
                        if s.blobs
                            .get(&k)
                            .await
                            .unwrap()
                            .windows(needle.len())
                            .any(|w| w == needle.as_bytes())
                        {
                            found.push(k);
                        }
                    }
                }
                found
            }
        };
        assert!(
            !find(img_bytes.clone()).await.is_empty(),
            "{}: found before",
            b.name
        );
        assert!(s.delete_session(&p.id, &one.id).await.unwrap());
        assert!(
            find(img_bytes.clone()).await.is_empty(),
            "{}: an asset only the deleted session loaded is gone",
            b.name
        );
        assert!(
            find(img.clone()).await.is_empty(),
            "{}: its URL too",
            b.name
        );
        assert!(
            !find(font_bytes.clone()).await.is_empty(),
            "{}: shared assets stay",
            b.name
        );
        // Forgetting the person takes the same path.
        assert_eq!(s.forget_person(&p.id, &two.person).await.unwrap(), 1);
        for x in [css_bytes, font_bytes, css, font, bad] {
            let left = find(x.clone()).await;
            assert!(left.is_empty(), "{}: {x} left: {left:?}", b.name);
        }
        assert!(s
            .blobs
            .list(&format!("p/{}/assets", p.id))
            .await
            .unwrap()
            .is_empty());
    }
}
