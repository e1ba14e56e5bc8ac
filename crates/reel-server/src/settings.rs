//! Settings (admin token; the web UI's `#/settings`): rotate the capture token, named admin
//! tokens, storage use, and a preview of a redaction policy on a stored session. Documented in
//! docs/api.md ("Settings").
use crate::api::internal;
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::sync::Arc;

/// Largest body of `POST /api/v1/tokens` (a name of at most [`MAX_NAME_CHARS`] characters).
pub const MAX_TOKEN_BODY: usize = 4 << 10;
/// Longest admin token name, characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Named admin tokens a project may have that are not revoked.
pub const MAX_LIVE_TOKENS: i64 = 50;
/// Largest body of the redaction preview (a policy: rules as TOML).
pub const MAX_PREVIEW_BODY: usize = 256 << 10;
/// Most event JSON a preview answers with; the rest of the session is left out (`truncated`).
pub const MAX_PREVIEW_EVENTS: usize = 32 << 20;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/project/capture-token", post(rotate_capture_token))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/usage", get(usage))
        .route(
            "/api/v1/sessions/{id}/redaction-preview",
            post(redaction_preview),
        )
        .route("/api/v1/redaction-policy/check", post(check_policy))
}

/// A request body of at most `max` bytes, or the 413 that says so.
async fn body_within(body: Body, max: usize, what: &str) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, max).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body: at most {max} bytes ({what})"),
        )
    })
}

/// `POST /api/v1/project/capture-token`: a new random capture token; the old one is refused by
/// every capture route of this server at once, and by other servers of the same index at their
/// next settings refresh (the background sweep, `--seal-idle-seconds`, 30 s at most by default).
async fn rotate_capture_token(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    let token = match st.store.index.rotate_capture_token(&p.id).await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let mut now = st.project();
    if now.id == p.id {
        now.capture_token = token.clone();
        st.set_project(now);
    }
    let _ = st
        .store
        .index
        .audit(&p.id, "capture_token.rotate", None, serde_json::json!({}))
        .await;
    let mut out = serde_json::json!({ "capture_token": token });
    if st.config.capture_token.is_some() {
        out["warning"] = serde_json::json!("this server was started with --capture-token (REEL_CAPTURE_TOKEN): its next start sets that token again; remove the flag or set it to the new token");
    }
    Json(out).into_response()
}

async fn list_tokens(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    match st.store.index.admin_tokens(&p.id).await {
        Ok(v) => {
            Json(serde_json::json!({ "results": v, "max_live": MAX_LIVE_TOKENS })).into_response()
        }
        Err(e) => internal(e),
    }
}

