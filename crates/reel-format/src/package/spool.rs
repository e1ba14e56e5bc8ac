//! Packing many inputs with flat memory: events are appended to one temporary file per window as
//! inputs are imported (sessions may span inputs: PostHog sends a session in many bodies), then
//! each window is streamed into the package in time order. Memory does not grow with the number of
//! events: a window's file holds length-prefixed records (the event's header in binary, so events
//! are not parsed again, then its JSON text); only a window that arrived out of order is indexed,
//! when it is written, one window at a time.
use super::writer::{prepare_window, PackageWriter, PreparedWindow, SessionInfo};
use crate::event::Header;
use crate::recording::Recording;
use crate::stats::StatsBuilder;
use crate::{Error, Event, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

struct SpoolWindow {
    id: String,
    /// The window's temporary file. Opened only while writing or reading it: memory and file
    /// descriptors stay flat however many windows the inputs hold.
    path: std::path::PathBuf,
    /// Events in `path`.
    count: u64,
    /// Timestamp of the last event appended (to notice disorder).
    last_ts: Option<i64>,
    /// Event JSON bytes (what the package entry will hold, less newlines).
    bytes: u64,
    /// Size of `path` (records).
    offset: u64,
    sorted: bool,
}

struct SpoolSession {
    info: SessionInfo,
    windows: Vec<SpoolWindow>,
}

/// What [`Spool::write_parallel`] does to one window's events on their way into the package. One
/// filter is made per window, on the thread that compresses that window.
pub trait WindowFilter: Send {
    /// One event, in time order; `None` leaves it out.
    fn event(&mut self, e: Event) -> Result<Option<Event>>;
}

struct Pass;
impl WindowFilter for Pass {
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
                for (k, v) in &s.extra {
                    info.extra.entry(k.clone()).or_insert_with(|| v.clone());
                }
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
                            count: 0,
                            last_ts: None,
                            bytes: 0,
                            offset: 0,
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
                let mut record = Vec::new();
                for e in w.events {
                    let text = e.json();
                    if sw.last_ts.is_some_and(|t| t > e.timestamp) {
                        sw.sorted = false;
                    }
                    sw.last_ts = Some(e.timestamp);
                    record.clear();
                    record.extend_from_slice(&[0; 4]);
                    e.header().encode(&mut record);
                    record.extend_from_slice(text.as_bytes());
                    let len = u32::try_from(record.len() - 4)
                        .map_err(|_| Error::invalid("spool", "an event of 4 GB or more"))?;
                    record[..4].copy_from_slice(&len.to_le_bytes());
                    sw.count += 1;
                    file.write_all(&record)
                        .map_err(|er| Error::io("spool", er))?;
                    sw.offset += record.len() as u64;
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
        let (reordered, _) =
            self.write_parallel(w, progress, &mut |_| Ok(()), &|_: &str, _: &str| Pass)?;
        Ok(reordered)
    }

    /// [`Self::write_into`], passing every session's facts through `session` (in package order,
    /// before any window is written) and every window's events through a filter from `make`
    /// (session id, window id). Returns how many windows had to be re-ordered and each window's
    /// filter, with its session id, in package order (redaction merges their counts).
    ///
    /// Windows are read, filtered, checked, hashed and deflated on one thread per core, several
    /// at once, and copied into the package in order: the package is the same as with one thread.
    /// At most two windows per thread wait to be copied (large ones in temporary files), so memory
    /// stays flat.
    pub fn write_parallel<W: Write + Seek, F: WindowFilter>(
        mut self,
        w: &mut PackageWriter<W>,
        progress: &mut dyn FnMut(u64),
        session: &mut dyn FnMut(&mut SessionInfo) -> Result<()>,
        make: &(dyn Fn(&str, &str) -> F + Sync),
    ) -> Result<(usize, Vec<(String, F)>)> {
        for s in &mut self.sessions {
            session(&mut s.info)?;
        }
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        let level = w.level();
        let mut infos = Vec::new();
        let mut jobs = Vec::new();
        let mut reordered = 0;
        for (si, s) in self.sessions.into_iter().enumerate() {
            infos.push(s.info);
            for sw in s.windows {
                reordered += usize::from(!sw.sorted);
                jobs.push(Mutex::new(Some((si, sw))));
            }
        }
        let ahead = 2 * threads;
        let next = AtomicUsize::new(0);
        let gate = (Mutex::new((0usize, false)), Condvar::new()); // (copied, aborted)
                                                                  // (window index, session index, the prepared window, its event bytes, its filter)
        type Done<F> = (usize, usize, Result<PreparedWindow>, u64, F);
        let (tx, rx) = std::sync::mpsc::channel::<Done<F>>();
        let mut filters = Vec::with_capacity(jobs.len());
        let result = std::thread::scope(|scope| -> Result<()> {
            for _ in 0..threads {
                let tx = tx.clone();
                let (jobs, next, gate, infos) = (&jobs, &next, &gate, &infos);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs.len() {
                        return;
                    }
                    {
                        let (lock, cv) = gate;
                        let mut g = lock.lock().unwrap_or_else(|p| p.into_inner());
                        while !g.1 && i >= g.0 + ahead {
                            g = cv.wait(g).unwrap_or_else(|p| p.into_inner());
                        }
                        if g.1 {
                            return;
                        }
                    }
                    let job = jobs[i].lock().ok().and_then(|mut j| j.take());
                    let Some((si, sw)) = job else { return };
                    let session = infos[si].id.clone();
                    let bytes = sw.bytes;
                    let id = sw.id.clone();
                    let mut filter = make(&session, &id);
                    let r = sw.events(|_| {}).and_then(|events| {
                        let events = events
                            .map(|r| {
                                let e = r?.into_owned();
                                Ok(filter.event(e)?.map(Cow::Owned))
                            })
                            .filter_map(|r| r.transpose());
                        prepare_window(&session, &id, events, bytes, level, false)
                    });
                    if tx.send((i, si, r, bytes, filter)).is_err() {
                        return;
                    }
                });
            }
            drop(tx);
            let abort = || {
                let (lock, cv) = &gate;
                lock.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
                cv.notify_all();
            };
            let r = (|| -> Result<()> {
                let mut pending = std::collections::BTreeMap::new();
                let mut copied = 0usize;
                let mut done = 0u64;
                // The session being assembled: its windows arrive in order.
                let mut si = 0usize;
                let mut metas = Vec::new();
                let mut stats = StatsBuilder::default();
                let finish = |w: &mut PackageWriter<W>,
                              si: usize,
                              metas: &mut Vec<_>,
                              stats: &mut StatsBuilder|
                 -> Result<()> {
                    w.finish_session(
                        infos[si].clone(),
                        std::mem::take(metas),
                        std::mem::take(stats),
                    )?;
                    Ok(())
                };
                while copied < jobs.len() {
                    let (i, owner, r, bytes, filter) = rx
                        .recv()
                        .map_err(|_| Error::invalid("package", "a compression thread stopped"))?;
                    pending.insert(i, (owner, r, bytes, filter));
                    while let Some((owner, r, bytes, filter)) = pending.remove(&copied) {
                        while si < owner {
                            finish(w, si, &mut metas, &mut stats)?;
                            si += 1;
                        }
                        let (m, st) = w.add_prepared(r?)?;
                        filters.push((infos[owner].id.clone(), filter));
                        metas.push(m);
                        stats.merge(st);
                        done += bytes;
                        progress(done);
                        copied += 1;
                        let (lock, cv) = &gate;
                        lock.lock().unwrap_or_else(|p| p.into_inner()).0 = copied;
                        cv.notify_all();
                    }
                }
                while si < infos.len() {
                    finish(w, si, &mut metas, &mut stats)?;
                    si += 1;
                }
                Ok(())
            })();
            if r.is_err() {
                abort();
            }
            r
        });
        result?;
        Ok((reordered, filters))
    }
}

