//! Video: the player's frames on a fixed time grid, piped raw to ffmpeg (Debian's `ffmpeg`).
//!
//! Frames come from `Renderer::steps`: the player steps through up to 240 frame times in one call
//! and stops at the first frame whose *page* changed (events that change pixels, a styled hover,
//! window, size); only then is the page captured. The cursor and click ripples of every frame are
//! drawn here onto the last capture ([`crate::compose`]), and a frame is sent to ffmpeg only when
//! its picture differs from the previous one, with its time ([`crate::mkv`]): the encoder works
//! once per change, not once per frame.
use crate::{Error, Options, Renderer};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Output container and codec, from the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// H.264, yuv420p, faststart.
    Mp4,
    /// VP9.
    Webm,
    /// Palette GIF.
    Gif,
}

impl Format {
    /// The format named by `path`'s extension (`.mp4`, `.webm`, `.gif`, any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "mp4" => Some(Format::Mp4),
            "webm" => Some(Format::Webm),
            "gif" => Some(Format::Gif),
            _ => None,
        }
    }

    /// Default frames per second: 24, GIF 12.
    pub fn default_fps(self) -> f64 {
        if self == Format::Gif {
            12.0
        } else {
            24.0
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Format::Mp4 => &[
                "-vf",
                "scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                // One encoding thread: ≈ 30 MB less than x264's three frame threads here, and at
                // ≈ 150 stored frames a second still faster than the browser captures pages.
                "-threads",
                "1",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
            ],
            Format::Webm => &[
                "-c:v",
                "libvpx-vp9",
                "-pix_fmt",
                "yuv420p",
                "-crf",
                "30",
                "-b:v",
                "0",
                "-deadline",
                "realtime",
                "-cpu-used",
                "5",
                "-row-mt",
                "1",
                "-f",
                "webm",
            ],
            Format::Gif => &[
                "-vf",
                "split[a][b];[a]palettegen[p];[b][p]paletteuse",
                "-f",
                "gif",
            ],
        }
    }
}

/// The ffmpeg binary: `REEL_FFMPEG`, else `ffmpeg` on PATH.
pub fn find_ffmpeg() -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os("REEL_FFMPEG").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::FfmpegMissing)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("ffmpeg"))
        .find(|p| p.is_file())
        .ok_or(Error::FfmpegMissing)
}

/// What part of the session, how fast.
#[derive(Debug, Clone)]
pub struct VideoOptions {
    pub format: Format,
    /// Seconds from the session's first event.
    pub from: f64,
    /// Default: the end of the session.
    pub to: Option<f64>,
    pub fps: f64,
    /// Recording seconds per video second (1: the video lasts `to − from`).
    pub speed: f64,
    /// Jump over the inactive stretches as the player does.
    pub skip_inactivity: bool,
    /// Browsers rendering separate blocks of frames at once (1 to 8).
    pub threads: usize,
}

/// Frames per block handed to one browser (and per DevTools call at most).
const BLOCK: usize = 240;

/// A renderer collects the page's garbage after this many blocks (its heap would otherwise swing
/// by a hundred MB between V8's own collections; measured: ≈ 1 % of the render's time).
const GC_EVERY: usize = 8;

/// Recording times of the frames: every `speed / fps` seconds from `from` to before `to`, jumping
/// to the end of an inactive stretch when a time falls inside one (like the player's playback).
pub fn frame_times(v: &VideoOptions, to: f64, inactive: &[(f64, f64)]) -> Vec<f64> {
    let step = v.speed / v.fps;
    if !v.skip_inactivity {
        let n = (((to - v.from) / step).round() as u64).max(1);
        return (0..n).map(|k| (v.from + k as f64 * step).min(to)).collect();
    }
    let mut out = Vec::new();
    let mut t = v.from;
    while t < to - step / 2.0 || out.is_empty() {
        if let Some(&(_, b)) = inactive.iter().find(|(a, b)| t > *a && t < *b) {
            t = b;
            if t >= to {
                break;
            }
        }
        out.push(t.min(to));
        t += step;
    }
    out
}

/// What was rendered.
#[derive(Debug, Clone)]
pub struct VideoStats {
    pub session: String,
    pub from: f64,
    pub to: f64,
    /// Frames of the video (at `fps`).
    pub frames: u64,
    /// Page captures taken from the browser (the other frames reuse one, with the cursor and
    /// ripples drawn again where they moved).
    pub captured: u64,
    /// Of those, captures of changed text fields only (the rest of the page kept).
    pub clipped: u64,
    /// Frames handed to the encoder: the others repeat the previous picture and are not stored
    /// again (the video has a variable frame rate on the `fps` grid).
    pub encoded: u64,
}