/// A token's name as sent: trimmed, 1 to [`MAX_NAME_CHARS`] characters, one line.
pub fn check_name(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("body: not JSON ({e})"))?;
    let name = match v.get("name") {
        Some(serde_json::Value::String(s)) => s.trim(),
        _ => return Err("name: send {\"name\": \"what the token is for\"}".into()),
    };
    if name.is_empty() {
        return Err("name: say what the token is for (1 to 100 characters)".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("name: at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("name: one line of text, no control characters".into());
    }
    Ok(name.to_string())
}

/// `POST /api/v1/tokens {"name"}`: `201` with the token, shown this once.
async fn create_token(State(st): State<Arc<AppState>>, Admin(p): Admin, body: Body) -> Response {
    let body = match body_within(body, MAX_TOKEN_BODY, "{\"name\": \"…\"}").await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = match check_name(&body) {
        Ok(n) => n,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    match st
        .store
        .index
        .create_admin_token(&p.id, &name, MAX_LIVE_TOKENS)
        .await
    {
        Ok(Some((row, token))) => {
            let _ = st
                .store
                .index
                .audit(
                    &p.id,
                    "admin_token.create",
                    None,
                    serde_json::json!({"token_id": row.id, "name": row.name}),
                )
                .await;
            let mut v = serde_json::to_value(&row).unwrap_or_default();
            v["token"] = serde_json::json!(token);
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Ok(None) => error(
            StatusCode::CONFLICT,
            &format!(
                "at most {MAX_LIVE_TOKENS} admin tokens at once: revoke one that is no longer used"
            ),
        ),
        Err(e) => internal(e),
    }
}

/// `DELETE /api/v1/tokens/{id}`: revoked at once on every server (each request looks it up).
async fn revoke_token(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    let done = st.store.index.revoke_admin_token(&p.id, &id).await;
    let detail = serde_json::json!({ "token_id": id });
    let missing = "no such live admin token";
    crate::api::revocation(&st, &p.id, done, "admin_token.revoke", detail, missing).await
}

/// `GET /api/v1/usage`: what the project keeps.
async fn usage(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    match st.store.index.usage(&p.id).await {
        Ok(u) => {
            let mut v = serde_json::to_value(&u).unwrap_or_default();
            v["retention_days"] = serde_json::json!(st.retention_days());
            Json(v).into_response()
        }
        Err(e) => internal(e),
    }
}

/// The `policy` of a preview or check body, compiled; `Err`: the status (400 or 413) and why.
async fn policy_of(body: Body) -> Result<Option<reel_redact::Redactor>, (StatusCode, String)> {
    let body = axum::body::to_bytes(body, MAX_PREVIEW_BODY)
        .await
        .map_err(|_| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body: at most {MAX_PREVIEW_BODY} bytes ({{\"policy\": …}})"),
            )
        })?;
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("body: not JSON ({e})")))?;
    let Some(policy) = v.get("policy") else {
        return Err(bad(
            "policy: send {\"policy\": null | {\"preset\": …} | {\"rules\": \"<TOML>\"}}".into(),
        ));
    };
    crate::state::compile_policy(policy).map_err(|e| bad(format!("policy: {e}")))
}

/// `POST /api/v1/redaction-policy/check {"policy": …}`: whether `PATCH /api/v1/project` would
/// take it, as `200 {"valid", "error"}` (the web UI checks as one types; nothing is saved).
async fn check_policy(Admin(_): Admin, body: Body) -> Response {
    match policy_of(body).await {
        Ok(_) => Json(serde_json::json!({"valid": true, "error": null})).into_response(),
        Err((StatusCode::BAD_REQUEST, m)) => {
            Json(serde_json::json!({"valid": false, "error": m})).into_response()
        }
        Err((code, m)) => error(code, &m),
    }
}

/// `POST /api/v1/sessions/{id}/redaction-preview {"policy": …}`: the session's stored events
/// with `policy` applied (`null`: as stored), as `{"events": [[windowId, event], …], "report":
/// {"totals", "counts"}, "truncated"}`. Nothing is saved. Audited (`redaction.preview`): with
/// `null` it shows events the export policy would hide.
async fn redaction_preview(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let redactor = match policy_of(body).await {
        Ok(r) => r,
        Err((code, m)) => return error(code, &m),
    };
    let (row, plan) = match crate::api::plan_of(&st, &p.id, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let _ = st
        .store
        .index
        .audit(&p.id, "redaction.preview", Some(&id), serde_json::json!({}))
        .await;
    let store = st.store.clone();
    let out = tokio::task::spawn_blocking(move || {
        preview(&store, plan, row.distinct_id, redactor.as_ref())
    })
    .await;
    match out {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// The preview's JSON (blocking: reads the session's blocks one at a time).
fn preview(
    store: &reel_store::Store,
    plan: reel_store::read::Plan,
    mut distinct_id: Option<String>,
    policy: Option<&reel_redact::Redactor>,
) -> Result<Vec<u8>, String> {
    let windows = plan.windows.clone();
    let mut redactors: std::collections::BTreeMap<usize, reel_redact::WindowRedactor> =
        Default::default();
    let mut out = Vec::with_capacity(64 << 10);
    out.extend_from_slice(b"{\"events\":[");
    let mut first = true;
    let mut truncated = false;
    for item in store.events(plan).map_err(|e| e.to_string())? {
        let (w, e) = item.map_err(|e| e.to_string())?;
        let e = match policy {
            Some(r) => {
                let wr = redactors.entry(w).or_insert_with(|| r.window());
                match wr.event(e).map_err(|e| e.to_string())? {
                    Some(e) => e,
                    None => continue,
                }
            }
            None => e,
        };
        if out.len() + e.json().len() > MAX_PREVIEW_EVENTS {
            truncated = true;
            break;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'[');
        serde_json::to_writer(&mut out, &windows[w]).map_err(|e| e.to_string())?;
        out.push(b',');
        out.extend_from_slice(e.json().as_bytes());
        out.push(b']');
    }
    let mut totals = reel_redact::Totals::default();
    let mut counts = reel_redact::Counts::default();
    for wr in redactors.values() {
        totals.merge(&wr.totals);
        counts.merge(&wr.counts);
    }
    if let Some(r) = policy {
        r.session_facts(
            &mut distinct_id,
            &mut None,
            &mut serde_json::Map::new(),
            &mut counts,
        );
    }
    let tail = serde_json::json!({
        "report": {"removed": counts.total(), "totals": totals, "counts": counts},
        "distinct_id": distinct_id,
        "truncated": truncated,
    });
    // The object's other fields, after the events.
    let tail = tail.to_string();
    out.extend_from_slice(b"],");
    out.extend_from_slice(&tail.as_bytes()[1..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn token_names_are_one_short_line() {
        assert_eq!(
            check_name(br#"{"name": "  CI deploys "}"#).unwrap(),
            "CI deploys"
        );
        assert!(check_name(br#"{"name": ""}"#)
            .unwrap_err()
            .contains("1 to 100"));
        assert!(check_name(br#"{"name": 5}"#)
            .unwrap_err()
            .starts_with("name:"));
        assert!(check_name(b"nope")
            .unwrap_err()
            .starts_with("body: not JSON"));
        let long = format!(r#"{{"name": "{}"}}"#, "é".repeat(101));
        assert!(check_name(long.as_bytes())
            .unwrap_err()
            .contains("at most 100"));
        assert!(check_name(&format!(r#"{{"name": "{}"}}"#, "é".repeat(100)).into_bytes()).is_ok());
        assert!(check_name(br#"{"name": "a\nb"}"#)
            .unwrap_err()
            .contains("one line"));
    }
}
