//! Server configuration, shared state, request metrics and background work (sealing, retention).
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use reel_store::index::Project;
use reel_store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` (default: SQLite in the data folder).
    pub index_url: String,
    /// A folder or `s3://bucket/prefix` (default: `blobs/` in the data folder).
    pub blobs_url: String,
    pub posthog_js_dist: Option<PathBuf>,
    pub capture_token: Option<String>,
    pub admin_token: Option<String>,
    /// Largest request body (compressed), bytes.
    pub body_limit: usize,
    /// Largest decompressed body of `/s/` and `/api/v1/ingest`, bytes.
    pub decompressed_limit: u64,
    /// Largest decompressed body of the analytics routes (`/e/`, `/i/v0/e/`, `/batch/`, `/capture/`).
    pub analytics_limit: u64,
    /// Largest decompressed body of `/flags/` and `/decide/`.
    pub flags_limit: u64,
    /// Most bytes one request may unpack from PostHog `cv` fields, in total.
    pub cv_limit: u64,
    /// Memory for request bodies being decoded and parsed at once (twice each decoded body);
    /// beyond it capture requests are answered 503 with `Retry-After`.
    pub inflight_limit: u64,
    /// Per capture token: decoded body bytes per second (0: no limit).
    pub quota_bytes_per_second: u64,
    /// Per capture token: sessions new to this server per minute (0: no limit).
    pub quota_new_sessions_per_minute: u64,
    /// Per capture token: sessions one request may write to (0: no limit).
    pub quota_sessions_per_request: u64,
    /// Most distinct `$pageview` URLs one analytics request may record.
    pub max_urls_per_request: usize,
    pub retention_days: Option<u64>,
    /// How long a deleted session id stays tombstoned (late batches dropped), days.
    pub tombstone_days: u64,
    /// Seal a session after it has been quiet this long.
    pub seal_idle: Duration,
    /// How often the background sweep runs.
    pub sweep_every: Duration,
    /// Serve `/metrics` on this address instead of the main listener (`--metrics-listen`).
    pub metrics_listen: Option<String>,
    /// Per-session cap on stored event bytes (uncompressed JSON; 0: none). `--max-session-bytes`.
    pub max_session_bytes: u64,
    /// Memory budget of the ingest policy's per-window DOM state, bytes (least recently used
    /// windows are dropped past it). `--redaction-state-bytes`.
    pub redaction_state_bytes: usize,
    /// How long a rendered video stays downloadable (`--render-ttl-seconds`, default 24 h).
    pub render_ttl: Duration,
    /// Copy every sealed session (package + Parquet) to this folder or `s3://bucket/prefix`
    /// (`--export-to`); see `export_to`.
    pub export_to: Option<String>,
    /// An OpenAI-compatible endpoint for optional LLM summaries (`--llm-url`); off when `None`.
    pub llm: Option<reel_move::llm::Endpoint>,
    /// Origins whose recordings' assets are fetched and kept (`--capture-assets`; empty: off).
    /// Asset URLs must be of these origins too. See `asset_capture`.
    pub capture_assets: Vec<String>,
    /// Fetch assets from loopback, private and link-local addresses too
    /// (`--capture-assets-allow-private`).
    pub capture_assets_allow_private: bool,
    /// Largest asset kept, bytes (`--capture-assets-max-bytes`).
    pub capture_assets_max_bytes: u64,
    /// Most bytes of assets one session links (`--capture-assets-session-bytes`; 0: no cap).
    pub capture_assets_session_bytes: u64,
}

