pub mod assets;
pub mod convert;
pub mod dom;
pub mod export;
pub mod export_all;
pub mod import;
pub mod inspect;
pub mod keys;
pub mod moments;
pub mod pack;
pub mod parquet;
pub mod redact;
pub mod remote;
pub mod screenshot;
pub mod serve;
pub mod unpack;
pub mod verify;
pub mod video;

use anyhow::Context;
use std::path::Path;

/// Read an input file whole, naming it in the error.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// Import any supported file.
pub fn import(
    path: &Path,
    limits: reel_format::Limits,
) -> anyhow::Result<(reel_format::import::InputKind, reel_format::Recording)> {
    let bytes = read_input(path)?;
    let opts = reel_format::import::ImportOptions {
        limits,
        lenient: false,
    };
    let name = path.display().to_string();
    reel_format::import::import(&name, &bytes, &opts).map_err(|e| {
        // Package errors (ZIP, checksum, version) name the entry, not the file: add it.
        let msg = e.to_string();
        if msg.contains(&name) {
            anyhow::anyhow!(msg)
        } else {
            anyhow::anyhow!("{name}: {msg}")
        }
    })
}

/// Read a key file made by `reel keygen` with `parse`, naming the file in any error.
fn read_key<K>(path: &Path, parse: fn(&str) -> reel_format::Result<K>) -> anyhow::Result<K> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read key", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The secret key at `path` (for signing).
pub fn secret_key(path: &Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    read_key(path, reel_format::package::secret_key_from_text)
}

/// The public key at `path` (for verifying); a secret key file works too.
pub fn public_key(path: &Path) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    read_key(path, reel_format::package::public_key_from_text)
}

/// Total size of the input files (for progress bars); unreadable files count as 0.
pub fn total_size(paths: &[std::path::PathBuf]) -> u64 {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The input files for a message: up to three names, then a count.
pub fn names(paths: &[std::path::PathBuf]) -> String {
    let mut v: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 3 {
        v.push(format!("and {} more", paths.len() - 3));
    }
    v.join(", ")
}
