//! Body decoder: gzip (magic bytes), `data=<base64>` forms, lz64, plain JSON; then detection.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reel_format::import::{decode_body, detect, lz64_decode};
use reel_format::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entry_bytes: 8 << 20,
        ..Limits::default()
    };
    if let Ok((plain, _)) = decode_body(data, &limits) {
        assert!(plain.len() as u64 <= limits.max_entry_bytes.max(data.len() as u64));
        let _ = detect(&plain);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lz64_decode(s, 8 << 20);
    }
});
