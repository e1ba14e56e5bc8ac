use crate::ui;
use anyhow::bail;
use reel_format::package::{PackageWriter, Spool, WriterOptions};
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

/// Pack recordings into a .reel.zip package.
///
/// Accepts any mix of: rrweb JSON arrays, PostHog "Export to JSON" files (V1 and V2), PostHog /s/
/// request bodies (gzip, base64 form, lz64 or plain JSON; many bodies of one session merge),
/// PostHog snapshot-API JSONL, Reel ingest batches and other .reel.zip packages. The kind of each
/// file is detected. Events are sorted by time per window; `cv` packing is undone.
///
/// Examples:
///   reel pack recording.json -o session.reel.zip
///   reel pack bodies/*.bin --person user@example.com -o session.reel.zip
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Files to import.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output package.
    #[arg(short, long)]
    output: PathBuf,
    /// Use this session id (merges all inputs into one session).
    #[arg(long)]
    session_id: Option<String>,
    /// Set the person (distinct id) of every session.
    #[arg(long)]
    person: Option<String>,
    /// Sign the package with this secret key (from `reel keygen`).
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Deflate level 0-9 (5: ~16% less CPU than 6 for ~1% more bytes).
    #[arg(long, default_value_t = 5)]
    level: i64,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    /// A custom event tag that counts as a `custom` moment in each session's summary.json
    /// (repeat for several; see `reel moments`).
    #[arg(long = "custom-tag", value_name = "TAG")]
    custom_tags: Vec<String>,
    /// Also put the images, fonts and stylesheets the recording loads inside (format 1.2), as
    /// `reel assets` does; the flags below apply with it.
    #[arg(long)]
    assets: bool,
    #[command(flatten)]
    fetch: super::assets::FetchArgs,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let limits = a.limits.limits();
    if let Some(id) = &a.session_id {
        if !reel_format::package::valid_id(id) {
            bail!("--session-id {id:?}: use 1-128 chars of [A-Za-z0-9._-]");
        }
    }
    if !(0..=9).contains(&a.level) {
        bail!("--level {}: use 0-9", a.level);
    }
    let key = a.sign.as_deref().map(super::secret_key).transpose()?;
    let policy = a.assets.then(|| a.fetch.policy()).transpose()?;
    let mut warnings = Vec::new();
    let mut kinds = Vec::new();
    let mut spool = spool_inputs(&a.inputs, limits, |p, kind, rec| {
        kinds.push(serde_json::json!({"file": p.display().to_string(), "kind": kind.name(), "sessions": rec.sessions.len()}));
        warnings.extend(rec.warnings.iter().map(|w| format!("{}: {w}", p.display())));
    })?;
    if spool.session_ids().is_empty() || spool.events == 0 {
        bail!(
            "{}: no events found (an empty recording, or PostHog bodies without $snapshot events); nothing to pack",
            super::names(&a.inputs)
        );
    }
    if let Some(id) = &a.session_id {
        spool.rename_all(id);
    }
    if let Some(p) = &a.person {
        spool.set_person(p);
    }
    for w in &warnings {
        ui::warn(w);
    }
    let (events, bytes, sessions) = (spool.events, spool.bytes, spool.session_ids());
    let bar = ui::bytes_bar(bytes, "pack");
    let config = reel_insight::Config {
        custom_tags: a.custom_tags.clone(),
    };
    let mut manifest = None;
    let mut assets = None;
    let mut comments = 0;
    ui::write_atomic(&a.output, |f| {
        let mut w = PackageWriter::new(
            BufWriter::with_capacity(1 << 20, f),
            WriterOptions {
                level: a.level,
                producer: format!("reel {}", env!("CARGO_PKG_VERSION")),
                redaction: None,
            },
        );
        let progress = &mut |d| bar.set_position(d);
        match &policy {
            Some(p) => {
                let got = super::assets::write_with_assets(
                    spool, &mut w, progress, &config, p, &a.inputs, limits,
                )?;
                bar.finish_and_clear();
                assets = Some(got);
            }
            None => write_with_summaries(spool, &mut w, progress, &config)?,
        }
        let mut counts = reel_redact::Counts::default();
        comments = carry_comments(&a.inputs, limits, &mut w, None, &mut counts)?;
        let (buf, m) = w.finish(key.as_ref())?;
        buf.into_inner()
            .map_err(|e| anyhow::anyhow!("{}: {}", a.output.display(), e.error()))?;
        manifest = Some(m);
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.output.display()))?;
    bar.finish_and_clear();
    let out_bytes = std::fs::metadata(&a.output).map(|m| m.len()).unwrap_or(0);
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "output": a.output.display().to_string(), "inputs": kinds, "sessions": sessions,
                "events": events, "event_bytes": bytes, "package_bytes": out_bytes, "signed": key.is_some(),
                "warnings": warnings, "files": manifest.map(|m| m.files.len()).unwrap_or(0), "comments": comments,
                "assets": assets.as_ref().map(|g| serde_json::json!({"fetched": g.fetched, "failed": g.failed, "bytes": g.bytes})),
            }))?
        )?;
    } else {
        if let Some(g) = &assets {
            super::assets::report(g);
        }
        eprintln!(
            "packed {} session(s), {} events ({}) into {} ({}){}",
            sessions.len(),
            events,
            human(bytes),
            a.output.display(),
            human(out_bytes),
            if key.is_some() { ", signed" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Write the spool's sessions into `w` with each session's `summary.json` (key moments and
/// summary, computed from the events on their way into the package).
pub(crate) fn write_with_summaries<W: std::io::Write + std::io::Seek>(
    spool: Spool,
    w: &mut PackageWriter<W>,
    progress: &mut dyn FnMut(u64),
    config: &reel_insight::Config,
) -> anyhow::Result<()> {
    let (_, windows) = spool.write_parallel(w, progress, &mut |_| Ok(()), &|sid, wid| {
        reel_insight::Analyzing {
            inner: reel_insight::Keep,
            window: reel_insight::WindowAnalyzer::new(sid, wid, config),
        }
    })?;
    reel_insight::write_summaries(w, windows, config)?;
    Ok(())
}

/// Carry the comments of input packages (format 1.3) into `w`, after its sessions are written:
/// each comment once (by id), at the same instant of the recording (its offset recomputed from
/// the written session's start), through `redactor`'s text patterns when there is one (what they
/// remove counted in `counts`). Comments of sessions the output does not hold are left out.
/// Returns how many were written.
pub(crate) fn carry_comments<W: std::io::Write + std::io::Seek>(
    inputs: &[PathBuf],
    limits: reel_format::Limits,
    w: &mut PackageWriter<W>,
    redactor: Option<&reel_redact::Redactor>,
    counts: &mut reel_redact::Counts,
) -> anyhow::Result<u64> {
    use reel_format::package::comments::{parse_time, Comment};
    let mut by_session: std::collections::BTreeMap<String, Vec<Comment>> = Default::default();
    for p in inputs {
        let Some(mut r) = super::assets::open_package(p, limits)? else {
            continue;
        };
        let ids: Vec<String> = r.manifest.sessions.iter().map(|s| s.id.clone()).collect();
        for id in ids {
            let found = r
                .comments(&id)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            let list = by_session.entry(id).or_default();
            for c in found {
                if !list.iter().any(|x| x.id == c.id) {
                    list.push(c);
                }
            }
        }
    }
    let mut n = 0;
    for (sid, list) in by_session {
        let Some(start) = w.session_start_ms(&sid) else {
            continue;
        };
        let kept: Vec<Comment> = list
            .into_iter()
            .filter_map(|c| {
                let (at, created) = (parse_time(&c.timestamp)?, parse_time(&c.created_at)?);
                let (mut text, mut author) = (c.text, c.author);
                if let Some(r) = redactor {
                    r.free_text(&mut text, counts);
                    r.free_text(&mut author, counts);
                }
                Some(Comment::new(&c.id, at, start, &text, &author, created))
            })
            .collect();
        n += kept.len() as u64;
        w.add_comments(&sid, kept)?;
    }
    Ok(n)
}

type Imported = anyhow::Result<(reel_format::import::InputKind, reel_format::Recording)>;

/// Import `inputs` (several threads, input order) into a spool, with a progress bar; `seen` gets
/// each input's kind and recording before it goes into the spool.
pub(crate) fn spool_inputs(
    inputs: &[PathBuf],
    limits: reel_format::Limits,
    mut seen: impl FnMut(&std::path::Path, reel_format::import::InputKind, &reel_format::Recording),
) -> anyhow::Result<Spool> {
    let bar = ui::bytes_bar(super::total_size(inputs), "import");
    let mut spool = Spool::new()?;
    import_in_order(inputs, limits, |p, imported| {
        let (kind, rec) = imported?;
        seen(p, kind, &rec);
        spool.add(rec)?;
        bar.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(spool)
}

/// Import `inputs` on up to 4 threads (one per core) and hand each result to `f` in input order,
/// so the package is the same as with one thread. Each worker holds at most one finished
/// recording; on the first error the workers stop after their current file.
fn import_in_order(
    inputs: &[PathBuf],
    limits: reel_format::Limits,
    mut f: impl FnMut(&std::path::Path, Imported) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(inputs.len().max(1));
    std::thread::scope(|scope| {
        let mut results = Vec::new();
        for w in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Imported>(0);
            results.push(rx);
            scope.spawn(move || {
                for p in inputs.iter().skip(w).step_by(workers) {
                    if tx.send(super::import(p, limits)).is_err() {
                        break;
                    }
                }
            });
        }
        for (i, p) in inputs.iter().enumerate() {
            let imported = results[i % workers]
                .recv()
                .map_err(|_| anyhow::anyhow!("{}: import worker stopped", p.display()))?;
            f(p, imported)?;
        }
        Ok(())
    })
}

pub fn human(b: u64) -> String {
    const U: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < U.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}
