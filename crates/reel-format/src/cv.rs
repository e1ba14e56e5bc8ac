//! PostHog's event-level compression, `cv: "2024-10"`.
//!
//! posthog-js gzips a FullSnapshot's `data`, and a Mutation's `texts`, `attributes`, `removes` and
//! `adds` (StyleSheetRule `adds`/`removes` too), and stores the bytes as a latin1 string (each char
//! code one byte). [`unpack`] undoes that and removes the `cv` marker, giving a plain rrweb event.
use crate::event::{EventType, IncrementalSource};
use crate::{json, Error, Event, Limits, Result};
use serde_json::Value;
use std::io::Read;

/// The only packing version Reel knows. Others are kept as they are.
pub const CV_2024_10: &str = "2024-10";

/// Return the plain form of `event`: unchanged if it is not packed, decoded if it is.
/// An unknown `cv` version is kept as is (open data), with the event still packed.
pub fn unpack(event: Event, limits: &Limits) -> Result<Event> {
    if !event.packed {
        return Ok(event);
    }
    let mut v = json::parse_value("event", event.json().as_bytes(), limits.max_depth)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::invalid("event", "not an object"))?;
    if obj.get("cv").and_then(Value::as_str) != Some(CV_2024_10) {
        return Ok(event);
    }
    let fields: &[&str] = match (event.kind, event.source) {
        (EventType::FullSnapshot, _) => &["data"],
        (EventType::IncrementalSnapshot, Some(IncrementalSource::Mutation)) => {
            &["texts", "attributes", "removes", "adds"]
        }
        (EventType::IncrementalSnapshot, Some(IncrementalSource::StyleSheetRule)) => {
            &["adds", "removes"]
        }
        _ => &[],
    };
    if event.kind == EventType::FullSnapshot {
        if let Some(Value::String(s)) = obj.get("data") {
            let decoded = decode_field(s, limits).map_err(|e| e.within("FullSnapshot data"))?;
            obj.insert("data".into(), decoded);
        }
    } else if let Some(Value::Object(data)) = obj.get_mut("data") {
        for f in fields {
            if let Some(Value::String(s)) = data.get(*f) {
                let decoded = decode_field(s, limits).map_err(|e| e.within(f))?;
                data.insert((*f).to_string(), decoded);
            }
        }
    }
    obj.remove("cv");
    Event::parse(json::to_string(&v))
}

/// Decode one packed field: latin1 string → bytes → gunzip (capped) → JSON.
pub fn decode_field(s: &str, limits: &Limits) -> Result<Value> {
    let mut bytes = Vec::with_capacity(s.len());
    for c in s.chars() {
        let code = c as u32;
        if code > 0xff {
            return Err(Error::invalid(
                "cv field",
                format!("character U+{code:04X} is not a byte"),
            ));
        }
        bytes.push(code as u8);
    }
    let out = gunzip_capped(&bytes, limits.max_entry_bytes, "cv field")?;
    json::parse_value("cv field", &out, limits.max_depth)
}

/// Gunzip `bytes`, refusing to produce more than `cap` bytes (gzip bombs).
/// Concatenated gzip members are read in full.
pub fn gunzip_capped(bytes: &[u8], cap: u64, context: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let dec = flate2::read::MultiGzDecoder::new(bytes);
    let n = dec
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::invalid(context, format!("gzip: {e}")))?;
    if n as u64 > cap {
        return Err(Error::Limit {
            context: context.into(),
            what: "decompressed size".into(),
            limit: cap,
            hint: "--max-bytes",
        });
    }
    Ok(out)
}

/// Pack a JSON value the way posthog-js does (for tests and for exporters that want it).
pub fn pack_field(v: &Value) -> String {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(json::to_string(v).as_bytes());
    let bytes = enc.finish().unwrap_or_default();
    bytes.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_snapshot_and_mutation_unpack() {
        let node = json!({"node": {"type": 0, "childNodes": [], "id": 1}, "initialOffset": {"top": 0, "left": 0}});
        let packed =
            json!({"type": 2, "data": pack_field(&node), "timestamp": 10, "cv": "2024-10"});
        let e = unpack(
            Event::parse(packed.to_string()).unwrap(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            e.to_value().unwrap(),
            json!({"type": 2, "data": node, "timestamp": 10})
        );
        assert!(!e.packed);

        let adds = json!([{"parentId": 1, "nextId": null, "node": {"type": 3, "textContent": "hi", "id": 9}}]);
        let m = json!({"type": 3, "cv": "2024-10", "timestamp": 11,
            "data": {"source": 0, "adds": pack_field(&adds), "texts": pack_field(&json!([])), "attributes": pack_field(&json!([])), "removes": pack_field(&json!([]))}});
        let e = unpack(Event::parse(m.to_string()).unwrap(), &Limits::default()).unwrap();
        let v = e.to_value().unwrap();
        assert_eq!(v["data"]["adds"], adds);
        assert_eq!(v["data"]["texts"], json!([]));
        assert!(v.get("cv").is_none());
    }

    #[test]
    fn unknown_cv_version_is_kept() {
        let src = r#"{"type":2,"data":"xyz","timestamp":1,"cv":"2031-01"}"#;
        let e = unpack(Event::parse(src).unwrap(), &Limits::default()).unwrap();
        assert_eq!(e.json(), src);
    }

    #[test]
    fn gzip_bomb_in_cv_field_is_refused() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(b"[").unwrap();
        enc.write_all(&vec![b' '; 4 << 20]).unwrap();
        enc.write_all(b"]").unwrap();
        let s: String = enc.finish().unwrap().iter().map(|&b| b as char).collect();
        let limits = Limits {
            max_entry_bytes: 1 << 20,
            ..Limits::default()
        };
        let ev = json!({"type": 2, "data": s, "timestamp": 1, "cv": "2024-10"});
        let err = unpack(Event::parse(ev.to_string()).unwrap(), &limits).unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }
}
