//! `reel moments --llm-url`: the optional LLM summary against a fake OpenAI-compatible endpoint
//! on loopback (the one remote Reel cannot reach in tests). What is sent must never hold the
//! DOM or an input value; a bad answer is refused with a clear error; the key goes only into
//! the `Authorization` header.
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

mod common;
use common::{rrweb, REEL};

const KEY: &str = "sk-test-never-print-this-31337";

/// One request as the fake saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: Value,
}

/// A chat-completions endpoint answering `status` + `content` (the message content) to every
/// request and remembering what it was sent.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn fake(status: u16, answer: Value) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let (mut len, mut auth) = (0usize, None);
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap(),
                    "authorization" => auth = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            s2.lock().unwrap().push(Seen {
                path,
                authorization: auth,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            let out = answer.to_string();
            let mut s = s;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    Fake { url, seen }
}

fn chat(content: &str) -> Value {
    json!({"id": "x", "model": "fake-model-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
}

fn moments(url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["moments".to_string(), rrweb("checkout")];
    args.extend([
        "--llm-url".into(),
        url.into(),
        "--llm-model".into(),
        "m-1".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(REEL)
        .args(&args)
        .env("REEL_LLM_API_KEY", KEY)
        .env_remove("REEL_LLM_URL")
        .output()
        .unwrap()
}

fn good_answer() -> String {
    json!({
        "text": "The person filled the checkout form and paid.",
        "segments": [{"start_ms": 0, "end_ms": 5000, "url": "/checkout", "summary": "Checkout", "failure": false}],
        "key_actions": [{"t_ms": 1200, "description": "typed a name", "abandonment": false, "confusion": false, "exception": false}],
        "outcome": {"success": true, "description": "Paid."}
    })
    .to_string()
}

#[test]
fn llm_summary_is_asked_with_the_compact_timeline_only_and_kept_apart() {
    // A code fence around the JSON, as chat models often answer.
    let f = fake(200, chat(&format!("```json\n{}\n```", good_answer())));
    let out = moments(&f.url, &["--json"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains(KEY) && !stderr.contains(KEY),
        "the key was printed"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let s = &v["sessions"][0];
    let l = &s["llm_summary"];
    assert_eq!(l["model"], "fake-model-1", "{l:#}");
    assert_eq!(l["text"], "The person filled the checkout form and paid.");
    assert_eq!(l["key_actions"][0]["t_ms"], 1200);
    assert_eq!(l["outcome"]["success"], true);
    // The deterministic summary is untouched and separate.
    assert!(
        s["summary"]["text"].as_str().unwrap().contains("click"),
        "{s:#}"
    );
    assert_ne!(s["summary"]["text"], l["text"]);

    let seen = f.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.authorization.as_deref(), Some(&*format!("Bearer {KEY}")));
    assert_eq!(r.body["model"], "m-1");
    let sent = r.body["messages"][1]["content"].as_str().unwrap();
    assert_eq!(l["timeline_bytes"].as_u64().unwrap(), sent.len() as u64);
    // What the person typed (the fixture's name and e-mail fields) never leaves; neither does
    // the DOM.
    let all = r.body.to_string();
    for secret in ["Zelda", "zelda", "Canary"] {
        assert!(!all.contains(secret), "{secret:?} was sent: {sent}");
    }
    for dom in ["childNodes", "\"attributes\"", "<input", "<div"] {
        assert!(!all.contains(dom), "DOM ({dom}) was sent: {sent}");
    }
    // It is the session's timeline: clicks and the fields filled, with times.
    assert!(sent.contains("click: "), "{sent}");
    assert!(sent.contains("input: filled"), "{sent}");
    assert!(sent.lines().count() > 5, "{sent}");

    // Human output shows both, labelled.
    let out = moments(&f.url, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fake-model-1 says: The person filled"),
        "{text}"
    );
}

#[test]
fn a_bad_answer_or_a_failing_endpoint_is_a_clear_error() {
    // Times outside the session.
    let mut bad: Value = serde_json::from_str(&good_answer()).unwrap();
    bad["key_actions"][0]["t_ms"] = json!(99_000_000);
    let f = fake(200, chat(&bad.to_string()));
    let out = moments(&f.url, &["--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("outside the session"), "{err}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");

    // Not a summary at all.
    let f = fake(200, chat("I cannot help with that."));
    let out = moments(&f.url, &["--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("did not answer a JSON object"), "{err}");

    // Missing fields.
    let f = fake(200, chat(r#"{"text": "hi"}"#));
    let out = moments(&f.url, &["--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("shape"), "{err}");

    // The endpoint refuses the key: the status and its message, never the key.
    let f = fake(
        401,
        json!({"error": {"message": "Incorrect API key provided"}}),
    );
    let out = moments(&f.url, &["--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains(KEY));

    // Not an http(s) URL.
    let out = moments("ftp://example.com", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--llm-url"), "{err}");
}
