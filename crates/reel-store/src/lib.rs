//! # reel-store
//!
//! Where recordings live once a server accepts them:
//!
//! * [`blobs`]: compressed JSONL blocks in an object store — a local folder (embedded default) or
//!   any S3-compatible bucket — through `object_store`.
//! * [`index`]: projects, sessions (with PostHog's list fields), blocks, people, shares and the
//!   audit log, in SQLite (embedded default) or PostgreSQL, through one SQL dialect both accept.
//! * [`ingest`]: durable, idempotent ingest: a batch is acknowledged only after its block is
//!   stored (fsynced locally, or put to S3) and its index rows are committed; a retried batch
//!   (same batch id or `$snapshot` uuid) is stored once.
//! * [`seal`]: background compaction of a session's small ingest blocks into one block per
//!   window at a high compression level.
//! * [`read`]: a session's events in time order, `cv` decoded.
//! * [`dedupe`]: idempotent imports: events a session already holds are not stored again.
//! * [`export`]: continuous export of sealed sessions to a folder or bucket the user owns.
//! * [`comments`]: comments at a time of a recording; deleted with their session.
//! * [`collections`]: named lists of sessions and the share links that open one.
//! * [`assets`]: the bookkeeping and bytes of assets the server collects for its recordings
//!   (fetching them is the server's, through `reel-move`).
//!
//! This crate knows nothing about HTTP.
#![forbid(unsafe_code)]

pub mod assets;
pub mod blobs;
pub mod collections;
pub mod comments;
pub mod dedupe;
pub mod export;
pub mod index;
pub mod ingest;
pub mod read;
pub mod seal;

pub use blobs::Blobs;
pub use collections::Collection;
pub use comments::Comment;
pub use dedupe::ImportOutcome;
pub use index::{AdminTokenRow, Index, InsightRow, SessionFilter, SessionRow, Usage, SORT_COLUMNS};
pub use ingest::{IngestOutcome, IngestUnit};

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("index: {0}")]
    Index(#[from] sqlx::Error),
    #[error("blob store: {0}")]
    Blob(#[from] object_store::Error),
    #[error("{0}")]
    Format(#[from] reel_format::Error),
    #[error("{0}")]
    Config(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A batch would take a session past the per-session cap on stored event bytes.
    #[error("session {session} already holds {stored} bytes of events; this batch of {adding} bytes would pass the per-session cap of {cap} bytes")]
    SessionCap {
        session: String,
        stored: u64,
        adding: u64,
        cap: u64,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Blobs + index: everything a server (or a test) needs to store and read recordings.
#[derive(Clone)]
pub struct Store {
    pub blobs: Blobs,
    pub index: Index,
    pub metrics: Arc<Metrics>,
    /// SQLite's group committer for ingest (None on PostgreSQL).
    committer: Option<tokio::sync::mpsc::UnboundedSender<ingest::Work>>,
    /// Test hook: a pause in [`Store::seal`] before its index transaction (see [`seal::SealPause`]).
    #[doc(hidden)]
    pub seal_pause: Arc<std::sync::Mutex<Option<seal::SealPause>>>,
    /// Largest amount of event JSON one session may hold, bytes (0: no cap).
    session_cap: u64,
    /// Rows of `session_people` this process knows are there (see [`ingest::SeenPeople`]).
    seen_people: Arc<std::sync::Mutex<ingest::SeenPeople>>,
}

/// Default per-session cap on stored event bytes (uncompressed JSON): 1 GiB.
pub const DEFAULT_SESSION_CAP: u64 = 1 << 30;

impl Store {
    /// Open (and migrate) the store. `index_url`: `sqlite://PATH` or `postgres://…`;
    /// `blobs_url`: a folder path, `file://PATH` or `s3://bucket/prefix`.
    pub async fn open(index_url: &str, blobs_url: &str) -> Result<Store> {
        let index = Index::connect(index_url).await?;
        let blobs = Blobs::open(blobs_url)?;
        let committer =
            (index.kind == index::Engine::Sqlite).then(|| ingest::spawn_committer(index.clone()));
        Ok(Store {
            blobs,
            index,
            metrics: Arc::new(Metrics::default()),
            committer,
            seal_pause: Default::default(),
            session_cap: DEFAULT_SESSION_CAP,
            seen_people: Default::default(),
        })
    }

    /// Set the per-session cap on stored event bytes (0: no cap); see [`Error::SessionCap`].
    pub fn set_session_cap(&mut self, bytes: u64) {
        self.session_cap = bytes;
    }

    pub fn session_cap(&self) -> u64 {
        self.session_cap
    }
}

/// Counters the server exports on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub batches: std::sync::atomic::AtomicU64,
    pub duplicate_batches: std::sync::atomic::AtomicU64,
    pub events: std::sync::atomic::AtomicU64,
    pub event_bytes: std::sync::atomic::AtomicU64,
    pub block_writes: std::sync::atomic::AtomicU64,
    pub block_bytes: std::sync::atomic::AtomicU64,
    pub sealed_sessions: std::sync::atomic::AtomicU64,
    /// Seal attempts that failed (each backs its session off).
    pub seal_failures: std::sync::atomic::AtomicU64,
    /// Sessions waiting for a retry after a failed seal (refreshed by the server's sweep).
    pub sessions_backed_off: std::sync::atomic::AtomicI64,
    /// Last ingest lag: now − newest event timestamp of the batch, ms.
    pub ingest_lag_ms: std::sync::atomic::AtomicI64,
    /// Sessions written to the export target (`--export-to`).
    pub exported_sessions: std::sync::atomic::AtomicU64,
    /// Export attempts (or deletions of exported copies) that failed; each is retried, backing off.
    pub export_failures: std::sync::atomic::AtomicU64,
    /// Sessions waiting to be exported, plus exported copies waiting to be deleted (refreshed by the exporter).
    pub export_pending: std::sync::atomic::AtomicI64,
    /// Sessions whose export failed at least once since it last succeeded.
    pub export_retrying: std::sync::atomic::AtomicI64,
    /// Assets fetched and stored (`--capture-assets`).
    pub assets_fetched: std::sync::atomic::AtomicU64,
    /// Asset fetches that failed (each retried, backing off, a few times).
    pub assets_failed: std::sync::atomic::AtomicU64,
    /// Bytes of assets fetched and stored.
    pub asset_bytes: std::sync::atomic::AtomicU64,
}

/// Delay before the next attempt after `failures` earlier failures: `base` × 2^failures, at most
/// `max` (sealing and export back off alike).
pub(crate) fn backoff_ms(base: i64, max: i64, failures: i64) -> i64 {
    base.saturating_mul(1i64 << failures.clamp(0, 20)).min(max)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
