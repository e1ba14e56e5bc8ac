//! PostHog's mobile recordings (posthog-android, -ios, -react-native, -flutter): rrweb-shaped
//! events whose full snapshots hold `data.wireframes` (positioned boxes) instead of a DOM, and
//! whose mutations add and update wireframes (`data.adds|updates: [{parentId, wireframe}]`).
//! Reel stores them as sent; this module only recognises them and walks their wireframes, for the
//! session's facts and for redaction. The player draws them (`web/player/mobile.js`).
use crate::event::{Event, EventType, IncrementalSource};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

/// Child wireframes of a wireframe (PostHog's schema: `childWireframes`).
pub const CHILDREN: &str = "childWireframes";

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    wireframes: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    adds: Option<Vec<Change>>,
    #[serde(default)]
    updates: Option<Vec<Change>>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    wireframe: Option<Wire>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    value: Option<IgnoredAny>,
    #[serde(default)]
    checked: Option<IgnoredAny>,
}

/// What a mobile event is, read from its text without building a tree.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// A full snapshot of wireframes, or a mutation adding or updating wireframes.
    pub mobile: bool,
    /// Input wireframes whose value or checked state an update sends (one per keypress or
    /// toggle: the SDKs send an update when an input changed).
    pub input_updates: u64,
}

/// Recognise a mobile full snapshot or wireframe mutation. Cheap for other events: only full
/// snapshots and mutations whose text names wireframes are read.
pub fn facts(e: &Event) -> Facts {
    let full = e.kind == EventType::FullSnapshot;
    let mutation =
        e.kind == EventType::IncrementalSnapshot && e.source == Some(IncrementalSource::Mutation);
    if !(full || mutation) || !e.json().contains("\"wireframe") {
        return Facts::default();
    }
    let Ok(Head { data: Some(d) }) = serde_json::from_str::<Head>(e.json()) else {
        return Facts::default();
    };
    if full {
        return Facts {
            mobile: d.wireframes.is_some_and(|w| w.get().starts_with('[')),
            input_updates: 0,
        };
    }
    let adds = d.adds.unwrap_or_default();
    let updates = d.updates.unwrap_or_default();
    let wired = |c: &Change| c.wireframe.is_some();
    let input_updates = updates
        .iter()
        .filter_map(|c| c.wireframe.as_ref())
        .filter(|w| {
            w.kind.as_deref() == Some("input") && (w.value.is_some() || w.checked.is_some())
        })
        .count() as u64;
    Facts {
        mobile: adds.iter().any(wired) || updates.iter().any(wired),
        input_updates,
    }
}

/// Mark the sessions whose windows hold a mobile full snapshot as mobile recordings: their
/// `source.system` gets a `-mobile` suffix (`posthog-export-v2-mobile`, `rrweb-mobile`) unless it
/// already names one (`posthog-mobile` from a capture with `$snapshot_source: "mobile"`).
pub fn mark_sessions(rec: &mut crate::Recording) {
    for s in &mut rec.sessions {
        if s.source.system.contains("mobile") {
            continue;
        }
        let mobile = s.windows.iter().any(|w| {
            w.events
                .iter()
                .any(|e| e.kind == EventType::FullSnapshot && facts(e).mobile)
        });
        if mobile {
            s.source.system = if s.source.system.is_empty() {
                "mobile".into()
            } else {
                format!("{}-mobile", s.source.system)
            };
        }
    }
}

/// The top wireframes of a mobile event's value (full snapshot `data.wireframes`, mutation
/// `data.adds[].wireframe` and `data.updates[].wireframe`), for editing in place. Empty for any
/// other event.
pub fn roots_mut(v: &mut Value) -> Vec<&mut serde_json::Map<String, Value>> {
    let mut out = Vec::new();
    let Some(d) = v.get_mut("data").and_then(Value::as_object_mut) else {
        return out;
    };
    if d.contains_key("node") {
        return out;
    }
    for (k, x) in d.iter_mut() {
        match (k.as_str(), x) {
            ("wireframes", Value::Array(a)) => {
                out.extend(a.iter_mut().filter_map(Value::as_object_mut))
            }
            ("adds" | "updates", Value::Array(a)) => out.extend(
                a.iter_mut()
                    .filter_map(|c| c.get_mut("wireframe"))
                    .filter_map(Value::as_object_mut),
            ),
            _ => {}
        }
    }
    out
}

