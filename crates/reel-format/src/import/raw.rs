//! A JSON object whose values stay raw: fields can be read, dropped or added without
//! materialising (or reordering) the rest of the object.
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// Fields of a JSON object in document order, values as raw JSON.
#[derive(Debug, Default)]
pub struct RawObject<'a>(pub Vec<(String, &'a RawValue)>);

impl<'a> RawObject<'a> {
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The value at `key` parsed as `T`, or `None` when missing or of another shape.
    pub fn get_as<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get(key)
            .and_then(|v| serde_json::from_str(v.get()).ok())
    }

    /// JSON text of this object without the named fields.
    pub fn to_json_without(&self, drop: &[&str]) -> String {
        let mut out = String::with_capacity(
            self.0
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 2,
        );
        out.push('{');
        let mut first = true;
        for (k, v) in &self.0 {
            if drop.contains(&k.as_str()) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&serde_json::to_string(k).unwrap_or_default());
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        out
    }
}

/// Insert `"key":value` as the first field of the JSON object text `obj` (which must be an object).
pub fn prepend_field(obj: &str, key: &str, value_json: &str) -> String {
    let body = obj
        .trim_start()
        .strip_prefix('{')
        .unwrap_or(obj)
        .trim_start();
    let sep = if body.starts_with('}') { "" } else { "," };
    format!(
        "{{{}:{}{}{}",
        serde_json::to_string(key).unwrap_or_default(),
        value_json,
        sep,
        body
    )
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawObject<'a>, A::Error> {
                let mut fields = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    let v: &'a RawValue = m.next_value()?;
                    fields.push((k, v));
                }
                Ok(RawObject(fields))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_and_prepend_keep_the_rest_verbatim() {
        let src = r#"{"windowId":1,"type":3,"data":{"b":1,"a":[1, 2]},"timestamp":5}"#;
        let o: RawObject = serde_json::from_str(src).unwrap();
        let plain = o.to_json_without(&["windowId"]);
        assert_eq!(
            plain,
            r#"{"type":3,"data":{"b":1,"a":[1, 2]},"timestamp":5}"#
        );
        assert_eq!(prepend_field(&plain, "windowId", "1"), src);
        assert_eq!(prepend_field("{}", "k", "\"v\""), r#"{"k":"v"}"#);
    }
}
