use super::pack::{human, spool_inputs};
use crate::ui;
use anyhow::bail;
use reel_format::package::{iso_ms, PackageReader, PackageWriter, WriterOptions};
use reel_insight::{Analyzing, AssetScan, WindowAnalyzer};
use reel_move::assets::{collect, Policy};
use std::collections::BTreeSet;
use std::io::{BufWriter, Seek};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Pack recordings with the assets they load (images, fonts, stylesheets) inside the package.
///
/// Reads the inputs like `reel pack`, finds every URL the recording loads (img src/srcset,
/// picture source, link rel=stylesheet|icon, video poster, input type=image, SVG use, CSS url()
/// and @import in <style>, _cssText and style attributes, in snapshots and later mutations, every
/// window), fetches each once (stylesheets followed to their fonts and images) and writes them
/// into the package as assets/sha256/<hex> entries with a URL map in manifest.json (format 1.2).
/// A fetch that fails is reported; the package still plays, that asset stays a URL.
/// Private, loopback and link-local addresses are refused unless --allow-private.
///
/// Examples:
///   reel assets recording.json -o session.reel.zip
///   reel assets session.reel.zip --allow-origin https://shop.example -o offline.reel.zip
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Files to import (any input `reel pack` takes, packages included).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output package.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    fetch: FetchArgs,
    /// Sign the package with this secret key (from `reel keygen`).
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

/// How assets are fetched (`reel assets`, `reel pack --assets`).
#[derive(clap::Args, Clone, Debug)]
pub struct FetchArgs {
    /// Fetch only from this origin (e.g. https://shop.example); repeat for several.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Largest asset, in bytes.
    #[arg(long, value_name = "N", default_value_t = 20 << 20)]
    max_asset_bytes: u64,
    /// Most bytes of assets in all.
    #[arg(long, value_name = "N", default_value_t = 500 << 20)]
    max_total_bytes: u64,
    /// Seconds per request.
    #[arg(long, value_name = "S", default_value_t = 20.0)]
    timeout: f64,
    /// Also fetch from loopback, private and link-local addresses.
    #[arg(long)]
    allow_private: bool,
}

