//! The read/admin API (admin token). Documented in docs/api.md.
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use reel_format::package::{PackageWriter, WriterOptions};
use reel_format::Session;
use reel_store::{IngestUnit, SessionFilter};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/sessions", get(list))
        .route("/api/v1/sessions/{id}", get(one).delete(remove))
        .route("/api/v1/sessions/{id}/events", get(events))
        .route("/api/v1/sessions/{id}/export", get(export))
        .route(
            "/api/v1/sessions/{id}/shares",
            post(create_share).get(list_shares),
        )
        .route("/api/v1/shares/{id}", delete(revoke_share))
        .route("/api/v1/import", post(import))
        .route("/api/v1/people/{distinct_id}/forget", post(forget))
        .route("/api/v1/project", get(project).patch(update_settings))
        .route("/api/v1/audit", get(audit))
}

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    match sqlx_ping(&st).await {
        Ok(()) => Json(serde_json::json!({"status": "ok", "index": format!("{:?}", st.store.index.kind), "blobs": st.store.blobs.describe})).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &format!("index unavailable: {e}")),
    }
}

async fn sqlx_ping(st: &AppState) -> reel_store::Result<()> {
    st.store.index.ping().await
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics_text(),
    )
        .into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

#[derive(Deserialize, Default)]
struct ListQuery {
    person: Option<String>,
    url: Option<String>,
    from: Option<String>,
    to: Option<String>,
    min_duration: Option<f64>,
    has_errors: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// A time as epoch ms or RFC 3339.
fn parse_time(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    })
}

async fn list(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Query(q): Query<ListQuery>,
) -> Response {
    let bad_time = |name: &str| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("{name}: use epoch milliseconds or RFC 3339"),
        )
    };
    let from = match q.from.as_deref().map(parse_time) {
        Some(None) => return bad_time("from"),
        o => o.flatten(),
    };
    let to = match q.to.as_deref().map(parse_time) {
        Some(None) => return bad_time("to"),
        o => o.flatten(),
    };
    let f = SessionFilter {
        person: q.person,
        url_contains: q.url,
        from_ms: from,
        to_ms: to,
        min_duration_ms: q.min_duration.map(|s| (s * 1000.0) as i64),
        has_errors: q.has_errors,
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    match st.store.index.sessions(&p.id, &f).await {
        Ok((rows, next)) => Json(
            serde_json::json!({"results": rows, "has_next": next.is_some(), "next_cursor": next}),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn one(State(st): State<Arc<AppState>>, Admin(p): Admin, Path(id): Path<String>) -> Response {
    let row = match st.store.index.session(&p.id, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => return internal(e),
    };
    let blocks = st.store.index.blocks(&p.id, &id).await.unwrap_or_default();
    let mut windows: Vec<String> = blocks.iter().map(|b| b.window_id.clone()).collect();
    windows.dedup();
    let stored: i64 = blocks.iter().map(|b| b.stored_bytes).sum();
    let mut v = serde_json::to_value(&row).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("windows".into(), serde_json::json!(windows));
        o.insert("blocks".into(), serde_json::json!(blocks.len()));
        o.insert("stored_bytes".into(), serde_json::json!(stored));
    }
    Json(v).into_response()
}

/// A session as it may leave the server: with the project's export policy applied.
pub async fn load(st: &AppState, project: &str, id: &str) -> Result<Session, Response> {
    match st.store.load_session(project, id).await {
        Ok(Some(mut s)) => {
            if let Some(r) = st.policy("export_redaction") {
                r.session(&mut s).map_err(internal)?;
            }
            Ok(s)
        }
        Ok(None) => Err(error(StatusCode::NOT_FOUND, "no such session")),
        Err(e) => Err(internal(e)),
    }
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    pub format: Option<String>,
    pub window: Option<String>,
}

/// Stream a session's events in time order: a JSON array of rrweb events (default; `window`
/// picks one window) or `format=jsonl`: `[windowId, event]` per line (PostHog's snapshot form).
pub fn events_response(s: Session, q: &EventsQuery) -> Response {
    let jsonl = q.format.as_deref() == Some("jsonl");
    let window = q.window.clone();
    let all: Vec<(String, String)> = s
        .events_in_time_order()
        .into_iter()
        .filter(|(w, _)| window.as_deref().is_none_or(|x| x == *w))
        .map(|(w, e)| (w.to_string(), e.json().to_string()))
        .collect();
    let stream = async_stream(all, jsonl);
    let ct = if jsonl {
        "application/jsonl"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, ct)], Body::from_stream(stream)).into_response()
}

fn async_stream(
    all: Vec<(String, String)>,
    jsonl: bool,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let n = all.len();
    let mut chunks: Vec<Result<Bytes, std::io::Error>> = Vec::new();
    let mut buf = String::with_capacity(64 << 10);
    if !jsonl {
        buf.push('[');
    }
    for (i, (w, e)) in all.into_iter().enumerate() {
        if jsonl {
            buf.push('[');
            buf.push_str(&serde_json::to_string(&w).unwrap_or_default());
            buf.push(',');
            buf.push_str(&e);
            buf.push_str("]\n");
        } else {
            buf.push_str(&e);
            if i + 1 < n {
                buf.push(',');
            }
        }
        if buf.len() > 60_000 {
            chunks.push(Ok(Bytes::from(std::mem::take(&mut buf))));
        }
    }
    if !jsonl {
        buf.push(']');
    }
    chunks.push(Ok(Bytes::from(buf)));
    futures::stream::iter(chunks)
}

