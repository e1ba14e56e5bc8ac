//! Importers: every supported input becomes a [`Recording`]. The kind is detected from the bytes,
//! never asked for.
//!
//! | kind | looks like |
//! |---|---|
//! | [`InputKind::Package`] | a ZIP (`PK\x03\x04`) with `manifest.json` |
//! | [`InputKind::RrwebArray`] | `[{"type":…,"timestamp":…}, …]` |
//! | [`InputKind::PosthogExportV1`] | `{"version":"2022-12-02","data":{"snapshotsByWindowId":…}}` |
//! | [`InputKind::PosthogExportV2`] | `{"version":"2023-04-28","data":{"snapshots":[…]}}` |
//! | [`InputKind::PosthogWire`] | a `/s/` body: `$snapshot` events, raw gzip, `data=<base64>` form, lz64 or plain JSON |
//! | [`InputKind::SnapshotJsonl`] | PostHog's snapshot API: `[windowId, event]` per line (or `{"window_id", "data"}`) |
//! | [`InputKind::ReelBatch`] | a Reel ingest batch `{"batch_id", "session_id", "events"}` |
mod canon;
pub mod capped;
mod lz;
pub mod posthog;
pub mod raw;

use crate::event::Event;
use crate::recording::{Recording, Session, Source};
use crate::{cv, json, Error, Limits, Result};
use serde_json::value::RawValue;

pub use canon::canonical_digest;
pub use capped::{
    decode_body_capped, for_each_item, parse_event_budgeted, parse_raw_events, push_warning,
    push_warning_with, warning_count, BodyCap, CvBudget, BUSY, MAX_WARNINGS,
};
pub use lz::decompress_from_base64 as lz64_decode;
pub use posthog::{
    is_refused, string_of, valid_posthog_id, wire_items, wire_items_checked, Envelope, WireControl,
    WireItem, TOKEN_REFUSED,
};

/// What an input file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Package,
    RrwebArray,
    PosthogExportV1,
    PosthogExportV2,
    PosthogWire,
    SnapshotJsonl,
    ReelBatch,
}

impl InputKind {
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Package => "reel package",
            InputKind::RrwebArray => "rrweb JSON array",
            InputKind::PosthogExportV1 => "PostHog export (V1, 2022-12-02)",
            InputKind::PosthogExportV2 => "PostHog export (V2, 2023-04-28)",
            InputKind::PosthogWire => "PostHog /s/ body",
            InputKind::SnapshotJsonl => "PostHog snapshot API JSONL",
            InputKind::ReelBatch => "Reel ingest batch",
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub limits: Limits,
    /// Skip malformed events with a warning instead of failing (the server keeps good events of a batch).
    pub lenient: bool,
}

/// Body encodings undone before detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Gzip,
    Base64Form,
    Lz64,
}

/// Undo a body's transport encoding: raw gzip (magic bytes), `data=<base64>` forms, lz64.
/// Returns the plain JSON bytes and the encoding found.
pub fn decode_body(bytes: &[u8], limits: &Limits) -> Result<(Vec<u8>, Encoding)> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let out = cv::gunzip_capped(bytes, limits.max_entry_bytes, "gzip body")?;
        return Ok((out, Encoding::Gzip));
    }
    let first = json::first_byte(bytes);
    if matches!(first, Some(b'[') | Some(b'{') | None) {
        return Ok((bytes.to_vec(), Encoding::Plain));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Error::UnknownInput {
        context: "input".into(),
        message: "binary data that is neither gzip nor ZIP".into(),
    })?;
    let text = text.trim();
    let form = form_field(text, "data");
    let is_form = form.is_some();
    let payload = form.unwrap_or_else(|| text.to_string());
    if let Some(decoded) = base64_json(&payload) {
        if decoded.len() as u64 > limits.max_entry_bytes {
            return Err(Error::Limit {
                context: "base64 body".into(),
                what: "size".into(),
                limit: limits.max_entry_bytes,
                hint: "--max-bytes",
            });
        }
        return Ok((decoded, Encoding::Base64Form));
    }
    // lz64 is the last encoding tried: text that is not lz-string data either (a plain text file,
    // a log) is not a recording at all, and is named as such rather than as a broken lz64 body.
    let out = match lz::decompress_from_base64(&payload, limits.max_entry_bytes as usize) {
        Ok(out) => out,
        Err(e @ Error::Limit { .. }) => return Err(e),
        Err(_) => {
            return Err(Error::UnknownInput {
                context: "input".into(),
                message: if is_form {
                    "a form body whose data= field is neither base64 JSON nor lz64".into()
                } else {
                    "text that is not JSON, base64 JSON or lz64".into()
                },
            })
        }
    };
    Ok((out.into_bytes(), Encoding::Lz64))
}

