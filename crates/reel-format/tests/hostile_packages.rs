//! Packages built to explode or to smuggle bad ids: every reader refuses them with a clear error.
//! The archives are built byte by byte here (no ZIP library would write them).
use reel_format::import::{import, ImportOptions};
use reel_format::package::{read_recording, unpack, PackageReader, PackageWriter};
use reel_format::{Event, Limits, Session};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read, Write};

/// One local entry: its name and its data as stored (deflated or not).
struct Local {
    name: String,
    data: Vec<u8>,
    crc: u32,
    size: u32,
    method: u16,
}

fn deflated(name: &str, plain: &[u8]) -> Local {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(plain).unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(plain);
    Local {
        name: name.into(),
        data: e.finish().unwrap(),
        crc: crc.sum(),
        size: plain.len() as u32,
        method: 8,
    }
}

/// A central directory entry: a name, the local entry it points at, and the uncompressed size
/// it declares (`None`: the true one).
struct Central {
    name: String,
    local: usize,
    declared: Option<u32>,
}

fn central(name: &str, local: usize) -> Central {
    Central {
        name: name.into(),
        local,
        declared: None,
    }
}

fn build_zip(locals: &[Local], centrals: &[Central]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    let u16le = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_le_bytes());
    let u32le = |o: &mut Vec<u8>, v: u32| o.extend_from_slice(&v.to_le_bytes());
    for l in locals {
        offsets.push(out.len() as u32);
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, 20);
        u16le(&mut out, 0);
        u16le(&mut out, l.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, l.crc);
        u32le(&mut out, l.data.len() as u32);
        u32le(&mut out, l.size);
        u16le(&mut out, l.name.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(l.name.as_bytes());
        out.extend_from_slice(&l.data);
    }
    let cd_start = out.len() as u32;
    for c in centrals {
        let l = &locals[c.local];
        u32le(&mut out, 0x0201_4b50);
        u16le(&mut out, 20);
        u16le(&mut out, 20);
        u16le(&mut out, 0);
        u16le(&mut out, l.method);
        u16le(&mut out, 0);
        u16le(&mut out, 0x21);
        u32le(&mut out, l.crc);
        u32le(&mut out, l.data.len() as u32);
        u32le(&mut out, c.declared.unwrap_or(l.size));
        u16le(&mut out, c.name.len() as u16);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u16le(&mut out, 0);
        u32le(&mut out, 0);
        u32le(&mut out, offsets[c.local]);
        out.extend_from_slice(c.name.as_bytes());
    }
    let cd_len = out.len() as u32 - cd_start;
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, centrals.len() as u16);
    u16le(&mut out, centrals.len() as u16);
    u32le(&mut out, cd_len);
    u32le(&mut out, cd_start);
    u16le(&mut out, 0);
    out
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The entries of a real package (name → plain bytes), in archive order.
fn entries_of(pkg: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(pkg)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

/// `lines` copies of one small event, one window of one session, packed by the real writer.
fn package(id: &str, windows: usize, lines: usize) -> Vec<u8> {
    let mut s = Session::new(id);
    for w in 0..windows {
        let win = s.window_mut(&format!("w{w}"));
        for _ in 0..lines {
            win.events.push(
                Event::parse(
                    r#"{"type":3,"data":{"source":1,"positions":[{"x":1,"y":2,"id":3,"timeOffset":0}]},"timestamp":1700000000000}"#,
                )
                .unwrap(),
            );
        }
    }
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), Default::default());
    w.add_session(&s).unwrap();
    w.finish(None).unwrap().0.into_inner()
}

