//! Continuous export: every sealed session copied, as a package and as Parquet, to a place the user
//! owns (`reel serve --export-to s3://bucket/prefix` or a folder), exactly once in effect.
//!
//! The `exports` table holds one row per (session, target): the session version written (its
//! `sealed_ms`: a session that grows is sealed again with a new one, and so written again), the keys
//! written, a lease (two servers never export one session at once), failures with a retry time
//! (capped exponential backoff), and a `deleted` mark set by a session's deletion in the same
//! transaction that removes its rows: the exporter then deletes the copies from the target too, so
//! a deleted recording does not live on in the user's bucket. Keys are derived from the session id
//! and its start day only, so a retried or repeated export overwrites the same objects.
use crate::{now_ms, Blobs, Result, Store};
use sqlx::Row;
use std::sync::atomic::Ordering;

/// How long a claimed export may run before another server may take it over.
pub const EXPORT_LEASE_MS: i64 = 15 * 60_000;
/// A failed export is retried after this long, doubled per further failure …
pub const EXPORT_BACKOFF_MS: i64 = 30_000;
/// … up to this.
pub const EXPORT_BACKOFF_MAX_MS: i64 = 3_600_000;

/// The objects one session is written as, relative to the target's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportKeys {
    /// `sessions/YYYY/MM/DD/<id>.reel.zip`
    pub package: String,
    /// `parquet/sessions/date=YYYY-MM-DD/<id>.parquet`
    pub sessions_parquet: String,
    /// `parquet/events/date=YYYY-MM-DD/<id>.parquet`
    pub events_parquet: String,
}

impl ExportKeys {
    /// Keys of a session that started at `start_ms` (the day is UTC). Hive-style `date=` folders
    /// let DuckDB, Spark or ClickHouse prune Parquet files by day.
    pub fn new(session_id: &str, start_ms: i64) -> ExportKeys {
        let t = time::OffsetDateTime::from_unix_timestamp(start_ms.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
        ExportKeys {
            package: format!("sessions/{y:04}/{m:02}/{d:02}/{session_id}.reel.zip"),
            sessions_parquet: format!(
                "parquet/sessions/date={y:04}-{m:02}-{d:02}/{session_id}.parquet"
            ),
            events_parquet: format!(
                "parquet/events/date={y:04}-{m:02}-{d:02}/{session_id}.parquet"
            ),
        }
    }

    pub fn all(&self) -> [&str; 3] {
        [&self.package, &self.sessions_parquet, &self.events_parquet]
    }
}

/// A session whose current version is not in the target yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueExport {
    pub session_id: String,
    /// The session's `sealed_ms`: the version this export writes.
    pub version: i64,
    pub start_ms: i64,
}

/// A deleted session whose copies are still in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDeletion {
    pub session_id: String,
    pub keys: Vec<String>,
}

/// The three files of one session, ready to upload.
pub struct ExportFiles {
    pub package: std::fs::File,
    pub sessions_parquet: std::fs::File,
    pub events_parquet: std::fs::File,
}

/// Where exports go: a folder or `s3://bucket/prefix` (same rules as the blob store's URL).
#[derive(Clone)]
pub struct ExportTarget {
    blobs: Blobs,
    /// The URL as given: it names the target in the `exports` table, so a new target gets every
    /// session again.
    pub url: String,
}

impl ExportTarget {
    pub fn open(url: &str) -> Result<ExportTarget> {
        Ok(ExportTarget {
            blobs: Blobs::open(url)?,
            url: url.to_string(),
        })
    }

    /// Upload a session's files (each atomically: a reader never sees half an object), then
    /// delete `stale` keys an earlier version used that this one does not.
    pub async fn publish(
        &self,
        keys: &ExportKeys,
        files: ExportFiles,
        stale: &[String],
    ) -> Result<()> {
        // Parquet first, the package last: a package in the target means its tables are there.
        self.blobs
            .put_file(&keys.sessions_parquet, files.sessions_parquet)
            .await?;
        self.blobs
            .put_file(&keys.events_parquet, files.events_parquet)
            .await?;
        self.blobs.put_file(&keys.package, files.package).await?;
        for k in stale.iter().filter(|k| !keys.all().contains(&k.as_str())) {
            self.blobs.delete(k).await?;
        }
        Ok(())
    }

    /// Delete objects (missing ones are fine).
    pub async fn remove(&self, keys: &[String]) -> Result<()> {
        for k in keys {
            self.blobs.delete(k).await?;
        }
        Ok(())
    }

