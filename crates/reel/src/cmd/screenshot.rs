use crate::ui;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Render what the player shows at an instant as a PNG (headless Chromium; Debian package
/// `chromium`, or set REEL_CHROMIUM). The recorded page is scaled to fit the frame and
/// letterboxed, with the cursor, as in the player's `#t=SECONDS` view.
///
/// Examples:
///   reel screenshot session.reel.zip --at 12.5 -o frame.png
///   reel screenshot recording.json --at 5,12.5,30 -o frames/    # frames/<session>-5.png, ...
///   reel screenshot many.reel.zip --session 0192ab --at 3 --size 1920x1080 -o shot.png
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A package or any file `reel pack` accepts.
    input: PathBuf,
    /// Instant(s) in seconds from the session's first event, comma-separated.
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    at: Vec<f64>,
    /// Output PNG; a folder (ending in `/`, existing, or with several --at) gets
    /// `<session>-<seconds>.png` per instant.
    #[arg(short, long)]
    output: PathBuf,
    /// Which session of a multi-session package (default: the first).
    #[arg(long)]
    session: Option<String>,
    /// Frame size in pixels.
    #[arg(long, default_value = "1280x720", value_parser = reel_render::parse_size, value_name = "WxH")]
    size: (u32, u32),
    #[command(flatten)]
    limits: ui::LimitArgs,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(t) = a.at.iter().find(|t| !t.is_finite() || **t < 0.0) {
        bail!("--at {t}: instants are seconds from the start of the recording (0 or more)");
    }
    let out = a.output.to_string_lossy();
    let to_dir = a.at.len() > 1 || out.ends_with('/') || a.output.is_dir();
    // Check the output before starting a browser: an unwritable place fails now, with no file.
    let dir = if to_dir {
        std::fs::create_dir_all(&a.output)
            .with_context(|| format!("{}: cannot create the folder", a.output.display()))?;
        a.output.clone()
    } else {
        a.output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    tempfile::Builder::new()
        .prefix(".reel-tmp-")
        .tempfile_in(&dir)
        .with_context(|| format!("{}: cannot write in {}", a.output.display(), dir.display()))?;
    let html = super::export::player_page(&a.input, a.limits.limits())?;
    let opts = reel_render::Options {
        width: a.size.0,
        height: a.size.1,
        session: a.session.clone(),
        panels: Vec::new(),
    };
    let mut written = Vec::new();
    reel_render::screenshots(&html, &opts, &a.at, |r, i, png| {
        let path = if to_dir {
            dir.join(format!("{}-{}.png", file_safe(&r.session), a.at[i]))
        } else {
            a.output.clone()
        };
        ui::write_atomic(&path, |f| {
            use std::io::Write;
            use std::os::unix::fs::PermissionsExt;
            // An image to share: readable like any new file (temp files are created 0600).
            f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            f.write_all(&png)?;
            Ok(())
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        written.push(path);
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    for p in &written {
        crate::outln!("{}", p.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A session id as a file name part: anything but letters, digits, `.`, `_` and `-` becomes `_`.
fn file_safe(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("session{s}")
    } else {
        s
    }
}
