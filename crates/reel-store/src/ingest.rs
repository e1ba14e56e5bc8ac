//! Durable, idempotent ingest.
//!
//! 1. Drop units whose dedupe key (batch id, or a `$snapshot` uuid) is already indexed.
//! 2. Write one zstd JSONL block per (session, window) to the blob store, durably — except on
//!    SQLite, where fresh blocks are rows of the index itself (`block_data`), written by the group
//!    committer in the same transaction as the rest: one fsync for a whole group of batches and
//!    no file per batch. Sealing later moves them into the blob store as one block per window.
//! 3. In one index transaction: claim every key (`INSERT … ON CONFLICT DO NOTHING`), add the block
//!    rows and fold the blocks' statistics into the session rows. If another server claimed a key
//!    meanwhile, roll back and start again from 1 (our blocks become unreferenced garbage).
//! 4. Only then is the batch acknowledged: a crash before the commit leaves no index row, so the
//!    client's retry stores it; a crash after the commit loses nothing.
use crate::index::Engine;
use crate::{now_ms, Error, Result, Store};
use reel_format::event::Detail;
use reel_format::recording::Source;
use reel_format::{stats, Event};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;

/// The unit of idempotency: events of one session and window under one dedupe key.
#[derive(Debug, Clone)]
pub struct IngestUnit {
    pub key: String,
    pub session_id: String,
    pub window_id: String,
    pub distinct_id: Option<String>,
    pub source: Source,
    pub user_agent: Option<String>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestOutcome {
    /// Units stored now.
    pub stored: usize,
    /// Units already stored before (retries).
    pub duplicates: usize,
    pub events: usize,
    pub sessions: Vec<String>,
    /// Units for deleted (tombstoned) session ids: acknowledged, not stored.
    pub dropped: usize,
}

/// The `(project, session, distinct id)` rows of `session_people` this process wrote (or
/// found), so that a session's later batches skip the insert: a statement fewer per batch
/// inside the group commit. Bounded; forgotten wholesale when anything is deleted here and
/// every ten minutes (another server may delete, and a tombstone expires), after which the
/// next batch inserts again (`ON CONFLICT DO NOTHING`).
#[derive(Default)]
pub(crate) struct SeenPeople {
    rows: HashSet<(String, String, String)>,
    since: Option<std::time::Instant>,
}

impl SeenPeople {
    const MAX: usize = 50_000;
    const FRESH: std::time::Duration = std::time::Duration::from_secs(600);

    /// Keep in `people` only those not known to be stored for this session.
    fn unseen(&mut self, project: &str, session: &str, people: &mut Vec<String>) {
        if self.since.is_some_and(|t| t.elapsed() > Self::FRESH) {
            self.forget();
        }
        people.retain(|d| {
            !self
                .rows
                .contains(&(project.to_string(), session.to_string(), d.clone()))
        });
    }

    fn saw(&mut self, project: &str, session: &str, people: &[String]) {
        if self.rows.len() + people.len() > Self::MAX {
            self.forget();
        }
        self.since.get_or_insert_with(std::time::Instant::now);
        for d in people {
            self.rows
                .insert((project.to_string(), session.to_string(), d.clone()));
        }
    }

    fn forget(&mut self) {
        self.rows.clear();
        self.since = None;
    }
}

impl Store {
    /// Forget which `session_people` rows exist (called by every deletion).
    pub(crate) fn forget_seen_people(&self) {
        self.seen_people
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget();
    }
}

/// What [`Store::precheck`] found.
#[derive(Default)]
struct Precheck {
    /// Batch keys already stored.
    known: HashSet<String>,
    /// Sessions deleted (tombstoned).
    dead: HashSet<String>,
    /// Stored event bytes per existing session (only with a session cap).
    sizes: HashMap<String, i64>,
}

/// zstd level for fresh ingest blocks: fast; sealing recompresses hard later.
pub const INGEST_LEVEL: i32 = 3;

impl Store {
    pub async fn ingest(&self, project: &str, units: Vec<IngestUnit>) -> Result<IngestOutcome> {
        for attempt in 0..5 {
            match self.try_ingest(project, &units).await? {
                Some(outcome) => return Ok(outcome),
                None => tracing::debug!(attempt, "batch key claimed concurrently; retrying"),
            }
        }
        Err(Error::Config(
            "could not claim batch keys after 5 attempts".into(),
        ))
    }

