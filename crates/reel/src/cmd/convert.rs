use crate::ui;
use anyhow::bail;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Target {
    /// A bare rrweb event array (plays in rrweb's Replayer and rrweb-player).
    Rrweb,
    /// A PostHog "Export to JSON" file, V2 (PostHog's "import from file" plays it).
    Posthog,
}

/// Convert a recording to another format.
///
/// Input: a package or any file `reel pack` accepts. Output to stdout unless -o is given.
///
/// Examples:
///   reel convert session.reel.zip --to rrweb -o events.json
///   reel convert session.reel.zip --to posthog --session 0191… -o export.json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    file: PathBuf,
    #[arg(long, value_enum)]
    to: Target,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Which session, when the input holds several.
    #[arg(long)]
    session: Option<String>,
    /// Only this window (rrweb output), when the session has several.
    #[arg(long)]
    window: Option<String>,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let (_, rec) = super::import(&a.file, a.limits.limits())?;
    for w in &rec.warnings {
        ui::warn(w);
    }
    let name = a.file.display();
    let session = match (&a.session, rec.sessions.len()) {
        (Some(id), _) => rec
            .session(id)
            .ok_or_else(|| anyhow::anyhow!("{name}: no session {id:?}; it holds: {}", ids(&rec)))?,
        (None, 1) => &rec.sessions[0],
        (None, 0) => bail!("{name}: holds no session"),
        (None, _) => bail!(
            "{name}: holds {} sessions; choose one with --session ({})",
            rec.sessions.len(),
            ids(&rec)
        ),
    };
    if let Some(w) = &a.window {
        if !session.windows.iter().any(|x| &x.id == w) {
            bail!("{name}: session {} has no window {w:?}", session.id);
        }
    }
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        match a.to {
            Target::Rrweb => reel_format::export::rrweb_array(session, a.window.as_deref(), out)?,
            Target::Posthog => reel_format::export::posthog_v2(session, out)?,
        }
        Ok(())
    };
    match &a.output {
        Some(p) => ui::write_atomic(p, |f| {
            let mut w = std::io::BufWriter::new(f);
            write(&mut w)?;
            w.flush()?;
            Ok(())
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            write(&mut w)?;
            w.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ids(rec: &reel_format::Recording) -> String {
    rec.sessions
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
