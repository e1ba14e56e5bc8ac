//! The index: one SQL schema that SQLite and PostgreSQL both accept (`$N` placeholders,
//! `BIGINT`/`TEXT` columns, `ON CONFLICT` upserts, no engine-specific functions).
use crate::{Error, Result};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::Arc;

/// Schema migrations, applied in order; `schema_version` records the last one applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, capture_token TEXT NOT NULL UNIQUE,
  admin_token_sha256 TEXT NOT NULL, settings TEXT NOT NULL, created_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  project_id TEXT NOT NULL, id TEXT NOT NULL, distinct_id TEXT,
  start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL, event_count BIGINT NOT NULL, size BIGINT NOT NULL,
  click_count BIGINT NOT NULL, keypress_count BIGINT NOT NULL, mouse_activity_count BIGINT NOT NULL,
  console_log_count BIGINT NOT NULL, console_warn_count BIGINT NOT NULL, console_error_count BIGINT NOT NULL,
  network_request_count BIGINT NOT NULL, active_ms BIGINT NOT NULL,
  user_agent TEXT, source TEXT, lib TEXT, lib_version TEXT,
  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, sealed_ms BIGINT, lease_until BIGINT,
  PRIMARY KEY (project_id, id));
CREATE INDEX IF NOT EXISTS sessions_start ON sessions (project_id, start_ms, id);
CREATE INDEX IF NOT EXISTS sessions_person ON sessions (project_id, distinct_id);
CREATE TABLE IF NOT EXISTS session_urls (
  project_id TEXT NOT NULL, session_id TEXT NOT NULL, url TEXT NOT NULL, first_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, session_id, url));
CREATE TABLE IF NOT EXISTS blocks (
  id TEXT PRIMARY KEY, project_id TEXT NOT NULL, session_id TEXT NOT NULL, window_id TEXT NOT NULL,
  blob_key TEXT NOT NULL, first_ms BIGINT NOT NULL, last_ms BIGINT NOT NULL, event_count BIGINT NOT NULL,
  bytes BIGINT NOT NULL, stored_bytes BIGINT NOT NULL, sealed BIGINT NOT NULL, created_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_session ON blocks (project_id, session_id, window_id, first_ms);
CREATE TABLE IF NOT EXISTS batches (
  project_id TEXT NOT NULL, batch_key TEXT NOT NULL, session_id TEXT NOT NULL, created_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, batch_key));
CREATE TABLE IF NOT EXISTS people (
  project_id TEXT NOT NULL, distinct_id TEXT NOT NULL, first_ms BIGINT NOT NULL, last_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, distinct_id));
CREATE TABLE IF NOT EXISTS shares (
  token_sha256 TEXT PRIMARY KEY, project_id TEXT NOT NULL, session_id TEXT NOT NULL, id TEXT NOT NULL UNIQUE,
  created_ms BIGINT NOT NULL, expires_ms BIGINT, revoked_ms BIGINT);
CREATE TABLE IF NOT EXISTS audit (
  id TEXT PRIMARY KEY, project_id TEXT NOT NULL, at_ms BIGINT NOT NULL, action TEXT NOT NULL,
  subject_sha256 TEXT, detail TEXT NOT NULL);
"#,
    r#"
CREATE TABLE IF NOT EXISTS block_data (id TEXT PRIMARY KEY, data BYTEA NOT NULL);
"#,
    // Deletion that lasts: every person a session ever carried (filled at ingest and by `/e/`),
    // tombstones of deleted session ids, the server secret that keys audit hashes. Audit subjects
    // stored before as plain SHA-256 (reversible by guessing) are erased.
    r#"
CREATE TABLE IF NOT EXISTS session_people (
  project_id TEXT NOT NULL, session_id TEXT NOT NULL, distinct_id TEXT NOT NULL,
  PRIMARY KEY (project_id, session_id, distinct_id));
CREATE INDEX IF NOT EXISTS session_people_person ON session_people (project_id, distinct_id);
INSERT INTO session_people (project_id, session_id, distinct_id) SELECT project_id, id, distinct_id FROM sessions WHERE distinct_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS tombstones (
  project_id TEXT NOT NULL, session_id TEXT NOT NULL, deleted_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, session_id));
CREATE INDEX IF NOT EXISTS tombstones_age ON tombstones (deleted_ms);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
ALTER TABLE audit ADD COLUMN subject_hmac TEXT;
UPDATE audit SET subject_sha256 = NULL
"#,
    // Sealing back-off: failed attempts and when to try again (see reel_store::seal).
    r#"
ALTER TABLE sessions ADD COLUMN seal_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN seal_retry_ms BIGINT;
"#,
    // Key moments (reel-insight): counts for the list, its filters and sorts; the whole
    // summary.json; when it was computed (NULL: not yet).
    r#"
ALTER TABLE sessions ADD COLUMN rage_click_count BIGINT;
ALTER TABLE sessions ADD COLUMN dead_click_count BIGINT;
ALTER TABLE sessions ADD COLUMN error_click_count BIGINT;
ALTER TABLE sessions ADD COLUMN network_error_count BIGINT;
ALTER TABLE sessions ADD COLUMN activity_score BIGINT;
ALTER TABLE sessions ADD COLUMN moment_kinds TEXT;
ALTER TABLE sessions ADD COLUMN insight TEXT;
ALTER TABLE sessions ADD COLUMN insight_ms BIGINT
"#,
    // Continuous export (reel_store::export): per session and target, the version written, its
    // keys, a lease, failures with a retry time, and the mark a deletion leaves. Imported sessions'
    // facts beyond the columns (person properties, the source's listing fields) as JSON.
    r#"
CREATE TABLE IF NOT EXISTS exports (
  project_id TEXT NOT NULL, session_id TEXT NOT NULL, target TEXT NOT NULL,
  version BIGINT, keys TEXT, exported_ms BIGINT, deleted BIGINT NOT NULL DEFAULT 0,
  failures BIGINT NOT NULL DEFAULT 0, retry_ms BIGINT, error TEXT, lease_until BIGINT,
  PRIMARY KEY (project_id, session_id, target));
CREATE INDEX IF NOT EXISTS exports_deleted ON exports (project_id, target, deleted);
ALTER TABLE sessions ADD COLUMN meta TEXT
"#,
    // Comments at a time of a recording (reel_store::comments). Ids are random (uuid v7), kept
    // across export and import so that importing a package twice stores each comment once.
    r#"
CREATE TABLE IF NOT EXISTS comments (
  project_id TEXT NOT NULL, id TEXT NOT NULL, session_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
  text TEXT NOT NULL, author TEXT NOT NULL, created_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, id));
CREATE INDEX IF NOT EXISTS comments_session ON comments (project_id, session_id, at_ms)
"#,
    // When an admin first watched the session (the list's "not watched" filter, PostHog's `viewed`).
    r#"
ALTER TABLE sessions ADD COLUMN watched_ms BIGINT
"#,
    // Collections (reel_store::collections): named lists of sessions; a share link may open a
    // whole collection (`shares.collection_id`, its `session_id` then empty).
    r#"
CREATE TABLE IF NOT EXISTS collections (
  project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, id));
CREATE TABLE IF NOT EXISTS collection_sessions (
  project_id TEXT NOT NULL, collection_id TEXT NOT NULL, session_id TEXT NOT NULL, added_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, collection_id, session_id));
