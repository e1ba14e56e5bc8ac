//! The import driver every source shares: list, skip what the state (or the output folder) says
//! is done, fetch recordings on `concurrency` threads into a spool each, write one package per
//! recording (temporary name, renamed when complete) or push it to a Reel server, record it done.
use crate::http::{Client, Fail, Policy};
use crate::state::State;
use anyhow::Context;
use reel_format::package::{PackageWriter, Spool, WriterOptions};
use reel_format::{Recording, Session};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most recordings one listing may name: a bound on memory against a remote that pages forever
/// with new ids (a real project that large is imported in date ranges: `--since`/`--until`).
pub const MAX_LISTED: usize = 1_000_000;

/// One recording found by listing.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    /// The listing's own fields, kept in the session's metadata.
    pub listing: serde_json::Value,
}

/// A remote that holds recordings.
pub trait Source: Sync {
    /// Names the source in the state file and messages (no credential).
    fn describe(&self) -> String;
    /// Every recording to import; `page` is told how many were found so far.
    fn list(&self, page: &mut dyn FnMut(usize)) -> anyhow::Result<Vec<Item>>;
    /// The session's facts (distinct id, person, source, listing fields), without events.
    fn session(&self, item: &Item) -> Session;
    /// Fetch the recording's events, handing each piece (sessions named `item.id`) to `add`.
    fn fetch(
        &self,
        item: &Item,
        add: &mut dyn FnMut(Recording) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;
    /// The client talking to the source (for counters).
    fn client(&self) -> &Client;
}

/// Where packages go.
pub enum Output {
    /// `<dir>/<session id>.reel.zip`.
    Dir(PathBuf),
    /// `POST {url}/api/v1/import` with the admin token (the server stores a recording once).
    Server { url: String, client: Box<Client> },
}

impl Output {
    pub fn server(url: &str, token: String) -> Output {
        Output::Server {
            url: url.trim_end_matches('/').to_string(),
            client: Box::new(Client::new(Some(token), Policy::default())),
        }
    }
}

pub struct Options {
    pub output: Output,
    pub state: Option<PathBuf>,
    pub concurrency: usize,
    /// Deflate level of the packages.
    pub level: i64,
}

/// What the driver reports while it runs.
pub enum Progress<'a> {
    /// Recordings found so far while listing.
    Listing(usize),
    /// Listing done: `total` recordings, `todo` of them still to import.
    Listed { total: usize, todo: usize },
    /// Bytes of event JSON decoded so far (all threads).
    Decoded(u64),
    /// One recording finished (imported, gone, empty or failed).
    Finished { id: &'a str, outcome: &'a str },
}

/// The final account.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub source: String,
    pub listed: usize,
    /// Done by an earlier run (state file or package already in the folder): not fetched again.
    pub already_done: usize,
    pub imported: Vec<String>,
    pub events: u64,
    /// Bytes of decoded event JSON written.
    pub event_bytes: u64,
    /// Bytes received from the source.
    pub downloaded_bytes: u64,
    pub package_bytes: u64,
    /// `410 Gone` at the source: skipped (and remembered in the state).
    pub gone: Vec<String>,
    /// Listed but holding no events (still being recorded, or nothing captured): not written.
    pub empty: Vec<String>,
    pub failed: Vec<Failed>,
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub seconds: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct Failed {
    pub id: String,
    pub error: String,
}

enum Outcome {
    Imported { events: u64, bytes: u64, pkg: u64 },
    Gone,
    Empty,
}

