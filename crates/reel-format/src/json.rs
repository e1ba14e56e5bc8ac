//! JSON helpers that stay safe on hostile input: a depth pre-check (no stack overflow on deeply
//! nested documents), stack growth while materialising trees, and errors with line numbers.
use crate::{Error, Result};
use serde_json::Value;

/// Deepest nesting of arrays/objects in `bytes`, stopping early once `max` is exceeded.
/// Strings are skipped correctly (brackets inside strings do not count).
pub fn depth_exceeds(bytes: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for &b in bytes {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parse a whole JSON document into a [`Value`], refusing nesting deeper than `max_depth`.
pub fn parse_value(context: &str, bytes: &[u8], max_depth: usize) -> Result<Value> {
    if depth_exceeds(bytes, max_depth) {
        return Err(Error::invalid(
            context,
            format!("JSON nested deeper than {max_depth} levels"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let de = serde_stacker::Deserializer::new(&mut de);
    let v = serde::Deserialize::deserialize(de).map_err(|e| Error::json(context, &e, 0))?;
    Ok(v)
}

/// Serialize a value that came from [`parse_value`] (so its depth is bounded) to a string.
pub fn to_string(v: &Value) -> String {
    // Values are depth-checked on the way in; serde_json's writer cannot fail on a Value.
    serde_json::to_string(v).unwrap_or_default()
}

/// The first non-whitespace byte of `bytes`.
pub fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// 1-based line number of byte offset `pos` in `bytes`.
pub fn line_of(bytes: &[u8], pos: usize) -> usize {
    1 + bytes[..pos.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let err = parse_value("deep.json", deep.as_bytes(), 4096).unwrap_err();
        assert!(err.to_string().contains("nested deeper than 4096"), "{err}");
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let s = format!("[\"{}\"]", "[".repeat(10_000));
        assert!(!depth_exceeds(s.as_bytes(), 3));
        assert!(parse_value("s", s.as_bytes(), 3).is_ok());
    }

    #[test]
    fn moderately_deep_trees_parse() {
        let deep = format!("{}1{}", "[".repeat(3000), "]".repeat(3000));
        let v = parse_value("ok", deep.as_bytes(), 4096).unwrap();
        // Drop of a 3000-deep Value must not overflow either.
        drop(v);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let err = parse_value("f.json", b"{\n\"a\": 1,\n\"b\": }", 10).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("f.json: invalid JSON at line 3"),
            "{err}"
        );
    }
}