/// Manifest, meta and SHA256SUMS recomputed for `entries` after `edit` changed manifest/meta.
fn reseal(entries: &mut [(String, Vec<u8>)]) {
    let get = |e: &[(String, Vec<u8>)], n: &str| -> Vec<u8> {
        e.iter().find(|(x, _)| x == n).unwrap().1.clone()
    };
    let mut m: Value = serde_json::from_slice(&get(entries, "manifest.json")).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        let p = f["path"].as_str().unwrap().to_string();
        if let Some((_, b)) = entries.iter().find(|(x, _)| *x == p) {
            f["sha256"] = json!(sha(b));
            f["bytes"] = json!(b.len());
        }
    }
    let mb = serde_json::to_vec_pretty(&m).unwrap();
    let mut sums = String::new();
    for f in m["files"].as_array().unwrap() {
        sums += &format!(
            "{}  {}\n",
            f["sha256"].as_str().unwrap(),
            f["path"].as_str().unwrap()
        );
    }
    sums += &format!("{}  manifest.json\n", sha(&mb));
    for (n, b) in entries.iter_mut() {
        if n == "manifest.json" {
            *b = mb.clone();
        } else if n == "SHA256SUMS" {
            *b = sums.clone().into_bytes();
        }
    }
}

fn plain_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let locals: Vec<Local> = entries.iter().map(|(n, b)| deflated(n, b)).collect();
    let centrals: Vec<Central> = entries
        .iter()
        .enumerate()
        .map(|(i, (n, _))| central(n, i))
        .collect();
    build_zip(&locals, &centrals)
}

/// Every package reader refuses `pkg` with an error containing every needle.
#[track_caller]
fn every_reader_refuses(pkg: &[u8], needles: &[&str]) {
    let limits = Limits::default();
    let mut errors = Vec::new();
    errors.push(
        PackageReader::open(Cursor::new(pkg), limits)
            .and_then(|mut r| r.verify(None, &mut |_| {}))
            .map(|_| ())
            .expect_err("verify accepted it")
            .to_string(),
    );
    errors.push(
        read_recording(Cursor::new(pkg), &limits)
            .map(|_| ())
            .expect_err("read_recording accepted it")
            .to_string(),
    );
    errors.push(
        import("x.reel.zip", pkg, &ImportOptions::default())
            .map(|_| ())
            .expect_err("import accepted it")
            .to_string(),
    );
    let dir = tempfile::tempdir().unwrap();
    errors.push(
        unpack(Cursor::new(pkg), &dir.path().join("out"), limits)
            .map(|_| ())
            .expect_err("unpack accepted it")
            .to_string(),
    );
    assert!(!dir.path().join("out").exists());
    for e in &errors {
        for n in needles {
            assert!(e.contains(n), "{e:?} lacks {n:?}");
        }
    }
}

#[test]
fn two_hundred_window_entries_sharing_one_compressed_file_are_refused() {
    let good = package("shared-data-session", 1, 20_000);
    let entries = entries_of(&good);
    let window = entries
        .iter()
        .find(|(n, _)| n.ends_with(".jsonl"))
        .unwrap()
        .clone();
    let mut m: Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    let meta_name = m["sessions"][0]["meta"].as_str().unwrap().to_string();
    let mut meta: Value =
        serde_json::from_slice(&entries.iter().find(|(n, _)| *n == meta_name).unwrap().1).unwrap();
    let names: Vec<String> = (0..200)
        .map(|i| format!("sessions/shared-data-session/windows/w{i}.jsonl"))
        .collect();
    m["sessions"][0]["windows"] = json!(names);
    let file = json!({"path": "", "bytes": window.1.len(), "sha256": sha(&window.1)});
    let mut files: Vec<Value> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["path"].as_str().unwrap().ends_with(".jsonl"))
        .cloned()
        .collect();
    let mut wins = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let mut f = file.clone();
        f["path"] = json!(n);
        files.push(f);
        let mut w = meta["windows"][0].clone();
        w["id"] = json!(format!("w{i}"));
        w["path"] = json!(n);
        wins.push(w);
    }
    m["files"] = json!(files);
    meta["windows"] = json!(wins);
    let meta_bytes = serde_json::to_vec(&meta).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == json!(meta_name) {
            f["sha256"] = json!(sha(&meta_bytes));
            f["bytes"] = json!(meta_bytes.len());
        }
    }
    let mb = serde_json::to_vec(&m).unwrap();
    let mut sums = String::new();
    for f in m["files"].as_array().unwrap() {
        sums += &format!(
            "{}  {}\n",
            f["sha256"].as_str().unwrap(),
            f["path"].as_str().unwrap()
        );
    }
    sums += &format!("{}  manifest.json\n", sha(&mb));
    let locals = vec![
        deflated("manifest.json", &mb),
        deflated(&meta_name, &meta_bytes),
        deflated("SHA256SUMS", sums.as_bytes()),
        deflated(&names[0], &window.1),
    ];
    let mut centrals = vec![
        central("manifest.json", 0),
        central(&meta_name, 1),
        central("SHA256SUMS", 2),
    ];
    for n in &names {
        centrals.push(central(n, 3));
    }
    let bomb = build_zip(&locals, &centrals);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    every_reader_refuses(&bomb, &["share or overlap their data"]);
    assert!(PackageReader::open(Cursor::new(&bomb), Limits::default()).is_err());
}

