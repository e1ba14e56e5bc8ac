//! PostHog inputs: "Export to JSON" files (V1, V2), `/s/` wire bodies and snapshot-API JSONL.
use super::raw::RawObject;
use super::{derive_session_id, parse_events, CvBudget, ImportOptions};
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
    let mut ctl = WireControl {
        token_ok: &mut |_| true,
        cv: CvBudget::unlimited(),
    };
    wire_items_checked(bytes, opts, warnings, &mut ctl)
}

/// What a server checks while it walks a `/s/` body.
pub struct WireControl<'a> {
    /// Called with the token of each `$snapshot` item (the item's own, else the envelope's)
    /// before its events are parsed, and with the envelope's token before any item;
    /// `false` stops the walk with [`TOKEN_REFUSED`].
    pub token_ok: &'a mut dyn FnMut(Option<&str>) -> bool,
    /// What the body may unpack from `cv` fields in total.
    pub cv: CvBudget,
}

/// The message of the error [`wire_items_checked`] returns when `token_ok` said no.
pub const TOKEN_REFUSED: &str = "unknown or missing project token";

/// The envelope of a PostHog capture body: `{"api_key"|"token", "batch": [...]}` (borrowed, the
/// rest skipped without allocating).
#[derive(serde::Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow, default)]
    pub batch: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub api_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub token: Option<&'a RawValue>,
}

/// The fields of one wire event that are read; everything else is skipped without allocating.
#[derive(serde::Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    token: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$token")]
    dollar_token: Option<&'a RawValue>,
    #[serde(borrow, default)]
    api_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    uuid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    distinct_id: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct WireProps<'a> {
    #[serde(borrow, default, rename = "$session_id")]
    session_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$window_id")]
    window_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    distinct_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$distinct_id")]
    dollar_distinct_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$snapshot_data")]
    snapshot_data: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$snapshot_source")]
    snapshot_source: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$lib")]
    lib: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$lib_version")]
    lib_version: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$raw_user_agent")]
    raw_user_agent: Option<&'a RawValue>,
    #[serde(borrow, default)]
    token: Option<&'a RawValue>,
}

/// A raw value that is a JSON string, unquoted (`None` for any other value).
pub fn string_of(v: Option<&RawValue>) -> Option<String> {
    v.and_then(|v| serde_json::from_str::<String>(v.get()).ok())
}

/// [`wire_items`] under a server's checks: the body is walked item by item (never collected
/// or materialised as a tree), tokens are checked before an item's events are parsed, `cv`
/// unpacking is charged to one budget, warnings are capped.
pub fn wire_items_checked(
    bytes: &[u8],
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
    ctl: &mut WireControl,
) -> Result<Vec<WireItem>> {
    // The envelope first: its token is checked before any item is looked at.
    let (list, single, envelope_token): (Option<&[u8]>, Option<&RawValue>, Option<String>) =
        match json::first_byte(bytes) {
            Some(b'[') => (Some(bytes), None, None),
            _ => {
                let env: Envelope =
                    serde_json::from_slice(bytes).map_err(|e| Error::json("wire body", &e, 0))?;
                match env.batch {
                    Some(b) => {
                        let tok = string_of(env.api_key).or_else(|| string_of(env.token));
                        if tok.is_some() && !(ctl.token_ok)(tok.as_deref()) {
                            return Err(Error::invalid("token", TOKEN_REFUSED));
                        }
                        (Some(b.get().as_bytes()), None, tok)
                    }
                    None => {
                        let item: &RawValue = serde_json::from_slice(bytes)
                            .map_err(|e| Error::json("wire body", &e, 0))?;
                        (None, Some(item), None)
                    }
                }
            }
        };
    let mut out = Vec::new();
    let mut each = |i: usize, item: &RawValue| -> Result<()> {
        if !item.get().starts_with('{') {
            // Cheap for bodies of millions of non-objects: no serde error, no message kept.
            if !opts.lenient {
                return Err(Error::invalid(
                    "wire body",
                    format!("event {i}: not an object"),
                ));
            }
            super::push_warning_with(warnings, || {
                format!("wire event {i} skipped: wire event: not an object")
            });
            return Ok(());
        }
        match wire_item(item, &envelope_token, opts, warnings, ctl) {
            Ok(Some(w)) => out.push(w),
            Ok(None) => {}
            Err(e @ Error::Limit { .. }) => return Err(e),
            Err(e) if is_refused(&e) => return Err(e),
            Err(e) if opts.lenient => {
                super::push_warning_with(warnings, || format!("wire event {i} skipped: {e}"))
            }
            Err(e) => return Err(Error::invalid("wire body", format!("event {i}: {e}"))),
        }
        Ok(())
    };
    if let Some(list) = list {
        super::for_each_item(list, "wire body", &mut each)?;
    } else if let Some(item) = single {
        each(0, item)?;
    }
    Ok(out)
}