fn form_field(text: &str, name: &str) -> Option<String> {
    text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| url_decode(v))
    })
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64_json(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(cleaned.trim_end_matches('=').as_bytes())
        })
        .ok()?;
    matches!(json::first_byte(&bytes), Some(b'[') | Some(b'{')).then_some(bytes)
}

/// Detect what `bytes` hold (after undoing any body encoding).
pub fn detect(bytes: &[u8]) -> Result<InputKind> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Ok(InputKind::Package);
    }
    match json::first_byte(bytes) {
        Some(b'[') => {
            // A bare array (rrweb or wire) or JSONL of `[windowId, event]` lines.
            match serde_json::from_slice::<Vec<&RawValue>>(bytes) {
                Ok(items) => Ok(classify_array(&items)),
                Err(e) if e.is_syntax() && is_trailing(&e) => Ok(InputKind::SnapshotJsonl),
                Err(e) => Err(Error::json("input", &e, 0)),
            }
        }
        Some(b'{') => match serde_json::from_slice::<raw::RawObject>(bytes) {
            Ok(o) => {
                if let Some(v) = o
                    .get("version")
                    .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
                {
                    return match v.as_str() {
                        "2022-12-02" => Ok(InputKind::PosthogExportV1),
                        "2023-04-28" => Ok(InputKind::PosthogExportV2),
                        other => Err(Error::UnknownInput {
                            context: "input".into(),
                            message: format!("PostHog export version {other:?} is not known"),
                        }),
                    };
                }
                if o.get("events").is_some()
                    && (o.get("batch_id").is_some() || o.get("session_id").is_some())
                {
                    return Ok(InputKind::ReelBatch);
                }
                if o.get("event").is_some()
                    || o.get("properties").is_some()
                    || o.get("batch").is_some()
                {
                    return Ok(InputKind::PosthogWire);
                }
                if o.get("window_id").is_some() || o.get("windowId").is_some() {
                    return Ok(InputKind::SnapshotJsonl);
                }
                if o.get("type").is_some() && o.get("timestamp").is_some() {
                    return Ok(InputKind::RrwebArray);
                }
                Err(Error::UnknownInput {
                    context: "input".into(),
                    message: "a JSON object of no known shape".into(),
                })
            }
            Err(e) if e.is_syntax() && is_trailing(&e) => Ok(InputKind::SnapshotJsonl),
            Err(e) => Err(Error::json("input", &e, 0)),
        },
        None => Err(Error::UnknownInput {
            context: "input".into(),
            message: "it is empty".into(),
        }),
        _ => Err(Error::UnknownInput {
            context: "input".into(),
            message: "does not start with JSON, gzip or ZIP".into(),
        }),
    }
}

fn is_trailing(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("trailing characters")
}

fn classify_array(items: &[&RawValue]) -> InputKind {
    let Some(first) = items.first() else {
        return InputKind::RrwebArray;
    };
    let t = first.get().trim_start();
    if t.starts_with('[') {
        return InputKind::SnapshotJsonl;
    }
    match serde_json::from_str::<raw::RawObject>(t) {
        Ok(o) if o.get("event").is_some() || o.get("properties").is_some() => {
            InputKind::PosthogWire
        }
        _ => InputKind::RrwebArray,
    }
}

