//! Any rules text: parsing and compiling never panic; errors are one line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = reel_redact::Redactor::from_toml(text) {
            assert!(!e.to_string().contains('\n'));
        }
    }
});
