//! Reel's renderer: what the player shows at an instant, as a PNG, rendered by headless Chromium.
//!
//! The caller gives the player page with the recording inside (`reel_server::assets::offline_html`,
//! the same page `reel export --html` writes) and the instants; this crate writes the page into a
//! temporary folder, opens it in render mode (`player.html?render`: only the replayed page, scaled
//! to fit, letterboxed) and, per instant, calls the player's `window.__reel.seek(SECONDS)` (which
//! resolves once the frame is settled) and captures the page.
//!
//! *Invariant:* no HTTP, no storage, no knowledge of the recording format: the player does the
//! reading, so a frame is exactly what the player shows.
#![forbid(unsafe_code)]
mod cdp;
pub mod video;

pub use cdp::{find_chromium, Browser};
use serde_json::json;

/// What can go wrong; each message is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("chromium not found: install Debian's package (apt-get install chromium), or set REEL_CHROMIUM to a Chromium binary")]
    ChromiumMissing,
    #[error("no session {0:?} in the recording (sessions: {1})")]
    UnknownSession(String, String),
    #[error("session {0} has no full snapshot: there is no page to draw")]
    NoFullSnapshot(String),
    #[error("{at} s is outside the recording of session {session} (0 to {duration} s)")]
    OutOfRange {
        at: f64,
        duration: f64,
        session: String,
    },
    #[error("ffmpeg not found: install Debian's package (apt-get install ffmpeg), or set REEL_FFMPEG to an ffmpeg binary")]
    FfmpegMissing,
    #[error("{0}")]
    BadRange(String),
    #[error("{0}")]
    Encode(String),
    #[error("the player could not open the recording: {0}")]
    Load(String),
    #[error("{0}")]
    Browser(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What to render.
#[derive(Debug, Clone)]
pub struct Options {
    /// Frame size in pixels (the recorded page is scaled to fit, letterboxed).
    pub width: u32,
    pub height: u32,
    /// Session id (a package may hold several); `None`: the first.
    pub session: Option<String>,
    /// Player side panels shown beside the page (`console`, `network`, `events`, `meta`, `dom`).
    pub panels: Vec<String>,
}

/// The player's panels.
pub const PANELS: [&str; 5] = ["console", "network", "events", "meta", "dom"];

/// The session that was rendered.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub session: String,
    /// Length of the session in seconds (instants are seconds from its first event).
    pub duration: f64,
    /// Inactive stretches `(from, to)` in seconds, as the player skips them.
    pub inactive: Vec<(f64, f64)>,
}

/// Largest frame side accepted.
pub const MAX_SIDE: u32 = 7680;

/// Parse `WxH` (e.g. `1280x720`).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x720"))?;
    let side = |v: &str| -> Result<u32, String> {
        match v.trim().parse::<u32>() {
            Ok(n) if (16..=MAX_SIDE).contains(&n) => Ok(n),
            _ => Err(format!(
                "size {s:?}: each side must be a whole number from 16 to {MAX_SIDE}"
            )),
        }
    };
    Ok((side(w)?, side(h)?))
}

/// The player page open in headless Chromium in render mode, on one session.
pub struct Renderer {
    browser: Browser,
    /// The session shown.
    pub info: Rendered,
}

