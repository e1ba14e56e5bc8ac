//! rrweb events: raw JSON kept byte for byte, plus a small parsed header.
//!
//! Reel rarely needs to change an event, so an [`Event`] holds the event's JSON text exactly as it
//! arrived (after `cv` decoding) and the few facts every tool needs: type, timestamp, incremental
//! source, and a [`Detail`] for statistics. Every enum is open: an unknown number is kept and
//! passed through, never an error.
use crate::{Error, Result};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $v:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);
        #[allow(non_upper_case_globals)]
        impl $name {
            $($(#[$vm])* pub const $variant: $name = $name($v);)*
            /// The rrweb name of this value, or `None` for a value this version does not know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some(stringify!($variant)),)* _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() { Some(n) => f.write_str(n), None => write!(f, "Unknown({})", self.0) }
            }
        }
    };
}

open_enum!(
    /// rrweb's `EventType`.
    EventType {
        DomContentLoaded = 0, Load = 1, FullSnapshot = 2, IncrementalSnapshot = 3, Meta = 4,
        Custom = 5, Plugin = 6, Asset = 7,
    }
);

open_enum!(
    /// rrweb's `IncrementalSource` (the `data.source` of an IncrementalSnapshot).
    IncrementalSource {
        Mutation = 0, MouseMove = 1, MouseInteraction = 2, Scroll = 3, ViewportResize = 4, Input = 5,
        TouchMove = 6, MediaInteraction = 7, StyleSheetRule = 8, CanvasMutation = 9, Font = 10,
        Log = 11, Drag = 12, StyleDeclaration = 13, Selection = 14, AdoptedStyleSheet = 15,
        CustomElement = 16,
    }
);

open_enum!(
    /// rrweb's `MouseInteractions` (the `data.type` of a MouseInteraction).
    MouseInteraction {
        MouseUp = 0, MouseDown = 1, Click = 2, ContextMenu = 3, DblClick = 4, Focus = 5, Blur = 6,
        TouchStart = 7, TouchMoveDeparted = 8, TouchEnd = 9, TouchCancel = 10,
    }
);

/// Console levels as the `rrweb/console@1` plugin reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsoleLevel {
    Log,
    Warn,
    Error,
    Other,
}

/// What statistics need from an event beyond its type and source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Detail {
    #[default]
    None,
    /// A Meta event's `href`, or a custom `$pageview`/`$url_changed` event's URL.
    Href(String),
    /// A MouseInteraction's `type`.
    Interaction(MouseInteraction),
    /// A console plugin event's level.
    Console(ConsoleLevel),
    /// A network plugin event with this many requests.
    Network(u32),
    /// A custom event's tag.
    Custom(String),
}

/// One rrweb event: its JSON text (exactly as received, after `cv` decoding) and its header.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventType,
    /// Milliseconds since the epoch (fractional timestamps are floored; the JSON keeps the original).
    pub timestamp: i64,
    pub source: Option<IncrementalSource>,
    pub detail: Detail,
    /// True when the event still carries PostHog's `cv` packing.
    pub packed: bool,
    json: String,
}

/// An event's parsed header without its text (see [`Event`]); cheap to keep for many events.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub kind: EventType,
    pub timestamp: i64,
    pub source: Option<IncrementalSource>,
    pub detail: Detail,
    pub packed: bool,
}