CREATE INDEX IF NOT EXISTS collection_sessions_session ON collection_sessions (project_id, session_id);
ALTER TABLE shares ADD COLUMN collection_id TEXT
"#,
    // Page titles (the `<title>` of each full snapshot), for the list's free-text search.
    r#"
CREATE TABLE IF NOT EXISTS session_titles (
  project_id TEXT NOT NULL, session_id TEXT NOT NULL, title TEXT NOT NULL, first_ms BIGINT NOT NULL,
  PRIMARY KEY (project_id, session_id, title))
"#,
    // Named admin tokens besides the project's first one (Settings): only their SHA-256 is kept;
    // revoked ones stay listed (revoked_ms) and are refused.
    r#"
CREATE TABLE IF NOT EXISTS admin_tokens (
  project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, token_sha256 TEXT NOT NULL UNIQUE,
  created_ms BIGINT NOT NULL, last_used_ms BIGINT, revoked_ms BIGINT,
  PRIMARY KEY (project_id, id))
"#,
    // Assets the server collects (`--capture-assets`, reel_store::assets): per URL its latest
    // fetch or failures; per session the URLs it loads and the version it plays with.
    r#"
CREATE TABLE IF NOT EXISTS assets (
  project_id TEXT NOT NULL, url TEXT NOT NULL, sha256 TEXT, content_type TEXT, size BIGINT,
  fetched_ms BIGINT, fresh_until_ms BIGINT, refs TEXT, tried_ms BIGINT,
  failures BIGINT NOT NULL DEFAULT 0, error TEXT, due_ms BIGINT, lease_until BIGINT,
  PRIMARY KEY (project_id, url));
CREATE INDEX IF NOT EXISTS assets_due ON assets (project_id, due_ms);
CREATE INDEX IF NOT EXISTS assets_sha ON assets (project_id, sha256);
CREATE TABLE IF NOT EXISTS session_assets (
  project_id TEXT NOT NULL, session_id TEXT NOT NULL, url TEXT NOT NULL,
  sha256 TEXT, content_type TEXT, size BIGINT, fetched_ms BIGINT,
  PRIMARY KEY (project_id, session_id, url));
CREATE INDEX IF NOT EXISTS session_assets_url ON session_assets (project_id, url);
CREATE INDEX IF NOT EXISTS session_assets_sha ON session_assets (project_id, sha256)
"#,
];

/// Orders the session list can take (descending), besides its default `start_time`: PostHog's
/// recording orders and the key-moment counts.
pub const SORT_COLUMNS: &[&str] = &[
    "duration",
    "active_seconds",
    "inactive_seconds",
    "click_count",
    "keypress_count",
    "mouse_activity_count",
    "console_error_count",
    "rage_click_count",
    "dead_click_count",
    "error_click_count",
    "network_error_count",
    "activity_score",
];

/// A fixed SQL expression and the same value read from a row.
type SortKey = (&'static str, fn(&SessionRow) -> i64);

/// An order's SQL expression (fixed text, never from the request) and the same value read from a
/// row (for the paging cursor). Moment counts not computed yet sort last (-1).
fn sort_key(name: &str) -> Option<SortKey> {
    Some(match name {
        "duration" => ("(end_ms - start_ms)", |s| s.end_ms - s.start_ms),
        "active_seconds" => ("active_ms", |s| (s.active_seconds * 1000.0).round() as i64),
        "inactive_seconds" => ("((end_ms - start_ms) - active_ms)", |s| {
            s.end_ms - s.start_ms - (s.active_seconds * 1000.0).round() as i64
        }),
        "click_count" => ("click_count", |s| s.click_count),
        "keypress_count" => ("keypress_count", |s| s.keypress_count),
        "mouse_activity_count" => ("mouse_activity_count", |s| s.mouse_activity_count),
        "console_error_count" => ("console_error_count", |s| s.console_error_count),
        "rage_click_count" => ("COALESCE(rage_click_count, -1)", |s| {
            s.rage_click_count.unwrap_or(-1)
        }),
        "dead_click_count" => ("COALESCE(dead_click_count, -1)", |s| {
            s.dead_click_count.unwrap_or(-1)
        }),
        "error_click_count" => ("COALESCE(error_click_count, -1)", |s| {
            s.error_click_count.unwrap_or(-1)
        }),
        "network_error_count" => ("COALESCE(network_error_count, -1)", |s| {
            s.network_error_count.unwrap_or(-1)
        }),
        "activity_score" => ("COALESCE(activity_score, -1)", |s| {
            s.activity_score.unwrap_or(-1)
        }),
        _ => return None,
    })
}

/// A session's key moments as the index keeps them (see `Index::set_insight`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightRow {
    pub rage_click_count: i64,
    pub dead_click_count: i64,
    pub error_click_count: i64,
    pub network_error_count: i64,
    pub activity_score: i64,
    /// Kinds with at least one moment.
    pub kinds: Vec<String>,
    /// The whole `summary.json` document.
    pub json: String,
}

/// Pages one step of [`Index::reclaim`] gives back (4 KiB each).
const VACUUM_STEP_PAGES: i64 = 128;

#[derive(Clone)]
pub struct Index {
    pub pool: AnyPool,
    pub kind: Engine,
    /// SQLite allows one writer: writes queue here instead of failing with SQLITE_BUSY.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The server secret (random, kept in the `secrets` table) that keys audit subject hashes.
    secret: Arc<Vec<u8>>,
    /// A deletion's WAL checkpoint could not finish (readers were active): retried by
    /// [`Index::reclaim`] on the next maintenance run.
    checkpoint_pending: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A session row, with PostHog's field names where PostHog has them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub distinct_id: Option<String>,
    pub start_time: String,
    pub end_time: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Seconds.
    pub recording_duration: f64,
    pub active_seconds: f64,
    pub start_url: Option<String>,
    pub urls: Vec<String>,
    pub click_count: i64,
    pub keypress_count: i64,
    pub mouse_activity_count: i64,
    pub console_log_count: i64,
    pub console_warn_count: i64,
    pub console_error_count: i64,
    pub network_request_count: i64,
    pub user_agent: Option<String>,
    pub size: i64,
    pub event_count: i64,
    pub source: Option<String>,
    pub lib: Option<String>,
    pub lib_version: Option<String>,
    pub sealed: bool,
    /// Key moments (`None` until computed: at seal, or on a request for them).
    pub rage_click_count: Option<i64>,
    pub dead_click_count: Option<i64>,
    pub error_click_count: Option<i64>,
    pub network_error_count: Option<i64>,
    pub activity_score: Option<i64>,
    /// Watched by an admin (PostHog's `viewed`).
    pub viewed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only sessions watched (`true`) or not watched yet (`false`).
    pub watched: Option<bool>,
    pub person: Option<String>,
    pub url_contains: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub min_duration_ms: Option<i64>,
    pub has_errors: Option<bool>,
    /// Only sessions in this collection.
    pub collection: Option<String>,
    /// Only sessions recorded or imported by this source (`reel`, `posthog-export-v2`, …).
    pub source: Option<String>,
    /// Only sessions with at least one moment of each of these kinds (`rage_click`, …).
    pub has: Vec<String>,
    /// Sort by this order of [`SORT_COLUMNS`] (descending; sessions not analysed yet last)
    /// instead of newest first.
    pub sort: Option<String>,
    /// Free text found (case-insensitive substring) in the person, any page URL or any page title.
    pub search: Option<String>,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct BlockRow {
    pub id: String,
    pub window_id: String,
    pub blob_key: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub event_count: i64,
    pub bytes: i64,
    pub stored_bytes: i64,
    pub sealed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub capture_token: String,
    #[serde(skip)]
    pub admin_token_sha256: String,
    pub settings: serde_json::Value,
}

/// What a project keeps (`Index::usage`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Usage {
    pub sessions: i64,
    pub events: i64,
    /// Event JSON as recorded (uncompressed), bytes.
    pub event_bytes: i64,
    pub blocks: i64,
    /// What the blocks take in the blob store (compressed), bytes.
    pub stored_bytes: i64,
    pub people: i64,
}

