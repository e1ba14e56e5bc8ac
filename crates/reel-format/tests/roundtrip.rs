//! Every fixture recording round-trips: import → package → read → export gives the same events
//! (same JSON values, time order) as the input.
use reel_format::import::{import, ImportOptions, InputKind};
use reel_format::package::{PackageReader, PackageWriter, WriterOptions};
use reel_format::{export, Recording};
use serde_json::Value;
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn opts() -> ImportOptions {
    ImportOptions::default()
}

fn pack(rec: &Recording) -> Vec<u8> {
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    for s in &rec.sessions {
        w.add_session(s).unwrap();
    }
    w.finish(None).unwrap().0.into_inner()
}

fn sorted_by_time(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|e| e["timestamp"].as_f64().unwrap() as i64);
    v
}

fn rrweb_out(pkg: &[u8]) -> Vec<Value> {
    let rec = reel_format::package::read_recording(Cursor::new(pkg), &Default::default()).unwrap();
    assert_eq!(rec.sessions.len(), 1);
    let mut out = Vec::new();
    export::rrweb_array(&rec.sessions[0], None, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn rrweb_fixtures_round_trip() {
    for name in ["checkout", "swagger", "shoelace"] {
        let path = fixtures().join(format!("rrweb/{name}.json"));
        let bytes = std::fs::read(&path).unwrap();
        let (kind, rec) = import(name, &bytes, &opts()).unwrap();
        assert_eq!(kind, InputKind::RrwebArray);
        let input: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        let pkg = pack(&rec);
        let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
        let rep = r.verify(None, &mut |_| {}).unwrap();
        assert_eq!(rep.events as usize, input.len(), "{name}");
        assert_eq!(
            rrweb_out(&pkg),
            sorted_by_time(input),
            "{name}: events differ after the round trip"
        );
    }
}

fn wire_bodies(run: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("posthog-wire").join(run))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-POST-s.bin"))
        .collect();
    v.sort();
    v
}

#[test]
fn posthog_wire_bodies_decode_to_the_decoded_events() {
    for run in [
        "checkout",
        "checkout-uncompressed",
        "checkout-minimal-config",
        "shoelace",
    ] {
        let mut rec = Recording::default();
        let bodies = wire_bodies(run);
        assert!(!bodies.is_empty());
        for b in &bodies {
            let (kind, r) = import(
                &b.display().to_string(),
                &std::fs::read(b).unwrap(),
                &opts(),
            )
            .unwrap();
            assert_eq!(kind, InputKind::PosthogWire);
            rec.merge(r);
        }
        rec.sort();
        let expected: Vec<Value> = serde_json::from_slice(
            &std::fs::read(
                fixtures()
                    .join("posthog-wire")
                    .join(run)
                    .join("decoded-events.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(rec.sessions.len(), 1, "{run}");
        let pkg = pack(&rec);
        let got = rrweb_out(&pkg);
        assert_eq!(got.len(), expected.len(), "{run}: event count");
        assert_eq!(
            got,
            sorted_by_time(expected),
            "{run}: decoded events differ"
        );
        assert!(
            got.iter().all(|e| e.get("cv").is_none()),
            "{run}: cv packing left"
        );
    }
}

#[test]
fn posthog_v2_export_round_trips_and_reimports() {
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    let (_, rec) = import("checkout", &bytes, &opts()).unwrap();
    let mut out = Vec::new();
    export::posthog_v2(&rec.sessions[0], &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["version"], "2023-04-28");
    assert!(v["data"]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s.get("windowId").is_some()));
    let (kind, back) = import("export.json", &out, &opts()).unwrap();
    assert_eq!(kind, InputKind::PosthogExportV2);
    assert_eq!(back.sessions[0].id, rec.sessions[0].id);
    assert_eq!(back.sessions[0].windows, rec.sessions[0].windows);
}

#[test]
fn posthog_v1_export_and_snapshot_jsonl_import() {
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    let events: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let (a, b) = events.split_at(100);
    let v1 = serde_json::json!({"version": "2022-12-02", "data": {"person": {"distinct_ids": ["p1"], "properties": {}},
        "snapshotsByWindowId": {"w-a": a, "w-b": b}}});
    let (kind, rec) = import(
        "export-01a21d60-34fc-7cf6-9b6f-02238bbbb71e.json",
        v1.to_string().as_bytes(),
        &opts(),
    )
    .unwrap();
    assert_eq!(kind, InputKind::PosthogExportV1);
    let s = &rec.sessions[0];
    assert_eq!(s.id, "01a21d60-34fc-7cf6-9b6f-02238bbbb71e");
    assert_eq!(s.distinct_id.as_deref(), Some("p1"));
    assert_eq!(s.windows.len(), 2);
    assert_eq!(s.event_count(), events.len());

    let jsonl: String = events.iter().map(|e| format!("[\"w1\",{e}]\n")).collect();
    let (kind, rec) = import("snap.jsonl", jsonl.as_bytes(), &opts()).unwrap();
    assert_eq!(kind, InputKind::SnapshotJsonl);
    assert_eq!(rec.sessions[0].event_count(), events.len());
    let old: String = format!(
        "{{\"window_id\":\"w1\",\"data\":{}}}\n{{\"window_id\":\"w2\",\"data\":[]}}\n",
        Value::Array(events.clone())
    );
    let (kind, rec) = import("snap.jsonl", old.as_bytes(), &opts()).unwrap();
    assert_eq!(kind, InputKind::SnapshotJsonl);
    assert_eq!(rec.sessions[0].event_count(), events.len());
}

#[test]
fn wire_ids_are_read_per_event_and_retries_dedupe() {
    let ev = |uuid: &str, sid: &str, wid: &str, ts: i64| {
        serde_json::json!({"uuid": uuid, "event": "$snapshot", "properties": {"$session_id": sid, "$window_id": wid,
            "distinct_id": "d", "$snapshot_data": [{"type": 3, "data": {"source": 1, "positions": []}, "timestamp": ts}]}})
    };
    let body = serde_json::json!([
        ev("u1", "s1", "w1", 1),
        ev("u2", "s2", "w9", 2),
        ev("u1", "s1", "w1", 1),
        ev("u3", "s1", "w2", 3)
    ]);
    let (_, rec) = import("body", body.to_string().as_bytes(), &opts()).unwrap();
    assert_eq!(rec.sessions.len(), 2);
    let s1 = rec.session("s1").unwrap();
    assert_eq!(s1.windows.len(), 2);
    assert_eq!(s1.event_count(), 2, "the retried uuid u1 is stored once");
    assert_eq!(rec.session("s2").unwrap().windows[0].id, "w9");
}

#[test]
fn out_of_order_events_are_sorted_with_a_warning() {
    let body = r#"[{"type":4,"data":{"href":"x"},"timestamp":5},{"type":3,"data":{"source":1},"timestamp":2}]"#;
    let (_, rec) = import("a.json", body.as_bytes(), &opts()).unwrap();
    assert_eq!(rec.sessions[0].windows[0].events[0].timestamp, 2);
    assert!(
        rec.warnings.iter().any(|w| w.contains("out of time order")),
        "{:?}",
        rec.warnings
    );
}

#[test]
fn invalid_json_names_the_line() {
    let err = import(
        "bad.jsonl",
        b"[\"w\",{\"type\":4,\"timestamp\":1}]\n[\"w\",{\"type\":4,]\n",
        &opts(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("bad.jsonl") && err.to_string().contains("line 2"),
        "{err}"
    );
}

/// `Spool::write_into` deflates windows on several threads at once; the package must hold the same
/// entries, in the same order, with the same contents as the one-session-at-a-time in-memory writer,
/// including a window whose events arrived out of order across inputs.
#[test]
fn parallel_spool_writes_the_same_package_as_sequential() {
    use reel_format::package::Spool;
    let mut recs = Vec::new();
    for name in ["checkout", "swagger", "shoelace"] {
        let bytes = std::fs::read(fixtures().join(format!("rrweb/{name}.json"))).unwrap();
        recs.push(import(&format!("{name}.json"), &bytes, &opts()).unwrap().1);
    }
    // The second half of the checkout recording first, then the first half, under one id:
    // a window that has to be re-ordered.
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    let all: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let (a, b) = all.split_at(all.len() / 2);
    for half in [b, a] {
        let (_, mut rec) = import("x.json", &serde_json::to_vec(half).unwrap(), &opts()).unwrap();
        rec.sessions[0].id = "merged".into();
        recs.push(rec);
    }
    let write = |parallel: bool| {
        let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
        let reordered = if parallel {
            let mut spool = Spool::new().unwrap();
            for r in recs.clone() {
                spool.add(r).unwrap();
            }
            spool.write_into(&mut w, &mut |_| {}).unwrap()
        } else {
            // The reference: merge in memory, sort, write session by session on this thread.
            let mut sessions: Vec<reel_format::recording::Session> = Vec::new();
            for r in recs.clone() {
                for s in r.sessions {
                    match sessions.iter_mut().find(|x| x.id == s.id) {
                        Some(x) => {
                            for win in s.windows {
                                x.window_mut(&win.id).events.extend(win.events);
                            }
                        }
                        None => sessions.push(s),
                    }
                }
            }
            let mut reordered = 0;
            for s in &mut sessions {
                for win in &mut s.windows {
                    if !win.events.is_sorted_by_key(|e| e.timestamp) {
                        reordered += 1;
                        win.events.sort_by_key(|e| e.timestamp);
                    }
                }
                w.add_session(s).unwrap();
            }
            reordered
        };
        let (_, manifest) = w.finish(None).unwrap();
        (reordered, manifest)
    };
    let (r1, seq) = write(false);
    let (r2, par) = write(true);
    assert_eq!((r1, r2), (1, 1));
    assert_eq!(seq.sessions.len(), 4);
    let files = |m: &reel_format::package::Manifest| {
        m.files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone(), f.bytes))
            .collect::<Vec<_>>()
    };
    assert_eq!(files(&seq), files(&par));
    let ids = |m: &reel_format::package::Manifest| {
        m.sessions
            .iter()
            .map(|s| (s.id.clone(), s.event_count))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&seq), ids(&par));
    assert_eq!(
        ids(&par).last().unwrap(),
        &("merged".to_string(), all_len())
    );
}

fn all_len() -> u64 {
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    serde_json::from_slice::<Vec<Value>>(&bytes).unwrap().len() as u64
}

/// A newer minor version may add fields to `meta.json`; packing that package again (the spool path
/// `reel pack` takes) keeps them.
#[test]
fn unknown_meta_fields_survive_a_repack() {
    use reel_format::package::Spool;
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    let (_, mut rec) = import("checkout.json", &bytes, &opts()).unwrap();
    let future = serde_json::json!({"score": 7, "tags": ["a"]});
    rec.sessions[0]
        .extra
        .insert("future_field".into(), future.clone());
    let first = pack(&rec);
    let back =
        reel_format::package::read_recording(Cursor::new(&first), &Default::default()).unwrap();
    assert_eq!(back.sessions[0].extra.get("future_field"), Some(&future));
    let mut spool = Spool::new().unwrap();
    spool.add(back).unwrap();
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    spool.write_into(&mut w, &mut |_| {}).unwrap();
    let second = w.finish(None).unwrap().0.into_inner();
    let mut r = PackageReader::open(Cursor::new(&second), Default::default()).unwrap();
    let id = r.manifest.sessions[0].id.clone();
    let meta = r.session_meta(&id).unwrap();
    assert_eq!(meta.extra.get("future_field"), Some(&future));
}

/// Windows expected to pass 4 GB take the large-entry path (zip64 allowed, deflated on a helper
/// thread into a temporary file, then raw-copied, where the zip crate writes zip64 fields if the
/// real sizes need them): the package must read back and verify like any other. The size hint makes
/// a small window take that path; a real 4 GB entry is too slow for CI.
#[test]
fn zip64_window_entries_read_back_and_verify() {
    use reel_format::package::prepare_window;
    let bytes = std::fs::read(fixtures().join("rrweb/checkout.json")).unwrap();
    let (_, rec) = import("checkout.json", &bytes, &opts()).unwrap();
    let s = &rec.sessions[0];
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    let mut metas = Vec::new();
    let mut stats = reel_format::stats::StatsBuilder::default();
    for win in &s.windows {
        let events = win.events.iter().map(|e| Ok(std::borrow::Cow::Borrowed(e)));
        let p = prepare_window(&s.id, &win.id, events, 0xF000_0000, 5, true).unwrap();
        let (m, st) = w.add_prepared(p).unwrap();
        metas.push(m);
        stats.merge(st);
    }
    w.finish_session(reel_format::package::SessionInfo::of(s), metas, stats)
        .unwrap();
    let pkg = w.finish(None).unwrap().0.into_inner();
    let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
    let report = r.verify(None, &mut |_| {}).unwrap();
    assert_eq!(report.events as usize, s.event_count());
    assert_eq!(rrweb_out(&pkg).len(), s.event_count());
}
