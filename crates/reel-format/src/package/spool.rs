//! Packing many inputs with flat memory: events are appended to one temporary file per window as
//! inputs are imported (sessions may span inputs: PostHog sends a session in many bodies), then
//! each window is streamed into the package in time order. Memory holds 16 bytes per event.
use super::writer::{PackageWriter, SessionInfo};
use crate::event::Header;
use crate::recording::Recording;
use crate::stats::StatsBuilder;
use crate::{Error, Event, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

struct SpoolWindow {
    id: String,
    /// The window's temporary file. Opened only while writing or reading it: memory and file
    /// descriptors stay flat however many windows the inputs hold.
    path: std::path::PathBuf,
    /// (offset, length, header) of each event line in `path`: the header is kept so events are
    /// not parsed a second time on their way into the package.
    index: Vec<(u64, u32, Header)>,
    bytes: u64,
    sorted: bool,
}

struct SpoolSession {
    info: SessionInfo,
    windows: Vec<SpoolWindow>,
}

/// What [`Spool::write_filtered`] does to sessions and events on their way into the package.
pub trait SpoolFilter {
    /// A session's facts (distinct id, person, …) before its windows are written.
    fn session(&mut self, _info: &mut SessionInfo) -> Result<()> {
        Ok(())
    }
    /// A window starts (its events follow, in time order).
    fn window(&mut self, _session: &str, _window: &str) -> Result<()> {
        Ok(())
    }
    /// One event; `None` leaves it out.
    fn event(&mut self, e: Event) -> Result<Option<Event>>;
}

struct NoFilter;
impl SpoolFilter for NoFilter {
    fn event(&mut self, e: Event) -> Result<Option<Event>> {
        Ok(Some(e))
    }
}

/// Collects recordings on disk; see the module docs.
pub struct Spool {
    dir: tempfile::TempDir,
    sessions: Vec<SpoolSession>,
    files: usize,
    /// Total bytes of event JSON collected.
    pub bytes: u64,
    pub events: u64,
}

impl Spool {
    /// A spool in the system temp folder (or `$TMPDIR`).
    pub fn new() -> Result<Spool> {
        let dir = tempfile::Builder::new()
            .prefix("reel-spool-")
            .tempdir()
            .map_err(|e| Error::io("temp folder", e))?;
        Ok(Spool {
            dir,
            sessions: Vec::new(),
            files: 0,
            bytes: 0,
            events: 0,
        })
    }

    pub fn session_ids(&self) -> Vec<String> {
        self.sessions.iter().map(|s| s.info.id.clone()).collect()
    }

    /// Append every session of `rec`, merging with sessions and windows already collected.
    pub fn add(&mut self, rec: Recording) -> Result<()> {
        for s in rec.sessions {
            let idx = match self.sessions.iter().position(|x| x.info.id == s.id) {
                Some(i) => i,
                None => {
                    self.sessions.push(SpoolSession {
                        info: SessionInfo::of(&s),
                        windows: Vec::new(),
                    });
                    self.sessions.len() - 1
                }
            };
            {
                let info = &mut self.sessions[idx].info;
                info.distinct_id = info.distinct_id.take().or(s.distinct_id.clone());
                info.person = info.person.take().or(s.person.clone());
                info.user_agent = info.user_agent.take().or(s.user_agent.clone());
            }
            for w in s.windows {
                let widx = match self.sessions[idx].windows.iter().position(|x| x.id == w.id) {
                    Some(i) => i,
                    None => {
                        self.files += 1;
                        let path = self.dir.path().join(format!("{}.jsonl", self.files));
                        File::options()
                            .create_new(true)
                            .write(true)
                            .open(&path)
                            .map_err(|e| Error::io(&path, e))?;
                        self.sessions[idx].windows.push(SpoolWindow {
                            id: w.id.clone(),
                            path,
                            index: Vec::new(),
                            bytes: 0,
                            sorted: true,
                        });
                        self.sessions[idx].windows.len() - 1
                    }
                };
                let sw = &mut self.sessions[idx].windows[widx];
                let f = File::options()
                    .append(true)
                    .open(&sw.path)
                    .map_err(|e| Error::io(&sw.path, e))?;
                let mut file = BufWriter::with_capacity(256 << 10, f);
                for e in w.events {
                    let text = e.json();
                    if sw.index.last().is_some_and(|l| l.2.timestamp > e.timestamp) {
                        sw.sorted = false;
                    }
                    sw.index.push((sw.bytes, text.len() as u32, e.header()));
                    file.write_all(text.as_bytes())
                        .map_err(|er| Error::io("spool", er))?;
                    sw.bytes += text.len() as u64;
                    self.bytes += text.len() as u64;
                    self.events += 1;
                }
                file.flush().map_err(|er| Error::io("spool", er))?;
            }
        }
        Ok(())
    }

    /// Rename every session to `id` (merging them) — for `--session-id`.
    pub fn rename_all(&mut self, id: &str) {
        let mut all = std::mem::take(&mut self.sessions);
        if all.is_empty() {
            return;
        }
        let mut first = all.remove(0);
        first.info.id = id.to_string();
        for s in all {
            for w in s.windows {
                match first.windows.iter().position(|x| x.id == w.id) {
                    // Same window id in two sessions: keep both apart by suffixing.
                    Some(_) => {
                        let mut w = w;
                        w.id = format!("{}-{}", w.id, first.windows.len() + 1);
                        first.windows.push(w);
                    }
                    None => first.windows.push(w),
                }
            }
        }
        self.sessions.push(first);
    }

    /// Set the person of every session — for `--person`.
    pub fn set_person(&mut self, distinct_id: &str) {
        for s in &mut self.sessions {
            s.info.distinct_id = Some(distinct_id.to_string());
        }
    }

    /// Stream everything into `w`. `progress` gets bytes of events written so far.
    /// Returns how many windows had to be re-ordered.
    pub fn write_into<W: Write + Seek>(
        self,
        w: &mut PackageWriter<W>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<usize> {
        self.write_filtered(w, progress, &mut NoFilter)
    }

    /// [`Self::write_into`], passing every session's facts and every event (per window, in time
    /// order) through `filter` on the way (used by redaction).
    pub fn write_filtered<W: Write + Seek>(
        self,
        w: &mut PackageWriter<W>,
        progress: &mut dyn FnMut(u64),
        filter: &mut dyn SpoolFilter,
    ) -> Result<usize> {
        let mut done = 0u64;
        let mut reordered = 0;
        for mut s in self.sessions {
            filter.session(&mut s.info)?;
            let mut metas = Vec::new();
            let mut stats = StatsBuilder::default();
            for mut sw in s.windows {
                filter.window(&s.info.id, &sw.id)?;
                let mut f = File::open(&sw.path).map_err(|e| Error::io(&sw.path, e))?;
                if !sw.sorted {
                    reordered += 1;
                    sw.index.sort_by_key(|x| x.2.timestamp);
                }
                f.seek(SeekFrom::Start(0))
                    .map_err(|e| Error::io("spool", e))?;
                let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
                let sorted = sw.sorted;
                let mut buf = Vec::new();
                let mut pos = 0u64;
                let index = sw.index;
                let total = sw.bytes;
                let events = index
                    .into_iter()
                    .map(|(off, len, head)| -> Result<Option<Cow<'static, Event>>> {
                        if !sorted || off != pos {
                            reader
                                .seek(SeekFrom::Start(off))
                                .map_err(|e| Error::io("spool", e))?;
                        }
                        buf.resize(len as usize, 0);
                        reader
                            .read_exact(&mut buf)
                            .map_err(|e| Error::io("spool", e))?;
                        pos = off + len as u64;
                        done += len as u64;
                        if done % (4 << 20) < len as u64 {
                            progress(done);
                        }
                        let text = String::from_utf8(std::mem::take(&mut buf))
                            .map_err(|_| Error::invalid("spool", "not UTF-8"))?;
                        Ok(filter
                            .event(Event::from_header(head, text))?
                            .map(Cow::Owned))
                    })
                    .filter_map(|r| r.transpose());
                let (m, st) = w.write_window(&s.info.id, &sw.id, events, total)?;
                metas.push(m);
                stats.merge(st);
            }
            w.finish_session(s.info, metas, stats)?;
        }
        progress(done);
        Ok(reordered)
    }
}
