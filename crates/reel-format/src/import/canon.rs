//! The canonical identity of an event's JSON: two texts of the same event hash alike whatever
//! their key order, whitespace, string escapes (`"\u00e9"` and `"é"`) or number spelling (`1`,
//! `1.0`, `1e0`). Used to recognise an event that arrives again in another form (a package, an
//! rrweb array, a PostHog export, a `/s/` body after `cv` unpacking) so an import stores it once.
//!
//! The digest is computed while parsing, without building a tree: each value hashes to 32 bytes,
//! an array hashes its elements' digests in order, an object hashes its (key, value) digest pairs
//! sorted. Depth is bounded by [`crate::Limits::max_depth`] (checked before parsing; the parser
//! grows its stack instead of overflowing it).
use crate::{json, Error, Limits, Result};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};
use std::fmt;

/// The canonical digest of one JSON document (an event).
pub fn canonical_digest(text: &str, limits: &Limits) -> Result<[u8; 32]> {
    if text.len() > limits.max_depth && json::depth_exceeds(text.as_bytes(), limits.max_depth) {
        return Err(Error::invalid(
            "event",
            format!("JSON nested deeper than {} levels", limits.max_depth),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let d = serde_stacker::Deserializer::new(&mut de);
    let digest = Canon
        .deserialize(d)
        .map_err(|e| Error::json("event", &e, 0))?;
    de.end().map_err(|e| Error::json("event", &e, 0))?;
    Ok(digest)
}

fn leaf(tag: u8, bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([tag]);
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
    h.finalize().into()
}

fn integer(v: i128) -> [u8; 32] {
    leaf(b'i', &v.to_le_bytes())
}

struct Canon;

impl<'de> DeserializeSeed<'de> for Canon {
    type Value = [u8; 32];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<[u8; 32], D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canon {
    type Value = [u8; 32];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<[u8; 32], E> {
        Ok(leaf(b'n', &[]))
    }
    fn visit_none<E>(self) -> Result<[u8; 32], E> {
        Ok(leaf(b'n', &[]))
    }
    fn visit_bool<E>(self, v: bool) -> Result<[u8; 32], E> {
        Ok(leaf(b'b', &[v as u8]))
    }
    fn visit_i64<E>(self, v: i64) -> Result<[u8; 32], E> {
        Ok(integer(v as i128))
    }
    fn visit_u64<E>(self, v: u64) -> Result<[u8; 32], E> {
        Ok(integer(v as i128))
    }
    fn visit_f64<E>(self, v: f64) -> Result<[u8; 32], E> {
        // Whole numbers hash like integers (`1.0` is `1`; `-0.0` is `0`).
        if v.fract() == 0.0 && v.abs() < 1e18 {
            return Ok(integer(v as i128));
        }
        Ok(leaf(b'f', &v.to_bits().to_le_bytes()))
    }
    fn visit_str<E>(self, v: &str) -> Result<[u8; 32], E> {
        Ok(leaf(b's', v.as_bytes()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; 32], A::Error> {
        let mut h = Sha256::new();
        h.update(b"a");
        let mut n = 0u64;
        while let Some(d) = seq.next_element_seed(Canon)? {
            h.update(d);
            n += 1;
        }
        h.update(n.to_le_bytes());
        Ok(h.finalize().into())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<[u8; 32], A::Error> {
        let mut pairs: Vec<([u8; 32], [u8; 32])> = Vec::new();
        while let Some(k) = map.next_key_seed(Canon)? {
            let v = map.next_value_seed(Canon)?;
            pairs.push((k, v));
        }
        pairs.sort_unstable();
        let mut h = Sha256::new();
        h.update(b"o");
        h.update((pairs.len() as u64).to_le_bytes());
        for (k, v) in pairs {
            h.update(k);
            h.update(v);
        }
        Ok(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> [u8; 32] {
        canonical_digest(s, &Limits::default()).unwrap()
    }

    #[test]
    fn key_order_whitespace_escapes_and_number_spelling_do_not_matter() {
        let a = d(r#"{"type":3,"data":{"source":1,"positions":[{"x":1,"y":2}]},"timestamp":5}"#);
        let b = d(
            "{ \"timestamp\": 5,\n \"data\": {\"positions\": [ {\"y\":2.0, \"x\":1e0} ], \"source\":1}, \"type\":3 }",
        );
        assert_eq!(a, b);
        assert_eq!(d(r#"{"t":"\u00e9"}"#), d(r#"{"t":"é"}"#));
    }

    #[test]
    fn different_content_differs() {
        let base = d(r#"{"type":3,"data":{"a":[1,2]},"timestamp":5}"#);
        for other in [
            r#"{"type":3,"data":{"a":[2,1]},"timestamp":5}"#,
            r#"{"type":3,"data":{"a":[1,2,null]},"timestamp":5}"#,
            r#"{"type":3,"data":{"a":"[1,2]"},"timestamp":5}"#,
            r#"{"type":3,"data":{"b":[1,2]},"timestamp":5}"#,
            r#"{"type":3,"data":{"a":[1,2]},"timestamp":6}"#,
            r#"{"type":3,"data":{"a":[1,2]},"timestamp":5,"x":null}"#,
            r#"{"type":3,"data":{"a":[1.5,2]},"timestamp":5}"#,
        ] {
            assert_ne!(base, d(other), "{other}");
        }
        // A key's and a value's roles are not interchangeable.
        assert_ne!(d(r#"{"a":"b"}"#), d(r#"{"b":"a"}"#));
    }

    #[test]
    fn packed_and_unpacked_forms_match_after_unpacking() {
        let node = serde_json::json!({"node": {"type": 0, "childNodes": [], "id": 1}, "initialOffset": {"top": 0, "left": 0}});
        let packed = serde_json::json!({"type": 2, "data": crate::cv::pack_field(&node), "timestamp": 10, "cv": "2024-10"});
        let e = crate::cv::unpack(
            crate::Event::parse(packed.to_string()).unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let plain = r#"{"timestamp":10,"type":2,"data":{"initialOffset":{"left":0,"top":0},"node":{"id":1,"childNodes":[],"type":0}}}"#;
        assert_eq!(d(e.json()), d(plain));
    }

    #[test]
    fn deep_and_broken_json_are_errors_not_crashes() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(canonical_digest(&deep, &Limits::default()).is_err());
        let ok = format!("{}1{}", "[".repeat(3000), "]".repeat(3000));
        assert!(canonical_digest(&ok, &Limits::default()).is_ok());
        assert!(canonical_digest("{\"a\":", &Limits::default()).is_err());
        assert!(canonical_digest("{} {}", &Limits::default()).is_err());
    }
}