impl FetchArgs {
    pub fn policy(&self) -> anyhow::Result<Policy> {
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            bail!(
                "--timeout {}: use a number of seconds above 0",
                self.timeout
            );
        }
        for o in &self.allow_origins {
            let u = url::Url::parse(o).map_err(|e| anyhow::anyhow!("--allow-origin {o:?}: {e}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                bail!("--allow-origin {o:?}: use http(s)://host[:port]");
            }
        }
        Ok(Policy {
            allow_private: self.allow_private,
            allow_origins: self.allow_origins.clone(),
            max_asset_bytes: self.max_asset_bytes,
            max_total_bytes: self.max_total_bytes,
            timeout: Duration::from_secs_f64(self.timeout),
            ..Default::default()
        })
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let limits = a.limits.limits();
    let policy = a.fetch.policy()?;
    let key = a.sign.as_deref().map(super::secret_key).transpose()?;
    let mut warnings = Vec::new();
    let spool = spool_inputs(&a.inputs, limits, |p, _, rec| {
        warnings.extend(rec.warnings.iter().map(|w| format!("{}: {w}", p.display())));
    })?;
    if spool.session_ids().is_empty() || spool.events == 0 {
        bail!(
            "{}: no events found; nothing to pack",
            super::names(&a.inputs)
        );
    }
    for w in &warnings {
        ui::warn(w);
    }
    let config = reel_insight::Config::default();
    let mut result = None;
    ui::write_atomic(&a.output, |f| {
        let mut w = PackageWriter::new(
            BufWriter::with_capacity(1 << 20, &mut *f),
            WriterOptions {
                producer: format!("reel {}", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            },
        );
        let got = write_with_assets(
            spool,
            &mut w,
            &mut |_| {},
            &config,
            &policy,
            &a.inputs,
            limits,
        )?;
        let (buf, _) = w.finish(key.as_ref())?;
        buf.into_inner()
            .map_err(|e| anyhow::anyhow!("{}: {}", a.output.display(), e.error()))?;
        // What was written reads back and verifies before it takes the output's name.
        let mut r = f.try_clone()?;
        r.rewind()?;
        PackageReader::open(r, limits)?.verify(None, &mut |_| {})?;
        result = Some(got);
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.output.display()))?;
    let got = result.expect("written");
    let urls = got.fetched;
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "output": a.output.display().to_string(),
                "fetched": urls,
                "failed": got.failed,
                "bytes": got.bytes,
            }))?
        )?;
    } else {
        report(&got);
        eprintln!("wrote {}", a.output.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// What failed (warnings) and what the package holds, on stderr.
pub(crate) fn report(got: &reel_move::assets::Collected) {
    for f in &got.failed {
        ui::warn(&format!("{}: {}", f.url, f.error));
    }
    eprintln!(
        "{} asset URL(s) ({}) inside, {} failed",
        got.fetched,
        human(got.bytes),
        got.failed.len()
    );
}

/// Write the spool's sessions into `w` with their `summary.json` (like `reel pack`), find the
/// URLs they load while doing so, keep the assets input packages already hold, fetch the rest
/// under `policy` and add them.
pub(crate) fn write_with_assets<W: std::io::Write + Seek>(
    spool: reel_format::package::Spool,
    w: &mut PackageWriter<W>,
    progress: &mut dyn FnMut(u64),
    config: &reel_insight::Config,
    policy: &Policy,
    inputs: &[PathBuf],
    limits: reel_format::Limits,
) -> anyhow::Result<reel_move::assets::Collected> {
    let (_, windows) =
        spool.write_parallel(w, progress, &mut |_| Ok(()), &|sid, wid| Analyzing {
            inner: AssetScan::new(),
            window: WindowAnalyzer::new(sid, wid, config),
        })?;
    let scans = reel_insight::write_summaries(w, windows, config)?;
    let mut urls = BTreeSet::new();
    for (_, s) in scans {
        if s.dropped > 0 {
            ui::warn(&format!(
                "a window refers to more than {} URLs; {} left out",
                reel_insight::assets::MAX_URLS,
                s.dropped
            ));
        }
        urls.extend(s.urls);
    }
    // Assets the input packages already hold are kept, not fetched again (their stylesheets'
    // references are looked at again: what failed last time is tried once more).
    let mut have = BTreeSet::new();
    for p in inputs {
        carry_assets(p, limits, w, &mut have, &mut urls)?;
    }
    let bar = ui::count_bar(urls.len() as u64, "assets");
    let mut got = collect(
        urls,
        &have,
        policy,
        &mut |done, known, _| {
            bar.set_length(known as u64);
            bar.set_position(done as u64);
        },
        &mut |f| -> anyhow::Result<()> {
            let at = iso_ms(f.fetched_ms);
            for u in &f.urls {
                if !w.has_asset(u) {
                    w.add_asset(u, &f.bytes, &f.content_type, &at)?;
                }
            }
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    for (from, target) in &got.aliases {
        w.add_asset_alias(from, target)?;
    }
    got.fetched += have.len();
    Ok(got)
}

/// If `path` is a package with assets (format 1.2), copy them into `w` (hash checked), note
/// their URLs in `have`, and add what its stylesheets refer to to `urls`.
/// `path` opened as a package, or `None` when it is another kind of input (not a ZIP).
pub(crate) fn open_package(
    path: &std::path::Path,
    limits: reel_format::Limits,
) -> anyhow::Result<Option<PackageReader<std::fs::File>>> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    if std::io::Read::read(&mut f, &mut magic)? < 2 || magic != *b"PK" {
        return Ok(None);
    }
    f.rewind()?;
    PackageReader::open(f, limits)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn carry_assets<W: std::io::Write + Seek>(
    path: &std::path::Path,
    limits: reel_format::Limits,
    w: &mut PackageWriter<W>,
    have: &mut BTreeSet<String>,
    urls: &mut BTreeSet<String>,
) -> anyhow::Result<()> {
    let Some(mut r) = open_package(path, limits)? else {
        return Ok(());
    };
    let listed: Vec<String> = r.manifest.assets.keys().cloned().collect();
    for u in listed {
        if have.contains(&u) {
            continue;
        }
        let Some((entry, bytes)) = r
            .read_asset(&u)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        else {
            continue;
        };
        w.add_asset(&u, &bytes, &entry.content_type, &entry.fetched_at)?;
        if entry.content_type == "text/css" {
            urls.extend(reel_insight::assets::stylesheet_urls(&u, &bytes));
        }
        have.insert(u);
    }
    for u in have.iter() {
        urls.remove(u);
    }
    Ok(())
}
