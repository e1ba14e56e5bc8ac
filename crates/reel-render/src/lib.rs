//! Reel's renderer: what the player shows at an instant, as a PNG, rendered by headless Chromium.
//!
//! The caller gives the player page with the recording inside (`reel_server::assets::offline_html`,
//! the same page `reel export --html` writes) and the instants; this crate writes the page into a
//! temporary folder, opens it in render mode (`player.html?render`: only the replayed page, scaled
//! to fit, letterboxed, without the cursor and click ripples) and, per instant, calls the player's
//! `window.__reel.seek(SECONDS)` (which resolves once the frame is settled), captures the page and
//! draws the cursor and ripples the player reports (`window.__reel.overlay()`) onto it
//! ([`compose`]). Video does the same per frame, but captures the page only when it changed.
//!
//! *Invariant:* no HTTP, no storage, no knowledge of the recording format: the player does the
//! reading, so a frame is exactly what the player shows.
#![forbid(unsafe_code)]
mod cdp;
pub mod compose;
mod mkv;
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
    /// The player's cursor image per scale (in thousandths).
    sprites: std::collections::HashMap<i64, std::sync::Arc<compose::Sprite>>,
    /// Page captures taken.
    pub captures: u64,
    /// Of those, captures of a changed rectangle only.
    pub clipped: u64,
    /// Frame size.
    width: usize,
    height: usize,
    /// `REEL_RENDER_NO_CLIP`: always capture the whole page (to compare).
    no_clip: bool,
}

/// A capture as Chromium sent it (base64 PNG) and the size it must have.
pub struct Capture {
    b64: String,
    size: (usize, usize),
}

impl Capture {
    /// The picture, checked to have the size asked for.
    pub fn decode(&self) -> Result<compose::Rgb, Error> {
        let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &self.b64)
            .map_err(|e| Error::Browser(format!("screenshot: {e}")))?;
        let img = compose::decode_png(&png)?;
        if (img.w, img.h) != self.size {
            return Err(Error::Browser(format!(
                "the browser drew {}x{} instead of {}x{}",
                img.w, img.h, self.size.0, self.size.1
            )));
        }
        Ok(img)
    }
}

