//! Reading and verifying packages. Every entry is read through caps (size, ratio, total) so a zip
//! bomb fails cleanly; every byte is hashed and compared with the manifest.
//!
//! Whatever a reader does with one open package (verify, read sessions, inspect metadata), all the
//! bytes it inflates count against one budget derived from the package's real size on disk
//! ([`expansion_budget`]), counted while inflating: ZIP headers are never trusted for it. Archives
//! with two entries of one name, or entries sharing or overlapping their data (many entries
//! pointing at one compressed stream), are refused when opened.
use super::manifest::{major, Manifest, SessionMeta, FORMAT, SUPPORTED_MAJOR};
use super::sign::Signature;
use super::{MANIFEST, SHA256SUMS, SIGNATURE};
use crate::recording::{Recording, Session};
use crate::{cv, Error, Event, Limits, Result};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::rc::Rc;
use zip::ZipArchive;

pub struct PackageReader<R: Read + Seek> {
    zip: ZipArchive<R>,
    pub manifest: Manifest,
    manifest_bytes: Vec<u8>,
    limits: Limits,
    /// The package's size in bytes (the reader's length, not anything the ZIP claims).
    size: u64,
    /// Bytes this reader may inflate in all ([`expansion_budget`] of `size`).
    budget: u64,
    /// Bytes inflated so far, over every entry read (a second read of an entry counts again).
    expanded: Rc<Cell<u64>>,
}

/// How many bytes a package of `size` bytes may expand to, all entries together:
/// `max_ratio × size + ratio_floor_bytes` (the allowance lets tiny packages hold small, very
/// compressible files), never more than `max_total_bytes`.
pub fn expansion_budget(size: u64, limits: &Limits) -> u64 {
    size.saturating_mul(limits.max_ratio)
        .saturating_add(limits.ratio_floor_bytes)
        .min(limits.max_total_bytes)
}

/// Why a package is refused when it inflates (or declares it would) past its budget; `entry` is
/// the entry being read (or the largest one).
pub(crate) fn budget_message(entry: &str, size: u64, budget: u64, limits: &Limits) -> String {
    format!(
        "{entry}: the package inflates to more than {budget} bytes, more than a compression ratio of {}:1 allows for its {size} bytes (plus {} bytes) (zip bomb?); raise it with --max-ratio",
        limits.max_ratio, limits.ratio_floor_bytes
    )
}

pub(crate) fn budget_error(entry: &str, size: u64, budget: u64, limits: &Limits) -> Error {
    Error::invalid("package", budget_message(entry, size, budget, limits))
}

/// What `verify` checked.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    pub entries: u64,
    pub bytes: u64,
    pub sessions: u64,
    pub events: u64,
    /// `None`: unsigned; `Some(hex public key)`: signature valid for that key.
    pub signed_by: Option<String>,
    /// URLs in the manifest's `assets` map (format 1.2).
    pub assets: u64,
    pub warnings: Vec<String>,
}

impl<R: Read + Seek> PackageReader<R> {
    /// Open a package: check the archive's structure (entry count, no duplicate names, no
    /// entries sharing data, declared sizes within the budget), read and check the manifest
    /// (format, major version, ids, no path listed twice).
    pub fn open(mut r: R, limits: Limits) -> Result<Self> {
        let size = r
            .seek(SeekFrom::End(0))
            .and_then(|n| r.seek(SeekFrom::Start(0)).map(|_| n))
            .map_err(|e| Error::zip("package", e))?;
        let budget = expansion_budget(size, &limits);
        let mut zip = ZipArchive::new(r).map_err(|e| Error::zip("package", e))?;
        if zip.len() as u64 > limits.max_entries {
            return Err(Error::Limit {
                context: "package".into(),
                what: format!("{} entries", zip.len()),
                limit: limits.max_entries,
                hint: "--max-entries",
            });
        }
        check_structure(&mut zip, size, budget, &limits)?;
        let expanded = Rc::new(Cell::new(0u64));
        let manifest_bytes = {
            let f = zip.by_name(MANIFEST).map_err(|_| {
                Error::invalid("package", "missing manifest.json: not a Reel package")
            })?;
            let compressed = f.compressed_size();
            let mut c = Capped {
                inner: f,
                name: MANIFEST.to_string(),
                read: 0,
                cap: limits.max_entry_bytes.min(64 << 20),
                compressed,
                limits,
                expanded: expanded.clone(),
                budget,
                size,
            };
            let mut v = Vec::new();
            c.read_to_end(&mut v).map_err(|e| io_err(MANIFEST, e))?;
            v
        };
        let manifest = parse_manifest(&manifest_bytes)?;
        check_manifest(&manifest)?;
        Ok(PackageReader {
            zip,
            manifest,
            manifest_bytes,
            limits,
            size,
            budget,
            expanded,
        })
    }

