//! HTTP capture bodies under per-request caps: transport decoding that reports its memory as it
//! grows (so a server can bound how much is being inflated at once), arrays walked item by item
//! without collecting them, a cap on warnings, and a per-request budget for `cv` unpacking.
//!
//! Nothing here builds a `serde_json::Value` of a whole body: bodies are walked as borrowed
//! [`RawValue`] slices and only the fields a caller needs are deserialised.
use super::{base64_json, form_field, lz, Encoding};
use crate::{cv, json, Error, Event, Result};
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::Read;

/// Most warning lines kept per body; the rest are counted in one last line.
pub const MAX_WARNINGS: usize = 20;
const MORE: &str = " more warnings not shown";

/// Add a warning, keeping at most [`MAX_WARNINGS`] lines plus one line counting the rest.
pub fn push_warning(w: &mut Vec<String>, msg: String) {
    push_warning_with(w, || msg)
}

/// [`push_warning`], building the message only when it is kept (hostile bodies can hold
/// millions of bad items).
pub fn push_warning_with(w: &mut Vec<String>, msg: impl FnOnce() -> String) {
    if w.len() < MAX_WARNINGS {
        w.push(msg());
        return;
    }
    let extra = w
        .get(MAX_WARNINGS)
        .and_then(|l| l.strip_suffix(MORE))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    w.truncate(MAX_WARNINGS);
    w.push(format!("{}{MORE}", extra + 1));
}

/// How many warnings [`push_warning`] was given (lines kept plus those only counted).
pub fn warning_count(w: &[String]) -> usize {
    let extra = w
        .get(MAX_WARNINGS)
        .and_then(|l| l.strip_suffix(MORE))
        .and_then(|n| n.parse::<usize>().ok());
    match extra {
        Some(n) => MAX_WARNINGS + n,
        None => w.len(),
    }
}

/// The message of the error [`decode_body_capped`] returns when `grow` said no.
pub const BUSY: &str = "server busy: too many request bodies being decoded; retry";

/// Caps for decoding one body.
pub struct BodyCap<'a> {
    /// Largest decoded (inflated) body, bytes.
    pub cap: u64,
    /// The flag that raises `cap`, named in the error message.
    pub hint: &'static str,
    /// Called with the memory the decoded body takes so far (every MiB while inflating, and
    /// once at the end); `false` stops decoding with [`BUSY`].
    pub grow: &'a mut dyn FnMut(u64) -> bool,
}

fn limit(context: &str, cap: &BodyCap) -> Error {
    Error::Limit {
        context: context.into(),
        what: "decompressed size".into(),
        limit: cap.cap,
        hint: cap.hint,
    }
}

