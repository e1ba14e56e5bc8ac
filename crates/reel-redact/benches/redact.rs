//! Redaction throughput on the committed fixtures, repeated (MB/s of event JSON per core).
//!
//! cargo bench -p reel-redact --bench redact
use reel_format::import::{import, ImportOptions};
use reel_format::Event;
use reel_redact::Redactor;

fn main() {
    divan::main();
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/checkout.json");

fn events() -> Vec<Event> {
    let bytes = std::fs::read(FIXTURE).expect("fixture");
    let (_, rec) = import("checkout.json", &bytes, &ImportOptions::default()).expect("import");
    rec.sessions[0].windows[0].events.clone()
}

fn bytes(ev: &[Event]) -> u64 {
    ev.iter().map(|e| e.json().len() as u64).sum()
}

fn run(r: &Redactor, ev: &[Event]) -> usize {
    let mut w = r.window();
    ev.iter()
        .cloned()
        .filter_map(|e| w.event(e).expect("redact"))
        .count()
}

const PATTERNS: &str = include_str!("../../../bench/redact/patterns.toml");
const SELECTORS: &str = include_str!("../../../bench/redact/selectors.toml");

#[divan::bench]
fn patterns_only(b: divan::Bencher) {
    let ev = events();
    let r = Redactor::from_toml(PATTERNS).expect("rules");
    b.counter(divan::counter::BytesCount::new(bytes(&ev)))
        .bench(|| run(&r, &ev));
}

#[divan::bench]
fn selectors_and_patterns(b: divan::Bencher) {
    let ev = events();
    let r = Redactor::from_toml(SELECTORS).expect("rules");
    b.counter(divan::counter::BytesCount::new(bytes(&ev)))
        .bench(|| run(&r, &ev));
}

#[divan::bench]
fn preset_strict(b: divan::Bencher) {
    let ev = events();
    let r = Redactor::preset("strict").expect("rules");
    b.counter(divan::counter::BytesCount::new(bytes(&ev)))
        .bench(|| run(&r, &ev));
}