impl Header {
    /// Append a compact binary form (for the package spool's temporary files).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kind.0.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        match self.source {
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&s.0.to_le_bytes());
            }
            None => out.push(0),
        }
        out.push(self.packed as u8);
        let text = |out: &mut Vec<u8>, tag: u8, t: &str| {
            out.push(tag);
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        };
        match &self.detail {
            Detail::None => out.push(0),
            Detail::Href(h) => text(out, 1, h),
            Detail::Custom(c) => text(out, 2, c),
            Detail::Interaction(i) => {
                out.push(3);
                out.extend_from_slice(&i.0.to_le_bytes());
            }
            Detail::Console(l) => {
                out.push(4);
                out.push(match l {
                    ConsoleLevel::Log => 0,
                    ConsoleLevel::Warn => 1,
                    ConsoleLevel::Error => 2,
                    ConsoleLevel::Other => 3,
                });
            }
            Detail::Network(n) => {
                out.push(5);
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }

    /// Read what [`Header::encode`] wrote at the start of `b`; returns the header and the rest.
    pub(crate) fn decode(b: &[u8]) -> Option<(Header, &[u8])> {
        fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (h, t) = (b.get(..n)?, b.get(n..)?);
            *b = t;
            Some(h)
        }
        fn i64_of(b: &mut &[u8]) -> Option<i64> {
            Some(i64::from_le_bytes(take(b, 8)?.try_into().ok()?))
        }
        fn u32_of(b: &mut &[u8]) -> Option<u32> {
            Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?))
        }
        let mut b = b;
        let kind = EventType(i64_of(&mut b)?);
        let timestamp = i64_of(&mut b)?;
        let source = match take(&mut b, 1)?[0] {
            0 => None,
            _ => Some(IncrementalSource(i64_of(&mut b)?)),
        };
        let packed = take(&mut b, 1)?[0] != 0;
        let text = |b: &mut &[u8]| -> Option<String> {
            let n = u32_of(b)? as usize;
            String::from_utf8(take(b, n)?.to_vec()).ok()
        };
        let detail = match take(&mut b, 1)?[0] {
            0 => Detail::None,
            1 => Detail::Href(text(&mut b)?),
            2 => Detail::Custom(text(&mut b)?),
            3 => Detail::Interaction(MouseInteraction(i64_of(&mut b)?)),
            4 => Detail::Console(match take(&mut b, 1)?[0] {
                0 => ConsoleLevel::Log,
                1 => ConsoleLevel::Warn,
                2 => ConsoleLevel::Error,
                _ => ConsoleLevel::Other,
            }),
            5 => Detail::Network(u32_of(&mut b)?),
            _ => return None,
        };
        let h = Header {
            kind,
            timestamp,
            source,
            detail,
            packed,
        };
        Some((h, b))
    }
}

impl Event {
    /// The header of this event.
    pub fn header(&self) -> Header {
        Header {
            kind: self.kind,
            timestamp: self.timestamp,
            source: self.source,
            detail: self.detail.clone(),
            packed: self.packed,
        }
    }

    /// Rebuild an event from its header and the same JSON text it came from, without parsing it
    /// again (crate-internal: the text must be the one the header was taken from).
    pub(crate) fn from_header(h: Header, json: String) -> Event {
        Event {
            kind: h.kind,
            timestamp: h.timestamp,
            source: h.source,
            detail: h.detail,
            packed: h.packed,
            json,
        }
    }

    /// Parse one event from its JSON text. The text is validated and kept unchanged.
    pub fn parse(json: impl Into<String>) -> Result<Event> {
        let json = json.into();
        // serde_json skips nested values without recursing, so depth is bounded here, before a
        // 200k-deep event reaches code that materialises it. Short texts cannot be that deep.
        let max_depth = crate::Limits::default().max_depth;
        if json.len() > max_depth && crate::json::depth_exceeds(json.as_bytes(), max_depth) {
            return Err(Error::invalid(
                "event",
                format!("JSON nested deeper than {max_depth} levels"),
            ));
        }
        let h: RawHeader = serde_json::from_str(&json).map_err(|e| Error::json("event", &e, 0))?;
        let kind =
            EventType(h.ty.ok_or_else(|| Error::invalid("event", "missing numeric \"type\""))?);
        let ts = h
            .timestamp
            .ok_or_else(|| Error::invalid("event", "missing numeric \"timestamp\""))?;
        if !ts.is_finite() {
            return Err(Error::invalid("event", "timestamp is not a finite number"));
        }
        let d = h.data.unwrap_or_default();
        let source = (kind == EventType::IncrementalSnapshot)
            .then_some(d.source)
            .flatten()
            .map(IncrementalSource);
        let detail = match kind {
            EventType::Meta => d.href.map(Detail::Href).unwrap_or_default(),
            EventType::IncrementalSnapshot
                if source == Some(IncrementalSource::MouseInteraction) =>
            {
                d.ty.map(|t| Detail::Interaction(MouseInteraction(t)))
                    .unwrap_or_default()
            }
            EventType::Plugin => d.plugin_detail(),
            EventType::Custom => match d.tag {
                Some(tag) if tag == "$pageview" || tag == "$url_changed" => d
                    .href
                    .or(d.payload_href)
                    .map(Detail::Href)
                    .unwrap_or(Detail::Custom(tag)),
                Some(tag) => Detail::Custom(tag),
                None => Detail::None,
            },
            _ => Detail::None,
        };
        Ok(Event {
            kind,
            timestamp: ts.floor() as i64,
            source,
            detail,
            packed: h.cv.is_some(),
            json,
        })
    }

