use crate::ui;
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::ExitCode;

/// Export recordings.
///
/// --html: one self-contained HTML file (player + recording) that plays when opened from disk with
/// the network off. Without INPUT: the standalone player page, which opens .reel.zip files by file
/// picker or drag and drop.
///
/// --all: every session of a Reel server into a folder or bucket, as `reel serve --export-to`
/// writes it: TO/sessions/YYYY/MM/DD/ID.reel.zip (the server's export redaction policy applied)
/// and Parquet tables TO/parquet/sessions/date=YYYY-MM-DD/ID.parquet and
/// TO/parquet/events/date=YYYY-MM-DD/ID.parquet. Resumable: TO/.reel-export-state.json records
/// what is written; a rerun skips sessions unchanged since and rewrites those that grew.
/// S3 endpoint and credentials come from the AWS_* variables (AWS_ENDPOINT_URL for S3-compatible
/// servers).
///
/// `reel export posthog` sends recordings to a PostHog project.
///
/// Examples:
///   reel export --html session.reel.zip -o session.html
///   reel export --html -o player.html
///   reel export --all --server http://127.0.0.1:8080 --token $REEL_ADMIN_TOKEN --to s3://bucket/reel --since 2026-01-01
///   duckdb -c "select count(*) from read_parquet('out/parquet/events/*/*.parquet', hive_partitioning=true) where kind='click'"
///   reel export posthog recordings/*.reel.zip --host https://eu.i.posthog.com --token phc_…
#[derive(clap::Args)]
#[command(
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    system: Option<To>,
    /// A package or any file `reel pack` accepts (non-packages are packed first; packages are
    /// checked whole, like `reel verify`, and refused if anything is wrong).
    input: Option<PathBuf>,
    /// Write one HTML file (give -o).
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    html: bool,
    /// With --html: warn when the page is larger than this many megabytes (assets inside a
    /// package make it grow; browsers slow down on very large pages).
    #[arg(long, value_name = "MB", default_value_t = 50)]
    warn_above_mb: u64,
    #[arg(short, long, required_unless_present = "all")]
    output: Option<PathBuf>,
    /// Every session of a Reel server (give --server, --token, --to).
    #[arg(long, requires = "to")]
    all: bool,
    /// With --all: the server.
    #[arg(long, env = "REEL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// With --all: the server's admin token.
    #[arg(long, env = "REEL_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With --all: a folder or s3://bucket/prefix.
    #[arg(long, requires = "all")]
    to: Option<String>,
    /// With --all: only sessions that started at or after this date (2026-01-31, RFC 3339, -7d).
    #[arg(long, requires = "all")]
    since: Option<String>,
    /// With --all: print a JSON summary on stdout.
    #[arg(long, requires = "all")]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

#[derive(clap::Subcommand)]
enum To {
    Posthog(super::import::ExportPosthogArgs),
}

/// The offline player page with the input inside it, as the renderer (screenshots, video) loads it.
pub fn player_page(path: &std::path::Path, limits: reel_format::Limits) -> anyhow::Result<String> {
    let pkg = as_package(path, limits)?;
    reel_server::assets::offline_html(Some(&pkg))
        .map_err(|e| anyhow::anyhow!("building the player: {e}"))
}

/// The input as package bytes: packages as they are, anything else packed in memory.
pub fn as_package(path: &std::path::Path, limits: reel_format::Limits) -> anyhow::Result<Vec<u8>> {
    let bytes = super::read_input(path)?;
    if bytes.starts_with(b"PK") {
        // Checked whole, like `reel verify`: the page must not be written (or served) for a
        // package whose entries the player then fails to read.
        let rep =
            reel_format::package::PackageReader::open(std::io::Cursor::new(&bytes[..]), limits)
                .and_then(|mut r| r.verify(None, &mut |_| {}))
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for w in &rep.warnings {
            ui::warn(w);
        }
        if rep.events == 0 {
            bail!("{}: holds no events; nothing to play", path.display());
        }
        return Ok(bytes);
    }
    let (_, rec) = super::import(path, limits)?;
    for w in &rec.warnings {
        ui::warn(w);
    }
    if rec.sessions.is_empty() || rec.sessions.iter().all(|s| s.event_count() == 0) {
        bail!("{}: holds no events; nothing to play", path.display());
    }
    let mut w = reel_format::package::PackageWriter::new(
        std::io::Cursor::new(Vec::new()),
        Default::default(),
    );
    for s in &rec.sessions {
        w.add_session(s)
            .with_context(|| path.display().to_string())?;
    }
    Ok(w.finish(None)?.0.into_inner())
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(To::Posthog(p)) = a.system {
        return super::import::export_posthog(p, a.limits.limits());
    }
    if a.all {
        let Some(token) = a.token else {
            bail!("--all needs the server's admin token: --token TOKEN or REEL_ADMIN_TOKEN");
        };
        return super::export_all::run(super::export_all::AllArgs {
            server: a.server,
            token,
            to: a.to.unwrap_or_default(),
            since: a.since,
            json: a.json,
        });
    }
    let _ = a.html;
    let Some(output) = a.output else {
        bail!("give -o FILE for the HTML page");
    };
    let pkg = match &a.input {
        Some(p) => Some(as_package(p, a.limits.limits())?),
        None => None,
    };
    let html = reel_server::assets::offline_html(pkg.as_deref())
        .map_err(|e| anyhow::anyhow!("building the player: {e}"))?;
    ui::write_atomic(&output, |f| {
        use std::io::Write;
        f.write_all(html.as_bytes())?;
        Ok(())
    })?;
    eprintln!(
        "wrote {} ({} KB); open it in any browser, no network needed",
        output.display(),
        html.len() / 1024
    );
    if html.len() as u64 > a.warn_above_mb.saturating_mul(1_000_000) {
        ui::warn(&format!(
            "{} is {} MB, above --warn-above-mb {}: its assets and events are inside (base64); large pages open slowly",
            output.display(),
            html.len() / 1_000_000,
            a.warn_above_mb
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Play a recording in the browser: serves the player on 127.0.0.1 and prints the URL.
///
/// Example:
///   reel play session.reel.zip            # then open the printed URL; Ctrl-C to stop
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PlayArgs {
    /// A package or any file `reel pack` accepts.
    file: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn play(a: PlayArgs) -> anyhow::Result<ExitCode> {
    let pkg = as_package(&a.file, a.limits.limits())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(reel_server::play(
        pkg,
        "recording.reel.zip".into(),
        &a.listen,
        |addr| {
            // A closed stdout only loses this line: the URL is on stderr too.
            let _ = crate::outln!("http://{addr}/");
            eprintln!(
                "playing {} at http://{addr}/ (Ctrl-C to stop)",
                a.file.display()
            );
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}