#[test]
fn windows_listing_one_file_twice_are_refused() {
    let good = package("listed-twice", 1, 100);
    let mut entries = entries_of(&good);
    let mi = entries
        .iter()
        .position(|(n, _)| n == "manifest.json")
        .unwrap();
    let mut m: Value = serde_json::from_slice(&entries[mi].1).unwrap();
    let meta_name = m["sessions"][0]["meta"].as_str().unwrap().to_string();
    let w0 = m["sessions"][0]["windows"][0].clone();
    m["sessions"][0]["windows"] = json!([w0, w0]);
    entries[mi].1 = serde_json::to_vec(&m).unwrap();
    reseal(&mut entries);
    every_reader_refuses(&plain_zip(&entries), &["listed twice"]);

    // meta.json naming one file for two windows.
    let mut entries = entries_of(&good);
    let ti = entries.iter().position(|(n, _)| *n == meta_name).unwrap();
    let mut meta: Value = serde_json::from_slice(&entries[ti].1).unwrap();
    let mut second = meta["windows"][0].clone();
    second["id"] = json!("other");
    meta["windows"].as_array_mut().unwrap().push(second);
    entries[ti].1 = serde_json::to_vec(&meta).unwrap();
    reseal(&mut entries);
    every_reader_refuses(&plain_zip(&entries), &["used by two windows"]);
}

#[test]
fn duplicate_entry_names_are_refused() {
    let good = package("duplicate-names", 1, 100);
    let entries = entries_of(&good);
    let mut locals: Vec<Local> = entries.iter().map(|(n, b)| deflated(n, b)).collect();
    let window = entries
        .iter()
        .position(|(n, _)| n.ends_with(".jsonl"))
        .unwrap();
    // A second entry of the same name, with other content.
    locals.push(deflated(
        &entries[window].0,
        b"{\"type\":4,\"data\":{},\"timestamp\":1}\n",
    ));
    let centrals: Vec<Central> = locals
        .iter()
        .enumerate()
        .map(|(i, l)| central(&l.name, i))
        .collect();
    let bad = build_zip(&locals, &centrals);
    every_reader_refuses(&bad, &["same name"]);
}

#[test]
fn many_small_entries_inflating_past_the_ratio_are_refused() {
    // 16 windows of ~1.1 MB each (under the 8 MB floor of the per-entry ratio check), each
    // compressing far better than 200:1: the package inflates past its budget.
    let mut entries = entries_of(&package("small-entries-bomb", 16, 1));
    let line = format!(
        "{{\"type\":5,\"data\":{{\"tag\":\"t\",\"payload\":\"{}\"}},\"timestamp\":1700000000000}}\n",
        "a".repeat(10_000)
    );
    for (n, b) in entries.iter_mut() {
        if n.ends_with(".jsonl") {
            *b = line.repeat(120).into_bytes();
        }
    }
    reseal(&mut entries);
    let pkg = plain_zip(&entries);
    let limits = Limits::default();
    let budget = reel_format::package::expansion_budget(pkg.len() as u64, &limits);
    let inflated: usize = entries_of(&pkg).iter().map(|(_, b)| b.len()).sum();
    assert!(
        inflated as u64 > budget,
        "the package must inflate past its budget: {inflated} from {} (budget {budget})",
        pkg.len()
    );
    every_reader_refuses(
        &pkg,
        &["compression ratio of 200:1", "--max-ratio", "zip bomb"],
    );
    // Raising the ratio reads it.
    let mut raised = limits;
    raised.max_ratio = 5000;
    assert_eq!(
        read_recording(Cursor::new(&pkg), &raised).unwrap().sessions[0].event_count(),
        16 * 120
    );
}