    /// A small object (a state file), or None if it is not there; refused past `cap` bytes.
    pub async fn get_small(&self, key: &str, cap: usize) -> Result<Option<Vec<u8>>> {
        match self.blobs.get_capped(key, cap as u64).await {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(crate::Error::Blob(object_store::Error::NotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn put_small(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.blobs.put(key, bytes).await
    }
}

fn join_keys(keys: &ExportKeys) -> String {
    keys.all().join("\n")
}

fn split_keys(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

impl Store {
    /// Sealed sessions whose current version the target does not hold, oldest seal first, leaving
    /// out those another server is exporting and those backing off after a failure.
    pub async fn exports_due(
        &self,
        project: &str,
        target: &str,
        limit: i64,
    ) -> Result<Vec<DueExport>> {
        let rows = sqlx::query("SELECT s.id, s.sealed_ms, s.start_ms FROM sessions s LEFT JOIN exports x ON x.project_id = s.project_id AND x.session_id = s.id AND x.target = $2 WHERE s.project_id = $1 AND s.sealed_ms IS NOT NULL AND (x.session_id IS NULL OR (x.deleted = 0 AND (x.version IS NULL OR x.version <> s.sealed_ms) AND (x.retry_ms IS NULL OR x.retry_ms <= $3) AND (x.lease_until IS NULL OR x.lease_until < $3))) ORDER BY s.sealed_ms LIMIT $4")
            .bind(project)
            .bind(target)
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.index.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueExport {
                    session_id: r.try_get("id")?,
                    version: r.try_get("sealed_ms")?,
                    start_ms: r.try_get("start_ms")?,
                })
            })
            .collect()
    }

    /// Sessions of the target whose copies wait to be deleted.
    pub async fn export_deletions_due(
        &self,
        project: &str,
        target: &str,
        limit: i64,
    ) -> Result<Vec<DueDeletion>> {
        let rows = sqlx::query("SELECT session_id, keys FROM exports WHERE project_id = $1 AND target = $2 AND deleted = 1 AND (retry_ms IS NULL OR retry_ms <= $3) AND (lease_until IS NULL OR lease_until < $3) ORDER BY session_id LIMIT $4")
            .bind(project)
            .bind(target)
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.index.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueDeletion {
                    session_id: r.try_get("session_id")?,
                    keys: split_keys(r.try_get("keys")?),
                })
            })
            .collect()
    }

    /// Take the lease on a session's export (creating its row). Returns the lease's expiry (the
    /// token the later calls pass) and the keys the target holds from an earlier version, or None
    /// when another server holds it.
    /// `version` is the one listed as due: a server that listed it too late (another has written
    /// it meanwhile) does not get the lease, so a version is written once.
    pub async fn claim_export(
        &self,
        project: &str,
        session: &str,
        target: &str,
        version: i64,
    ) -> Result<Option<(i64, Vec<String>)>> {
        let now = now_ms();
        let lease = now + EXPORT_LEASE_MS;
        let _w = self.index.writer().await;
        let n = sqlx::query("INSERT INTO exports (project_id, session_id, target, deleted, failures, lease_until) VALUES ($1, $2, $3, 0, 0, $4) ON CONFLICT (project_id, session_id, target) DO UPDATE SET lease_until = excluded.lease_until WHERE (exports.lease_until IS NULL OR exports.lease_until < $5) AND exports.deleted = 0 AND (exports.version IS NULL OR exports.version <> $6)")
            .bind(project)
            .bind(session)
            .bind(target)
            .bind(lease)
            .bind(now)
            .bind(version)
            .execute(&self.index.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        let keys = sqlx::query(
            "SELECT keys FROM exports WHERE project_id = $1 AND session_id = $2 AND target = $3",
        )
        .bind(project)
        .bind(session)
        .bind(target)
        .fetch_optional(&self.index.pool)
        .await?
        .map(|r| r.try_get::<Option<String>, _>("keys"))
        .transpose()?
        .flatten();
        Ok(Some((lease, split_keys(keys))))
    }

    /// Record a finished export. False when the session was deleted meanwhile (or the lease was
    /// lost): the caller then removes what it just wrote, since no one else knows those keys.
    pub async fn finish_export(
        &self,
        project: &str,
        session: &str,
        target: &str,
        lease: i64,
        version: i64,
        keys: &ExportKeys,
    ) -> Result<bool> {
        let _w = self.index.writer().await;
        let n = sqlx::query("UPDATE exports SET version = $1, keys = $2, exported_ms = $3, failures = 0, retry_ms = NULL, error = NULL, lease_until = NULL WHERE project_id = $4 AND session_id = $5 AND target = $6 AND deleted = 0 AND lease_until = $7")
            .bind(version)
            .bind(join_keys(keys))
            .bind(now_ms())
            .bind(project)
            .bind(session)
            .bind(target)
            .bind(lease)
            .execute(&self.index.pool)
            .await?
            .rows_affected();
        if n == 1 {
            self.metrics
                .exported_sessions
                .fetch_add(1, Ordering::Relaxed);
        }
        Ok(n == 1)
    }

    /// Record a failed export (or deletion of copies): released, retried after
    /// [`EXPORT_BACKOFF_MS`] × 2^(failures − 1), at most [`EXPORT_BACKOFF_MAX_MS`].
    pub async fn fail_export(
        &self,
        project: &str,
        session: &str,
        target: &str,
        error: &str,
    ) -> Result<()> {
        self.metrics.export_failures.fetch_add(1, Ordering::Relaxed);
        let _w = self.index.writer().await;
        let failures: i64 = sqlx::query("SELECT failures FROM exports WHERE project_id = $1 AND session_id = $2 AND target = $3")
            .bind(project)
            .bind(session)
            .bind(target)
            .fetch_optional(&self.index.pool)
            .await?
            .map(|r| r.try_get("failures"))
            .transpose()?
            .unwrap_or(0);
        let delay = crate::backoff_ms(EXPORT_BACKOFF_MS, EXPORT_BACKOFF_MAX_MS, failures);
        let error: String = error.chars().take(500).collect();
        sqlx::query("UPDATE exports SET failures = failures + 1, retry_ms = $1, error = $2, lease_until = NULL WHERE project_id = $3 AND session_id = $4 AND target = $5")
            .bind(now_ms() + delay)
            .bind(error)
            .bind(project)
            .bind(session)
            .bind(target)
            .execute(&self.index.pool)
            .await?;
        Ok(())
    }

    /// The session is gone from the store: its copies (if any) are to be deleted from the target.
    pub async fn abandon_export(&self, project: &str, session: &str, target: &str) -> Result<()> {
        self.export_row("UPDATE exports SET deleted = 1, lease_until = NULL, retry_ms = NULL WHERE project_id = $1 AND session_id = $2 AND target = $3", project, session, target).await
    }

    /// The deleted session's copies are gone from the target: forget its export row.
    pub async fn export_deleted(&self, project: &str, session: &str, target: &str) -> Result<()> {
        self.export_row("DELETE FROM exports WHERE project_id = $1 AND session_id = $2 AND target = $3 AND deleted = 1", project, session, target).await
    }

    /// Run one statement on a session's export row (`$1` project, `$2` session, `$3` target).
    async fn export_row(
        &self,
        sql: &'static str,
        project: &str,
        session: &str,
        target: &str,
    ) -> Result<()> {
        let _w = self.index.writer().await;
        sqlx::query(sql)
            .bind(project)
            .bind(session)
            .bind(target)
            .execute(&self.index.pool)
            .await?;
        Ok(())
    }

    /// Refresh the gauges of `/metrics`: sessions waiting for export (incl. copies to delete) and
    /// those retrying after a failure.
    pub async fn refresh_export_gauges(&self, project: &str, target: &str) -> Result<()> {
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM sessions s LEFT JOIN exports x ON x.project_id = s.project_id AND x.session_id = s.id AND x.target = $2 WHERE s.project_id = $1 AND s.sealed_ms IS NOT NULL AND (x.session_id IS NULL OR (x.deleted = 0 AND (x.version IS NULL OR x.version <> s.sealed_ms)))) + (SELECT COUNT(*) FROM exports WHERE project_id = $1 AND target = $2 AND deleted = 1) AS pending, (SELECT COUNT(*) FROM exports WHERE project_id = $1 AND target = $2 AND failures > 0) AS retrying")
            .bind(project)
            .bind(target)
            .fetch_one(&self.index.pool)
            .await?;
        self.metrics
            .export_pending
            .store(row.try_get("pending")?, Ordering::Relaxed);
        self.metrics
            .export_retrying
            .store(row.try_get("retrying")?, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_partitioned_by_the_start_day_in_utc() {
        // 2024-03-01T23:59:59.999Z and a second later.
        let k = ExportKeys::new("s1", 1_709_337_599_999);
        assert_eq!(k.package, "sessions/2024/03/01/s1.reel.zip");
        assert_eq!(
            k.sessions_parquet,
            "parquet/sessions/date=2024-03-01/s1.parquet"
        );
        assert_eq!(
            k.events_parquet,
            "parquet/events/date=2024-03-01/s1.parquet"
        );
        let k = ExportKeys::new("s1", 1_709_337_600_000);
        assert_eq!(k.package, "sessions/2024/03/02/s1.reel.zip");
        assert_eq!(
            split_keys(Some(join_keys(&k))),
            k.all().map(str::to_string).to_vec()
        );
    }
}
