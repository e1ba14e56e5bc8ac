pub mod convert;
pub mod dom;
pub mod export;
pub mod inspect;
pub mod keys;
pub mod pack;
pub mod redact;
pub mod remote;
pub mod serve;
pub mod unpack;
pub mod verify;

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
