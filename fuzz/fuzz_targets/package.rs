//! Package reader: any bytes → open, verify, read every session, unpack into a temporary folder.
//! Must never panic, hang or write outside the folder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reel_format::package::{unpack, PackageReader};
use reel_format::Limits;
use std::io::Cursor;

fn limits() -> Limits {
    // Small caps keep libFuzzer's memory limit away; the code paths are the same.
    Limits {
        max_entry_bytes: 8 << 20,
        max_total_bytes: 32 << 20,
        ratio_floor_bytes: 1 << 20,
        max_entries: 10_000,
        ..Limits::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = limits();
    if let Ok(mut r) = PackageReader::open(Cursor::new(data), limits) {
        let _ = r.verify(None, &mut |_| {});
        let ids: Vec<String> = r.manifest.sessions.iter().map(|s| s.id.clone()).collect();
        for id in ids {
            let _ = r.read_session(&id);
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("out");
    let _ = unpack(Cursor::new(data), &target, limits);
    // Nothing may appear next to the target folder.
    for e in std::fs::read_dir(dir.path()).expect("read temp dir") {
        let name = e.expect("entry").file_name();
        assert_eq!(name, "out", "unpack left {name:?} behind");
    }
});
