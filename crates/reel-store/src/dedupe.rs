//! Idempotent imports: the same recording arriving again, in any form (a package, an rrweb array,
//! a PostHog export, `/s/` bodies, a server's own export) and in any order, is stored once.
//!
//! Before an import is written, each imported window is compared with what its session already
//! holds: an event is "already stored" when a stored event has the same timestamp and the same
//! canonical content ([`reel_format::import::canonical_digest`]: key order, whitespace, escapes
//! and `cv` packing do not matter). Matching is a multiset: a recording that really holds two
//! identical events at one millisecond keeps both, and an import adds only the copies that are
//! new. Stored events are compared with the imported window of the same id; when the session has
//! no window of that id (forms disagree on window ids: an rrweb array has none, so it gets `1`),
//! with every window of the session, and the new events go to the window that matched most.
//!
//! Cost: stored blocks are read one at a time and streamed line by line; only blocks whose time
//! range overlaps an imported window are read, only events at a timestamp the import also has are
//! hashed — by their bytes first (a copy in the same form matches there), by canonical content
//! only when the bytes differ — and what is kept is a few digests per imported event.
use crate::index::BlockRow;
use crate::{Error, IngestUnit, Result, Store};
use reel_format::{Limits, Recording};
use std::collections::{HashMap, HashSet};
use std::io::BufRead;

/// What [`Store::import_recording`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportOutcome {
    /// Ids of the sessions in the import.
    pub sessions: Vec<String>,
    /// Events stored now.
    pub events: usize,
    /// Events left out because their session already held them.
    pub already_stored: usize,
    /// True when the import held events and every one was already stored.
    pub duplicate: bool,
}

/// One import at a time in this process: looking for stored events and writing the new ones are
/// one step, so two imports of one recording racing each other still store it once.
static IMPORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Key = (i64, [u8; 32]);

/// What one imported window looks for in the stored blocks. Events are first compared by their
/// exact text (a SHA-256 of the bytes: the common case, a copy of the same form); only a stored
/// event at one of the import's timestamps whose text matches none is compared by canonical
/// content, and only then are the canonical digests of the imported events at that timestamp
/// computed.
struct Want {
    unit: usize,
    /// The session has a window with this unit's id: compare with that window only.
    own_window: bool,
    lo: i64,
    hi: i64,
    /// Imported event indices by timestamp.
    at: HashMap<i64, Vec<usize>>,
    /// Per imported event: digest of its text, and (once needed) of its canonical content.
    raw: Vec<[u8; 32]>,
    canon: Vec<Option<[u8; 32]>>,
    raw_keys: HashSet<Key>,
    canon_keys: HashSet<Key>,
    /// Timestamps whose imported canonical digests are computed.
    canon_done: HashSet<i64>,
    /// Stored copies found, by text and by canonical content.
    found_raw: HashMap<Key, u32>,
    found_canon: HashMap<Key, u32>,
    /// Stored window → matches found in it.
    by_window: HashMap<String, usize>,
}

impl Want {
    /// Account for one stored event of window `window`. `canon` gives its canonical digest.
    fn stored(
        &mut self,
        events: &[reel_format::Event],
        limits: &Limits,
        window: &str,
        ts: i64,
        raw: [u8; 32],
        canon: &mut dyn FnMut() -> Option<[u8; 32]>,
    ) {
        let Some(idx) = self.at.get(&ts) else { return };
        if self.raw_keys.contains(&(ts, raw)) {
            *self.found_raw.entry((ts, raw)).or_default() += 1;
        } else {
            if self.canon_done.insert(ts) {
                for &i in idx {
                    self.canon[i] = digest_of(&events[i], limits).ok();
                    if let Some(c) = self.canon[i] {
                        self.canon_keys.insert((ts, c));
                    }
                }
            }
            match canon() {
                Some(c) if self.canon_keys.contains(&(ts, c)) => {
                    *self.found_canon.entry((ts, c)).or_default() += 1;
                }
                _ => return,
            }
        }
        *self.by_window.entry(window.to_string()).or_default() += 1;
    }

