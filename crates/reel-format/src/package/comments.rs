//! `sessions/<id>/comments.json` (format 1.3, optional): comments people wrote at a time of the
//! recording — plain text, an author label — so that they travel with an export and come back
//! with an import. A reader that does not know the entry ignores it (it is listed and checksummed
//! like any other). Spec: docs/format.md.
use super::{check_id, manifest::iso_ms};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest comment text, in characters (after trimming).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest author label, in characters (after trimming).
pub const MAX_AUTHOR_CHARS: usize = 100;
/// Largest `comments.json` a reader takes (a 2000-character comment is ≤ 8 KB: thousands fit).
pub const MAX_ENTRY_BYTES: usize = 16 << 20;

/// The entry's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comments {
    /// 1.
    pub version: u32,
    pub session_id: String,
    /// In time order.
    pub comments: Vec<Comment>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Unique in the package; kept by an import so that importing twice stores a comment once.
    pub id: String,
    /// The instant of the recording it is about, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// The same instant as ms after the session's `start_time` (meta.json), for readers that
    /// only want an offset.
    pub t_ms: i64,
    /// Plain text: no markup is interpreted; newlines are the only control characters.
    pub text: String,
    /// Who wrote it, as they labelled themselves ("" when they did not).
    #[serde(default)]
    pub author: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub fn comments_path(session: &str) -> String {
    format!("sessions/{session}/comments.json")
}

/// A comment's text and author as they are kept: text trimmed (CR LF made LF), 1 to
/// [`MAX_TEXT_CHARS`] characters, no control character but newline; author trimmed, at most
/// [`MAX_AUTHOR_CHARS`] characters, no control character. `Err` says what to change.
pub fn check_text(text: &str, author: &str) -> std::result::Result<(String, String), String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err("text: write something (an empty comment is not kept)".into());
    }
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(format!(
            "text: at most {MAX_TEXT_CHARS} characters ({n} sent)"
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(
            "text: plain text only; control characters other than newline are refused".into(),
        );
    }
    let author = author.trim();
    let n = author.chars().count();
    if n > MAX_AUTHOR_CHARS {
        return Err(format!(
            "author: at most {MAX_AUTHOR_CHARS} characters ({n} sent)"
        ));
    }
    if author.chars().any(char::is_control) {
        return Err("author: one line of plain text".into());
    }
    Ok((text.to_string(), author.to_string()))
}

/// Epoch ms of an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl Comment {
    /// A comment at `at_ms` (epoch ms) of a session that starts at `start_ms`.
    pub fn new(
        id: &str,
        at_ms: i64,
        start_ms: i64,
        text: &str,
        author: &str,
        created_ms: i64,
    ) -> Self {
        Comment {
            id: id.to_string(),
            timestamp: iso_ms(at_ms),
            t_ms: (at_ms - start_ms).max(0),
            text: text.to_string(),
            author: author.to_string(),
            created_at: iso_ms(created_ms),
            extra: Default::default(),
        }
    }

    /// Epoch ms of `timestamp`.
    pub fn at_ms(&self) -> Option<i64> {
        parse_time(&self.timestamp)
    }

    /// Epoch ms of `created_at`.
    pub fn created_ms(&self) -> Option<i64> {
        parse_time(&self.created_at)
    }
}

/// Parse and check a `comments.json` of `session`: the session id, valid unique ids, times
/// that parse, `t_ms` ≥ 0, text and author as [`check_text`] keeps them.
pub fn parse(path: &str, session: &str, bytes: &[u8]) -> Result<Comments> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(Error::invalid(
            path,
            format!("larger than {MAX_ENTRY_BYTES} bytes"),
        ));
    }
    let doc: Comments = serde_json::from_slice(bytes).map_err(|e| Error::json(path, &e, 0))?;
    if doc.session_id != session {
        return Err(Error::invalid(
            path,
            format!(
                "session_id {} is not the session of its folder",
                super::shown_id(&doc.session_id)
            ),
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for (i, c) in doc.comments.iter().enumerate() {
        let at = format!("{path}: comments[{i}]");
        check_id(&format!("{at}.id"), &c.id)?;
        if !ids.insert(c.id.as_str()) {
            return Err(Error::invalid(
                at,
                format!("id {} is used twice", super::shown_id(&c.id)),
            ));
        }
        if c.at_ms().is_none() || c.created_ms().is_none() {
            return Err(Error::invalid(
                at,
                "timestamp and created_at must be RFC 3339 times",
            ));
        }
        if c.t_ms < 0 {
            return Err(Error::invalid(at, "t_ms must not be negative"));
        }
        match check_text(&c.text, &c.author) {
            Ok((t, a)) if t == c.text && a == c.author => {}
            Ok(_) => {
                return Err(Error::invalid(
                    at,
                    "text and author are stored trimmed (and with LF line ends)",
                ))
            }
            Err(e) => return Err(Error::invalid(at, e)),
        }
    }
    Ok(doc)
}

/// The entry's bytes for these comments (put in time order).
pub fn to_bytes(session: &str, mut comments: Vec<Comment>) -> Result<Vec<u8>> {
    comments.sort_by(|a, b| (a.t_ms, &a.created_at, &a.id).cmp(&(b.t_ms, &b.created_at, &b.id)));
    let doc = Comments {
        version: 1,
        session_id: session.to_string(),
        comments,
        extra: Default::default(),
    };
    serde_json::to_vec_pretty(&doc)
        .map_err(|e| Error::invalid(comments_path(session), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_author_are_checked() {
        assert_eq!(
            check_text("  hello\r\nworld \n", " ana "),
            Ok(("hello\nworld".into(), "ana".into()))
        );
        assert!(check_text(" \n ", "")
            .unwrap_err()
            .contains("write something"));
        assert!(check_text("a\u{7}b", "").unwrap_err().contains("control"));
        assert!(check_text("a\tb", "").unwrap_err().contains("control"));
        assert!(check_text(&"é".repeat(2000), "").is_ok());
        assert!(check_text(&"é".repeat(2001), "")
            .unwrap_err()
            .contains("2000"));
        assert!(check_text("x", &"a".repeat(101))
            .unwrap_err()
            .contains("100"));
        assert!(check_text("x", "a\nb").unwrap_err().contains("author"));
    }

    #[test]
    fn entries_round_trip_and_bad_ones_are_refused() {
        let c = Comment::new(
            "c-1",
            1_700_000_004_250,
            1_700_000_000_000,
            "pay\nfailed",
            "ana",
            1_700_000_100_000,
        );
        assert_eq!(c.t_ms, 4250);
        assert_eq!(c.timestamp, "2023-11-14T22:13:24.250Z");
        assert_eq!(c.at_ms(), Some(1_700_000_004_250));
        let bytes = to_bytes("s1", vec![c.clone()]).unwrap();
        let doc = parse("p", "s1", &bytes).unwrap();
        assert_eq!(doc.comments, vec![c.clone()]);
        assert!(parse("p", "s2", &bytes)
            .unwrap_err()
            .to_string()
            .contains("session_id"));
        let twice = to_bytes("s1", vec![c.clone(), c.clone()]).unwrap();
        assert!(parse("p", "s1", &twice)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let mut bad = c.clone();
        bad.text = "<b>\u{1b}[31m</b>".into();
        let e = parse("p", "s1", &to_bytes("s1", vec![bad]).unwrap()).unwrap_err();
        assert!(e.to_string().contains("control"), "{e}");
        let mut bad = c;
        bad.id = "../x".into();
        assert!(parse("p", "s1", &to_bytes("s1", vec![bad]).unwrap()).is_err());
    }
}