/// A named admin token as listed: never the token, whose SHA-256 alone is stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdminTokenRow {
    #[serde(skip)]
    pub project_id: String,
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub token_sha256: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

/// Revoked admin tokens kept listed per project (older ones are forgotten when a token is made).
pub const KEPT_REVOKED_TOKENS: i64 = 100;

const ADMIN_TOKEN_COLS: &str =
    "project_id, id, name, token_sha256, created_ms, last_used_ms, revoked_ms";

fn admin_token_of(r: &AnyRow) -> Result<AdminTokenRow> {
    Ok(AdminTokenRow {
        project_id: r.try_get("project_id")?,
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        token_sha256: r.try_get("token_sha256")?,
        created_ms: r.try_get("created_ms")?,
        last_used_ms: r.try_get("last_used_ms")?,
        revoked_ms: r.try_get("revoked_ms")?,
    })
}

/// Bind values for dynamically built queries.
pub enum Arg {
    I(i64),
    S(String),
}

/// HMAC-SHA256 (RFC 2104) as hex.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    hex::encode(outer.finalize())
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

impl Index {
    /// Connect and migrate. `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Index> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            return Err(Error::Config(format!(
                "{url}: the index must be sqlite://PATH or postgres://…"
            )));
        };
        let url = if kind == Engine::Sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        let mut opts =
            AnyPoolOptions::new().max_connections(if kind == Engine::Sqlite { 4 } else { 16 });
        if kind == Engine::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    // auto_vacuum first: it only takes effect before the database's first table
                    // (older databases are switched once by `connect`). secure_delete: deleted
                    // rows are overwritten with zeros, not left in free space.
                    conn.execute("PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;").await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(&url).await.map_err(|e| {
            Error::Config(format!("cannot open the index {}: {e}", redact_url(&url)))
        })?;
        let mut idx = Index {
            pool,
            kind,
            write_lock: (kind == Engine::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
            secret: Arc::new(Vec::new()),
            checkpoint_pending: Default::default(),
        };
        idx.migrate().await?;
        if kind == Engine::Sqlite {
            idx.ensure_incremental_vacuum().await?;
        }
        idx.secret = Arc::new(idx.load_secret().await?);
        Ok(idx)
    }

    /// Databases created before auto_vacuum was set: switch them with a one-time VACUUM (it
    /// rewrites the file; needs as much free disk as the file's size).
    async fn ensure_incremental_vacuum(&self) -> Result<()> {
        let _w = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if mode != 2 {
            tracing::info!("index: switching to incremental auto-vacuum (one-time VACUUM)");
            sqlx::query("PRAGMA auto_vacuum=INCREMENTAL")
                .execute(&mut *conn)
                .await?;
            sqlx::query("VACUUM").execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The server secret, made on first start and shared by every server of the index.
    async fn load_secret(&self) -> Result<Vec<u8>> {
        let _w = self.writer().await;
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind("audit_hmac")
        .bind(random_token(43))
        .execute(&self.pool)
        .await?;
        let v: String = sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind("audit_hmac")
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?;
        Ok(v.into_bytes())
    }

    /// The keyed hash (HMAC-SHA256 with the server secret, hex) under which the audit log
    /// records a subject (a person's id, a session id): not reversible by guessing without the
    /// secret, yet the same subject always gives the same hash.
    pub fn subject_hash(&self, subject: &str) -> String {
        hmac_sha256_hex(&self.secret, subject.as_bytes())
    }

    /// Rows were deleted for good: the next [`Index::reclaim`] truncates the WAL so that no
    /// copy of them stays in `index.sqlite-wal`.
    pub(crate) fn note_deletion(&self) {
        self.checkpoint_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Hold this while writing (a no-op guard on PostgreSQL).
    pub async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        }
    }

    async fn migrate(&self) -> Result<()> {
        let _w = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        if self.kind == Engine::Postgres {
            // One migrator at a time across servers sharing the database.
            sqlx::query("SELECT pg_advisory_lock(7335001)")
                .execute(&mut *conn)
                .await?;
        }
        let res = async {
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                .execute(&mut *conn)
                .await?;
            let cur: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM schema_version")
                .fetch_one(&mut *conn)
                .await?
                .try_get("v")?;
            let cur = cur.unwrap_or(0) as usize;
            for (i, m) in MIGRATIONS.iter().enumerate().skip(cur) {
                // One transaction per migration (both engines have transactional DDL): a
                // migration that fails half-way leaves nothing behind.
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                for stmt in m.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    sqlx::query(stmt).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                    .bind((i + 1) as i64)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        if self.kind == Engine::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7335001)")
                .execute(&mut *conn)
                .await?;
        }
        Ok(res?)
    }

    /// A round trip to the database (health checks).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
    }

    // ---- projects and tokens ----

    /// The project, created on first start. Returns (project, Some(admin token) when newly made or reset).
    pub async fn ensure_project(
        &self,
        capture: Option<&str>,
        admin: Option<&str>,
    ) -> Result<(Project, Option<String>)> {
        let _w = self.writer().await;
        let existing = sqlx::query("SELECT id, name, capture_token, admin_token_sha256, settings FROM projects WHERE id = $1")
            .bind("default")
            .fetch_optional(&self.pool)
            .await?;
        match existing {
            Some(row) => {
                let mut p = project_of(&row)?;
                let mut shown = None;
                if let Some(c) = capture.filter(|c| *c != p.capture_token) {
                    sqlx::query("UPDATE projects SET capture_token = $1 WHERE id = $2")
                        .bind(c)
                        .bind(&p.id)
                        .execute(&self.pool)
                        .await?;
                    p.capture_token = c.to_string();
                }
                if let Some(a) = admin.filter(|a| sha256_hex(a) != p.admin_token_sha256) {
                    sqlx::query("UPDATE projects SET admin_token_sha256 = $1 WHERE id = $2")
                        .bind(sha256_hex(a))
                        .bind(&p.id)
                        .execute(&self.pool)
                        .await?;
                    p.admin_token_sha256 = sha256_hex(a);
                    shown = Some(a.to_string());
                }
                Ok((p, shown))
            }
            None => {
                let capture = capture
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("phc_reel{}", random_token(20)));
                let admin = admin
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("reel_admin_{}", random_token(32)));
                let settings = default_settings();
                sqlx::query("INSERT INTO projects (id, name, capture_token, admin_token_sha256, settings, created_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
                    .bind("default").bind("Default project").bind(&capture).bind(sha256_hex(&admin)).bind(settings.to_string()).bind(crate::now_ms())
                    .execute(&self.pool).await?;
                let row = sqlx::query("SELECT id, name, capture_token, admin_token_sha256, settings FROM projects WHERE id = $1").bind("default").fetch_one(&self.pool).await?;
                let p = project_of(&row)?;
                // Another server may have created it first: only show the token we actually stored.
                let shown = (p.admin_token_sha256 == sha256_hex(&admin)).then_some(admin);
                Ok((p, shown))
            }
        }
    }

    pub async fn project_by_capture_token(&self, token: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, capture_token, admin_token_sha256, settings FROM projects WHERE capture_token = $1").bind(token).fetch_optional(&self.pool).await?;
        row.map(|r| project_of(&r)).transpose()
    }

    pub async fn project_by_admin_token(&self, token: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, capture_token, admin_token_sha256, settings FROM projects WHERE admin_token_sha256 = $1")
            .bind(sha256_hex(token))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| project_of(&r)).transpose()
    }

    pub async fn set_settings(&self, project: &str, settings: &serde_json::Value) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query("UPDATE projects SET settings = $1 WHERE id = $2")
            .bind(settings.to_string())
            .bind(project)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The project with this id (the background refresh: found whatever its tokens became).
    pub async fn project(&self, id: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, capture_token, admin_token_sha256, settings FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| project_of(&r)).transpose()
    }

    /// Give the project a new random capture token; the old one is refused from then on.
    /// Returns the new token.
    pub async fn rotate_capture_token(&self, project: &str) -> Result<String> {
        let token = format!("phc_reel{}", random_token(20));
        let _w = self.writer().await;
        let n = sqlx::query("UPDATE projects SET capture_token = $1 WHERE id = $2")
            .bind(&token)
            .bind(project)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::Config(format!("no project {project:?}")));
        }
        Ok(token)
    }

    /// What the project keeps: sessions, their events and bytes, the bytes stored for them.
    pub async fn usage(&self, project: &str) -> Result<Usage> {
        let s = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(event_count), 0) AS BIGINT) AS events, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM sessions WHERE project_id = $1")
            .bind(project)
            .fetch_one(&self.pool)
            .await?;
        let b = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) AS stored FROM blocks WHERE project_id = $1")
            .bind(project)
            .fetch_one(&self.pool)
            .await?;
        let people: i64 = sqlx::query("SELECT COUNT(*) AS n FROM people WHERE project_id = $1")
            .bind(project)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(Usage {
            sessions: s.try_get("n")?,
            events: s.try_get("events")?,
            event_bytes: s.try_get("bytes")?,
            blocks: b.try_get("n")?,
            stored_bytes: b.try_get("stored")?,
            people,
        })
    }

    // ---- named admin tokens ----

    /// Make a named admin token; returns its row and the token (shown once: only its SHA-256
    /// is stored). `None` when the project already has `max_live` tokens not revoked. Of the
    /// revoked ones, the newest [`KEPT_REVOKED_TOKENS`] stay listed; older ones are forgotten.
    pub async fn create_admin_token(
        &self,
        project: &str,
        name: &str,
        max_live: i64,
    ) -> Result<Option<(AdminTokenRow, String)>> {
        let token = format!("reel_admin_{}", random_token(32));
        let row = AdminTokenRow {
            project_id: project.to_string(),
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_string(),
            token_sha256: sha256_hex(&token),
            created_ms: crate::now_ms(),
            last_used_ms: None,
            revoked_ms: None,
        };
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM admin_tokens WHERE project_id = $1 AND revoked_ms IS NOT NULL AND id NOT IN (SELECT id FROM admin_tokens WHERE project_id = $1 AND revoked_ms IS NOT NULL ORDER BY revoked_ms DESC, id DESC LIMIT {KEPT_REVOKED_TOKENS})")))
            .bind(project)
            .execute(&mut *tx)
            .await?;
        let live: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM admin_tokens WHERE project_id = $1 AND revoked_ms IS NULL",
        )
        .bind(project)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if live >= max_live {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query("INSERT INTO admin_tokens (project_id, id, name, token_sha256, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(project)
            .bind(&row.id)
            .bind(&row.name)
            .bind(&row.token_sha256)
            .bind(row.created_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some((row, token)))
    }

    /// The project's named admin tokens, oldest first (revoked ones too).
    pub async fn admin_tokens(&self, project: &str) -> Result<Vec<AdminTokenRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ADMIN_TOKEN_COLS} FROM admin_tokens WHERE project_id = $1 ORDER BY created_ms, id")))
            .bind(project)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(admin_token_of).collect()
    }

    /// The named admin token whose SHA-256 is `sha256` (revoked or not).
    pub async fn admin_token_by_hash(&self, sha256: &str) -> Result<Option<AdminTokenRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ADMIN_TOKEN_COLS} FROM admin_tokens WHERE token_sha256 = $1"
        )))
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(admin_token_of).transpose()
    }

    /// Note that a named token was used now (written at most once a minute per token).
    pub async fn touch_admin_token(&self, project: &str, id: &str, now_ms: i64) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query("UPDATE admin_tokens SET last_used_ms = $1 WHERE project_id = $2 AND id = $3 AND (last_used_ms IS NULL OR last_used_ms < $4)")
            .bind(now_ms)
            .bind(project)
            .bind(id)
            .bind(now_ms - 60_000)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revoke a named admin token: refused from now on. False when there is no such live token.
    pub async fn revoke_admin_token(&self, project: &str, id: &str) -> Result<bool> {
        self.revoke_row("admin_tokens", project, id).await
    }

    /// Mark row `id` of `table` (a fixed name: `shares`, `admin_tokens`) revoked now, unless it
    /// is already; false when there is no such live row.
    async fn revoke_row(&self, table: &'static str, project: &str, id: &str) -> Result<bool> {
        let _w = self.writer().await;
        // Audited: `table` is one of this file's fixed names; values are bound.
        let n = sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET revoked_ms = $1 WHERE project_id = $2 AND id = $3 AND revoked_ms IS NULL")))
            .bind(crate::now_ms())
            .bind(project)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    // ---- sessions ----

    pub async fn session(&self, project: &str, id: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE project_id = $1 AND id = $2"
        )))
        .bind(project)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => {
                let mut s = session_of(&r)?;
                s.urls = self.urls(project, id).await?;
                s.start_url = s.urls.first().cloned();
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    /// Keep facts of an imported session that have no column (`{"person": …, "extra": {…}}`, as
    /// a package's `session.json` holds them); a later import replaces them.
    pub async fn set_session_meta(
        &self,
        project: &str,
        id: &str,
        meta: &serde_json::Value,
    ) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query("UPDATE sessions SET meta = $1 WHERE project_id = $2 AND id = $3")
            .bind(meta.to_string())
            .bind(project)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// What [`Index::set_session_meta`] kept (None: nothing).
    pub async fn session_meta(&self, project: &str, id: &str) -> Result<Option<serde_json::Value>> {
        let row = sqlx::query("SELECT meta FROM sessions WHERE project_id = $1 AND id = $2")
            .bind(project)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let text: Option<String> = match row {
            Some(r) => r.try_get("meta")?,
            None => None,
        };
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn urls(&self, project: &str, id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT url FROM session_urls WHERE project_id = $1 AND session_id = $2 ORDER BY first_ms, url")
            .bind(project)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        strings(&rows, "url")
    }

    /// Mark a session watched (the first time counts; later calls keep it). False when there is
    /// no such session.
    pub async fn mark_watched(&self, project: &str, id: &str, now_ms: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE sessions SET watched_ms = COALESCE(watched_ms, $3) WHERE project_id = $1 AND id = $2",
        )
        .bind(project)
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// A page of sessions, newest first. Returns the rows and the cursor of the next page.
    pub async fn sessions(
        &self,
        project: &str,
        f: &SessionFilter,
    ) -> Result<(Vec<SessionRow>, Option<String>)> {
        let (mut sql, mut args) = filter_sql(
            &format!("SELECT {SESSION_COLS} FROM sessions s"),
            project,
            f,
        );
        // The sort key: a fixed expression from `sort_key` (never text from the request).
        let (key, sort_value): SortKey = match f.sort.as_deref() {
            Some(c) => match sort_key(c) {
                Some(k) => k,
                None => {
                    return Err(Error::Config(format!(
                        "sort: use one of {}",
                        SORT_COLUMNS.join(", ")
                    )))
                }
            },
            None => ("start_ms", |s| s.start_ms),
        };
        if let Some((ms, id)) = f.cursor.as_deref().and_then(decode_cursor) {
            args.push(Arg::I(ms));
            let a = args.len();
            args.push(Arg::S(id));
            let b = args.len();
            sql.push_str(&format!(
                " AND ({key} < ${a} OR ({key} = ${a} AND id < ${b}))"
            ));
        }
        let limit = f.limit.clamp(1, 500);
        sql.push_str(&format!(
            " ORDER BY {key} DESC, id DESC LIMIT {}",
            limit + 1
        ));
        // Audited: `sql` holds only fixed text and $N placeholders; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::I(i) => q.bind(i),
                Arg::S(s) => q.bind(s),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for r in rows.iter().take(limit as usize) {
            let mut s = session_of(r)?;
            s.urls = self.urls(project, &s.id).await?;
            s.start_url = s.urls.first().cloned();
            out.push(s);
        }
        let next = (rows.len() as i64 > limit)
            .then(|| out.last().map(|s| encode_cursor(sort_value(s), &s.id)))
            .flatten();
        Ok((out, next))
    }

    /// The sources of the project's sessions (recorders and import formats) with how many
    /// sessions each, most first.
    pub async fn sources(&self, project: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT COALESCE(source, '') AS source, COUNT(*) AS n FROM sessions WHERE project_id = $1 GROUP BY COALESCE(source, '') ORDER BY n DESC, source")
            .bind(project)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("source")?, r.try_get("n")?)))
            .collect()
    }

    /// How many sessions match the list's filters (cursor and limit ignored).
    pub async fn count_sessions(&self, project: &str, f: &SessionFilter) -> Result<i64> {
        let (sql, args) = filter_sql("SELECT COUNT(*) AS n FROM sessions s", project, f);
        // Audited: `sql` holds only fixed text and $N placeholders; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::I(i) => q.bind(i),
                Arg::S(s) => q.bind(s),
            };
        }
        Ok(q.fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// Keep a session's key moments (computed from `updated_ms` = `as_of`: the session's
    /// `updated_ms` when its events were read; a later batch makes them stale).
    pub async fn set_insight(
        &self,
        project: &str,
        id: &str,
        i: &InsightRow,
        as_of: i64,
    ) -> Result<()> {
        let _w = self.writer().await;
        let kinds = format!(",{},", i.kinds.join(","));
        sqlx::query("UPDATE sessions SET rage_click_count = $1, dead_click_count = $2, error_click_count = $3, network_error_count = $4, activity_score = $5, moment_kinds = $6, insight = $7, insight_ms = $8 WHERE project_id = $9 AND id = $10")
            .bind(i.rage_click_count)
            .bind(i.dead_click_count)
            .bind(i.error_click_count)
            .bind(i.network_error_count)
            .bind(i.activity_score)
            .bind(kinds)
            .bind(i.json.clone())
            .bind(as_of)
            .bind(project)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A session's kept `summary.json` if it is current (computed from the session as it is
    /// now), and the session's `updated_ms` (to pass to [`Index::set_insight`] after
    /// recomputing). `None`: no such session.
    pub async fn insight(&self, project: &str, id: &str) -> Result<Option<(Option<String>, i64)>> {
        let row = sqlx::query("SELECT insight, insight_ms, updated_ms FROM sessions WHERE project_id = $1 AND id = $2")
            .bind(project)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let json: Option<String> = r.try_get("insight")?;
        let at: Option<i64> = r.try_get("insight_ms")?;
        let updated: i64 = r.try_get("updated_ms")?;
        let current = at.is_some_and(|a| a >= updated);
        Ok(Some((json.filter(|_| current), updated)))
    }

    pub async fn blocks(&self, project: &str, session: &str) -> Result<Vec<BlockRow>> {
        let rows = sqlx::query(
            "SELECT id, window_id, blob_key, first_ms, last_ms, event_count, bytes, stored_bytes, sealed FROM blocks WHERE project_id = $1 AND session_id = $2 ORDER BY window_id, first_ms, id",
        )
        .bind(project)
        .bind(session)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BlockRow {
                    id: r.try_get("id")?,
                    window_id: r.try_get("window_id")?,
                    blob_key: r.try_get("blob_key")?,
                    first_ms: r.try_get("first_ms")?,
                    last_ms: r.try_get("last_ms")?,
                    event_count: r.try_get("event_count")?,
                    bytes: r.try_get("bytes")?,
                    stored_bytes: r.try_get("stored_bytes")?,
                    sealed: r.try_get::<i64, _>("sealed")? != 0,
                })
            })
            .collect()
    }

    /// The bytes of a block kept in the index (see [`crate::ingest`]), `None` if it is gone.
    pub async fn block_data(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT data FROM block_data WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("data")).transpose()?)
    }

    /// The bytes of every block of a session kept in the index, by block id (one query).
    pub async fn session_block_data(
        &self,
        project: &str,
        session: &str,
    ) -> Result<std::collections::HashMap<String, Vec<u8>>> {
        let rows = sqlx::query("SELECT id, data FROM block_data WHERE id IN (SELECT id FROM blocks WHERE project_id = $1 AND session_id = $2)")
            .bind(project)
            .bind(session)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("data")?)))
            .collect()
    }

    // ---- deletion ----

    /// On PostgreSQL, a lock on one session for the rest of the transaction: shared for those
    /// that add to a session (ingest, sealing), exclusive for its deletion. Whoever comes second
    /// waits, then sees what the first committed: a deletion sees the rows a concurrent batch or
    /// seal added; a batch or seal sees the deletion (tombstone, no session row). SQLite needs
    /// none: its writers queue on [`Index::writer`].
    pub(crate) async fn lock_session(
        &self,
        conn: &mut sqlx::AnyConnection,
        project: &str,
        session: &str,
        exclusive: bool,
    ) -> Result<()> {
        if self.kind != Engine::Postgres {
            return Ok(());
        }
        let key = session_lock_key(project, session);
        let sql = if exclusive {
            "SELECT pg_advisory_xact_lock($1)"
        } else {
            "SELECT pg_advisory_xact_lock_shared($1)"
        };
        sqlx::query(sql).bind(key).execute(&mut *conn).await?;
        Ok(())
    }

    /// Record that these sessions carried these persons' ids (`/e/` events; recordings do it at
    /// ingest), so that forgetting a person finds them. Tombstoned sessions are skipped.
    pub async fn link_people(&self, project: &str, links: &[(String, String)]) -> Result<()> {
        if links.is_empty() {
            return Ok(());
        }
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        for (session, distinct_id) in links {
            self.lock_session(&mut tx, project, session, false).await?;
            sqlx::query("INSERT INTO session_people (project_id, session_id, distinct_id) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM tombstones WHERE project_id = $1 AND session_id = $2) ON CONFLICT (project_id, session_id, distinct_id) DO NOTHING")
                .bind(project)
                .bind(session)
                .bind(distinct_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Delete every trace of a session in one transaction: its blocks (with the bytes kept in
    /// the index), URL rows (also those of a session known only from `/e/`), person links,
    /// shares, batch keys, the session row, and the `people` row of each person left with no
    /// session; then tombstone its id so that late batches are dropped. `None` if the index
    /// knew nothing of it, else the blob keys to delete from the blob store and the content hashes
    /// of the assets the session linked (deleted if nothing else names them; see
    /// `crate::assets`).
    pub async fn delete_session(
        &self,
        project: &str,
        session: &str,
    ) -> Result<Option<(Vec<String>, Vec<String>)>> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        self.lock_session(&mut tx, project, session, true).await?;
        // A write first: SQLite takes the write lock here (waiting for another process's
        // writer) instead of failing later when upgrading a read.
        sqlx::query("INSERT INTO tombstones (project_id, session_id, deleted_ms) VALUES ($1, $2, $3) ON CONFLICT (project_id, session_id) DO UPDATE SET deleted_ms = excluded.deleted_ms")
            .bind(project)
            .bind(session)
            .bind(crate::now_ms())
            .execute(&mut *tx)
            .await?;
        let keys: Vec<String> = strings(
            &sqlx::query("SELECT blob_key FROM blocks WHERE project_id = $1 AND session_id = $2")
                .bind(project)
                .bind(session)
                .fetch_all(&mut *tx)
                .await?,
            "blob_key",
        )?;
        let mut people = strings(
            &sqlx::query("SELECT distinct_id FROM session_people WHERE project_id = $1 AND session_id = $2 UNION SELECT distinct_id FROM sessions WHERE project_id = $1 AND id = $2 AND distinct_id IS NOT NULL")
                .bind(project)
                .bind(session)
                .fetch_all(&mut *tx)
                .await?,
            "distinct_id",
        )?;
        people.sort();
        people.dedup();
        sqlx::query("DELETE FROM block_data WHERE id IN (SELECT id FROM blocks WHERE project_id = $1 AND session_id = $2)")
            .bind(project)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        // RETURNING: exactly the links deleted, even one a fetch filled in a moment ago.
        let assets = sqlx::query(
            "DELETE FROM session_assets WHERE project_id = $1 AND session_id = $2 RETURNING sha256",
        )
        .bind(project)
        .bind(session)
        .fetch_all(&mut *tx)
        .await?;
        let mut n = assets.len() as u64;
        let mut shas = Vec::new();
        for r in &assets {
            if let Some(s) = r.try_get::<Option<String>, _>("sha256")? {
                shas.push(s);
            }
        }
        for t in [
            "blocks",
            "session_urls",
            "batches",
            "shares",
            "session_people",
            "comments",
            "collection_sessions",
            "session_titles",
        ] {
            n += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {t} WHERE project_id = $1 AND session_id = $2"
            )))
            .bind(project)
            .bind(session)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        // Copies in an export target go too (the exporter deletes them; see reel_store::export).
        sqlx::query("UPDATE exports SET deleted = 1, lease_until = NULL, retry_ms = NULL WHERE project_id = $1 AND session_id = $2")
            .bind(project)
            .bind(session)
            .execute(&mut *tx)
            .await?;
        n += sqlx::query("DELETE FROM sessions WHERE project_id = $1 AND id = $2")
            .bind(project)
            .bind(session)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        for d in &people {
            sqlx::query("DELETE FROM people WHERE project_id = $1 AND distinct_id = $2 AND NOT EXISTS (SELECT 1 FROM session_people WHERE project_id = $1 AND distinct_id = $2) AND NOT EXISTS (SELECT 1 FROM sessions WHERE project_id = $1 AND distinct_id = $2)")
                .bind(project)
                .bind(d)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.checkpoint_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(Some((keys, shas)))
    }

    /// Every session that ever carried this person's id: recordings (whatever id the session
    /// row holds now) and sessions known only from `/e/` page views.
    pub async fn sessions_of_person(
        &self,
        project: &str,
        distinct_id: &str,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT session_id AS id FROM session_people WHERE project_id = $1 AND distinct_id = $2 UNION SELECT id FROM sessions WHERE project_id = $1 AND distinct_id = $2")
            .bind(project)
            .bind(distinct_id)
            .fetch_all(&self.pool)
            .await?;
        let mut ids = strings(&rows, "id")?;
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The person's row and remaining links.
    pub async fn delete_person(&self, project: &str, distinct_id: &str) -> Result<()> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        for t in ["people", "session_people"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {t} WHERE project_id = $1 AND distinct_id = $2"
            )))
            .bind(project)
            .bind(distinct_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.checkpoint_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Sessions whose last event is older than `before_ms` (retention), and sessions known only
    /// from `/e/` page views whose last URL is older.
    pub async fn sessions_ended_before(
        &self,
        project: &str,
        before_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let mut ids = strings(
            &sqlx::query("SELECT id FROM sessions WHERE project_id = $1 AND end_ms < $2 ORDER BY end_ms LIMIT $3")
                .bind(project)
                .bind(before_ms)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            "id",
        )?;
        ids.extend(strings(
            &sqlx::query("SELECT session_id FROM session_urls u WHERE project_id = $1 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.project_id = u.project_id AND s.id = u.session_id) GROUP BY session_id HAVING MAX(first_ms) < $2 ORDER BY session_id LIMIT $3")
                .bind(project)
                .bind(before_ms)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            "session_id",
        )?);
        Ok(ids)
    }

    /// Forget tombstones older than `before_ms`: from then on a batch with that session id
    /// starts a new session.
    pub async fn purge_tombstones(&self, before_ms: i64) -> Result<u64> {
        let _w = self.writer().await;
        Ok(sqlx::query("DELETE FROM tombstones WHERE deleted_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Give freed space back (SQLite): free pages go back to the file system (incremental
    /// vacuum) and, after a deletion, the WAL is checkpointed and truncated so that no old copy
    /// of a deleted row stays in `index.sqlite-wal`. Retried on the next call while readers keep
    /// the checkpoint from finishing. A no-op on PostgreSQL (its own VACUUM reclaims space).
    pub async fn reclaim(&self) -> Result<()> {
        if self.kind != Engine::Sqlite {
            return Ok(());
        }
        // Free pages go back to the file system in small steps, each under the writer lock for
        // a moment only, so that ingest's group commits slip in between (one pass over a large
        // freelist held the writer for most of a second after a busy sealing sweep).
        for _ in 0..100_000 {
            let _w = self.writer().await;
            let mut conn = self.pool.acquire().await?;
            let free: i64 = sqlx::query("PRAGMA freelist_count")
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            if free == 0 {
                break;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})"
            )))
            .execute(&mut *conn)
            .await?;
            drop(conn);
            drop(_w);
            tokio::task::yield_now().await;
        }
        let _w = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        if !self
            .checkpoint_pending
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        for attempt in 0..40 {
            let busy: i64 = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            if busy == 0 {
                return Ok(());
            }
            tracing::debug!(attempt, "WAL checkpoint blocked by readers; retrying");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tracing::warn!(
            "WAL checkpoint after a deletion blocked by readers; retried on the next sweep"
        );
        self.checkpoint_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub async fn audit(
        &self,
        project: &str,
        action: &str,
        subject: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let _w = self.writer().await;
        sqlx::query("INSERT INTO audit (id, project_id, at_ms, action, subject_hmac, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(project)
            .bind(crate::now_ms())
            .bind(action)
            .bind(subject.map(|s| self.subject_hash(s)))
            .bind(detail.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn audit_log(&self, project: &str, limit: i64) -> Result<Vec<serde_json::Value>> {
        self.audit_log_of(project, None, limit).await
    }

    /// The audit log, newest first; with `subject`, only the entries about it (matched by its
    /// keyed hash, see [`Index::subject_hash`]).
    pub async fn audit_log_of(
        &self,
        project: &str,
        subject: Option<&str>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query("SELECT id, at_ms, action, subject_hmac, detail FROM audit WHERE project_id = $1 AND ($2 = '' OR subject_hmac = $2) ORDER BY at_ms DESC, id DESC LIMIT $3")
            .bind(project)
            .bind(subject.map(|s| self.subject_hash(s)).unwrap_or_default())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "id": r.try_get::<String, _>("id")?, "at_ms": r.try_get::<i64, _>("at_ms")?,
                    "action": r.try_get::<String, _>("action")?, "subject_hmac": r.try_get::<Option<String>, _>("subject_hmac")?,
                    "detail": serde_json::from_str::<serde_json::Value>(&r.try_get::<String, _>("detail")?).unwrap_or_default(),
                }))
            })
            .collect()
    }

    // ---- shares ----

    /// Create a share; returns (share id, token). Only the token's hash is stored.
    pub async fn create_share(
        &self,
        project: &str,
        session: &str,
        expires_ms: Option<i64>,
    ) -> Result<(String, String)> {
        self.insert_share(project, session, None, expires_ms).await
    }

    /// A share row: a session's (`collection` `None`) or a collection's (`session` empty).
    pub(crate) async fn insert_share(
        &self,
        project: &str,
        session: &str,
        collection: Option<&str>,
        expires_ms: Option<i64>,
    ) -> Result<(String, String)> {
        let token = random_token(32); // 32 base62 chars ≈ 190 bits
        let id = uuid::Uuid::now_v7().to_string();
        let _w = self.writer().await;
        sqlx::query("INSERT INTO shares (token_sha256, project_id, session_id, collection_id, id, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(sha256_hex(&token))
            .bind(project)
            .bind(session)
            .bind(collection)
            .bind(&id)
            .bind(crate::now_ms())
            .bind(expires_ms)
            .execute(&self.pool)
            .await?;
        Ok((id, token))
    }

    /// The (project, session) a live share token opens.
    pub async fn share(&self, token: &str) -> Result<Option<(String, String)>> {
        self.live_share(token, "session_id").await
    }

    /// (project, `column`) of a live share token whose `column` — `session_id` or
    /// `collection_id`, fixed text — says what it opens.
    pub(crate) async fn live_share(
        &self,
        token: &str,
        column: &'static str,
    ) -> Result<Option<(String, String)>> {
        let kind = if column == "collection_id" {
            "IS NOT NULL"
        } else {
            "IS NULL"
        };
        // Audited: `column` and `kind` are fixed text; the value is bound.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT project_id, {column} AS opens, expires_ms, revoked_ms FROM shares WHERE token_sha256 = $1 AND collection_id {kind}")))
            .bind(sha256_hex(token))
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let expires: Option<i64> = r.try_get("expires_ms")?;
        let revoked: Option<i64> = r.try_get("revoked_ms")?;
        if revoked.is_some() || expires.is_some_and(|e| e <= crate::now_ms()) {
            return Ok(None);
        }
        Ok(Some((r.try_get("project_id")?, r.try_get("opens")?)))
    }

    pub async fn list_shares(
        &self,
        project: &str,
        session: &str,
    ) -> Result<Vec<serde_json::Value>> {
        self.shares_where(project, "session_id", session).await
    }

    /// Share links whose `column` (`session_id` or `collection_id`, fixed text) is `value`.
    pub(crate) async fn shares_where(
        &self,
        project: &str,
        column: &'static str,
        value: &str,
    ) -> Result<Vec<serde_json::Value>> {
        // Audited: `column` is one of two fixed names; values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id, created_ms, expires_ms, revoked_ms FROM shares WHERE project_id = $1 AND {column} = $2 ORDER BY created_ms")))
            .bind(project)
            .bind(value)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({"id": r.try_get::<String, _>("id")?, "created_ms": r.try_get::<i64, _>("created_ms")?,
                    "expires_ms": r.try_get::<Option<i64>, _>("expires_ms")?, "revoked_ms": r.try_get::<Option<i64>, _>("revoked_ms")?}))
            })
            .collect()
    }

    pub async fn revoke_share(&self, project: &str, share_id: &str) -> Result<bool> {
        self.revoke_row("shares", project, share_id).await
    }
}

