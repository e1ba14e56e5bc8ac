//! `reel dom` (owned by the redaction work; see crates/reel-dom).
use std::process::ExitCode;

/// Print the page's HTML (or the nodes matching a selector) at a moment of a recording.
#[derive(clap::Args)]
pub struct Args {
    input: std::path::PathBuf,
}

pub fn run(_a: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("reel dom is not available in this build yet")
}
