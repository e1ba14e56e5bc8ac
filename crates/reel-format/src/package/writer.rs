//! Streaming package writer: events go straight from the caller into deflated ZIP entries while
//! being hashed and counted; only the manifest is held in memory.
use super::manifest::{
    iso_ms, AssetEntry, FileEntry, Manifest, ManifestSession, SessionMeta, WindowMeta, FORMAT,
    FORMAT_VERSION, FORMAT_VERSION_ASSETS, FORMAT_VERSION_COMMENTS,
};
use super::{
    asset_path, meta_path, stored_content_type, valid_id, window_path, MANIFEST, SHA256SUMS,
    SIGNATURE,
};
use crate::recording::{Session, Source};
use crate::stats::StatsBuilder;
use crate::{Error, Event, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Seek, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Deflate level 0–9. Default 5: on rrweb JSON it costs ~16% less CPU than 6 for ~1% larger
    /// entries (still smaller than `zip -6`); see bench/RESULTS.md.
    pub level: i64,
    /// `producer` in the manifest.
    pub producer: String,
    /// Extra top-level manifest fields (e.g. `redaction`).
    pub redaction: Option<serde_json::Value>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            level: 5,
            producer: format!("reel-format {}", env!("CARGO_PKG_VERSION")),
            redaction: None,
        }
    }
}

pub struct PackageWriter<W: Write + Seek> {
    zip: ZipWriter<W>,
    opts: WriterOptions,
    files: Vec<FileEntry>,
    sessions: Vec<ManifestSession>,
    assets: BTreeMap<String, AssetEntry>,
    /// A `comments.json` was written (format 1.3).
    comments: bool,
}

impl<W: Write + Seek> PackageWriter<W> {
    pub fn new(w: W, opts: WriterOptions) -> Self {
        PackageWriter {
            zip: ZipWriter::new(w),
            opts,
            files: Vec::new(),
            sessions: Vec::new(),
            assets: BTreeMap::new(),
            comments: false,
        }
    }

    /// The deflate level entries are written with.
    pub fn level(&self) -> i64 {
        self.opts.level
    }

    fn entry_options(&self, large: bool) -> SimpleFileOptions {
        entry_options(self.opts.level, large)
    }

    fn start(&mut self, path: &str, large: bool) -> Result<()> {
        if self.files.iter().any(|f| f.path == path) {
            return Err(Error::invalid(path, "duplicate entry"));
        }
        let o = self.entry_options(large);
        self.zip
            .start_file(path, o)
            .map_err(|e| Error::zip(path, e))
    }

    /// Add a small file (report, summary) from bytes.
    pub fn add_file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.start(path, false)?;
        self.zip.write_all(bytes).map_err(|e| Error::io(path, e))?;
        self.files.push(FileEntry {
            path: path.into(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            extra: Default::default(),
        });
        Ok(())
    }

    /// Add a session's comments as `sessions/<id>/comments.json` (format 1.3; nothing is written
    /// for none). Each is checked as a reader checks it.
    pub fn add_comments(
        &mut self,
        session: &str,
        comments: Vec<super::comments::Comment>,
    ) -> Result<()> {
        if comments.is_empty() {
            return Ok(());
        }
        let path = super::comments::comments_path(session);
        let bytes = super::comments::to_bytes(session, comments)?;
        super::comments::parse(&path, session, &bytes)?;
        self.add_file(&path, &bytes)?;
        self.comments = true;
        Ok(())
    }

    /// Whether `url` is in the assets map already.
    pub fn has_asset(&self, url: &str) -> bool {
        self.assets.contains_key(url)
    }

    /// Map `url` to the bytes already stored for `target` (a redirect, or one content under two
    /// URLs), with `target`'s facts.
    pub fn add_asset_alias(&mut self, url: &str, target: &str) -> Result<()> {
        if self.assets.contains_key(url) {
            return Err(Error::invalid(url, "asset added twice"));
        }
        let a = self
            .assets
            .get(target)
            .cloned()
            .ok_or_else(|| Error::invalid(target, "no such asset in the package"))?;
        self.assets.insert(url.to_string(), a);
        Ok(())
    }