/// `select` + ` WHERE …` of the list's filters (fixed text and `$N` placeholders) and the values
/// to bind, in order. Cursor and order are the caller's.
fn filter_sql(select: &str, project: &str, f: &SessionFilter) -> (String, Vec<Arg>) {
    let mut sql = format!("{select} WHERE project_id = $1");
    let mut args = vec![Arg::S(project.into())];
    let mut push = |cond: &str, a: Arg, sql: &mut String| {
        args.push(a);
        sql.push_str(&cond.replace("$?", &format!("${}", args.len())));
    };
    if let Some(p) = &f.person {
        push(" AND distinct_id = $?", Arg::S(p.clone()), &mut sql);
    }
    if let Some(u) = &f.url_contains {
        let pat = format!("%{}%", like_escape(&u.to_lowercase()));
        push(
                " AND EXISTS (SELECT 1 FROM session_urls u WHERE u.project_id = s.project_id AND u.session_id = s.id AND LOWER(u.url) LIKE $? ESCAPE '\\')",
                Arg::S(pat),
                &mut sql,
            );
    }
    if let Some(t) = f.from_ms {
        push(" AND end_ms >= $?", Arg::I(t), &mut sql);
    }
    if let Some(t) = f.to_ms {
        push(" AND start_ms <= $?", Arg::I(t), &mut sql);
    }
    if let Some(d) = f.min_duration_ms {
        push(" AND end_ms - start_ms >= $?", Arg::I(d), &mut sql);
    }
    if let Some(src) = &f.source {
        push(" AND source = $?", Arg::S(src.clone()), &mut sql);
    }
    if let Some(c) = &f.collection {
        push(
                " AND EXISTS (SELECT 1 FROM collection_sessions m WHERE m.project_id = s.project_id AND m.collection_id = $? AND m.session_id = s.id)",
                Arg::S(c.clone()),
                &mut sql,
            );
    }
    match f.watched {
        Some(true) => sql.push_str(" AND watched_ms IS NOT NULL"),
        Some(false) => sql.push_str(" AND watched_ms IS NULL"),
        None => {}
    }
    match f.has_errors {
        Some(true) => sql.push_str(" AND console_error_count > 0"),
        Some(false) => sql.push_str(" AND console_error_count = 0"),
        None => {}
    }
    for k in &f.has {
        // Kinds are plain names; anything else matches nothing.
        let k: String = k
            .chars()
            .filter(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        push(
            " AND moment_kinds LIKE $?",
            Arg::S(format!("%,{k},%")),
            &mut sql,
        );
    }
    if let Some(q) = f.search.as_deref().filter(|q| !q.trim().is_empty()) {
        // Free text over the person and every page URL, case-insensitive, as a substring.
        let pat = format!("%{}%", like_escape(&q.trim().to_lowercase()));
        args.push(Arg::S(pat));
        let n = args.len();
        sql.push_str(&format!(
                " AND (LOWER(COALESCE(distinct_id, '')) LIKE ${n} ESCAPE '\\' OR EXISTS (SELECT 1 FROM session_urls u WHERE u.project_id = s.project_id AND u.session_id = s.id AND LOWER(u.url) LIKE ${n} ESCAPE '\\') OR EXISTS (SELECT 1 FROM session_titles t WHERE t.project_id = s.project_id AND t.session_id = s.id AND LOWER(t.title) LIKE ${n} ESCAPE '\\'))"
            ));
    }
    (sql, args)
}

/// The sessions among `sessions` whose id is tombstoned (deleted, see [`Index::delete_session`]).
pub(crate) async fn tombstoned(
    conn: &mut sqlx::AnyConnection,
    project: &str,
    sessions: &[&str],
) -> Result<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    for chunk in sessions.chunks(200) {
        let ph: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT session_id FROM tombstones WHERE project_id = $1 AND session_id IN ({})",
            ph.join(", ")
        );
        // Audited: only $N placeholders are interpolated; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project);
        for s in chunk {
            q = q.bind(*s);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.insert(r.try_get::<String, _>("session_id")?);
        }
    }
    Ok(out)
}