impl Config {
    pub fn embedded(data_dir: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            index_url: format!("sqlite://{}", data_dir.join("index.sqlite").display()),
            blobs_url: data_dir.join("blobs").display().to_string(),
            data_dir,
            posthog_js_dist: None,
            capture_token: None,
            admin_token: None,
            body_limit: 25 << 20,
            decompressed_limit: 64 << 20,
            analytics_limit: 8 << 20,
            flags_limit: 1 << 20,
            cv_limit: 64 << 20,
            inflight_limit: 512 << 20,
            quota_bytes_per_second: 128 << 20,
            quota_new_sessions_per_minute: 6000,
            quota_sessions_per_request: 100,
            max_urls_per_request: 1000,
            retention_days: None,
            tombstone_days: 30,
            seal_idle: Duration::from_secs(300),
            sweep_every: Duration::from_secs(30),
            metrics_listen: None,
            max_session_bytes: reel_store::DEFAULT_SESSION_CAP,
            redaction_state_bytes: DEFAULT_REDACTION_STATE_BYTES,
            render_ttl: Duration::from_secs(24 * 3600),
            export_to: None,
            llm: None,
            capture_assets: Vec::new(),
            capture_assets_allow_private: false,
            capture_assets_max_bytes: 20 << 20,
            capture_assets_session_bytes: 200 << 20,
        }
    }
}

pub struct AppState {
    pub config: Config,
    pub store: Store,
    project: RwLock<Project>,
    /// Bumped by every [`AppState::set_project`]: a refresh read before a change made here does
    /// not undo it (see [`AppState::refresh_project`]).
    project_generation: AtomicU64,
    /// The admin token when this start created or reset it (printed once).
    pub new_admin_token: Option<String>,
    pub requests: Mutex<BTreeMap<(String, u16), u64>>,
    pub rejected: AtomicU64,
    pub bad_events: AtomicU64,
    pub started: std::time::Instant,
    /// Capture bounds: decoding budget and per-token quotas.
    pub guard: crate::guard::Guard,
    /// Compiled redaction policies, keyed by their settings JSON.
    redactors: Mutex<BTreeMap<String, Arc<reel_redact::Redactor>>>,
    /// Ingest-policy state per (session, window): the DOM of the page so far, so that rules by
    /// selector apply to later batches of the same window. Bounded by a byte budget.
    window_redactors: Mutex<RedactorCache>,
    /// LLM summaries asked at once (`POST …/summary/llm`); more are answered 503.
    pub llm_slots: tokio::sync::Semaphore,
    /// `--capture-assets`: scan state per window (bounded) and the fetcher's wake-up.
    pub asset_scans: Mutex<crate::asset_capture::Scans>,
    pub assets_wake: tokio::sync::Notify,
}

/// Default of [`Config::redaction_state_bytes`]: 64 MiB.
pub const DEFAULT_REDACTION_STATE_BYTES: usize = 64 << 20;

type WindowKey = (String, String);

/// Ingest-policy window states, least recently used dropped once their estimated size passes a
/// budget (a dropped window is warmed up again from storage on its next batch), all dropped
/// when the policy changes.
pub struct RedactorCache {
    budget: usize,
    /// The policy (settings JSON) the states were built with.
    policy: String,
    map: std::collections::HashMap<WindowKey, (reel_redact::WindowRedactor, usize, u64)>,
    /// Last use → window, oldest first.
    order: BTreeMap<u64, WindowKey>,
    bytes: usize,
    tick: u64,
}

impl RedactorCache {
    pub fn new(budget: usize) -> RedactorCache {
        RedactorCache {
            budget,
            policy: String::new(),
            map: Default::default(),
            order: BTreeMap::new(),
            bytes: 0,
            tick: 0,
        }
    }

