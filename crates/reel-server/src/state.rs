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
    /// Seal a session after it has been quiet this long.
    pub seal_idle: Duration,
    /// How often the background sweep runs.
    pub sweep_every: Duration,
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
            seal_idle: Duration::from_secs(300),
            sweep_every: Duration::from_secs(30),
        }
    }
}

pub struct AppState {
    pub config: Config,
    pub store: Store,
    project: RwLock<Project>,
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
    /// selector apply to later batches of the same window.
    window_redactors:
        Mutex<std::collections::HashMap<(String, String), reel_redact::WindowRedactor>>,
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
        let store = Store::open(&config.index_url, &config.blobs_url).await?;
        let (project, new_admin_token) = store
            .index
            .ensure_project(
                config.capture_token.as_deref(),
                config.admin_token.as_deref(),
            )
            .await?;
        Ok(AppState {
            guard: crate::guard::Guard::new(&config),
            config,
            store,
            project: RwLock::new(project),
            new_admin_token,
            requests: Mutex::new(BTreeMap::new()),
            rejected: AtomicU64::new(0),
            bad_events: AtomicU64::new(0),
            started: std::time::Instant::now(),
            redactors: Mutex::new(BTreeMap::new()),
            window_redactors: Mutex::new(Default::default()),
        })
    }

    pub fn project(&self) -> Project {
        self.project
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    pub fn set_project(&self, p: Project) {
        if let Ok(mut g) = self.project.write() {
            *g = p;
        }
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
        let Some(r) = self.policy("ingest_redaction") else {
            return Ok(());
        };
        let key = (unit.session_id.clone(), unit.window_id.clone());
        let poisoned = |_| "redactor state poisoned".to_string();
        let known = self
            .window_redactors
            .lock()
            .map_err(poisoned)?
            .contains_key(&key);
        if !known && r.needs_dom() {
            let mut warm = r.window();
            let stored = self
                .store
                .load_session(project, &unit.session_id)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(w) =
                stored.and_then(|s| s.windows.into_iter().find(|w| w.id == unit.window_id))
            {
                for e in w.events {
                    let _ = warm.event(e);
                }
            }
            let mut map = self.window_redactors.lock().map_err(poisoned)?;
            map.entry(key.clone()).or_insert(warm);
        }
        let mut person = None;
        let mut counts = reel_redact::Counts::default();
        r.session_facts(&mut unit.distinct_id, &mut person, &mut counts);
        unit.events.sort_by_key(|e| e.timestamp);
        let mut map = self.window_redactors.lock().map_err(poisoned)?;
        if map.len() > 20_000 {
            map.clear(); // bounded memory; those windows are warmed up again from storage
        }
        let wr = map.entry(key).or_insert_with(|| r.window());
        let mut out = Vec::with_capacity(unit.events.len());
        for e in std::mem::take(&mut unit.events) {
            if let Some(e) = wr.event(e).map_err(|e| e.to_string())? {
                out.push(e);
            }
        }
        unit.events = out;
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
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP reel_ingest_lag_ms Now minus the newest event time of the last stored batch.\n# TYPE reel_ingest_lag_ms gauge\nreel_ingest_lag_ms {}",
            m.ingest_lag_ms.load(Ordering::Relaxed)
        );
        let _ = writeln!(s, "# HELP reel_uptime_seconds Seconds since start.\n# TYPE reel_uptime_seconds gauge\nreel_uptime_seconds {}", self.started.elapsed().as_secs());
        s
    }
}

/// Route group of a path, for metrics labels with bounded cardinality.
fn route_group(path: &str) -> &'static str {
    match path {
        p if p.starts_with("/s") => "capture_s",
        p if p.starts_with("/e") || p.starts_with("/i/v0/e") || p.starts_with("/batch") => {
            "capture_e"
        }
        p if p.starts_with("/api/v1/ingest") => "ingest",
        p if p.starts_with("/api/") => "api",
        p if p.starts_with("/array/") || p.starts_with("/flags") || p.starts_with("/decide") => {
            "config"
        }
        p if p.starts_with("/static/") || p.starts_with("/player/") => "static",
        p if p.starts_with("/share/") || p.starts_with("/embed/") => "share",
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
        loop {
            tick.tick().await;
            let project = state.project().id;
            if let Ok(Some(p)) = state
                .store
                .index
                .project_by_capture_token(&state.project().capture_token)
                .await
            {
                state.set_project(p);
            }
            match state
                .store
                .sessions_to_seal(&project, state.config.seal_idle.as_millis() as i64, 20)
                .await
            {
                Ok(ids) => {
                    for id in ids {
                        if let Err(e) = state.store.seal(&project, &id).await {
                            tracing::warn!(session = %id, error = %e, "sealing failed; will retry");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing sessions to seal failed"),
            }
            if let Some(days) = state.config.retention_days {
                match state.store.enforce_retention(&project, days).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(sessions = n, days, "retention: deleted old sessions"),
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                }
            }
        }
    })
}