/// Undo a body's transport encoding like [`super::decode_body`], under `cap`. Plain bodies are
/// borrowed, not copied.
pub fn decode_body_capped<'b>(
    bytes: &'b [u8],
    cap: &mut BodyCap,
) -> Result<(Cow<'b, [u8]>, Encoding)> {
    let busy = || Error::invalid("body", BUSY);
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut dec = flate2::read::MultiGzDecoder::new(bytes);
        let mut out: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut next_report = 1u64 << 20;
        loop {
            let n = dec
                .read(&mut buf)
                .map_err(|e| Error::invalid("gzip body", format!("gzip: {e}")))?;
            if n == 0 {
                break;
            }
            if (out.len() + n) as u64 > cap.cap {
                return Err(limit("gzip body", cap));
            }
            out.extend_from_slice(&buf[..n]);
            if out.capacity() as u64 >= next_report {
                if !(cap.grow)(out.capacity() as u64) {
                    return Err(busy());
                }
                next_report = out.capacity() as u64 + (1 << 20);
            }
        }
        if !(cap.grow)(out.capacity() as u64) {
            return Err(busy());
        }
        return Ok((Cow::Owned(out), Encoding::Gzip));
    }
    let first = json::first_byte(bytes);
    if matches!(first, Some(b'[') | Some(b'{') | None) {
        if bytes.len() as u64 > cap.cap {
            return Err(Error::Limit {
                context: "body".into(),
                what: "size".into(),
                limit: cap.cap,
                hint: cap.hint,
            });
        }
        if !(cap.grow)(bytes.len() as u64) {
            return Err(busy());
        }
        return Ok((Cow::Borrowed(bytes), Encoding::Plain));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::invalid("body", "neither gzip, JSON nor text"))?;
    let text = text.trim();
    let payload = form_field(text, "data").unwrap_or_else(|| text.to_string());
    if let Some(decoded) = base64_json(&payload) {
        if decoded.len() as u64 > cap.cap {
            return Err(limit("base64 body", cap));
        }
        if !(cap.grow)(decoded.len() as u64) {
            return Err(busy());
        }
        return Ok((Cow::Owned(decoded), Encoding::Base64Form));
    }
    // lz-string output is UTF-16 units; a unit becomes up to 3 UTF-8 bytes.
    let out = lz::decompress_from_base64(&payload, cap.cap as usize).map_err(|e| match e {
        Error::Limit { .. } => limit("lz64 body", cap),
        e => e,
    })?;
    if out.len() as u64 > cap.cap {
        return Err(limit("lz64 body", cap));
    }
    if !(cap.grow)(out.len() as u64) {
        return Err(busy());
    }
    Ok((Cow::Owned(out.into_bytes()), Encoding::Lz64))
}

/// Call `f` with each element of the JSON array `bytes` as a borrowed raw slice, in order,
/// without collecting them. An error from `f` stops the walk and is returned as is.
pub fn for_each_item<'de>(
    bytes: &'de [u8],
    context: &str,
    mut f: impl FnMut(usize, &'de RawValue) -> Result<()>,
) -> Result<()> {
    struct Each<'f, F> {
        f: &'f mut F,
        err: &'f mut Option<Error>,
    }
    impl<'de, F: FnMut(usize, &'de RawValue) -> Result<()>> Visitor<'de> for Each<'_, F> {
        type Value = ();
        fn expecting(&self, fm: &mut std::fmt::Formatter) -> std::fmt::Result {
            fm.write_str("a JSON array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            let mut i = 0;
            while let Some(v) = seq.next_element::<&'de RawValue>()? {
                if let Err(e) = (self.f)(i, v) {
                    *self.err = Some(e);
                    return Err(serde::de::Error::custom("stopped"));
                }
                i += 1;
            }
            Ok(())
        }
    }
    let mut err = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let r = (&mut de).deserialize_seq(Each {
        f: &mut f,
        err: &mut err,
    });
    if let Some(e) = err {
        return Err(e);
    }
    r.map_err(|e| Error::json(context, &e, 0))?;
    de.end().map_err(|e| Error::json(context, &e, 0))
}

/// What one request may unpack from PostHog `cv` fields, in total.
#[derive(Debug, Clone, Copy)]
pub struct CvBudget {
    /// Bytes still allowed.
    pub left: u64,
    /// The whole allowance (for the message).
    pub total: u64,
    /// The flag that raises it.
    pub hint: &'static str,
}

impl CvBudget {
    pub fn unlimited() -> CvBudget {
        CvBudget {
            left: u64::MAX,
            total: u64::MAX,
            hint: "--max-bytes",
        }
    }
}

/// Parse one event and undo its `cv` packing, charging the unpacked growth to `budget`.
/// Exceeding the budget is an [`Error::Limit`] (the caller refuses the request).
pub fn parse_event_budgeted(
    text: &str,
    limits: &crate::Limits,
    budget: &mut CvBudget,
) -> Result<Event> {
    let e = Event::parse(text)?;
    if !e.packed {
        return Ok(e);
    }
    let before = e.json().len() as u64;
    let mut l = *limits;
    l.max_entry_bytes = l.max_entry_bytes.min(budget.left);
    let out = match cv::unpack(e, &l) {
        Ok(out) => out,
        Err(Error::Limit { .. }) if budget.total != u64::MAX => return Err(cv_limit(budget)),
        Err(e) => return Err(e),
    };
    let grown = (out.json().len() as u64).saturating_sub(before);
    if grown > budget.left {
        return Err(cv_limit(budget));
    }
    budget.left -= grown;
    Ok(out)
}

