//! Comments at a time of a recording (admin token): `GET/POST /api/v1/sessions/{id}/comments`,
//! `DELETE /api/v1/comments/{id}`. Plain text kept as written (the web UI inserts it as text,
//! never as HTML). Exports carry them (`sessions/<id>/comments.json`, the export policy's text
//! patterns applied) and imports restore them; share and embed pages do not show them.
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use reel_format::package::comments as pkg;
use reel_store::Comment;
use std::sync::Arc;

/// Largest request body of `POST …/comments`: a 2000-character comment and its author fit with
/// room to spare; anything bigger is refused before it is parsed.
pub const MAX_BODY: usize = 16 << 10;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/sessions/{id}/comments", get(list).post(create))
        .route("/api/v1/comments/{id}", delete(remove))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

/// A comment as the API shows it: `at` in seconds from the session's start.
fn json_of(c: &Comment) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "at": c.at_ms as f64 / 1000.0,
        "text": c.text,
        "author": c.author,
        "created_at": reel_format::package::iso_ms(c.created_ms),
    })
}

/// What `POST` asks for: (at in ms, text, author), or the message of a 400. Unknown fields are
/// ignored.
pub fn parse_request(body: &[u8]) -> Result<(i64, String, String), String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("body: not JSON ({e})"))?;
    let o = v
        .as_object()
        .ok_or("body: send a JSON object {\"at\": seconds, \"text\": \"…\", \"author\": \"…\"}")?;
    let at = match o.get("at") {
        Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(_) => return Err("at: a number of seconds from the session's start".into()),
        None => return Err("at: missing (seconds from the session's start)".into()),
    };
    if !at.is_finite() || !(0.0..=1e12).contains(&at) {
        return Err("at: seconds from the session's start, 0 or more".into());
    }
    let text = match o.get("text") {
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(_) => return Err("text: a string".into()),
        None => return Err("text: missing".into()),
    };
    let author = match o.get("author") {
        Some(serde_json::Value::String(s)) => s.as_str(),
        None | Some(serde_json::Value::Null) => "",
        Some(_) => return Err("author: a string".into()),
    };
    let (text, author) = pkg::check_text(text, author)?;
    Ok(((at * 1000.0).round() as i64, text, author))
}

async fn list(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st.store.index.session(&p.id, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => return internal(e),
    }
    match st.store.index.comments(&p.id, &id).await {
        Ok(v) => Json(serde_json::json!({"comments": v.iter().map(json_of).collect::<Vec<_>>()}))
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn create(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "body: at most {MAX_BODY} bytes (a comment holds at most {} characters)",
                pkg::MAX_TEXT_CHARS
            ),
        );
    };
    let (at_ms, text, author) = match parse_request(&body) {
        Ok(x) => x,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    let row = match st.store.index.session(&p.id, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => return internal(e),
    };
    // A second of slack: the player's clock may end a little after the last stored event.
    let duration = row.end_ms - row.start_ms;
    if at_ms > duration + 1000 {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "at: past the end of the recording ({:.1} s long)",
                duration as f64 / 1000.0
            ),
        );
    }
    match st
        .store
        .index
        .add_comment(&p.id, &id, at_ms.min(duration), &text, &author)
        .await
    {
        Ok(Some(c)) => {
            let _ = st
                .store
                .index
                .audit(
                    &p.id,
                    "comment.create",
                    Some(&id),
                    serde_json::json!({"comment_id": c.id}),
                )
                .await;
            (StatusCode::CREATED, Json(json_of(&c))).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such session"),
        Err(reel_store::Error::Config(m)) => error(StatusCode::BAD_REQUEST, &m),
        Err(e) => internal(e),
    }
}

