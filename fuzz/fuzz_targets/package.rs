//! Package reader: any bytes → open, verify, read every session, unpack into a temporary folder.
//! Must never panic, hang or write outside the folder, never inflate more than the package's
//! expansion budget, and never hand out an id that is not safe in a path.
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
            if let Ok(s) = r.read_session(&id) {
                // Ids that reach a caller are safe to use in paths and keys.
                assert!(reel_format::package::valid_id(&s.id), "{:?}", s.id);
                for w in &s.windows {
                    assert!(reel_format::package::valid_id(&w.id), "{:?}", w.id);
                }
            }
        }
        // Whatever was read, the reader never inflated more than the package's budget allows
        // (plus one read buffer: the check runs after each read).
        let (expanded, budget) = r.expanded();
        assert!(
            budget <= reel_format::package::expansion_budget(data.len() as u64, &limits),
            "budget {budget} for {} bytes",
            data.len()
        );
        assert!(expanded <= budget + (1 << 20), "{expanded} > {budget}");
    }
    if let Ok(rec) = reel_format::package::read_recording(Cursor::new(data), &limits) {
        let bytes: usize = rec
            .sessions
            .iter()
            .flat_map(|s| &s.windows)
            .flat_map(|w| &w.events)
            .map(|e| e.json().len())
            .sum();
        assert!(
            bytes as u64 <= reel_format::package::expansion_budget(data.len() as u64, &limits),
            "{bytes} bytes of events from a {}-byte package",
            data.len()
        );
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
