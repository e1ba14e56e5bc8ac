//! Terminal output: one-line errors with hints, progress bars only on a terminal.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Print an error as one line (`reel: <what failed>`), plus the cause chain on the same line.
pub fn error(e: &anyhow::Error) {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    eprintln!("reel: error: {msg}");
}

/// Whether `e` comes from writing to a stdout whose reader has gone (`| head`): the command
/// then ends quietly (see main).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that returns the write error instead of panicking on a closed stdout.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)
    }};
}

pub fn warn(msg: &str) {
    eprintln!("reel: warning: {msg}");
}

/// A byte-progress bar on stderr, hidden when stderr is not a terminal.
pub fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// A count-progress bar on stderr, hidden when stderr is not a terminal.
pub fn count_bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Limits from the shared `--max-bytes` / `--max-ratio` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Largest decompressed size of one entry or body, in bytes (zip/gzip bomb guard).
    #[arg(long, value_name = "BYTES", global = true)]
    pub max_bytes: Option<u64>,
    /// Largest compression ratio of a large ZIP entry (zip bomb guard).
    #[arg(long, value_name = "N", global = true)]
    pub max_ratio: Option<u64>,
}

impl LimitArgs {
    pub fn limits(&self) -> reel_format::Limits {
        let mut l = reel_format::Limits::default();
        if let Some(b) = self.max_bytes {
            l.max_entry_bytes = b;
            l.max_total_bytes = l.max_total_bytes.max(b);
        }
        if let Some(r) = self.max_ratio {
            l.max_ratio = r;
        }
        l
    }
}

/// Write `bytes` to `path` atomically (temp file in the same folder, then rename).
pub fn write_atomic(
    path: &std::path::Path,
    f: impl FnOnce(&mut std::fs::File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".reel-tmp-")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "{}: cannot create a file in {}",
                path.display(),
                dir.display()
            )
        })?;
    f(tmp.as_file_mut())?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("{}: sync", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}