    /// Parse an event from a raw JSON slice borrowed from a larger document.
    pub fn from_raw(raw: &RawValue) -> Result<Event> {
        Event::parse(raw.get())
    }

    /// The event's JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Consume the event, returning its JSON text.
    pub fn into_json(self) -> String {
        self.json
    }

    /// The event as a JSON value (materialised on demand; most code never needs it).
    pub fn to_value(&self) -> Result<serde_json::Value> {
        crate::json::parse_value(
            "event",
            self.json.as_bytes(),
            crate::Limits::default().max_depth,
        )
    }

    /// True for events a person caused (PostHog's definition of activity).
    pub fn is_activity(&self) -> bool {
        matches!(
            self.source,
            Some(IncrementalSource::MouseMove)
                | Some(IncrementalSource::MouseInteraction)
                | Some(IncrementalSource::Scroll)
                | Some(IncrementalSource::ViewportResize)
                | Some(IncrementalSource::Input)
                | Some(IncrementalSource::TouchMove)
                | Some(IncrementalSource::MediaInteraction)
                | Some(IncrementalSource::Drag)
        )
    }
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(rename = "type")]
    ty: Option<i64>,
    timestamp: Option<f64>,
    #[serde(default)]
    data: Option<DataHeader>,
    #[serde(default)]
    cv: Option<IgnoredAny>,
}

/// The few fields of `data` that statistics use; everything else is skipped without allocation.
#[derive(Default)]
struct DataHeader {
    source: Option<i64>,
    ty: Option<i64>,
    href: Option<String>,
    plugin: Option<String>,
    tag: Option<String>,
    level: Option<String>,
    requests: Option<u32>,
    payload_href: Option<String>,
}

impl DataHeader {
    fn plugin_detail(&self) -> Detail {
        match self.plugin.as_deref() {
            Some(p) if p.contains("console") => Detail::Console(match self.level.as_deref() {
                Some("log") | Some("info") | Some("debug") => ConsoleLevel::Log,
                Some("warn") => ConsoleLevel::Warn,
                Some("error") | Some("assert") => ConsoleLevel::Error,
                _ => ConsoleLevel::Other,
            }),
            Some(p) if p.contains("network") => Detail::Network(self.requests.unwrap_or(0)),
            _ => Detail::None,
        }
    }
}

