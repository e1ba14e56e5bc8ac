//! The two tables: schema, row builders and the streaming writers.
use crate::Error;
use arrow_array::builder::{
    Float64Builder, Int64Builder, ListBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use reel_format::package::{PackageReader, SessionMeta};
use reel_format::Event;
use reel_format::Limits;
use reel_insight::timeline::{Kind, TimelineEvent, WindowTimeline};
use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// The `kind` values of the events table.
pub const EVENT_KINDS: [&str; 11] = [
    "navigation",
    "reload",
    "viewport",
    "click",
    "dblclick",
    "contextmenu",
    "input",
    "scroll",
    "console",
    "network",
    "custom",
];

/// The events table's name for a timeline kind (DOM event names: `dblclick`, `contextmenu`);
/// `None` for kinds that are not rows (a FullSnapshot is the recorder's, not the user's).
fn kind_name(k: Kind) -> Option<&'static str> {
    Some(match k {
        Kind::FullSnapshot => return None,
        Kind::Navigation => "navigation",
        Kind::Reload => "reload",
        Kind::Viewport => "viewport",
        Kind::Click => "click",
        Kind::DblClick => "dblclick",
        Kind::ContextMenu => "contextmenu",
        Kind::Input => "input",
        Kind::Scroll => "scroll",
        Kind::Console => "console",
        Kind::Network => "network",
        Kind::Custom => "custom",
    })
}

/// How the tables are written.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rows gathered before they are encoded (one Arrow batch).
    pub batch_rows: usize,
    /// A row group is flushed to the output when its encoded size reaches this.
    pub row_group_bytes: usize,
    /// zstd level (1–22).
    pub zstd_level: i32,
    /// Windows walked at once (each on its own thread; the package is read on the caller's).
    pub threads: usize,
    /// Caps for reading packages (zip bomb guards).
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_rows: 8192,
            row_group_bytes: 64 << 20,
            zstd_level: 1,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
            limits: Limits::default(),
        }
    }
}

/// What [`Tables::finish`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Rows of the sessions table.
    pub sessions: u64,
    /// Rows of the events table.
    pub events: u64,
    /// Bytes of event JSON read (the sessions' `size`, summed).
    pub bytes_in: u64,
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// The integer columns of the sessions table, in order.
const SESSION_COUNTS: [&str; 10] = [
    "click_count",
    "keypress_count",
    "mouse_activity_count",
    "active_milliseconds",
    "console_log_count",
    "console_warn_count",
    "console_error_count",
    "size",
    "event_count",
    "window_count",
];

/// The sessions table's schema (PostHog's `session_replay_events` names; `window_count` is Reel's).
pub fn sessions_schema() -> SchemaRef {
    let mut f = vec![
        Field::new("session_id", DataType::Utf8, false),
        Field::new("distinct_id", DataType::Utf8, true),
        Field::new("min_first_timestamp", ts(), true),
        Field::new("max_last_timestamp", ts(), true),
        Field::new("first_url", DataType::Utf8, true),
        Field::new_list(
            "all_urls",
            Field::new_list_field(DataType::Utf8, true),
            false,
        ),
    ];
    f.extend(
        SESSION_COUNTS
            .iter()
            .map(|n| Field::new(*n, DataType::Int64, false)),
    );
    f.push(Field::new("snapshot_source", DataType::Utf8, false));
    f.push(Field::new("snapshot_library", DataType::Utf8, true));
    Arc::new(Schema::new(f))
}

/// The events table's schema.
pub fn events_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let f64 = |n: &str| Field::new(n, DataType::Float64, true);
    let i64 = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        Field::new("session_id", DataType::Utf8, false),
        Field::new("window_id", DataType::Utf8, false),
        Field::new("timestamp", ts(), false),
        Field::new("kind", DataType::Utf8, false),
        s("url"),
        f64("x"),
        f64("y"),
        i64("target_id"),
        s("target_tag"),
        s("target_selector"),
        s("target_text"),
        s("input_value"),
        s("console_level"),
        s("console_message"),
        s("network_method"),
        s("network_url"),
        i64("network_status"),
        f64("network_duration_ms"),
        s("custom_tag"),
    ]))
}

struct SessionRows {
    n: usize,
    session_id: StringBuilder,
    distinct_id: StringBuilder,
    first: TimestampMillisecondBuilder,
    last: TimestampMillisecondBuilder,
    first_url: StringBuilder,
    all_urls: ListBuilder<StringBuilder>,
    counts: Vec<Int64Builder>,
    snapshot_source: StringBuilder,
    snapshot_library: StringBuilder,
}

