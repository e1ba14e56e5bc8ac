use crate::ui;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Extract a package into a folder, safely: entries that would escape the folder (`..`,
/// absolute paths, symlinks) are refused, size and ratio caps hold, checksums are checked,
/// and nothing is left behind on failure.
///
/// Example:
///   reel unpack session.reel.zip -o session/ && (cd session && sha256sum -c SHA256SUMS)
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    file: PathBuf,
    /// Target folder (must not exist, or be empty).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let f = std::fs::File::open(&a.file)
        .with_context(|| format!("{}: cannot open", a.file.display()))?;
    let n = reel_format::package::unpack(std::io::BufReader::new(f), &a.output, a.limits.limits())
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
    eprintln!("unpacked {n} files into {}", a.output.display());
    Ok(ExitCode::SUCCESS)
}