impl<'de> Deserialize<'de> for DataHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(DataVisitor)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = DataHeader;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("event data")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<DataHeader, A::Error> {
        let mut h = DataHeader::default();
        while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
            match k.as_ref() {
                "source" => h.source = m.next_value::<Lenient<i64>>()?.0,
                "type" => h.ty = m.next_value::<Lenient<i64>>()?.0,
                "href" => h.href = m.next_value::<Lenient<String>>()?.0,
                "plugin" => h.plugin = m.next_value::<Lenient<String>>()?.0,
                "tag" => h.tag = m.next_value::<Lenient<String>>()?.0,
                "payload" => {
                    let p = m.next_value::<PayloadHeader>()?;
                    h.level = p.level;
                    h.requests = p.requests;
                    h.payload_href = p.href;
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(h)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(
        self,
        mut s: A,
    ) -> std::result::Result<DataHeader, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(DataHeader::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
    fn visit_string<E: de::Error>(self, _: String) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<DataHeader, E> {
        Ok(DataHeader::default())
    }
}

#[derive(Default)]
struct PayloadHeader {
    level: Option<String>,
    requests: Option<u32>,
    href: Option<String>,
}

impl<'de> Deserialize<'de> for PayloadHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PayloadHeader;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("payload")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<PayloadHeader, A::Error> {
                let mut p = PayloadHeader::default();
                while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    match k.as_ref() {
                        "level" => p.level = m.next_value::<Lenient<String>>()?.0,
                        "href" | "$current_url" => p.href = m.next_value::<Lenient<String>>()?.0,
                        "requests" => p.requests = Some(m.next_value::<CountSeq>()?.0),
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(p)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> std::result::Result<PayloadHeader, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PayloadHeader::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<PayloadHeader, E> {
                Ok(PayloadHeader::default())
            }
            fn visit_unit<E: de::Error>(self) -> std::result::Result<PayloadHeader, E> {
                Ok(PayloadHeader::default())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<PayloadHeader, E> {
                Ok(PayloadHeader::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<PayloadHeader, E> {
                Ok(PayloadHeader::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<PayloadHeader, E> {
                Ok(PayloadHeader::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<PayloadHeader, E> {
                Ok(PayloadHeader::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// Length of an array, skipping its elements.
struct CountSeq(u32);
impl<'de> Deserialize<'de> for CountSeq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = <Lenient<Vec<IgnoredAny>>>::deserialize(d)?;
        Ok(CountSeq(v.0.map(|v| v.len() as u32).unwrap_or(0)))
    }
}

/// A value of type T, or `None` if the JSON holds something else (open data, never an error).
struct Lenient<T>(Option<T>);
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = <&'de RawValue as Deserialize>::deserialize(d);
        match raw {
            Ok(raw) => Ok(Lenient(serde_json::from_str(raw.get()).ok())),
            Err(_) => Ok(Lenient(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_read_and_text_kept() {
        let src = r#"{"type":3,"data":{"source":2,"type":2,"id":5,"x":1},"timestamp":1700000000123.7,"extra":{"a":[1,2]}}"#;
        let e = Event::parse(src).unwrap();
        assert_eq!(e.kind, EventType::IncrementalSnapshot);
        assert_eq!(e.source, Some(IncrementalSource::MouseInteraction));
        assert_eq!(e.detail, Detail::Interaction(MouseInteraction::Click));
        assert_eq!(e.timestamp, 1700000000123);
        assert_eq!(e.json(), src);
    }

    #[test]
    fn unknown_types_and_sources_pass_through() {
        let e = Event::parse(r#"{"type":42,"data":{"source":99},"timestamp":1}"#).unwrap();
        assert_eq!(e.kind, EventType(42));
        assert_eq!(e.kind.to_string(), "Unknown(42)");
        let e = Event::parse(r#"{"type":3,"data":{"source":99},"timestamp":1}"#).unwrap();
        assert_eq!(e.source, Some(IncrementalSource(99)));
    }

    #[test]
    fn console_and_meta_details() {
        let e = Event::parse(
            r#"{"type":6,"data":{"payload":{"level":"error","payload":["x"]},"plugin":"rrweb/console@1"},"timestamp":5}"#,
        )
        .unwrap();
        assert_eq!(e.detail, Detail::Console(ConsoleLevel::Error));
        let e = Event::parse(r#"{"type":4,"data":{"href":"https://a.example/x","width":1,"height":2},"timestamp":5}"#)
            .unwrap();
        assert_eq!(e.detail, Detail::Href("https://a.example/x".into()));
    }

    #[test]
    fn odd_data_shapes_are_not_errors() {
        for d in [
            r#""packed""#,
            "null",
            "[1,2]",
            "7",
            r#"{"source":"x","type":null}"#,
        ] {
            let e = Event::parse(format!(r#"{{"type":3,"data":{d},"timestamp":1}}"#)).unwrap();
            assert_eq!(e.kind, EventType::IncrementalSnapshot);
        }
    }

    #[test]
    fn missing_type_or_timestamp_is_an_error() {
        assert!(Event::parse(r#"{"data":{},"timestamp":1}"#).is_err());
        assert!(Event::parse(r#"{"type":2,"data":{}}"#).is_err());
        assert!(Event::parse(r#"[1]"#).is_err());
    }
}

#[cfg(test)]
mod header_codec {
    use super::*;

    #[test]
    fn every_detail_survives_the_spool_encoding() {
        let details = [
            Detail::None,
            Detail::Href("https://example.com/é?q=1".into()),
            Detail::Custom("$pageview".into()),
            Detail::Interaction(MouseInteraction::Click),
            Detail::Console(ConsoleLevel::Warn),
            Detail::Network(7),
        ];
        for (i, detail) in details.into_iter().enumerate() {
            let h = Header {
                kind: EventType(40 + i as i64),
                timestamp: -5 + i as i64 * 1_700_000_000_000,
                source: (i % 2 == 0).then_some(IncrementalSource(i as i64)),
                detail,
                packed: i % 3 == 0,
            };
            let mut b = Vec::new();
            h.encode(&mut b);
            b.extend_from_slice(b"{\"rest\":1}");
            let (back, rest) = Header::decode(&b).unwrap();
            assert_eq!(back, h);
            assert_eq!(rest, b"{\"rest\":1}");
            // A cut record is refused, never misread.
            assert!(Header::decode(&b[..b.len() - 11]).is_none());
        }
    }
}
