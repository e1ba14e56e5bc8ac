//! Arbitrary event JSON (one event per line) through a DOM-aware redactor: never panics, and every
//! event that comes out is still a valid event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static R: OnceLock<reel_redact::Redactor> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let r = R.get_or_init(|| {
        reel_redact::Redactor::from_toml(
            "extends = \"strict\"\nblock = [\".b\", \"div > p + span\"]\n[[remove_attributes]]\nselector = \"a\"\nattributes = [\"href\"]\n[metadata]\nhash_key = \"k\"\n",
        )
        .expect("rules")
    });
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut w = r.window();
    for line in text.lines() {
        let Ok(e) = reel_format::Event::parse(line) else {
            continue;
        };
        if let Ok(Some(out)) = w.event(e) {
            reel_format::Event::parse(out.json()).expect("output is an event");
        }
    }
});
