//! Sessions that cost hundreds of MB to expand are sealed and read in bounded memory.
//! Its own test binary (one process): peak RSS (VmHWM) is per process.
use reel_format::recording::Source;
use reel_format::Event;
use reel_store::{IngestUnit, Store};

/// Peak resident memory of this process, bytes.
fn peak_rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Reset the peak to the current RSS (Linux: `5` into clear_refs).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

/// A custom event of about `size` bytes that compresses to almost nothing.
fn big_event(ts: i64, size: usize) -> Event {
    let unit = "reel-bounded-memory-0123456789abcdefghijklmnopqrstuvwxyz ";
    let payload = unit.repeat(size / unit.len());
    Event::parse(format!(
        r#"{{"type":5,"timestamp":{ts},"data":{{"tag":"big","payload":{{"text":"{payload}"}}}}}}"#
    ))
    .unwrap()
}

fn unit(key: &str, session: &str, window: &str, events: Vec<Event>) -> IngestUnit {
    IngestUnit {
        key: key.into(),
        session_id: session.into(),
        window_id: window.into(),
        distinct_id: Some("p".into()),
        source: Source {
            system: "test".into(),
            ..Default::default()
        },
        user_agent: None,
        events,
    }
}

const MB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_session_is_sealed_and_read_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let index = format!("sqlite://{}", tmp.path().join("index.sqlite").display());
    let blobs = tmp.path().join("blobs").display().to_string();
    let store = Store::open(&index, &blobs).await.unwrap();
    let (p, _) = store.index.ensure_project(None, None).await.unwrap();
    // 320 MB of event JSON in 16 batches of 20 × 1 MB events. Window "a": batches interleave
    // in time (every batch spans the whole session: an external sort); window "b": in order.
    let (batches, per, size) = (16i64, 20i64, 1usize << 20);
    for b in 0..batches {
        let a: Vec<Event> = (0..per)
            .map(|i| big_event(1_000_000 + i * batches + b, size))
            .collect();
        let w: Vec<Event> = (0..per / 4)
            .map(|i| big_event(1_000_000 + b * per + i, size / 4))
            .collect();
        store
            .ingest(
                &p.id,
                vec![
                    unit(&format!("a{b}"), "big", "a", a),
                    unit(&format!("b{b}"), "big", "b", w),
                ],
            )
            .await
            .unwrap();
    }
    let row = store.index.session(&p.id, "big").await.unwrap().unwrap();
    let total = row.size as u64;
    assert!(total > 300 * MB, "session is {} MB", total / MB);
    let bound = 200 * MB;

    reset_peak();
    let base = rss();
    assert!(store.seal(&p.id, "big").await.unwrap());
    let seal_peak = peak_rss().saturating_sub(base);
    let blocks = store.index.blocks(&p.id, "big").await.unwrap();
    assert_eq!(blocks.len(), 2, "one sealed block per window");
    assert!(blocks.iter().all(|b| b.sealed));
    assert_eq!(
        blocks.iter().map(|b| b.event_count).sum::<i64>(),
        batches * per + batches * (per / 4)
    );

    reset_peak();
    let base = rss();
    let plan = store.plan(&p.id, "big").await.unwrap();
    let s2 = store.clone();
    let (n, bytes, sorted) = tokio::task::spawn_blocking(move || {
        let (mut n, mut bytes, mut last, mut sorted) = (0i64, 0u64, i64::MIN, true);
        for item in s2.events(plan).unwrap() {
            let (_, e) = item.unwrap();
            sorted &= e.timestamp >= last;
            last = e.timestamp;
            n += 1;
            bytes += e.json().len() as u64;
        }
        (n, bytes, sorted)
    })
    .await
    .unwrap();
    let read_peak = peak_rss().saturating_sub(base);
    assert_eq!(n, batches * per + batches * (per / 4));
    assert_eq!(bytes, total);
    assert!(sorted, "events come out in time order");
    eprintln!(
        "session {} MB: seal peak +{} MB, read peak +{} MB",
        total / MB,
        seal_peak / MB,
        read_peak / MB
    );
    assert!(
        seal_peak < bound,
        "sealing raised RSS by {} MB",
        seal_peak / MB
    );
    assert!(
        read_peak < bound,
        "reading raised RSS by {} MB",
        read_peak / MB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_reads_keep_the_order_of_a_stable_sort() {
    // Small blocks through every path (concatenation, in-memory sort) must give the order of a
    // stable sort by timestamp: ties keep window order, then block order.
    let tmp = tempfile::tempdir().unwrap();
    let index = format!("sqlite://{}", tmp.path().join("index.sqlite").display());
    let blobs = tmp.path().join("blobs").display().to_string();
    let store = Store::open(&index, &blobs).await.unwrap();
    let (p, _) = store.index.ensure_project(None, None).await.unwrap();
    let ev = |ts: i64, tag: &str| {
        Event::parse(format!(
            r#"{{"type":5,"timestamp":{ts},"data":{{"tag":"{tag}"}}}}"#
        ))
        .unwrap()
    };
    let batches = [
        ("k1", "w2", vec![ev(10, "w2-a"), ev(20, "w2-b")]),
        ("k2", "w1", vec![ev(5, "w1-a"), ev(20, "w1-b")]),
        (
            "k3",
            "w1",
            vec![ev(15, "w1-c"), ev(20, "w1-d"), ev(30, "w1-e")],
        ),
        ("k4", "w2", vec![ev(20, "w2-c")]),
    ];
    for (k, w, e) in batches.clone() {
        store.ingest(&p.id, vec![unit(k, "s", w, e)]).await.unwrap();
    }
    let got = store.load_session(&p.id, "s").await.unwrap().unwrap();
    let mut want = reel_format::Session::new("s");
    for (_, w, e) in batches {
        want.window_mut(w).events.extend(e);
    }
    want.windows.sort_by(|a, b| a.id.cmp(&b.id));
    want.sort();
    let tags = |s: &reel_format::Session| -> Vec<String> {
        s.events_in_time_order()
            .iter()
            .map(|(w, e)| format!("{w}:{}", e.json()))
            .collect()
    };
    assert_eq!(tags(&got), tags(&want));
    let plan = store.plan(&p.id, "s").await.unwrap();
    let s2 = store.clone();
    let streamed: Vec<String> = tokio::task::spawn_blocking(move || {
        let windows = plan.windows.clone();
        s2.events(plan)
            .unwrap()
            .map(|i| {
                let (w, e) = i.unwrap();
                format!("{}:{}", windows[w], e.json())
            })
            .collect()
    })
    .await
    .unwrap();
    assert_eq!(streamed, tags(&want));
}
