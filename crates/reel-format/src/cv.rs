//! PostHog's event-level compression, `cv: "2024-10"`.
//!
//! posthog-js gzips a FullSnapshot's `data`, and a Mutation's `texts`, `attributes`, `removes` and
//! `adds` (StyleSheetRule `adds`/`removes` too), and stores the bytes as a latin1 string (each char
//! code one byte). [`unpack`] undoes that and removes the `cv` marker, giving a plain rrweb event.
use crate::event::{EventType, IncrementalSource};
use crate::import::raw::RawObject;
use crate::{json, Error, Event, Limits, Result};
use serde_json::value::RawValue;
use serde_json::Value;

/// The only packing version Reel knows. Others are kept as they are.
pub const CV_2024_10: &str = "2024-10";

/// Return the plain form of `event`: unchanged if it is not packed, decoded if it is.
/// An unknown `cv` version is kept as is (open data), with the event still packed.
///
/// The event is never materialised as a tree: its fields stay raw JSON text, each packed field
/// is replaced by its decoded JSON text (validated, depth-checked), and the `cv` marker dropped.
/// Memory is a few times the decoded size, whatever its shape (a field of `[0,0,…]` would be
/// 30 times bigger as a `Value`).
pub fn unpack(event: Event, limits: &Limits) -> Result<Event> {
    if !event.packed {
        return Ok(event);
    }
    if event.json().len() > limits.max_depth
        && json::depth_exceeds(event.json().as_bytes(), limits.max_depth)
    {
        return Err(Error::invalid(
            "event",
            format!("JSON nested deeper than {} levels", limits.max_depth),
        ));
    }
    let o: RawObject =
        serde_json::from_str(event.json()).map_err(|_| Error::invalid("event", "not an object"))?;
    if o.get_as::<String>("cv").as_deref() != Some(CV_2024_10) {
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
    let mut out = String::with_capacity(event.json().len() + 64);
    out.push('{');
    let mut first = true;
    for (k, v) in &o.0 {
        if k == "cv" {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        push_key(&mut out, k);
        if k != "data" {
            out.push_str(v.get());
        } else if event.kind == EventType::FullSnapshot {
            match serde_json::from_str::<String>(v.get()) {
                Ok(packed) => out.push_str(
                    &decode_field_text(&packed, limits)
                        .map_err(|e| e.within("FullSnapshot data"))?,
                ),
                Err(_) => out.push_str(v.get()),
            }
        } else {
            match serde_json::from_str::<RawObject>(v.get()) {
                Ok(data) if !fields.is_empty() => {
                    out.push('{');
                    for (i, (dk, dv)) in data.0.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        push_key(&mut out, dk);
                        let packed = fields
                            .contains(&dk.as_str())
                            .then(|| serde_json::from_str::<String>(dv.get()).ok())
                            .flatten();
                        match packed {
                            Some(p) => out.push_str(
                                &decode_field_text(&p, limits).map_err(|e| e.within(dk))?,
                            ),
                            None => out.push_str(dv.get()),
                        }
                    }
                    out.push('}');
                }
                _ => out.push_str(v.get()),
            }
        }
    }
    out.push('}');
    Event::parse(out)
}

fn push_key(out: &mut String, k: &str) {
    out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"\"".into()));
    out.push(':');
}

/// A packed field's text as the bytes it stands for (one char per byte, as posthog-js writes it).
fn latin1_bytes(s: &str) -> Result<Vec<u8>> {
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
    Ok(bytes)
}

/// Decode one packed field to JSON text: latin1 string → bytes → gunzip (capped) → checked to
/// be one JSON value no deeper than `limits.max_depth` (without building it).
pub fn decode_field_text(s: &str, limits: &Limits) -> Result<String> {
    let bytes = latin1_bytes(s)?;
    let out = gunzip_capped(&bytes, limits.max_entry_bytes, "cv field")?;
    drop(bytes);
    let text = String::from_utf8(out).map_err(|_| Error::invalid("cv field", "not UTF-8 JSON"))?;
    if json::depth_exceeds(text.as_bytes(), limits.max_depth) {
        return Err(Error::invalid(
            "cv field",
            format!("JSON nested deeper than {} levels", limits.max_depth),
        ));
    }
    // serde_json skips nested values without recursing: no tree, no stack growth.
    let raw: &RawValue = serde_json::from_str(&text).map_err(|e| Error::json("cv field", &e, 0))?;
    let trimmed = raw.get();
    if trimmed.len() == text.len() {
        Ok(text)
    } else {
        Ok(trimmed.to_string())
    }
}

/// Decode one packed field: latin1 string → bytes → gunzip (capped) → JSON.
pub fn decode_field(s: &str, limits: &Limits) -> Result<Value> {
    let bytes = latin1_bytes(s)?;
    let out = gunzip_capped(&bytes, limits.max_entry_bytes, "cv field")?;
    json::parse_value("cv field", &out, limits.max_depth)
}