/// One message of a worker: a new picture for frame `index`, or the end of a block.
enum Msg {
    Frame(usize, std::sync::Arc<Vec<u8>>),
    BlockDone,
}

/// I420 pictures given back by the writer once ffmpeg has them, for the composers to fill again:
/// a render allocates a few pictures instead of one per frame (measured: freed pictures the
/// allocator had not yet returned were most of the process's memory).
#[derive(Default)]
struct Pool(std::sync::Mutex<Vec<Vec<u8>>>);

impl Pool {
    /// Pictures kept for reuse at most (what is in flight is bounded by the channels).
    const KEEP: usize = 16;

    /// A picture of `len` bytes (its content is stale: the caller overwrites it).
    fn get(&self, len: usize) -> Vec<u8> {
        let got = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match got {
            Some(v) if v.len() == len => v,
            _ => vec![0; len],
        }
    }

    /// Give a picture back, if nobody else holds it.
    fn put(&self, f: std::sync::Arc<Vec<u8>>) {
        if let Ok(v) = std::sync::Arc::try_unwrap(f) {
            let mut free = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if free.len() < Self::KEEP {
                free.push(v);
            }
        }
    }
}

/// The page a worker captured last: as RGB (to draw on) and as I420 (to send as is).
struct Page {
    rgb: crate::compose::Rgb,
    yuv: std::sync::Arc<Vec<u8>>,
    geo: crate::compose::Geo,
}