/// What `Renderer::steps` found.
#[derive(Debug, Clone)]
pub struct Steps {
    /// Index of the first instant whose page changed (`times.len()`: none).
    pub changed: usize,
    /// Cursor and ripples of each instant stepped through (up to and including `changed`).
    pub overlays: Vec<compose::Overlay>,
    /// Where the page is drawn now.
    pub geo: compose::Geo,
    /// When only text fields changed since the previous capture of this page: the window's
    /// rectangle holding them (the rest of that capture is still what the page shows).
    pub clip: Option<compose::Rect>,
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
        let mut renderer = Renderer {
            browser: b,
            info: r,
            sprites: Default::default(),
            captures: 0,
            clipped: 0,
            width: opts.width as usize,
            height: opts.height as usize,
            no_clip: std::env::var_os("REEL_RENDER_NO_CLIP").is_some_and(|v| !v.is_empty()),
        };
        // Reading the recording left its text and intermediate copies behind (for a long one,
        // more than the recording itself): free them before the frames begin.
        renderer.collect_garbage()?;
        Ok(renderer)
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
        compose::encode_png(&self.frame(t)?)
    }

    /// The frame at `t` seconds: the page captured, the cursor and ripples drawn onto it.
    pub fn frame(&mut self, t: f64) -> Result<compose::Rgb, Error> {
        self.browser
            .eval(&format!("window.__reel.seek({t})"))?
            .map_err(Error::Browser)?;
        let o = self
            .browser
            .eval("window.__reel.overlay()")?
            .map_err(Error::Browser)?;
        let (overlay, geo) = (
            compose::Overlay::from_json(&o),
            compose::Geo::from_json(&o["geo"]),
        );
        let mut img = self.page()?;
        let sprite = self.sprite(geo.s)?;
        let all = compose::Rect::all(&img);
        compose::draw(&mut img, &geo, &overlay, Some(&*sprite), all);
        Ok(img)
    }

    /// Step through the instants `times` (seconds, increasing) and stop at the first whose page
    /// differs from the page shown before (its page is then ready for [`Renderer::capture`]); frames
    /// before it show the same page, only their cursor and ripples differ.
    pub fn steps(&mut self, times: &[f64]) -> Result<Steps, Error> {
        let v = self
            .browser
            .eval(&format!("window.__reel.steps({})", json!(times)))?
            .map_err(Error::Browser)?;
        let changed = v["i"]
            .as_u64()
            .ok_or_else(|| Error::Browser("the player gave no frame index".into()))?
            as usize;
        let overlays: Vec<compose::Overlay> = v["frames"]
            .as_array()
            .map(|f| f.iter().map(compose::Overlay::from_json).collect())
            .unwrap_or_default();
        if overlays.len() != (changed + 1).min(times.len()) {
            return Err(Error::Browser("the player gave too few frames".into()));
        }
        let clip = (!self.no_clip)
            .then(|| compose::Rect::from_clip(&v["clip"], self.width, self.height))
            .flatten();
        Ok(Steps {
            changed,
            overlays,
            geo: compose::Geo::from_json(&v["geo"]),
            clip,
        })
    }

    /// Collect the page's garbage now (V8 and the DOM's heap), so what stepping through many frames
    /// left behind is freed before it piles up.
    pub fn collect_garbage(&mut self) -> Result<(), Error> {
        self.browser
            .call("HeapProfiler.collectGarbage", json!({}))
            .map(|_| ())
    }

    /// The page as shown now, without the cursor and ripples.
    pub fn page(&mut self) -> Result<compose::Rgb, Error> {
        self.capture(None)?.decode()
    }

    /// The page as shown now (or its part `clip`), without cursor and ripples, as Chromium sent it:
    /// decoding is left to the caller, so another thread can do it while the browser goes on.
    pub fn capture(&mut self, clip: Option<compose::Rect>) -> Result<Capture, Error> {
        let mut params =
            json!({"format": "png", "optimizeForSpeed": true, "captureBeyondViewport": false});
        if let Some(r) = clip {
            params["clip"] = json!({"x": r.x0, "y": r.y0, "width": r.x1 - r.x0, "height": r.y1 - r.y0, "scale": 1});
        }
        let mut shot = self.browser.call("Page.captureScreenshot", params)?;
        self.captures += 1;
        self.clipped += u64::from(clip.is_some());
        let b64 = match shot["data"].take() {
            serde_json::Value::String(s) => s,
            _ => return Err(Error::Browser("screenshot: no data".into())),
        };
        let size = match clip {
            Some(r) => (r.x1 - r.x0, r.y1 - r.y0),
            None => (self.width, self.height),
        };
        Ok(Capture { b64, size })
    }

    /// The player's cursor image at `scale`.
    pub fn sprite(&mut self, scale: f64) -> Result<std::sync::Arc<compose::Sprite>, Error> {
        let key = (scale * 1000.0).round() as i64;
        if let Some(s) = self.sprites.get(&key) {
            return Ok(s.clone());
        }
        let v = self
            .browser
            .eval(&format!("window.__reel.sprite({scale})"))?
            .map_err(Error::Browser)?;
        let (w, h) = (
            v["w"].as_u64().unwrap_or(0) as usize,
            v["h"].as_u64().unwrap_or(0) as usize,
        );
        let rgba = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v["rgba"].as_str().unwrap_or_default(),
        )
        .map_err(|e| Error::Browser(format!("cursor image: {e}")))?;
        if w == 0 || w > 1024 || rgba.len() != w * h * 4 {
            return Err(Error::Browser("the player gave no cursor image".into()));
        }
        let s = std::sync::Arc::new(compose::Sprite { w, h, rgba });
        self.sprites.insert(key, s.clone());
        Ok(s)
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
