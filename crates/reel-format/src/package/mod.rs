//! The portable package, `*.reel.zip` (format v1; spec in `docs/format.md`).
//!
//! ```text
//! manifest.json                                   format, format_version, producer, sessions[], files[]
//! sessions/<session-id>/meta.json                 facts about one session
//! sessions/<session-id>/windows/<window-id>.jsonl one plain rrweb event per line, time order
//! SHA256SUMS                                      `sha256sum -c` works on the unzipped folder
//! redaction-report.json, summary.json             optional
//! signature.json                                  optional: ed25519 over manifest.json
//! ```
//! Entries are deflated (never zstd: `unzip` and Python must read them). Writing and verifying
//! stream: memory does not grow with the package.
mod manifest;
mod reader;
mod sign;
mod spool;
mod unpack;
mod writer;

pub use manifest::{
    iso_ms, FileEntry, Manifest, ManifestSession, SessionMeta, WindowMeta, FORMAT, FORMAT_VERSION,
    SUPPORTED_MAJOR,
};
pub use reader::{read_recording, PackageReader, VerifyReport};
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
