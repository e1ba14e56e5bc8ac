//! Sealing: once a session has been quiet for a while, its small ingest blocks are merged into one
//! block per window, sorted and compressed at a high zstd level. Blocks that arrive during sealing
//! are untouched (they stay as separate blocks until the next seal). A lease in the session row
//! keeps two servers from sealing the same session at once.
use crate::{now_ms, Result, Store};
use std::sync::atomic::Ordering;

/// zstd level of sealed blocks (≈ xz -9 on rrweb JSON).
pub const SEAL_LEVEL: i32 = 19;
const LEASE_MS: i64 = 120_000;

impl Store {
    /// Sessions idle for `idle_ms` with unsealed blocks.
    pub async fn sessions_to_seal(
        &self,
        project: &str,
        idle_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM sessions WHERE project_id = $1 AND sealed_ms IS NULL AND updated_ms < $2 AND (lease_until IS NULL OR lease_until < $3) ORDER BY updated_ms LIMIT $4")
            .bind(project)
            .bind(now_ms() - idle_ms)
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.index.pool)
            .await?;
        crate::index::strings(&rows, "id")
    }

    /// Seal one session. Returns false if another server holds the lease.
    pub async fn seal(&self, project: &str, id: &str) -> Result<bool> {
        let now = now_ms();
        {
            let _w = self.index.writer().await;
            let n = sqlx::query("UPDATE sessions SET lease_until = $1 WHERE project_id = $2 AND id = $3 AND (lease_until IS NULL OR lease_until < $4)")
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
        let blocks = self.index.blocks(project, id).await?;
        let mut by_window: std::collections::BTreeMap<String, Vec<&crate::index::BlockRow>> =
            Default::default();
        for b in &blocks {
            by_window.entry(b.window_id.clone()).or_default().push(b);
        }
        // Windows already one sealed block stay as they are; the rest are fetched in one go.
        by_window.retain(|_, bs| !(bs.len() == 1 && bs[0].sealed));
        let todo: Vec<&crate::index::BlockRow> = by_window.values().flatten().copied().collect();
        let mut fetched = self.fetch_blocks(project, id, &todo).await?.into_iter();
        let mut new_rows = Vec::new();
        let mut replaced = Vec::new();
        for (wid, bs) in by_window {
            let mut events = Vec::new();
            for _ in &bs {
                let bytes = fetched.next().unwrap_or_default();
                events.extend(crate::read::decode_block(&bytes).map_err(crate::Error::Config)?);
            }
            events.sort_by_key(|e| e.timestamp);
            let (first, last) = (
                events.first().map(|e| e.timestamp).unwrap_or(0),
                events.last().map(|e| e.timestamp).unwrap_or(0),
            );
            let mut jsonl = Vec::new();
            for e in &events {
                jsonl.extend_from_slice(e.json().as_bytes());
                jsonl.push(b'\n');
            }
            let raw_len = jsonl.len() as i64;
            let compressed = tokio::task::spawn_blocking(move || {
                let mut c = zstd::bulk::Compressor::new(SEAL_LEVEL)?;
                c.long_distance_matching(true)?;
                c.compress(&jsonl)
            })
            .await
            .map_err(|e| crate::Error::Config(e.to_string()))??;
            let bid = uuid::Uuid::now_v7().to_string();
            let key = crate::ingest::block_key(project, id, &wid, first, &bid);
            let stored = compressed.len() as i64;
            self.blobs.put(&key, compressed).await?;
            new_rows.push((
                bid,
                wid.clone(),
                key,
                first,
                last,
                events.len() as i64,
                raw_len,
                stored,
            ));
            replaced.extend(bs.iter().map(|b| (b.id.clone(), b.blob_key.clone())));
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
        sqlx::query("UPDATE sessions SET sealed_ms = CASE WHEN updated_ms <= $1 THEN $2 ELSE NULL END, lease_until = NULL WHERE project_id = $3 AND id = $4")
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
        self.metrics.sealed_sessions.fetch_add(1, Ordering::Relaxed);
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
        let Some(keys) = self.index.delete_session(project, id).await? else {
            return Ok(false);
        };
        for k in keys.iter().filter(|k| !crate::ingest::in_index(k)) {
            self.blobs.delete(k).await?;
        }
        self.delete_session_blobs(project, id).await?;
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
