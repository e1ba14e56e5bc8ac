//! PostHog inputs: "Export to JSON" files (V1, V2), `/s/` wire bodies and snapshot-API JSONL.
use super::raw::RawObject;
use super::{derive_session_id, parse_events, ImportOptions};
use crate::recording::{Recording, Session, Source};
use crate::{json, package, Error, Result};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashSet;

/// An "Export to JSON" file, V1 (`snapshotsByWindowId`) or V2 (`snapshots` with `windowId`).
pub(super) fn export_file(name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Recording> {
    let top: RawObject =
        serde_json::from_slice(bytes).map_err(|e| Error::json("PostHog export", &e, 0))?;
    let version: String = top.get_as("version").unwrap_or_default();
    let data: RawObject = top
        .get("data")
        .and_then(|d| serde_json::from_str(d.get()).ok())
        .ok_or_else(|| Error::invalid("PostHog export", "missing \"data\" object"))?;
    let mut rec = Recording::default();
    let named = match data.get_as::<String>("id") {
        Some(id) => Some(("data.id", id)),
        None => data
            .get_as::<String>("session_id")
            .map(|id| ("data.session_id", id)),
    };
    let id = match named {
        Some((field, id)) => {
            package::check_id(&format!("PostHog export: {field}"), &id)?;
            id
        }
        None => derive_session_id(name, bytes),
    };
    let mut s = Session::new(id);
    s.person = data
        .get("person")
        .and_then(|p| json::parse_value("person", p.get().as_bytes(), opts.limits.max_depth).ok())
        .filter(|p| !p.is_null());
    s.distinct_id = s
        .person
        .as_ref()
        .and_then(|p| {
            p.get("distinct_ids")
                .and_then(|d| d.get(0))
                .or_else(|| p.get("distinct_id"))
        })
        .and_then(Value::as_str)
        .map(str::to_string);
    if version == "2022-12-02" {
        s.source = Source {
            system: "posthog-export-v1".into(),
            ..Default::default()
        };
        let by_window: RawObject = data
            .get("snapshotsByWindowId")
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .ok_or_else(|| {
                Error::invalid(
                    "PostHog export V1",
                    "missing \"snapshotsByWindowId\" object",
                )
            })?;
        for (wid, events) in &by_window.0 {
            let items: Vec<&RawValue> = serde_json::from_str(events.get())
                .map_err(|e| Error::invalid("PostHog export V1", format!("window {wid}: {e}")))?;
            let wid = window_id_string(wid, "PostHog export V1: data.snapshotsByWindowId key")?;
            let evs = parse_events(
                items.iter().map(|r| r.get().to_string()),
                &format!("window {wid}"),
                opts,
                &mut rec.warnings,
            )?;
            s.window_mut(&wid).events.extend(evs);
        }
    } else {
        s.source = Source {
            system: "posthog-export-v2".into(),
            ..Default::default()
        };
        let snaps: Vec<&RawValue> = data
            .get("snapshots")
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .ok_or_else(|| Error::invalid("PostHog export V2", "missing \"snapshots\" array"))?;
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for (i, raw) in snaps.iter().enumerate() {
            let o: RawObject = serde_json::from_str(raw.get()).map_err(|_| {
                Error::invalid(
                    "PostHog export V2",
                    format!("snapshot {i} is not an object"),
                )
            })?;
            let wid = match o.get("windowId") {
                Some(w) => raw_id(
                    w.get(),
                    &format!("PostHog export V2: data.snapshots[{i}].windowId"),
                )?,
                None => "1".into(),
            };
            let text = o.to_json_without(&["windowId"]);
            match grouped.iter_mut().find(|(w, _)| *w == wid) {
                Some((_, v)) => v.push(text),
                None => grouped.push((wid, vec![text])),
            }
        }
        for (wid, texts) in grouped {
            let evs = parse_events(texts, &format!("window {wid}"), opts, &mut rec.warnings)?;
            s.window_mut(&wid).events.extend(evs);
        }
    }
    rec.sessions.push(s);
    Ok(rec)
}

/// A window id given as a string: refused unless it is a valid id (see [`package::valid_id`]).
fn window_id_string(s: &str, field: &str) -> Result<String> {
    package::check_id(field, s)?;
    Ok(s.to_string())
}

/// A window id from raw JSON: strings must be valid ids, numbers are kept as text.
fn raw_id(raw: &str, field: &str) -> Result<String> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::String(s)) => window_id_string(&s, field),
        Ok(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(Error::invalid(field, "a window id is a string or a number")),
    }
}