    /// Add an asset (format 1.2): its bytes as `assets/sha256/<hex>` (written once however many
    /// URLs share them; stored when the content type is already compressed, else deflated) and
    /// `url` in the manifest's `assets` map. `fetched_at` is RFC 3339. Returns the hex SHA-256.
    pub fn add_asset(
        &mut self,
        url: &str,
        bytes: &[u8],
        content_type: &str,
        fetched_at: &str,
    ) -> Result<String> {
        if self.assets.contains_key(url) {
            return Err(Error::invalid(url, "asset added twice"));
        }
        let sha = hex::encode(Sha256::digest(bytes));
        let path = asset_path(&sha);
        if !self.files.iter().any(|f| f.path == path) {
            let o = if stored_content_type(content_type) {
                entry_options(0, false)
            } else {
                self.entry_options(false)
            };
            self.zip
                .start_file(path.as_str(), o)
                .map_err(|e| Error::zip(&path, e))?;
            self.zip.write_all(bytes).map_err(|e| Error::io(&path, e))?;
            self.files.push(FileEntry {
                path,
                bytes: bytes.len() as u64,
                sha256: sha.clone(),
                extra: Default::default(),
            });
        }
        self.assets.insert(
            url.to_string(),
            AssetEntry {
                sha256: sha.clone(),
                content_type: content_type.to_string(),
                size: bytes.len() as u64,
                fetched_at: fetched_at.to_string(),
                extra: Default::default(),
            },
        );
        Ok(sha)
    }