    /// Bytes inflated so far by this reader, and the most it may inflate.
    pub fn expanded(&self) -> (u64, u64) {
        (self.expanded.get(), self.budget)
    }

    /// The package's size in bytes (what the budget is derived from).
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// Names of all entries in the archive.
    pub fn entry_names(&self) -> Result<Vec<String>> {
        self.zip
            .file_names()
            .map(|n| {
                n.map(|n| n.into_owned())
                    .map_err(|e| Error::zip("package", e))
            })
            .collect()
    }

    fn entry_reader(&mut self, name: &str) -> Result<(Box<dyn Read + '_>, u64)> {
        let limits = self.limits;
        let f = self
            .zip
            .by_name(name)
            .map_err(|_| Error::invalid(name, "listed in the manifest but missing from the ZIP"))?;
        if !matches!(
            f.compression(),
            zip::CompressionMethod::Stored | zip::CompressionMethod::Deflated
        ) {
            return Err(Error::invalid(
                name,
                format!(
                    "compression {:?} is not allowed (deflate only)",
                    f.compression()
                ),
            ));
        }
        let compressed = f.compressed_size();
        Ok((
            Box::new(Capped {
                inner: f,
                name: name.to_string(),
                read: 0,
                cap: limits.max_entry_bytes,
                compressed,
                limits,
                expanded: self.expanded.clone(),
                budget: self.budget,
                size: self.size,
            }),
            compressed,
        ))
    }

    /// Read a whole (small) entry, capped.
    pub fn read_entry(&mut self, name: &str) -> Result<Vec<u8>> {
        let (mut r, _) = self.entry_reader(name)?;
        let mut v = Vec::new();
        r.read_to_end(&mut v).map_err(|e| io_err(name, e))?;
        Ok(v)
    }

    /// A session's comments (format 1.3: `sessions/<id>/comments.json`, checksum compared with
    /// the manifest's and checked by [`super::comments::parse`]); empty when the package has none.
    pub fn comments(&mut self, id: &str) -> Result<Vec<super::comments::Comment>> {
        let path = super::comments::comments_path(id);
        let Some(f) = self.manifest.files.iter().find(|f| f.path == path).cloned() else {
            return Ok(Vec::new());
        };
        if f.bytes > super::comments::MAX_ENTRY_BYTES as u64 {
            return Err(Error::invalid(&path, "too large for a comments entry"));
        }
        let bytes = self.read_entry(&path)?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != f.sha256 {
            return Err(Error::Checksum {
                entry: path,
                expected: f.sha256,
                actual,
            });
        }
        Ok(super::comments::parse(&path, id, &bytes)?.comments)
    }

