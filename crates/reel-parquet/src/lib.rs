//! # reel-parquet
//!
//! Recordings as two Parquet tables that DuckDB, Spark, ClickHouse or pandas read directly
//! (columns: `docs/parquet.md`):
//!
//! * `sessions`: one row per session, under PostHog's `session_replay_events` column names
//!   (`session_id`, `distinct_id`, `min_first_timestamp`, `click_count`, …). The statistics are
//!   the ones Reel computes for every session ([`reel_format::stats`], what `reel inspect`
//!   prints), read from the package's `meta.json`.
//! * `events`: one row per meaningful event (click, input, scroll, navigation, console, network,
//!   …) from [`reel_insight::timeline`], targets resolved through the page's DOM.
//!
//! [`Tables`] writes both streaming: rows are gathered in Arrow batches of
//! [`Options::batch_rows`] rows and row groups are flushed when their encoded size reaches
//! [`Options::row_group_bytes`], so memory stays flat however many sessions go through. Packages
//! are read with reel-format's checking reader ([`PackageReader`]) under [`Limits`]: sizes and
//! ratios capped, every window's SHA-256 compared with the manifest.
//!
//! ```no_run
//! # fn demo() -> Result<(), reel_parquet::Error> {
//! let mut t = reel_parquet::Tables::new(
//!     std::fs::File::create("sessions.parquet").unwrap(),
//!     std::fs::File::create("events.parquet").unwrap(),
//! )?;
//! t.add_package(std::fs::File::open("a.reel.zip").unwrap())?;
//! let counts = t.finish()?;
//! println!("{} sessions, {} events", counts.sessions, counts.events);
//! # Ok(()) }
//! ```
//!
//! This crate owns the tables' schema and their writing; it knows nothing about storage, HTTP or
//! where the bytes go (any `Write`).
#![forbid(unsafe_code)]

mod tables;

pub use tables::{events_schema, sessions_schema, Counts, Options, Tables, EVENT_KINDS};

/// Why tables could not be written: one line naming what failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl From<reel_format::Error> for Error {
    fn from(e: reel_format::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error(format!("writing Parquet: {e}"))
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error(format!("building Arrow columns: {e}"))
    }
}

pub use reel_format::package::PackageReader;
pub use reel_format::Limits;

#[cfg(test)]
mod tests;
