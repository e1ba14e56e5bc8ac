//! Helpers shared by the integration tests that run the `reel` binary on the fixtures.
#![allow(dead_code)]
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const REEL: &str = env!("CARGO_BIN_EXE_reel");

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Run `reel` with `args`; it must succeed.
pub fn reel(args: &[&str]) -> Output {
    let out = Command::new(REEL).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "reel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `tests/fixtures/rrweb/<name>.json`.
pub fn rrweb(name: &str) -> String {
    root()
        .join(format!("tests/fixtures/rrweb/{name}.json"))
        .display()
        .to_string()
}

/// The `/s/` bodies of a posthog-wire fixture run, in request order.
pub fn wire_bodies(run: &str) -> Vec<String> {
    let dir = root().join("tests/fixtures/posthog-wire").join(run);
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with("-POST-s.bin"))
        .collect();
    v.sort();
    v
}