    /// Whether imported event `i` is one of the stored copies found (each copy is used once).
    fn take(&mut self, i: usize, ts: i64) -> bool {
        if let Some(n) = self
            .found_raw
            .get_mut(&(ts, self.raw[i]))
            .filter(|n| **n > 0)
        {
            *n -= 1;
            return true;
        }
        if let Some(c) = self.canon[i] {
            if let Some(n) = self.found_canon.get_mut(&(ts, c)).filter(|n| **n > 0) {
                *n -= 1;
                return true;
            }
        }
        false
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

impl Store {
    /// Store an imported recording, leaving out events its sessions already hold (see the module
    /// docs). `key_base` identifies the input (a hash of its bytes): the same file imported
    /// twice is also caught by the ingest keys.
    pub async fn import_recording(
        &self,
        project: &str,
        key_base: &str,
        rec: Recording,
        limits: &Limits,
    ) -> Result<ImportOutcome> {
        let mut units = Vec::new();
        let mut sessions = Vec::new();
        let mut metas = Vec::new();
        for s in rec.sessions {
            sessions.push(s.id.clone());
            if s.person.is_some() || !s.extra.is_empty() {
                let mut m = serde_json::Map::new();
                if let Some(p) = &s.person {
                    m.insert("person".into(), p.clone());
                }
                if !s.extra.is_empty() {
                    m.insert("extra".into(), serde_json::Value::Object(s.extra.clone()));
                }
                metas.push((s.id.clone(), serde_json::Value::Object(m)));
            }
            for w in s.windows {
                units.push(IngestUnit {
                    key: format!("import:{key_base}:{}:{}", s.id, w.id),
                    session_id: s.id.clone(),
                    window_id: w.id,
                    distinct_id: s.distinct_id.clone(),
                    source: s.source.clone(),
                    user_agent: s.user_agent.clone(),
                    events: w.events,
                });
            }
        }
        let had_events = units.iter().any(|u| !u.events.is_empty());
        let _one = IMPORTS.lock().await;
        let already_stored = self.drop_stored_events(project, &mut units, limits).await?;
        units.retain(|u| !u.events.is_empty());
        let events = if units.is_empty() {
            0
        } else {
            self.ingest(project, units).await?.events
        };
        // Facts without a column (person properties, the source's listing fields): kept for exports.
        for (id, meta) in &metas {
            self.index.set_session_meta(project, id, meta).await?;
        }
        Ok(ImportOutcome {
            sessions,
            events,
            already_stored,
            duplicate: had_events && events == 0,
        })
    }

    /// Remove from `units` the events their sessions already hold (see the module docs); a unit
    /// whose window id the session lacks may be moved to the stored window it matched. Returns
    /// how many events were removed. Units must name distinct (session, window) pairs.
    pub async fn drop_stored_events(
        &self,
        project: &str,
        units: &mut [IngestUnit],
        limits: &Limits,
    ) -> Result<usize> {
        let mut sessions: Vec<String> = units.iter().map(|u| u.session_id.clone()).collect();
        sessions.sort();
        sessions.dedup();
        let mut dropped = 0;
        for sid in sessions {
            let mut attempt = 0;
            loop {
                match self.dedupe_session(project, &sid, units, limits).await? {
                    Some(n) => {
                        dropped += n;
                        break;
                    }
                    // A block was replaced while we read (the session was sealed): list again.
                    None if attempt < 5 => attempt += 1,
                    None => {
                        return Err(Error::Config(format!(
                            "session {sid}: its blocks kept changing while the import compared them; try again"
                        )))
                    }
                }
            }
        }
        Ok(dropped)
    }

    /// One session: `None` if a listed block vanished meanwhile (nothing was changed then).
    async fn dedupe_session(
        &self,
        project: &str,
        sid: &str,
        units: &mut [IngestUnit],
        limits: &Limits,
    ) -> Result<Option<usize>> {
        let blocks = self.index.blocks(project, sid).await?;
        if blocks.is_empty() {
            return Ok(Some(0));
        }
        let windows: HashSet<&str> = blocks.iter().map(|b| b.window_id.as_str()).collect();
        // A window id an earlier import matched to a stored window goes there again.
        for u in units.iter_mut() {
            if u.session_id == sid && !windows.contains(u.window_id.as_str()) {
                if let Some(x) = self
                    .window_alias(project, sid, &u.window_id, &windows)
                    .await?
                {
                    u.window_id = x;
                }
            }
        }
        let mut wants = Vec::new();
        for (i, u) in units.iter().enumerate() {
            if u.session_id != sid || u.events.is_empty() {
                continue;
            }
            let raw: Vec<[u8; 32]> = tokio::task::block_in_place(|| {
                u.events
                    .iter()
                    .map(|e| sha256(e.json().as_bytes()))
                    .collect()
            });
            let mut at: HashMap<i64, Vec<usize>> = HashMap::new();
            for (k, e) in u.events.iter().enumerate() {
                at.entry(e.timestamp).or_default().push(k);
            }
            wants.push(Want {
                unit: i,
                own_window: windows.contains(u.window_id.as_str()),
                lo: u.events.iter().map(|e| e.timestamp).min().unwrap_or(0),
                hi: u.events.iter().map(|e| e.timestamp).max().unwrap_or(0),
                at,
                raw_keys: u
                    .events
                    .iter()
                    .zip(&raw)
                    .map(|(e, r)| (e.timestamp, *r))
                    .collect(),
                canon: vec![None; raw.len()],
                raw,
                canon_keys: HashSet::new(),
                canon_done: HashSet::new(),
                found_raw: HashMap::new(),
                found_canon: HashMap::new(),
                by_window: HashMap::new(),
            });
        }
        for b in &blocks {
            let needed: Vec<usize> = wants
                .iter()
                .enumerate()
                .filter(|(_, w)| {
                    (!w.own_window || b.window_id == units[w.unit].window_id)
                        && b.last_ms >= w.lo
                        && b.first_ms <= w.hi
                })
                .map(|(k, _)| k)
                .collect();
            if needed.is_empty() {
                continue;
            }
            let Some(bytes) = self.block_bytes(b).await? else {
                return Ok(None);
            };
            tokio::task::block_in_place(|| {
                scan_block(&bytes, b, limits, |ts, text, canon| {
                    if !needed.iter().any(|&k| wants[k].at.contains_key(&ts)) {
                        return;
                    }
                    let raw = sha256(text.as_bytes());
                    for &k in &needed {
                        let w = &mut wants[k];
                        let events = &units[w.unit].events;
                        w.stored(events, limits, &b.window_id, ts, raw, canon);
                    }
                })
            })?;
        }
        let mut dropped = 0;
        for mut w in wants {
            let u = &mut units[w.unit];
            let before = u.events.len();
            let mut i = 0;
            u.events.retain(|e| {
                let keep = !w.take(i, e.timestamp);
                i += 1;
                keep
            });
            dropped += before - u.events.len();
            if !w.own_window {
                // The rest of a recording that matched a stored window under another id belongs
                // to that window (most matches; ties to the smallest id).
                if let Some((win, _)) = w
                    .by_window
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                {
                    self.add_window_alias(project, sid, &u.window_id, win)
                        .await?;
                    u.window_id = win.clone();
                }
            }
        }
        Ok(Some(dropped))
    }

    /// The stored window that window `w` of an earlier import of session `sid` was matched to.
    /// Aliases are rows of the `batches` table (`window-alias:<session>:<from>:<to>`), looked up
    /// by exact key for each stored window, and deleted with the session.
    async fn window_alias(
        &self,
        project: &str,
        sid: &str,
        w: &str,
        windows: &HashSet<&str>,
    ) -> Result<Option<String>> {
        let mut candidates: Vec<&str> = windows.iter().copied().collect();
        candidates.sort();
        for chunk in candidates.chunks(200) {
            let ph: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT batch_key FROM batches WHERE project_id = $1 AND batch_key IN ({})",
                ph.join(", ")
            );
            // Audited: only $N placeholders are interpolated; values are bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project);
            for x in chunk {
                q = q.bind(alias_key(sid, w, x));
            }
            let rows = q.fetch_all(&self.index.pool).await?;
            let keys = crate::index::strings(&rows, "batch_key")?;
            if let Some(x) = chunk.iter().find(|x| keys.contains(&alias_key(sid, w, x))) {
                return Ok(Some(x.to_string()));
            }
        }
        Ok(None)
    }

    async fn add_window_alias(&self, project: &str, sid: &str, from: &str, to: &str) -> Result<()> {
        let _w = self.index.writer().await;
        sqlx::query("INSERT INTO batches (project_id, batch_key, session_id, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, batch_key) DO NOTHING")
            .bind(project)
            .bind(alias_key(sid, from, to))
            .bind(sid)
            .bind(crate::now_ms())
            .execute(&self.index.pool)
            .await?;
        Ok(())
    }

    /// A block's compressed bytes, `None` if it is gone (replaced by sealing, or deleted).
    async fn block_bytes(&self, b: &BlockRow) -> Result<Option<bytes::Bytes>> {
        if crate::ingest::in_index(&b.blob_key) {
            return Ok(self.index.block_data(&b.id).await?.map(Into::into));
        }
        match self.blobs.get(&b.blob_key).await {
            Ok(x) => Ok(Some(x)),
            Err(Error::Blob(object_store::Error::NotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn alias_key(sid: &str, from: &str, to: &str) -> String {
    format!("window-alias:{sid}:{from}:{to}")
}

/// Stream a zstd JSONL block line by line, calling `f(timestamp, text, canonical)` per event;
/// `canonical` computes the event's canonical digest on demand (`None` if it cannot: such an
/// event matches only by text).
fn scan_block(
    bytes: &[u8],
    b: &BlockRow,
    limits: &Limits,
    mut f: impl FnMut(i64, &str, &mut dyn FnMut() -> Option<[u8; 32]>),
) -> Result<()> {
    let err = |e: String| Error::Config(format!("block {}: {e}", b.blob_key));
    let dec = zstd::stream::read::Decoder::with_buffer(bytes).map_err(|e| err(e.to_string()))?;
    let mut r = std::io::BufReader::with_capacity(256 << 10, dec);
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)
            .map_err(|e| err(e.to_string()))?
            == 0
        {
            return Ok(());
        }
        let text = std::str::from_utf8(&line).map_err(|_| err("not UTF-8".into()))?;
        let text = text.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        let Ok(e) = reel_format::Event::parse(text) else {
            continue;
        };
        let mut cached: Option<Option<[u8; 32]>> = None;
        let mut canon = || *cached.get_or_insert_with(|| digest_of(&e, limits).ok());
        f(e.timestamp, text, &mut canon);
    }
}

/// The canonical digest of an event's plain form (`cv` packing undone first).
fn digest_of(e: &reel_format::Event, limits: &Limits) -> reel_format::Result<[u8; 32]> {
    if e.packed {
        let plain = reel_format::cv::unpack(e.clone(), limits)?;
        return reel_format::import::canonical_digest(plain.json(), limits);
    }
    reel_format::import::canonical_digest(e.json(), limits)
}
