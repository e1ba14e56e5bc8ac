//! PostHog `cv: "2024-10"` decoding: a packed field (latin1 string → gunzip → JSON) and whole
//! packed events built around the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reel_format::{cv, Event, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entry_bytes: 8 << 20,
        ..Limits::default()
    };
    // The field as posthog-js sends it: one char per byte.
    let field: String = data.iter().map(|&b| b as char).collect();
    let _ = cv::decode_field(&field, &limits);
    let s = serde_json_string(&field);
    for ev in [
        format!(r#"{{"type":2,"data":{s},"timestamp":1,"cv":"2024-10"}}"#),
        format!(
            r#"{{"type":3,"data":{{"source":0,"adds":{s},"texts":{s}}},"timestamp":1,"cv":"2024-10"}}"#
        ),
        format!(r#"{{"type":3,"data":{{"source":8,"adds":{s}}},"timestamp":1,"cv":"2024-10"}}"#),
    ] {
        if let Ok(e) = Event::parse(ev) {
            let _ = cv::unpack(e, &limits);
        }
    }
    // And the input as a whole event.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(e) = Event::parse(text) {
            let _ = cv::unpack(e, &limits);
        }
    }
});

fn serde_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