/// The PostgreSQL advisory lock key of a session (see [`Index::lock_session`]).
#[doc(hidden)]
pub fn session_lock_key(project: &str, session: &str) -> i64 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("reel-session\n{project}\n{session}").as_bytes());
    i64::from_be_bytes(h[..8].try_into().unwrap_or_default())
}

/// One text column of every row.
pub(crate) fn strings(rows: &[AnyRow], column: &str) -> Result<Vec<String>> {
    rows.iter()
        .map(|r| r.try_get::<String, _>(column).map_err(Error::from))
        .collect()
}

/// `s` for a `LIKE … ESCAPE '\'` pattern: its `\`, `%` and `_` match themselves.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Besides the columns: the bytes of the session's fetched assets (`asset_bytes`; `$1` is the
/// project in every query that selects these; `id` inside the subquery is the session's).
pub(crate) const SESSION_COLS: &str = "id, distinct_id, start_ms, end_ms, event_count, size, (SELECT CAST(COALESCE(SUM(sa.size), 0) AS BIGINT) FROM session_assets sa WHERE sa.project_id = $1 AND sa.session_id = id AND sa.sha256 IS NOT NULL) AS asset_bytes, click_count, keypress_count, mouse_activity_count, console_log_count, console_warn_count, console_error_count, network_request_count, active_ms, user_agent, source, lib, lib_version, sealed_ms, rage_click_count, dead_click_count, error_click_count, network_error_count, activity_score, watched_ms";