    /// Stream one window's events (already in time order) into its JSONL entry.
    /// `size_hint` is the expected uncompressed size, used to switch on zip64 for huge entries.
    ///
    /// Deflate, the costliest step, runs on a helper thread while this thread reads, checks,
    /// counts and hashes the events (see [`prepare_window`]); the compressed entry is then copied
    /// into the package as it is.
    pub fn write_window<'e, I>(
        &mut self,
        session: &str,
        window: &str,
        events: I,
        size_hint: u64,
    ) -> Result<(WindowMeta, StatsBuilder)>
    where
        I: IntoIterator<Item = Result<std::borrow::Cow<'e, Event>>>,
    {
        let p = prepare_window(session, window, events, size_hint, self.opts.level, true)?;
        self.add_prepared(p)
    }

    /// Copy a window compressed by [`prepare_window`] (on any thread) into the package.
    pub fn add_prepared(&mut self, p: PreparedWindow) -> Result<(WindowMeta, StatsBuilder)> {
        let path = p.meta.path.clone();
        if self.files.iter().any(|f| f.path == path) {
            return Err(Error::invalid(&path, "duplicate entry"));
        }
        let mut one = zip::ZipArchive::new(p.zip).map_err(|e| Error::zip(&path, e))?;
        let entry = one.by_index_raw(0).map_err(|e| Error::zip(&path, e))?;
        self.zip
            .raw_copy_file(entry)
            .map_err(|e| Error::zip(&path, e))?;
        self.files.push(p.file);
        Ok((p.meta, p.stats))
    }

    /// Write `meta.json` for a session whose windows were written with [`Self::write_window`].
    pub fn finish_session(
        &mut self,
        info: SessionInfo,
        windows: Vec<WindowMeta>,
        stats: StatsBuilder,
    ) -> Result<SessionMeta> {
        let stats = stats.finish();
        let meta = SessionMeta {
            id: info.id.clone(),
            distinct_id: info.distinct_id.clone(),
            person: info.person,
            start_time: stats.start_ms.map(iso_ms),
            end_time: stats.end_ms.map(iso_ms),
            recording_duration: stats.duration_ms() as f64 / 1000.0,
            active_seconds: stats.active_ms as f64 / 1000.0,
            start_url: stats.start_url().map(str::to_string),
            user_agent: info.user_agent,
            source: info.source,
            windows: windows.clone(),
            stats: stats.clone(),
            extra: info.extra,
        };
        let bytes = serde_json::to_vec_pretty(&meta)
            .map_err(|e| Error::invalid("meta.json", e.to_string()))?;
        self.add_file(&meta_path(&info.id), &bytes)?;
        self.sessions.push(ManifestSession {
            id: info.id.clone(),
            meta: meta_path(&info.id),
            windows: windows.iter().map(|w| w.path.clone()).collect(),
            start_time: meta.start_time.clone(),
            end_time: meta.end_time.clone(),
            duration_ms: stats.duration_ms(),
            event_count: stats.event_count,
            distinct_id: info.distinct_id,
            extra: Default::default(),
        });
        Ok(meta)
    }

    /// The start (`start_time`, ms) of a session already written into this package.
    pub fn session_start_ms(&self, id: &str) -> Option<i64> {
        let s = self.sessions.iter().find(|s| s.id == id)?;
        super::comments::parse_time(s.start_time.as_deref()?)
    }

    /// Write a whole in-memory session (windows must be sorted; see [`Session::sort`]).
    pub fn add_session(&mut self, s: &Session) -> Result<SessionMeta> {
        if self.sessions.iter().any(|x| x.id == s.id) {
            return Err(Error::invalid(
                &s.id,
                "session appears twice in the package",
            ));
        }
        let mut metas = Vec::new();
        let mut all = StatsBuilder::default();
        for w in &s.windows {
            let size: u64 = w.events.iter().map(|e| e.json().len() as u64 + 1).sum();
            let (m, st) = self.write_window(
                &s.id,
                &w.id,
                w.events.iter().map(|e| Ok(std::borrow::Cow::Borrowed(e))),
                size,
            )?;
            metas.push(m);
            all.merge(st);
        }
        self.finish_session(SessionInfo::of(s), metas, all)
    }

    /// Write manifest.json, SHA256SUMS and (with a key) signature.json; return the inner writer.
    pub fn finish(mut self, key: Option<&ed25519_dalek::SigningKey>) -> Result<(W, Manifest)> {
        let assets = std::mem::take(&mut self.assets);
        let manifest = Manifest {
            format: FORMAT.into(),
            // The lowest version that describes the package.
            format_version: if self.comments {
                FORMAT_VERSION_COMMENTS
            } else if !assets.is_empty() {
                FORMAT_VERSION_ASSETS
            } else {
                FORMAT_VERSION
            }
            .into(),
            producer: self.opts.producer.clone(),
            created_at: iso_ms(now_ms()),
            sessions: std::mem::take(&mut self.sessions),
            files: std::mem::take(&mut self.files),
            redaction: self.opts.redaction.clone(),
            assets,
            extra: Default::default(),
        };
        let mbytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::invalid(MANIFEST, e.to_string()))?;
        let mut sums = String::new();
        for f in &manifest.files {
            sums.push_str(&format!("{}  {}\n", f.sha256, f.path));
        }
        sums.push_str(&format!(
            "{}  {}\n",
            hex::encode(Sha256::digest(&mbytes)),
            MANIFEST
        ));
        let o = self.entry_options(false);
        for (path, bytes) in [(MANIFEST, mbytes.clone()), (SHA256SUMS, sums.into_bytes())] {
            self.zip
                .start_file(path, o)
                .map_err(|e| Error::zip(path, e))?;
            self.zip.write_all(&bytes).map_err(|e| Error::io(path, e))?;
        }
        if let Some(k) = key {
            let sig = super::sign::Signature::create(k, &mbytes);
            let bytes = serde_json::to_vec_pretty(&sig)
                .map_err(|e| Error::invalid(SIGNATURE, e.to_string()))?;
            self.zip
                .start_file(SIGNATURE, o)
                .map_err(|e| Error::zip(SIGNATURE, e))?;
            self.zip
                .write_all(&bytes)
                .map_err(|e| Error::io(SIGNATURE, e))?;
        }
        let w = self.zip.finish().map_err(|e| Error::zip("package", e))?;
        Ok((w, manifest))
    }
}

