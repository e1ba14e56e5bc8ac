//! Assets a server collects for its recordings (`reel serve --capture-assets`): the bookkeeping
//! and the bytes, not the fetching (the server fetches through `reel-move::assets`).
//!
//! * `assets`: per project and URL, the latest fetch — content hash, type, size, when, how long it
//!   stays fresh (HTTP caching), the stylesheet's own references (`refs`) — or its failures, with
//!   the time of the next attempt (`due_ms`: backing off, `NULL` once given up or done) and a
//!   lease so that two servers never fetch one URL at once.
//! * `session_assets`: which URLs a session loads and the version (hash) it plays with. A session
//!   linked while the URL's fetch is fresh gets that version at once; otherwise its link waits
//!   (`sha256 IS NULL`) for the next fetch. Old sessions keep the version they were recorded with.
//! * The bytes: one blob per project and content hash, `p/{project}/assets/sha256/{hex}`, in the
//!   blob store beside the recordings (a local folder or S3): fetched once per URL and content,
//!   shared by every session that loads it.
//!
//! Deletion ([`Store::delete_session`], forget, retention) removes a session's links in its own
//! transaction; then [`Store::collect_asset_garbage`] deletes `assets` rows no session links and the
//! blobs no row names any more. A fetch that lands while its blob is being deleted is caught from
//! both sides (the fetcher checks the blob is there after its commit; the collector re-checks
//! references after deleting and sends what it finds back to be fetched again).
use crate::index::strings;
use crate::{now_ms, Result, Store};
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering;

/// Freshness of a response whose headers do not say (one day).
pub const FRESH_DEFAULT_MS: i64 = 86_400_000;
/// A failed fetch is tried again after this long, doubled per further failure …
pub const RETRY_BASE_MS: i64 = 60_000;
/// … up to this …
pub const RETRY_MAX_MS: i64 = 6 * 3_600_000;
/// … and given up after this many attempts (until a session links the URL a day later).
pub const MAX_ATTEMPTS: i64 = 5;
/// Most URLs one session links.
pub const MAX_SESSION_ASSETS: i64 = 2000;
/// A claimed URL is left to another server after this long.
const LEASE_MS: i64 = 120_000;
/// Stylesheets are followed this many `@import`/`url()` levels deep.
const MAX_DEPTH: usize = 4;
/// Most references kept of one stylesheet.
const MAX_REFS: usize = 500;

/// The blob key of an asset's bytes.
pub fn blob_key(project: &str, sha256: &str) -> String {
    format!("p/{project}/assets/sha256/{sha256}")
}

/// An asset a session plays with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionAsset {
    pub url: String,
    pub sha256: String,
    pub content_type: String,
    pub size: i64,
    pub fetched_ms: i64,
}

/// A successful fetch, as [`Store::asset_fetched`] records it.
#[derive(Debug, Clone)]
pub struct FetchedAsset {
    /// The URL asked for (its link's URL; redirects already followed).
    pub url: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub fetched_ms: i64,
    /// Until when the response is fresh (epoch ms).
    pub fresh_until_ms: i64,
    /// A stylesheet's references (absolute URLs), linked to every session that loads it.
    pub refs: Vec<String>,
}

/// One row of `assets` (for tests and the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetRow {
    pub url: String,
    pub sha256: Option<String>,
    pub size: Option<i64>,
    pub fetched_ms: Option<i64>,
    pub failures: i64,
    pub error: Option<String>,
    pub due_ms: Option<i64>,
}

