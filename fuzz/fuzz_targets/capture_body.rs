//! The server's capture decoders under their caps: a body decoded with a small inflation cap and
//! a memory reservation that refuses to grow past it, then walked as a `/s/` body with a token
//! check and a `cv` budget, and as an array item by item. Nothing may panic, the decoded body
//! must stay under the cap, the reservation must never be asked for more than the cap allows,
//! warnings stay capped.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reel_format::import::{
    decode_body_capped, for_each_item, wire_items_checked, BodyCap, CvBudget, ImportOptions,
    WireControl, MAX_WARNINGS,
};
use reel_format::Limits;

const CAP: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut asked = 0u64;
    let mut grow = |n: u64| {
        asked = asked.max(n);
        n <= 4 * CAP
    };
    let decoded = decode_body_capped(
        data,
        &mut BodyCap {
            cap: CAP,
            hint: "--fuzz",
            grow: &mut grow,
        },
    );
    let Ok((plain, _)) = decoded else { return };
    assert!(plain.len() as u64 <= CAP);
    assert!(asked <= 4 * CAP);
    let opts = ImportOptions {
        limits: Limits {
            max_entry_bytes: CAP,
            ..Limits::default()
        },
        lenient: true,
    };
    let mut warnings = Vec::new();
    let mut tokens = 0usize;
    let mut token_ok = |t: Option<&str>| {
        tokens += 1;
        t != Some("refuse")
    };
    let mut ctl = WireControl {
        token_ok: &mut token_ok,
        cv: CvBudget {
            left: CAP,
            total: CAP,
            hint: "--fuzz-cv",
        },
    };
    let _ = wire_items_checked(&plain, &opts, &mut warnings, &mut ctl);
    assert!(warnings.len() <= MAX_WARNINGS + 1);
    assert!(ctl.cv.left <= CAP);
    let mut n = 0usize;
    let _ = for_each_item(&plain, "fuzz", |_, _| {
        n += 1;
        Ok(())
    });
});
