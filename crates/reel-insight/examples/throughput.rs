//! Moments and summary on a big input: import first (not timed), then analyse every session once
//! (timeline with targets through the virtual DOM, detectors, summary) and print MB/s of event
//! JSON on one core.
//!
//! cargo run --release -p reel-insight --example throughput -- INPUT...
use reel_format::import::{import, ImportOptions};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc; // as in the `reel` binary

fn main() {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.is_empty() {
        eprintln!("usage: throughput INPUT...");
        std::process::exit(2)
    }
    let mut sessions = Vec::new();
    for input in &inputs {
        let bytes = std::fs::read(input).expect("input");
        let (_, mut rec) = import(input, &bytes, &ImportOptions::default()).expect("import");
        rec.sort();
        sessions.extend(rec.sessions);
    }
    let total: u64 = sessions
        .iter()
        .flat_map(|s| &s.windows)
        .flat_map(|w| &w.events)
        .map(|e| e.json().len() as u64)
        .sum();
    let config = reel_insight::Config::default();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let mut moments = 0;
    // REPEAT=N analyses N times (for profiling: the import then weighs little).
    let repeat: u64 = std::env::var("REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
        .max(1);
    for _ in 0..repeat {
        moments = 0;
        for s in &sessions {
            let i = reel_insight::analyze_session(s, &config);
            moments += i.moments.len();
            std::hint::black_box(&i);
        }
    }
    let total = total * repeat;
    let s = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "moments+summary: {:.1} MB in {} sessions, wall {s:.2} s ({:.1} MB/s), CPU {cpu:.2} s ({:.1} MB/s per core); {moments} moments",
        total as f64 / 1e6,
        sessions.len(),
        total as f64 / 1e6 / s,
        total as f64 / 1e6 / cpu.max(1e-9)
    );
}

/// CPU time of this process (user + system), from /proc (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let tick = 100.0; // USER_HZ on Linux
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (n(11) + n(12)) / tick
}