fn sha_ok(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Store {
    /// Link `urls` (absolute, as the recording loads them) to a session, with the references of
    /// linked stylesheets already fetched. A URL never fetched, or no longer fresh, or given up
    /// more than a day ago, becomes due for fetching. Stops at [`MAX_SESSION_ASSETS`] links or
    /// `max_bytes` of the session's assets (0: no cap). Returns how many URLs became due.
    pub async fn link_assets(
        &self,
        project: &str,
        session: &str,
        urls: &[String],
        max_bytes: u64,
    ) -> Result<usize> {
        if urls.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let _w = self.index.writer().await;
        let mut tx = self.index.pool.begin().await?;
        // Shared with ingest, exclusive with a deletion: no link outlives its session.
        self.index
            .lock_session(&mut tx, project, session, false)
            .await?;
        let exists = sqlx::query("SELECT 1 AS x FROM sessions WHERE project_id = $1 AND id = $2")
            .bind(project)
            .bind(session)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(0);
        }
        let row = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS b FROM session_assets WHERE project_id = $1 AND session_id = $2")
            .bind(project)
            .bind(session)
            .fetch_one(&mut *tx)
            .await?;
        let mut count: i64 = row.try_get("n")?;
        let mut bytes: i64 = row.try_get("b")?;
        let mut queue: VecDeque<(String, usize)> = urls.iter().map(|u| (u.clone(), 0)).collect();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut due = 0;
        while let Some((url, depth)) = queue.pop_front() {
            if count >= MAX_SESSION_ASSETS || (max_bytes > 0 && bytes as u64 >= max_bytes) {
                break;
            }
            if !seen.insert(url.clone()) {
                continue;
            }
            // A write that changes nothing, for the row's lock (PostgreSQL): a fetch of this URL
            // recording its result either commits before (and the SELECT below sees the version)
            // or waits for this link (and then fills it in).
            sqlx::query("UPDATE assets SET due_ms = due_ms WHERE project_id = $1 AND url = $2")
                .bind(project)
                .bind(&url)
                .execute(&mut *tx)
                .await?;
            let a = sqlx::query("SELECT sha256, content_type, size, fetched_ms, fresh_until_ms, refs, due_ms, tried_ms FROM assets WHERE project_id = $1 AND url = $2")
                .bind(project)
                .bind(&url)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(a) = a else {
                sqlx::query("INSERT INTO assets (project_id, url, failures, due_ms) VALUES ($1, $2, 0, $3) ON CONFLICT (project_id, url) DO NOTHING")
                    .bind(project)
                    .bind(&url)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                count += link(&mut tx, project, session, &url, None).await?;
                due += 1;
                continue;
            };
            let sha: Option<String> = a.try_get("sha256")?;
            let fresh_until: Option<i64> = a.try_get("fresh_until_ms")?;
            let pending = a.try_get::<Option<i64>, _>("due_ms")?.is_some();
            match sha {
                Some(sha) if fresh_until.unwrap_or(0) >= now => {
                    let version = Version {
                        sha256: sha,
                        content_type: a
                            .try_get::<Option<String>, _>("content_type")?
                            .unwrap_or_default(),
                        size: a.try_get::<Option<i64>, _>("size")?.unwrap_or(0),
                        fetched_ms: a.try_get::<Option<i64>, _>("fetched_ms")?.unwrap_or(0),
                    };
                    let n = link(&mut tx, project, session, &url, Some(&version)).await?;
                    count += n;
                    bytes += n * version.size;
                    if depth < MAX_DEPTH {
                        let refs: Option<String> = a.try_get("refs")?;
                        for r in refs
                            .iter()
                            .flat_map(|r| r.lines())
                            .filter(|r| !r.is_empty())
                        {
                            queue.push_back((r.to_string(), depth + 1));
                        }
                    }
                }
                sha => {
                    count += link(&mut tx, project, session, &url, None).await?;
                    let tried: Option<i64> = a.try_get("tried_ms")?;
                    // Stale, or given up long enough ago: try again.
                    if !pending && (sha.is_some() || tried.unwrap_or(0) < now - FRESH_DEFAULT_MS) {
                        sqlx::query("UPDATE assets SET due_ms = $1, failures = 0 WHERE project_id = $2 AND url = $3")
                            .bind(now)
                            .bind(project)
                            .bind(&url)
                            .execute(&mut *tx)
                            .await?;
                        due += 1;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(due)
    }

    /// Claim up to `limit` URLs due for fetching (a lease: another server leaves them alone).
    pub async fn claim_due_assets(&self, project: &str, limit: i64) -> Result<Vec<String>> {
        let now = now_ms();
        let rows = sqlx::query("SELECT url FROM assets WHERE project_id = $1 AND due_ms <= $2 AND (lease_until IS NULL OR lease_until < $2) ORDER BY due_ms LIMIT $3")
            .bind(project)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.index.pool)
            .await?;
        let mut out = Vec::new();
        for url in strings(&rows, "url")? {
            let _w = self.index.writer().await;
            let n = sqlx::query("UPDATE assets SET lease_until = $1 WHERE project_id = $2 AND url = $3 AND due_ms <= $4 AND (lease_until IS NULL OR lease_until < $4)")
                .bind(now + LEASE_MS)
                .bind(project)
                .bind(&url)
                .bind(now)
                .execute(&self.index.pool)
                .await?
                .rows_affected();
            if n == 1 {
                out.push(url);
            }
        }
        Ok(out)
    }

    /// Record a successful fetch: the bytes into the blob store (once per content hash), the
    /// URL's row, the versions of the sessions waiting for it, and the stylesheet's references
    /// linked to those sessions. Returns the hex SHA-256.
    pub async fn asset_fetched(
        &self,
        project: &str,
        f: FetchedAsset,
        max_bytes: u64,
    ) -> Result<String> {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&f.bytes));
        let key = blob_key(project, &sha);
        let size = f.bytes.len() as i64;
        if !self.asset_referenced(project, &sha).await? || !self.blobs.exists(&key).await? {
            self.blobs.put(&key, f.bytes).await?;
        }
        let refs: Vec<&str> = f
            .refs
            .iter()
            .map(String::as_str)
            .filter(|r| !r.contains('\n'))
            .take(MAX_REFS)
            .collect();
        let waiting = {
            let _w = self.index.writer().await;
            let mut tx = self.index.pool.begin().await?;
            sqlx::query("UPDATE assets SET sha256 = $1, content_type = $2, size = $3, fetched_ms = $4, tried_ms = $4, fresh_until_ms = $5, refs = $6, failures = 0, error = NULL, due_ms = NULL, lease_until = NULL WHERE project_id = $7 AND url = $8")
                .bind(&sha)
                .bind(&f.content_type)
                .bind(size)
                .bind(f.fetched_ms)
                .bind(f.fresh_until_ms)
                .bind(refs.join("\n"))
                .bind(project)
                .bind(&f.url)
                .execute(&mut *tx)
                .await?;
            let waiting = strings(
                &sqlx::query("SELECT session_id FROM session_assets WHERE project_id = $1 AND url = $2 AND sha256 IS NULL")
                    .bind(project)
                    .bind(&f.url)
                    .fetch_all(&mut *tx)
                    .await?,
                "session_id",
            )?;
            sqlx::query("UPDATE session_assets SET sha256 = $1, content_type = $2, size = $3, fetched_ms = $4 WHERE project_id = $5 AND url = $6 AND sha256 IS NULL")
                .bind(&sha)
                .bind(&f.content_type)
                .bind(size)
                .bind(f.fetched_ms)
                .bind(project)
                .bind(&f.url)
                .execute(&mut *tx)
                .await?;
            // Copies of those sessions already exported (`--export-to`) are written again, with it.
            for session in &waiting {
                sqlx::query("UPDATE exports SET version = NULL WHERE project_id = $1 AND session_id = $2 AND deleted = 0")
                    .bind(project)
                    .bind(session)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            waiting
        };
        if !self.asset_referenced(project, &sha).await? {
            // Every session that loaded the URL was deleted while it was being fetched.
            self.blobs.delete(&key).await?;
        } else if !self.blobs.exists(&key).await? {
            // A collection of garbage deleted the blob between our check and our commit.
            self.set_asset_due_again(project, &sha).await?;
        }
        self.metrics.assets_fetched.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .asset_bytes
            .fetch_add(size as u64, Ordering::Relaxed);
        if !refs.is_empty() {
            let refs: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
            for s in waiting {
                self.link_assets(project, &s, &refs, max_bytes).await?;
            }
        }
        Ok(sha)
    }

    /// Record a failed fetch: tried again later, backing off, and given up after
    /// [`MAX_ATTEMPTS`] (at once when `give_up`: a response that must not be kept). Sessions
    /// waiting for the URL get its last good version, if any.
    pub async fn asset_failed(
        &self,
        project: &str,
        url: &str,
        error: &str,
        give_up: bool,
    ) -> Result<()> {
        let now = now_ms();
        self.metrics.assets_failed.fetch_add(1, Ordering::Relaxed);
        let _w = self.index.writer().await;
        let mut tx = self.index.pool.begin().await?;
        let Some(a) = sqlx::query("SELECT failures, sha256, content_type, size, fetched_ms FROM assets WHERE project_id = $1 AND url = $2")
            .bind(project)
            .bind(url)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(());
        };
        let failures: i64 = a.try_get("failures")?;
        let due = (!give_up && failures + 1 < MAX_ATTEMPTS)
            .then(|| now + crate::backoff_ms(RETRY_BASE_MS, RETRY_MAX_MS, failures));
        let error: String = error.chars().take(500).collect();
        sqlx::query("UPDATE assets SET failures = $1, error = $2, tried_ms = $3, due_ms = $4, lease_until = NULL WHERE project_id = $5 AND url = $6")
            .bind(failures + 1)
            .bind(&error)
            .bind(now)
            .bind(due)
            .bind(project)
            .bind(url)
            .execute(&mut *tx)
            .await?;
        if let Some(sha) = a.try_get::<Option<String>, _>("sha256")? {
            sqlx::query("UPDATE session_assets SET sha256 = $1, content_type = $2, size = $3, fetched_ms = $4 WHERE project_id = $5 AND url = $6 AND sha256 IS NULL")
                .bind(sha)
                .bind(a.try_get::<Option<String>, _>("content_type")?)
                .bind(a.try_get::<Option<i64>, _>("size")?)
                .bind(a.try_get::<Option<i64>, _>("fetched_ms")?)
                .bind(project)
                .bind(url)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The assets a session plays with (fetched ones), by URL.
    pub async fn session_assets(&self, project: &str, session: &str) -> Result<Vec<SessionAsset>> {
        let rows = sqlx::query("SELECT url, sha256, content_type, size, fetched_ms FROM session_assets WHERE project_id = $1 AND session_id = $2 AND sha256 IS NOT NULL ORDER BY url")
            .bind(project)
            .bind(session)
            .fetch_all(&self.index.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionAsset {
                    url: r.try_get("url")?,
                    sha256: r.try_get("sha256")?,
                    content_type: r
                        .try_get::<Option<String>, _>("content_type")?
                        .unwrap_or_default(),
                    size: r.try_get::<Option<i64>, _>("size")?.unwrap_or(0),
                    fetched_ms: r.try_get::<Option<i64>, _>("fetched_ms")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// One asset of a session by content hash (its content type and bytes), `None` when the
    /// session does not play with it or its bytes are gone. Bytes over `cap` are refused.
    pub async fn session_asset(
        &self,
        project: &str,
        session: &str,
        sha256: &str,
        cap: u64,
    ) -> Result<Option<(String, bytes::Bytes)>> {
        if !sha_ok(sha256) {
            return Ok(None);
        }
        let Some(r) = sqlx::query("SELECT content_type FROM session_assets WHERE project_id = $1 AND session_id = $2 AND sha256 = $3 LIMIT 1")
            .bind(project)
            .bind(session)
            .bind(sha256)
            .fetch_optional(&self.index.pool)
            .await?
        else {
            return Ok(None);
        };
        let ct: Option<String> = r.try_get("content_type")?;
        Ok(self
            .asset_bytes(project, sha256, cap)
            .await?
            .map(|b| (ct.unwrap_or_default(), b)))
    }

    /// The bytes of an asset by content hash (`None` when gone), refused over `cap` bytes.
    pub async fn asset_bytes(
        &self,
        project: &str,
        sha256: &str,
        cap: u64,
    ) -> Result<Option<bytes::Bytes>> {
        if !sha_ok(sha256) {
            return Ok(None);
        }
        match self.blobs.get_capped(&blob_key(project, sha256), cap).await {
            Ok(b) => Ok(Some(b)),
            Err(crate::Error::Blob(object_store::Error::NotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every `assets` row of a project (tests, diagnostics).
    pub async fn asset_rows(&self, project: &str) -> Result<Vec<AssetRow>> {
        let rows = sqlx::query("SELECT url, sha256, size, fetched_ms, failures, error, due_ms FROM assets WHERE project_id = $1 ORDER BY url")
            .bind(project)
            .fetch_all(&self.index.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AssetRow {
                    url: r.try_get("url")?,
                    sha256: r.try_get("sha256")?,
                    size: r.try_get("size")?,
                    fetched_ms: r.try_get("fetched_ms")?,
                    failures: r.try_get("failures")?,
                    error: r.try_get("error")?,
                    due_ms: r.try_get("due_ms")?,
                })
            })
            .collect()
    }

    /// Whether any link or row names the content hash.
    async fn asset_referenced(&self, project: &str, sha256: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 AS x FROM session_assets WHERE project_id = $1 AND sha256 = $2 UNION ALL SELECT 1 AS x FROM assets WHERE project_id = $1 AND sha256 = $2")
            .bind(project)
            .bind(sha256)
            .fetch_optional(&self.index.pool)
            .await?
            .is_some())
    }

    /// The bytes of `sha256` are gone while something names them: fetch those URLs again.
    async fn set_asset_due_again(&self, project: &str, sha256: &str) -> Result<()> {
        let _w = self.index.writer().await;
        let mut tx = self.index.pool.begin().await?;
        let urls = strings(
            &sqlx::query("SELECT url FROM session_assets WHERE project_id = $1 AND sha256 = $2 UNION SELECT url FROM assets WHERE project_id = $1 AND sha256 = $2")
                .bind(project)
                .bind(sha256)
                .fetch_all(&mut *tx)
                .await?,
            "url",
        )?;
        sqlx::query("UPDATE session_assets SET sha256 = NULL, content_type = NULL, size = NULL, fetched_ms = NULL WHERE project_id = $1 AND sha256 = $2")
            .bind(project)
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE assets SET sha256 = NULL, fresh_until_ms = NULL WHERE project_id = $1 AND sha256 = $2")
            .bind(project)
            .bind(sha256)
            .execute(&mut *tx)
            .await?;
        for u in urls {
            sqlx::query(
                "UPDATE assets SET due_ms = $1, failures = 0 WHERE project_id = $2 AND url = $3",
            )
            .bind(now_ms())
            .bind(project)
            .bind(&u)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// After a deletion: drop `assets` rows that no session links, then the blobs of `candidates`
    /// (content hashes the deleted links and rows named) that nothing names any more.
    pub(crate) async fn collect_asset_garbage(
        &self,
        project: &str,
        candidates: Vec<String>,
    ) -> Result<()> {
        let mut candidates: BTreeSet<String> = candidates.into_iter().collect();
        {
            let _w = self.index.writer().await;
            let mut tx = self.index.pool.begin().await?;
            let unlinked = "FROM assets WHERE project_id = $1 AND NOT EXISTS (SELECT 1 FROM session_assets s WHERE s.project_id = assets.project_id AND s.url = assets.url)";
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT sha256 {unlinked} AND sha256 IS NOT NULL"
            )))
            .bind(project)
            .fetch_all(&mut *tx)
            .await?;
            candidates.extend(strings(&rows, "sha256")?);
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE {unlinked}")))
                .bind(project)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        for sha in candidates.iter().filter(|s| sha_ok(s)) {
            if self.asset_referenced(project, sha).await? {
                continue;
            }
            self.blobs.delete(&blob_key(project, sha)).await?;
            // A fetch of the same bytes may have committed meanwhile: it needs them again.
            if self.asset_referenced(project, sha).await? {
                self.set_asset_due_again(project, sha).await?;
            }
        }
        Ok(())
    }
}

/// A fetched version of a URL.
struct Version {
    sha256: String,
    content_type: String,
    size: i64,
    fetched_ms: i64,
}

/// Insert one link (waiting when `version` is `None`); 1 if it is new.
async fn link(
    tx: &mut sqlx::AnyConnection,
    project: &str,
    session: &str,
    url: &str,
    version: Option<&Version>,
) -> Result<i64> {
    Ok(sqlx::query("INSERT INTO session_assets (project_id, session_id, url, sha256, content_type, size, fetched_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (project_id, session_id, url) DO NOTHING")
        .bind(project)
        .bind(session)
        .bind(url)
        .bind(version.map(|v| v.sha256.clone()))
        .bind(version.map(|v| v.content_type.clone()))
        .bind(version.map(|v| v.size))
        .bind(version.map(|v| v.fetched_ms))
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64)
}