/// Gunzip `bytes`, refusing to produce more than `cap` bytes (gzip bombs).
/// Concatenated gzip members are read in full; each member's CRC-32 and size are checked.
///
/// The inflate state (~40 KB) is kept per thread and reset between members: posthog-js packs
/// every snapshot event's fields separately, so an import inflates hundreds of thousands of
/// small members and a fresh state each time was a measurable share of its CPU.
pub fn gunzip_capped(bytes: &[u8], cap: u64, context: &str) -> Result<Vec<u8>> {
    thread_local! {
        static INFLATE: std::cell::RefCell<flate2::Decompress> =
            std::cell::RefCell::new(flate2::Decompress::new(false));
    }
    let bad = |msg: &str| Error::invalid(context, format!("gzip: {msg}"));
    let mut out = Vec::with_capacity((bytes.len() * 4).min(cap as usize + 1).min(1 << 20));
    let mut rest = bytes;
    loop {
        let body = gzip_header(rest).ok_or_else(|| bad("invalid gzip header"))?;
        let start = out.len();
        let used = INFLATE.with(|d| -> Result<usize> {
            let mut d = d.borrow_mut();
            d.reset(false);
            loop {
                if out.len() == out.capacity() {
                    out.reserve((out.len()).clamp(64 << 10, 8 << 20));
                }
                let (before_in, before_out) = (d.total_in(), out.len());
                let input = &body[before_in as usize..];
                let st = d
                    .decompress_vec(input, &mut out, flate2::FlushDecompress::None)
                    .map_err(|e| bad(&e.to_string()))?;
                if out.len() as u64 > cap {
                    return Err(Error::Limit {
                        context: context.into(),
                        what: "decompressed size".into(),
                        limit: cap,
                        hint: "--max-bytes",
                    });
                }
                match st {
                    flate2::Status::StreamEnd => return Ok(d.total_in() as usize),
                    _ if d.total_in() == before_in && out.len() == before_out => {
                        return Err(bad("unexpected end of file"));
                    }
                    _ => {}
                }
            }
        })?;
        let trailer = body
            .get(used..used + 8)
            .ok_or_else(|| bad("unexpected end of file"))?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let mut h = crc32fast::Hasher::new();
        h.update(&out[start..]);
        if h.finalize() != crc || (out.len() - start) as u32 != size {
            return Err(bad("corrupt deflate stream (checksum or size mismatch)"));
        }
        rest = &body[used + 8..];
        if rest.is_empty() {
            return Ok(out);
        }
    }
}

/// The deflate data after a gzip member's header (RFC 1952), or `None` if it is not one.
fn gzip_header(b: &[u8]) -> Option<&[u8]> {
    if b.len() < 10 || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
        return None;
    }
    let flags = b[3];
    let mut rest = &b[10..];
    if flags & 4 != 0 {
        let n = u16::from_le_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        rest = rest.get(2 + n..)?;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            let end = rest.iter().position(|&c| c == 0)?;
            rest = &rest[end + 1..];
        }
    }
    if flags & 2 != 0 {
        rest = rest.get(2..)?;
    }
    Some(rest)
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
    use std::io::Read;

    /// flate2's own reader: what `gunzip_capped` must agree with.
    fn oracle(bytes: &[u8], cap: u64) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let n = flate2::read::MultiGzDecoder::new(bytes)
            .take(cap + 1)
            .read_to_end(&mut out)
            .ok()?;
        (n as u64 <= cap).then_some(out)
    }

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_agrees_with_flate2() {
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut cases = vec![
            gz(b"", 6),
            gz(b"hello", 1),
            gz(&big, 6),
            [gz(b"one ", 6), gz(b"two", 9)].concat(),
            gz(&vec![b'a'; 5_000_000], 9),
        ];
        let mut named = flate2::GzBuilder::new()
            .filename("x.json")
            .comment("c")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut named, b"{\"a\":1}").unwrap();
        cases.push(named.finish().unwrap());
        let mut broken = gz(&big, 6);
        let n = broken.len();
        broken[n - 6] ^= 1; // size
        cases.push(broken.clone());
        broken[n - 6] ^= 1;
        broken[n - 8] ^= 1; // CRC
        cases.push(broken.clone());
        cases.push(broken[..n / 2].to_vec()); // truncated
        cases.push([gz(b"x", 6), b"trailing".to_vec()].concat());
        cases.push(Vec::new());
        cases.push(b"not gzip at all".to_vec());
        for (i, c) in cases.iter().enumerate() {
            for cap in [0, 4, 1_000, 1 << 30] {
                let ours = gunzip_capped(c, cap, "t").ok();
                assert_eq!(ours, oracle(c, cap), "case {i}, cap {cap}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn gunzip_agrees_with_flate2_on_any_bytes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
                                                  flip in 0usize..4000, members in 1usize..3) {
            let mut bytes: Vec<u8> = (0..members).flat_map(|_| gz(&data, 6)).collect();
            if flip < bytes.len() { bytes[flip] ^= 0x5a; }
            proptest::prop_assert_eq!(gunzip_capped(&bytes, 1 << 20, "t").ok(), oracle(&bytes, 1 << 20));
        }
    }

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
