//! The streaming writer on hand-made packages, read back with the parquet crate's reader.
use crate::{Options, Tables};
use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use reel_format::package::{PackageWriter, WriterOptions};
use reel_format::{Event, Session};
use std::io::Cursor;

const T0: i64 = 1_700_000_000_000;

/// An event from JSON text (made compact: a package holds one event per line).
fn ev(s: String) -> Event {
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    Event::parse(v.to_string()).unwrap()
}

/// Meta, a page with a button (#ok, id 5) and a text field (id 7), then `clicks` clicks on the
/// button, a typed value, a console error, a request and a custom event.
fn session(id: &str, clicks: usize) -> Session {
    let mut s = Session::new(id);
    s.distinct_id = Some(format!("person-{id}"));
    let mut e = vec![
        ev(format!(
            r#"{{"type":4,"data":{{"href":"https://shop.test/cart","width":800,"height":600}},"timestamp":{T0}}}"#
        )),
        ev(format!(
            r#"{{"type":2,"data":{{"node":{{"type":0,"id":1,"childNodes":[
              {{"type":2,"id":2,"tagName":"html","attributes":{{}},"childNodes":[
                {{"type":2,"id":3,"tagName":"body","attributes":{{}},"childNodes":[
                  {{"type":2,"id":5,"tagName":"button","attributes":{{"id":"ok"}},"childNodes":[{{"type":3,"id":6,"textContent":" Pay  now "}}]}},
                  {{"type":2,"id":7,"tagName":"input","attributes":{{"type":"password"}},"childNodes":[]}}
                ]}}]}}]}},"initialOffset":{{"top":0,"left":0}}}},"timestamp":{T0}}}"#
        )),
    ];
    let mut t = T0;
    for i in 0..clicks {
        t += 10;
        e.push(ev(format!(
            r#"{{"type":3,"data":{{"source":2,"type":2,"id":5,"x":{},"y":20}},"timestamp":{t}}}"#,
            i % 700
        )));
    }
    t += 10;
    e.push(ev(format!(
        r#"{{"type":3,"data":{{"source":5,"text":"********","isChecked":false,"id":7}},"timestamp":{t}}}"#
    )));
    e.push(ev(format!(
        r#"{{"type":6,"data":{{"plugin":"rrweb/console@1","payload":{{"level":"error","payload":["\"boom\""]}}}},"timestamp":{}}}"#,
        t + 1
    )));
    e.push(ev(format!(
        r#"{{"type":6,"data":{{"plugin":"rrweb/network@1","payload":{{"requests":[{{"name":"https://shop.test/api/pay","method":"POST","status":502,"startTime":10,"endTime":1510}}]}}}},"timestamp":{}}}"#,
        t + 2
    )));
    e.push(ev(format!(
        r#"{{"type":5,"data":{{"tag":"checkout-started","payload":{{}}}},"timestamp":{}}}"#,
        t + 3
    )));
    s.window_mut("w1").events = e;
    s
}

fn package(sessions: &[Session]) -> Vec<u8> {
    // Stored (level 0): a test can find and change a window's bytes.
    let opts = WriterOptions {
        level: 0,
        ..WriterOptions::default()
    };
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), opts);
    for s in sessions {
        w.add_session(s).unwrap();
    }
    w.finish(None).unwrap().0.into_inner()
}

fn read(bytes: Vec<u8>) -> (Vec<RecordBatch>, usize) {
    let b = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    let groups = b.metadata().num_row_groups();
    (b.build().unwrap().map(|r| r.unwrap()).collect(), groups)
}

/// Column `name` of `b` as its array type.
fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    col(b, name)
}

fn ints<'a>(b: &'a RecordBatch, name: &str) -> &'a Int64Array {
    col(b, name)
}