/// One `$snapshot` item of a `/s/` body, with the facts PostHog reads per event.
#[derive(Debug, Clone)]
pub struct WireItem {
    /// The item's `uuid` (retries repeat it), if present.
    pub uuid: Option<String>,
    /// The project token the item names (root `token`/`$token`/`api_key` or `properties.token`).
    pub token: Option<String>,
    pub session: Session,
}

/// A body's items (only `$snapshot` events carry recordings; analytics events are skipped).
/// Ids are read per item. In lenient mode a bad item is skipped with a warning.
pub fn wire_items(
    bytes: &[u8],
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<WireItem>> {
    let mut envelope_token: Option<String> = None;
    let items: Vec<&RawValue> = match json::first_byte(bytes) {
        Some(b'[') => serde_json::from_slice(bytes).map_err(|e| Error::json("wire body", &e, 0))?,
        _ => {
            let o: RawObject =
                serde_json::from_slice(bytes).map_err(|e| Error::json("wire body", &e, 0))?;
            match o.get("batch") {
                Some(b) => {
                    envelope_token = o.get_as("api_key").or_else(|| o.get_as("token"));
                    serde_json::from_str(b.get())
                        .map_err(|e| Error::json("wire body batch", &e, 0))?
                }
                None => {
                    vec![serde_json::from_slice(bytes)
                        .map_err(|e| Error::json("wire body", &e, 0))?]
                }
            }
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match wire_item(item, opts, warnings) {
            Ok(Some(mut w)) => {
                if w.token.is_none() {
                    w.token = envelope_token.clone();
                }
                out.push(w)
            }
            Ok(None) => {}
            Err(e) if opts.lenient => warnings.push(format!("wire event {i} skipped: {e}")),
            Err(e) => return Err(Error::invalid("wire body", format!("event {i}: {e}"))),
        }
    }
    Ok(out)
}

/// A `/s/` body as a recording: items merged by session and window; a repeated uuid is kept once.
pub(super) fn wire(bytes: &[u8], opts: &ImportOptions) -> Result<Recording> {
    let mut rec = Recording::default();
    let items = wire_items(bytes, opts, &mut rec.warnings)?;
    let mut seen = HashSet::new();
    for it in items {
        if it.uuid.as_ref().is_some_and(|u| !seen.insert(u.clone())) {
            continue;
        }
        rec.merge(Recording {
            sessions: vec![it.session],
            warnings: vec![],
        });
    }
    Ok(rec)
}

fn wire_item(
    item: &RawValue,
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<WireItem>> {
    let o: RawObject = serde_json::from_str(item.get())
        .map_err(|_| Error::invalid("wire event", "not an object"))?;
    let event: Option<String> = o.get_as("event");
    if event.as_deref() != Some("$snapshot") {
        return Ok(None); // analytics events are not recordings
    }
    let props: RawObject = o
        .get("properties")
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .ok_or_else(|| Error::invalid("$snapshot", "missing \"properties\""))?;
    let sid: String = props
        .get_as("$session_id")
        .ok_or_else(|| Error::invalid("$snapshot", "missing properties.$session_id"))?;
    if !valid_posthog_id(&sid) {
        return Err(Error::invalid(
            "$snapshot",
            "$session_id must be 1-70 chars of [A-Za-z0-9-]",
        ));
    }
    let wid = props
        .get_as::<String>("$window_id")
        .filter(|w| valid_posthog_id(w))
        .unwrap_or_else(|| sid.clone());
    let distinct: Option<String> = props
        .get_as::<String>("distinct_id")
        .or_else(|| o.get_as("distinct_id"))
        .or_else(|| props.get_as("$distinct_id"));
    let data = props
        .get("$snapshot_data")
        .ok_or_else(|| Error::invalid("$snapshot", "missing properties.$snapshot_data"))?;
    let items: Vec<&RawValue> = match json::first_byte(data.get().as_bytes()) {
        Some(b'[') => {
            serde_json::from_str(data.get()).map_err(|e| Error::json("$snapshot_data", &e, 0))?
        }
        _ => vec![data],
    };
    let events = parse_events(
        items.iter().map(|r| r.get().to_string()),
        "$snapshot_data",
        opts,
        warnings,
    )?;
    let mut s = Session::new(sid);
    s.distinct_id = distinct;
    s.source = Source {
        system: if props.get_as::<String>("$snapshot_source").as_deref() == Some("mobile") {
            "posthog-mobile".into()
        } else {
            "posthog".into()
        },
        lib: props.get_as("$lib"),
        lib_version: props.get_as("$lib_version"),
    };
    s.user_agent = props.get_as("$raw_user_agent");
    s.window_mut(&wid).events = events;
    let token = o
        .get_as::<String>("token")
        .or_else(|| o.get_as("$token"))
        .or_else(|| o.get_as("api_key"))
        .or_else(|| props.get_as("token"));
    Ok(Some(WireItem {
        uuid: o.get_as("uuid"),
        token,
        session: s,
    }))
}

/// PostHog's rule for session and window ids: 1–70 chars of `[A-Za-z0-9-]`.
pub fn valid_posthog_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 70 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Snapshot-API JSONL: `[windowId, event]` per line, or `{"window_id"|"windowId": w, "data": [events]}`.
pub(super) fn snapshot_jsonl(name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Recording> {
    let mut rec = Recording::default();
    let mut s = Session::new(derive_session_id(name, bytes));
    s.source = Source {
        system: "posthog-snapshot-api".into(),
        ..Default::default()
    };
    let text = std::str::from_utf8(bytes).map_err(|_| Error::invalid("JSONL", "not UTF-8"))?;
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    let mut push = |w: String, ev: String| match grouped.iter_mut().find(|(x, _)| *x == w) {
        Some((_, v)) => v.push(ev),
        None => grouped.push((w, vec![ev])),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let ctx = format!("line {}", n + 1);
        if line.starts_with('[') {
            let pair: Vec<&RawValue> =
                serde_json::from_str(line).map_err(|e| Error::json(&ctx, &e, n))?;
            if pair.len() != 2 {
                return Err(Error::invalid(ctx, "expected [windowId, event]"));
            }
            push(
                raw_id(pair[0].get(), &format!("{ctx}: window id"))?,
                pair[1].get().to_string(),
            );
        } else {
            let o: RawObject = serde_json::from_str(line).map_err(|e| Error::json(&ctx, &e, n))?;
            let w = match o.get("window_id").or_else(|| o.get("windowId")) {
                Some(w) => raw_id(w.get(), &format!("{ctx}: window_id"))?,
                None => "1".into(),
            };
            let data = o
                .get("data")
                .ok_or_else(|| Error::invalid(&ctx, "missing \"data\""))?;
            let events: Vec<&RawValue> =
                serde_json::from_str(data.get()).map_err(|e| Error::json(&ctx, &e, n))?;
            for e in events {
                push(w.clone(), e.get().to_string());
            }
        }
    }
    for (w, texts) in grouped {
        let evs = parse_events(texts, &format!("window {w}"), opts, &mut rec.warnings)?;
        s.window_mut(&w).events.extend(evs);
    }
    rec.sessions.push(s);
    Ok(rec)
}
