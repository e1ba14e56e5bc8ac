//! `reel import posthog|sentry` and `reel export posthog`: flags, progress and summaries over
//! `reel-move`.
use crate::cmd::pack::human;
use crate::ui;
use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use reel_move::run::{Options, Output, Progress, Summary};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Import recordings from another system's API, resumably: one .reel.zip per recording in a
/// folder, or pushed to a Reel server.
///
/// Examples:
///   POSTHOG_API_KEY=phx_… reel import posthog --host https://eu.posthog.com --project 42 -o recordings/ --state import.json
///   SENTRY_AUTH_TOKEN=sntrys_… reel import sentry --host https://sentry.io --org acme --project web -o replays/
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    from: From,
}

#[derive(clap::Subcommand)]
enum From {
    Posthog(PosthogArgs),
    Sentry(SentryArgs),
}

/// Import a PostHog project's recordings through PostHog's API.
///
/// Lists the project's recordings (GET /api/projects/ID/session_recordings), fetches each one's
/// snapshot sources (blob_v2 in ranges of 20 keys, blob_v2_lts), and writes one package per
/// recording, keeping the listing's fields (distinct_id, person, start_url, counts, …) in its
/// meta.json under "posthog". The personal API key (scope session_recording:read) is read from
/// the environment and sent only as an Authorization header: it is never printed or written.
///
/// PostHog limits its recordings API to 12 requests a minute and 60 an hour on the free plan
/// (60/min, 300/h paid): --rate defaults to 12/min and spends at most 5× --rate per hour; 429
/// answers are waited out (Retry-After). Recordings deleted at the source (410) are skipped and
/// listed in the summary. With --state, a rerun after a kill or an outage continues where it
/// stopped: finished recordings are neither fetched nor written again.
///
/// Examples:
///   export POSTHOG_API_KEY=phx_…
///   reel import posthog --host https://eu.posthog.com --project 42 -o recordings/ --state import.json
///   reel import posthog --host https://us.posthog.com --project 42 --since 2026-01-01 --until -1d -o out/
///   reel import posthog --host https://eu.posthog.com --project 42 --session 0192… --server http://reel:8080 --token $REEL_ADMIN_TOKEN
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PosthogArgs {
    /// PostHog address (https://us.posthog.com, https://eu.posthog.com, your own); a pasted
    /// https://…/api/environments/ID/… URL works too.
    #[arg(long)]
    host: String,
    /// Project (environment) id, as in PostHog's URLs and settings.
    #[arg(long)]
    project: String,
    /// Environment variable holding the personal API key.
    #[arg(long, value_name = "NAME", default_value = "POSTHOG_API_KEY")]
    api_key_env: String,
    /// Only recordings started at or after DATE (2026-01-31, 2026-01-31T12:00:00Z or -7d).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only recordings started before DATE (default: now, fixed when the import starts).
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only this recording (repeat for more).
    #[arg(long = "session", value_name = "ID")]
    sessions: Vec<String>,
    /// Requests per minute to PostHog (0: no limit).
    #[arg(long, value_name = "N", default_value_t = reel_move::posthog::DEFAULT_RATE_PER_MINUTE)]
    rate: u32,
    #[command(flatten)]
    out: OutArgs,
}

/// Import a Sentry project's session replays through Sentry's API.
///
/// Lists the project's replays (GET /api/0/organizations/ORG/replays/), fetches each replay's
/// recording segments (rrweb events) and writes one package per replay. Sentry's breadcrumbs stay
/// as custom events; console breadcrumbs also become console events (Reel's console panel shows
/// them); the replay's listing (user, urls, browser, counts, …) is kept in meta.json under
/// "sentry". The auth token (scope project:read) is read from the environment, never printed.
///
/// Examples:
///   export SENTRY_AUTH_TOKEN=sntrys_…
///   reel import sentry --host https://sentry.io --org acme --project web -o replays/ --state sentry.json
///   reel import sentry --host https://sentry.example.com --org acme --project web --replay 3a5f… -o out/
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SentryArgs {
    /// Sentry address (https://sentry.io, https://de.sentry.io or self-hosted).
    #[arg(long)]
    host: String,
    /// Organization slug.
    #[arg(long)]
    org: String,
    /// Project slug.
    #[arg(long)]
    project: String,
    /// Environment variable holding the auth token.
    #[arg(long, value_name = "NAME", default_value = "SENTRY_AUTH_TOKEN")]
    api_key_env: String,
    /// Only replays started at or after DATE (default: the last 90 days, Sentry's retention).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only replays started before DATE.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only this replay (repeat for more).
    #[arg(long = "replay", value_name = "ID")]
    replays: Vec<String>,
    /// Requests per minute to Sentry (0: no limit; 429 answers are always waited out).
    #[arg(long, value_name = "N", default_value_t = 0)]
    rate: u32,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(clap::Args)]