    /// A session's `meta.json`, checked: its id is the manifest's, window ids are valid and
    /// unique, and every window's file is one the manifest lists for this session.
    pub fn session_meta(&mut self, id: &str) -> Result<SessionMeta> {
        let s = self
            .manifest
            .sessions
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::invalid(id, "no such session in the package"))?;
        let path = s.meta.clone();
        let listed: HashSet<String> = s.windows.iter().cloned().collect();
        let bytes = self.read_entry(&path)?;
        let meta: SessionMeta =
            serde_json::from_slice(&bytes).map_err(|e| Error::json(&path, &e, 0))?;
        check_meta(&path, id, &meta, &listed)?;
        Ok(meta)
    }

    /// Stream the events of one window entry, calling `f` for each.
    pub fn for_each_event(&mut self, path: &str, f: impl FnMut(Event) -> Result<()>) -> Result<()> {
        self.stream_events(path, None, f)
    }

    /// [`Self::for_each_event`], then the entry's SHA-256 against the manifest's (after the last
    /// event: a caller keeps nothing from a window that fails, or drops all it made).
    pub fn for_each_event_checked(
        &mut self,
        path: &str,
        f: impl FnMut(Event) -> Result<()>,
    ) -> Result<()> {
        let sum = self
            .manifest
            .files
            .iter()
            .find(|x| x.path == path)
            .map(|x| x.sha256.clone())
            .ok_or_else(|| Error::invalid(path, "window file is not listed in manifest files"))?;
        self.stream_events(path, Some(&sum), f)
    }

    /// [`Self::for_each_event`], also checking the entry's SHA-256 against `sha256` when given
    /// (after the last event: callers keep nothing from a window that fails).
    fn stream_events(
        &mut self,
        path: &str,
        sha256: Option<&str>,
        mut f: impl FnMut(Event) -> Result<()>,
    ) -> Result<()> {
        let limits = self.limits;
        let (expanded, budget, size) = (self.expanded.clone(), self.budget, self.size);
        let (r, _) = self.entry_reader(path)?;
        let bytes = Cell::new(0u64);
        let mut hr = HashingReader {
            inner: r,
            hash: Sha256::new(),
            bytes: &bytes,
        };
        {
            let mut br = BufReader::with_capacity(256 << 10, &mut hr);
            let mut line = String::new();
            let mut n = 0usize;
            loop {
                line.clear();
                let got = br.read_line(&mut line).map_err(|e| io_err(path, e))?;
                if got == 0 {
                    break;
                }
                n += 1;
                let text = line.trim_end_matches(['\n', '\r']);
                if text.is_empty() {
                    continue;
                }
                let e = Event::parse(text)
                    .map_err(|e| Error::invalid(format!("{path}: line {n}"), e.to_string()))?;
                let e = if e.packed {
                    // `cv` fields inflate too: within what is left of the budget.
                    let mut l = limits;
                    l.max_entry_bytes =
                        l.max_entry_bytes.min(budget.saturating_sub(expanded.get()));
                    let e = cv::unpack(e, &l).map_err(|e| match e {
                        Error::Limit { .. } if l.max_entry_bytes < limits.max_entry_bytes => {
                            budget_error(path, size, budget, &limits)
                        }
                        e => Error::invalid(format!("{path}: line {n}"), e.to_string()),
                    })?;
                    let total = expanded.get().saturating_add(e.json().len() as u64);
                    expanded.set(total);
                    if total > budget {
                        return Err(budget_error(path, size, budget, &limits));
                    }
                    e
                } else {
                    e
                };
                f(e)?;
            }
        }
        if let Some(expected) = sha256 {
            let actual = hex::encode(hr.hash.finalize());
            if actual != expected {
                return Err(Error::Checksum {
                    entry: path.to_string(),
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Load one session fully into memory.
    pub fn read_session(&mut self, id: &str) -> Result<Session> {
        self.read_session_checked(id, None)
    }

    /// [`Self::read_session`], checking each window's SHA-256 against `sums` (path → hex) while
    /// reading it (each window is inflated once).
    fn read_session_checked(
        &mut self,
        id: &str,
        sums: Option<&BTreeMap<String, String>>,
    ) -> Result<Session> {
        let meta = self.session_meta(id)?;
        let mut s = Session::new(meta.id.clone());
        s.distinct_id = meta.distinct_id.clone();
        s.person = meta.person.clone();
        s.source = meta.source.clone();
        s.user_agent = meta.user_agent.clone();
        s.extra = meta.extra.clone();
        for w in &meta.windows {
            let mut evs = Vec::new();
            let sum = match sums {
                Some(sums) => Some(sums.get(&w.path).map(String::as_str).ok_or_else(|| {
                    Error::invalid(&w.path, "window file is not listed in manifest files")
                })?),
                None => None,
            };
            self.stream_events(&w.path, sum, |e| {
                evs.push(e);
                Ok(())
            })?;
            s.window_mut(&w.id).events = evs;
        }
        Ok(s)
    }

    /// Check everything: structure, every checksum, every event line, SHA256SUMS and the signature.
    /// `key`: require a valid signature by this public key. `progress` gets bytes read so far.
    pub fn verify(
        &mut self,
        key: Option<&ed25519_dalek::VerifyingKey>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            sessions: self.manifest.sessions.len() as u64,
            ..Default::default()
        };
        // Structure: every archive entry is listed or is one of the three control files.
        let listed: HashSet<String> = self.manifest.files.iter().map(|f| f.path.clone()).collect();
        for name in self.entry_names()? {
            if name.ends_with('/') {
                continue;
            }
            super::unpack::check_entry_path(&name)?;
            if !listed.contains(&name)
                && ![MANIFEST, SHA256SUMS, SIGNATURE].contains(&name.as_str())
            {
                return Err(Error::invalid(name, "entry is not listed in manifest.json"));
            }
        }
        let window_paths: HashSet<String> = self
            .manifest
            .sessions
            .iter()
            .flat_map(|s| s.windows.iter().cloned())
            .collect();
        for s in &self.manifest.sessions {
            if !listed.contains(&s.meta) {
                return Err(Error::invalid(
                    &s.meta,
                    "session meta is not listed in manifest files",
                ));
            }
        }
        let files = self.manifest.files.clone();
        let mut total = 0u64;
        for f in &files {
            super::unpack::check_entry_path(&f.path)?;
            let is_window = window_paths.contains(&f.path);
            let done = Cell::new(0u64);
            let mut meta_bytes = Vec::new();
            let limits_total = self.limits.max_total_bytes;
            let actual = {
                let (r, _) = self.entry_reader(&f.path)?;
                let mut hr = HashingReader {
                    inner: r,
                    hash: Sha256::new(),
                    bytes: &done,
                };
                if is_window {
                    let mut br = BufReader::with_capacity(256 << 10, &mut hr);
                    let mut line = Vec::new();
                    let (mut n, mut last) = (0usize, i64::MIN);
                    loop {
                        line.clear();
                        if br
                            .read_until(b'\n', &mut line)
                            .map_err(|e| io_err(&f.path, e))?
                            == 0
                        {
                            break;
                        }
                        n += 1;
                        let text = std::str::from_utf8(&line).map_err(|_| {
                            Error::invalid(format!("{}: line {n}", f.path), "not UTF-8")
                        })?;
                        let text = text.trim_end_matches(['\n', '\r']);
                        let e = Event::parse(text).map_err(|e| {
                            Error::invalid(format!("{}: line {n}", f.path), e.to_string())
                        })?;
                        if e.timestamp < last {
                            return Err(Error::invalid(
                                format!("{}: line {n}", f.path),
                                "events out of time order",
                            ));
                        }
                        if e.packed {
                            report.warnings.push(format!(
                                "{}: line {n}: event still carries cv packing",
                                f.path
                            ));
                        }
                        last = e.timestamp;
                        report.events += 1;
                        if report.events.is_multiple_of(4096) {
                            progress(total + done.get());
                        }
                    }
                } else if f.path.ends_with("/meta.json") || f.path.ends_with("/comments.json") {
                    hr.read_to_end(&mut meta_bytes)
                        .map_err(|e| io_err(&f.path, e))?;
                } else {
                    std::io::copy(&mut hr, &mut std::io::sink()).map_err(|e| io_err(&f.path, e))?;
                }
                hex::encode(hr.hash.finalize())
            };
            let got = done.get();
            if actual != f.sha256 {
                return Err(Error::Checksum {
                    entry: f.path.clone(),
                    expected: f.sha256.clone(),
                    actual,
                });
            }
            if got != f.bytes {
                return Err(Error::invalid(
                    &f.path,
                    format!("size {got} differs from the manifest's {}", f.bytes),
                ));
            }
            total += got;
            if total > limits_total {
                return Err(Error::Limit {
                    context: "package".into(),
                    what: "total decompressed size".into(),
                    limit: limits_total,
                    hint: "--max-bytes",
                });
            }
            report.entries += 1;
            progress(total);
            if let Some(s) = self
                .manifest
                .sessions
                .iter()
                .find(|s| f.path == super::comments::comments_path(&s.id))
            {
                super::comments::parse(&f.path, &s.id, &meta_bytes)?;
            }
            if f.path.ends_with("/meta.json") {
                let meta = serde_json::from_slice::<SessionMeta>(&meta_bytes)
                    .map_err(|e| Error::json(&f.path, &e, 0))?;
                if let Some(s) = self.manifest.sessions.iter().find(|s| s.meta == f.path) {
                    let listed: HashSet<String> = s.windows.iter().cloned().collect();
                    check_meta(&f.path, &s.id, &meta, &listed)?;
                }
            }
        }
        report.bytes = total;
        self.check_assets(&files, &mut report)?;
        self.check_sums(&files)?;
        report.signed_by = self.check_signature(key)?;
        Ok(report)
    }

    /// Format 1.2: each `assets/sha256/<hex>` entry is named by its bytes' hash (already compared
    /// with the manifest's), and each URL of the `assets` map points at such an entry of its size.
    fn check_assets(&self, files: &[super::FileEntry], report: &mut VerifyReport) -> Result<()> {
        let mut used = HashSet::new();
        for (url, a) in &self.manifest.assets {
            let path = super::asset_path(&a.sha256);
            let Some(f) = files.iter().find(|f| f.path == path) else {
                return Err(Error::invalid(
                    MANIFEST,
                    format!("asset {url:?}: {path} is not in the package"),
                ));
            };
            if f.bytes != a.size {
                return Err(Error::invalid(
                    MANIFEST,
                    format!(
                        "asset {url:?}: size {} differs from {path}'s {}",
                        a.size, f.bytes
                    ),
                ));
            }
            used.insert(path);
        }
        for f in files {
            if let Some(name) = f.path.strip_prefix(super::ASSETS_DIR) {
                if name != f.sha256 {
                    return Err(Error::Checksum {
                        entry: f.path.clone(),
                        expected: name.to_string(),
                        actual: f.sha256.clone(),
                    });
                }
                if !used.contains(&f.path) {
                    report
                        .warnings
                        .push(format!("{}: no URL of the assets map uses it", f.path));
                }
            }
        }
        report.assets = self.manifest.assets.len() as u64;
        Ok(())
    }

    /// An asset's bytes (format 1.2) by URL, checked against its hash; `None` when the package
    /// does not hold that URL.
    pub fn read_asset(&mut self, url: &str) -> Result<Option<(super::AssetEntry, Vec<u8>)>> {
        let Some(a) = self.manifest.assets.get(url).cloned() else {
            return Ok(None);
        };
        let path = super::asset_path(&a.sha256);
        let bytes = self.read_entry(&path)?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != a.sha256 {
            return Err(Error::Checksum {
                entry: path,
                expected: a.sha256,
                actual,
            });
        }
        Ok(Some((a, bytes)))
    }

    fn check_sums(&mut self, files: &[super::FileEntry]) -> Result<()> {
        if !self.entry_names()?.iter().any(|n| n == SHA256SUMS) {
            return Err(Error::invalid(SHA256SUMS, "missing"));
        }
        // A damaged entry reports its own error (not "missing").
        let sums = self.read_entry(SHA256SUMS)?;
        let text = String::from_utf8(sums).map_err(|_| Error::invalid(SHA256SUMS, "not UTF-8"))?;
        let mut listed: BTreeMap<String, String> = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let (h, p) = line.split_once("  ").ok_or_else(|| {
                Error::invalid(
                    SHA256SUMS,
                    format!("line {}: expected '<sha256>  <path>'", i + 1),
                )
            })?;
            listed.insert(p.to_string(), h.to_string());
        }
        for f in files {
            match listed.get(&f.path) {
                Some(h) if *h == f.sha256 => {}
                Some(_) => {
                    return Err(Error::invalid(
                        SHA256SUMS,
                        format!("{} has a different hash than in manifest.json", f.path),
                    ))
                }
                None => {
                    return Err(Error::invalid(
                        SHA256SUMS,
                        format!("{} is not listed", f.path),
                    ))
                }
            }
        }
        let mh = hex::encode(Sha256::digest(&self.manifest_bytes));
        match listed.get(MANIFEST) {
            Some(h) if *h == mh => Ok(()),
            Some(h) => Err(Error::Checksum {
                entry: MANIFEST.into(),
                expected: h.clone(),
                actual: mh,
            }),
            None => Err(Error::invalid(SHA256SUMS, "manifest.json is not listed")),
        }
    }

    fn check_signature(
        &mut self,
        key: Option<&ed25519_dalek::VerifyingKey>,
    ) -> Result<Option<String>> {
        let present = self.entry_names()?.iter().any(|n| n == SIGNATURE);
        if !present {
            return match key {
                Some(_) => Err(Error::Signature {
                    context: "package".into(),
                    message: "a key was given but the package is not signed".into(),
                }),
                None => Ok(None),
            };
        }
        let bytes = self.read_entry(SIGNATURE)?;
        let sig: Signature =
            serde_json::from_slice(&bytes).map_err(|e| Error::json(SIGNATURE, &e, 0))?;
        let by = sig.verify(&self.manifest_bytes)?;
        if let Some(k) = key {
            if k.as_bytes() != by.as_bytes() {
                return Err(Error::Signature {
                    context: SIGNATURE.into(),
                    message: "signed by a different key than the one given".into(),
                });
            }
        }
        Ok(Some(hex::encode(by.as_bytes())))
    }
}

struct HashingReader<'c, R: Read> {
    inner: R,
    hash: Sha256,
    bytes: &'c Cell<u64>,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes.set(self.bytes.get() + n as u64);
        Ok(n)
    }
}

