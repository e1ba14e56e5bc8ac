//! Import, pack and verify of fixture-sized recordings (the real rrweb and posthog-js fixtures).
//!
//! Run: `cargo bench -p reel-format --bench package` (add `-- --sample-count 20` to shorten).
//! Throughput is in bytes of input (import) or of event JSON (pack, verify).
use divan::counter::BytesCount;
use divan::Bencher;
use reel_format::import::{import, ImportOptions};
use reel_format::package::{PackageReader, PackageWriter, Spool, WriterOptions};
use reel_format::Recording;
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn main() {
    divan::main();
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// swagger.json: 612 KB, 425 events, one big FullSnapshot.
fn swagger() -> Vec<u8> {
    std::fs::read(fixtures().join("rrweb/swagger.json")).unwrap()
}

/// The 15 gzip `/s/` bodies posthog-js sent for the shoelace session (cv-packed events).
fn shoelace_bodies() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join("posthog-wire/shoelace");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-POST-s.bin"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn imported(bytes: &[u8]) -> Recording {
    import("swagger.json", bytes, &ImportOptions::default())
        .unwrap()
        .1
}

fn event_bytes(rec: &Recording) -> u64 {
    rec.sessions
        .iter()
        .flat_map(|s| &s.windows)
        .flat_map(|w| &w.events)
        .map(|e| e.json().len() as u64 + 1)
        .sum()
}

fn pack(rec: &Recording) -> Vec<u8> {
    let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
    for s in &rec.sessions {
        w.add_session(s).unwrap();
    }
    w.finish(None).unwrap().0.into_inner()
}

#[divan::bench]
fn import_rrweb_array(b: Bencher) {
    let bytes = swagger();
    b.counter(BytesCount::new(bytes.len()))
        .bench(|| imported(divan::black_box(&bytes)));
}

#[divan::bench]
fn import_posthog_gzip_bodies(b: Bencher) {
    let bodies = shoelace_bodies();
    let n: usize = bodies.iter().map(|(_, b)| b.len()).sum();
    b.counter(BytesCount::new(n)).bench(|| {
        let mut rec = Recording::default();
        for (name, body) in &bodies {
            rec.merge(import(name, body, &ImportOptions::default()).unwrap().1);
        }
        rec
    });
}

/// In-memory recording → package bytes (deflate level 6).
#[divan::bench]
fn pack_in_memory(b: Bencher) {
    let rec = imported(&swagger());
    b.counter(BytesCount::new(event_bytes(&rec)))
        .bench(|| pack(divan::black_box(&rec)));
}

/// The `reel pack` path: import → spool on disk → package.
#[divan::bench]
fn pack_via_spool(b: Bencher) {
    let bytes = swagger();
    let n = event_bytes(&imported(&bytes));
    b.counter(BytesCount::new(n)).bench(|| {
        let mut spool = Spool::new().unwrap();
        spool.add(imported(&bytes)).unwrap();
        let mut w = PackageWriter::new(Cursor::new(Vec::new()), WriterOptions::default());
        spool.write_into(&mut w, &mut |_| {}).unwrap();
        w.finish(None).unwrap().0.into_inner()
    });
}

#[divan::bench]
fn verify(b: Bencher) {
    let rec = imported(&swagger());
    let pkg = pack(&rec);
    b.counter(BytesCount::new(event_bytes(&rec))).bench(|| {
        let mut r = PackageReader::open(Cursor::new(&pkg), Default::default()).unwrap();
        r.verify(None, &mut |_| {}).unwrap()
    });
}