struct OutArgs {
    /// Folder for the packages: <id>.reel.zip per recording (written whole, then renamed).
    #[arg(
        short,
        long,
        value_name = "DIR",
        required_unless_present = "server",
        conflicts_with = "server"
    )]
    output: Option<PathBuf>,
    /// Push each recording to this Reel server instead (it stores a recording once, however
    /// often it is pushed).
    #[arg(long, value_name = "URL", requires = "token")]
    server: Option<String>,
    /// The Reel server's admin token (with --server).
    #[arg(long, env = "REEL_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Remember finished recordings in FILE; a rerun skips them.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Recordings fetched at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    concurrency: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

fn secret(var: &str, what: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => bail!(
            "{var} is not set: put {what} in it (or name another variable with --api-key-env)"
        ),
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    match a.from {
        From::Posthog(p) => {
            let key = secret(
                &p.api_key_env,
                "a PostHog personal API key with the session_recording:read scope",
            )?;
            let src = reel_move::posthog::PostHog::new(reel_move::posthog::Config {
                host: p.host,
                project: p.project,
                key,
                since: p.since,
                until: p.until,
                sessions: p.sessions,
                rate: p.rate,
                limits: p.out.limits.limits(),
            })?;
            import(&src, p.out)
        }
        From::Sentry(s) => {
            let token = secret(
                &s.api_key_env,
                "a Sentry auth token with the project:read scope",
            )?;
            let src = reel_move::sentry::Sentry::new(reel_move::sentry::Config {
                host: s.host,
                org: s.org,
                project: s.project,
                token,
                since: s.since,
                until: s.until,
                replays: s.replays,
                rate: s.rate,
                limits: s.out.limits.limits(),
            })?;
            import(&src, s.out)
        }
    }
}

fn import(src: &dyn reel_move::run::Source, o: OutArgs) -> anyhow::Result<ExitCode> {
    if o.concurrency == 0 {
        bail!("--concurrency 0: use 1 or more");
    }
    let (output, place) = match (&o.output, &o.server, o.token) {
        (Some(d), _, _) => (Output::Dir(d.clone()), d.display().to_string()),
        (None, Some(url), Some(t)) => (Output::server(url, t), url.clone()),
        _ => bail!("give -o DIR, or --server URL with --token"),
    };
    let opts = Options {
        output,
        state: o.state.clone(),
        concurrency: o.concurrency,
        level: 5,
    };
    let bar = Bar::new();
    let summary = reel_move::run::run(src, &opts, &|p| bar.update(p))?;
    bar.finish();
    report(&summary, &place, o.json)
}