/// Enforces the per-entry size cap, the compression-ratio cap and the reader's total budget
/// while decompressing.
struct Capped<R: Read> {
    inner: R,
    name: String,
    read: u64,
    cap: u64,
    compressed: u64,
    limits: Limits,
    expanded: Rc<Cell<u64>>,
    budget: u64,
    size: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let total = self.expanded.get().saturating_add(n as u64);
        self.expanded.set(total);
        if self.read > self.cap {
            return Err(std::io::Error::other(format!("{}: decompressed size exceeds the limit of {} bytes (zip bomb?); raise it with --max-bytes", self.name, self.cap)));
        }
        if self.read > self.limits.ratio_floor_bytes
            && self.read > self.compressed.max(1).saturating_mul(self.limits.max_ratio)
        {
            return Err(std::io::Error::other(format!(
                "{}: compression ratio above {}:1 (zip bomb?); raise it with --max-ratio",
                self.name, self.limits.max_ratio
            )));
        }
        if total > self.budget {
            return Err(std::io::Error::other(budget_message(
                &self.name,
                self.size,
                self.budget,
                &self.limits,
            )));
        }
        Ok(n)
    }
}

/// Refuse archives built to multiply their data: two entries with one name (readers disagree on
/// which one counts), entries whose bytes share or overlap (one compressed stream listed under
/// many names), and declared sizes past the budget (a cheap early refusal; the budget is also
/// enforced while inflating, since headers can lie).
fn check_structure<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    size: u64,
    budget: u64,
    limits: &Limits,
) -> Result<()> {
    if zip.has_duplicate_names() {
        return Err(Error::invalid(
            "package",
            "two ZIP entries have the same name; a package holds each file once (damaged or tampered with)",
        ));
    }
    match zip.has_overlapping_entries() {
        Ok(false) => {}
        Ok(true) => {
            return Err(Error::invalid(
                "package",
                "ZIP entries share or overlap their data (one compressed stream listed under several names: a zip bomb); refusing to read it",
            ))
        }
        Err(e) => return Err(Error::zip("package", e)),
    }
    let (mut declared, mut largest) = (0u64, (0u64, String::new()));
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| Error::zip("package", e))?;
        declared = declared.saturating_add(f.size());
        if f.size() >= largest.0 {
            largest = (
                f.size(),
                f.name().map(|n| n.into_owned()).unwrap_or_default(),
            );
        }
    }
    if declared > budget {
        return Err(budget_error(&largest.1, size, budget, limits));
    }
    Ok(())
}