/// Facts about a session besides its events.
#[derive(Debug, Clone, Default)]
pub struct SessionInfo {
    pub id: String,
    pub distinct_id: Option<String>,
    pub person: Option<serde_json::Value>,
    pub user_agent: Option<String>,
    pub source: Source,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl SessionInfo {
    pub fn of(s: &Session) -> Self {
        SessionInfo {
            id: s.id.clone(),
            distinct_id: s.distinct_id.clone(),
            person: s.person.clone(),
            user_agent: s.user_agent.clone(),
            source: s.source.clone(),
            extra: s.extra.clone(),
        }
    }
}

fn check_ids(session: &str, window: &str) -> Result<()> {
    if !valid_id(session) {
        return Err(Error::invalid(
            session,
            "session id must be 1-128 chars of [A-Za-z0-9._-] (use --session-id)",
        ));
    }
    if !valid_id(window) {
        return Err(Error::invalid(
            window,
            "window id must be 1-128 chars of [A-Za-z0-9._-]",
        ));
    }
    Ok(())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Deflate at `level`; level 0 means stored (no compression), which every reader takes.
fn entry_options(level: i64, large: bool) -> SimpleFileOptions {
    let o = SimpleFileOptions::default()
        .large_file(large)
        .unix_permissions(0o644);
    if level <= 0 {
        o.compression_method(CompressionMethod::Stored)
    } else {
        o.compression_method(CompressionMethod::Deflated)
            .compression_level(Some(level))
    }
}

/// One window's JSONL entry, compressed and counted, ready for [`PackageWriter::add_prepared`].
pub struct PreparedWindow {
    zip: Scratch,
    file: FileEntry,
    meta: WindowMeta,
    stats: StatsBuilder,
}

/// Where a prepared entry waits: memory for ordinary windows, a temporary file for large ones.
enum Scratch {
    Mem(std::io::Cursor<Vec<u8>>),
    File(std::fs::File),
}

impl std::io::Read for Scratch {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Scratch::Mem(c) => c.read(b),
            Scratch::File(f) => f.read(b),
        }
    }
}
impl Write for Scratch {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Scratch::Mem(c) => c.write(b),
            Scratch::File(f) => f.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Scratch::Mem(c) => c.flush(),
            Scratch::File(f) => f.flush(),
        }
    }
}
impl Seek for Scratch {
    fn seek(&mut self, p: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Scratch::Mem(c) => c.seek(p),
            Scratch::File(f) => f.seek(p),
        }
    }
}

/// Windows up to this size (uncompressed) are compressed in memory; larger ones go through a
/// temporary file so memory stays bounded.
const IN_MEMORY: u64 = 16 << 20;

