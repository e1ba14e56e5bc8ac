//! The optional LLM summary: what may be sent to a model and how its answer is checked.
//!
//! What is sent is a compact timeline built from an [`Insight`] alone (pages with time spent, key
//! actions, moments): never DOM, never an input value (key actions do not carry them), URLs
//! without query values or fragments, every line and the whole text capped. The caller computes
//! the insight from events that went through the export redaction policy, so the model sees at
//! most what an export would hold. The answer must have the deterministic summary's shape
//! (`text`, `segments`, `key_actions` with the three flags, `outcome`) with times inside the
//! session; anything else is refused. It is kept apart: `summary.json`'s `llm_summary`.
//!
//! No HTTP here: `reel-move` sends the request.
use crate::analyze::Insight;
use crate::moments::MomentKind;
use crate::timeline::cut;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Largest timeline sent, bytes (a long session's later lines are left out, saying how many).
pub const MAX_TIMELINE_BYTES: usize = 24 * 1024;
/// Longest line of the timeline, characters.
const MAX_LINE: usize = 240;
/// Largest answer read, bytes.
pub const MAX_ANSWER_BYTES: u64 = 1 << 20;
const MAX_TEXT: usize = 4_000;
const MAX_ITEMS: usize = 200;
const MAX_ITEM_TEXT: usize = 1_000;

/// The model's summary, checked. Times are ms from the session's start, like the deterministic one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmSummary {
    /// The model that answered (as the endpoint names it, else as asked).
    pub model: String,
    /// When it answered, RFC 3339 UTC.
    pub created_at: String,
    /// Size of the timeline that was sent, bytes.
    pub timeline_bytes: u64,
    pub text: String,
    pub segments: Vec<LlmSegment>,
    pub key_actions: Vec<LlmKeyAction>,
    pub outcome: LlmOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmSegment {
    pub start_ms: i64,
    pub end_ms: i64,
    #[serde(default)]
    pub url: Option<String>,
    pub summary: String,
    #[serde(default)]
    pub failure: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmKeyAction {
    pub t_ms: i64,
    pub description: String,
    #[serde(default)]
    pub abandonment: bool,
    #[serde(default)]
    pub confusion: bool,
    #[serde(default)]
    pub exception: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmOutcome {
    pub success: bool,
    pub description: String,
}

/// The answer's content before it is checked.
#[derive(Deserialize)]
struct Answer {
    text: String,
    #[serde(default)]
    segments: Vec<LlmSegment>,
    #[serde(default)]
    key_actions: Vec<LlmKeyAction>,
    outcome: LlmOutcome,
}

const SYSTEM: &str = "You summarise one recorded web session for a product team. You get a compact \
timeline: times are from the session's start (m:ss.s), pages with time spent, what the person did, \
and detected moments (rage_click, dead_click, error_click, console_error, exception, network_error, \
slow_request, navigation, reload, form_submit, idle, thrash, custom). Use only what the timeline \
says; never guess values that are not in it. Answer with one JSON object and nothing else:\n\
{\"text\": \"2-4 plain sentences: what the person tried to do and whether it worked\",\n \
\"segments\": [{\"start_ms\": 0, \"end_ms\": 1000, \"url\": \"/path or null\", \"summary\": \"one sentence\", \"failure\": false}],\n \
\"key_actions\": [{\"t_ms\": 0, \"description\": \"what they did\", \"abandonment\": false, \"confusion\": false, \"exception\": false}],\n \
\"outcome\": {\"success\": true, \"description\": \"one sentence\"}}\n\
Times are integer milliseconds from the start, within the session. abandonment: they started \
something (a form) and left it; confusion: rage or dead clicks, back and forth; exception: an error \
followed the action.";

/// The chat-completions request body for `model` about `insight` (OpenAI-compatible).
pub fn request(model: &str, insight: &Insight) -> (Value, usize) {
    let timeline = timeline(insight);
    let n = timeline.len();
    let body = json!({
        "model": model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": timeline},
        ],
    });
    (body, n)
}

/// `m:ss.s` (or `h:mm:ss`) from ms.
fn clock(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}.{}", s / 60, s % 60, (ms % 1000) / 100)
    }
}