impl SpoolWindow {
    /// The window's events in time order, read back from its file; `progress` gets the bytes
    /// read so far.
    fn events(
        self,
        progress: impl FnMut(u64),
    ) -> Result<impl Iterator<Item = Result<Cow<'static, Event>>>> {
        self.events_with(progress, 64 << 20)
    }

    /// [`Self::events`]; an out-of-order window larger than `in_memory` bytes is read with one
    /// positioned read per event instead of from memory.
    fn events_with(
        self,
        mut progress: impl FnMut(u64),
        in_memory: u64,
    ) -> Result<impl Iterator<Item = Result<Cow<'static, Event>>>> {
        let bad = || Error::invalid("spool", "a damaged temporary file");
        let f = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
        // In order (the usual case): one sequential pass. Out of order: first index this window
        // — (offset, length, timestamp) of each record, 24 bytes per event of this window only —
        // then read the records in time order, from memory if the window is of a sensible size
        // (a seek per event would throw away the read buffer each time).
        let mut order = None;
        let mut whole = None;
        if !self.sorted {
            let mut idx = Vec::with_capacity(self.count as usize);
            if self.offset <= in_memory {
                let mut all = Vec::with_capacity(self.offset as usize);
                reader
                    .read_to_end(&mut all)
                    .map_err(|e| Error::io("spool", e))?;
                let mut at = 0usize;
                while at < all.len() {
                    let head = all.get(at..at + 20).ok_or_else(bad)?;
                    let (len, ts) = len_ts(head);
                    idx.push((at as u64 + 4, len, ts));
                    at += 4 + len as usize;
                }
                whole = Some(all);
            } else {
                // A huge window: index it in one pass, then one positioned read per event.
                let mut at = 0u64;
                let mut head = [0u8; 20];
                while at < self.offset {
                    reader
                        .read_exact(&mut head)
                        .map_err(|e| Error::io("spool", e))?;
                    let (len, ts) = len_ts(&head);
                    reader
                        .seek_relative(len as i64 - 16)
                        .map_err(|e| Error::io("spool", e))?;
                    idx.push((at + 4, len, ts));
                    at += 4 + len as u64;
                }
            }
            // Stable: events with the same timestamp keep their arrival order.
            idx.sort_by_key(|x| x.2);
            order = Some(idx.into_iter());
        }
        let mut buf = Vec::new();
        let mut read = 0u64;
        let mut left = self.count;
        Ok(std::iter::from_fn(move || {
            let next = (|| -> Result<Option<Event>> {
                let record: &[u8] = match (&mut order, &whole) {
                    (Some(order), whole) => {
                        let Some((off, len, _)) = order.next() else {
                            return Ok(None);
                        };
                        match whole {
                            Some(all) => all
                                .get(off as usize..off as usize + len as usize)
                                .ok_or_else(bad)?,
                            None => {
                                // Straight from the file: through the 1 MiB read buffer each
                                // seek would throw the buffer away and refill it for one event.
                                let f = reader.get_mut();
                                f.seek(SeekFrom::Start(off))
                                    .map_err(|e| Error::io("spool", e))?;
                                buf.resize(len as usize, 0);
                                f.read_exact(&mut buf).map_err(|e| Error::io("spool", e))?;
                                &buf
                            }
                        }
                    }
                    (None, _) => {
                        if left == 0 {
                            return Ok(None);
                        }
                        left -= 1;
                        let mut n = [0u8; 4];
                        reader
                            .read_exact(&mut n)
                            .map_err(|e| Error::io("spool", e))?;
                        buf.resize(u32::from_le_bytes(n) as usize, 0);
                        reader
                            .read_exact(&mut buf)
                            .map_err(|e| Error::io("spool", e))?;
                        &buf
                    }
                };
                let (head, json) = Header::decode(record).ok_or_else(bad)?;
                read += json.len() as u64;
                progress(read);
                let text = String::from_utf8(json.to_vec()).map_err(|_| bad())?;
                Ok(Some(Event::from_header(head, text)))
            })();
            next.transpose().map(|r| r.map(Cow::Owned))
        }))
    }
}

