//! Reading a session back, block by block, in time order, in bounded memory.
//!
//! A [`Plan`] lists a session's blocks (or one window's) and [`Store::events`] streams their events
//! in time order (stable: ties keep window order, then block order, then order in the block — the
//! order a stable sort of everything would give). Blocks are decompressed one at a time with
//! streaming zstd and never held whole:
//!
//! * blocks that do not overlap in time (the usual case: batches arrive in order) are simply read
//!   one after the other;
//! * otherwise, up to [`SORT_IN_MEMORY`] bytes of event JSON are sorted in memory;
//! * beyond that, an external merge sort: sorted runs of that size go to temporary files
//!   (zstd-compressed) and are merged.
//!
//! Memory is bounded by the largest single event plus a few buffers, not by the session.
use crate::index::BlockRow;
use crate::{Error, Result, Store};
use reel_format::recording::{Session, Source};
use reel_format::Event;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Read, Seek, Write};

/// Events (JSON bytes) sorted in memory at once; larger out-of-order reads spill sorted runs.
pub const SORT_IN_MEMORY: u64 = 16 << 20;
/// Most sorted runs merged at once (each holds its next event and a decoder); more runs are
/// first merged in groups into longer runs.
const MAX_FAN_IN: usize = 12;
/// Compressed blocks up to this size are fetched into memory; larger ones into a temporary file.
const FETCH_IN_MEMORY: i64 = 8 << 20;

/// One event of a read, with the index of its window in [`Plan::windows`].
pub type Item = Result<(usize, Event)>;

/// A session's events in time order (see the module docs). Blocking: use it off the async
/// executor (`spawn_blocking`).
pub type Events = Box<dyn Iterator<Item = Item> + Send>;

/// What to read: windows (sorted by id) and their blocks, in (window, first_ms, id) order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub project: String,
    pub session: String,
    pub windows: Vec<String>,
    /// (index in `windows`, block).
    pub blocks: Vec<(usize, BlockRow)>,
}

impl Plan {
    /// Only window `w` (its index in `windows` becomes 0).
    pub fn window(&self, w: usize) -> Plan {
        Plan {
            project: self.project.clone(),
            session: self.session.clone(),
            windows: self.windows.get(w).cloned().into_iter().collect(),
            blocks: self
                .blocks
                .iter()
                .filter(|(i, _)| *i == w)
                .map(|(_, b)| (0, b.clone()))
                .collect(),
        }
    }

    /// Bytes of event JSON (one line each) the blocks hold.
    pub fn raw_bytes(&self) -> u64 {
        self.blocks.iter().map(|(_, b)| b.bytes.max(0) as u64).sum()
    }
}

impl Store {
    /// The blocks of a session, by window (window ids sorted). Empty if the session has none.
    pub async fn plan(&self, project: &str, session: &str) -> Result<Plan> {
        let blocks = self.index.blocks(project, session).await?;
        let mut windows: Vec<String> = Vec::new();
        let mut out = Vec::with_capacity(blocks.len());
        for b in blocks {
            if windows.last() != Some(&b.window_id) {
                windows.push(b.window_id.clone());
            }
            out.push((windows.len() - 1, b));
        }
        Ok(Plan {
            project: project.into(),
            session: session.into(),
            windows,
            blocks: out,
        })
    }

    /// One block's compressed bytes as a reader: from the index (fresh blocks on SQLite), from
    /// the blob store into memory, or (large blocks) through a temporary file.
    pub async fn open_block(&self, b: &BlockRow) -> Result<Box<dyn Read + Send>> {
        if crate::ingest::in_index(&b.blob_key) {
            let data = self.index.block_data(&b.id).await?.ok_or_else(|| {
                Error::Config(format!(
                    "block {}: its data is missing from the index",
                    b.id
                ))
            })?;
            return Ok(Box::new(std::io::Cursor::new(data)));
        }
        if b.stored_bytes <= FETCH_IN_MEMORY {
            let bytes = self.blobs.get(&b.blob_key).await?;
            return Ok(Box::new(std::io::Cursor::new(bytes)));
        }
        let file = self.blobs.get_to_file(&b.blob_key).await?;
        Ok(Box::new(BufReader::with_capacity(64 << 10, file)))
    }