/// Render `v.from..v.to` of the session in the player page `html` into `out` (overwritten).
/// `progress(done, total)` is called after every block of frames.
pub fn video(
    html: &str,
    opts: &Options,
    v: &VideoOptions,
    out: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<VideoStats, Error> {
    if !(v.fps > 0.0 && v.fps <= 120.0) {
        return Err(Error::BadRange(format!(
            "--fps {}: frames per second from 1 to 120",
            v.fps
        )));
    }
    let ffmpeg = find_ffmpeg()?;
    let r = Renderer::open(html, opts)?;
    let to = v.to.unwrap_or(r.info.duration);
    r.check(v.from)?;
    r.check(to)?;
    if v.from >= to {
        return Err(Error::BadRange(format!(
            "--from {} must be before --to {to}",
            v.from
        )));
    }
    if !(v.speed > 0.0 && v.speed <= 1000.0) {
        return Err(Error::BadRange(format!(
            "--speed {}: from above 0 to 1000",
            v.speed
        )));
    }
    let times = frame_times(v, to, &r.info.inactive);
    let session = r.info.session.clone();
    let total = times.len() as u64;
    let (w, h) = (opts.width, opts.height);
    let rate = format!("{}", v.fps);
    // `REEL_X264_PRESET`: another x264 speed/size trade-off for MP4 (default veryfast; on the
    // 10-minute benchmark superfast was no faster overall and wrote 21 % more bytes).
    let preset = std::env::var("REEL_X264_PRESET").ok().filter(|p| {
        [
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
        ]
        .contains(&p.as_str())
    });
    // Frames arrive with their times (Matroska, raw I420): only changed pictures are sent, and
    // the encoder stores each once, with its duration (variable frame rate on the fps grid).
    let mut child = Command::new(&ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "matroska", "-i", "pipe:0"])
        .args(v.format.args().iter().map(|a| match (*a, &preset) {
            ("veryfast", Some(p)) => p.as_str(),
            _ => a,
        }))
        .args(["-vsync", "vfr", "-r", &rate])
        // GIF: the last frame lasts one frame (not as long as the one before it).
        .args(match v.format {
            Format::Gif => vec![
                "-final_delay".to_string(),
                format!("{}", (100.0 / v.fps).round().max(1.0)),
            ],
            _ => vec![],
        })
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Encode(format!("cannot start {}: {e}", ffmpeg.display())))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    // A writer thread, so the browser renders the next frames while ffmpeg encodes these.
    let frame_ns = (1e9 / v.fps).round() as u64;
    // Frames waiting for ffmpeg: each holds its own 1.4 MB picture when the cursor moved.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, std::sync::Arc<Vec<u8>>)>(2);
    let pool = std::sync::Arc::new(Pool::default());
    let back = pool.clone();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut mkv = crate::mkv::Writer::new(std::io::BufWriter::new(stdin), w, h, frame_ns)?;
        for (t_us, f) in rx {
            mkv.frame(t_us, &f)?;
            back.put(f);
        }
        mkv.into_inner().flush()
    });
    // Blocks of BLOCK frames go round-robin to `threads` browsers; frames are written in order.
    let threads = v.threads.clamp(1, 8);
    let blocks: Vec<&[f64]> = times.chunks(BLOCK).collect();
    let last_block = blocks.len().saturating_sub(1);
    let mut result = Ok(());
    let mut encoded = 0u64;
    let captured = std::sync::atomic::AtomicU64::new(0);
    let clipped = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        let mut inputs: Vec<std::sync::mpsc::Receiver<Result<Msg, Error>>> = Vec::new();
        let mut first = Some(r);
        for wk in 0..threads {
            // Frames are written in order: a renderer working on a later block waits until the
            // block before it is written. Room for half a block lets it keep going meanwhile
            // (most messages share the page's picture; at most this many hold their own 1.4 MB).
            let (ftx, frx) = std::sync::mpsc::sync_channel::<Result<Msg, Error>>(if threads > 1 {
                BLOCK / 2
            } else {
                4
            });
            inputs.push(frx);
            let mine: Vec<(usize, &[f64])> = blocks
                .iter()
                .copied()
                .enumerate()
                .skip(wk)
                .step_by(threads)
                .collect();
            let renderer = first.take();
            let captured = &captured;
            let clipped = &clipped;
            // Each renderer is two threads: one drives the browser (`drive`: steps and captures),
            // a composer decodes the captures and draws the frames, so Chromium works meanwhile.
            let (jtx, jrx) = std::sync::mpsc::sync_channel::<Job>(JOBS);
            let pool = &*pool;
            scope.spawn(move || compose_frames(jrx, ftx, wk, pool));
            scope.spawn(move || {
                let renderer = match renderer {
                    Some(r) => Ok(r),
                    None => Renderer::open(html, opts),
                };
                match renderer.and_then(|r| drive(r, &mine, threads, last_block, &jtx, wk)) {
                    Ok((c, k)) => {
                        captured.fetch_add(c, std::sync::atomic::Ordering::Relaxed);
                        clipped.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) => {
                        let _ = jtx.send(Job::Fail(e));
                    }
                }
            });
        }
        'blocks: for (b, block) in blocks.iter().enumerate() {
            let rx = &inputs[b % threads];
            loop {
                match rx.recv() {
                    Ok(Ok(Msg::Frame(i, f))) => {
                        let t_us = (i as f64 * 1e6 / v.fps).round() as u64;
                        if tx.send((t_us, f)).is_err() {
                            break 'blocks;
                        }
                        encoded += 1;
                    }
                    Ok(Ok(Msg::BlockDone)) => break,
                    Ok(Err(e)) => {
                        result = Err(e);
                        break 'blocks;
                    }
                    Err(_) => {
                        result = Err(Error::Browser("a renderer stopped".into()));
                        break 'blocks;
                    }
                }
            }
            progress((b * BLOCK + block.len()) as u64, total);
        }
        // Dropping the receivers stops the workers that are still rendering.
        drop(inputs);
    });
    drop(tx);
    let written = writer.join();
    if result.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let log = errors.join().unwrap_or_default();
    result?;
    if !status.success() || !matches!(written, Ok(Ok(()))) {
        let line = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(Error::Encode(format!("ffmpeg failed: {line}")));
    }
    Ok(VideoStats {
        session,
        from: v.from,
        to,
        frames: total,
        captured: captured.into_inner(),
        clipped: clipped.into_inner(),
        encoded,
    })
}