/// A record's length and its event's timestamp, from the record's first 20 bytes (4 bytes of
/// length, then the header: 8 bytes of type, 8 of timestamp).
fn len_ts(head: &[u8]) -> (u32, i64) {
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&head[12..20]);
    (len, i64::from_le_bytes(ts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::Session;

    /// Events that arrive out of order (over several inputs) come back sorted, stably, whether
    /// the window is re-ordered in memory or with positioned reads.
    #[test]
    fn out_of_order_windows_come_back_sorted_both_ways() {
        let ev = |ts: i64, n: usize| {
            Event::parse(format!(
                r#"{{"type":3,"timestamp":{ts},"data":{{"source":1,"n":{n}}}}}"#
            ))
            .unwrap()
        };
        let input = [[5, 1, 9], [3, 1, 7]];
        let mut want = Vec::new();
        for (i, part) in input.iter().enumerate() {
            for (j, ts) in part.iter().enumerate() {
                want.push(ev(*ts, i * 10 + j));
            }
        }
        want.sort_by_key(|e| e.timestamp);
        for limit in [0, u64::MAX] {
            let mut spool = Spool::new().unwrap();
            for (i, part) in input.iter().enumerate() {
                let mut s = Session::new("s");
                for (j, ts) in part.iter().enumerate() {
                    s.window_mut("w").events.push(ev(*ts, i * 10 + j));
                }
                let rec = Recording {
                    sessions: vec![s],
                    ..Default::default()
                };
                spool.add(rec).unwrap();
            }
            let win = spool.sessions[0].windows.remove(0);
            assert!(!win.sorted);
            let got: Vec<Event> = win
                .events_with(|_| {}, limit)
                .unwrap()
                .map(|e| e.unwrap().into_owned())
                .collect();
            assert_eq!(got, want, "in-memory limit {limit}");
        }
    }

    /// A filter that fails in one window stops the whole write with that error: no hang, even
    /// with many windows still queued behind the failed one.
    #[test]
    fn a_failing_window_stops_the_write_with_its_error() {
        struct Fail(bool);
        impl WindowFilter for Fail {
            fn event(&mut self, e: Event) -> Result<Option<Event>> {
                if self.0 {
                    return Err(Error::invalid("filter", "refused on purpose"));
                }
                Ok(Some(e))
            }
        }
        let mut spool = Spool::new().unwrap();
        for n in 0..40 {
            let mut s = Session::new(format!("s{n}"));
            s.window_mut("w").events.push(
                Event::parse(format!(
                    r#"{{"type":3,"timestamp":{n},"data":{{"source":1}}}}"#
                ))
                .unwrap(),
            );
            spool
                .add(Recording {
                    sessions: vec![s],
                    ..Default::default()
                })
                .unwrap();
        }
        let mut w = PackageWriter::new(std::io::Cursor::new(Vec::new()), Default::default());
        let err = spool
            .write_parallel(&mut w, &mut |_| {}, &mut |_| Ok(()), &|s: &str, _: &str| {
                Fail(s == "s3")
            })
            .err()
            .expect("the write fails");
        assert!(err.to_string().contains("refused on purpose"), "{err}");
    }
}