    /// Stream the plan's events in time order. Blocking (it fetches blocks through the current
    /// tokio runtime): call it, and iterate, inside `spawn_blocking`.
    pub fn events(&self, plan: Plan) -> Result<Events> {
        let rt = tokio::runtime::Handle::current();
        let fetch = {
            let store = self.clone();
            move |b: &BlockRow| -> Result<BlockEvents> {
                let r = rt.block_on(store.open_block(b))?;
                BlockEvents::new(r, &b.blob_key)
            }
        };
        let blocks = plan.blocks;
        if let Some(order) = non_overlapping(&blocks) {
            let mut queue = order.into_iter();
            let mut cur: Option<(usize, BlockEvents)> = None;
            return Ok(Box::new(std::iter::from_fn(move || loop {
                if let Some((w, be)) = &mut cur {
                    match be.next() {
                        Some(Ok(e)) => return Some(Ok((*w, e))),
                        Some(Err(e)) => return Some(Err(e)),
                        None => cur = None,
                    }
                }
                let i = queue.next()?;
                match fetch(&blocks[i].1) {
                    Ok(be) => cur = Some((blocks[i].0, be)),
                    Err(e) => return Some(Err(e)),
                }
            })));
        }
        // Out of order: sorted runs of SORT_IN_MEMORY bytes, merged.
        let mut runs: Vec<Run> = Vec::new();
        let mut chunk: Vec<(usize, Event)> = Vec::new();
        let mut chunk_bytes = 0u64;
        for (w, b) in &blocks {
            for e in fetch(b)? {
                let e = e?;
                chunk_bytes += e.json().len() as u64 + 1;
                chunk.push((*w, e));
                if chunk_bytes >= SORT_IN_MEMORY {
                    chunk.sort_by_key(|(_, e)| e.timestamp);
                    runs.push(Run::spill(std::mem::take(&mut chunk).into_iter().map(Ok))?);
                    chunk_bytes = 0;
                }
            }
        }
        chunk.sort_by_key(|(_, e)| e.timestamp);
        if runs.is_empty() {
            return Ok(Box::new(chunk.into_iter().map(Ok)));
        }
        runs.push(Run::Mem(chunk.into_iter()));
        // Consecutive runs merged into one keep the merge stable.
        while runs.len() > MAX_FAN_IN {
            let mut merged = Vec::new();
            let mut rest = runs.into_iter().peekable();
            while rest.peek().is_some() {
                let group: Vec<Run> = rest.by_ref().take(MAX_FAN_IN).collect();
                merged.push(if group.len() == 1 {
                    group.into_iter().next().expect("one run")
                } else {
                    Run::spill(Merge::new(group)?)?
                });
            }
            runs = merged;
        }
        Merge::new(runs).map(|m| Box::new(m) as Events)
    }

    /// A session's events of one window, in time order (see [`Store::events`]; blocking).
    pub fn window_events(&self, plan: &Plan, window: &str) -> Result<Events> {
        match plan.windows.iter().position(|w| w == window) {
            Some(w) => self.events(plan.window(w)),
            None => Ok(Box::new(std::iter::empty())),
        }
    }

    /// The whole session in memory, windows sorted by time. `None` if it does not exist.
    /// Memory grows with the session: servers stream with [`Store::events`] instead.
    pub async fn load_session(&self, project: &str, id: &str) -> Result<Option<Session>> {
        let Some(row) = self.index.session(project, id).await? else {
            return Ok(None);
        };
        let plan = self.plan(project, id).await?;
        let mut s = Session::new(id);
        s.distinct_id = row.distinct_id.clone();
        s.user_agent = row.user_agent.clone();
        s.source = Source {
            system: row.source.clone().unwrap_or_default(),
            lib: row.lib.clone(),
            lib_version: row.lib_version.clone(),
        };
        for w in &plan.windows {
            s.window_mut(w);
        }
        let store = self.clone();
        let windows = plan.windows.clone();
        let events = tokio::task::spawn_blocking(move || -> Result<Vec<(usize, Event)>> {
            store.events(plan)?.collect()
        })
        .await
        .map_err(|e| Error::Config(e.to_string()))??;
        for (w, e) in events {
            s.window_mut(&windows[w]).events.push(e);
        }
        Ok(Some(s))
    }
}

/// The order in which blocks can simply be concatenated (each block is sorted; no block starts
/// before an earlier one ends, and equal timestamps at a boundary keep (window, block) order).
fn non_overlapping(blocks: &[(usize, BlockRow)]) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by_key(|&i| (blocks[i].1.first_ms, i));
    let (mut max_last, mut tie) = (i64::MIN, 0usize);
    for &i in &order {
        let b = &blocks[i].1;
        if b.first_ms < max_last || (b.first_ms == max_last && i < tie) {
            return None;
        }
        if b.last_ms > max_last {
            (max_last, tie) = (b.last_ms, i);
        } else if b.last_ms == max_last {
            tie = tie.max(i);
        }
    }
    Some(order)
}