fn report(s: &Summary, place: &str, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(s)?)?;
    } else {
        let rate = s.event_bytes as f64 / s.seconds.max(0.001);
        eprintln!(
            "imported {} recording(s), {} events ({}, {}/s) into {place} in {:.1} s; {} requests ({} retried, {} rate-limited), {} downloaded",
            s.imported.len(),
            s.events,
            human(s.event_bytes),
            human(rate as u64),
            s.seconds,
            s.requests,
            s.retries,
            s.throttled,
            human(s.downloaded_bytes),
        );
        if s.already_done > 0 {
            eprintln!(
                "{} recording(s) already done by an earlier run: skipped",
                s.already_done
            );
        }
        if !s.gone.is_empty() {
            eprintln!(
                "{} recording(s) deleted at the source (410), skipped: {}",
                s.gone.len(),
                s.gone.join(", ")
            );
        }
        if !s.empty.is_empty() {
            eprintln!(
                "{} recording(s) hold no events yet (still recording?), not written: {}",
                s.empty.len(),
                s.empty.join(", ")
            );
        }
        for f in &s.failed {
            eprintln!("failed: {}: {}", f.id, f.error);
        }
    }
    if !s.failed.is_empty() {
        ui::error(&anyhow::anyhow!(
            "{} recording(s) failed; run the same command again to retry them (finished ones are skipped with --state)",
            s.failed.len()
        ));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Recordings done/total, decoded bytes and their rate, ETA — on a terminal only.
struct Bar {
    pb: ProgressBar,
    started: std::time::Instant,
}

impl Bar {
    fn new() -> Bar {
        let pb = if std::io::stderr().is_terminal() {
            let pb = ProgressBar::new_spinner();
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            pb.set_message("listing recordings");
            pb
        } else {
            ProgressBar::hidden()
        };
        Bar {
            pb,
            started: std::time::Instant::now(),
        }
    }

    fn update(&self, p: Progress) {
        match p {
            Progress::Listing(n) => self.pb.set_message(format!("listing: {n} recordings")),
            Progress::Listed { todo, .. } => {
                self.pb.set_length(todo as u64);
                self.pb.set_position(0);
                self.pb.set_style(
                    ProgressStyle::with_template(
                        "import [{bar:30}] {pos}/{len} recordings {msg} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                self.pb.set_message("");
            }
            Progress::Decoded(bytes) => {
                let secs = self.started.elapsed().as_secs_f64().max(0.001);
                self.pb.set_message(format!(
                    "{} ({}/s)",
                    human(bytes),
                    human((bytes as f64 / secs) as u64)
                ));
            }
            Progress::Finished { .. } => self.pb.inc(1),
        }
    }

    fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

/// Send recordings to a PostHog project (or anything speaking its capture protocol, like
/// `reel serve`) as posthog-js would: `$snapshot` events to /s/, gzip, ≤ 1 MB batches, retried.
/// Session ids, window ids, timestamps and distinct ids are kept.
///
/// Examples:
///   reel export posthog recordings/*.reel.zip --host https://eu.i.posthog.com --token phc_…
///   reel export posthog session.reel.zip --host http://127.0.0.1:8080 --token $REEL_CAPTURE_TOKEN --json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ExportPosthogArgs {
    /// Packages or any file `reel pack` accepts.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Capture address (PostHog Cloud: https://us.i.posthog.com or https://eu.i.posthog.com).
    #[arg(long)]
    host: String,
    /// The project API key (phc_…): the public token posthog-js is set up with.
    #[arg(long, env = "POSTHOG_PROJECT_API_KEY", hide_env_values = true)]
    token: String,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

pub fn export_posthog(
    a: ExportPosthogArgs,
    limits: reel_format::Limits,
) -> anyhow::Result<ExitCode> {
    let exporter = reel_move::capture::Exporter::new(&a.host, &a.token)?;
    let started = std::time::Instant::now();
    let bar = ui::bytes_bar(super::total_size(&a.inputs), "export");
    let mut sessions = Vec::new();
    let mut total = reel_move::capture::Sent::default();
    for p in &a.inputs {
        let (_, rec) = super::import(p, limits)?;
        for w in &rec.warnings {
            ui::warn(&format!("{}: {w}", p.display()));
        }
        for s in &rec.sessions {
            let sent = exporter.session(s, &mut |_| {})?;
            total.events += sent.events;
            total.batches += sent.batches;
            total.bytes += sent.bytes;
            sessions.push(serde_json::json!({"file": p.display().to_string(), "session": s.id, "events": sent.events, "batches": sent.batches}));
        }
        bar.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    }
    bar.finish_and_clear();
    let c = &exporter.client().counters;
    let requests = c.requests.load(std::sync::atomic::Ordering::Relaxed);
    let retries = c.retries.load(std::sync::atomic::Ordering::Relaxed);
    if a.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "host": a.host, "sessions": sessions, "events": total.events, "batches": total.batches,
                "event_bytes": total.bytes, "requests": requests, "retries": retries,
                "seconds": started.elapsed().as_secs_f64(),
            }))?
        )?;
    } else {
        eprintln!(
            "exported {} session(s), {} events ({}) in {} request(s) ({} retried) to {}",
            sessions.len(),
            total.events,
            human(total.bytes),
            requests,
            retries,
            a.host
        );
    }
    Ok(ExitCode::SUCCESS)
}
