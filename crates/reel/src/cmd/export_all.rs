//! `reel export --all`: a server's existing history into a folder or bucket, laid out as
//! `reel serve --export-to` writes it, resumably.
use crate::ui;
use anyhow::{bail, Context};
use reel_store::export::{ExportFiles, ExportKeys, ExportTarget};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Where the run keeps what it has written, in the target itself (so a rerun from any machine
/// continues): session id → version written and its keys.
const STATE_KEY: &str = ".reel-export-state.json";
/// Largest state file read (a line per session: ~200 bytes; 64 MiB is ~300,000 sessions).
const STATE_CAP: usize = 64 << 20;
/// The state is saved after this many sessions (and at the end).
const SAVE_EVERY: usize = 10;

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct State {
    version: u32,
    sessions: BTreeMap<String, Done>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, PartialEq)]
struct Done {
    /// What identifies the session's content on the server: end time, event count and size.
    signature: String,
    keys: Vec<String>,
}

pub struct AllArgs {
    pub server: String,
    pub token: String,
    pub to: String,
    pub since: Option<String>,
    pub json: bool,
}

#[derive(serde::Serialize, Default)]
struct Summary {
    target: String,
    listed: u64,
    exported: u64,
    unchanged: u64,
    gone: u64,
    failed: u64,
    bytes: u64,
    failures: Vec<serde_json::Value>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(600)))
        .build()
        .into()
}

fn signature(row: &serde_json::Value) -> String {
    format!(
        "{}:{}:{}",
        row["end_ms"].as_i64().unwrap_or(0),
        row["event_count"].as_i64().unwrap_or(0),
        row["size"].as_i64().unwrap_or(0)
    )
}