/// Manifest ids and paths: session ids valid and unique, no path listed twice (as a file, a
/// session's meta or a window — two windows sharing one file would multiply it).
fn check_manifest(m: &Manifest) -> Result<()> {
    let mut ids = HashSet::new();
    let mut windows = HashSet::new();
    for (i, s) in m.sessions.iter().enumerate() {
        super::check_id(&format!("{MANIFEST}: sessions[{i}].id"), &s.id)?;
        if !ids.insert(s.id.as_str()) {
            return Err(Error::invalid(
                MANIFEST,
                format!("session {} is listed twice", super::shown_id(&s.id)),
            ));
        }
        for w in &s.windows {
            super::unpack::check_entry_path(w)?;
            if !windows.insert(w.as_str()) || *w == s.meta {
                return Err(Error::invalid(
                    MANIFEST,
                    format!("window file {w:?} is listed twice; each window has its own file"),
                ));
            }
        }
    }
    for (url, a) in &m.assets {
        let hex_ok = a.sha256.len() == 64
            && a.sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok {
            return Err(Error::invalid(
                MANIFEST,
                format!("asset {url:?}: sha256 is not 64 lowercase hex digits"),
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::invalid(
                MANIFEST,
                format!("asset {url:?}: not an absolute http(s) URL"),
            ));
        }
    }
    let mut files = HashSet::new();
    for f in &m.files {
        if !files.insert(f.path.as_str()) {
            return Err(Error::invalid(
                MANIFEST,
                format!("file {:?} is listed twice", f.path),
            ));
        }
    }
    Ok(())
}

/// A session's `meta.json` against the manifest: same session id, valid and unique window ids,
/// each window's file one of those the manifest lists for the session, none used twice.
pub(crate) fn check_meta(
    path: &str,
    id: &str,
    meta: &SessionMeta,
    listed: &HashSet<String>,
) -> Result<()> {
    super::check_id(&format!("{path}: id"), &meta.id)?;
    if meta.id != id {
        return Err(Error::invalid(
            path,
            format!(
                "id {} differs from the manifest's {}",
                super::shown_id(&meta.id),
                super::shown_id(id)
            ),
        ));
    }
    let mut ids = HashSet::new();
    let mut paths = HashSet::new();
    for (i, w) in meta.windows.iter().enumerate() {
        super::check_id(&format!("{path}: windows[{i}].id"), &w.id)?;
        if !ids.insert(w.id.as_str()) {
            return Err(Error::invalid(
                path,
                format!("window {} is listed twice", super::shown_id(&w.id)),
            ));
        }
        if !listed.contains(&w.path) {
            return Err(Error::invalid(
                path,
                format!(
                    "windows[{i}].path {:?} is not one of this session's windows in manifest.json",
                    w.path
                ),
            ));
        }
        if !paths.insert(w.path.as_str()) {
            return Err(Error::invalid(
                path,
                format!("window file {:?} is used by two windows", w.path),
            ));
        }
    }
    Ok(())
}

fn io_err(name: &str, e: std::io::Error) -> Error {
    let msg = e.to_string();
    if msg.contains("zip bomb") {
        Error::invalid("package", msg)
    } else {
        Error::zip(name, e)
    }
}

pub(crate) fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::json(MANIFEST, &e, 0))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Error::invalid(
            MANIFEST,
            "\"format\" is not \"reel\": not a Reel package",
        ));
    }
    let ver = v
        .get("format_version")
        .and_then(|f| f.as_str())
        .unwrap_or("");
    match major(ver) {
        Some(m) if m <= SUPPORTED_MAJOR => {}
        Some(_) => {
            return Err(Error::Version {
                context: MANIFEST.into(),
                found: ver.into(),
                supported: format!("{SUPPORTED_MAJOR}.x"),
            })
        }
        None => {
            return Err(Error::invalid(
                MANIFEST,
                format!("format_version {ver:?} is not MAJOR.MINOR"),
            ))
        }
    }
    serde_json::from_value(v).map_err(|e| Error::invalid(MANIFEST, e.to_string()))
}

/// Read a whole package into memory as a [`Recording`], checking each window's checksum while
/// inflating it (once).
pub fn read_recording<R: Read + Seek>(r: R, limits: &Limits) -> Result<Recording> {
    let mut p = PackageReader::open(r, *limits)?;
    let sums: BTreeMap<String, String> = p
        .manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let mut rec = Recording::default();
    let ids: Vec<String> = p.manifest.sessions.iter().map(|s| s.id.clone()).collect();
    for id in ids {
        rec.sessions.push(p.read_session_checked(&id, Some(&sums))?);
    }
    Ok(rec)
}

impl<R: Read + Seek> PackageReader<R> {
    /// Give back the underlying reader.
    pub fn into_inner(self) -> R {
        self.zip.into_inner()
    }
}
