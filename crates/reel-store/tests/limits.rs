//! Per-session cap on stored event bytes, and sealing back-off (SQLite + a local folder).
use reel_format::recording::Source;
use reel_format::Event;
use reel_store::{IngestUnit, Store};
use std::sync::atomic::Ordering;

fn unit(key: &str, session: &str, events: Vec<Event>) -> IngestUnit {
    IngestUnit {
        key: key.into(),
        session_id: session.into(),
        window_id: "w".into(),
        distinct_id: None,
        source: Source::default(),
        user_agent: None,
        events,
    }
}

fn event(ts: i64, len: usize) -> Event {
    Event::parse(format!(
        r#"{{"type":5,"timestamp":{ts},"data":{{"tag":"t","payload":"{}"}}}}"#,
        "y".repeat(len)
    ))
    .unwrap()
}

async fn open(tmp: &tempfile::TempDir) -> Store {
    let index = format!("sqlite://{}", tmp.path().join("index.sqlite").display());
    Store::open(&index, &tmp.path().join("blobs").display().to_string())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_past_the_per_session_cap_are_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = open(&tmp).await;
    assert_eq!(store.session_cap(), reel_store::DEFAULT_SESSION_CAP);
    store.set_session_cap(10_000);
    let (p, _) = store.index.ensure_project(None, None).await.unwrap();
    store
        .ingest(&p.id, vec![unit("a", "s", vec![event(1, 6_000)])])
        .await
        .unwrap();
    let e = store
        .ingest(&p.id, vec![unit("b", "s", vec![event(2, 6_000)])])
        .await
        .unwrap_err();
    assert!(
        matches!(e, reel_store::Error::SessionCap { cap: 10_000, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("per-session cap of 10000 bytes"),
        "{e}"
    );
    // Nothing of the refused batch was stored; other sessions are not affected.
    let row = store.index.session(&p.id, "s").await.unwrap().unwrap();
    assert_eq!(row.event_count, 1);
    store
        .ingest(&p.id, vec![unit("c", "other", vec![event(2, 6_000)])])
        .await
        .unwrap();
    // A retry of the stored batch is still a duplicate, not a refusal.
    let o = store
        .ingest(&p.id, vec![unit("a", "s", vec![event(1, 6_000)])])
        .await
        .unwrap();
    assert_eq!(o.duplicates, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_fails_to_seal_is_backed_off_and_does_not_block_others() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp).await;
    let (p, _) = store.index.ensure_project(None, None).await.unwrap();
    // "bad" is older, so it comes first in the sealing order.
    store
        .ingest(&p.id, vec![unit("1", "bad", vec![event(1, 10)])])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .ingest(&p.id, vec![unit("2", "good", vec![event(1, 10)])])
        .await
        .unwrap();
    // Poison "bad": its block's bytes are not zstd.
    sqlx::query("UPDATE block_data SET data = $1 WHERE id IN (SELECT id FROM blocks WHERE session_id = 'bad')")
        .bind(b"not zstd".to_vec())
        .execute(&store.index.pool)
        .await
        .unwrap();
    assert_eq!(
        store.sessions_to_seal(&p.id, 0, 1).await.unwrap(),
        vec!["bad".to_string()]
    );
    assert!(store.seal(&p.id, "bad").await.is_err());
    assert_eq!(store.metrics.seal_failures.load(Ordering::Relaxed), 1);
    assert_eq!(store.sessions_backed_off(&p.id).await.unwrap(), 1);
    // The next sweep (limit 1) gets to the good one instead of retrying the bad one.
    assert_eq!(
        store.sessions_to_seal(&p.id, 0, 1).await.unwrap(),
        vec!["good".to_string()]
    );
    assert!(store.seal(&p.id, "good").await.unwrap());
    assert!(store
        .sessions_to_seal(&p.id, 0, 10)
        .await
        .unwrap()
        .is_empty());
    // Its next attempt time and failure count are in the session row; once due, it is tried again.
    sqlx::query("UPDATE sessions SET seal_retry_ms = 0 WHERE id = 'bad'")
        .execute(&store.index.pool)
        .await
        .unwrap();
    assert_eq!(
        store.sessions_to_seal(&p.id, 0, 10).await.unwrap(),
        vec!["bad".to_string()]
    );
    assert!(store.seal(&p.id, "bad").await.is_err());
    use sqlx::Row;
    let r = sqlx::query("SELECT seal_failures, seal_retry_ms FROM sessions WHERE id = 'bad'")
        .fetch_one(&store.index.pool)
        .await
        .unwrap();
    assert_eq!(r.try_get::<i64, _>("seal_failures").unwrap(), 2);
    let next: i64 = r.try_get("seal_retry_ms").unwrap();
    let wait = next - reel_store::now_ms();
    assert!(
        wait > reel_store::seal::SEAL_BACKOFF_MS,
        "the second failure waits longer (doubled): {wait} ms"
    );
}

/// SQLite + folder, and PostgreSQL + S3 when the test services are configured.
async fn backends() -> Vec<(String, String, tempfile::TempDir)> {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = vec![(
        format!("sqlite://{}", tmp.path().join("index.sqlite").display()),
        tmp.path().join("blobs").display().to_string(),
        tmp,
    )];
    if let (Ok(pg), Ok(s3)) = (
        std::env::var("REEL_TEST_POSTGRES"),
        std::env::var("REEL_TEST_S3_ENDPOINT"),
    ) {
        let name = format!(
            "reel_t_{}",
            reel_store::index::random_token(10).to_lowercase()
        );
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&pg).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        let bucket = name.replace('_', "-");
        let hostport = s3.trim_start_matches("http://").trim_end_matches('/');
        let mut s = std::net::TcpStream::connect(hostport).unwrap();
        use std::io::{Read, Write};
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        std::env::set_var("AWS_ENDPOINT_URL", &s3);
        let base = pg.rsplit_once('/').unwrap().0.to_string();
        v.push((
            format!("{base}/{name}"),
            format!("s3://{bucket}/reel"),
            tempfile::tempdir().unwrap(),
        ));
    } else if std::env::var("REEL_TEST_REQUIRE_SERVICES").is_ok() {
        panic!("REEL_TEST_POSTGRES and REEL_TEST_S3_ENDPOINT must be set");
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_block_larger_than_8_mb_is_uploaded_in_parts_and_read_back() {
    // Barely compressible events: the sealed block is over 8 MB, so it is uploaded from its
    // temporary file in parts and fetched back through a temporary file.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let events: Vec<Event> = (0..12)
        .map(|i| {
            let text: String = (0..(1 << 20))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x & 63) as usize] as char
                })
                .collect();
            Event::parse(format!(
                r#"{{"type":5,"timestamp":{},"data":{{"tag":"r","payload":"{text}"}}}}"#,
                1000 + (i * 7) % 12
            ))
            .unwrap()
        })
        .collect();
    for (index, blobs, _tmp) in backends().await {
        let store = Store::open(&index, &blobs).await.unwrap();
        let (p, _) = store.index.ensure_project(None, None).await.unwrap();
        for (k, chunk) in events.chunks(4).enumerate() {
            store
                .ingest(&p.id, vec![unit(&k.to_string(), "r", chunk.to_vec())])
                .await
                .unwrap();
        }
        assert!(store.seal(&p.id, "r").await.unwrap());
        let blocks = store.index.blocks(&p.id, "r").await.unwrap();
        assert_eq!(blocks.len(), 1);
        assert!(
            blocks[0].stored_bytes > 8 << 20,
            "{}",
            blocks[0].stored_bytes
        );
        let got = store.load_session(&p.id, "r").await.unwrap().unwrap();
        let mut want = events.clone();
        want.sort_by_key(|e| e.timestamp);
        assert_eq!(got.windows.len(), 1);
        assert!(got.windows[0].events == want, "{index}: events differ");
    }
}
