use crate::ui;
use anyhow::bail;
use reel_format::package::PackageReader;
use reel_insight::{Config, Insight, MomentKind};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// List the key moments of recordings: rage, dead and error clicks, console errors, exceptions,
/// failed and slow requests, navigations, reloads, form submits, idle time, back-and-forth
/// between pages and custom events you name; then a short summary of each session.
///
/// Definitions and thresholds: docs/moments.md. Works on packages and on any file `reel pack`
/// accepts; computed from the events (so `--custom-tag` applies to packages too).
///
/// Examples:
///   reel moments session.reel.zip
///   reel moments export.json --kind rage_click --kind dead_click
///   reel moments session.reel.zip --json | jq '.sessions[0].moments[] | select(.kind=="exception")'
///   reel moments session.reel.zip --custom-tag checkout-started
///   REEL_LLM_API_KEY=sk-… reel moments session.reel.zip --llm-url https://api.openai.com/v1
///
/// With --llm-url (or REEL_LLM_URL) a model also writes a summary (`llm_summary` in --json, kept
/// apart from the deterministic one). Only a compact timeline is sent: pages, key actions and
/// moments; never the DOM or an input value, URLs without query values. Run `reel redact` first
/// if what the file holds must not leave your machine.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    file: PathBuf,
    /// Print JSON on stdout: {"file", "sessions": [summary.json of each session]}.
    #[arg(long)]
    json: bool,
    /// Only moments of this kind (repeat for several): rage_click, dead_click, error_click,
    /// console_error, exception, network_error, slow_request, navigation, reload, form_submit,
    /// idle, thrash, custom.
    #[arg(long = "kind", value_name = "K")]
    kinds: Vec<String>,
    /// A custom event tag that counts as a `custom` moment (repeat for several).
    #[arg(long = "custom-tag", value_name = "TAG")]
    custom_tags: Vec<String>,
    /// Also ask this OpenAI-compatible chat-completions endpoint for a summary, e.g.
    /// https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama). Off unless given here
    /// or in REEL_LLM_URL. The key comes from REEL_LLM_API_KEY.
    #[arg(long, value_name = "URL")]
    llm_url: Option<String>,
    /// The model to ask [default: REEL_LLM_MODEL, else gpt-4o-mini].
    #[arg(long, value_name = "NAME")]
    llm_model: Option<String>,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut kinds = Vec::new();
    for k in &a.kinds {
        match MomentKind::from_name(k) {
            Some(k) => kinds.push(k),
            None => bail!(
                "--kind {k:?}: use one of {}",
                MomentKind::ALL.map(|k| k.name()).join(", ")
            ),
        }
    }
    let config = Config {
        custom_tags: a.custom_tags.clone(),
    };
    let llm = reel_move::llm::Endpoint::from_env(a.llm_url.clone(), a.llm_model.clone())?;
    let mut insights = insights_of(&a.file, a.limits.limits(), &config)?;
    if let Some(llm) = &llm {
        for i in &mut insights {
            eprintln!(
                "reel: asking {} ({}) to summarise session {}",
                llm.url, llm.model, i.session_id
            );
            i.llm_summary = Some(llm.summarize(i)?);
        }
    }
    if !kinds.is_empty() {
        for i in &mut insights {
            i.moments.retain(|m| kinds.contains(&m.kind));
        }
    }
    let name = a.file.display().to_string();
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"file": name, "sessions": insights}))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let colour = std::io::stdout().is_terminal();
    for i in &insights {
        crate::outln!("session {}", i.session_id)?;
        if i.moments.is_empty() {
            crate::outln!("  no moments")?;
        }
        for m in &i.moments {
            let what = describe(m);
            let kind = if colour {
                format!("\x1b[{}m{:<13}\x1b[0m", colour_of(m.kind), m.kind.name())
            } else {
                format!("{:<13}", m.kind.name())
            };
            crate::outln!("  {:>9}  {kind}  {what}", clock(m.t_ms))?;
        }
        crate::outln!()?;
        crate::outln!("  {}", i.summary.text)?;
        crate::outln!()?;
        if let Some(l) = &i.llm_summary {
            crate::outln!("  {} says: {}", l.model, l.text)?;
            crate::outln!("  outcome: {}", l.outcome.description)?;
            crate::outln!()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Moments and summary of every session of a file (a package is streamed window by window).
pub fn insights_of(
    file: &std::path::Path,
    limits: reel_format::Limits,
    config: &Config,
) -> anyhow::Result<Vec<Insight>> {
    let name = file.display().to_string();
    let bytes = super::read_input(file)?;
    if bytes.starts_with(b"PK") {
        let mut r = PackageReader::open(std::io::Cursor::new(&bytes[..]), limits)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let ids: Vec<String> = r.manifest.sessions.iter().map(|s| s.id.clone()).collect();
        ids.iter()
            .map(|id| {
                reel_insight::analyze_package_session(&mut r, id, config)
                    .map_err(|e| anyhow::anyhow!("{name}: {e}"))
            })
            .collect()
    } else {
        drop(bytes);
        let (_, mut rec) = super::import(file, limits)?;
        for w in &rec.warnings {
            ui::warn(w);
        }
        rec.sort();
        Ok(rec
            .sessions
            .iter()
            .map(|s| reel_insight::analyze_session(s, config))
            .collect())
    }
}

/// `m:ss.mmm` (or `h:mm:ss`) from the session start.
fn clock(t_ms: i64) -> String {
    let s = t_ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}.{:03}", s / 60, s % 60, t_ms % 1000)
    }
}

fn colour_of(k: MomentKind) -> u8 {
    if k.is_frustration() {
        33 // yellow
    } else if k.is_error() {
        31 // red
    } else if k == MomentKind::SlowRequest {
        35
    } else {
        36
    }
}

/// One line about a moment: its target or detail, then the page.
fn describe(m: &reel_insight::Moment) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &m.target {
        if t.text.is_empty() {
            parts.push(t.selector.clone());
        } else {
            parts.push(format!(
                "{:?} {}",
                t.text.chars().take(40).collect::<String>(),
                t.selector
            ));
        }
    }
    let d = &m.detail;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let n = |k: &str| d.get(k).and_then(|v| v.as_f64());
    match m.kind {
        MomentKind::RageClick => parts.push(format!(
            "{} clicks in {} ms",
            n("clicks").unwrap_or(0.0),
            n("duration_ms").unwrap_or(0.0)
        )),
        MomentKind::ConsoleError | MomentKind::Exception | MomentKind::ErrorClick => {
            if let Some(msg) = s("message") {
                parts.push(msg.chars().take(100).collect());
            }
        }
        MomentKind::NetworkError | MomentKind::SlowRequest => parts.push(format!(
            "{} {} → {} in {} ms",
            s("method").unwrap_or_default(),
            s("request_url").unwrap_or_default(),
            n("status").map(|v| v.to_string()).unwrap_or("-".into()),
            n("duration_ms")
                .map(|v| format!("{v:.0}"))
                .unwrap_or("-".into())
        )),
        MomentKind::Idle => {
            parts.push(format!("{:.0} s", n("duration_ms").unwrap_or(0.0) / 1000.0))
        }
        MomentKind::Thrash => parts.push(format!("{} switches", n("switches").unwrap_or(0.0))),
        MomentKind::Custom => parts.push(s("tag").unwrap_or_default()),
        MomentKind::FormSubmit => parts.push(format!("form {}", s("form").unwrap_or_default())),
        _ => {}
    }
    if let Some(u) = &m.url {
        parts.push(format!("on {}", reel_insight::summary::short_url(u)));
    }
    parts.join("  ")
}
