//! Video: the player's frames at a fixed rate, piped as JPEG to ffmpeg (Debian's `ffmpeg`).
//!
//! Frames come from `Renderer::until_change`: the player steps through up to 240 frame times in
//! one call and stops at the first frame in which something visible changed (events applied,
//! cursor, window, size); only that frame is captured, the ones before repeat the previous image.
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
    pub frames: u64,
    /// Frames captured from the browser (the others repeat the previous image).
    pub captured: u64,
}

/// Render `v.from..v.to` of the session in the player page `html` into `out` (overwritten).
/// `progress(done, total)` is called after every frame.
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
    let mut child = Command::new(&ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "image2pipe", "-c:v", "mjpeg", "-framerate"])
        .arg(v.fps.to_string())
        .args(["-i", "pipe:0"])
        .args(v.format.args())
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Encode(format!("cannot start {}: {e}", ffmpeg.display())))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    // A writer thread, so the browser renders the next frames while ffmpeg encodes these.
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::sync::Arc<Vec<u8>>>(64);
    let writer = std::thread::spawn(move || {
        for f in rx {
            if stdin.write_all(&f).is_err() {
                break; // ffmpeg stopped: its message says why
            }
        }
    });
    // Blocks of BLOCK frames go round-robin to `threads` browsers; frames are written in order.
    let threads = v.threads.clamp(1, 8);
    let blocks: Vec<&[f64]> = times.chunks(BLOCK).collect();
    let mut result = Ok(());
    let mut captured = 0;
    let mut done = 0u64;
    std::thread::scope(|scope| {
        type Frame = Result<std::sync::Arc<Vec<u8>>, Error>;
        let mut inputs: Vec<std::sync::mpsc::Receiver<Frame>> = Vec::new();
        let mut first = Some(r);
        for w in 0..threads {
            let (ftx, frx) = std::sync::mpsc::sync_channel::<Frame>(2 * BLOCK);
            inputs.push(frx);
            let mine: Vec<&[f64]> = blocks.iter().skip(w).step_by(threads).copied().collect();
            let renderer = first.take();
            scope.spawn(move || {
                let mut r = match renderer
                    .map(Ok)
                    .unwrap_or_else(|| Renderer::open(html, opts))
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ftx.send(Err(e));
                        return;
                    }
                };
                let mut last = std::sync::Arc::new(Vec::new());
                for block in mine {
                    let mut k = 0;
                    while k < block.len() {
                        let (i, jpeg) = match r.until_change(&block[k..], 85) {
                            Ok(x) => x,
                            Err(e) => {
                                let _ = ftx.send(Err(e));
                                return;
                            }
                        };
                        // Frames k..k+i repeat the previous image; frame k+i is the new one.
                        for _ in 0..i {
                            if ftx.send(Ok(last.clone())).is_err() {
                                return;
                            }
                        }
                        k += i;
                        if let Some(j) = jpeg {
                            last = std::sync::Arc::new(j);
                            if ftx.send(Ok(last.clone())).is_err() {
                                return;
                            }
                            k += 1;
                        }
                    }
                }
            });
        }
        'blocks: for (b, block) in blocks.iter().enumerate() {
            let rx = &inputs[b % threads];
            let mut prev: Option<std::sync::Arc<Vec<u8>>> = None;
            for _ in 0..block.len() {
                match rx.recv() {
                    Ok(Ok(f)) => {
                        if prev.as_ref().is_none_or(|p| !std::sync::Arc::ptr_eq(p, &f)) {
                            captured += 1;
                        }
                        prev = Some(f.clone());
                        if tx.send(f).is_err() {
                            break 'blocks;
                        }
                        done += 1;
                    }
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
            progress(done, total);
        }
        // Dropping the receivers stops the workers that are still rendering.
        drop(inputs);
    });
    drop(tx);
    let _ = writer.join();
    if result.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let log = errors.join().unwrap_or_default();
    result?;
    if !status.success() {
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
        captured,
    })
}
