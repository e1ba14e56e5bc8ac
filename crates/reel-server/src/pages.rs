//! HTML: the web UI (`/`), share pages (`/share/{token}`), iframe embeds (`/embed/{token}`) and the
//! embedded player and UI assets. Pages carry a strict CSP; only embeds may be framed.
use crate::api::{events_response, EventsQuery};
use crate::auth::error;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/player/{file}", get(asset))
        .route("/ui/{file}", get(asset))
        .route("/share/{token}", get(share_page))
        .route("/embed/{token}", get(embed_page))
        .route("/share/{token}/events", get(share_events))
        .route("/share/{token}/meta", get(share_meta))
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline' *; img-src * data: blob:; font-src * data:; media-src * data: blob:; connect-src 'self'; frame-src 'self' blob: data: about:; object-src 'none'; base-uri 'none'; form-action 'self'";

fn page(html: String, frameable: bool) -> Response {
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    let ancestors = if frameable { "*" } else { "'none'" };
    if let Ok(v) = HeaderValue::from_str(&format!("{CSP}; frame-ancestors {ancestors}")) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if !frameable {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn shell(title: &str, body_attrs: &str, script: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
<title>{title}</title><link rel=stylesheet href='/player/player.css'><link rel=stylesheet href='/ui/app.css'></head>\
<body {body_attrs}><div id=app></div><script type=module src='{script}'></script></body></html>"
    )
}

async fn index() -> Response {
    page(shell("Reel", "", "/ui/app.js"), false)
}

async fn asset(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    match crate::assets::get(path) {
        Some(b) => (
            [
                (header::CONTENT_TYPE, crate::assets::content_type(path)),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            b,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such file"),
    }
}

async fn resolve(st: &AppState, token: &str) -> Option<(String, String)> {
    if token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    st.store.index.share(token).await.ok().flatten()
}

fn gone() -> Response {
    (StatusCode::NOT_FOUND, Html("<!doctype html><title>Reel</title><p>This link does not exist, has expired or was revoked.</p>")).into_response()
}

async fn share_page(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match resolve(&st, &token).await {
        Some(_) => page(
            shell("Shared recording · Reel", "data-mode=share", "/ui/share.js"),
            false,
        ),
        None => gone(),
    }
}

async fn embed_page(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match resolve(&st, &token).await {
        Some(_) => page(
            shell("Reel player", "data-mode=embed class=embed", "/ui/share.js"),
            true,
        ),
        None => gone(),
    }
}

async fn share_events(
    State(st): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Response {
    let Some((project, session)) = resolve(&st, &token).await else {
        return gone();
    };
    events_response(&st, &project, &session, &q).await
}

async fn share_meta(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let Some((project, session)) = resolve(&st, &token).await else {
        return gone();
    };
    match st.store.index.session(&project, &session).await {
        Ok(Some(r)) => axum::Json(serde_json::json!({
            "id": r.id, "start_time": r.start_time, "recording_duration": r.recording_duration, "start_url": r.start_url,
        }))
        .into_response(),
        _ => gone(),
    }
}
