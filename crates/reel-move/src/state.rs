//! The `--state` file: which recordings an import has finished (or found deleted), so that a rerun
//! after a kill or an outage continues where it stopped. Rewritten whole and atomically (temporary
//! file, fsync, rename) after every change: a kill leaves the old or the new version, never half.
//! It holds recording ids, counts and the source's address; never a credential.
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const VERSION: u32 = 1;
/// A state file larger than this is not one of ours.
const MAX_BYTES: u64 = 256 << 20;

#[derive(Serialize, Deserialize, Default)]
struct File {
    reel_import_state: u32,
    /// What was imported (`posthog https://eu.posthog.com/api/projects/42`): a state file is
    /// refused for another source.
    source: String,
    done: BTreeMap<String, Done>,
    #[serde(default)]
    gone: BTreeSet<String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Done {
    events: u64,
    at: String,
}

/// See the module docs. Without a path it only remembers in memory.
pub struct State {
    path: Option<PathBuf>,
    file: Mutex<File>,
}

impl State {
    pub fn open(path: Option<&Path>, source: &str) -> anyhow::Result<State> {
        let mut file = File {
            reel_import_state: VERSION,
            source: source.to_string(),
            ..Default::default()
        };
        if let Some(p) = path {
            match std::fs::metadata(p) {
                Ok(m) if m.len() > MAX_BYTES => {
                    bail!(
                        "{}: larger than {MAX_BYTES} bytes: not a Reel import state file",
                        p.display()
                    )
                }
                Ok(_) => {
                    let bytes = std::fs::read(p)
                        .with_context(|| format!("{}: cannot read", p.display()))?;
                    let f: File = serde_json::from_slice(&bytes).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: not a Reel import state file ({e}); give another --state path",
                            p.display()
                        )
                    })?;
                    if f.reel_import_state != VERSION {
                        bail!(
                            "{}: state version {} is not known to this reel",
                            p.display(),
                            f.reel_import_state
                        );
                    }
                    if f.source != source {
                        bail!(
                            "{}: this state belongs to another import ({}); give another --state path",
                            p.display(),
                            f.source
                        );
                    }
                    file = f;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("{}", p.display())),
            }
        }
        let s = State {
            path: path.map(Path::to_path_buf),
            file: Mutex::new(file),
        };
        // Fail now, not after the first recording, when the file cannot be written.
        s.save(&s.lock())?;
        Ok(s)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.lock().done.contains_key(id)
    }

    pub fn is_gone(&self, id: &str) -> bool {
        self.lock().gone.contains(id)
    }

    pub fn done_count(&self) -> usize {
        self.lock().done.len()
    }

    pub fn mark_done(&self, id: &str, events: u64) -> anyhow::Result<()> {
        let mut f = self.lock();
        f.done.insert(
            id.to_string(),
            Done {
                events,
                at: reel_format::package::iso_ms(now_ms()),
            },
        );
        self.save(&f)
    }

    pub fn mark_gone(&self, id: &str) -> anyhow::Result<()> {
        let mut f = self.lock();
        f.gone.insert(id.to_string());
        self.save(&f)
    }

    fn save(&self, f: &File) -> anyhow::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".reel-state-")
            .tempfile_in(dir)
            .with_context(|| format!("{}: cannot write the state file", path.display()))?;
        serde_json::to_writer_pretty(&mut tmp, f)?;
        tmp.write_all(b"\n")?;
        tmp.as_file().sync_all()?;
        tmp.persist(path)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_refuses_another_source() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        let s = State::open(Some(&p), "posthog a").unwrap();
        s.mark_done("s1", 3).unwrap();
        s.mark_gone("s2").unwrap();
        drop(s);
        let s = State::open(Some(&p), "posthog a").unwrap();
        assert!(s.is_done("s1") && s.is_gone("s2") && !s.is_done("s2"));
        assert!(State::open(Some(&p), "posthog b").is_err());
        std::fs::write(&p, b"nonsense").unwrap();
        assert!(State::open(Some(&p), "posthog a").is_err());
    }
}
