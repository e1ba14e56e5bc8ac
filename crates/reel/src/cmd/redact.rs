//! `reel redact`: remove what must not be kept from recordings (see crates/reel-redact and
//! docs/redaction.md). The logic lives in `reel-redact`; this is flags, files and printing.
use crate::ui;
use anyhow::{anyhow, bail, Context};
use reel_format::package::{
    PackageWriter, SessionInfo, Spool, WindowFilter, WriterOptions, REDACTION_REPORT,
};
use reel_format::Event;
use reel_insight::assets::AssetScan;
use reel_redact::{Redactor, Report, SessionReport, WindowRedactor};
use std::collections::BTreeSet;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Redact recordings into a new package, with a report of what was removed.
///
/// Inputs: packages and every file `reel pack` accepts (several inputs, such as the /s/ bodies of
/// one session, make one package). Rules come from a TOML file (docs/redaction.md) or a preset:
/// `default` (inputs, built-in patterns, sensitive headers, rr-block/ph-no-capture/data-reel-block
/// blocked, rr-mask/ph-mask/data-reel-mask masked) or `strict` (all text, inputs and images).
///
/// The output embeds redaction-report.json (counts per rule and field, never the values) and its
/// manifest records the rules' name and hash. Nothing is written if anything fails.
///
/// Assets of input packages (`reel assets`) are kept when the redacted recording still loads
/// them (directly or through a kept stylesheet); the others, referenced only by what was removed
/// (a blocked element, a blocked image, a URL masked by a pattern), are dropped and counted in
/// the report (`assets.unreferenced`).
///
/// Examples:
///   reel redact session.reel.zip --preset default -o clean.reel.zip
///   reel redact bodies/*.bin --rules rules.toml -o clean.reel.zip --sign key.secret
///   reel redact recording.json --rules rules.toml --report-only --json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Files to redact.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output package.
    #[arg(short, long, required_unless_present = "report_only")]
    output: Option<PathBuf>,
    /// Rules file (TOML).
    #[arg(long, conflicts_with = "preset", required_unless_present = "preset")]
    rules: Option<PathBuf>,
    /// A built-in rules preset: default or strict.
    #[arg(long, value_parser = ["default", "strict"])]
    preset: Option<String>,
    /// Print what would be removed; write nothing.
    #[arg(long)]
    report_only: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Sign the output with this secret key (from `reel keygen`).
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Deflate level 0-9.
    #[arg(long, default_value_t = 6)]
    level: i64,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

/// One window's redactor, on the thread that compresses that window.
/// The window's redactor, then a scan of what it kept for the URLs the page still loads.
struct Win(WindowRedactor, AssetScan);

impl WindowFilter for Win {
    fn event(&mut self, e: Event) -> reel_format::Result<Option<Event>> {
        let out = self.0.event(e).map_err(|er| match er {
            reel_redact::RedactError::Format(f) => f,
        })?;
        if let Some(o) = &out {
            self.1.observe(o);
        }
        Ok(out)
    }
}

/// Copy the assets of the input packages that the redacted recording still loads (`want`, and
/// what kept stylesheets load in turn). Returns (kept, dropped) counts of URLs.
fn keep_assets<W: Write + Seek>(
    inputs: &[PathBuf],
    limits: reel_format::Limits,
    w: &mut PackageWriter<W>,
    mut want: BTreeSet<String>,
) -> anyhow::Result<(u64, u64)> {
    let mut listed = BTreeSet::new();
    for p in inputs {
        let Some(mut r) = super::assets::open_package(p, limits)? else {
            continue;
        };
        let here: BTreeSet<String> = r.manifest.assets.keys().cloned().collect();
        loop {
            let next: Vec<String> = want
                .iter()
                .filter(|u| here.contains(*u) && !w.has_asset(u))
                .cloned()
                .collect();
            if next.is_empty() {
                break;
            }
            for u in next {
                let Some((entry, bytes)) = r
                    .read_asset(&u)
                    .map_err(|e| anyhow!("{}: {e}", p.display()))?
                else {
                    want.remove(&u);
                    continue;
                };
                w.add_asset(&u, &bytes, &entry.content_type, &entry.fetched_at)?;
                if entry.content_type == "text/css" {
                    want.extend(reel_insight::assets::stylesheet_urls(&u, &bytes));
                }
            }
        }
        listed.extend(here);
    }
    let kept = listed.iter().filter(|u| w.has_asset(u)).count() as u64;
    Ok((kept, listed.len() as u64 - kept))
}