#[test]
fn rows_and_columns_of_a_package() {
    let pkg = package(&[session("s1", 3), session("s2", 1)]);
    let mut t = Tables::new(Vec::new(), Vec::new()).unwrap();
    t.add_package(Cursor::new(pkg)).unwrap();
    let (counts, s, e) = t.finish_into_inner().unwrap();
    assert_eq!(counts.sessions, 2);
    // Per session: a navigation (the Meta; its FullSnapshot is no row), the clicks, then an
    // input, a console entry, a request and a custom event.
    assert_eq!(counts.events, (1 + 3 + 4) + (1 + 1 + 4));
    let (sessions, _) = read(s);
    let b = &sessions[0];
    assert_eq!(b.schema(), crate::sessions_schema());
    assert_eq!(strings(b, "session_id").value(0), "s1");
    assert_eq!(strings(b, "distinct_id").value(1), "person-s2");
    assert_eq!(strings(b, "first_url").value(0), "https://shop.test/cart");
    assert_eq!(ints(b, "click_count").value(0), 3);
    assert_eq!(ints(b, "keypress_count").value(0), 1);
    assert_eq!(ints(b, "console_error_count").value(0), 1);
    assert_eq!(ints(b, "event_count").value(0), 2 + 3 + 4);
    assert_eq!(strings(b, "snapshot_source").value(0), "web");
    assert!(counts.bytes_in > 0);

    let (events, _) = read(e);
    let b = &events[0];
    assert_eq!(b.schema(), crate::events_schema());
    let kinds = strings(b, "kind");
    let row = |k: &str| (0..b.num_rows()).find(|&i| kinds.value(i) == k).unwrap();
    let click = row("click");
    assert_eq!(strings(b, "target_tag").value(click), "button");
    assert_eq!(strings(b, "target_selector").value(click), "button#ok");
    assert_eq!(strings(b, "target_text").value(click), "Pay now");
    assert_eq!(ints(b, "target_id").value(click), 5);
    assert_eq!(col::<Float64Array>(b, "y").value(click), 20.0);
    let input = row("input");
    assert_eq!(strings(b, "input_value").value(input), "********");
    let console = row("console");
    assert_eq!(strings(b, "console_level").value(console), "error");
    assert_eq!(strings(b, "console_message").value(console), "boom");
    assert!(strings(b, "console_level").is_null(click));
    let net = row("network");
    assert_eq!(strings(b, "network_method").value(net), "POST");
    assert_eq!(ints(b, "network_status").value(net), 502);
    assert_eq!(
        col::<Float64Array>(b, "network_duration_ms").value(net),
        1500.0
    );
    assert_eq!(
        strings(b, "custom_tag").value(row("custom")),
        "checkout-started"
    );
    assert_eq!(
        strings(b, "url").value(row("navigation")),
        "https://shop.test/cart"
    );
}

/// Many events through small batches and row groups: several row groups, every row back, and
/// the memory held does not grow with the input (4× the clicks, the same peak).
#[test]
fn streams_in_row_groups_with_flat_memory() {
    let opts = Options {
        batch_rows: 1000,
        row_group_bytes: 64 << 10,
        ..Options::default()
    };
    let run = |clicks: usize| {
        let pkg = package(&[session("big", clicks), session("small", 2)]);
        let mut t = Tables::with_options(Vec::new(), Vec::new(), opts).unwrap();
        t.add_package(Cursor::new(pkg)).unwrap();
        let peak = t.peak_buffered_bytes();
        let (counts, _, e) = t.finish_into_inner().unwrap();
        assert_eq!(counts.events as usize, clicks + 5 + 2 + 5);
        let (batches, groups) = read(e);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows as u64, counts.events);
        (peak, groups)
    };
    let (small_peak, small_groups) = run(15_000);
    let (big_peak, big_groups) = run(60_000);
    assert!(small_groups > 1, "{small_groups} row groups");
    assert!(big_groups >= small_groups * 3, "{big_groups} row groups");
    assert!(
        small_peak > 0 && big_peak < small_peak * 3 / 2,
        "peak {small_peak} → {big_peak} bytes"
    );
}

#[test]
fn bad_packages_fail_with_one_line() {
    let mut t = Tables::new(Vec::new(), Vec::new()).unwrap();
    let e = t
        .add_package(Cursor::new(b"not a zip".to_vec()))
        .unwrap_err();
    assert!(!e.to_string().contains('\n'));
    assert!(e.to_string().to_lowercase().contains("zip"), "{e}");
    // A window whose bytes changed after packing: the checksum catches it.
    let mut pkg = package(&[session("s1", 3)]);
    let at = pkg
        .windows(7)
        .position(|w| w == b"Pay  no")
        .expect("stored window text");
    pkg[at] = b'X';
    let e = Tables::new(Vec::new(), Vec::new())
        .unwrap()
        .add_package(Cursor::new(pkg))
        .unwrap_err();
    assert!(!e.to_string().contains('\n'));
}

/// Windows walked on several threads give the same files as one thread: rows window by window,
/// in package order.
#[test]
fn threads_keep_package_order() {
    let mut s = session("multi", 50);
    let w1 = s.window_mut("w1").events.clone();
    for (i, w) in ["w2", "w3", "w4", "w5"].iter().enumerate() {
        s.window_mut(w).events = w1.iter().take(10 + i * 7).cloned().collect();
    }
    let pkg = package(&[s, session("other", 3)]);
    let write = |threads: usize| {
        let opts = Options {
            threads,
            batch_rows: 16,
            ..Options::default()
        };
        let mut t = Tables::with_options(Vec::new(), Vec::new(), opts).unwrap();
        t.add_package(Cursor::new(pkg.clone())).unwrap();
        let (counts, s, e) = t.finish_into_inner().unwrap();
        (counts, read(s).0, read(e).0)
    };
    let one = write(1);
    let four = write(4);
    assert_eq!(one.0, four.0);
    assert_eq!(one.1, four.1);
    assert_eq!(one.2, four.2);
    let windows: Vec<String> = one
        .2
        .iter()
        .flat_map(|b| {
            let w = strings(b, "window_id");
            (0..b.num_rows())
                .map(|i| w.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut runs = windows.clone();
    runs.dedup();
    assert_eq!(runs, ["w1", "w2", "w3", "w4", "w5", "w1"]);
}

/// The server's export moves tables between threads.
#[test]
fn tables_are_send() {
    fn send<T: Send>() {}
    send::<Tables<Vec<u8>>>();
    send::<Tables<std::fs::File>>();
}
