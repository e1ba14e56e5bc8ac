//! Open-loop load generator for `POST /api/v1/ingest`: many sessions, each on its own keep-alive
//! connection (like one browser each), sending gzip batches of real events at a fixed total rate.
//! Latency is measured from the moment a batch was *due*, not from when it could be sent, so a
//! slow server cannot hide its queue (no coordinated omission). Written in Rust with raw HTTP/1.1
//! so that the client costs little CPU next to the server on the same machine.
//!
//! Usage: load URL TOKEN FIXTURE.json SESSIONS RATE SECONDS
//! Prints one JSON object: batches/s, MB/s of decoded JSON, p50/p90/p99/max latency in ms, errors.
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 7 {
        eprintln!("usage: load URL TOKEN FIXTURE.json SESSIONS RATE SECONDS");
        std::process::exit(2);
    }
    let url = a[1].trim_start_matches("http://").to_string();
    let (host, _) = url.split_once('/').unwrap_or((&url, ""));
    let host = host.to_string();
    let token = a[2].clone();
    let events: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(&std::fs::read(&a[3]).expect("fixture")).expect("rrweb array");
    let sessions: usize = a[4].parse().unwrap();
    let rate: f64 = a[5].parse().unwrap();
    let seconds: f64 = a[6].parse().unwrap();
    // A typical batch: ~2 s of a session, here 20 consecutive events of the recording.
    let slices: Vec<String> = events
        .chunks(20)
        .filter(|c| c.len() == 20)
        .map(|c| {
            let parts: Vec<&str> = c.iter().map(|e| e.get()).collect();
            format!("[{}]", parts.join(","))
        })
        .collect();
    let per_session = ((seconds * rate) / sessions as f64).ceil() as usize;
    // Bodies are built before the clock starts: the run measures the server, not gzip.
    let mut plan: Vec<Vec<(Vec<u8>, usize)>> = Vec::with_capacity(sessions);
    for s in 0..sessions {
        let mut v = Vec::with_capacity(per_session);
        for b in 0..per_session {
            let json = format!(
                r#"{{"batch_id":"s{s}-b{b}","session_id":"load-{s}","window_id":"w","events":{}}}"#,
                slices[b % slices.len()]
            );
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            gz.write_all(json.as_bytes()).unwrap();
            let body = gz.finish().unwrap();
            let mut req = format!(
                "POST /api/v1/ingest?token={token} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            req.extend_from_slice(&body);
            v.push((req, json.len()));
        }
        plan.push(v);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let out = rt.block_on(async move {
        let start = Instant::now() + Duration::from_millis(200);
        let interval = sessions as f64 / rate; // seconds between two batches of one session
        let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (s, reqs) in plan.into_iter().enumerate() {
            let host = host.clone();
            let errors = errors.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(reqs.len());
                let mut bytes = 0usize;
                let mut conn: Option<TcpStream> = None;
                let mut buf = vec![0u8; 16 * 1024];
                for (b, (req, n)) in reqs.iter().enumerate() {
                    let due =
                        start + Duration::from_secs_f64(b as f64 * interval + s as f64 / rate);
                    if due.duration_since(start).as_secs_f64() >= seconds {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let ok = match send(&mut conn, &host, req, &mut buf).await {
                        Ok(status) => status == 200,
                        Err(_) => {
                            conn = None;
                            false
                        }
                    };
                    if !ok {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    lat.push(due.elapsed().as_secs_f64() * 1000.0);
                    bytes += n;
                }
                (lat, bytes)
            }));
        }
        let mut lat = Vec::new();
        let mut bytes = 0;
        for t in tasks {
            let (l, b) = t.await.unwrap();
            lat.extend(l);
            bytes += b;
        }
        let wall = start.elapsed().as_secs_f64();
        (
            lat,
            bytes,
            wall,
            errors.load(std::sync::atomic::Ordering::Relaxed),
        )
    });
    let (mut lat, bytes, wall, errors) = out;
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| lat[((q * lat.len() as f64) as usize).min(lat.len() - 1)];
    println!(
        "{{\"batches\": {}, \"batches_per_s\": {:.1}, \"mb_per_s\": {:.2}, \"p50_ms\": {:.1}, \"p90_ms\": {:.1}, \"p99_ms\": {:.1}, \"max_ms\": {:.1}, \"errors\": {errors}}}",
        lat.len(),
        lat.len() as f64 / wall,
        bytes as f64 / wall / 1e6,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lat[lat.len() - 1],
    );
}

/// One request on a keep-alive connection (opened on first use); returns the status code.
async fn send(
    conn: &mut Option<TcpStream>,
    host: &str,
    req: &[u8],
    buf: &mut [u8],
) -> std::io::Result<u16> {
    if conn.is_none() {
        let s = TcpStream::connect(host).await?;
        s.set_nodelay(true)?;
        *conn = Some(s);
    }
    let c = conn.as_mut().unwrap();
    c.write_all(req).await?;
    // Read the head, then as many body bytes as Content-Length says.
    let mut have = 0;
    loop {
        let n = c.read(&mut buf[have..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
        if let Some(end) = find(&buf[..have], b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let mut body = have - end - 4;
            while body < len {
                let n = c.read(buf).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                body += n;
            }
            return Ok(status);
        }
        if have == buf.len() {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}