/// A URL with the query's values and the fragment removed: `https://a.example/p?q=…&page=…`.
/// Values often hold what a person typed or who they are; the keys say enough.
pub fn scrub_url(u: &str) -> String {
    let u = u.split('#').next().unwrap_or("");
    let Some((base, query)) = u.split_once('?') else {
        return cut(u, 200);
    };
    let keys: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(20)
        .map(|p| {
            let k = p.split('=').next().unwrap_or("");
            format!("{}=…", cut(k, 40))
        })
        .collect();
    cut(&format!("{base}?{}", keys.join("&")), 200)
}

fn detail_text(d: &serde_json::Map<String, Value>) -> String {
    let mut out = Vec::new();
    for (k, v) in d {
        let urlish = k.contains("url") || k == "from" || k == "urls";
        let s = match v {
            Value::String(s) if urlish => scrub_url(s),
            Value::String(s) => format!("{:?}", cut(s, 160)),
            Value::Array(a) => a
                .iter()
                .take(6)
                .map(|x| match x.as_str() {
                    Some(s) if urlish => scrub_url(s),
                    Some(s) => cut(s, 80),
                    None => x.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" → "),
            Value::Null => continue,
            v => v.to_string(),
        };
        out.push(format!("{k}={s}"));
    }
    out.join(" ")
}

/// The compact timeline sent to the model (at most [`MAX_TIMELINE_BYTES`]).
pub fn timeline(i: &Insight) -> String {
    let s = &i.summary;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Session: {} long, {} active; {} page visits, {} clicks, {} fields filled, {} searches, {} form submits.",
        clock(s.duration_ms),
        clock(s.active_ms),
        s.pages.len(),
        s.clicks,
        s.fields_filled,
        s.searches,
        s.form_submits
    );
    let mut lines: Vec<(i64, u8, String)> = Vec::new();
    for p in &s.pages {
        lines.push((
            p.t_ms,
            0,
            format!(
                "page {} (stayed {})",
                scrub_url(&p.url),
                clock(p.duration_ms)
            ),
        ));
    }
    for a in &s.key_actions {
        if a.kind == "navigation" {
            continue; // the page lines say it, with a scrubbed URL
        }
        let mut flags = Vec::new();
        for (on, name) in [
            (a.abandonment, "abandonment"),
            (a.confusion, "confusion"),
            (a.exception, "exception"),
        ] {
            if on {
                flags.push(name);
            }
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        lines.push((a.t_ms, 1, format!("{}: {}{flags}", a.kind, a.description)));
    }
    for m in &i.moments {
        if m.kind == MomentKind::Navigation {
            continue;
        }
        let target = m
            .target
            .as_ref()
            .map(|t| {
                if t.text.is_empty() {
                    format!(" on {}", t.selector)
                } else {
                    format!(" on {:?} ({})", cut(&t.text, 60), t.selector)
                }
            })
            .unwrap_or_default();
        lines.push((
            m.t_ms,
            2,
            format!(
                "moment {}{target} {}",
                m.kind.name(),
                detail_text(&m.detail)
            ),
        ));
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let outcome = format!(
        "End: last page {}; errors in the last 10 s: {}.",
        s.outcome
            .last_url
            .as_deref()
            .map(scrub_url)
            .unwrap_or_else(|| "unknown".into()),
        if s.outcome.errors_at_end.is_empty() {
            "none".to_string()
        } else {
            s.outcome.errors_at_end.join(", ")
        }
    );
    let budget = MAX_TIMELINE_BYTES.saturating_sub(outcome.len() + 64);
    let total = lines.len();
    for (n, (at, _, text)) in lines.into_iter().enumerate() {
        let line = format!("{} {}\n", clock(at), cut(text.trim(), MAX_LINE));
        if t.len() + line.len() > budget {
            let _ = writeln!(t, "… {} more lines left out", total - n);
            break;
        }
        t.push_str(&line);
    }
    t.push_str(&outcome);
    t
}

/// Read a chat-completions answer: the message content must be a summary of this session
/// (`duration_ms` long). The error says what was wrong, never echoing more than a little of it.
pub fn parse_answer(
    body: &[u8],
    asked_model: &str,
    duration_ms: i64,
    timeline_bytes: usize,
    now: String,
) -> Result<LlmSummary, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the endpoint's answer is not JSON ({e})"))?;
    if let Some(e) = v.get("error") {
        let msg = e
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return Err(format!(
            "the endpoint answered an error: {}",
            cut(&msg, 300)
        ));
    }
    let content = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or(
            "the answer has no choices[0].message.content: is this a chat-completions endpoint?",
        )?;
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(asked_model);
    // Models sometimes wrap JSON in a code fence or a sentence: take the outermost object.
    let (Some(a), Some(b)) = (content.find('{'), content.rfind('}')) else {
        return Err(format!(
            "the model did not answer a JSON object (it said {:?})",
            cut(content, 120)
        ));
    };
    if b < a {
        return Err("the model did not answer a JSON object".into());
    }
    let ans: Answer = serde_json::from_str(&content[a..=b])
        .map_err(|e| format!("the model's answer does not have the summary's shape: {e}"))?;
    check(&ans, duration_ms)?;
    Ok(LlmSummary {
        model: cut(model, 200),
        created_at: now,
        timeline_bytes: timeline_bytes as u64,
        text: ans.text,
        segments: ans.segments,
        key_actions: ans.key_actions,
        outcome: ans.outcome,
    })
}

fn check(a: &Answer, duration_ms: i64) -> Result<(), String> {
    let text = |what: &str, s: &str, max: usize| {
        if s.chars().count() > max {
            Err(format!("{what} is longer than {max} characters"))
        } else {
            Ok(())
        }
    };
    let time = |what: &str, t: i64| {
        // One second of slack: models round.
        if t < 0 || t > duration_ms + 1_000 {
            Err(format!(
                "{what} = {t} ms is outside the session (0–{duration_ms} ms)"
            ))
        } else {
            Ok(())
        }
    };
    if a.text.trim().is_empty() {
        return Err("the summary's text is empty".into());
    }
    text("text", &a.text, MAX_TEXT)?;
    text("outcome.description", &a.outcome.description, MAX_ITEM_TEXT)?;
    if a.segments.len() > MAX_ITEMS || a.key_actions.len() > MAX_ITEMS {
        return Err(format!("more than {MAX_ITEMS} segments or key actions"));
    }
    for (n, s) in a.segments.iter().enumerate() {
        time(&format!("segments[{n}].start_ms"), s.start_ms)?;
        time(&format!("segments[{n}].end_ms"), s.end_ms)?;
        if s.end_ms < s.start_ms {
            return Err(format!("segments[{n}] ends before it starts"));
        }
        text(&format!("segments[{n}].summary"), &s.summary, MAX_ITEM_TEXT)?;
        text(
            &format!("segments[{n}].url"),
            s.url.as_deref().unwrap_or(""),
            MAX_ITEM_TEXT,
        )?;
    }
    for (n, k) in a.key_actions.iter().enumerate() {
        time(&format!("key_actions[{n}].t_ms"), k.t_ms)?;
        text(
            &format!("key_actions[{n}].description"),
            &k.description,
            MAX_ITEM_TEXT,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::KeyAction;
    use proptest::prelude::*;

    fn insight(actions: usize, duration_ms: i64) -> Insight {
        let mut i = Insight::default();
        i.summary.duration_ms = duration_ms;
        i.summary.key_actions = (0..actions)
            .map(|n| KeyAction {
                t_ms: n as i64 * 10,
                window_id: "w".into(),
                url: Some("https://shop.example/cart?user=ann@example.com".into()),
                kind: "click".into(),
                description: format!("clicked \"Buy\" (button#b{n})"),
                target: None,
                abandonment: false,
                confusion: n % 7 == 0,
                exception: false,
                at: 0,
                repeat: 0,
            })
            .collect();
        i
    }

    fn answer(content: &str) -> Vec<u8> {
        json!({"model": "m", "choices": [{"message": {"content": content}}]})
            .to_string()
            .into_bytes()
    }

    const GOOD: &str = r#"{"text": "Bought.", "segments": [{"start_ms": 0, "end_ms": 900, "summary": "cart"}],
        "key_actions": [{"t_ms": 10, "description": "clicked Buy"}], "outcome": {"success": true, "description": "ok"}}"#;

    #[test]
    fn urls_lose_query_values_and_fragments() {
        assert_eq!(
            scrub_url("https://a.example/p?q=shoes&email=ann%40x.com#tok"),
            "https://a.example/p?q=…&email=…"
        );
        assert_eq!(scrub_url("https://a.example/p#x"), "https://a.example/p");
        assert_eq!(scrub_url("/p"), "/p");
    }

    #[test]
    fn the_timeline_is_capped_and_says_what_was_left_out() {
        let t = timeline(&insight(20_000, 200_000));
        assert!(t.len() <= MAX_TIMELINE_BYTES, "{}", t.len());
        assert!(t.contains("more lines left out"), "{t}");
        assert!(t.contains("[confusion]"));
        assert!(!t.contains("ann@example.com"));
        let small = timeline(&insight(3, 1_000));
        assert_eq!(small.lines().filter(|l| l.contains("click:")).count(), 3);
    }

    #[test]
    fn answers_are_checked() {
        let ok = parse_answer(&answer(GOOD), "asked", 1_000, 10, "now".into()).unwrap();
        assert_eq!(ok.model, "m");
        assert_eq!(ok.segments[0].end_ms, 900);
        assert!(!ok.key_actions[0].confusion);
        // In a code fence, with a sentence around it.
        let fenced = format!("Here it is:\n```json\n{GOOD}\n```");
        assert!(parse_answer(&answer(&fenced), "a", 1_000, 1, "n".into()).is_ok());
        let bad = |content: &str, duration: i64| {
            parse_answer(&answer(content), "a", duration, 1, "n".into()).unwrap_err()
        };
        // One second of slack, not more.
        assert!(parse_answer(&answer(GOOD), "a", 0, 1, "n".into()).is_ok());
        let late = GOOD.replace("\"end_ms\": 900", "\"end_ms\": 2001");
        assert!(bad(&late, 1_000).contains("outside the session"));
        assert!(bad(&GOOD.replace("\"end_ms\": 900", "\"end_ms\": -1"), 1_000).contains("outside"));
        assert!(bad(&GOOD.replace("\"Bought.\"", "\"  \""), 1_000).contains("empty"));
        let long = GOOD.replace("Bought.", &"x".repeat(MAX_TEXT + 1));
        assert!(bad(&long, 1_000).contains("longer"));
        assert!(bad("no", 1_000).contains("JSON object"));
        assert!(bad("} {", 1_000).contains("JSON object"));
        assert!(bad(r#"{"text": "t"}"#, 1_000).contains("shape"));
        let e = parse_answer(
            br#"{"error": {"message": "quota exceeded"}}"#,
            "a",
            1,
            1,
            "n".into(),
        )
        .unwrap_err();
        assert!(e.contains("quota exceeded"), "{e}");
        assert!(parse_answer(b"<html>", "a", 1, 1, "n".into())
            .unwrap_err()
            .contains("not JSON"));
    }

    proptest! {
        /// Whatever the endpoint answers, reading it never panics, and what is accepted keeps
        /// every time inside the session.
        #[test]
        fn any_answer_is_read_safely(body in proptest::collection::vec(any::<u8>(), 0..400),
                                     content in ".{0,300}",
                                     t in any::<i64>()) {
            let _ = parse_answer(&body, "a", 1_000, 1, "n".into());
            let c = GOOD.replace("\"t_ms\": 10", &format!("\"t_ms\": {t}"));
            if let Ok(s) = parse_answer(&answer(&c), "a", 1_000, 1, "n".into()) {
                prop_assert!(s.key_actions.iter().all(|k| (0..=2_000).contains(&k.t_ms)));
            }
            let _ = parse_answer(&answer(&content), "a", 1_000, 1, "n".into());
        }
    }
}