/// The events of one block, decompressed as they are read.
pub struct BlockEvents {
    lines: Box<dyn BufRead + Send>,
    name: String,
}

impl BlockEvents {
    pub fn new(compressed: Box<dyn Read + Send>, name: &str) -> Result<BlockEvents> {
        let d = zstd::stream::read::Decoder::new(compressed)?;
        Ok(BlockEvents {
            lines: Box::new(BufReader::with_capacity(64 << 10, d)),
            name: name.to_string(),
        })
    }
}

impl Iterator for BlockEvents {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let mut line = Vec::new();
            match self.lines.read_until(b'\n', &mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(Error::Config(format!("block {}: {e}", self.name)))),
            }
            while line.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                line.pop();
            }
            if line.is_empty() {
                continue;
            }
            // Lines grow by doubling: do not keep up to twice a large event's size.
            if line.capacity() > line.len() + line.len() / 8 + 64 {
                line.shrink_to_fit();
            }
            let parsed = String::from_utf8(line)
                .map_err(|_| "not UTF-8".to_string())
                .and_then(|t| Event::parse(t).map_err(|e| e.to_string()));
            return Some(parsed.map_err(|e| Error::Config(format!("block {}: {e}", self.name))));
        }
    }
}

/// Decompress a whole zstd JSONL block into events (small blocks; see [`BlockEvents`]).
pub fn decode_block(bytes: &[u8]) -> std::result::Result<Vec<Event>, String> {
    BlockEvents::new(Box::new(std::io::Cursor::new(bytes.to_vec())), "block")
        .map_err(|e| e.to_string())?
        .map(|e| e.map_err(|e| e.to_string()))
        .collect()
}

/// A sorted run of an external sort.
enum Run {
    Mem(std::vec::IntoIter<(usize, Event)>),
    File(Box<dyn BufRead + Send>),
}

impl Run {
    /// Write sorted events to a temporary file (`window\tjson` lines, zstd level 1 with a small
    /// window: cheap to read back many at once).
    fn spill(items: impl Iterator<Item = Item>) -> Result<Run> {
        let file = tempfile::tempfile()?;
        let mut enc = zstd::stream::write::Encoder::new(std::io::BufWriter::new(file), 1)?;
        enc.window_log(17)?;
        for item in items {
            let (w, e) = item?;
            write!(enc, "{w}\t")?;
            enc.write_all(e.json().as_bytes())?;
            enc.write_all(b"\n")?;
        }
        let mut file = enc
            .finish()?
            .into_inner()
            .map_err(|e| Error::Io(e.into_error()))?;
        file.rewind()?;
        let d = zstd::stream::read::Decoder::new(file)?;
        Ok(Run::File(Box::new(BufReader::with_capacity(64 << 10, d))))
    }

    fn next(&mut self) -> Option<Item> {
        match self {
            Run::Mem(it) => it.next().map(Ok),
            Run::File(r) => {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) => None,
                    Ok(_) => {
                        line.pop();
                        let parsed = (|| {
                            let tab = line.iter().position(|c| *c == b'\t')?;
                            let w: usize = std::str::from_utf8(&line[..tab]).ok()?.parse().ok()?;
                            let json = std::str::from_utf8(&line[tab + 1..]).ok()?;
                            Some((w, Event::parse(json).ok()?))
                        })();
                        Some(parsed.ok_or_else(|| Error::Config("sort run: bad record".into())))
                    }
                    Err(e) => Some(Err(e.into())),
                }
            }
        }
    }
}

/// k-way merge of sorted runs; ties go to the earlier run (a stable sort overall).
struct Merge {
    runs: Vec<Run>,
    heads: Vec<Option<(usize, Event)>>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
}

impl Merge {
    fn new(mut runs: Vec<Run>) -> Result<Merge> {
        let mut heads = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::new();
        for (i, r) in runs.iter_mut().enumerate() {
            let h = r.next().transpose()?;
            if let Some((_, e)) = &h {
                heap.push(Reverse((e.timestamp, i)));
            }
            heads.push(h);
        }
        Ok(Merge { runs, heads, heap })
    }
}

impl Iterator for Merge {
    type Item = Item;
    fn next(&mut self) -> Option<Item> {
        let Reverse((_, i)) = self.heap.pop()?;
        let out = self.heads[i].take()?;
        match self.runs[i].next().transpose() {
            Ok(h) => {
                if let Some((_, e)) = &h {
                    self.heap.push(Reverse((e.timestamp, i)));
                }
                self.heads[i] = h;
            }
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(out))
    }
}