    /// Drop every state unless they were built with `policy`.
    pub fn use_policy(&mut self, policy: &str) {
        if self.policy != policy {
            self.clear();
            self.policy = policy.to_string();
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }

    pub fn contains(&self, k: &WindowKey) -> bool {
        self.map.contains_key(k)
    }

    /// Windows held and their estimated bytes.
    pub fn usage(&self) -> (usize, usize) {
        (self.map.len(), self.bytes)
    }

    /// Run `f` on the state of window `k` (made with `make` when absent), then account for its
    /// new size and evict least recently used windows past the budget (`k` itself too if it
    /// alone is larger than the budget).
    pub fn with<T>(
        &mut self,
        k: WindowKey,
        make: impl FnOnce() -> reel_redact::WindowRedactor,
        f: impl FnOnce(&mut reel_redact::WindowRedactor) -> T,
    ) -> T {
        let (mut wr, old_bytes, old_tick) = match self.map.remove(&k) {
            Some(x) => x,
            None => (make(), 0, u64::MAX),
        };
        self.order.remove(&old_tick);
        self.bytes -= old_bytes;
        let out = f(&mut wr);
        let size = wr.approx_bytes();
        if size <= self.budget {
            self.tick += 1;
            self.order.insert(self.tick, k.clone());
            self.map.insert(k, (wr, size, self.tick));
            self.bytes += size;
        }
        while self.bytes > self.budget {
            let Some((_, old)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, b, _)) = self.map.remove(&old) {
                self.bytes -= b;
            }
        }
        out
    }

    /// Keep `wr` as window `k`'s state unless one is there already.
    pub fn insert_if_absent(&mut self, k: WindowKey, wr: reel_redact::WindowRedactor) {
        if !self.map.contains_key(&k) {
            self.with(k, || wr, |_| ());
        }
    }
}

/// A store error as the HTTP answer for a refused batch, when it is one: the per-session cap
/// (413 naming the cap and the flag that sets it).
pub fn refused_batch(e: &reel_store::Error) -> Option<Response> {
    match e {
        reel_store::Error::SessionCap { .. } => Some(crate::auth::error(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            &format!("{e}; start a new session, or raise the cap with reel serve --max-session-bytes (REEL_MAX_SESSION_BYTES)"),
        )),
        _ => None,
    }
}

/// Most days `retention_days` may say (about a century; beyond it nothing would ever go).
pub const MAX_RETENTION_DAYS: u64 = 36_500;

/// The `retention_days` project setting: `Some(days)` when set to a valid number.
pub fn retention_setting(settings: &serde_json::Value) -> Option<u64> {
    settings
        .get("retention_days")
        .and_then(|v| v.as_u64())
        .filter(|d| (1..=MAX_RETENTION_DAYS).contains(d))
}

/// Check a `retention_days` value sent to `PATCH /api/v1/project`: `null` (use the server's
/// `--retention-days`) or a whole number of days, 1 to [`MAX_RETENTION_DAYS`].
pub fn check_retention(v: &serde_json::Value) -> Result<(), String> {
    if v.is_null()
        || v.as_u64()
            .is_some_and(|d| (1..=MAX_RETENTION_DAYS).contains(&d))
    {
        return Ok(());
    }
    Err(format!("a whole number of days from 1 to {MAX_RETENTION_DAYS}, or null to use the server's --retention-days"))
}