async fn remove(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st.store.index.delete_comment(&p.id, &id).await {
        Ok(Some(c)) => {
            // The audit keeps which comment of which session went (keyed hash), never its text.
            let _ = st
                .store
                .index
                .audit(
                    &p.id,
                    "comment.delete",
                    Some(&c.session_id),
                    serde_json::json!({"comment_id": c.id}),
                )
                .await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such comment"),
        Err(e) => internal(e),
    }
}

/// A session's comments as a package carries them: times made absolute from the stored session's
/// start, `t_ms` from the package's session start (`package_start_ms`: the export policy may
/// have dropped early events), text and author through the export policy's text patterns.
pub fn for_package(
    comments: &[Comment],
    session_start_ms: i64,
    package_start_ms: i64,
    policy: Option<&reel_redact::Redactor>,
) -> Vec<pkg::Comment> {
    comments
        .iter()
        .map(|c| {
            let (mut text, mut author) = (c.text.clone(), c.author.clone());
            if let Some(r) = policy {
                let mut counts = reel_redact::Counts::default();
                r.free_text(&mut text, &mut counts);
                r.free_text(&mut author, &mut counts);
            }
            pkg::Comment::new(
                &c.id,
                session_start_ms + c.at_ms,
                package_start_ms,
                &text,
                &author,
                c.created_ms,
            )
        })
        .collect()
}

/// A package's comments of one session as the store keeps them, `at_ms` from the stored
/// session's start (`session_start_ms`).
pub fn from_package(session: &str, c: &pkg::Comment, session_start_ms: i64) -> Comment {
    Comment {
        id: c.id.clone(),
        session_id: session.to_string(),
        at_ms: c
            .at_ms()
            .map(|t| t - session_start_ms)
            .unwrap_or(c.t_ms)
            .max(0),
        text: c.text.clone(),
        author: c.author.clone(),
        created_ms: c.created_ms().unwrap_or_else(reel_store::now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_with_clear_messages() {
        assert_eq!(
            parse_request(br#"{"at": 1.25, "text": " pay failed ", "author": "ana", "x": 1}"#),
            Ok((1250, "pay failed".into(), "ana".into()))
        );
        assert_eq!(
            parse_request(br#"{"at": 0, "text": "ok"}"#),
            Ok((0, "ok".into(), "".into()))
        );
        for (body, msg) in [
            (&br#"{"at": -1, "text": "x"}"#[..], "at:"),
            (br#"{"at": "3", "text": "x"}"#, "at:"),
            (br#"{"text": "x"}"#, "at: missing"),
            (br#"{"at": 1e300, "text": "x"}"#, "at:"),
            (br#"{"at": 1, "text": "  "}"#, "write something"),
            (br#"{"at": 1, "text": 5}"#, "text: a string"),
            (br#"{"at": 1, "text": "x", "author": 5}"#, "author"),
            (br#"[1]"#, "JSON object"),
            (b"not json", "not JSON"),
        ] {
            let e = parse_request(body).unwrap_err();
            assert!(e.contains(msg), "{}: {e}", String::from_utf8_lossy(body));
        }
        let long = format!(r#"{{"at": 1, "text": "{}"}}"#, "a".repeat(2001));
        assert!(parse_request(long.as_bytes()).unwrap_err().contains("2000"));
    }

    #[test]
    fn package_times_are_absolute_and_survive_a_round_trip() {
        let c = Comment {
            id: "c1".into(),
            session_id: "s".into(),
            at_ms: 4200,
            text: "mail ana@example.com".into(),
            author: "bo".into(),
            created_ms: 1_700_000_000_000,
        };
        let r = reel_redact::Redactor::from_toml("[patterns]\nbuiltin = [\"email\"]\n").unwrap();
        // The package's session starts 200 ms later (an early event was dropped).
        let out = for_package(std::slice::from_ref(&c), 1_000_000, 1_000_200, Some(&r));
        assert_eq!(out[0].t_ms, 4000);
        assert!(!out[0].text.contains("ana@example.com"), "{}", out[0].text);
        let back = from_package(
            "s",
            &for_package(std::slice::from_ref(&c), 1_000_000, 1_000_200, None)[0],
            1_000_000,
        );
        assert_eq!(back, c);
    }
}
