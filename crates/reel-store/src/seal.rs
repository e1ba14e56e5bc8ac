//! Sealing: once a session has been quiet for a while, its small ingest blocks are merged into one
//! block per window, sorted and compressed at a high zstd level. Blocks that arrive during sealing
//! are untouched (they stay as separate blocks until the next seal). A lease in the session row
//! keeps two servers from sealing the same session at once.
use crate::{now_ms, Result, Store};
use std::io::Write;
use std::sync::atomic::Ordering;

/// zstd level of sealed blocks (≈ xz -9 on rrweb JSON).
pub const SEAL_LEVEL: i32 = 19;
/// Largest zstd window of a sealed block (2^23 = 8 MiB): bounds the memory of sealing and of
/// every later read, whatever the window's size.
pub const SEAL_WINDOW_LOG: u32 = 23;
const LEASE_MS: i64 = 120_000;
/// A session that failed to seal is retried after this long, doubled per further failure …
pub const SEAL_BACKOFF_MS: i64 = 60_000;
/// … up to this.
pub const SEAL_BACKOFF_MAX_MS: i64 = 6 * 3_600_000;

/// One window merged into a sealed block (in a temporary file until it is uploaded).
struct SealedWindow {
    window: String,
    file: std::fs::File,
    first: i64,
    last: i64,
    count: i64,
    raw: i64,
}