/// Compile a redaction policy value: `null`, `{"preset": "default"|"strict"}` or `{"rules": "<TOML>"}`.
pub fn compile_policy(v: &serde_json::Value) -> Result<Option<reel_redact::Redactor>, String> {
    if v.is_null() {
        return Ok(None);
    }
    if let Some(p) = v.get("preset").and_then(|p| p.as_str()) {
        return reel_redact::Redactor::preset(p)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    if let Some(t) = v.get("rules").and_then(|p| p.as_str()) {
        return reel_redact::Redactor::from_toml(t)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    Err("a redaction policy is null, {\"preset\": \"default\"|\"strict\"} or {\"rules\": \"<TOML>\"}".into())
}

impl AppState {
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot create the data folder: {e}",
                config.data_dir.display()
            )
        })?;
        let mut store = Store::open(&config.index_url, &config.blobs_url).await?;
        store.set_session_cap(config.max_session_bytes);
        let (project, new_admin_token) = store
            .index
            .ensure_project(
                config.capture_token.as_deref(),
                config.admin_token.as_deref(),
            )
            .await?;
        Ok(AppState {
            guard: crate::guard::Guard::new(&config),
            store,
            project: RwLock::new(project),
            project_generation: AtomicU64::new(0),
            new_admin_token,
            requests: Mutex::new(BTreeMap::new()),
            rejected: AtomicU64::new(0),
            bad_events: AtomicU64::new(0),
            started: std::time::Instant::now(),
            redactors: Mutex::new(BTreeMap::new()),
            window_redactors: Mutex::new(RedactorCache::new(config.redaction_state_bytes)),
            llm_slots: tokio::sync::Semaphore::new(2),
            asset_scans: Mutex::new(Default::default()),
            assets_wake: tokio::sync::Notify::new(),
            config,
        })
    }

    pub fn project(&self) -> Project {
        self.project
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// The generation to pass to [`AppState::refresh_project`] (read before the index is).
    pub fn project_generation(&self) -> u64 {
        self.project_generation.load(Ordering::SeqCst)
    }

    /// Take the project as read from the index, unless this server changed it since
    /// `generation` (a rotated token must not come back with a refresh that read the old one).
    pub fn refresh_project(&self, p: Project, generation: u64) {
        if let Ok(mut g) = self.project.write() {
            if self.project_generation() == generation {
                self.replace_project(&mut g, p);
            }
        }
    }

    pub fn set_project(&self, p: Project) {
        if let Ok(mut g) = self.project.write() {
            self.replace_project(&mut g, p);
        }
    }

    /// Under the project's write lock.
    fn replace_project(&self, g: &mut Project, p: Project) {
        self.project_generation.fetch_add(1, Ordering::SeqCst);
        let before = g.settings.get("ingest_redaction").cloned();
        if p.settings.get("ingest_redaction").cloned() != before {
            // States built under another policy must not be reused (and free their memory).
            if let Ok(mut c) = self.window_redactors.lock() {
                c.clear();
            }
        }
        *g = p;
    }

    /// Days sessions are kept: the project's `retention_days` setting when set, else
    /// `--retention-days`; `None`: kept until deleted.
    pub fn retention_days(&self) -> Option<u64> {
        retention_setting(&self.project().settings).or(self.config.retention_days)
    }

    /// Ingest-policy window states held: (windows, estimated bytes).
    pub fn redaction_state_usage(&self) -> (usize, usize) {
        self.window_redactors
            .lock()
            .map(|c| c.usage())
            .unwrap_or_default()
    }

    /// The project's redaction policy `which` (`ingest_redaction` or `export_redaction`), compiled.
    pub fn policy(&self, which: &str) -> Option<Arc<reel_redact::Redactor>> {
        let v = self
            .project()
            .settings
            .get(which)
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        if v.is_null() {
            return None;
        }
        let key = format!("{which}:{v}");
        if let Some(r) = self
            .redactors
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Some(r);
        }
        match compile_policy(&v) {
            Ok(Some(r)) => {
                let r = Arc::new(r);
                if let Ok(mut m) = self.redactors.lock() {
                    m.insert(key, r.clone());
                }
                Some(r)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(policy = which, error = %e, "invalid redaction policy; refusing to serve unredacted data");
                Some(Arc::new(
                    reel_redact::Redactor::preset("strict").expect("the strict preset compiles"),
                ))
            }
        }
    }

    /// Apply the ingest policy to a unit's events (time order), keeping per-window DOM state.
    ///
    /// A window this process has no state for (its first batch here: after a restart, or when
    /// earlier batches went to another server sharing the storage) is first warmed up with the
    /// window's stored events, so selectors keep matching elements recorded in earlier batches.
    /// Stored events are already redacted, but they keep what selectors look at (tags, ids,
    /// classes, structure); a selector on an attribute the rules themselves remove cannot match
    /// again.
    pub async fn redact_ingest(
        &self,
        project: &str,
        unit: &mut reel_store::IngestUnit,
    ) -> Result<(), String> {
        let poisoned = |_| "redactor state poisoned".to_string();
        let Some(r) = self.policy("ingest_redaction") else {
            self.window_redactors.lock().map_err(poisoned)?.clear();
            return Ok(());
        };
        let policy = self
            .project()
            .settings
            .get("ingest_redaction")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let key = (unit.session_id.clone(), unit.window_id.clone());
        let known = {
            let mut c = self.window_redactors.lock().map_err(poisoned)?;
            c.use_policy(&policy);
            c.contains(&key)
        };
        if !known && r.needs_dom() {
            // Replay only this window's stored events, streamed block by block.
            let plan = self
                .store
                .plan(project, &unit.session_id)
                .await
                .map_err(|e| e.to_string())?;
            let (store, r2, wid) = (self.store.clone(), r.clone(), unit.window_id.clone());
            let warm = tokio::task::spawn_blocking(move || -> Result<_, String> {
                let mut warm = r2.window();
                for item in store
                    .window_events(&plan, &wid)
                    .map_err(|e| e.to_string())?
                {
                    let (_, e) = item.map_err(|e| e.to_string())?;
                    let _ = warm.event(e);
                }
                Ok(warm)
            })
            .await
            .map_err(|e| e.to_string())??;
            let mut c = self.window_redactors.lock().map_err(poisoned)?;
            c.use_policy(&policy);
            c.insert_if_absent(key.clone(), warm);
        }
        let mut person = None;
        let mut counts = reel_redact::Counts::default();
        r.session_facts(
            &mut unit.distinct_id,
            &mut person,
            &mut serde_json::Map::new(),
            &mut counts,
        );
        unit.events.sort_by_key(|e| e.timestamp);
        let mut c = self.window_redactors.lock().map_err(poisoned)?;
        c.use_policy(&policy);
        let events = std::mem::take(&mut unit.events);
        unit.events = c.with(
            key,
            || r.window(),
            |wr| -> Result<Vec<reel_format::Event>, String> {
                let mut out = Vec::with_capacity(events.len());
                for e in events {
                    if let Some(e) = wr.event(e).map_err(|e| e.to_string())? {
                        out.push(e);
                    }
                }
                Ok(out)
            },
        )?;
        Ok(())
    }

    pub fn limits(&self) -> reel_format::Limits {
        reel_format::Limits {
            max_entry_bytes: self.config.decompressed_limit,
            ..Default::default()
        }
    }

    pub fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition.
    pub fn metrics_text(&self) -> String {
        use std::fmt::Write;
        let m = &self.store.metrics;
        let mut s = String::new();
        let _ = writeln!(s, "# HELP reel_http_requests_total HTTP requests by route group and status.\n# TYPE reel_http_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((route, status), n) in r.iter() {
                let _ = writeln!(
                    s,
                    "reel_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let counters = [
            (
                "reel_ingest_batches_total",
                "Batches stored.",
                m.batches.load(Ordering::Relaxed),
            ),
            (
                "reel_ingest_duplicate_batches_total",
                "Retried batches already stored (not stored again).",
                m.duplicate_batches.load(Ordering::Relaxed),
            ),
            (
                "reel_ingest_events_total",
                "Events stored.",
                m.events.load(Ordering::Relaxed),
            ),
            (
                "reel_ingest_bytes_total",
                "Bytes of decoded event JSON stored.",
                m.event_bytes.load(Ordering::Relaxed),
            ),
            (
                "reel_ingest_rejected_total",
                "Requests rejected (bad token, bad body, limits).",
                self.rejected.load(Ordering::Relaxed),
            ),
            (
                "reel_ingest_bad_events_total",
                "Malformed events skipped inside good batches.",
                self.bad_events.load(Ordering::Relaxed),
            ),
            (
                "reel_block_writes_total",
                "Blocks written to the blob store.",
                m.block_writes.load(Ordering::Relaxed),
            ),
            (
                "reel_block_bytes_total",
                "Compressed bytes written to the blob store.",
                m.block_bytes.load(Ordering::Relaxed),
            ),
            (
                "reel_sealed_sessions_total",
                "Sessions sealed (blocks compacted).",
                m.sealed_sessions.load(Ordering::Relaxed),
            ),
            (
                "reel_seal_failures_total",
                "Seal attempts that failed (the session is retried later, backing off).",
                m.seal_failures.load(Ordering::Relaxed),
            ),
            (
                "reel_export_sessions_total",
                "Sessions written to the export target (--export-to).",
                m.exported_sessions.load(Ordering::Relaxed),
            ),
            (
                "reel_assets_fetched_total",
                "Assets fetched and stored (--capture-assets).",
                m.assets_fetched.load(Ordering::Relaxed),
            ),
            (
                "reel_assets_failed_total",
                "Asset fetches that failed or were not kept (each retried, backing off, a few times).",
                m.assets_failed.load(Ordering::Relaxed),
            ),
            (
                "reel_assets_bytes_total",
                "Bytes of assets fetched and stored.",
                m.asset_bytes.load(Ordering::Relaxed),
            ),
            (
                "reel_export_failures_total",
                "Exports (or deletions of exported copies) that failed; each is retried, backing off.",
                m.export_failures.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP reel_ingest_lag_ms Now minus the newest event time of the last stored batch.\n# TYPE reel_ingest_lag_ms gauge\nreel_ingest_lag_ms {}",
            m.ingest_lag_ms.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP reel_sessions_seal_backed_off Sessions waiting to retry sealing after a failure.\n# TYPE reel_sessions_seal_backed_off gauge\nreel_sessions_seal_backed_off {}",
            m.sessions_backed_off.load(Ordering::Relaxed)
        );
        if self.config.export_to.is_some() {
            let _ = writeln!(
                s,
                "# HELP reel_export_pending Sessions waiting to be exported, plus exported copies waiting to be deleted.\n# TYPE reel_export_pending gauge\nreel_export_pending {}\n# HELP reel_export_retrying Sessions whose export failed since it last succeeded.\n# TYPE reel_export_retrying gauge\nreel_export_retrying {}",
                m.export_pending.load(Ordering::Relaxed),
                m.export_retrying.load(Ordering::Relaxed)
            );
        }
        let (windows, bytes) = self.redaction_state_usage();
        let _ = writeln!(
            s,
            "# HELP reel_redaction_state_windows Windows whose ingest-policy DOM state is held in memory.\n# TYPE reel_redaction_state_windows gauge\nreel_redaction_state_windows {windows}\n# HELP reel_redaction_state_bytes Estimated memory of that state.\n# TYPE reel_redaction_state_bytes gauge\nreel_redaction_state_bytes {bytes}"
        );
        let _ = writeln!(s, "# HELP reel_uptime_seconds Seconds since start.\n# TYPE reel_uptime_seconds gauge\nreel_uptime_seconds {}", self.started.elapsed().as_secs());
        s
    }
}

/// Route group of a path, for metrics labels with bounded cardinality. Whole path segments are
/// compared: `/share/…` is not `/s/`, `/embed/…` is not `/e/`, `/static/…` is not `/s/`.
fn route_group(path: &str) -> &'static str {
    let under = |p: &str, prefix: &str| {
        p.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    match path {
        p if under(p, "/share") || under(p, "/embed") => "share",
        p if under(p, "/static") || under(p, "/player") || under(p, "/ui") => "static",
        p if under(p, "/s") => "capture_s",
        p if under(p, "/e") || under(p, "/i/v0/e") || under(p, "/batch") => "capture_e",
        p if under(p, "/api/v1/ingest") => "ingest",
        p if under(p, "/api") => "api",
        p if under(p, "/array") || under(p, "/flags") || under(p, "/decide") => "config",
        "/healthz" | "/metrics" => "ops",
        _ => "ui",
    }
}

pub async fn count_requests(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let group = route_group(req.uri().path());
    let res = next.run(req).await;
    if let Ok(mut r) = state.requests.lock() {
        *r.entry((group.to_string(), res.status().as_u16()))
            .or_default() += 1;
    }
    res
}

/// Sealing, retention and project-settings refresh, forever.
pub fn spawn_background(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.sweep_every);
        crate::jobs::recover(&state);
        loop {
            tick.tick().await;
            crate::jobs::sweep(&state).await;
            let project = state.project().id;
            // By id: a capture token rotated by another server is picked up here.
            let generation = state.project_generation();
            if let Ok(Some(p)) = state.store.index.project(&project).await {
                state.refresh_project(p, generation);
            }
            match state
                .store
                .sessions_to_seal(&project, state.config.seal_idle.as_millis() as i64, 20)
                .await
            {
                Ok(ids) => {
                    for id in ids {
                        match state.store.seal(&project, &id).await {
                            Ok(true) => crate::moments::after_seal(&state, &project, &id).await,
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(session = %id, error = %e, "sealing failed; will retry later (backing off)")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing sessions to seal failed"),
            }
            if let Err(e) = state.store.maintain(state.config.tombstone_days).await {
                tracing::warn!(error = %e, "index upkeep (tombstones, free pages) failed");
            }
            if let Ok(n) = state.store.sessions_backed_off(&project).await {
                state
                    .store
                    .metrics
                    .sessions_backed_off
                    .store(n, Ordering::Relaxed);
            }
            if let Some(days) = state.retention_days() {
                match state.store.enforce_retention(&project, days).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, days, "retention: deleted old sessions"),
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn route_groups_compare_whole_segments() {
        for (path, group) in [
            ("/s/", "capture_s"),
            ("/s", "capture_s"),
            ("/e/", "capture_e"),
            ("/i/v0/e/", "capture_e"),
            ("/batch/", "capture_e"),
            ("/share/abc", "share"),
            ("/share/abc/events", "share"),
            ("/embed/abc", "share"),
            ("/static/array.js", "static"),
            ("/player/index.js", "static"),
            ("/ui/app.js", "static"),
            ("/api/v1/ingest", "ingest"),
            ("/api/v1/sessions", "api"),
            ("/flags/", "config"),
            ("/decide/", "config"),
            ("/array/phc/config.js", "config"),
            ("/healthz", "ops"),
            ("/", "ui"),
            ("/settings", "ui"),
            ("/sessions", "ui"),
        ] {
            assert_eq!(route_group(path), group, "{path}");
        }
    }

    use super::*;

    /// A full snapshot whose body holds one text node of `text_len` bytes.
    fn snapshot(ts: i64, text_len: usize) -> reel_format::Event {
        let text = "x".repeat(text_len);
        reel_format::Event::parse(format!(
            r#"{{"type":2,"timestamp":{ts},"data":{{"node":{{"type":0,"id":1,"childNodes":[{{"type":2,"id":2,"tagName":"html","attributes":{{}},"childNodes":[{{"type":2,"id":3,"tagName":"body","attributes":{{"class":"page"}},"childNodes":[{{"type":3,"id":4,"textContent":"{text}"}}]}}]}}]}},"initialOffset":{{"left":0,"top":0}}}}}}"#
        ))
        .unwrap()
    }

    const RULES: &str = "block = [\".private\"]\n";

    #[test]
    fn window_states_are_evicted_least_recently_used_past_the_budget() {
        let r = reel_redact::Redactor::from_toml(RULES).unwrap();
        assert!(r.needs_dom());
        let one = {
            let mut w = r.window();
            w.event(snapshot(1, 100_000)).unwrap();
            w.approx_bytes()
        };
        assert!(one >= 100_000, "the estimate counts the page's text: {one}");
        let mut c = RedactorCache::new(one * 3 + one / 2);
        for i in 0..5 {
            let k = ("s".to_string(), format!("w{i}"));
            c.with(k, || r.window(), |w| w.event(snapshot(1, 100_000)).unwrap());
            // Touch w0 so that it stays among the most recently used.
            c.with(("s".into(), "w0".into()), || r.window(), |_| ());
        }
        let (n, bytes) = c.usage();
        assert_eq!(n, 3, "three windows fit the budget");
        assert!(bytes <= one * 3 + one / 2);
        assert!(
            c.contains(&("s".into(), "w0".into())),
            "recently used stays"
        );
        assert!(c.contains(&("s".into(), "w4".into())));
        assert!(
            !c.contains(&("s".into(), "w1".into())),
            "least recently used goes"
        );
        // One window larger than the whole budget is not kept at all.
        let mut small = RedactorCache::new(one / 2);
        small.with(
            ("s".into(), "big".into()),
            || r.window(),
            |w| w.event(snapshot(1, 100_000)).unwrap(),
        );
        assert_eq!(small.usage(), (0, 0));
    }

    #[test]
    fn retention_setting_is_a_whole_number_of_days_or_null() {
        for ok in [json!(null), json!(1), json!(30), json!(MAX_RETENTION_DAYS)] {
            assert!(check_retention(&ok).is_ok(), "{ok}");
        }
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("30"),
            json!(true),
            json!(MAX_RETENTION_DAYS + 1),
        ] {
            let e = check_retention(&bad).unwrap_err();
            assert!(
                e.contains("whole number of days") && e.contains("--retention-days"),
                "{bad}: {e}"
            );
        }
        assert_eq!(retention_setting(&json!({"retention_days": 7})), Some(7));
        assert_eq!(retention_setting(&json!({"retention_days": null})), None);
        assert_eq!(retention_setting(&json!({})), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_setting_wins_over_the_flag_and_a_stale_refresh_undoes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::embedded(tmp.path().to_path_buf());
        config.retention_days = Some(90);
        let st = AppState::open(config).await.unwrap();
        assert_eq!(st.retention_days(), Some(90), "the flag");
        let mut p = st.project();
        p.settings["retention_days"] = json!(7);
        st.set_project(p);
        assert_eq!(st.retention_days(), Some(7), "the project's setting");
        // A refresh that read the index before a change made here (a rotation) is dropped.
        let generation = st.project_generation();
        let stale = st.project();
        let mut rotated = st.project();
        rotated.capture_token = "phc_new".into();
        st.set_project(rotated);
        st.refresh_project(stale.clone(), generation);
        assert_eq!(st.project().capture_token, "phc_new");
        // One read after it is taken.
        let generation = st.project_generation();
        st.refresh_project(stale, generation);
        assert_ne!(st.project().capture_token, "phc_new");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ingest_redaction_state_is_freed_when_the_policy_changes_or_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let st = AppState::open(Config::embedded(tmp.path().to_path_buf()))
            .await
            .unwrap();
        let set = |policy: serde_json::Value| {
            let mut p = st.project();
            p.settings["ingest_redaction"] = policy;
            st.set_project(p);
        };
        let unit = |w: &str| reel_store::IngestUnit {
            key: format!("k-{w}"),
            session_id: "s".into(),
            window_id: w.into(),
            distinct_id: None,
            source: Default::default(),
            user_agent: None,
            events: vec![snapshot(1, 50_000)],
        };
        let project = st.project().id;
        set(serde_json::json!({"rules": RULES}));
        for w in ["a", "b"] {
            st.redact_ingest(&project, &mut unit(w)).await.unwrap();
        }
        let (n, bytes) = st.redaction_state_usage();
        assert_eq!(n, 2);
        assert!(bytes >= 100_000);
        // Another policy: the old states go.
        set(serde_json::json!({"rules": "block = [\".other\"]\n"}));
        assert_eq!(st.redaction_state_usage(), (0, 0));
        st.redact_ingest(&project, &mut unit("c")).await.unwrap();
        assert_eq!(st.redaction_state_usage().0, 1);
        // Switched off: everything goes.
        set(serde_json::Value::Null);
        assert_eq!(st.redaction_state_usage(), (0, 0));
    }
}