/// A renderer's browser thread: step the player through its blocks `mine`, capture the page when
/// it changed and hand captures and frames to the composer (`jobs`), in frame order. Returns the
/// number of page captures and how many of them were a rectangle only. Stops quietly when the
/// composer is gone (the render was stopped).
fn drive(
    mut r: Renderer,
    mine: &[(usize, &[f64])],
    threads: usize,
    last_block: usize,
    jtx: &std::sync::mpsc::SyncSender<Job>,
    wk: usize,
) -> Result<(u64, u64), Error> {
    let mut prof = Profile::default();
    // Where the page of the composer's last capture is drawn.
    let mut page_geo: Option<crate::compose::Geo> = None;
    for &(b, block) in mine {
        // With several browsers the frame before a block came from another one.
        if threads > 1 && jtx.send(Job::Forget).is_err() {
            return Ok((r.captures, r.clipped));
        }
        let mut k = 0;
        while k < block.len() {
            let t0 = std::time::Instant::now();
            let st = r.steps(&block[k..])?;
            prof.steps += t0.elapsed();
            let n = st.overlays.len();
            for (j, o) in st.overlays.into_iter().enumerate() {
                if j == st.changed {
                    // Only text fields changed: capture their rectangle into the last page.
                    let clip = st.clip.filter(|_| page_geo == Some(st.geo));
                    let t0 = std::time::Instant::now();
                    let shot = r.capture(clip)?;
                    prof.capture += t0.elapsed();
                    page_geo = Some(st.geo);
                    let job = match clip {
                        Some(rect) => Job::Clip(shot, rect),
                        None => Job::Page(shot, st.geo),
                    };
                    if jtx.send(job).is_err() {
                        return Ok((r.captures, r.clipped));
                    }
                }
                let sprite = match (&o.cursor, page_geo) {
                    (Some(_), Some(g)) => Some(r.sprite(g.s)?),
                    _ => None,
                };
                let end = b == last_block && k + j + 1 == block.len();
                let t0 = std::time::Instant::now();
                let job = Job::Frame {
                    index: b * BLOCK + k + j,
                    overlay: o,
                    sprite,
                    force: end,
                };
                if jtx.send(job).is_err() {
                    return Ok((r.captures, r.clipped));
                }
                prof.send += t0.elapsed();
            }
            k += n;
        }
        if jtx.send(Job::BlockDone).is_err() {
            return Ok((r.captures, r.clipped));
        }
        if (b / threads + 1).is_multiple_of(GC_EVERY) {
            let t0 = std::time::Instant::now();
            r.collect_garbage()?;
            prof.gc += t0.elapsed();
        }
    }
    if std::env::var_os("REEL_RENDER_PROFILE").is_some() {
        eprintln!(
            "renderer {wk}: {prof:?} ({} captures, {} of a rectangle)",
            r.captures, r.clipped
        );
    }
    Ok((r.captures, r.clipped))
}

/// Jobs from a renderer's browser thread to its composer, in frame order.
enum Job {
    /// A capture of the whole page, drawn at `Geo`.
    Page(crate::Capture, crate::compose::Geo),
    /// A capture of a rectangle of the page (only text fields changed there).
    Clip(crate::Capture, crate::compose::Rect),
    /// Frame `index`: the last page with this overlay (`force`: sent even if unchanged).
    Frame {
        index: usize,
        overlay: crate::compose::Overlay,
        sprite: Option<std::sync::Arc<crate::compose::Sprite>>,
        force: bool,
    },
    /// The next frame follows another renderer's: do not compare with the last one sent.
    Forget,
    BlockDone,
    Fail(Error),
}

/// Jobs waiting for a composer (each capture holds its PNG, up to a few MB): enough for the
/// browser thread to go on while the composer decodes, few enough to bound a render's memory.
const JOBS: usize = 8;

