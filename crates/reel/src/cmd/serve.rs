use anyhow::Context;
use reel_server::Config;
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Run the Reel server: capture from posthog-js, rrweb and Reel's recorder; store; serve the
/// API, the web UI and share links.
///
/// Embedded default: everything in --data (SQLite index + blob folder), no other service.
/// At scale: --index postgres://… and --blobs s3://bucket/prefix (AWS_* variables give the
/// endpoint and credentials); any number of servers may share them.
///
/// Every flag has a REEL_* variable (REEL_LISTEN, REEL_DATA, REEL_INDEX, REEL_BLOBS, …) and a key
/// in the --config TOML file (listen, data, index, blobs, posthog_js_dist, retention_days, …).
/// Precedence: flag > variable > file > default.
///
/// Examples:
///   reel serve
///   reel serve --listen 0.0.0.0:8080 --data /var/lib/reel --retention-days 30
///   REEL_INDEX=postgres://reel@db/reel REEL_BLOBS=s3://recordings/reel reel serve
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN")]
    listen: Option<String>,
    /// Serve /metrics on this address only (e.g. 127.0.0.1:9100), not on --listen.
    #[arg(long, env = "REEL_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Data folder (SQLite index and blobs in the embedded default).
    #[arg(long, env = "REEL_DATA")]
    data: Option<PathBuf>,
    /// Index database: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "REEL_INDEX")]
    index: Option<String>,
    /// Blob store: a folder or s3://bucket/prefix.
    #[arg(long, env = "REEL_BLOBS")]
    blobs: Option<String>,
    /// posthog-js `dist` folder, to serve the lazy recorder (node_modules/posthog-js/dist).
    #[arg(long, env = "REEL_POSTHOG_JS_DIST")]
    posthog_js_dist: Option<PathBuf>,
    /// TOML config file.
    #[arg(long, env = "REEL_CONFIG")]
    config: Option<PathBuf>,
    /// Delete sessions whose last event is older than this many days.
    #[arg(long, env = "REEL_RETENTION_DAYS")]
    retention_days: Option<u64>,
    /// Days a deleted session id stays tombstoned: batches that arrive for it meanwhile are
    /// acknowledged and dropped (default 30).
    #[arg(long, env = "REEL_TOMBSTONE_DAYS")]
    tombstone_days: Option<u64>,
    /// Largest request body in bytes (default 25 MB, like PostHog).
    #[arg(long, env = "REEL_BODY_LIMIT")]
    body_limit: Option<usize>,
    /// Largest decompressed body of /s/ and /api/v1/ingest in bytes (gzip/lz64 bomb guard;
    /// default 64 MiB). Larger bodies are answered 413.
    #[arg(long, env = "REEL_DECOMPRESSED_LIMIT")]
    decompressed_limit: Option<u64>,
    /// Largest decompressed body of the analytics routes /e/, /i/v0/e/, /batch/, /capture/ in
    /// bytes (default 8 MiB).
    #[arg(long, env = "REEL_ANALYTICS_LIMIT")]
    analytics_limit: Option<u64>,
    /// Largest decompressed body of /flags/ and /decide/ in bytes (default 1 MiB).
    #[arg(long, env = "REEL_FLAGS_LIMIT")]
    flags_limit: Option<u64>,
    /// Most bytes one request may unpack from PostHog `cv` fields, in total (default 64 MiB).
    #[arg(long, env = "REEL_CV_LIMIT")]
    cv_limit: Option<u64>,
    /// Memory in bytes for capture bodies being decoded and parsed at once, counted as twice
    /// each decoded body (default 512 MiB); beyond it requests get 503 with Retry-After.
    #[arg(long, env = "REEL_INFLIGHT_LIMIT")]
    inflight_limit: Option<u64>,
    /// Per capture token: decoded body bytes per second, else 429 with Retry-After
    /// (default 128 MiB; 0 turns it off).
    #[arg(long, env = "REEL_QUOTA_BYTES_PER_SECOND")]
    quota_bytes_per_second: Option<u64>,
    /// Per capture token: sessions new to this server per minute, else 429 with Retry-After
    /// (default 6000; 0 turns it off).
    #[arg(long, env = "REEL_QUOTA_NEW_SESSIONS_PER_MINUTE")]
    quota_new_sessions_per_minute: Option<u64>,
    /// Per capture token: sessions one request may write to, else 429 (default 100; 0: off).
    #[arg(long, env = "REEL_QUOTA_SESSIONS_PER_REQUEST")]
    quota_sessions_per_request: Option<u64>,
    /// Most distinct $pageview URLs one analytics request may record, else 413 (default 1000).
    #[arg(long, env = "REEL_MAX_URLS_PER_REQUEST")]
    max_urls_per_request: Option<usize>,
    /// Seal (compact) a session after it has been quiet this many seconds (default 300).
    #[arg(long, env = "REEL_SEAL_IDLE_SECONDS")]
    seal_idle_seconds: Option<u64>,
    /// Per-session cap on stored event bytes (uncompressed JSON; default 1 GiB, 0 = none):
    /// batches that would pass it are refused with 413.
    #[arg(long, env = "REEL_MAX_SESSION_BYTES")]
    max_session_bytes: Option<u64>,
    /// Memory budget of the ingest redaction policy's per-window DOM state, bytes (default
    /// 64 MiB; least recently used windows are dropped and warmed up again from storage).
    #[arg(long, env = "REEL_REDACTION_STATE_BYTES")]
    redaction_state_bytes: Option<usize>,
    /// How long a rendered video (a job of POST /api/v1/sessions/{id}/video) stays downloadable,
    /// seconds (default 86400: 24 h); then its file is removed and the job says "expired".
    #[arg(long, env = "REEL_RENDER_TTL_SECONDS")]
    render_ttl_seconds: Option<u64>,
    /// Copy every session, once sealed, to this folder or s3://bucket/prefix: the package
    /// (prefix/sessions/YYYY/MM/DD/ID.reel.zip, export redaction policy applied, rewritten when the
    /// session grows) and Parquet tables (prefix/parquet/{sessions,events}/date=YYYY-MM-DD/ID.parquet).
    /// Deleting a session deletes its copies there too. `reel export --all` does the same for
    /// history recorded before.
    #[arg(long, env = "REEL_EXPORT_TO")]
    export_to: Option<String>,
    /// Offer LLM summaries (off by default): an OpenAI-compatible chat-completions endpoint such
    /// as https://api.openai.com/v1 or http://127.0.0.1:11434/v1. A summary is written only when
    /// someone asks (`POST /api/v1/sessions/{id}/summary/llm`, the session page's button), from
    /// the compact timeline after the export policy: pages, key actions, moments; never the DOM
    /// or input values. The key comes from REEL_LLM_API_KEY.
    #[arg(long, env = "REEL_LLM_URL", value_name = "URL")]
    llm_url: Option<String>,
    /// The model to ask [default: gpt-4o-mini].
    #[arg(long, env = "REEL_LLM_MODEL", value_name = "NAME")]
    llm_model: Option<String>,
    /// Keep the images, fonts and stylesheets that recordings of these origins load, so that
    /// exports (.reel.zip, format 1.2) and share links still look right when the site has
    /// changed or is gone. A comma-separated list of origins, e.g.
    /// https://shop.example,https://cdn.shop.example: a recording counts when its page is of one
    /// of them, and only asset URLs of these origins are fetched (list a CDN beside the site).
    /// Assets are fetched shortly after their batch is ingested, once per URL and content (shared
    /// by every session, kept in the blob store, counted in the session size), again only when
    /// HTTP caching says the copy is stale (default one day; no-store is not kept); failures are
    /// retried a few times, backing off. /metrics: reel_assets_fetched_total,
    /// reel_assets_failed_total. Loopback and private addresses are refused unless
    /// --capture-assets-allow-private.
    #[arg(
        long,
        env = "REEL_CAPTURE_ASSETS",
        value_name = "ORIGIN,…",
        value_delimiter = ','
    )]
    capture_assets: Vec<String>,
    /// Let --capture-assets fetch from loopback, private and link-local addresses (an intranet
    /// site, tests). Off by default: a recording could otherwise make the server read internal
    /// services.
    #[arg(long, env = "REEL_CAPTURE_ASSETS_ALLOW_PRIVATE")]
    capture_assets_allow_private: bool,
    /// Largest asset --capture-assets keeps, bytes (default 20 MiB, at most 256 MiB).
    #[arg(long, env = "REEL_CAPTURE_ASSETS_MAX_BYTES", value_name = "BYTES")]
    capture_assets_max_bytes: Option<u64>,
    /// Most bytes of assets one session keeps, bytes (default 200 MiB; 0: no cap).
    #[arg(long, env = "REEL_CAPTURE_ASSETS_SESSION_BYTES", value_name = "BYTES")]
    capture_assets_session_bytes: Option<u64>,
    /// Log format: text or json.
    #[arg(long, env = "REEL_LOG_FORMAT", default_value = "text")]
    log_format: String,
    /// Capture (write-only) token to use instead of a generated one.
    #[arg(
        long = "capture-token",
        env = "REEL_CAPTURE_TOKEN",
        hide_env_values = true
    )]
    capture_token: Option<String>,
    /// Admin token to use instead of a generated one.
    #[arg(long = "admin-token", env = "REEL_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    metrics_listen: Option<String>,
    data: Option<PathBuf>,
    index: Option<String>,
    blobs: Option<String>,
    posthog_js_dist: Option<PathBuf>,
    retention_days: Option<u64>,
    tombstone_days: Option<u64>,
    body_limit: Option<usize>,
    decompressed_limit: Option<u64>,
    analytics_limit: Option<u64>,
    flags_limit: Option<u64>,
    cv_limit: Option<u64>,
    inflight_limit: Option<u64>,
    quota_bytes_per_second: Option<u64>,
    quota_new_sessions_per_minute: Option<u64>,
    quota_sessions_per_request: Option<u64>,
    max_urls_per_request: Option<usize>,
    seal_idle_seconds: Option<u64>,
    sweep_seconds: Option<u64>,
    max_session_bytes: Option<u64>,
    redaction_state_bytes: Option<usize>,
    render_ttl_seconds: Option<u64>,
    export_to: Option<String>,
    llm_url: Option<String>,
    llm_model: Option<String>,
    capture_assets: Option<Vec<String>>,
    capture_assets_allow_private: Option<bool>,
    capture_assets_max_bytes: Option<u64>,
    capture_assets_session_bytes: Option<u64>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let file: FileConfig = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => FileConfig::default(),
    };
    let data = a
        .data
        .or(file.data)
        .unwrap_or_else(|| PathBuf::from("reel-data"));
    let mut cfg = Config::embedded(data);
    if let Some(l) = a.listen.or(file.listen) {
        cfg.listen = l;
    }
    cfg.metrics_listen = a.metrics_listen.or(file.metrics_listen);
    if let Some(i) = a.index.or(file.index) {
        cfg.index_url = i;
    }
    if let Some(b) = a.blobs.or(file.blobs) {
        cfg.blobs_url = b;
    }
    cfg.posthog_js_dist = a.posthog_js_dist.or(file.posthog_js_dist);
    if let Some(d) = &cfg.posthog_js_dist {
        if !d.join("lazy-recorder.js").exists() {
            anyhow::bail!("--posthog-js-dist {}: no lazy-recorder.js there; point it at node_modules/posthog-js/dist", d.display());
        }
    }
    cfg.retention_days = a.retention_days.or(file.retention_days);
    if let Some(d) = a.tombstone_days.or(file.tombstone_days) {
        cfg.tombstone_days = d;
    }
    if let Some(b) = a.body_limit.or(file.body_limit) {
        cfg.body_limit = b;
    }
    if let Some(b) = a.decompressed_limit.or(file.decompressed_limit) {
        cfg.decompressed_limit = b;
    }
    macro_rules! set {
        ($($f:ident),*) => {$(
            if let Some(v) = a.$f.or(file.$f) {
                cfg.$f = v;
            }
        )*};
    }
    set!(
        analytics_limit,
        flags_limit,
        cv_limit,
        inflight_limit,
        quota_bytes_per_second,
        quota_new_sessions_per_minute,
        quota_sessions_per_request,
        max_urls_per_request
    );
    if let Some(s) = a.seal_idle_seconds.or(file.seal_idle_seconds) {
        cfg.seal_idle = Duration::from_secs(s);
    }
    if let Some(b) = a.max_session_bytes.or(file.max_session_bytes) {
        cfg.max_session_bytes = b;
    }
    if let Some(b) = a.redaction_state_bytes.or(file.redaction_state_bytes) {
        cfg.redaction_state_bytes = b;
    }
    if let Some(s) = a.render_ttl_seconds.or(file.render_ttl_seconds) {
        cfg.render_ttl = Duration::from_secs(s.max(1));
    }
    cfg.export_to = a.export_to.or(file.export_to);
    cfg.llm = reel_move::llm::Endpoint::from_env(
        a.llm_url.or(file.llm_url),
        a.llm_model.or(file.llm_model),
    )?;
    let origins = match a.capture_assets.is_empty() {
        true => file.capture_assets.unwrap_or_default(),
        false => a.capture_assets,
    };
    for o in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
        let u = url::Url::parse(o)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| anyhow::anyhow!("--capture-assets {o}: not an origin (expected e.g. https://shop.example or http://127.0.0.1:8000)"))?;
        cfg.capture_assets.push(u.origin().ascii_serialization());
    }
    cfg.capture_assets_allow_private =
        a.capture_assets_allow_private || file.capture_assets_allow_private.unwrap_or(false);
    set!(capture_assets_max_bytes, capture_assets_session_bytes);
    if let Some(s) = file.sweep_seconds {
        cfg.sweep_every = Duration::from_secs(s.max(1));
    }
    if cfg.seal_idle < cfg.sweep_every {
        cfg.sweep_every = cfg.seal_idle.max(Duration::from_secs(1));
    }
    cfg.capture_token = a.capture_token;
    cfg.admin_token = a.admin_token;
    init_logs(&a.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(reel_server::serve(cfg, |st, addr| {
        let p = st.project();
        let host = format!("http://{addr}");
        eprintln!("Reel is listening on {host}  (index: {:?}, blobs: {})", st.store.index.kind, st.store.blobs.describe);
        eprintln!("  web UI        {host}/");
        if let Some(m) = &st.config.metrics_listen {
            eprintln!("  metrics       http://{m}/metrics   (only there)");
        }
        if let Some(l) = &st.config.llm {
            eprintln!("  LLM summaries {} ({}), on request", l.url, l.model);
        }
        if !st.config.capture_assets.is_empty() {
            eprintln!("  assets of     {}   (fetched after ingest{})", st.config.capture_assets.join(", "), if st.config.capture_assets_allow_private { "; private addresses allowed" } else { "" });
        }
        if let Some(x) = &st.config.export_to {
            eprintln!("  export to     {x}   (every sealed session: package + Parquet)");
        }
        eprintln!("  capture token {}   (write-only; safe to put in pages)", p.capture_token);
        match &st.new_admin_token {
            Some(t) => eprintln!("  admin token   {t}   (shown once: keep it; it reads everything)"),
            None => eprintln!("  admin token   (set earlier; REEL_ADMIN_TOKEN resets it)"),
        }
        eprintln!();
        eprintln!("posthog-js, unmodified:");
        eprintln!("  posthog.init('{}', {{ api_host: '{host}', person_profiles: 'always' }})", p.capture_token);
        if st.config.posthog_js_dist.is_none() {
            eprintln!("  (bundle the recorder with `import 'posthog-js/dist/recorder'`, or restart with --posthog-js-dist node_modules/posthog-js/dist)");
        }
        eprintln!("Reel's recorder:");
        eprintln!("  <script src=\"{host}/static/reel.js\"></script><script>reel.init({{apiHost: '{host}', token: '{}'}})</script>", p.capture_token);
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}