#[test]
fn sizes_the_headers_lie_about_are_counted_while_inflating() {
    // The central directory claims 1 KB for a window that inflates to ~20 MB.
    let good = package("lying-sizes", 1, 100);
    let mut entries = entries_of(&good);
    let wi = entries
        .iter()
        .position(|(n, _)| n.ends_with(".jsonl"))
        .unwrap();
    let line = entries[wi]
        .1
        .split(|b| *b == b'\n')
        .next()
        .unwrap()
        .to_vec();
    let mut body = Vec::new();
    while body.len() < 20 << 20 {
        body.extend_from_slice(&line);
        body.push(b'\n');
    }
    entries[wi].1 = body;
    reseal(&mut entries);
    let mut locals: Vec<Local> = entries.iter().map(|(n, b)| deflated(n, b)).collect();
    locals[wi].size = 1000;
    let mut centrals: Vec<Central> = entries
        .iter()
        .enumerate()
        .map(|(i, (n, _))| central(n, i))
        .collect();
    centrals[wi].declared = Some(1000);
    let bad = build_zip(&locals, &centrals);
    assert!(bad.len() < 100_000, "{}", bad.len());
    let mut r = PackageReader::open(Cursor::new(&bad), Limits::default()).unwrap();
    let err = r.verify(None, &mut |_| {}).unwrap_err().to_string();
    assert!(
        err.contains("zip bomb") || err.contains("larger than its declared uncompressed size"),
        "{err}"
    );
    let (expanded, budget) = r.expanded();
    assert!(expanded <= budget + (256 << 10), "{expanded} > {budget}");
    let err = read_recording(Cursor::new(&bad), &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("zip bomb") || err.contains("larger than its declared uncompressed size"),
        "{err}"
    );
}

const BAD_IDS: &[&str] = &[
    "..",
    "../../x",
    "a\0b",
    "a\r\nb",
    "<img src=x onerror=alert(1)>",
    "",
];

fn bad_ids() -> Vec<String> {
    let mut v: Vec<String> = BAD_IDS.iter().map(|s| s.to_string()).collect();
    v.push("x".repeat(100_000));
    v
}

#[test]
fn hostile_session_and_window_ids_in_packages_are_refused_naming_the_field() {
    let good = package("good-session-id", 1, 10);
    for bad in bad_ids() {
        // manifest.json (and meta.json) session id.
        let mut entries = entries_of(&good);
        let mi = entries
            .iter()
            .position(|(n, _)| n == "manifest.json")
            .unwrap();
        let mut m: Value = serde_json::from_slice(&entries[mi].1).unwrap();
        m["sessions"][0]["id"] = json!(bad);
        let meta_name = m["sessions"][0]["meta"].as_str().unwrap().to_string();
        entries[mi].1 = serde_json::to_vec(&m).unwrap();
        let ti = entries.iter().position(|(n, _)| *n == meta_name).unwrap();
        let mut meta: Value = serde_json::from_slice(&entries[ti].1).unwrap();
        meta["id"] = json!(bad);
        entries[ti].1 = serde_json::to_vec(&meta).unwrap();
        reseal(&mut entries);
        let pkg = plain_zip(&entries);
        every_reader_refuses(&pkg, &["sessions[0].id", "not a valid id"]);
        let err = import("x.reel.zip", &pkg, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.len() < 400, "the id is shortened: {}", err.len());
        assert!(!err.contains('\0') && !err.contains('\r'), "{err:?}");

        // meta.json window id.
        let mut entries = entries_of(&good);
        let ti = entries.iter().position(|(n, _)| *n == meta_name).unwrap();
        let mut meta: Value = serde_json::from_slice(&entries[ti].1).unwrap();
        meta["windows"][0]["id"] = json!(bad);
        entries[ti].1 = serde_json::to_vec(&meta).unwrap();
        reseal(&mut entries);
        let pkg = plain_zip(&entries);
        every_reader_refuses(&pkg, &["windows[0].id", "not a valid id"]);
    }
}

