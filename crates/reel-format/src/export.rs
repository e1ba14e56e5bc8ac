//! Exporters: a bare rrweb JSON array (plays in rrweb's Replayer) and a PostHog V2 "Export to
//! JSON" file (PostHog's "import from file" plays it). Both stream to any writer.
use crate::import::raw::prepend_field;
use crate::{Error, Result, Session};
use std::io::Write;

/// All windows of `s` merged in time order as one rrweb array.
/// (rrweb's Replayer plays one window; with several, prefer one window via `window`.)
pub fn rrweb_array<W: Write + ?Sized>(s: &Session, window: Option<&str>, w: &mut W) -> Result<()> {
    let io = |e| Error::io("output", e);
    w.write_all(b"[").map_err(io)?;
    let mut first = true;
    for (wid, e) in s.events_in_time_order() {
        if window.is_some_and(|x| x != wid) {
            continue;
        }
        if !first {
            w.write_all(b",\n").map_err(io)?;
        }
        first = false;
        w.write_all(e.json().as_bytes()).map_err(io)?;
    }
    w.write_all(b"]\n").map_err(io)?;
    Ok(())
}

/// PostHog's V2 export (`version: "2023-04-28"`): `{data: {id, person, snapshots: [{windowId, …event}]}}`.
pub fn posthog_v2<W: Write + ?Sized>(s: &Session, w: &mut W) -> Result<()> {
    let io = |e| Error::io("output", e);
    let person = s.person.clone().unwrap_or(serde_json::Value::Null);
    let head = format!(
        "{{\"version\":\"2023-04-28\",\"data\":{{\"id\":{},\"person\":{},\"snapshots\":[",
        serde_json::to_string(&s.id).unwrap_or_default(),
        crate::json::to_string(&person)
    );
    w.write_all(head.as_bytes()).map_err(io)?;
    let mut first = true;
    for (wid, e) in s.events_in_time_order() {
        if !first {
            w.write_all(b",\n").map_err(io)?;
        }
        first = false;
        let wid_json = serde_json::to_string(wid).unwrap_or_default();
        w.write_all(prepend_field(e.json(), "windowId", &wid_json).as_bytes())
            .map_err(io)?;
    }
    w.write_all(b"]}}\n").map_err(io)?;
    Ok(())
}
