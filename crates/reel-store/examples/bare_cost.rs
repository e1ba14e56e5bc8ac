//! The bare cost of ingesting a batch, in a tight loop with no server: gunzip + JSON parse (raw
//! events) + zstd + write + fsync. `bench/ingest.mjs` compares `reel serve` against this.
//! Usage: cargo run --release -p reel-store --example bare_cost -- BATCH.json.gz SECONDS DIR
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gz = std::fs::read(&args[1]).expect("batch file");
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let dir = std::path::PathBuf::from(
        args.get(3)
            .cloned()
            .unwrap_or_else(|| "/tmp/reel-bare".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let start = std::time::Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    while start.elapsed().as_secs_f64() < secs {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        #[derive(serde::Deserialize)]
        struct B<'a> {
            #[serde(borrow)]
            events: Vec<&'a serde_json::value::RawValue>,
        }
        let b: B = serde_json::from_slice(&plain).unwrap();
        let mut jsonl = Vec::with_capacity(plain.len());
        for e in &b.events {
            jsonl.extend_from_slice(e.get().as_bytes());
            jsonl.push(b'\n');
        }
        let z = zstd::bulk::compress(&jsonl, 3).unwrap();
        let path = dir.join(format!("{}.zst", n % 64));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&z).unwrap();
        f.sync_all().unwrap();
        n += 1;
        bytes += plain.len() as u64;
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "{{\"batches_per_s\": {:.1}, \"mb_per_s\": {:.2}, \"batches\": {n}}}",
        n as f64 / t,
        bytes as f64 / t / 1e6
    );
}
