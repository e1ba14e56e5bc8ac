use crate::ui;
use anyhow::{bail, Context};
use reel_render::video::{Format, VideoOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Render a recording as a video file: MP4 (H.264), WebM (VP9) or GIF, chosen by OUT's extension.
/// Frames are what the player shows (the page scaled to fit, letterboxed, with the cursor and click
/// ripples), taken by headless Chromium (Debian package `chromium`) and encoded by ffmpeg (package
/// `ffmpeg`). The page is captured again only when it changed (the cursor is drawn onto the last
/// capture), and a picture is stored once for as long as it lasts: the video has a variable frame
/// rate on the `--fps` grid (`ffmpeg -i IN -vf fps=24 OUT` makes it constant for editors that need
/// it). The video lasts `--to` − `--from` (divided by `--speed`; shorter with `--skip-inactivity`).
///
/// Examples:
///   reel video session.reel.zip -o session.mp4
///   reel video recording.json --from 10 --to 25 --size 800x450 -o clip.gif
///   reel video many.reel.zip --session 0192ab --fps 30 -o s.webm
///   reel video long.reel.zip --speed 4 --skip-inactivity -o summary.mp4
///   reel video session.reel.zip --panels console,network -o with-console.mp4
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A package or any file `reel pack` accepts.
    input: PathBuf,
    /// Output file: .mp4, .webm or .gif.
    #[arg(short, long)]
    output: PathBuf,
    /// Which session of a multi-session package (default: the first).
    #[arg(long)]
    session: Option<String>,
    /// Start, in seconds from the session's first event.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    from: f64,
    /// End, in seconds from the session's first event (default: the end of the session).
    #[arg(long, allow_negative_numbers = true)]
    to: Option<f64>,
    /// Frames per second (default 24; GIF 12).
    #[arg(long)]
    fps: Option<f64>,
    /// Player side panels beside the page, comma-separated: console, network, events, meta, dom.
    #[arg(long, value_delimiter = ',')]
    panels: Vec<String>,
    /// Recording seconds per video second (2: the video is twice as fast, half as long).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Shorten inactive stretches (no activity for over 5 s) as the player does.
    #[arg(long)]
    skip_inactivity: bool,
    /// Browsers rendering separate parts at once (1 to 8; each ≈ 225 MB plus its copy of the
    /// recording). On 2 cores, 2 rendered the 10-minute benchmark 1.3× faster (7.5× real time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
    threads: u8,
    /// Frame size in pixels.
    #[arg(long, default_value = "1280x720", value_parser = reel_render::parse_size, value_name = "WxH")]
    size: (u32, u32),
    /// Print what was rendered as one JSON object on stdout (output, session, from, to, frames,
    /// stored, captures, clipped, seconds, speed).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let Some(format) = Format::from_path(&a.output) else {
        bail!(
            "{}: unknown extension; use .mp4, .webm or .gif",
            a.output.display()
        );
    };
    if !a.from.is_finite() || a.from < 0.0 {
        bail!(
            "--from {}: seconds from the start of the recording (0 or more)",
            a.from
        );
    }
    reel_render::video::find_ffmpeg()?;
    let dir = a
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // The video is written next to OUT and renamed when complete: no partial file on failure.
    let tmp = tempfile::Builder::new()
        .prefix(".reel-tmp-")
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot write in {}", a.output.display(), dir.display()))?;
    let html = super::export::player_page(&a.input, a.limits.limits())?;
    let opts = reel_render::Options {
        width: a.size.0,
        height: a.size.1,
        session: a.session.clone(),
        panels: a.panels.clone(),
    };
    let v = VideoOptions {
        format,
        from: a.from,
        to: a.to,
        fps: a.fps.unwrap_or(format.default_fps()),
        speed: a.speed,
        skip_inactivity: a.skip_inactivity,
        threads: a.threads.into(),
    };
    let bar = frames_bar();
    let started = std::time::Instant::now();
    let stats = reel_render::video::video(&html, &opts, &v, tmp.path(), |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    bar.finish_and_clear();
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        tmp.as_file().sync_all()?;
    }
    tmp.persist(&a.output)
        .map_err(|e| anyhow::anyhow!("{}: {}", a.output.display(), e.error))?;
    let secs = started.elapsed().as_secs_f64();
    let speed = (stats.to - stats.from) / secs.max(1e-3);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "output": a.output, "session": stats.session, "from": stats.from, "to": stats.to,
                "frames": stats.frames, "stored": stats.encoded, "captures": stats.captured,
                "clipped": stats.clipped, "seconds": secs, "speed": speed,
            })
        );
    }
    eprintln!(
        "wrote {} ({:.1} s of session {}, {} frames, {} stored, {} page capture{} ({} of a changed field), {:.1}x real time)",
        a.output.display(),
        stats.to - stats.from,
        stats.session,
        stats.frames,
        stats.encoded,
        stats.captured,
        if stats.captured == 1 { "" } else { "s" },
        stats.clipped,
        speed
    );
    Ok(ExitCode::SUCCESS)
}

/// Frames done / total with ETA on a terminal; hidden otherwise.
fn frames_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "rendering [{bar:30}] {pos}/{len} frames eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb
}
