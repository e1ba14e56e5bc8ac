//! `reel dom`: the page at a moment of a recording, as HTML (see crates/reel-dom).
use crate::ui;
use anyhow::{anyhow, bail};
use reel_dom::{Dom, Selector};
use reel_format::{EventType, IncrementalSource};
use std::path::PathBuf;
use std::process::ExitCode;

/// Print the page's HTML (or the nodes matching a selector) at a moment of a recording.
///
/// The moment is in seconds from the session's first event. Snapshots and mutations up to that
/// moment are applied the way rrweb's Replayer applies them.
///
/// Examples:
///   reel dom session.reel.zip --at 12.5
///   reel dom recording.json --at 30 --select 'form input, .secret'
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    input: PathBuf,
    /// Seconds from the first event (past the end: the page at its end, with a warning).
    #[arg(long, default_value_t = f64::INFINITY)]
    at: f64,
    /// Which session, when the input holds several.
    #[arg(long)]
    session: Option<String>,
    /// Which window (browser tab), when the session has several (default: the one with most events).
    #[arg(long)]
    window: Option<String>,
    /// Print the outer HTML of each element matching this CSS selector, one per line (exit 1 if
    /// none matches).
    #[arg(long, value_name = "CSS")]
    select: Option<String>,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let sel = match &a.select {
        Some(s) => Some(Selector::parse(s).map_err(|e| anyhow!("--select: {e}"))?),
        None => None,
    };
    if a.at.is_nan() || a.at < 0.0 {
        bail!("--at: give a number of seconds, 0 or more");
    }
    let (_, rec) = super::import(&a.input, a.limits.limits())?;
    let name = a.input.display();
    let ids = || {
        rec.sessions
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let session = match (&a.session, rec.sessions.len()) {
        (Some(id), _) => rec
            .session(id)
            .ok_or_else(|| anyhow!("{name}: no session {id:?}; it holds: {}", ids()))?,
        (None, 1) => &rec.sessions[0],
        (None, 0) => bail!("{name}: holds no session"),
        (None, n) => bail!(
            "{name}: holds {n} sessions; choose one with --session ({})",
            ids()
        ),
    };
    let window = match &a.window {
        Some(w) => session
            .windows
            .iter()
            .find(|x| &x.id == w)
            .ok_or_else(|| anyhow!("{name}: session {} has no window {w:?}", session.id))?,
        None => session
            .windows
            .iter()
            .max_by_key(|w| w.events.len())
            .ok_or_else(|| anyhow!("{name}: session {} has no events", session.id))?,
    };
    let first = session
        .windows
        .iter()
        .filter_map(|w| w.events.first().map(|e| e.timestamp))
        .min()
        .unwrap_or(0);
    let last = session
        .windows
        .iter()
        .filter_map(|w| w.events.last().map(|e| e.timestamp))
        .max()
        .unwrap_or(first);
    let length = last.saturating_sub(first) as f64 / 1000.0;
    if a.at.is_finite() && a.at > length {
        ui::warn(&format!(
            "--at {}s is past the end of the recording (it lasts {length:.1}s); this is the page at its end",
            a.at
        ));
    }
    let until = if a.at.is_finite() {
        first.saturating_add((a.at * 1000.0) as i64)
    } else {
        i64::MAX
    };
    let mut dom = Dom::new();
    for e in &window.events {
        if e.timestamp > until {
            break;
        }
        let relevant = e.kind == EventType::FullSnapshot
            || matches!(
                e.source,
                Some(IncrementalSource::Mutation) | Some(IncrementalSource::Input)
            );
        if relevant {
            dom.apply(&e.to_value()?);
        }
    }
    if dom.is_empty() {
        bail!("{name}: no full snapshot before {}s", a.at);
    }
    match sel {
        Some(s) => {
            let found = dom.select(&s);
            if found.is_empty() {
                bail!(
                    "{name}: no element matches --select {:?} at {}",
                    a.select.as_deref().unwrap_or_default(),
                    if a.at.is_finite() {
                        format!("{}s", a.at)
                    } else {
                        "the end".into()
                    }
                );
            }
            for id in found {
                crate::outln!("{}", dom.outer_html(id))?;
            }
        }
        None => crate::outln!("{}", dom.html())?,
    }
    Ok(ExitCode::SUCCESS)
}
