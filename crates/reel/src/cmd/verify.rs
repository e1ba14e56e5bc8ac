use crate::ui;
use anyhow::Context;
use reel_format::package::PackageReader;
use std::path::PathBuf;
use std::process::ExitCode;

/// Check a package: structure, every checksum, every event line, SHA256SUMS and the signature.
///
/// Exits 0 only if everything holds; otherwise prints the first bad entry and exits 1.
///
/// Examples:
///   reel verify session.reel.zip
///   reel verify session.reel.zip --key team.pub --json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    file: PathBuf,
    /// Require a valid signature by this public key (from `reel keygen`).
    #[arg(long, value_name = "PUBKEY")]
    key: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let key = a.key.as_deref().map(super::public_key).transpose()?;
    let f = std::fs::File::open(&a.file)
        .with_context(|| format!("{}: cannot open", a.file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let name = a.file.display().to_string();
    let result = (|| {
        let mut r = PackageReader::open(
            std::io::BufReader::with_capacity(1 << 20, f),
            a.limits.limits(),
        )?;
        let total: u64 = r.manifest.files.iter().map(|f| f.bytes).sum();
        let bar = ui::bytes_bar(total, "verify");
        let rep = r.verify(key.as_ref(), &mut |d| bar.set_position(d));
        bar.finish_and_clear();
        rep
    })();
    match result {
        Ok(rep) => {
            if a.json {
                crate::outln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"file": name, "ok": true, "report": rep})
                    )?
                )?;
            } else {
                for w in &rep.warnings {
                    ui::warn(w);
                }
                crate::outln!(
                    "{name}: OK ({} entries, {} sessions, {} events, {} of {}; package {}){}",
                    rep.entries,
                    rep.sessions,
                    rep.events,
                    super::pack::human(rep.bytes),
                    match rep.assets {
                        0 => "events".to_string(),
                        n => format!("events and assets ({n} asset URLs)"),
                    },
                    super::pack::human(size),
                    match &rep.signed_by {
                        Some(k) => format!(", signed by ed25519 key {}…", &k[..16]),
                        None => ", unsigned".into(),
                    }
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if a.json {
                crate::outln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"file": name, "ok": false, "error": e.to_string()})
                    )?
                )?;
            }
            Err(anyhow::anyhow!("{name}: {e}"))
        }
    }
}