impl SessionRows {
    fn new() -> Self {
        SessionRows {
            n: 0,
            session_id: StringBuilder::new(),
            distinct_id: StringBuilder::new(),
            first: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            last: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            first_url: StringBuilder::new(),
            all_urls: ListBuilder::new(StringBuilder::new()),
            counts: SESSION_COUNTS.iter().map(|_| Int64Builder::new()).collect(),
            snapshot_source: StringBuilder::new(),
            snapshot_library: StringBuilder::new(),
        }
    }

    fn push(&mut self, m: &SessionMeta) {
        let s = &m.stats;
        self.n += 1;
        self.session_id.append_value(&m.id);
        self.distinct_id.append_option(m.distinct_id.as_deref());
        self.first.append_option(s.start_ms);
        self.last.append_option(s.end_ms);
        self.first_url
            .append_option(s.start_url().or(m.start_url.as_deref()));
        for u in &s.urls {
            self.all_urls.values().append_value(u);
        }
        self.all_urls.append(true);
        let counts = [
            s.click_count,
            s.keypress_count,
            s.mouse_activity_count,
            s.active_ms,
            s.console_log_count,
            s.console_warn_count,
            s.console_error_count,
            s.size,
            s.event_count,
            m.windows.len() as u64,
        ];
        for (b, v) in self.counts.iter_mut().zip(counts) {
            b.append_value(i64::try_from(v).unwrap_or(i64::MAX));
        }
        let (source, library) = snapshot_source_library(m);
        self.snapshot_source.append_value(source);
        self.snapshot_library.append_option(library);
    }
}

impl Rows for SessionRows {
    fn n(&self) -> usize {
        self.n
    }

    fn held(&self) -> usize {
        string_bytes(&self.session_id)
            + string_bytes(&self.distinct_id)
            + string_bytes(&self.first_url)
            + string_bytes(self.all_urls.values_ref())
            + self.n * 8 * 14
    }

    fn batch(&mut self) -> Result<RecordBatch, Error> {
        self.n = 0;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.session_id.finish()),
            Arc::new(self.distinct_id.finish()),
            Arc::new(self.first.finish()),
            Arc::new(self.last.finish()),
            Arc::new(self.first_url.finish()),
            Arc::new(self.all_urls.finish()),
        ];
        cols.extend(
            self.counts
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.push(Arc::new(self.snapshot_source.finish()));
        cols.push(Arc::new(self.snapshot_library.finish()));
        Ok(RecordBatch::try_new(sessions_schema(), cols)?)
    }
}

/// PostHog's `snapshot_source` (`web` or `mobile`) and `snapshot_library` (the recorder: `web` for
/// posthog-js, `rrweb`, `reel-js`, …) of a session: the PostHog listing's when the session came
/// from PostHog's API, else from the recording's source.
fn snapshot_source_library(m: &SessionMeta) -> (&str, Option<&str>) {
    let listing = m.extra.get("posthog");
    let field = |k: &str| listing.and_then(|l| l.get(k)).and_then(|v| v.as_str());
    let source = field("snapshot_source").unwrap_or(if m.source.system.contains("mobile") {
        "mobile"
    } else {
        "web"
    });
    let library = field("snapshot_library").or(m.source.lib.as_deref());
    (source, library)
}

struct EventRows {
    n: usize,
    session_id: StringBuilder,
    window_id: StringBuilder,
    timestamp: TimestampMillisecondBuilder,
    kind: StringBuilder,
    url: StringBuilder,
    x: Float64Builder,
    y: Float64Builder,
    target_id: Int64Builder,
    target_tag: StringBuilder,
    target_selector: StringBuilder,
    target_text: StringBuilder,
    input_value: StringBuilder,
    console_level: StringBuilder,
    console_message: StringBuilder,
    network_method: StringBuilder,
    network_url: StringBuilder,
    network_status: Int64Builder,
    network_duration_ms: Float64Builder,
    custom_tag: StringBuilder,
}