fn session_of(r: &AnyRow) -> Result<SessionRow> {
    let start_ms: i64 = r.try_get("start_ms")?;
    let end_ms: i64 = r.try_get("end_ms")?;
    let active: i64 = r.try_get("active_ms")?;
    Ok(SessionRow {
        id: r.try_get("id")?,
        distinct_id: r.try_get("distinct_id")?,
        start_time: reel_format::package::iso_ms(start_ms),
        end_time: reel_format::package::iso_ms(end_ms),
        start_ms,
        end_ms,
        recording_duration: (end_ms - start_ms) as f64 / 1000.0,
        active_seconds: active as f64 / 1000.0,
        start_url: None,
        urls: Vec::new(),
        click_count: r.try_get("click_count")?,
        keypress_count: r.try_get("keypress_count")?,
        mouse_activity_count: r.try_get("mouse_activity_count")?,
        console_log_count: r.try_get("console_log_count")?,
        console_warn_count: r.try_get("console_warn_count")?,
        console_error_count: r.try_get("console_error_count")?,
        network_request_count: r.try_get("network_request_count")?,
        user_agent: r.try_get("user_agent")?,
        size: r.try_get::<i64, _>("size")? + r.try_get::<i64, _>("asset_bytes")?,
        event_count: r.try_get("event_count")?,
        source: r.try_get("source")?,
        lib: r.try_get("lib")?,
        lib_version: r.try_get("lib_version")?,
        sealed: r.try_get::<Option<i64>, _>("sealed_ms")?.is_some(),
        rage_click_count: r.try_get("rage_click_count")?,
        dead_click_count: r.try_get("dead_click_count")?,
        error_click_count: r.try_get("error_click_count")?,
        network_error_count: r.try_get("network_error_count")?,
        activity_score: r.try_get("activity_score")?,
        viewed: r.try_get::<Option<i64>, _>("watched_ms")?.is_some(),
    })
}