impl Store {
    /// Sessions idle for `idle_ms` with unsealed blocks, oldest first; sessions backed off after
    /// a failed seal are left out until their retry time.
    pub async fn sessions_to_seal(
        &self,
        project: &str,
        idle_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM sessions WHERE project_id = $1 AND sealed_ms IS NULL AND updated_ms < $2 AND (lease_until IS NULL OR lease_until < $3) AND (seal_retry_ms IS NULL OR seal_retry_ms <= $3) ORDER BY updated_ms LIMIT $4")
            .bind(project)
            .bind(now_ms() - idle_ms)
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.index.pool)
            .await?;
        crate::index::strings(&rows, "id")
    }

    /// How many sessions wait for a retry after a failed seal.
    pub async fn sessions_backed_off(&self, project: &str) -> Result<i64> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions WHERE project_id = $1 AND seal_retry_ms > $2",
        )
        .bind(project)
        .bind(now_ms())
        .fetch_one(&self.index.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Seal one session. Returns false if another server holds the lease or it is sealed already. A failure backs the
    /// session off (see [`SEAL_BACKOFF_MS`]) and is counted in [`crate::Metrics`].
    pub async fn seal(&self, project: &str, id: &str) -> Result<bool> {
        let now = now_ms();
        {
            let _w = self.index.writer().await;
            // Only an unsealed session: another server may have sealed it since it was listed, and
            // sealing it again would give it a new `sealed_ms` (a new version to export) for nothing.
            let n = sqlx::query("UPDATE sessions SET lease_until = $1 WHERE project_id = $2 AND id = $3 AND sealed_ms IS NULL AND (lease_until IS NULL OR lease_until < $4)")
                .bind(now + LEASE_MS)
                .bind(project)
                .bind(id)
                .bind(now)
                .execute(&self.index.pool)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
        }
        match self.seal_leased(project, id, now).await {
            Ok(sealed) => {
                if sealed {
                    self.metrics.sealed_sessions.fetch_add(1, Ordering::Relaxed);
                }
                Ok(sealed)
            }
            Err(e) => {
                self.metrics.seal_failures.fetch_add(1, Ordering::Relaxed);
                if let Err(e2) = self.back_off_seal(project, id).await {
                    tracing::warn!(session = %id, error = %e2, "recording a failed seal failed");
                }
                Err(e)
            }
        }
    }

    /// Release the lease and schedule the next attempt: SEAL_BACKOFF_MS × 2^(failures − 1).
    async fn back_off_seal(&self, project: &str, id: &str) -> Result<()> {
        use sqlx::Row;
        let _w = self.index.writer().await;
        let failures: i64 =
            sqlx::query("SELECT seal_failures FROM sessions WHERE project_id = $1 AND id = $2")
                .bind(project)
                .bind(id)
                .fetch_optional(&self.index.pool)
                .await?
                .map(|r| r.try_get("seal_failures"))
                .transpose()?
                .unwrap_or(0);
        let delay = crate::backoff_ms(SEAL_BACKOFF_MS, SEAL_BACKOFF_MAX_MS, failures);
        sqlx::query("UPDATE sessions SET seal_failures = seal_failures + 1, seal_retry_ms = $1, lease_until = NULL WHERE project_id = $2 AND id = $3")
            .bind(now_ms() + delay)
            .bind(project)
            .bind(id)
            .execute(&self.index.pool)
            .await?;
        Ok(())
    }

    /// Merge one window's blocks (streamed in time order) into a zstd block in a temporary file.
    /// Blocking.
    fn seal_window(&self, plan: crate::read::Plan) -> Result<SealedWindow> {
        let window = plan.windows.first().cloned().unwrap_or_default();
        let wlog = (64 - plan.raw_bytes().max(1).leading_zeros()).clamp(10, SEAL_WINDOW_LOG);
        let file = tempfile::tempfile()?;
        let mut enc = zstd::stream::write::Encoder::new(
            std::io::BufWriter::with_capacity(256 << 10, file),
            SEAL_LEVEL,
        )?;
        enc.long_distance_matching(true)?;
        enc.window_log(wlog)?;
        enc.set_parameter(zstd::zstd_safe::CParameter::ChainLog((wlog + 1).min(23)))?;
        enc.set_parameter(zstd::zstd_safe::CParameter::HashLog((wlog + 1).min(22)))?;
        let (mut first, mut last, mut count, mut raw) = (None, 0, 0i64, 0i64);
        for item in self.events(plan)? {
            let (_, e) = item?;
            first.get_or_insert(e.timestamp);
            last = e.timestamp;
            count += 1;
            raw += e.json().len() as i64 + 1;
            enc.write_all(e.json().as_bytes())?;
            enc.write_all(b"\n")?;
        }
        let file = enc
            .finish()?
            .into_inner()
            .map_err(|e| crate::Error::Io(e.into_error()))?;
        Ok(SealedWindow {
            window,
            file,
            first: first.unwrap_or(0),
            last,
            count,
            raw,
        })
    }

    /// The work of [`Store::seal`] once the lease is held: every window with more than one block
    /// (or an unsealed one) is merged, one window at a time, into a sealed block in the blob
    /// store; then one transaction swaps the block rows and marks the session sealed.
    async fn seal_leased(&self, project: &str, id: &str, now: i64) -> Result<bool> {
        let plan = self.plan(project, id).await?;
        #[allow(clippy::type_complexity)]
        let mut new_rows: Vec<(String, String, String, i64, i64, i64, i64, i64)> = Vec::new();
        let mut replaced = Vec::new();
        for w in 0..plan.windows.len() {
            let wp = plan.window(w);
            // Windows already one sealed block stay as they are.
            if wp.blocks.len() == 1 && wp.blocks[0].1.sealed {
                continue;
            }
            replaced.extend(
                wp.blocks
                    .iter()
                    .map(|(_, b)| (b.id.clone(), b.blob_key.clone())),
            );
            let store = self.clone();
            let sw = tokio::task::spawn_blocking(move || store.seal_window(wp))
                .await
                .map_err(|e| crate::Error::Config(e.to_string()))??;
            let bid = uuid::Uuid::now_v7().to_string();
            let key = crate::ingest::block_key(project, id, &sw.window, sw.first, &bid);
            let stored = sw.file.metadata()?.len() as i64;
            if let Err(e) = self.blobs.put_file(&key, sw.file).await {
                // Nothing refers to the blocks uploaded so far: remove them.
                for (_, _, k, ..) in &new_rows {
                    let _ = self.blobs.delete(k).await;
                }
                return Err(e);
            }
            new_rows.push((
                bid, sw.window, key, sw.first, sw.last, sw.count, sw.raw, stored,
            ));
        }
        let new_keys: Vec<String> = new_rows.iter().map(|r| r.2.clone()).collect();
        self.pause_for_test().await;
        let _w = self.index.writer().await;
        let mut tx = self.index.pool.begin().await?;
        if !self.still_there(&mut tx, project, id).await? {
            tx.rollback().await?;
            drop(_w);
            self.discard_sealed(project, id, &new_keys).await?;
            return Ok(false);
        }
        for (bid, wid, key, first, last, count, raw, stored) in &new_rows {
            sqlx::query("INSERT INTO blocks (id, project_id, session_id, window_id, blob_key, first_ms, last_ms, event_count, bytes, stored_bytes, sealed, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)")
                .bind(bid).bind(project).bind(id).bind(wid).bind(key).bind(*first).bind(*last).bind(*count).bind(*raw).bind(*stored).bind(now_ms())
                .execute(&mut *tx).await?;
        }
        for (bid, _) in &replaced {
            for table in ["blocks", "block_data"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE id = $1"
                )))
                .bind(bid)
                .execute(&mut *tx)
                .await?;
            }
        }
        // Sealed unless blocks arrived meanwhile (ingest clears sealed_ms on every write).
        sqlx::query("UPDATE sessions SET sealed_ms = CASE WHEN updated_ms <= $1 THEN $2 ELSE NULL END, lease_until = NULL, seal_failures = 0, seal_retry_ms = NULL WHERE project_id = $3 AND id = $4")
            .bind(now)
            .bind(now_ms())
            .bind(project)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        drop(_w);
        for (_, key) in replaced {
            if !crate::ingest::in_index(&key) {
                self.blobs.delete(&key).await?;
            }
        }
        Ok(true)
    }

    // ---- deletion, forget, retention: one path ----

    /// Sealing and deletion exclude each other: inside the transaction that records a seal, the
    /// session must still exist (a deletion removes the row and tombstones the id; on
    /// PostgreSQL the session lock orders the two transactions).
    async fn still_there(
        &self,
        tx: &mut sqlx::AnyConnection,
        project: &str,
        id: &str,
    ) -> Result<bool> {
        self.index.lock_session(tx, project, id, false).await?;
        // A write (a no-op update), so that SQLite takes its write lock here.
        let n = sqlx::query(
            "UPDATE sessions SET lease_until = lease_until WHERE project_id = $1 AND id = $2",
        )
        .bind(project)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The session was deleted while it was being sealed: remove what the seal wrote.
    async fn discard_sealed(&self, project: &str, id: &str, keys: &[String]) -> Result<()> {
        tracing::info!(session = %id, "session deleted while sealing; sealed blocks discarded");
        for k in keys {
            self.blobs.delete(k).await?;
        }
        self.delete_session_blobs(project, id).await
    }

    async fn pause_for_test(&self) {
        let pause = self.seal_pause.lock().ok().and_then(|mut p| p.take());
        if let Some(p) = pause {
            let _ = p.reached.send(());
            let _ = p.resume.await;
        }
    }

    /// Delete a session everywhere, for good: see [`Store::delete_session_no_reclaim`], then
    /// give the space back so that no copy stays in the index files.
    pub async fn delete_session(&self, project: &str, id: &str) -> Result<bool> {
        let found = self.delete_session_no_reclaim(project, id).await?;
        if found {
            self.index.reclaim().await?;
        }
        Ok(found)
    }

    /// Index rows first (one transaction that also tombstones the id), then the blobs: those
    /// the index names and anything else under the session's key prefix, and the session's
    /// folders in a local blob store. False if nothing of the session was stored.
    async fn delete_session_no_reclaim(&self, project: &str, id: &str) -> Result<bool> {
        self.forget_seen_people();
        let Some((keys, assets)) = self.index.delete_session(project, id).await? else {
            return Ok(false);
        };
        for k in keys.iter().filter(|k| !crate::ingest::in_index(k)) {
            self.blobs.delete(k).await?;
        }
        self.delete_session_blobs(project, id).await?;
        // Assets no other session plays with go too.
        self.collect_asset_garbage(project, assets).await?;
        Ok(true)
    }

    /// Everything under `p/{project}/s/{session}/` (leftovers of lost races or crashes
    /// included) — only for ids that are one plain path segment, so that no other session's
    /// prefix can be named.
    async fn delete_session_blobs(&self, project: &str, id: &str) -> Result<()> {
        let plain = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        if plain(project) && plain(id) {
            self.blobs
                .delete_prefix(&format!("p/{project}/s/{id}/"))
                .await?;
        }
        Ok(())
    }

    /// Delete every session that ever carried the person's id (see
    /// [`crate::Index::sessions_of_person`]), the person's row and links; the audit entry keeps
    /// only a keyed hash. Returns how many sessions went.
    pub async fn forget_person(&self, project: &str, distinct_id: &str) -> Result<usize> {
        let ids = self.index.sessions_of_person(project, distinct_id).await?;
        let mut n = 0;
        for id in &ids {
            if self.delete_session_no_reclaim(project, id).await? {
                n += 1;
            }
        }
        self.index.delete_person(project, distinct_id).await?;
        self.index
            .audit(
                project,
                "person.forget",
                Some(distinct_id),
                serde_json::json!({"sessions_deleted": n}),
            )
            .await?;
        self.index.reclaim().await?;
        Ok(n)
    }

    /// Delete sessions whose last event is older than `days` (and sessions known only from
    /// `/e/` page views that old), through the same path as a deletion; returns how many.
    pub async fn enforce_retention(&self, project: &str, days: u64) -> Result<usize> {
        let before = now_ms() - (days as i64) * 86_400_000;
        let mut n = 0;
        loop {
            let ids = self
                .index
                .sessions_ended_before(project, before, 100)
                .await?;
            if ids.is_empty() {
                break;
            }
            for id in &ids {
                if self.delete_session_no_reclaim(project, id).await? {
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.index
                .audit(
                    project,
                    "retention.sweep",
                    None,
                    serde_json::json!({"sessions_deleted": n, "days": days}),
                )
                .await?;
            self.index.reclaim().await?;
        }
        Ok(n)
    }

    /// Periodic upkeep: forget tombstones older than `tombstone_days` and give free index pages
    /// back (finishing a checkpoint a deletion could not).
    pub async fn maintain(&self, tombstone_days: u64) -> Result<()> {
        self.index
            .purge_tombstones(now_ms() - (tombstone_days as i64) * 86_400_000)
            .await?;
        self.index.reclaim().await
    }
}

/// A test hook: once its sealed blocks are written, [`Store::seal`] sends on `reached` and
/// waits for `resume` before its index transaction, so a test can run a deletion exactly there.
pub struct SealPause {
    pub reached: tokio::sync::oneshot::Sender<()>,
    pub resume: tokio::sync::oneshot::Receiver<()>,
}