/// Read, check (time order), count, hash and deflate one window's events into a one-entry ZIP,
/// independent of any package: several windows can be prepared at once on different threads and
/// added in order with [`PackageWriter::add_prepared`]. With `threaded`, deflate runs on a helper
/// thread while this one reads the events (bounded: at most four 1 MiB chunks in flight).
pub fn prepare_window<'e, I>(
    session: &str,
    window: &str,
    events: I,
    size_hint: u64,
    level: i64,
    threaded: bool,
) -> Result<PreparedWindow>
where
    I: IntoIterator<Item = Result<std::borrow::Cow<'e, Event>>>,
{
    // Large chunks: few hand-offs between the threads (each one may wait for a core).
    const CHUNK: usize = 1 << 20;
    check_ids(session, window)?;
    let path = window_path(session, window);
    let options = entry_options(level, size_hint >= 0xF000_0000);
    let scratch = if size_hint <= IN_MEMORY {
        Scratch::Mem(std::io::Cursor::new(Vec::with_capacity(
            (size_hint / 6) as usize + 1024,
        )))
    } else {
        Scratch::File(tempfile::tempfile().map_err(|e| Error::io("temporary file", e))?)
    };
    let name = path.as_str();
    let start = |scratch| -> Result<ZipWriter<Scratch>> {
        let mut z = ZipWriter::new(scratch);
        z.start_file(name, options)
            .map_err(|e| Error::zip(name, e))?;
        Ok(z)
    };
    let (produced, zipped) = if threaded {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        std::thread::scope(|scope| {
            let deflater = scope.spawn(move || -> Result<Scratch> {
                let mut z = start(scratch)?;
                for chunk in rx {
                    z.write_all(&chunk).map_err(|e| Error::io(name, e))?;
                }
                z.finish().map_err(|e| Error::zip(name, e))
            });
            // A closed channel means the deflater failed; its error is reported below.
            let produced = produce(name, events, CHUNK, |chunk| {
                tx.send(chunk)
                    .map_err(|_| Error::invalid(name, "compression stopped"))
            });
            drop(tx);
            let zipped = deflater
                .join()
                .unwrap_or_else(|_| Err(Error::invalid(name, "compression thread panicked")));
            (produced, zipped)
        })
    } else {
        let mut z = start(scratch)?;
        let produced = produce(name, events, CHUNK, |chunk| {
            z.write_all(&chunk).map_err(|e| Error::io(name, e))
        });
        (produced, z.finish().map_err(|e| Error::zip(name, e)))
    };
    let mut zip = zipped?;
    let (stats, hash, bytes, first_ts, last_ts, count) = produced?;
    zip.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| Error::io(&path, e))?;
    Ok(PreparedWindow {
        zip,
        file: FileEntry {
            path: path.clone(),
            bytes,
            sha256: hex::encode(hash),
            extra: Default::default(),
        },
        meta: WindowMeta {
            id: window.to_string(),
            path,
            event_count: count,
            start_time: first_ts.map(iso_ms),
            end_time: last_ts.map(iso_ms),
            extra: Default::default(),
        },
        stats,
    })
}

type Produced = (
    StatsBuilder,
    sha2::digest::Output<Sha256>,
    u64,
    Option<i64>,
    Option<i64>,
    u64,
);

/// The events as JSONL chunks handed to `sink`, checked for time order, counted and hashed.
fn produce<'e, I>(
    name: &str,
    events: I,
    chunk: usize,
    mut sink: impl FnMut(Vec<u8>) -> Result<()>,
) -> Result<Produced>
where
    I: IntoIterator<Item = Result<std::borrow::Cow<'e, Event>>>,
{
    let mut stats = StatsBuilder::default();
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = Vec::with_capacity(chunk + 4096);
    let mut last = i64::MIN;
    let (mut first_ts, mut last_ts, mut count) = (None, None, 0u64);
    let mut send = |buf: &mut Vec<u8>| -> Result<()> {
        hash.update(&buf[..]);
        bytes += buf.len() as u64;
        sink(std::mem::replace(buf, Vec::with_capacity(chunk + 4096)))
    };
    for e in events {
        let e = e?;
        if e.timestamp < last {
            return Err(Error::invalid(
                name,
                "events are not in time order (sort them first)",
            ));
        }
        last = e.timestamp;
        first_ts.get_or_insert(e.timestamp);
        last_ts = Some(e.timestamp);
        count += 1;
        stats.observe(&e);
        buf.extend_from_slice(e.json().as_bytes());
        buf.push(b'\n');
        if buf.len() >= chunk {
            send(&mut buf)?;
        }
    }
    if !buf.is_empty() {
        send(&mut buf)?;
    }
    Ok((stats, hash.finalize(), bytes, first_ts, last_ts, count))
}