/// `None` for an empty string (a target whose tag or text is unknown).
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl EventRows {
    fn new() -> Self {
        EventRows {
            n: 0,
            session_id: StringBuilder::new(),
            window_id: StringBuilder::new(),
            timestamp: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            kind: StringBuilder::new(),
            url: StringBuilder::new(),
            x: Float64Builder::new(),
            y: Float64Builder::new(),
            target_id: Int64Builder::new(),
            target_tag: StringBuilder::new(),
            target_selector: StringBuilder::new(),
            target_text: StringBuilder::new(),
            input_value: StringBuilder::new(),
            console_level: StringBuilder::new(),
            console_message: StringBuilder::new(),
            network_method: StringBuilder::new(),
            network_url: StringBuilder::new(),
            network_status: Int64Builder::new(),
            network_duration_ms: Float64Builder::new(),
            custom_tag: StringBuilder::new(),
        }
    }

    /// Append one timeline event; `false` when its kind is not a row.
    fn push(&mut self, t: &TimelineEvent) -> bool {
        let Some(kind) = kind_name(t.kind) else {
            return false;
        };
        self.n += 1;
        self.session_id.append_value(&t.session_id);
        self.window_id.append_value(&t.window_id);
        self.timestamp.append_value(t.timestamp);
        self.kind.append_value(kind);
        self.url.append_option(t.url.as_deref());
        self.x.append_option(t.x.filter(|v| v.is_finite()));
        self.y.append_option(t.y.filter(|v| v.is_finite()));
        let target = t.target.as_ref();
        self.target_id.append_option(target.map(|t| t.id));
        self.target_tag
            .append_option(target.and_then(|t| non_empty(&t.tag)));
        self.target_selector
            .append_option(target.and_then(|t| non_empty(&t.selector)));
        self.target_text
            .append_option(target.and_then(|t| non_empty(&t.text)));
        self.input_value.append_option(t.input_value.as_deref());
        self.console_level.append_option(t.console_level.as_deref());
        self.console_message
            .append_option(t.console_message.as_deref());
        self.network_method
            .append_option(t.network_method.as_deref());
        self.network_url.append_option(t.network_url.as_deref());
        self.network_status.append_option(t.network_status);
        self.network_duration_ms
            .append_option(t.network_duration_ms.filter(|v| v.is_finite()));
        self.custom_tag.append_option(t.custom_tag.as_deref());
        true
    }
}

impl Rows for EventRows {
    fn n(&self) -> usize {
        self.n
    }

    fn held(&self) -> usize {
        [
            &self.session_id,
            &self.window_id,
            &self.kind,
            &self.url,
            &self.target_tag,
            &self.target_selector,
            &self.target_text,
            &self.input_value,
            &self.console_level,
            &self.console_message,
            &self.network_method,
            &self.network_url,
            &self.custom_tag,
        ]
        .iter()
        .map(|b| string_bytes(b))
        .sum::<usize>()
            + self.n * 8 * 7
    }

    fn batch(&mut self) -> Result<RecordBatch, Error> {
        self.n = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.session_id.finish()),
            Arc::new(self.window_id.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.x.finish()),
            Arc::new(self.y.finish()),
            Arc::new(self.target_id.finish()),
            Arc::new(self.target_tag.finish()),
            Arc::new(self.target_selector.finish()),
            Arc::new(self.target_text.finish()),
            Arc::new(self.input_value.finish()),
            Arc::new(self.console_level.finish()),
            Arc::new(self.console_message.finish()),
            Arc::new(self.network_method.finish()),
            Arc::new(self.network_url.finish()),
            Arc::new(self.network_status.finish()),
            Arc::new(self.network_duration_ms.finish()),
            Arc::new(self.custom_tag.finish()),
        ];
        Ok(RecordBatch::try_new(events_schema(), cols)?)
    }
}

/// One table being written: rows gathered in Arrow builders, encoded in batches.
struct Sink<W: Write + Send, R> {
    rows: R,
    writer: ArrowWriter<W>,
    batch_rows: usize,
    /// Largest number of bytes held at once (rows gathered plus the row group being encoded).
    peak: usize,
}

/// Rows of a table gathered in Arrow builders.
trait Rows {
    /// Rows gathered.
    fn n(&self) -> usize;
    /// Approximate bytes held by the rows gathered.
    fn held(&self) -> usize;
    /// The rows gathered, as a batch; the builders start again empty.
    fn batch(&mut self) -> Result<RecordBatch, Error>;
}

impl<W: Write + Send, R: Rows> Sink<W, R> {
    fn new(w: W, schema: SchemaRef, rows: R, opts: &Options) -> Result<Self, Error> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(opts.zstd_level)?))
            .set_max_row_group_bytes(Some(opts.row_group_bytes.max(1)))
            .set_created_by(format!("reel {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Sink {
            rows,
            writer: ArrowWriter::try_new(w, schema, Some(props))?,
            batch_rows: opts.batch_rows.max(1),
            peak: 0,
        })
    }

    /// After a row was added: encode the batch when it is full.
    fn added(&mut self) -> Result<(), Error> {
        if self.rows.n() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.note();
        if self.rows.n() > 0 {
            let b = self.rows.batch()?;
            self.writer.write(&b)?;
        }
        self.note();
        Ok(())
    }

    fn note(&mut self) {
        self.peak = self.peak.max(self.rows.held() + self.writer.memory_size());
    }

    fn finish(mut self) -> Result<W, Error> {
        self.flush()?;
        Ok(self.writer.into_inner()?)
    }
}