fn project_of(r: &AnyRow) -> Result<Project> {
    Ok(Project {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        capture_token: r.try_get("capture_token")?,
        admin_token_sha256: r.try_get("admin_token_sha256")?,
        settings: serde_json::from_str(&r.try_get::<String, _>("settings")?)
            .unwrap_or_else(|_| default_settings()),
    })
}

/// Project settings that drive the remote config posthog-js receives.
pub fn default_settings() -> serde_json::Value {
    serde_json::json!({
        "recording_enabled": true,
        "console_log_recording": true,
        "network_capture": {"recordHeaders": false, "recordBody": false},
        "masking": {"maskAllInputs": true},
        "sample_rate": null,
        "minimum_duration_ms": null,
    })
}

fn encode_cursor(ms: i64, id: &str) -> String {
    hex::encode(format!("{ms}:{id}"))
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    let s = String::from_utf8(hex::decode(c).ok()?).ok()?;
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.to_string()))
}

/// Random `[A-Za-z0-9]` string from the OS generator.
pub fn random_token(n: usize) -> String {
    use rand::Rng;
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| A[rng.gen_range(0..A.len())] as char)
        .collect()
}

fn redact_url(u: &str) -> String {
    match (u.find("://"), u.rfind('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://…@{}", &u[..a], &u[b + 1..]),
        _ => u.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            super::hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            super::hmac_sha256_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