/// Import one input. `name` is used in messages and to derive a session id when the input has none.
pub fn import(name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<(InputKind, Recording)> {
    let go = || -> Result<(InputKind, Recording)> {
        if bytes.starts_with(b"PK") {
            let rec = crate::package::read_recording(std::io::Cursor::new(bytes), &opts.limits)?;
            return Ok((InputKind::Package, rec));
        }
        let (plain, _enc) = decode_body(bytes, &opts.limits)?;
        let kind = detect(&plain)?;
        let mut rec = match kind {
            InputKind::Package => {
                crate::package::read_recording(std::io::Cursor::new(&plain[..]), &opts.limits)?
            }
            InputKind::RrwebArray => rrweb_array(name, &plain, opts)?,
            InputKind::PosthogExportV1 | InputKind::PosthogExportV2 => {
                posthog::export_file(name, &plain, opts)?
            }
            InputKind::PosthogWire => posthog::wire(&plain, opts)?,
            InputKind::SnapshotJsonl => posthog::snapshot_jsonl(name, &plain, opts)?,
            InputKind::ReelBatch => reel_batch(&plain, opts)?,
        };
        crate::mobile::mark_sessions(&mut rec);
        rec.sort();
        Ok((kind, rec))
    };
    go().map_err(|e| e.within(name))
}

/// PostHog's snapshot-API lines (`[windowId, event]` or `{"windowId", "data": [...]}` per line,
/// `cv` packing undone) as session `session_id`, windows sorted by time. One response of the API
/// may hold a single line, which [`detect`] could not tell from an rrweb array: callers that know
/// the shape (an API client) say so by calling this.
pub fn snapshot_lines(session_id: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Recording> {
    crate::package::check_id("session id", session_id)?;
    let mut rec = posthog::snapshot_jsonl(session_id, bytes, opts)?;
    for s in &mut rec.sessions {
        s.id = session_id.to_string();
    }
    crate::mobile::mark_sessions(&mut rec);
    rec.sort();
    Ok(rec)
}

/// Parse events from raw JSON values, undoing `cv` packing. In lenient mode bad events are skipped
/// and reported in `warnings`; otherwise the first bad event fails the import, naming its index.
pub fn parse_events(
    items: impl IntoIterator<Item = String>,
    what: &str,
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut bad = 0usize;
    for (i, mut text) in items.into_iter().enumerate() {
        if text.contains(['\n', '\r']) {
            // Pretty-printed input: a raw line break can only be whitespace between tokens (JSON
            // strings escape theirs); stored events are one line each (JSONL blocks, packages).
            text = text.replace(['\n', '\r'], " ");
        }
        match Event::parse(text).and_then(|e| cv::unpack(e, &opts.limits)) {
            Ok(e) => out.push(e),
            Err(e) if opts.lenient => {
                bad += 1;
                if bad <= 3 {
                    push_warning(warnings, format!("{what}: event {i} skipped: {e}"));
                }
            }
            Err(e) => return Err(Error::invalid(what, format!("event {i}: {e}"))),
        }
    }
    if bad > 3 {
        push_warning(
            warnings,
            format!("{what}: {bad} malformed events skipped in all"),
        );
    }
    Ok(out)
}

/// A session id for inputs that carry none: the file's own id if its name holds one
/// (`export-<id>-….json`), else a stable hash of the content (packing twice gives the same id).
pub fn derive_session_id(name: &str, bytes: &[u8]) -> String {
    let stem = std::path::Path::new(name)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let stem = stem.split('.').next().unwrap_or("");
    let stem = stem.strip_prefix("export-").unwrap_or(stem);
    let candidate = stem.strip_suffix("-rrweb-recording").unwrap_or(stem);
    if crate::package::valid_id(candidate)
        && candidate.len() >= 16
        && candidate.bytes().any(|b| b.is_ascii_digit())
    {
        return candidate.to_string();
    }
    use sha2::Digest;
    let h = sha2::Sha256::digest(bytes);
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn rrweb_array(name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Recording> {
    let mut rec = Recording::default();
    let items: Vec<&RawValue> = if json::first_byte(bytes) == Some(b'{') {
        vec![serde_json::from_slice(bytes).map_err(|e| Error::json("rrweb event", &e, 0))?]
    } else {
        serde_json::from_slice(bytes).map_err(|e| Error::json("rrweb array", &e, 0))?
    };
    let events = parse_events(
        items.into_iter().map(|r| r.get().to_string()),
        "rrweb array",
        opts,
        &mut rec.warnings,
    )?;
    let mut s = Session::new(derive_session_id(name, bytes));
    s.source = Source {
        system: "rrweb".into(),
        ..Default::default()
    };
    s.window_mut("1").events = events;
    rec.sessions.push(s);
    Ok(rec)
}

/// A Reel ingest batch, as `POST /api/v1/ingest` takes it and as a saved batch file holds it:
/// `{batch_id, session_id, window_id?, distinct_id?, lib?, lib_version?, token?, events: [...]}`.
/// The server and the file importer read it through this one type.
#[derive(serde::Deserialize, Default)]
pub struct ReelBatch<'a> {
    #[serde(default)]
    pub batch_id: Option<String>,
    /// A capture token may ride in the body (the server's concern; ignored by the importer).
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub window_id: Option<String>,
    #[serde(default)]
    pub distinct_id: Option<String>,
    #[serde(default)]
    pub lib: Option<String>,
    #[serde(default)]
    pub lib_version: Option<String>,
    #[serde(borrow, default)]
    pub events: Option<Vec<&'a RawValue>>,
}

/// A [`ReelBatch`] whose ids are checked.
pub struct CheckedBatch<'a> {
    /// Present when required (the server's dedupe key).
    pub batch_id: Option<String>,
    pub session_id: String,
    /// The session id when the batch names no window.
    pub window_id: String,
    pub events: Vec<&'a RawValue>,
}

impl<'a> ReelBatch<'a> {
    /// Check the ids; the message names the field that is missing or bad.
    pub fn check(
        &mut self,
        require_batch_id: bool,
    ) -> std::result::Result<CheckedBatch<'a>, String> {
        const IDS: &str = "use 1-128 chars of [A-Za-z0-9._-], not starting with '.'";
        let batch_id = self
            .batch_id
            .take()
            .filter(|x| !x.is_empty() && x.len() <= 128);
        if require_batch_id && batch_id.is_none() {
            return Err(
                "missing field \"batch_id\" (a unique id per batch, repeated on retries)".into(),
            );
        }
        let session_id = self
            .session_id
            .take()
            .ok_or("missing field \"session_id\"")?;
        if !crate::package::valid_id(&session_id) {
            return Err(format!("field \"session_id\": {IDS}"));
        }
        let window_id = self.window_id.take().unwrap_or_else(|| session_id.clone());
        if !crate::package::valid_id(&window_id) {
            return Err(format!("field \"window_id\": {IDS}"));
        }
        let events = self.events.take().ok_or("missing field \"events\"")?;
        Ok(CheckedBatch {
            batch_id,
            session_id,
            window_id,
            events,
        })
    }
}

fn reel_batch(bytes: &[u8], opts: &ImportOptions) -> Result<Recording> {
    let mut b: ReelBatch =
        serde_json::from_slice(bytes).map_err(|e| Error::json("ingest batch", &e, 0))?;
    let c = b
        .check(false)
        .map_err(|m| Error::invalid("ingest batch", m))?;
    let mut rec = Recording::default();
    let events = parse_events(
        c.events.iter().map(|r| r.get().to_string()),
        "ingest batch",
        opts,
        &mut rec.warnings,
    )?;
    let mut s = Session::new(c.session_id);
    s.distinct_id = b.distinct_id;
    s.source = Source {
        system: "reel".into(),
        lib: b.lib,
        lib_version: b.lib_version,
    };
    s.window_mut(&c.window_id).events = events;
    rec.sessions.push(s);
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz64_vectors_from_lz_string_decode() {
        let v: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("lz64-vectors.json")).unwrap();
        for case in v {
            let got = lz::decompress_from_base64(case["lz64"].as_str().unwrap(), 1 << 20).unwrap();
            assert_eq!(got, case["plain"].as_str().unwrap());
        }
    }

    #[test]
    fn lz64_garbage_is_an_error() {
        assert!(lz::decompress_from_base64("!!!", 100).is_err());
    }

    #[test]
    fn base64_form_bodies_decode() {
        use base64::Engine;
        let json =
            br#"[{"event":"$snapshot","properties":{"$session_id":"s","$snapshot_data":[]}}]"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        let form = format!(
            "data={}",
            b64.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        let (out, enc) = decode_body(form.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(enc, Encoding::Base64Form);
        assert_eq!(out, json);
        assert_eq!(detect(&out).unwrap(), InputKind::PosthogWire);
    }

    #[test]
    fn detection() {
        assert_eq!(
            detect(br#"[{"type":4,"data":{},"timestamp":1}]"#).unwrap(),
            InputKind::RrwebArray
        );
        assert_eq!(
            detect(b"[\"w\", {\"type\":4}]\n[\"w\", {\"type\":4}]").unwrap(),
            InputKind::SnapshotJsonl
        );
        assert_eq!(
            detect(br#"{"version":"2023-04-28","data":{}}"#).unwrap(),
            InputKind::PosthogExportV2
        );
        assert!(detect(b"hello").is_err());
        assert!(detect(br#"{"version":"2099-01-01","data":{}}"#).is_err());
    }
}