impl Renderer {
    /// Launch Chromium, open the player page `html` (with its recording embedded) at the frame size
    /// and pick the session. Fails if the session is unknown or has no full snapshot.
    pub fn open(html: &str, opts: &Options) -> Result<Renderer, Error> {
        if let Some(p) = opts.panels.iter().find(|p| !PANELS.contains(&p.as_str())) {
            return Err(Error::BadRange(format!(
                "--panels {p}: one of {}",
                PANELS.join(", ")
            )));
        }
        let mut b = Browser::launch(opts.width, opts.height)?;
        let page = b.dir().join("player.html");
        std::fs::write(&page, html)?;
        let mut url = format!("{}?render", file_url(&page));
        if !opts.panels.is_empty() {
            url.push_str(&format!("&panels={}", opts.panels.join(",")));
        }
        b.call("Page.navigate", json!({ "url": url }))?;
        // Wait for the player page (not the blank one before it) and its recording to load.
        let wait = "new Promise((ok) => { const go = () => (location.protocol === 'file:' && window.__reel) \
                    ? ok(window.__reel.ready.then(() => true)) : setTimeout(go, 20); go(); })";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            match b.eval(wait)? {
                Ok(_) => break,
                // The evaluation can hit the blank page while it is being replaced: ask again.
                Err(e) if e.contains("context") && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Err(e) => return Err(Error::Load(e)),
            }
        }
        let info = match &opts.session {
            Some(id) => b.eval(&format!("window.__reel.open({})", json!(id)))?,
            None => b.eval("window.__reel.info()")?,
        };
        let info = info.map_err(|e| match &opts.session {
            Some(id) if e.starts_with("no session") => {
                let list = e.split("(sessions: ").nth(1).unwrap_or(")");
                Error::UnknownSession(id.clone(), list.trim_end_matches(')').to_string())
            }
            _ => Error::Load(e),
        })?;
        let r = Rendered {
            session: info["session"].as_str().unwrap_or_default().to_string(),
            duration: info["duration"].as_f64().unwrap_or(0.0) / 1000.0,
            inactive: info["inactive"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|p| Some((p[0].as_f64()? / 1000.0, p[1].as_f64()? / 1000.0)))
                        .collect()
                })
                .unwrap_or_default(),
        };
        if info["drawable"] != json!(true) {
            return Err(Error::NoFullSnapshot(r.session));
        }
        Ok(Renderer {
            browser: b,
            info: r,
        })
    }

    /// `Err(OutOfRange)` unless `t` lies within the session.
    pub fn check(&self, t: f64) -> Result<(), Error> {
        if t >= 0.0 && t <= self.info.duration {
            Ok(())
        } else {
            Err(Error::OutOfRange {
                at: t,
                duration: self.info.duration,
                session: self.info.session.clone(),
            })
        }
    }

    /// The frame at `t` seconds as PNG.
    pub fn png(&mut self, t: f64) -> Result<Vec<u8>, Error> {
        self.browser
            .eval(&format!("window.__reel.seek({t})"))?
            .map_err(Error::Browser)?;
        self.capture(json!({"format": "png"}))
    }

    /// Show the instants `times` (seconds, increasing) one after the other and stop at the first
    /// whose frame differs from the previous one shown this way: returns its index and its JPEG
    /// (`None` with `times.len()` when no frame changed). For sequences: frames before the index
    /// look like the previous image.
    pub fn until_change(
        &mut self,
        times: &[f64],
        quality: u8,
    ) -> Result<(usize, Option<Vec<u8>>), Error> {
        let i = self
            .browser
            .eval(&format!("window.__reel.until({})", json!(times)))?
            .map_err(Error::Browser)?
            .as_u64()
            .ok_or_else(|| Error::Browser("the player gave no frame index".into()))?
            as usize;
        if i >= times.len() {
            return Ok((times.len(), None));
        }
        let jpeg =
            self.capture(json!({"format": "jpeg", "quality": quality, "optimizeForSpeed": true}))?;
        Ok((i, Some(jpeg)))
    }

    fn capture(&mut self, params: serde_json::Value) -> Result<Vec<u8>, Error> {
        let shot = self.browser.call("Page.captureScreenshot", params)?;
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().unwrap_or_default(),
        )
        .map_err(|e| Error::Browser(format!("screenshot: {e}")))
    }
}

/// Render the player page `html` (with its recording embedded) at each instant of `at` (seconds
/// from the session's first event) and hand every PNG to `each(index, png)` in order. Nothing is
/// captured before the session and every instant have been checked.
pub fn screenshots(
    html: &str,
    opts: &Options,
    at: &[f64],
    mut each: impl FnMut(&Rendered, usize, Vec<u8>) -> Result<(), Error>,
) -> Result<Rendered, Error> {
    let mut r = Renderer::open(html, opts)?;
    for &t in at {
        r.check(t)?;
    }
    for (i, &t) in at.iter().enumerate() {
        let png = r.png(t)?;
        each(&r.info, i, png)?;
    }
    Ok(r.info)
}

/// `file://` URL of an absolute path, bytes outside a safe set percent-encoded.
fn file_url(p: &std::path::Path) -> String {
    let mut s = String::from("file://");
    for b in p.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(super::parse_size("1280x720"), Ok((1280, 720)));
        assert!(super::parse_size("1280")
            .unwrap_err()
            .contains("WIDTHxHEIGHT"));
        assert!(super::parse_size("0x720").unwrap_err().contains("16 to"));
    }
}
