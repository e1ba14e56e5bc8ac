//! A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`: Chromium reads
//! NUL-terminated JSON commands on its fd 3 and writes responses and events on its fd 4. No
//! WebSocket, no generated protocol bindings: the few commands the renderer sends are plain JSON.
use crate::Error;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames on demand: without a display, Chromium still paces frames (and `requestAnimationFrame`)
/// at 60 Hz; a renderer that asks for one frame after another only waits on that clock.
const FRAME_FLAGS: &[&str] = &["--disable-frame-rate-limit", "--disable-gpu-vsync"];

/// The Chromium binary: `REEL_CHROMIUM`, else `chromium` (Debian), `chromium-browser` or
/// `google-chrome` on PATH.
pub fn find_chromium() -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os("REEL_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::ChromiumMissing)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::ChromiumMissing)
}

const STALE_PREFIX: &str = "reel-render-";

/// When process `pid` started (field 22 of `/proc/PID/stat`, clock ticks since boot): with the pid,
/// it names one process even after the pid is reused. `None`: no such process.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Remove the profiles of renderers that died without removing them (a `kill -9` of `reel` or of
/// the server): folders `reel-render-*` in `tmp` whose `owner` file names a process that is gone.
/// A folder without an owner file (being created, or from an older version) is left alone.
pub fn sweep_stale(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(STALE_PREFIX) {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(e.path().join("owner")) else {
            continue;
        };
        let mut it = owner.split_whitespace();
        let (Some(pid), Some(start)) = (it.next().and_then(|p| p.parse().ok()), it.next()) else {
            continue;
        };
        if process_start(pid).as_deref() != Some(start) {
            remove_keeping_owner_last(&e.path());
        }
    }
}

/// Remove a dead renderer's folder, its `owner` file last: if something still writes into the
/// profile (its Chromium has not yet noticed the closed pipe), what is left keeps its owner file
/// and the next sweep tries again, instead of an ownerless folder no sweep would ever touch.
fn remove_keeping_owner_last(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut all_gone = true;
    for e in entries.flatten() {
        if e.file_name() == "owner" {
            continue;
        }
        let path = e.path();
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        all_gone &= gone.is_ok() || !path.exists();
    }
    if all_gone {
        let _ = std::fs::remove_file(dir.join("owner"));
        let _ = std::fs::remove_dir(dir);
    }
}

/// A headless Chromium process with a fresh profile (removed when dropped) and one page.
pub struct Browser {
    child: Child,
    input: ChildStdin,
    output: Receiver<Value>,
    stderr: Arc<Mutex<Vec<u8>>>,
    next_id: u64,
    session: Option<String>,
    /// Holds the profile (`--user-data-dir`) and the page file; removed after Chromium exits.
    dir: Option<tempfile::TempDir>,
}

const CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Browser {
    /// Start Chromium headless and open a blank page of `width`×`height` CSS pixels (scale 1).
    pub fn launch(width: u32, height: u32) -> Result<Browser, Error> {
        let exe = find_chromium()?;
        let tmp = std::env::temp_dir();
        sweep_stale(&tmp);
        let dir = tempfile::Builder::new()
            .prefix(STALE_PREFIX)
            .tempdir_in(&tmp)?;
        // Who owns it: a later renderer removes it if this process dies without doing so (kill -9).
        if let Some(me) = process_start(std::process::id()) {
            let _ = std::fs::write(
                dir.path().join("owner"),
                format!("{} {me}", std::process::id()),
            );
        }
        let profile = dir.path().join("profile");
        // fds 3 and 4 without unsafe code: the shell duplicates our pipes there, then execs.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 </dev/null >/dev/null")
            .arg(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-pipe",
            ])
            // Repaint whole tiles: partial raster leaves ±1 differences on anti-aliased edges
            // depending on what was painted before, so the same instant would not give the same
            // pixels (measured: no faster with partial raster).
            .arg("--disable-partial-raster")
            // No renderers besides the page's: Chromium's headless mode otherwise keeps the
            // omnibox popup's web pages and a spare renderer loaded (measured: ≈ 100 MB).
            .arg("--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,SpareRendererForSitePerProcess")
            // A performance class given: Chromium does not start its on-device AI model service
            // three minutes in to measure this machine (≈ 60 MB until the render ends).
            .arg("--optimization-guide-performance-class=8")
            .args(FRAME_FLAGS)
            // `REEL_CHROMIUM_FLAGS`: more flags, space-separated (experiments, benchmarks).
            .args(
                std::env::var("REEL_CHROMIUM_FLAGS")
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter(|f| f.starts_with("--"))
                    .map(str::to_string),
            )
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Browser(format!("cannot start {}: {e}", exe.display())))?;
        let input = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let keep = stderr.clone();
        std::thread::spawn(move || {
            // Keep the last 4 KB of Chromium's log for error messages.
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut k = keep.lock().unwrap_or_else(|e| e.into_inner());
                k.extend_from_slice(&buf[..n]);
                let over = k.len().saturating_sub(4096);
                k.drain(..over);
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut msg = Vec::new();
            loop {
                msg.clear();
                match r.read_until(0, &mut msg) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if msg.last() == Some(&0) {
                    msg.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&msg) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            input,
            output: rx,
            stderr,
            next_id: 0,
            session: None,
            dir: Some(dir),
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}))?;
        let id = target["targetId"].as_str().unwrap_or_default().to_string();
        let att = b.call(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        )?;
        b.session = att["sessionId"].as_str().map(str::to_string);
        if b.session.is_none() {
            return Err(Error::Browser("could not attach to the page".into()));
        }
        // The tab Chromium opened at launch keeps a renderer of its own: close it.
        b.close_other_pages(&id);
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(b)
    }

    /// Close every page but `keep` (sent to the browser, not the attached page). Best effort: a
    /// page left open only costs memory, and a browser that died fails at the next command.
    fn close_other_pages(&mut self, keep: &str) {
        let session = self.session.take();
        if let Ok(t) = self.call("Target.getTargets", json!({})) {
            let others: Vec<String> = t["targetInfos"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| i["type"] == "page" && i["targetId"] != keep)
                .filter_map(|i| i["targetId"].as_str().map(str::to_string))
                .collect();
            for id in others {
                let _ = self.call("Target.closeTarget", json!({ "targetId": id }));
            }
        }
        self.session = session;
    }

    /// The folder removed with this browser (for the page file).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir until drop").path()
    }

    /// Send one command (to the page once attached) and wait for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| Error::Browser(e.to_string()))?;
        bytes.push(0);
        if self
            .input
            .write_all(&bytes)
            .and_then(|_| self.input.flush())
            .is_err()
        {
            return Err(self.died());
        }
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(v) if v["id"].as_u64() == Some(id) => {
                    if let Some(e) = v.get("error") {
                        let m = e["message"].as_str().unwrap_or("error");
                        return Err(Error::Browser(format!("{method}: {m}")));
                    }
                    return Ok(v["result"].clone());
                }
                Ok(_) => {} // events and other answers
                Err(RecvTimeoutError::Timeout) => {
                    return Err(Error::Browser(format!(
                        "{method}: no answer within {} s",
                        CALL_TIMEOUT.as_secs()
                    )))
                }
                Err(RecvTimeoutError::Disconnected) => return Err(self.died()),
            }
        }
    }

    /// Evaluate `expr` in the page, awaiting a promise; a thrown error becomes `Err(message)`.
    pub fn eval(&mut self, expr: &str) -> Result<Result<Value, String>, Error> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or(ex["exception"]["value"].as_str())
                .or(ex["text"].as_str())
                .unwrap_or("error");
            let first = text.lines().next().unwrap_or(text);
            return Ok(Err(first.trim_start_matches("Error: ").to_string()));
        }
        Ok(Ok(r["result"]["value"].clone()))
    }

    fn died(&mut self) -> Error {
        let _ = self.child.try_wait();
        let log = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Error::Browser(format!("chromium exited unexpectedly {last}").trim().into())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.session = None;
        let _ = self
            .input
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let _ = self.input.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // Chromium's helper processes may still be writing into the profile: retry the removal.
        if let Some(d) = self.dir.take() {
            let path = d.path().to_path_buf();
            if d.close().is_err() {
                std::thread::sleep(Duration::from_millis(200));
                let _ = std::fs::remove_dir_all(path);
            }
        }
    }
}
