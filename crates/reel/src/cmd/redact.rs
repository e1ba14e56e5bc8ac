//! `reel redact` (owned by the redaction work; see crates/reel-redact).
use std::process::ExitCode;

/// Remove what must not be kept from recordings, with a report of what was removed.
#[derive(clap::Args)]
pub struct Args {
    inputs: Vec<std::path::PathBuf>,
}

pub fn run(_a: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("reel redact is not available in this build yet")
}