impl<W: Write + Send> Sink<W, EventRows> {
    fn push(&mut self, t: &TimelineEvent) -> Result<bool, Error> {
        if !self.rows.push(t) {
            return Ok(false);
        }
        self.added()?;
        Ok(true)
    }
}

/// The sessions and events tables being written to `W`s (files, buffers, upload streams).
///
/// Feed it packages ([`Tables::add_package`]) or other inputs gathered in a
/// [`reel_format::package::Spool`] ([`Tables::add_spool`]), then [`Tables::finish`]. After an
/// error the tables are incomplete: drop them (the `W`s hold a partial file).
pub struct Tables<W: Write + Send> {
    sessions: Sink<W, SessionRows>,
    events: Sink<W, EventRows>,
    opts: Options,
    counts: Counts,
    progress: Option<Progress>,
}

/// What [`Tables::on_progress`] calls.
type Progress = Box<dyn FnMut(&Counts) + Send>;

/// A worker's place, given back when the worker ends (even by a panic).
struct Token(mpsc::SyncSender<()>);

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// Timeline events of one window, in chunks, from its worker to the writer.
type Chunks = mpsc::Receiver<Vec<TimelineEvent>>;

/// Events read per chunk handed to a window's worker (fewer when they are large: at most about
/// [`CHUNK_BYTES`] of event JSON).
const CHUNK: usize = 512;
const CHUNK_BYTES: usize = 1 << 20;

impl<W: Write + Send> Tables<W> {
    /// Tables written to `sessions` and `events` with the default [`Options`].
    pub fn new(sessions: W, events: W) -> Result<Self, Error> {
        Self::with_options(sessions, events, Options::default())
    }

    pub fn with_options(sessions: W, events: W, opts: Options) -> Result<Self, Error> {
        Ok(Tables {
            sessions: Sink::new(sessions, sessions_schema(), SessionRows::new(), &opts)?,
            events: Sink::new(events, events_schema(), EventRows::new(), &opts)?,
            opts,
            counts: Counts::default(),
            progress: None,
        })
    }

    /// Call `f` with the counts so far after each session.
    pub fn on_progress(&mut self, f: impl FnMut(&Counts) + Send + 'static) {
        self.progress = Some(Box::new(f));
    }

    /// Rows written so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The most bytes held at once so far: rows gathered but not yet encoded, plus the row groups
    /// being encoded. Bounded by the [`Options`], not by the input.
    pub fn peak_buffered_bytes(&self) -> usize {
        self.sessions.peak + self.events.peak
    }