fn cv_limit(b: &CvBudget) -> Error {
    Error::Limit {
        context: "cv fields".into(),
        what: "unpacked size of one request".into(),
        limit: b.total,
        hint: b.hint,
    }
}

/// Like [`super::parse_events`] over raw items, with a `cv` budget (a budget overrun fails the
/// whole call even in lenient mode) and capped warnings.
pub fn parse_raw_events<'a>(
    items: impl IntoIterator<Item = &'a RawValue>,
    what: &str,
    opts: &super::ImportOptions,
    warnings: &mut Vec<String>,
    budget: &mut CvBudget,
) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for (i, raw) in items.into_iter().enumerate() {
        match parse_event_budgeted(raw.get(), &opts.limits, budget) {
            Ok(e) => out.push(e),
            Err(e @ Error::Limit { .. }) => return Err(e),
            Err(e) if opts.lenient => {
                push_warning_with(warnings, || format!("{what}: event {i} skipped: {e}"))
            }
            Err(e) => return Err(Error::invalid(what, format!("event {i}: {e}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_capped_and_counted() {
        let mut w = Vec::new();
        for i in 0..1000 {
            push_warning(&mut w, format!("w{i}"));
        }
        assert_eq!(w.len(), MAX_WARNINGS + 1);
        assert_eq!(warning_count(&w), 1000);
        assert_eq!(w[0], "w0");
    }

    #[test]
    fn items_are_walked_one_by_one() {
        let mut n = 0;
        for_each_item(b"[1, {\"a\": [2]}, \"x\"]", "t", |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
        let stop = for_each_item(b"[1,2,3]", "t", |i, _| {
            if i == 1 {
                Err(Error::invalid("t", "stop here"))
            } else {
                Ok(())
            }
        });
        assert!(stop.unwrap_err().to_string().contains("stop here"));
        assert!(for_each_item(b"{}", "t", |_, _| Ok(())).is_err());
        assert!(for_each_item(b"[1] x", "t", |_, _| Ok(())).is_err());
    }

    #[test]
    fn gzip_over_the_cap_names_the_hint_and_reports_growth() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(b"[").unwrap();
        enc.write_all(&b"0,".repeat(4 << 20)).unwrap();
        enc.write_all(b"0]").unwrap();
        let gz = enc.finish().unwrap();
        let mut seen = 0u64;
        let mut grow = |n: u64| {
            seen = n;
            true
        };
        let e = decode_body_capped(
            &gz,
            &mut BodyCap {
                cap: 1 << 20,
                hint: "--test-flag",
                grow: &mut grow,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("--test-flag"), "{e}");
        assert!(seen <= 2 << 20);
        let mut refuse = |n: u64| n < (2 << 20);
        let e = decode_body_capped(
            &gz,
            &mut BodyCap {
                cap: 64 << 20,
                hint: "--test-flag",
                grow: &mut refuse,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains(BUSY), "{e}");
    }

    #[test]
    fn cv_budget_is_per_request() {
        let v = serde_json::json!({"node": {"type": 0, "childNodes": [], "id": 1}, "pad": "x".repeat(10_000)});
        let ev = serde_json::json!({"type": 2, "data": cv::pack_field(&v), "timestamp": 1, "cv": "2024-10"}).to_string();
        let mut b = CvBudget {
            left: 25_000,
            total: 25_000,
            hint: "--cv-limit",
        };
        let l = crate::Limits::default();
        parse_event_budgeted(&ev, &l, &mut b).unwrap();
        parse_event_budgeted(&ev, &l, &mut b).unwrap();
        let e = parse_event_budgeted(&ev, &l, &mut b).unwrap_err();
        assert!(e.to_string().contains("--cv-limit"), "{e}");
    }
}
