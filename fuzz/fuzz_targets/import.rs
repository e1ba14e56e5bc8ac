//! Every importer behind detection: rrweb arrays, PostHog exports (V1, V2), wire bodies in every
//! encoding (gzip, base64 form, lz64, plain), snapshot JSONL, Reel batches and packages.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reel_format::import::{import, ImportOptions};
use reel_format::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entry_bytes: 8 << 20,
        max_total_bytes: 32 << 20,
        ratio_floor_bytes: 1 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    for lenient in [false, true] {
        let opts = ImportOptions { limits, lenient };
        if let Ok((_, rec)) = import("fuzz-input", data, &opts) {
            for s in &rec.sessions {
                let mut out = Vec::new();
                let _ = reel_format::export::rrweb_array(s, None, &mut out);
                out.clear();
                let _ = reel_format::export::posthog_v2(s, &mut out);
            }
        }
    }
});