/// A renderer's composer: decode captures, draw cursor and ripples, send changed pictures on.
fn compose_frames(
    jobs: std::sync::mpsc::Receiver<Job>,
    out: std::sync::mpsc::SyncSender<Result<Msg, Error>>,
    wk: usize,
    pool: &Pool,
) {
    let mut work = Worker::default();
    let mut prof = ComposeProfile::default();
    for job in jobs {
        let t0 = std::time::Instant::now();
        let msg = match job {
            Job::Page(shot, geo) => match shot.decode() {
                Ok(rgb) => {
                    prof.decode += t0.elapsed();
                    let t1 = std::time::Instant::now();
                    let mut yuv = pool.get(crate::compose::i420_len(rgb.w, rgb.h));
                    crate::compose::to_i420(&rgb, &mut yuv, crate::compose::Rect::all(&rgb));
                    let yuv = std::sync::Arc::new(yuv);
                    if let Some(old) = work.page.take() {
                        pool.put(old.yuv);
                    }
                    prof.convert += t1.elapsed();
                    work.page = Some(Page { rgb, yuv, geo });
                    work.last = None;
                    continue;
                }
                Err(e) => Err(e),
            },
            Job::Clip(shot, rect) => match (shot.decode(), work.page.as_mut()) {
                (Ok(patch), Some(page)) => {
                    prof.decode += t0.elapsed();
                    let t1 = std::time::Instant::now();
                    crate::compose::paste(&mut page.rgb, &patch, rect);
                    if std::sync::Arc::get_mut(&mut page.yuv).is_none() {
                        // A frame still waiting for ffmpeg shows it: draw into another picture.
                        let mut copy = pool.get(page.yuv.len());
                        copy.copy_from_slice(&page.yuv);
                        page.yuv = std::sync::Arc::new(copy);
                    }
                    let yuv = std::sync::Arc::get_mut(&mut page.yuv).expect("held only here");
                    crate::compose::to_i420(&page.rgb, yuv, rect);
                    prof.convert += t1.elapsed();
                    work.last = None;
                    continue;
                }
                (Err(e), _) => Err(e),
                (_, None) => Err(Error::Browser("a rectangle came before any page".into())),
            },
            Job::Frame {
                index,
                overlay,
                sprite,
                force,
            } => match work.frame(overlay, sprite.as_deref(), force, pool) {
                Ok(Some(f)) => {
                    prof.compose += t0.elapsed();
                    Ok(Msg::Frame(index, f))
                }
                Ok(None) => continue,
                Err(e) => Err(e),
            },
            Job::Forget => {
                work.last = None;
                continue;
            }
            Job::BlockDone => Ok(Msg::BlockDone),
            Job::Fail(e) => Err(e),
        };
        let failed = msg.is_err();
        let t1 = std::time::Instant::now();
        if out.send(msg).is_err() || failed {
            break;
        }
        prof.send += t1.elapsed();
    }
    if std::env::var_os("REEL_RENDER_PROFILE").is_some() {
        eprintln!("composer {wk}: {prof:?}");
    }
}

/// Where a renderer's browser thread spent its time (`REEL_RENDER_PROFILE=1` prints it):
/// stepping through frames in the player, page captures (DevTools round trip and Chromium's PNG),
/// waiting for its composer.
#[derive(Debug, Default)]
struct Profile {
    steps: std::time::Duration,
    capture: std::time::Duration,
    send: std::time::Duration,
    gc: std::time::Duration,
}

/// Where a composer spent its time: decoding captures (base64, PNG), converting to I420, drawing
/// the overlay, waiting for the encoder.
#[derive(Debug, Default)]
struct ComposeProfile {
    decode: std::time::Duration,
    convert: std::time::Duration,
    compose: std::time::Duration,
    send: std::time::Duration,
}

/// A composer's drawing state: the page captured last, the overlay drawn last, a scratch image.
#[derive(Default)]
struct Worker {
    page: Option<Page>,
    last: Option<crate::compose::Overlay>,
    scratch: Option<crate::compose::Rgb>,
}

impl Worker {
    /// The picture of a frame with overlay `o` (cursor image `sprite`) on the current page, or
    /// `None` when it is the same as the previous frame's (unless `force`).
    fn frame(
        &mut self,
        o: crate::compose::Overlay,
        sprite: Option<&crate::compose::Sprite>,
        force: bool,
        pool: &Pool,
    ) -> Result<Option<std::sync::Arc<Vec<u8>>>, Error> {
        use crate::compose;
        if !force && self.last.as_ref() == Some(&o) {
            return Ok(None);
        }
        let page = self
            .page
            .as_ref()
            .ok_or_else(|| Error::Browser("no page captured before the first frame".into()))?;
        let sprite = sprite.filter(|_| o.cursor.is_some());
        let size = sprite.map_or((0, 0), |s| (s.w, s.h));
        let out = match o.bounds(&page.geo, size, page.rgb.w, page.rgb.h) {
            None => page.yuv.clone(),
            Some(rect) => {
                let scratch = self.scratch.get_or_insert_with(|| page.rgb.clone());
                if (scratch.w, scratch.h) != (page.rgb.w, page.rgb.h) {
                    *scratch = page.rgb.clone();
                }
                let row = page.rgb.w * 3;
                for y in rect.y0..rect.y1 {
                    let a = y * row + rect.x0 * 3;
                    let b = y * row + rect.x1 * 3;
                    scratch.px[a..b].copy_from_slice(&page.rgb.px[a..b]);
                }
                compose::draw(scratch, &page.geo, &o, sprite, rect);
                let mut yuv = pool.get(page.yuv.len());
                yuv.copy_from_slice(&page.yuv);
                compose::to_i420(scratch, &mut yuv, rect);
                std::sync::Arc::new(yuv)
            }
        };
        self.last = Some(o);
        Ok(Some(out))
    }
}
