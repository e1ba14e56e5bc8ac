use crate::ui;
use anyhow::{bail, Context};
use reel_parquet::{Counts, Tables};
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Write recordings as two Parquet tables for DuckDB, Spark, ClickHouse, pandas…
///
/// DIR/sessions.parquet: one row per session, with the columns of PostHog's
/// session_replay_events (session_id, distinct_id, min_first_timestamp, max_last_timestamp,
/// first_url, all_urls, click_count, keypress_count, console_error_count, active_milliseconds,
/// size, event_count, …): the numbers `reel inspect` prints.
///
/// DIR/events.parquet: one row per meaningful event (kind: navigation, reload, viewport, click,
/// dblclick, contextmenu, input, scroll, console, network, custom) with its session, window,
/// time, page URL, position, target element (id, tag, selector, text), console level and message,
/// request method, URL, status and duration. Input values are as the recording holds them:
/// masked by the recorder stays masked. Every column: docs/parquet.md.
///
/// INPUT: .reel.zip packages (read streaming, checksums checked) and anything `reel pack` reads
/// (rrweb JSON, PostHog exports and /s/ bodies, …; a session spread over several files is one
/// session). Rows of every input go into the same two files; DIR is created if needed and the
/// files appear complete or not at all.
///
/// Examples:
///   reel parquet recordings/*.reel.zip -o tables
///   reel parquet export.json -o tables --json
///   duckdb -c "SELECT s.distinct_id, e.target_text, count(*) AS clicks
///              FROM 'tables/events.parquet' e JOIN 'tables/sessions.parquet' s USING (session_id)
///              WHERE e.kind = 'click' GROUP BY ALL ORDER BY clicks DESC LIMIT 10"
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Packages or other recordings.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Folder for sessions.parquet and events.parquet.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Print a JSON summary on stdout: {"sessions", "events", "files", "bytes_in"}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

/// Whether `path` starts like a ZIP (a package; anything else goes through the importers).
fn is_zip(path: &Path) -> anyhow::Result<bool> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut head = [0u8; 2];
    let n = f
        .read(&mut head)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(n == 2 && &head == b"PK")
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let limits = a.limits.limits();
    let mut packages = Vec::new();
    let mut others = Vec::new();
    for p in &a.inputs {
        if is_zip(p)? {
            packages.push(p.clone());
        } else {
            others.push(p.clone());
        }
    }
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("{}: cannot create the folder", a.output.display()))?;
    let temp = |name: &str| {
        tempfile::Builder::new()
            .prefix(&format!(".{name}-"))
            .suffix(".tmp")
            .tempfile_in(&a.output)
            .with_context(|| format!("{}: cannot write in this folder", a.output.display()))
    };
    let (sessions_tmp, events_tmp) = (temp("sessions")?, temp("events")?);
    let writer = |t: &tempfile::NamedTempFile| -> anyhow::Result<BufWriter<std::fs::File>> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            t.reopen()
                .with_context(|| format!("{}: cannot write", t.path().display()))?,
        ))
    };
    let opts = reel_parquet::Options {
        limits,
        ..Default::default()
    };
    let mut tables = Tables::with_options(writer(&sessions_tmp)?, writer(&events_tmp)?, opts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.output.display()))?;

    let bar = ui::bytes_bar(super::total_size(&a.inputs), "parquet");
    {
        let bar = bar.clone();
        tables.on_progress(move |c: &Counts| {
            bar.set_message(format!("{} events", c.events));
        });
    }
    for p in &packages {
        let f = std::fs::File::open(p).with_context(|| format!("{}: cannot read", p.display()))?;
        tables
            .add_package(std::io::BufReader::with_capacity(256 << 10, f))
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        bar.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    }
    if !others.is_empty() {
        let spool = super::pack::spool_inputs(&others, limits, |p, _, rec| {
            for w in &rec.warnings {
                ui::warn(&format!("{}: {w}", p.display()));
            }
        })?;
        tables
            .add_spool(spool)
            .map_err(|e| anyhow::anyhow!("{}: {e}", super::names(&others)))?;
        bar.inc(super::total_size(&others));
    }
    let counts = tables
        .finish()
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.output.display()))?;
    bar.finish_and_clear();
    if counts.sessions == 0 {
        bail!(
            "{}: no sessions found; nothing written",
            super::names(&a.inputs)
        );
    }
    let mut files = Vec::new();
    for (tmp, name) in [
        (sessions_tmp, "sessions.parquet"),
        (events_tmp, "events.parquet"),
    ] {
        let path = a.output.join(name);
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("{}: sync", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
        files.push(path.display().to_string());
    }
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "sessions": counts.sessions, "events": counts.events,
                "files": files, "bytes_in": counts.bytes_in,
            }))?
        )?;
    } else {
        eprintln!(
            "wrote {} session(s) and {} events ({} of event JSON) to {}",
            counts.sessions,
            counts.events,
            super::pack::human(counts.bytes_in),
            files.join(" and ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