/// Import every listed recording of `source`; see the module docs. Errors that make every
/// recording fail (authentication, an output folder that cannot be written) stop the run;
/// a recording that fails alone is reported in [`Summary::failed`] and the rest go on.
pub fn run(
    source: &dyn Source,
    opts: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<Summary> {
    let started = std::time::Instant::now();
    let describe = source.describe();
    let state = State::open(opts.state.as_deref(), &describe)?;
    if let Output::Dir(d) = &opts.output {
        std::fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
    }
    let items = source.list(&mut |n| progress(Progress::Listing(n)))?;
    let mut summary = Summary {
        source: describe,
        listed: items.len(),
        ..Default::default()
    };
    let mut todo = Vec::new();
    for it in &items {
        let in_dir = match &opts.output {
            Output::Dir(d) => d.join(package_name(&it.id)).exists(),
            Output::Server { .. } => false,
        };
        if state.is_done(&it.id) || state.is_gone(&it.id) {
            summary.already_done += 1;
        } else if in_dir {
            // Written by a run killed before it could record it: done all the same.
            state.mark_done(&it.id, 0)?;
            summary.already_done += 1;
        } else {
            todo.push(it);
        }
    }
    progress(Progress::Listed {
        total: items.len(),
        todo: todo.len(),
    });
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let fatal: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let results: Mutex<Vec<(String, anyhow::Result<Outcome>)>> = Mutex::new(Vec::new());
    let decoded = std::sync::atomic::AtomicU64::new(0);
    let threads = opts.concurrency.clamp(1, 64).min(todo.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = todo.get(i) else { return };
                let r = one(source, item, opts, &state, &|n| {
                    let total = decoded.fetch_add(n, Ordering::Relaxed) + n;
                    progress(Progress::Decoded(total));
                });
                if let Err(e) = &r {
                    if is_fatal(e) {
                        stop.store(true, Ordering::Relaxed);
                        let mut f = fatal.lock().unwrap_or_else(|p| p.into_inner());
                        if f.is_none() {
                            *f = Some(anyhow::anyhow!("{e:#}"));
                        }
                        return;
                    }
                }
                let outcome = match &r {
                    Ok(Outcome::Imported { .. }) => "imported",
                    Ok(Outcome::Gone) => "gone",
                    Ok(Outcome::Empty) => "empty",
                    Err(_) => "failed",
                };
                progress(Progress::Finished {
                    id: &item.id,
                    outcome,
                });
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((item.id.clone(), r));
            });
        }
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    // Report in listing order.
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let order: std::collections::HashMap<&str, usize> = todo
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    results.sort_by_key(|(id, _)| order.get(id.as_str()).copied());
    for (id, r) in results {
        match r {
            Ok(Outcome::Imported { events, bytes, pkg }) => {
                summary.imported.push(id);
                summary.events += events;
                summary.event_bytes += bytes;
                summary.package_bytes += pkg;
            }
            Ok(Outcome::Gone) => summary.gone.push(id),
            Ok(Outcome::Empty) => summary.empty.push(id),
            Err(e) => summary.failed.push(Failed {
                id,
                error: format!("{e:#}"),
            }),
        }
    }
    let c = &source.client().counters;
    summary.requests = c.requests.load(Ordering::Relaxed);
    summary.retries = c.retries.load(Ordering::Relaxed);
    summary.throttled = c.throttled.load(Ordering::Relaxed);
    summary.downloaded_bytes = c.bytes.load(Ordering::Relaxed);
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Errors after which no other recording can succeed either.
fn is_fatal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<Fail>().is_some_and(Fail::is_auth)
            || c.downcast_ref::<OutputError>().is_some()
    })
}

/// The output cannot be written (disk, folder, server refusing the token).
#[derive(Debug)]
struct OutputError(String);
impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for OutputError {}

pub fn package_name(id: &str) -> String {
    format!("{id}.reel.zip")
}

fn one(
    source: &dyn Source,
    item: &Item,
    opts: &Options,
    state: &State,
    decoded: &dyn Fn(u64),
) -> anyhow::Result<Outcome> {
    reel_format::package::check_id("recording id", &item.id)?;
    let mut spool = Spool::new()?;
    spool.add(Recording {
        sessions: vec![source.session(item)],
        warnings: vec![],
    })?;
    let fetched = source.fetch(item, &mut |rec| {
        let before = spool.bytes;
        spool.add(rec)?;
        decoded(spool.bytes - before);
        Ok(())
    });
    match fetched {
        Err(e)
            if e.chain()
                .any(|c| matches!(c.downcast_ref(), Some(Fail::Gone(_)))) =>
        {
            state.mark_gone(&item.id)?;
            return Ok(Outcome::Gone);
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if spool.events == 0 {
        return Ok(Outcome::Empty);
    }
    let (events, bytes) = (spool.events, spool.bytes);
    let pkg = match &opts.output {
        Output::Dir(dir) => {
            let done = dir.join(package_name(&item.id));
            let part = dir.join(format!(".{}.partial", package_name(&item.id)));
            let n = write_package(spool, &part, opts.level)
                .map_err(|e| OutputError(format!("{}: {e:#}", part.display())))?;
            std::fs::rename(&part, &done)
                .map_err(|e| OutputError(format!("{}: {e}", done.display())))?;
            n
        }
        Output::Server { url, client } => {
            let tmp = tempfile::NamedTempFile::new()?;
            let n = write_package(spool, tmp.path(), opts.level)?;
            let body = std::fs::read(tmp.path())?;
            match client.post(
                &format!("{url}/api/v1/import"),
                "application/octet-stream",
                None,
                &body,
            ) {
                Ok(_) => {}
                Err(
                    e @ Fail::Status {
                        status: 401 | 403, ..
                    },
                ) => {
                    return Err(OutputError(format!(
                        "{e} (check --token: the server's admin token)"
                    ))
                    .into())
                }
                Err(e) => return Err(anyhow::anyhow!("pushing to {url}: {e}")),
            }
            n
        }
    };
    state.mark_done(&item.id, events)?;
    Ok(Outcome::Imported { events, bytes, pkg })
}

/// Write `spool` as a package at `path` (created or truncated), synced; returns its size.
fn write_package(spool: Spool, path: &Path, level: i64) -> anyhow::Result<u64> {
    let f = std::fs::File::create(path)?;
    let mut w = PackageWriter::new(
        BufWriter::with_capacity(1 << 20, f),
        WriterOptions {
            level,
            producer: format!("reel {}", env!("CARGO_PKG_VERSION")),
            redaction: None,
        },
    );
    spool.write_into(&mut w, &mut |_| {})?;
    let (mut buf, _) = w.finish(None)?;
    buf.flush()?;
    let f = buf
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
    f.sync_all()?;
    Ok(f.metadata()?.len())
}
