use crate::ui;
use anyhow::Context;
use reel_format::package::{PackageReader, SessionMeta};
use reel_format::stats::SessionStats;
use reel_insight::Insight;
use std::path::PathBuf;
use std::process::ExitCode;

/// Describe recordings: sessions, duration, windows, pages, events by type and source, clicks,
/// keypresses, console errors, key moments by kind and the session's summary. Works on packages
/// (reads the metadata and summary.json; a package without summary.json is analysed from its
/// events) and on any file `reel pack` accepts. `reel moments` lists the moments themselves.
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
    let config = reel_insight::Config::default();
    let (kind, metas, insights): (String, Vec<SessionMeta>, Vec<Insight>) = if bytes
        .starts_with(b"PK")
    {
        let mut r = PackageReader::open(std::io::Cursor::new(&bytes[..]), limits)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let ids: Vec<String> = r.manifest.sessions.iter().map(|s| s.id.clone()).collect();
        let metas = ids
            .iter()
            .map(|id| r.session_meta(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let mut insights = Vec::new();
        for id in &ids {
            insights.push(
                package_insight(&mut r, id, &config).map_err(|e| anyhow::anyhow!("{name}: {e}"))?,
            );
        }
        let assets = &r.manifest.assets;
        let kind = if assets.is_empty() {
            format!("reel package (format {})", r.manifest.format_version)
        } else {
            // Bytes of the distinct contents (URLs may share one).
            let sizes: std::collections::BTreeMap<&str, u64> = assets
                .values()
                .map(|a| (a.sha256.as_str(), a.size))
                .collect();
            format!(
                "reel package (format {}, {} asset URL(s), {} of assets)",
                r.manifest.format_version,
                assets.len(),
                super::pack::human(sizes.values().sum())
            )
        };
        (kind, metas, insights)
    } else {
        let (kind, mut rec) = super::import(&a.file, limits)?;
        for w in &rec.warnings {
            ui::warn(w);
        }
        rec.sort();
        (
            kind.name().to_string(),
            rec.sessions
                .iter()
                .map(meta_of)
                .collect::<anyhow::Result<Vec<_>>>()?,
            rec.sessions
                .iter()
                .map(|s| reel_insight::analyze_session(s, &config))
                .collect(),
        )
    };
    if a.json {
        let sessions: Vec<serde_json::Value> = metas
            .iter()
            .zip(&insights)
            .map(|(m, i)| {
                let mut v = serde_json::to_value(m).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("moment_counts".into(), serde_json::json!(i.counts));
                    o.insert("summary".into(), serde_json::json!(i.summary.text));
                    if let Some(l) = &i.llm_summary {
                        o.insert("llm_summary".into(), serde_json::json!(l.text));
                    }
                }
                v
            })
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"file": name, "kind": kind, "sessions": sessions})
            )?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!("{name}: {kind}, {} session(s)", metas.len())?;
    for (m, i) in metas.iter().zip(&insights) {
        print_session(m)?;
        print_insight(i)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A package session's summary.json, or (packages older than format 1.1) its moments and
/// summary computed from its events.
fn package_insight<R: std::io::Read + std::io::Seek>(
    r: &mut PackageReader<R>,
    id: &str,
    config: &reel_insight::Config,
) -> reel_format::Result<Insight> {
    let path = reel_format::package::summary_path(id);
    if r.manifest.files.iter().any(|f| f.path == path) {
        let bytes = r.read_entry(&path)?;
        return serde_json::from_slice(&bytes).map_err(|e| reel_format::Error::json(&path, &e, 0));
    }
    reel_insight::analyze_package_session(r, id, config)
}

fn print_insight(i: &Insight) -> std::io::Result<()> {
    let counts: Vec<String> = i
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    crate::outln!(
        "  moments     {}",
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        }
    )?;
    crate::outln!("  summary     {}", i.summary.text)?;
    if let Some(l) = &i.llm_summary {
        crate::outln!("  llm summary {} ({})", l.text, l.model)?;
    }
    Ok(())
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