/// Whether `e` is the error [`wire_items_checked`] returns for a refused token.
pub fn is_refused(e: &Error) -> bool {
    matches!(e, Error::Invalid { context, message } if context == "token" && message == TOKEN_REFUSED)
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
    envelope_token: &Option<String>,
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
    ctl: &mut WireControl,
) -> Result<Option<WireItem>> {
    let o: WireEvent = serde_json::from_str(item.get())
        .map_err(|_| Error::invalid("wire event", "not an object"))?;
    if string_of(o.event).as_deref() != Some("$snapshot") {
        return Ok(None); // analytics events are not recordings
    }
    let props: WireProps = o
        .properties
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .ok_or_else(|| Error::invalid("$snapshot", "missing \"properties\""))?;
    let token = string_of(o.token)
        .or_else(|| string_of(o.dollar_token))
        .or_else(|| string_of(o.api_key))
        .or_else(|| string_of(props.token))
        .or_else(|| envelope_token.clone());
    if !(ctl.token_ok)(token.as_deref()) {
        return Err(Error::invalid("token", TOKEN_REFUSED));
    }
    let sid: String = string_of(props.session_id)
        .ok_or_else(|| Error::invalid("$snapshot", "missing properties.$session_id"))?;
    if !valid_posthog_id(&sid) {
        return Err(Error::invalid(
            "$snapshot",
            "$session_id must be 1-70 chars of [A-Za-z0-9-]",
        ));
    }
    let wid = string_of(props.window_id)
        .filter(|w| valid_posthog_id(w))
        .unwrap_or_else(|| sid.clone());
    let distinct: Option<String> = string_of(props.distinct_id)
        .or_else(|| string_of(o.distinct_id))
        .or_else(|| string_of(props.dollar_distinct_id));
    let data = props
        .snapshot_data
        .ok_or_else(|| Error::invalid("$snapshot", "missing properties.$snapshot_data"))?;
    let events = match json::first_byte(data.get().as_bytes()) {
        Some(b'[') => {
            let mut evs = Vec::new();
            let mut budget = ctl.cv;
            super::for_each_item(data.get().as_bytes(), "$snapshot_data", |i, raw| {
                match super::capped::parse_event_budgeted(raw.get(), &opts.limits, &mut budget) {
                    Ok(e) => evs.push(e),
                    Err(e @ Error::Limit { .. }) => return Err(e),
                    Err(e) if opts.lenient => super::push_warning_with(warnings, || {
                        format!("$snapshot_data: event {i} skipped: {e}")
                    }),
                    Err(e) => {
                        return Err(Error::invalid("$snapshot_data", format!("event {i}: {e}")))
                    }
                }
                Ok(())
            })?;
            ctl.cv = budget;
            evs
        }
        _ => super::parse_raw_events([data], "$snapshot_data", opts, warnings, &mut ctl.cv)?,
    };
    let mut s = Session::new(sid);
    s.distinct_id = distinct;
    s.source = Source {
        system: if string_of(props.snapshot_source).as_deref() == Some("mobile") {
            "posthog-mobile".into()
        } else {
            "posthog".into()
        },
        lib: string_of(props.lib),
        lib_version: string_of(props.lib_version),
    };
    s.user_agent = string_of(props.raw_user_agent);
    s.window_mut(&wid).events = events;
    Ok(Some(WireItem {
        uuid: string_of(o.uuid),
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
