//! `manifest.json` and `meta.json`. Unknown fields are kept (`extra`) so a newer minor version
//! passes through an older reader untouched.
use crate::recording::Source;
use crate::stats::SessionStats;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const FORMAT: &str = "reel";
pub const FORMAT_VERSION: &str = "1.1";
/// The version of a package that holds assets (`assets/sha256/<hex>` entries and the manifest's
/// `assets` map). A package without assets keeps [`FORMAT_VERSION`]: the lowest version that
/// describes it, so readers of 1.1 see nothing new.
pub const FORMAT_VERSION_ASSETS: &str = "1.2";
/// The version of a package that holds comments (`sessions/<id>/comments.json`, see
/// [`super::comments`]), with or without assets.
pub const FORMAT_VERSION_COMMENTS: &str = "1.3";
/// The newest major version this reader understands.
pub const SUPPORTED_MAJOR: u64 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: String,
    pub producer: String,
    pub created_at: String,
    pub sessions: Vec<ManifestSession>,
    pub files: Vec<FileEntry>,
    /// Present when the package was redacted: which rules, their hash, when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<Value>,
    /// Format 1.2: what the recording loads (images, fonts, stylesheets), from absolute URL to
    /// the `assets/sha256/<hex>` entry holding its bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assets: BTreeMap<String, AssetEntry>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One asset of the manifest's `assets` map (format 1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetEntry {
    /// Hex SHA-256 of the bytes; the entry is `assets/sha256/<sha256>`.
    pub sha256: String,
    /// The `Content-Type` the server sent (parameters dropped), or `application/octet-stream`.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// RFC 3339 UTC time of the fetch.
    pub fetched_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestSession {
    pub id: String,
    pub meta: String,
    pub windows: Vec<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub duration_ms: i64,
    pub event_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowMeta {
    pub id: String,
    pub path: String,
    pub event_count: u64,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sessions/<id>/meta.json`. Statistics use PostHog's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub id: String,
    #[serde(default)]
    pub distinct_id: Option<String>,
    #[serde(default)]
    pub person: Option<Value>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Seconds from first to last event.
    pub recording_duration: f64,
    pub active_seconds: f64,
    #[serde(default)]
    pub start_url: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    pub source: Source,
    pub windows: Vec<WindowMeta>,
    #[serde(flatten)]
    pub stats: SessionStats,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// RFC 3339 UTC time with milliseconds for an epoch-ms timestamp.
pub fn iso_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

/// The major part of a `format_version` such as `1.0`.
pub fn major(version: &str) -> Option<u64> {
    version.split('.').next()?.parse().ok()
}
