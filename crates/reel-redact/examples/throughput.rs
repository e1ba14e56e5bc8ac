//! The redaction engine alone on a big input: import first (not timed), then redact every window
//! once and print MB/s of event JSON on one core.
//!
//! cargo run --release -p reel-redact --example throughput -- INPUT (RULES.toml | --preset NAME)
use reel_format::import::{import, ImportOptions};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, rules) = match args.as_slice() {
        [i, r] => (i, r.clone()),
        [i, p, name] if p == "--preset" => (i, format!("preset:{name}")),
        _ => {
            eprintln!("usage: throughput INPUT (RULES.toml | --preset NAME)");
            std::process::exit(2)
        }
    };
    let r = match rules.strip_prefix("preset:") {
        Some(n) => reel_redact::Redactor::preset(n),
        None => reel_redact::Redactor::from_toml(&std::fs::read_to_string(&rules).expect("rules")),
    }
    .unwrap_or_else(|e| panic!("{rules}: {e}"));
    let bytes = std::fs::read(input).expect("input");
    let (_, rec) = import(input, &bytes, &ImportOptions::default()).expect("import");
    drop(bytes);
    let windows: Vec<_> = rec.sessions.into_iter().flat_map(|s| s.windows).collect();
    let total: u64 = windows
        .iter()
        .flat_map(|w| &w.events)
        .map(|e| e.json().len() as u64)
        .sum();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let (mut changed, mut untouched, mut redactions) = (0, 0, 0);
    for w in windows {
        let mut wr = r.window();
        for e in w.events {
            let _ = wr.event(e).expect("redact");
        }
        changed += wr.totals.events_changed;
        untouched += wr.totals.events_untouched;
        redactions += wr.counts.total();
    }
    let s = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{rules}: {:.1} MB, wall {s:.2} s ({:.1} MB/s), CPU {cpu:.2} s ({:.1} MB/s per core); {changed} events changed, {untouched} untouched, {redactions} redactions",
        total as f64 / 1e6,
        total as f64 / 1e6 / s,
        total as f64 / 1e6 / cpu.max(1e-9)
    );
}

/// CPU time of this process (user + system), from /proc (Linux); wall time elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
    };
    // Fields after the command name (which may hold spaces): utime is the 14th field, stime 15th.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