async fn events(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Response {
    match load(&st, &p.id, &id).await {
        Ok(s) => events_response(s, &q),
        Err(r) => r,
    }
}

/// A session as a `.reel.zip` package, written by reel-format's package writer.
pub fn package_of(s: &Session) -> Result<Vec<u8>, reel_format::Error> {
    let mut w = PackageWriter::new(
        std::io::Cursor::new(Vec::new()),
        WriterOptions {
            producer: format!("reel-server {}", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        },
    );
    w.add_session(s)?;
    Ok(w.finish(None)?.0.into_inner())
}

async fn export(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    let s = match load(&st, &p.id, &id).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match tokio::task::spawn_blocking(move || package_of(&s)).await {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}.reel.zip\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

async fn remove(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st.store.delete_session(&p.id, &id).await {
        Ok(true) => {
            let _ = st
                .store
                .index
                .audit(&p.id, "session.delete", Some(&id), serde_json::json!({}))
                .await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => internal(e),
    }
}

async fn forget(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(distinct_id): Path<String>,
) -> Response {
    match st.store.forget_person(&p.id, &distinct_id).await {
        Ok(n) => Json(serde_json::json!({"sessions_deleted": n})).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /api/v1/import`: a package or any file `reel pack` accepts, as the request body.
async fn import(State(st): State<Arc<AppState>>, Admin(p): Admin, body: Bytes) -> Response {
    let limits = st.limits();
    // The same file imported twice is stored once.
    let key_base = {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(&body)[..16])
    };
    let parsed = tokio::task::spawn_blocking(move || {
        reel_format::import::import(
            "upload",
            &body,
            &reel_format::import::ImportOptions {
                limits,
                lenient: false,
            },
        )
    })
    .await;
    let (kind, rec) = match parsed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => return internal(e),
    };
    let mut units = Vec::new();
    let mut ids = Vec::new();
    for s in rec.sessions {
        ids.push(s.id.clone());
        for w in s.windows {
            units.push(IngestUnit {
                key: format!("import:{key_base}:{}:{}", s.id, w.id),
                session_id: s.id.clone(),
                window_id: w.id,
                distinct_id: s.distinct_id.clone(),
                source: s.source.clone(),
                user_agent: s.user_agent.clone(),
                events: w.events,
            });
        }
    }
    if let Err(m) = crate::capture::check_unit_times(&units) {
        return error(StatusCode::BAD_REQUEST, &m);
    }
    match st.store.ingest(&p.id, units).await {
        Ok(o) => Json(serde_json::json!({"kind": kind.name(), "sessions": ids, "events": o.events, "duplicate": o.stored == 0 && o.duplicates > 0, "warnings": rec.warnings})).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize, Default)]
struct ShareReq {
    expires_in_seconds: Option<i64>,
}

async fn create_share(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let req: ShareReq = if body.is_empty() {
        ShareReq::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
        }
    };
    match st.store.index.session(&p.id, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => return internal(e),
    }
    let expires = req
        .expires_in_seconds
        .map(|s| reel_store::now_ms() + s.max(1) * 1000);
    match st.store.index.create_share(&p.id, &id, expires).await {
        Ok((share_id, token)) => {
            let _ = st
                .store
                .index
                .audit(
                    &p.id,
                    "share.create",
                    Some(&id),
                    serde_json::json!({"share_id": share_id}),
                )
                .await;
            (
                StatusCode::CREATED,
                Json(serde_json::json!({"id": share_id, "token": token, "url": format!("/share/{token}"), "embed_url": format!("/embed/{token}"), "expires_ms": expires})),
            )
                .into_response()
        }
        Err(e) => internal(e),
    }
}

async fn list_shares(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st.store.index.list_shares(&p.id, &id).await {
        Ok(v) => Json(serde_json::json!({"results": v})).into_response(),
        Err(e) => internal(e),
    }
}

async fn revoke_share(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st.store.index.revoke_share(&p.id, &id).await {
        Ok(true) => {
            let _ = st
                .store
                .index
                .audit(
                    &p.id,
                    "share.revoke",
                    None,
                    serde_json::json!({"share_id": id}),
                )
                .await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "no such live share"),
        Err(e) => internal(e),
    }
}

async fn project(Admin(p): Admin) -> Response {
    Json(serde_json::json!({"id": p.id, "name": p.name, "capture_token": p.capture_token, "settings": p.settings})).into_response()
}

async fn update_settings(
    State(st): State<Arc<AppState>>,
    Admin(mut p): Admin,
    Json(patch): Json<serde_json::Value>,
) -> Response {
    let Some(obj) = patch
        .get("settings")
        .and_then(|s| s.as_object())
        .or(patch.as_object())
    else {
        return error(StatusCode::BAD_REQUEST, "send a JSON object of settings");
    };
    let known = [
        "recording_enabled",
        "console_log_recording",
        "network_capture",
        "masking",
        "sample_rate",
        "minimum_duration_ms",
        "record_canvas",
        "ingest_redaction",
        "export_redaction",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unknown setting {k:?}; known: {}", known.join(", ")),
        );
    }
    for k in ["ingest_redaction", "export_redaction"] {
        if let Some(v) = obj.get(k) {
            if let Err(e) = crate::state::compile_policy(v) {
                return error(StatusCode::BAD_REQUEST, &format!("{k}: {e}"));
            }
        }
    }
    if let Some(s) = p.settings.as_object_mut() {
        for (k, v) in obj {
            s.insert(k.clone(), v.clone());
        }
    }
    if let Err(e) = st.store.index.set_settings(&p.id, &p.settings).await {
        return internal(e);
    }
    st.set_project(p.clone());
    Json(serde_json::json!({"settings": p.settings})).into_response()
}

async fn audit(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    match st.store.index.audit_log(&p.id, 200).await {
        Ok(v) => Json(serde_json::json!({"results": v})).into_response(),
        Err(e) => internal(e),
    }
}
