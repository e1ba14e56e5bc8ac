use crate::ui;
use anyhow::Context;
use reel_format::package::{PackageReader, SessionMeta};
use reel_format::stats::SessionStats;
use std::path::PathBuf;
use std::process::ExitCode;

/// Describe recordings: sessions, duration, windows, pages, events by type and source, clicks,
/// keypresses, console errors. Works on packages (reads only the metadata) and on any file
/// `reel pack` accepts.
///
/// Examples:
///   reel inspect session.reel.zip
///   reel inspect export.json --json | jq '.sessions[0].click_count'
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    file: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let limits = a.limits.limits();
    let bytes = super::read_input(&a.file)?;
    let name = a.file.display().to_string();
    let (kind, metas): (String, Vec<SessionMeta>) = if bytes.starts_with(b"PK") {
        let mut r = PackageReader::open(std::io::Cursor::new(&bytes[..]), limits)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let ids: Vec<String> = r.manifest.sessions.iter().map(|s| s.id.clone()).collect();
        let metas = ids
            .iter()
            .map(|id| r.session_meta(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        (
            format!("reel package (format {})", r.manifest.format_version),
            metas,
        )
    } else {
        let (kind, rec) = super::import(&a.file, limits)?;
        for w in &rec.warnings {
            ui::warn(w);
        }
        (
            kind.name().to_string(),
            rec.sessions
                .iter()
                .map(meta_of)
                .collect::<anyhow::Result<Vec<_>>>()?,
        )
    };
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"file": name, "kind": kind, "sessions": metas})
            )?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!("{name}: {kind}, {} session(s)", metas.len())?;
    for m in &metas {
        print_session(m)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Metadata of an in-memory session, computed the same way the package writer does.
fn meta_of(s: &reel_format::Session) -> anyhow::Result<SessionMeta> {
    let mut w = reel_format::package::PackageWriter::new(
        std::io::Cursor::new(Vec::new()),
        Default::default(),
    );
    w.add_session(s).context("computing session facts")
}

fn print_session(m: &SessionMeta) -> std::io::Result<()> {
    let s: &SessionStats = &m.stats;
    crate::outln!()?;
    crate::outln!("session {}", m.id)?;
    let lib = match (&m.source.lib, &m.source.lib_version) {
        (Some(l), Some(v)) => format!(", {l} {v}"),
        (Some(l), None) => format!(", {l}"),
        _ => String::new(),
    };
    crate::outln!(
        "  source      {}{lib}",
        if m.source.system.is_empty() {
            "unknown"
        } else {
            &m.source.system
        }
    )?;
    if let Some(p) = &m.distinct_id {
        crate::outln!("  person      {p}")?;
    }
    crate::outln!(
        "  time        {} → {}  ({:.1} s, active {:.1} s)",
        m.start_time.as_deref().unwrap_or("-"),
        m.end_time.as_deref().unwrap_or("-"),
        m.recording_duration,
        m.active_seconds
    )?;
    let wins: Vec<String> = m
        .windows
        .iter()
        .map(|w| format!("{} ({} events)", w.id, w.event_count))
        .collect();
    crate::outln!("  windows     {}: {}", m.windows.len(), wins.join(", "))?;
    for (i, u) in s.urls.iter().enumerate() {
        crate::outln!(
            "  {}{u}",
            if i == 0 {
                "pages       "
            } else {
                "            "
            }
        )?;
    }
    let types: Vec<String> = s
        .events_by_type
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    crate::outln!("  events      {} ({})", s.event_count, types.join(", "))?;
    if !s.events_by_source.is_empty() {
        let srcs: Vec<String> = s
            .events_by_source
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        crate::outln!("  incremental {}", srcs.join(", "))?;
    }
    crate::outln!(
        "  activity    {} clicks, {} keypresses, {} mouse events",
        s.click_count,
        s.keypress_count,
        s.mouse_activity_count
    )?;
    crate::outln!(
        "  console     {} errors, {} warnings, {} logs; {} network requests",
        s.console_error_count,
        s.console_warn_count,
        s.console_log_count,
        s.network_request_count
    )?;
    Ok(())
}