    async fn try_ingest(
        &self,
        project: &str,
        units: &[IngestUnit],
    ) -> Result<Option<IngestOutcome>> {
        // One round trip for what the batch needs to know first: keys already stored (retries),
        // sessions deleted (tombstoned) and the stored size of each session (the per-session cap).
        let pre = self.precheck(project, units).await?;
        let (known, dead) = (&pre.known, &pre.dead);
        let dropped = units
            .iter()
            .filter(|u| dead.contains(&u.session_id))
            .count();
        let units: Vec<&IngestUnit> = units
            .iter()
            .filter(|u| !dead.contains(&u.session_id))
            .collect();
        let mut seen = HashSet::new();
        let fresh: Vec<&IngestUnit> = units
            .iter()
            .copied()
            .filter(|u| !known.contains(&u.key) && seen.insert(u.key.clone()))
            .collect();
        let mut outcome = IngestOutcome {
            duplicates: units.len() - fresh.len(),
            dropped,
            ..Default::default()
        };
        if fresh.is_empty() {
            self.metrics
                .duplicate_batches
                .fetch_add(1, Ordering::Relaxed);
            return Ok(Some(outcome));
        }
        self.check_session_cap(&pre.sizes, &fresh)?;
        // Group by (session, window).
        let mut groups: BTreeMap<(String, String), Vec<&IngestUnit>> = BTreeMap::new();
        for u in &fresh {
            groups
                .entry((u.session_id.clone(), u.window_id.clone()))
                .or_default()
                .push(u);
        }
        let mut blocks = Vec::new();
        let mut puts = Vec::new();
        for ((sid, wid), us) in &groups {
            let mut events: Vec<&Event> = us.iter().flat_map(|u| u.events.iter()).collect();
            if events.is_empty() {
                continue;
            }
            events.sort_by_key(|e| e.timestamp);
            let mut jsonl = Vec::with_capacity(events.iter().map(|e| e.json().len() + 1).sum());
            for e in &events {
                jsonl.extend_from_slice(e.json().as_bytes());
                jsonl.push(b'\n');
            }
            let raw_len = jsonl.len();
            // A typical batch (a few KB) compresses in microseconds: on this thread. Large ones
            // go to the blocking pool so they do not hold up other requests.
            let compressed = if raw_len <= 32 << 10 {
                zstd::bulk::compress(&jsonl, INGEST_LEVEL)?
            } else {
                tokio::task::spawn_blocking(move || zstd::bulk::compress(&jsonl, INGEST_LEVEL))
                    .await
                    .map_err(|e| Error::Config(e.to_string()))??
            };
            let first = events.first().map(|e| e.timestamp).unwrap_or(0);
            let last = events.last().map(|e| e.timestamp).unwrap_or(0);
            let id = uuid::Uuid::now_v7().to_string();
            let key = block_key(project, sid, wid, first, &id);
            let inline = self.committer.is_some();
            let key = if inline {
                format!("{IN_INDEX}{key}")
            } else {
                key
            };
            let st = stats::of_events_from(&us[0].source.system, events.iter().copied());
            let mut urls: BTreeMap<String, i64> = BTreeMap::new();
            let mut titles: BTreeMap<String, i64> = BTreeMap::new();
            for e in &events {
                if let Detail::Href(h) = &e.detail {
                    let v = urls.entry(h.clone()).or_insert(e.timestamp);
                    *v = (*v).min(e.timestamp);
                }
                if let Some(t) = stats::snapshot_title(e) {
                    let v = titles.entry(t).or_insert(e.timestamp);
                    *v = (*v).min(e.timestamp);
                }
            }
            let first_unit = us[0];
            let distinct = us.iter().rev().find_map(|u| u.distinct_id.clone());
            let mut people: Vec<String> = us.iter().filter_map(|u| u.distinct_id.clone()).collect();
            people.sort();
            people.dedup();
            self.seen_people
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unseen(project, sid, &mut people);
            let stored_len = compressed.len() as i64;
            let data = if inline {
                Some(compressed)
            } else {
                puts.push((key.clone(), compressed));
                None
            };
            blocks.push(PendingBlock {
                data,
                id,
                key: key.clone(),
                session: sid.clone(),
                window: wid.clone(),
                first,
                last,
                raw_len: raw_len as i64,
                stored_len,
                stats: st,
                urls,
                titles,
                distinct,
                people,
                source: first_unit.source.clone(),
                user_agent: us.iter().find_map(|u| u.user_agent.clone()),
            });
            outcome.events += events.len();
        }
        // Blob store writes (PostgreSQL index), concurrently; durable when they return.
        let results = futures::future::join_all(puts.into_iter().map(|(k, b)| {
            let blobs = self.blobs.clone();
            async move {
                let n = b.len();
                blobs.put(&k, b).await.map(|_| n)
            }
        }))
        .await;
        for r in results {
            let n = r?;
            m_blocks(&self.metrics, 1, n as u64);
        }
        // The index write: grouped with concurrent batches on SQLite (one commit, one fsync for
        // many batches), its own transaction on PostgreSQL (which groups commits itself).
        let now = now_ms();
        let keys: Vec<(String, String)> = fresh
            .iter()
            .map(|u| (u.key.clone(), u.session_id.clone()))
            .collect();
        let committed = match &self.committer {
            Some(tx) => {
                let (reply, rx) = tokio::sync::oneshot::channel();
                let work = Work {
                    project: project.to_string(),
                    keys,
                    blocks: blocks.clone(),
                    urls: Vec::new(),
                    now,
                    reply,
                };
                tx.send(work)
                    .map_err(|_| Error::Config("index committer stopped".into()))?;
                rx.await
                    .map_err(|_| Error::Config("index committer stopped".into()))?
                    .map_err(Error::Config)?
            }
            None => {
                let mut tx = self.index.pool.begin().await?;
                let mut ids: Vec<&str> = keys.iter().map(|(_, s)| s.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                for sid in ids {
                    self.index
                        .lock_session(&mut tx, project, sid, false)
                        .await?;
                }
                if write_index(&mut tx, project, &keys, &blocks, now, true).await? {
                    tx.commit().await?;
                    true
                } else {
                    tx.rollback().await?;
                    false
                }
            }
        };
        if !committed {
            for b in blocks.iter().filter(|b| b.data.is_none()) {
                let _ = self.blobs.delete(&b.key).await;
            }
            return Ok(None);
        }
        if self.committer.is_some() {
            let n: u64 = blocks.iter().map(|b| b.stored_len as u64).sum();
            m_blocks(&self.metrics, blocks.len() as u64, n);
        }
        {
            let mut seen = self.seen_people.lock().unwrap_or_else(|p| p.into_inner());
            for b in &blocks {
                seen.saw(project, &b.session, &b.people);
            }
        }
        outcome.stored = fresh.len();
        let mut sessions: Vec<String> = blocks.iter().map(|b| b.session.clone()).collect();
        sessions.dedup();
        outcome.sessions = sessions;
        let m = &self.metrics;
        m.batches.fetch_add(1, Ordering::Relaxed);
        m.events.fetch_add(outcome.events as u64, Ordering::Relaxed);
        m.event_bytes.fetch_add(
            blocks.iter().map(|b| b.raw_len as u64).sum(),
            Ordering::Relaxed,
        );
        if let Some(last) = blocks.iter().map(|b| b.last).max() {
            m.ingest_lag_ms.store(now - last, Ordering::Relaxed);
        }
        Ok(Some(outcome))
    }

    /// Refuse the batch if it would take a session past the per-session cap (the session row's
    /// `size` is the running total of stored event JSON; `sizes` from [`Store::precheck`]).
    fn check_session_cap(&self, sizes: &HashMap<String, i64>, fresh: &[&IngestUnit]) -> Result<()> {
        if self.session_cap == 0 {
            return Ok(());
        }
        let mut adding: BTreeMap<&str, u64> = BTreeMap::new();
        for u in fresh {
            *adding.entry(&u.session_id).or_default() +=
                u.events.iter().map(|e| e.json().len() as u64).sum::<u64>();
        }
        for (session, adding) in adding {
            let stored = sizes.get(session).copied().unwrap_or(0).max(0) as u64;
            if adding > 0 && stored + adding > self.session_cap {
                return Err(Error::SessionCap {
                    session: session.to_string(),
                    stored,
                    adding,
                    cap: self.session_cap,
                });
            }
        }
        Ok(())
    }

    /// What ingest checks before it writes, in one query per 200 keys and sessions on one
    /// connection (a batch is usually one key of one session: one round trip).
    async fn precheck(&self, project: &str, units: &[IngestUnit]) -> Result<Precheck> {
        use sqlx::Row;
        let keys: Vec<&str> = units.iter().map(|u| u.key.as_str()).collect();
        let mut ids: Vec<&str> = units.iter().map(|u| u.session_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Precheck::default();
        let mut conn = self.index.pool.acquire().await?;
        let steps = keys.len().max(ids.len()).div_ceil(200);
        for i in 0..steps {
            let chunk = |v: &[&'_ str]| -> Vec<String> {
                v.iter()
                    .skip(i * 200)
                    .take(200)
                    .map(|s| s.to_string())
                    .collect()
            };
            let (k, s) = (chunk(&keys), chunk(&ids));
            let mut n = 1;
            let mut ph = |len: usize| -> String {
                let p: Vec<String> = (0..len).map(|j| format!("${}", n + 1 + j)).collect();
                n += len;
                p.join(", ")
            };
            let mut parts = Vec::new();
            if !k.is_empty() {
                parts.push(format!("SELECT 'k' AS what, batch_key AS name, CAST(0 AS BIGINT) AS size FROM batches WHERE project_id = $1 AND batch_key IN ({})", ph(k.len())));
            }
            if !s.is_empty() {
                let t = ph(s.len());
                parts.push(format!("SELECT 't' AS what, session_id AS name, CAST(0 AS BIGINT) AS size FROM tombstones WHERE project_id = $1 AND session_id IN ({t})"));
                if self.session_cap > 0 {
                    let z = ph(s.len());
                    parts.push(format!("SELECT 's' AS what, id AS name, size FROM sessions WHERE project_id = $1 AND id IN ({z})"));
                }
            }
            // Audited: only $N placeholders are interpolated; values are bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(parts.join(" UNION ALL "))).bind(project);
            for v in &k {
                q = q.bind(v.as_str());
            }
            let binds = if self.session_cap > 0 { 2 } else { 1 };
            for _ in 0..binds {
                for v in &s {
                    q = q.bind(v.as_str());
                }
            }
            for r in q.fetch_all(&mut *conn).await? {
                let name: String = r.try_get("name")?;
                match r.try_get::<String, _>("what")?.as_str() {
                    "k" => {
                        out.known.insert(name);
                    }
                    "t" => {
                        out.dead.insert(name);
                    }
                    _ => {
                        out.sizes.insert(name, r.try_get("size")?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Record page URLs for a session from analytics events (`/e/` `$pageview`s). On SQLite they
    /// go through the group committer (one transaction and fsync with other batches); on
    /// PostgreSQL in one transaction.
    pub async fn add_urls(
        &self,
        project: &str,
        session: &str,
        urls: &[(String, i64)],
    ) -> Result<()> {
        if urls.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, String, i64)> = urls
            .iter()
            .map(|(u, ms)| (session.to_string(), u.clone(), *ms))
            .collect();
        if let Some(tx) = &self.committer {
            let (reply, rx) = tokio::sync::oneshot::channel();
            let work = Work {
                project: project.to_string(),
                keys: Vec::new(),
                blocks: Vec::new(),
                urls: rows,
                now: now_ms(),
                reply,
            };
            tx.send(work)
                .map_err(|_| Error::Config("index committer stopped".into()))?;
            rx.await
                .map_err(|_| Error::Config("index committer stopped".into()))?
                .map_err(Error::Config)?;
            return Ok(());
        }
        let mut tx = self.index.pool.begin().await?;
        // Ordered with a deletion of this session on another server (see write_urls).
        self.index
            .lock_session(&mut tx, project, session, false)
            .await?;
        write_urls(&mut tx, project, &rows).await?;
        tx.commit().await?;
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.index.kind
    }
}

/// The index rows of one ingest: claim the keys (false if one was already claimed: the caller
/// rolls back), add the block rows, fold the statistics into the session rows.
async fn write_index(
    conn: &mut sqlx::AnyConnection,
    project: &str,
    keys: &[(String, String)],
    blocks: &[PendingBlock],
    now: i64,
    check_tombstones: bool,
) -> Result<bool> {
    for (key, session) in keys {
        let n = sqlx::query("INSERT INTO batches (project_id, batch_key, session_id, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, batch_key) DO NOTHING")
                .bind(project)
                .bind(key)
                .bind(session)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        if n == 0 {
            return Ok(false);
        }
    }
    // A session deleted since the batch was checked: roll back; the retry drops it. (After
    // the first write, so that SQLite holds its write lock already.)
    if check_tombstones {
        let mut ids: Vec<&str> = keys.iter().map(|(_, s)| s.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if !crate::index::tombstoned(conn, project, &ids)
            .await?
            .is_empty()
        {
            return Ok(false);
        }
    }
    for b in blocks {
        sqlx::query("INSERT INTO blocks (id, project_id, session_id, window_id, blob_key, first_ms, last_ms, event_count, bytes, stored_bytes, sealed, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11)")
                .bind(&b.id).bind(project).bind(&b.session).bind(&b.window).bind(&b.key).bind(b.first).bind(b.last)
                .bind(b.stats.event_count as i64).bind(b.raw_len).bind(b.stored_len).bind(now)
                .execute(&mut *conn).await?;
        if let Some(data) = &b.data {
            sqlx::query("INSERT INTO block_data (id, data) VALUES ($1, $2)")
                .bind(&b.id)
                .bind(data.as_slice())
                .execute(&mut *conn)
                .await?;
        }
        let s = &b.stats;
        sqlx::query(UPSERT_SESSION)
            .bind(project)
            .bind(&b.session)
            .bind(&b.distinct)
            .bind(b.first)
            .bind(b.last)
            .bind(s.event_count as i64)
            .bind(s.size as i64)
            .bind(s.click_count as i64)
            .bind(s.keypress_count as i64)
            .bind(s.mouse_activity_count as i64)
            .bind(s.console_log_count as i64)
            .bind(s.console_warn_count as i64)
            .bind(s.console_error_count as i64)
            .bind(s.network_request_count as i64)
            .bind(s.active_ms as i64)
            .bind(&b.user_agent)
            .bind(&b.source.system)
            .bind(&b.source.lib)
            .bind(&b.source.lib_version)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        for (sql, map) in [(UPSERT_URL, &b.urls), (UPSERT_TITLE, &b.titles)] {
            for (text, ms) in map {
                sqlx::query(sql)
                    .bind(project)
                    .bind(&b.session)
                    .bind(text)
                    .bind(*ms)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        for d in &b.people {
            sqlx::query("INSERT INTO session_people (project_id, session_id, distinct_id) VALUES ($1, $2, $3) ON CONFLICT (project_id, session_id, distinct_id) DO NOTHING")
                .bind(project).bind(&b.session).bind(d).execute(&mut *conn).await?;
        }
        if let Some(d) = &b.distinct {
            sqlx::query("INSERT INTO people (project_id, distinct_id, first_ms, last_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, distinct_id) DO UPDATE SET last_ms = CASE WHEN excluded.last_ms > people.last_ms THEN excluded.last_ms ELSE people.last_ms END")
                    .bind(project).bind(d).bind(b.first).bind(b.last).execute(&mut *conn).await?;
        }
    }
    Ok(true)
}

/// `/e/` page URLs: (session, url, first ms). URLs of a deleted (tombstoned) session are dropped:
/// checked in the same transaction, under the SQLite writer (or the PostgreSQL session lock the
/// caller took), so a deletion cannot interleave.
async fn write_urls(
    conn: &mut sqlx::AnyConnection,
    project: &str,
    urls: &[(String, String, i64)],
) -> Result<()> {
    if urls.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = urls.iter().map(|(s, _, _)| s.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let dead = crate::index::tombstoned(conn, project, &ids).await?;
    for (session, url, ms) in urls {
        if dead.contains(session) {
            continue;
        }
        sqlx::query(UPSERT_URL)
            .bind(project)
            .bind(session)
            .bind(url)
            .bind(*ms)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A batch's index work for the SQLite group committer.
pub(crate) struct Work {
    project: String,
    keys: Vec<(String, String)>,
    blocks: Vec<PendingBlock>,
    /// `/e/` page URLs (session, url, first ms), written after the batch's rows.
    urls: Vec<(String, String, i64)>,
    now: i64,
    reply: tokio::sync::oneshot::Sender<std::result::Result<bool, String>>,
}

/// The (project, session) pairs of a commit group that are tombstoned.
async fn group_tombstones<'a>(
    conn: &mut sqlx::AnyConnection,
    group: &'a [Work],
) -> Result<HashSet<(&'a str, &'a str)>> {
    let mut by_project: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for w in group {
        by_project
            .entry(w.project.as_str())
            .or_default()
            .extend(w.keys.iter().map(|(_, s)| s.as_str()));
    }
    let mut dead = HashSet::new();
    for (project, mut ids) in by_project {
        ids.sort_unstable();
        ids.dedup();
        for d in crate::index::tombstoned(conn, project, &ids).await? {
            if let Some(s) = ids.iter().find(|s| **s == d) {
                dead.insert((project, *s));
            }
        }
    }
    Ok(dead)
}

/// SQLite group commit: take every batch waiting, write each inside a savepoint (a key conflict
/// rolls back only that batch), commit once, then answer each. One fsync for many batches.
pub(crate) fn spawn_committer(index: crate::Index) -> tokio::sync::mpsc::UnboundedSender<Work> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Work>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < 512 {
                match rx.try_recv() {
                    Ok(w) => group.push(w),
                    Err(_) => break,
                }
            }
            let _w = index.writer().await;
            let result: Result<Vec<bool>> = async {
                // IMMEDIATE: the write lock first (waiting out another process's writer), so
                // that the read below cannot leave a snapshot that a write then fails to upgrade.
                let mut tx = index.pool.begin_with("BEGIN IMMEDIATE").await?;
                // Sessions deleted since their batches were checked: one look for the whole
                // group, under the writer lock that deletions take too (so none can interleave).
                let dead = group_tombstones(&mut tx, &group).await?;
                let mut out = Vec::with_capacity(group.len());
                for w in &group {
                    if w.keys
                        .iter()
                        .any(|(_, s)| dead.contains(&(w.project.as_str(), s.as_str())))
                    {
                        // The caller retries and its check then drops the batch.
                        out.push(false);
                        continue;
                    }
                    sqlx::query("SAVEPOINT batch").execute(&mut *tx).await?;
                    if write_index(&mut tx, &w.project, &w.keys, &w.blocks, w.now, false).await? {
                        write_urls(&mut tx, &w.project, &w.urls).await?;
                        sqlx::query("RELEASE SAVEPOINT batch")
                            .execute(&mut *tx)
                            .await?;
                        out.push(true);
                    } else {
                        sqlx::query("ROLLBACK TO SAVEPOINT batch")
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("RELEASE SAVEPOINT batch")
                            .execute(&mut *tx)
                            .await?;
                        out.push(false);
                    }
                }
                tx.commit().await?;
                Ok(out)
            }
            .await;
            match result {
                Ok(flags) => {
                    for (w, ok) in group.into_iter().zip(flags) {
                        let _ = w.reply.send(Ok(ok));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for w in group {
                        let _ = w.reply.send(Err(msg.clone()));
                    }
                }
            }
        }
    });
    tx
}

#[derive(Clone)]
struct PendingBlock {
    /// The compressed block when it is kept in the index (SQLite), else it is in the blob store.
    data: Option<Vec<u8>>,
    id: String,
    key: String,
    session: String,
    window: String,
    first: i64,
    last: i64,
    raw_len: i64,
    stored_len: i64,
    stats: stats::SessionStats,
    urls: BTreeMap<String, i64>,
    /// Page titles of the block's full snapshots (first seen).
    titles: BTreeMap<String, i64>,
    distinct: Option<String>,
    /// Every person id the batch carried for this session (for forget-a-person).
    people: Vec<String>,
    source: Source,
    user_agent: Option<String>,
}

/// `blob_key` prefix of blocks whose bytes are rows of the index (`block_data`).
pub(crate) const IN_INDEX: &str = "index:";

/// Whether a block's bytes live in the index rather than the blob store.
pub(crate) fn in_index(blob_key: &str) -> bool {
    blob_key.starts_with(IN_INDEX)
}

fn m_blocks(m: &crate::Metrics, blocks: u64, bytes: u64) {
    m.block_writes.fetch_add(blocks, Ordering::Relaxed);
    m.block_bytes.fetch_add(bytes, Ordering::Relaxed);
}

pub(crate) fn block_key(
    project: &str,
    session: &str,
    window: &str,
    first_ms: i64,
    id: &str,
) -> String {
    format!("p/{project}/s/{session}/{window}/{first_ms:013}-{id}.jsonl.zst")
}

const UPSERT_SESSION: &str = "INSERT INTO sessions (project_id, id, distinct_id, start_ms, end_ms, event_count, size, click_count, keypress_count, mouse_activity_count, console_log_count, console_warn_count, console_error_count, network_request_count, active_ms, user_agent, source, lib, lib_version, created_ms, updated_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)
ON CONFLICT (project_id, id) DO UPDATE SET
  distinct_id = COALESCE(excluded.distinct_id, sessions.distinct_id),
  start_ms = CASE WHEN excluded.start_ms < sessions.start_ms THEN excluded.start_ms ELSE sessions.start_ms END,
  end_ms = CASE WHEN excluded.end_ms > sessions.end_ms THEN excluded.end_ms ELSE sessions.end_ms END,
  event_count = sessions.event_count + excluded.event_count,
  size = sessions.size + excluded.size,
  click_count = sessions.click_count + excluded.click_count,
  keypress_count = sessions.keypress_count + excluded.keypress_count,
  mouse_activity_count = sessions.mouse_activity_count + excluded.mouse_activity_count,
  console_log_count = sessions.console_log_count + excluded.console_log_count,
  console_warn_count = sessions.console_warn_count + excluded.console_warn_count,
  console_error_count = sessions.console_error_count + excluded.console_error_count,
  network_request_count = sessions.network_request_count + excluded.network_request_count,
  active_ms = sessions.active_ms + excluded.active_ms,
  user_agent = COALESCE(sessions.user_agent, excluded.user_agent),
  lib = COALESCE(sessions.lib, excluded.lib),
  lib_version = COALESCE(sessions.lib_version, excluded.lib_version),
  updated_ms = excluded.updated_ms,
  sealed_ms = NULL";

const UPSERT_TITLE: &str = "INSERT INTO session_titles (project_id, session_id, title, first_ms) VALUES ($1, $2, $3, $4)
ON CONFLICT (project_id, session_id, title) DO UPDATE SET first_ms = CASE WHEN excluded.first_ms < session_titles.first_ms THEN excluded.first_ms ELSE session_titles.first_ms END";
const UPSERT_URL: &str = "INSERT INTO session_urls (project_id, session_id, url, first_ms) VALUES ($1, $2, $3, $4)
ON CONFLICT (project_id, session_id, url) DO UPDATE SET first_ms = CASE WHEN excluded.first_ms < session_urls.first_ms THEN excluded.first_ms ELSE session_urls.first_ms END";