/// Redact every session and window of `spool` into `w` (windows on one thread per core); returns
/// the report, sessions in package order.
fn redact_into<W: Write + Seek>(
    spool: Spool,
    w: &mut PackageWriter<W>,
    r: &Redactor,
    bar: &indicatif::ProgressBar,
    inputs: &[PathBuf],
    limits: reel_format::Limits,
) -> anyhow::Result<Report> {
    let mut sessions: Vec<SessionReport> = Vec::new();
    let config = reel_insight::Config::default();
    let (_, windows) = spool.write_parallel(
        w,
        &mut |done| bar.set_position(done),
        &mut |info: &mut SessionInfo| {
            let mut s = SessionReport {
                id: info.id.clone(),
                ..Default::default()
            };
            r.session_facts(
                &mut info.distinct_id,
                &mut info.person,
                &mut info.extra,
                &mut s.counts,
            );
            sessions.push(s);
            Ok(())
        },
        &|sid, wid| reel_insight::Analyzing {
            inner: Win(r.window(), AssetScan::new()),
            window: reel_insight::WindowAnalyzer::new(sid, wid, &config),
        },
    )?;
    // Moments and summary of what is left after redaction.
    let windows = reel_insight::write_summaries(w, windows, &config)?;
    let mut report = Report::new(r.info().clone());
    let mut at = 0;
    let mut want = BTreeSet::new();
    for (sid, Win(win, scan)) in windows {
        want.extend(scan.urls);
        while sessions.get(at).is_some_and(|s| s.id != sid) {
            at += 1;
        }
        let s = sessions
            .get_mut(at)
            .ok_or_else(|| anyhow!("window of an unknown session {sid}"))?;
        s.counts.merge(&win.counts);
        s.totals.merge(&win.totals);
    }
    for s in sessions {
        report.add_session(s);
    }
    let (_, dropped) = keep_assets(inputs, limits, w, want)?;
    report.counts.add("assets.unreferenced", "asset", dropped);
    // Comments travel too, through the rules' text patterns.
    let mut counts = reel_redact::Counts::default();
    super::pack::carry_comments(inputs, limits, w, Some(r), &mut counts)?;
    report.counts.merge(&counts);
    Ok(report)
}

/// A writer that keeps nothing (for --report-only).
#[derive(Default)]
struct Nothing {
    pos: u64,
    len: u64,
}
impl Write for Nothing {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.pos += b.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Seek for Nothing {
    fn seek(&mut self, p: SeekFrom) -> std::io::Result<u64> {
        self.pos = match p {
            SeekFrom::Start(x) => x,
            SeekFrom::End(d) => (self.len as i64 + d).max(0) as u64,
            SeekFrom::Current(d) => (self.pos as i64 + d).max(0) as u64,
        };
        Ok(self.pos)
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let limits = a.limits.limits();
    if !(0..=9).contains(&a.level) {
        bail!("--level {}: use 0-9", a.level);
    }
    let redactor = match (&a.rules, &a.preset) {
        (Some(p), _) => {
            let meta =
                std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
            if meta.len() > reel_redact::rules::MAX_RULES_BYTES as u64 {
                bail!(
                    "{}: rules file is larger than {} bytes",
                    p.display(),
                    reel_redact::rules::MAX_RULES_BYTES
                );
            }
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            Redactor::from_toml(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?
        }
        (None, Some(name)) => Redactor::preset(name).map_err(|e| anyhow!("--preset: {e}"))?,
        (None, None) => bail!("give --rules FILE or --preset default|strict"),
    };
    let key = a.sign.as_deref().map(super::secret_key).transpose()?;
    let spool = super::pack::spool_inputs(&a.inputs, limits, |p, _kind, rec| {
        for w in &rec.warnings {
            ui::warn(&format!("{}: {w}", p.display()));
        }
    })?;
    if spool.session_ids().is_empty() || spool.events == 0 {
        bail!(
            "{}: no events found; nothing to redact",
            super::names(&a.inputs)
        );
    }
    let bar = ui::bytes_bar(spool.bytes, "redact");
    let opts = WriterOptions {
        level: a.level,
        producer: format!("reel {}", env!("CARGO_PKG_VERSION")),
        redaction: None,
    };
    if a.report_only {
        // Nothing is kept: store, don't deflate.
        let mut w = PackageWriter::new(Nothing::default(), WriterOptions { level: 1, ..opts });
        let report = redact_into(spool, &mut w, &redactor, &bar, &a.inputs, limits)?;
        bar.finish_and_clear();
        print_report(&report, a.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = a.output.clone().expect("clap requires -o");
    let at = Report::new(redactor.info().clone()).redacted_at;
    let mut report = None;
    ui::write_atomic(&out, |f| {
        let mut w = PackageWriter::new(
            BufWriter::with_capacity(1 << 20, f),
            WriterOptions {
                redaction: Some(redactor.manifest_entry(&at)),
                ..opts
            },
        );
        let mut rep = redact_into(spool, &mut w, &redactor, &bar, &a.inputs, limits)?;
        rep.redacted_at = at.clone();
        let bytes = serde_json::to_vec_pretty(&rep)?;
        report = Some(rep);
        w.add_file(REDACTION_REPORT, &bytes)?;
        let (buf, _m) = w.finish(key.as_ref())?;
        buf.into_inner()
            .map_err(|e| anyhow!("{}: {}", out.display(), e.error()))?;
        Ok(())
    })
    .map_err(|e| anyhow!("{}: {e}", out.display()))?;
    bar.finish_and_clear();
    let report = report.expect("written");
    if a.json {
        print_report(&report, true)?;
    } else {
        eprint!("{}", report.human());
        eprintln!(
            "wrote {}{}",
            out.display(),
            if key.is_some() { " (signed)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(r)?)?;
    } else {
        std::io::stdout().lock().write_all(r.human().as_bytes())?;
    }
    Ok(())
}