    /// Every session of a `.reel.zip` package (read with reel-format's verifying package reader
    /// under [`Options::limits`]): its row of `sessions` from its `meta.json`, its rows of
    /// `events` from its windows' timelines.
    ///
    /// The package is read on this thread; each window's timeline is walked on a worker
    /// ([`Options::threads`] windows at once) and its rows are written in package order by
    /// another, so the files are the same as with one thread. Chunks in flight are bounded: memory
    /// stays flat.
    pub fn add_package<R: Read + Seek>(&mut self, package: R) -> Result<(), Error> {
        let mut r = PackageReader::open(package, self.opts.limits)?;
        let ids: Vec<String> = r.manifest.sessions.iter().map(|s| s.id.clone()).collect();
        let threads = self.opts.threads.max(1);
        let Tables {
            sessions,
            events,
            counts,
            progress,
            ..
        } = self;
        let written = AtomicU64::new(counts.events);
        std::thread::scope(|scope| -> Result<(), Error> {
            let (order_tx, order_rx) = mpsc::channel::<Chunks>();
            let written = &written;
            let writer = scope.spawn(move || -> Result<(), Error> {
                for window in order_rx {
                    for chunk in window {
                        for t in &chunk {
                            if events.push(t)? {
                                written.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                Ok(())
            });
            // A token per worker: at most `threads` windows are walked at once.
            let (token_tx, token_rx) = mpsc::sync_channel::<()>(threads);
            for _ in 0..threads {
                let _ = token_tx.send(());
            }
            let read = (|| -> Result<(), Error> {
                for id in &ids {
                    let meta = r.session_meta(id)?;
                    for w in &meta.windows {
                        let stopped = || Error::new("writing Parquet: the events writer stopped");
                        token_rx.recv().map_err(|_| stopped())?;
                        let (in_tx, in_rx) = mpsc::sync_channel::<Vec<Event>>(4);
                        let (out_tx, out_rx) = mpsc::sync_channel::<Vec<TimelineEvent>>(4);
                        order_tx.send(out_rx).map_err(|_| stopped())?;
                        let token = Token(token_tx.clone());
                        let mut walk = WindowTimeline::new(id, &w.id);
                        scope.spawn(move || {
                            let _token = token;
                            let mut buf = Vec::new();
                            for chunk in in_rx {
                                for e in &chunk {
                                    walk.observe(e, &mut buf);
                                }
                                if !buf.is_empty() && out_tx.send(std::mem::take(&mut buf)).is_err()
                                {
                                    break;
                                }
                            }
                        });
                        let mut chunk = Vec::with_capacity(CHUNK);
                        let mut bytes = 0;
                        r.for_each_event_checked(&w.path, |e| {
                            bytes += e.json().len();
                            chunk.push(e);
                            if chunk.len() == CHUNK || bytes >= CHUNK_BYTES {
                                bytes = 0;
                                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                                in_tx.send(full).map_err(|_| {
                                    reel_format::Error::invalid(
                                        "parquet",
                                        "the events writer stopped",
                                    )
                                })?;
                            }
                            Ok(())
                        })?;
                        if !chunk.is_empty() {
                            in_tx.send(chunk).map_err(|_| stopped())?;
                        }
                    }
                    sessions.rows.push(&meta);
                    sessions.added()?;
                    counts.sessions += 1;
                    counts.bytes_in += meta.stats.size;
                    if let Some(f) = progress {
                        counts.events = written.load(Ordering::Relaxed);
                        f(counts);
                    }
                }
                Ok(())
            })();
            drop(order_tx);
            let wrote = writer
                .join()
                .unwrap_or_else(|_| Err(Error::new("writing Parquet: the events writer panicked")));
            counts.events = written.load(Ordering::Relaxed);
            // The writer's error first: a reader error may only say that the writer stopped.
            wrote.and(read)
        })
    }

    /// Every session gathered in `spool` (inputs that are not packages: rrweb JSON, PostHog
    /// exports and bodies, …; sessions spanning several inputs already merged): written to a
    /// temporary uncompressed package, the same facts `reel pack` computes, then read as
    /// [`Tables::add_package`] does.
    pub fn add_spool(&mut self, spool: reel_format::package::Spool) -> Result<(), Error> {
        let tmp = tempfile::Builder::new()
            .prefix("reel-parquet-")
            .tempfile()
            .map_err(|e| Error::new(format!("temporary file: {e}")))?;
        let file = tmp
            .reopen()
            .map_err(|e| Error::new(format!("temporary file: {e}")))?;
        let mut w = reel_format::package::PackageWriter::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            reel_format::package::WriterOptions {
                level: 0,
                producer: format!("reel {}", env!("CARGO_PKG_VERSION")),
                redaction: None,
            },
        );
        spool.write_into(&mut w, &mut |_| {})?;
        let (buf, _) = w.finish(None)?;
        buf.into_inner()
            .map_err(|e| Error::new(format!("temporary file: {}", e.error())))?;
        let file = tmp
            .reopen()
            .map_err(|e| Error::new(format!("temporary file: {e}")))?;
        self.add_package(std::io::BufReader::with_capacity(1 << 20, file))
    }

    /// Write what is left and the files' footers, flush the outputs; the counts of rows written.
    pub fn finish(self) -> Result<Counts, Error> {
        let (counts, mut s, mut e) = self.finish_into_inner()?;
        s.flush()
            .and_then(|_| e.flush())
            .map_err(|e| Error::new(format!("writing Parquet: {e}")))?;
        Ok(counts)
    }

    /// [`Tables::finish`], giving the outputs back (not flushed) for callers that need them
    /// (buffers, uploads to complete).
    pub fn finish_into_inner(self) -> Result<(Counts, W, W), Error> {
        let s = self.sessions.finish()?;
        let e = self.events.finish()?;
        Ok((self.counts, s, e))
    }
}

/// Bytes of a string column's rows not yet encoded.
fn string_bytes(b: &StringBuilder) -> usize {
    use arrow_array::builder::ArrayBuilder;
    b.values_slice().len() + b.len() * 4
}