#[test]
fn hostile_ids_in_posthog_exports_batches_and_jsonl_are_refused_naming_the_field() {
    let ev =
        json!({"type": 4, "data": {"href": "https://x.test/"}, "timestamp": 1_700_000_000_000i64});
    for bad in bad_ids() {
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"version": "2023-04-28", "data": {"id": bad, "snapshots": [ev]}}),
                "data.id",
            ),
            (
                json!({"version": "2023-04-28", "data": {"id": "ok-session", "snapshots": [
                    {"windowId": bad, "type": 4, "data": {}, "timestamp": 1}]}}),
                "data.snapshots[0].windowId",
            ),
            (
                {
                    let mut by = serde_json::Map::new();
                    by.insert(bad.clone(), json!([ev]));
                    json!({"version": "2022-12-02", "data": {"id": "ok-session", "snapshotsByWindowId": by}})
                },
                "snapshotsByWindowId key",
            ),
            (
                json!({"batch_id": "b1", "session_id": bad, "events": [ev]}),
                "\"session_id\"",
            ),
            (
                json!({"batch_id": "b1", "session_id": "ok", "window_id": bad, "events": [ev]}),
                "\"window_id\"",
            ),
        ];
        for (input, field) in cases {
            let bytes = serde_json::to_vec(&input).unwrap();
            let err = import("in.json", &bytes, &ImportOptions::default())
                .map(|_| ())
                .expect_err(field)
                .to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        let jsonl = format!("{}\n{}\n", json!([bad, ev]), json!(["w", ev]));
        let err = import("in.jsonl", jsonl.as_bytes(), &ImportOptions::default())
            .map(|_| ())
            .expect_err("jsonl")
            .to_string();
        assert!(err.contains("line 1: window id"), "{err}");
    }
}

#[test]
fn cv_fields_inflating_past_the_budget_are_refused() {
    // One event whose cv-packed FullSnapshot data gunzips to 30 MB, in a ~60 KB package.
    let mut entries = entries_of(&package("cv-bomb", 1, 1));
    let data = json!({"node": {"type": 3, "textContent": "a".repeat(30 << 20), "id": 1},
        "initialOffset": {"top": 0, "left": 0}});
    let ev = json!({"type": 2, "data": reel_format::cv::pack_field(&data),
        "timestamp": 1_700_000_000_000i64, "cv": "2024-10"});
    for (n, b) in entries.iter_mut() {
        if n.ends_with(".jsonl") {
            *b = format!("{ev}\n").into_bytes();
        }
    }
    reseal(&mut entries);
    let pkg = plain_zip(&entries);
    assert!(pkg.len() < 200_000, "{}", pkg.len());
    for err in [
        read_recording(Cursor::new(&pkg), &Limits::default())
            .map(|_| ())
            .unwrap_err()
            .to_string(),
        import("x.reel.zip", &pkg, &ImportOptions::default())
            .map(|_| ())
            .unwrap_err()
            .to_string(),
    ] {
        assert!(
            err.contains("zip bomb") && err.contains("--max-ratio"),
            "{err}"
        );
    }
    let raised = Limits {
        max_ratio: 100_000,
        ..Limits::default()
    };
    assert_eq!(
        read_recording(Cursor::new(&pkg), &raised).unwrap().sessions[0].event_count(),
        1
    );
}
