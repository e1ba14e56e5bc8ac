//! The portable package, `*.reel.zip` (format v1; spec in `docs/format.md`).
//!
//! ```text
//! manifest.json                                   format, format_version, producer, sessions[], files[]
//! sessions/<session-id>/meta.json                 facts about one session
//! sessions/<session-id>/windows/<window-id>.jsonl one plain rrweb event per line, time order
//! SHA256SUMS                                      `sha256sum -c` works on the unzipped folder
//! sessions/<session-id>/summary.json              optional (1.1): key moments and summary
//! sessions/<session-id>/comments.json             optional (1.3): comments at times of the recording
//! assets/sha256/<hex>                            optional (1.2): an asset's bytes, named by their SHA-256
//! redaction-report.json                           optional
//! signature.json                                  optional: ed25519 over manifest.json
//! ```
//! Entries are deflated (never zstd: `unzip` and Python must read them). Writing and verifying
//! stream: memory does not grow with the package.
pub mod comments;
mod manifest;
mod reader;
mod sign;
mod spool;
mod unpack;
mod writer;

pub use manifest::{
    iso_ms, AssetEntry, FileEntry, Manifest, ManifestSession, SessionMeta, WindowMeta, FORMAT,
    FORMAT_VERSION, FORMAT_VERSION_ASSETS, FORMAT_VERSION_COMMENTS, SUPPORTED_MAJOR,
};
pub use reader::{expansion_budget, read_recording, PackageReader, VerifyReport};
pub use sign::{
    keygen, public_key_from_text, secret_key_from_text, sign_package, KeyPair, Signature,
};
pub use spool::{Spool, WindowFilter};
pub use unpack::unpack;
pub use writer::{prepare_window, PackageWriter, PreparedWindow, SessionInfo, WriterOptions};

/// Ids used in entry paths (session and window ids): 1–128 chars of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Refuse an id that [`valid_id`] rejects, naming the field it came from (`manifest.json:
/// sessions[2].id`, `window_id`, …). The id is shown escaped and shortened: it is hostile input.
pub fn check_id(field: &str, id: &str) -> crate::Result<()> {
    if valid_id(id) {
        return Ok(());
    }
    Err(crate::Error::invalid(
        field,
        format!(
            "{} is not a valid id: use 1-128 chars of [A-Za-z0-9._-], not starting with '.'",
            shown_id(id)
        ),
    ))
}

/// An untrusted id for a message: escaped (no control characters reach a terminal or a log)
/// and cut to 40 characters.
pub fn shown_id(id: &str) -> String {
    let n = id.chars().count();
    if n <= 40 {
        format!("{id:?}")
    } else {
        let head: String = id.chars().take(40).collect();
        format!("{head:?}… ({n} chars)")
    }
}

/// Entry paths, relative to the package root.
pub fn session_dir(id: &str) -> String {
    format!("sessions/{id}/")
}
pub fn meta_path(id: &str) -> String {
    format!("sessions/{id}/meta.json")
}
pub fn window_path(session: &str, window: &str) -> String {
    format!("sessions/{session}/windows/{window}.jsonl")
}

pub const MANIFEST: &str = "manifest.json";
pub const SHA256SUMS: &str = "SHA256SUMS";
pub const SIGNATURE: &str = "signature.json";
pub const REDACTION_REPORT: &str = "redaction-report.json";
pub const SUMMARY: &str = "summary.json";

/// A session's key moments and summary (format 1.1; written by `reel-insight`).
pub fn summary_path(id: &str) -> String {
    format!("sessions/{id}/{SUMMARY}")
}

/// Where an asset's bytes live (format 1.2): `assets/sha256/<hex>`.
pub const ASSETS_DIR: &str = "assets/sha256/";
pub fn asset_path(sha256: &str) -> String {
    format!("{ASSETS_DIR}{sha256}")
}

/// Content types whose bytes are already compressed: their entries are stored, not deflated.
pub fn stored_content_type(content_type: &str) -> bool {
    let t = content_type.trim().to_ascii_lowercase();
    let t = t.split(';').next().unwrap_or("").trim();
    (t.starts_with("image/")
        && !matches!(
            t,
            "image/svg+xml" | "image/bmp" | "image/x-icon" | "image/vnd.microsoft.icon"
        ))
        || matches!(
            t,
            "font/woff"
                | "font/woff2"
                | "application/font-woff"
                | "application/font-woff2"
                | "application/zip"
                | "application/gzip"
        )
        || t.starts_with("video/")
        || t.starts_with("audio/")
}