/// Visit a wireframe and its children, depth first (bounded by the JSON depth limit the event
/// passed when it was parsed).
pub fn walk_mut(
    w: &mut serde_json::Map<String, Value>,
    f: &mut dyn FnMut(&mut serde_json::Map<String, Value>),
) {
    f(w);
    if let Some(Value::Array(kids)) = w.get_mut(CHILDREN) {
        for k in kids.iter_mut().filter_map(Value::as_object_mut) {
            walk_mut(k, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Event {
        Event::parse(s).unwrap()
    }

    #[test]
    fn recognises_mobile_events() {
        let full = ev(
            r#"{"type":2,"timestamp":1,"data":{"wireframes":[{"id":1,"type":"text","text":"hi","width":10,"height":10}],"initialOffset":{"top":0,"left":0}}}"#,
        );
        assert!(facts(&full).mobile);
        let web = ev(
            r#"{"type":2,"timestamp":1,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":3,"id":2,"textContent":"\"wireframes\":[]"}]},"initialOffset":{"top":0,"left":0}}}"#,
        );
        assert!(!facts(&web).mobile);
        let upd = ev(
            r#"{"type":3,"timestamp":2,"data":{"source":0,"updates":[{"parentId":1,"wireframe":{"id":3,"type":"input","inputType":"text","value":"ab"}},{"wireframe":{"id":4,"type":"text","text":"x"}},{"wireframe":{"id":5,"type":"input","inputType":"toggle","checked":true}}]}}"#,
        );
        assert_eq!(
            facts(&upd),
            Facts {
                mobile: true,
                input_updates: 2
            }
        );
        let web_mut = ev(
            r#"{"type":3,"timestamp":2,"data":{"source":0,"adds":[{"parentId":1,"nextId":null,"node":{"type":3,"id":9,"textContent":"wireframe"}}],"removes":[],"texts":[],"attributes":[]}}"#,
        );
        assert_eq!(facts(&web_mut), Facts::default());
    }

    #[test]
    fn imports_of_mobile_recordings_say_so() {
        let meta = r#"{"type":4,"data":{"href":"Main","width":393,"height":852},"timestamp":1700000000000}"#;
        let full = r#"{"type":2,"data":{"wireframes":[{"id":1,"type":"text","text":"hi","width":10,"height":10}],"initialOffset":{"top":0,"left":0}},"timestamp":1700000000001}"#;
        let opts = crate::import::ImportOptions::default();
        let system = |name: &str, body: String| {
            let (_, rec) = crate::import::import(name, body.as_bytes(), &opts).unwrap();
            let s = &rec.sessions[0];
            // Stored as sent, byte for byte.
            assert_eq!(s.windows[0].events[1].json(), full);
            s.source.system.clone()
        };
        assert_eq!(system("a.json", format!("[{meta},{full}]")), "rrweb-mobile");
        let v2 = format!(
            r#"{{"version":"2023-04-28","data":{{"id":"s1","snapshots":[{},{}]}}}}"#,
            meta.replacen('{', r#"{"windowId":"w1","#, 1),
            full.replacen('{', r#"{"windowId":"w1","#, 1)
        );
        let (_, rec) = crate::import::import("export.json", v2.as_bytes(), &opts).unwrap();
        assert_eq!(rec.sessions[0].source.system, "posthog-export-v2-mobile");
        let lines = format!("[\"w1\",{meta}]\n[\"w1\",{full}]\n");
        let rec = crate::import::snapshot_lines("s2", lines.as_bytes(), &opts).unwrap();
        assert_eq!(rec.sessions[0].source.system, "posthog-snapshot-api-mobile");
        assert_eq!(rec.sessions[0].windows[0].events[1].json(), full);
        // A web recording stays as it was named.
        let web = r#"{"type":2,"data":{"node":{"type":0,"id":1,"childNodes":[]},"initialOffset":{"top":0,"left":0}},"timestamp":1700000000001}"#;
        let (_, rec) =
            crate::import::import("w.json", format!("[{meta},{web}]").as_bytes(), &opts).unwrap();
        assert_eq!(rec.sessions[0].source.system, "rrweb");
    }

    #[test]
    fn walks_every_wireframe() {
        let mut v: Value = serde_json::from_str(r#"{"type":3,"data":{"source":0,"adds":[{"parentId":1,"wireframe":{"id":2,"type":"div","childWireframes":[{"id":3,"type":"text","text":"a"},{"id":4,"type":"div","childWireframes":[{"id":5,"type":"text","text":"b"}]}]}}],"updates":[{"wireframe":{"id":6,"type":"text","text":"c"}}]}}"#).unwrap();
        let mut ids = Vec::new();
        for r in roots_mut(&mut v) {
            walk_mut(r, &mut |w| ids.push(w["id"].as_i64().unwrap()));
        }
        assert_eq!(ids, [2, 3, 4, 5, 6]);
    }
}