pub fn run(a: AllArgs) -> anyhow::Result<ExitCode> {
    let server = a.server.trim_end_matches('/').to_string();
    let since = match &a.since {
        Some(s) => Some(reel_move::iso(reel_move::parse_date(s).context("--since")?)),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let target = ExportTarget::open(&a.to).map_err(|e| anyhow::anyhow!("--to {}: {e}", a.to))?;
    let mut state: State = match rt
        .block_on(target.get_small(STATE_KEY, STATE_CAP))
        .map_err(|e| anyhow::anyhow!("--to {}: cannot read {STATE_KEY}: {e}", a.to))?
    {
        Some(b) => serde_json::from_slice(&b).with_context(|| {
            format!(
                "{}/{STATE_KEY}: not a state file of reel export --all (delete it to start over)",
                a.to
            )
        })?,
        None => State {
            version: 1,
            ..Default::default()
        },
    };
    let http = agent();
    let auth = format!("Bearer {}", a.token);
    let mut sum = Summary {
        target: a.to.clone(),
        ..Default::default()
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut cursor: Option<String> = None;
    let mut since_save = 0;
    loop {
        let mut url = format!("{server}/api/v1/sessions?limit=200");
        if let Some(s) = &since {
            url.push_str(&format!("&from={s}"));
        }
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", reel_move::http::enc(c)));
        }
        let page = get_json(&http, &url, &auth, &server)?;
        let rows = page["results"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            let Some(id) = row["id"].as_str() else {
                continue;
            };
            sum.listed += 1;
            // The id names objects in the target: only ids a package may carry (no '/', no '..').
            if !reel_format::package::valid_id(id) {
                sum.failed += 1;
                ui::warn(&format!("{id:?}: not a session id Reel writes; skipped"));
                sum.failures
                    .push(serde_json::json!({"session_id": id, "error": "invalid session id"}));
                continue;
            }
            let sig = signature(row);
            if state.sessions.get(id).is_some_and(|d| d.signature == sig) {
                sum.unchanged += 1;
                continue;
            }
            bar.set_message(format!(
                "{} exported, {} unchanged, {} failed; now {id}",
                sum.exported, sum.unchanged, sum.failed
            ));
            bar.tick();
            let start_ms = row["start_ms"].as_i64().unwrap_or(0);
            let old = state
                .sessions
                .get(id)
                .map(|d| d.keys.clone())
                .unwrap_or_default();
            match export_one(&rt, &http, &auth, &server, &target, id, start_ms, &old) {
                Ok(Some((keys, bytes))) => {
                    sum.exported += 1;
                    sum.bytes += bytes;
                    state.sessions.insert(
                        id.to_string(),
                        Done {
                            signature: sig,
                            keys: keys.all().iter().map(|k| k.to_string()).collect(),
                        },
                    );
                    since_save += 1;
                }
                Ok(None) => sum.gone += 1,
                Err(e) => {
                    sum.failed += 1;
                    ui::warn(&format!("{id}: {e:#} (a rerun tries it again)"));
                    sum.failures
                        .push(serde_json::json!({"session_id": id, "error": format!("{e:#}")}));
                }
            }
            if since_save >= SAVE_EVERY {
                save(&rt, &target, &state)?;
                since_save = 0;
            }
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if !page["has_next"].as_bool().unwrap_or(false) || cursor.is_none() || rows.is_empty() {
            break;
        }
    }
    save(&rt, &target, &state)?;
    bar.finish_and_clear();
    if a.json {
        crate::outln!("{}", serde_json::to_string(&sum)?)?;
    } else {
        eprintln!(
            "exported {} session(s) ({} bytes of packages) to {}; {} unchanged since the last run, {} deleted meanwhile, {} failed",
            sum.exported, sum.bytes, a.to, sum.unchanged, sum.gone, sum.failed
        );
    }
    Ok(if sum.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn save(rt: &tokio::runtime::Runtime, target: &ExportTarget, state: &State) -> anyhow::Result<()> {
    rt.block_on(target.put_small(STATE_KEY, serde_json::to_vec(state)?))
        .map_err(|e| anyhow::anyhow!("{}: cannot write {STATE_KEY}: {e}", target.url))
}

fn get_json(
    http: &ureq::Agent,
    url: &str,
    auth: &str,
    server: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut res = http
        .get(url)
        .header("Authorization", auth)
        .call()
        .with_context(|| format!("{server}: cannot reach the server"))?;
    let status = res.status().as_u16();
    let body = res
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_default();
    if status != 200 {
        return Err(super::remote::fail(server, status, &body));
    }
    serde_json::from_str(&body).with_context(|| format!("{url}: the answer is not JSON"))
}

/// Download one session's package (export policy applied by the server) to a temporary file,
/// derive its Parquet tables and publish all three. None: the session is gone (404).
#[allow(clippy::too_many_arguments)]
fn export_one(
    rt: &tokio::runtime::Runtime,
    http: &ureq::Agent,
    auth: &str,
    server: &str,
    target: &ExportTarget,
    id: &str,
    start_ms: i64,
    old_keys: &[String],
) -> anyhow::Result<Option<(ExportKeys, u64)>> {
    let mut last = None;
    for attempt in 0..3u32 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(500 << attempt));
        }
        let url = format!(
            "{server}/api/v1/sessions/{}/export",
            reel_move::http::enc(id)
        );
        let mut res = match http.get(&url).header("Authorization", auth).call() {
            Ok(r) => r,
            Err(e) => {
                last = Some(anyhow::anyhow!("{server}: {e}"));
                continue;
            }
        };
        let status = res.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            let body = res.body_mut().read_to_string().unwrap_or_default();
            let e = super::remote::fail(server, status, &body);
            if status < 500 && status != 429 {
                return Err(e);
            }
            last = Some(e);
            continue;
        }
        let mut file = tempfile::tempfile()?;
        let bytes = std::io::copy(
            &mut res.body_mut().with_config().limit(u64::MAX).reader(),
            &mut file,
        );
        let bytes = match bytes {
            Ok(n) => n,
            Err(e) => {
                last = Some(anyhow::anyhow!("{server}: reading the package: {e}"));
                continue;
            }
        };
        let (sessions_parquet, events_parquet) = reel_server::export_to::parquet_tables(&file)
            .map_err(|e| anyhow::anyhow!("{id}: Parquet: {e}"))?;
        let keys = ExportKeys::new(id, start_ms);
        let files = ExportFiles {
            package: file,
            sessions_parquet,
            events_parquet,
        };
        match rt.block_on(target.publish(&keys, files, old_keys)) {
            Ok(()) => return Ok(Some((keys, bytes))),
            Err(e) => last = Some(anyhow::anyhow!("{}: {e}", target.url)),
        }
    }
    match last {
        Some(e) => Err(e),
        None => bail!("{id}: export failed"),
    }
}
