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
        // Browsers ask for it on any page without an icon link (an API answer opened in a tab).
        .route(
            "/favicon.ico",
            get(|| async { asset_response("/ui/icon.svg") }),
        )
        .route("/share/{token}", get(share_page))
        .route("/embed/{token}", get(embed_page))
        .route("/share/{token}/events", get(share_events))
        .route("/share/{token}/meta", get(share_meta))
        .route("/share/{token}/moments", get(share_moments))
        .route("/share/{token}/assets", get(share_assets))
        .route("/share/{token}/assets/{sha256}", get(share_asset))
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline' * blob:; img-src * data: blob:; font-src * data: blob:; media-src * data: blob:; connect-src 'self'; frame-src 'self' blob: data: about:; object-src 'none'; base-uri 'none'; form-action 'self'";

fn page(html: String, frameable: bool) -> Response {
    let mut r = Html(html).into_response();
    secure(&mut r, frameable, None);
    r
}

/// The security headers of every page and of every file under `/player/` and `/ui/`: the CSP
/// (`frame-ancestors` and `X-Frame-Options`: only embeds may be framed), `nosniff`, and
/// `Referrer-Policy: no-referrer` (a page that hosts a player must never reveal its URL: a share
/// link carries its token). `script_hash`: a `'sha256-…'` source for one inline script.
pub fn secure(r: &mut Response, frameable: bool, script_hash: Option<&str>) {
    let h = r.headers_mut();
    let ancestors = if frameable { "*" } else { "'none'" };
    let csp = match script_hash {
        Some(hash) => CSP.replacen("script-src 'self'", &format!("script-src 'self' {hash}"), 1),
        None => CSP.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{csp}; frame-ancestors {ancestors}")) {
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
}

/// `'sha256-…'` of the inline module script of `player.html` (the standalone player page), so its
/// CSP can allow that script and nothing else inline.
fn player_html_script_hash() -> Option<&'static str> {
    static HASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let html = std::str::from_utf8(crate::assets::get("/player/player.html")?).ok()?;
        let open = "<script type=\"module\">";
        let start = html.find(open)? + open.len();
        let end = start + html[start..].find("</script>")?;
        let digest = sha2::Sha256::digest(&html.as_bytes()[start..end]);
        Some(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ))
    })
    .as_deref()
}

/// An embedded file of the player or the UI, with the pages' security headers (also used by
/// `reel play`).
pub fn asset_response(path: &str) -> Response {
    match crate::assets::get(path) {
        Some(b) => {
            let mut r = (
                [
                    (header::CONTENT_TYPE, crate::assets::content_type(path)),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                ],
                b,
            )
                .into_response();
            let hash = if path == "/player/player.html" {
                player_html_script_hash()
            } else {
                None
            };
            secure(&mut r, false, hash);
            r
        }
        None => error(StatusCode::NOT_FOUND, "no such file"),
    }
}

fn shell(title: &str, body_attrs: &str, script: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><meta name=referrer content=no-referrer>\
<title>{title}</title><link rel=icon href='/ui/icon.svg' type='image/svg+xml'><link rel=stylesheet href='/player/player.css'><link rel=stylesheet href='/ui/app.css'></head>\
<body {body_attrs}><div id=app></div><script type=module src='{script}'></script></body></html>"
    )
}

async fn index() -> Response {
    page(shell("Reel", "", "/ui/app.js"), false)
}

async fn asset(uri: axum::http::Uri) -> Response {
    asset_response(uri.path())
}

/// What a live share token opens.
enum Opened {
    /// (project, session)
    Session(String, String),
    /// (project, collection)
    Collection(String, String),
}

async fn open(st: &AppState, token: &str) -> Option<Opened> {
    if token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if let Some((p, s)) = st.store.index.share(token).await.ok().flatten() {
        return Some(Opened::Session(p, s));
    }
    let (p, c) = st
        .store
        .index
        .collection_share(token)
        .await
        .ok()
        .flatten()?;
    Some(Opened::Collection(p, c))
}

/// Which session of a collection share a request asks for (`?session=`).
#[derive(serde::Deserialize, Default)]
struct Pick {
    session: Option<String>,
}

/// The (project, session) a share request may read: the session of a session share (a
/// `?session=` naming another is refused), or the asked-for session of a collection share
/// (only if it is in the collection; without `?session=`, its first).
async fn resolve(st: &AppState, token: &str, pick: &Pick) -> Option<(String, String)> {
    match open(st, token).await? {
        Opened::Session(p, s) => (pick.session.is_none()
            || pick.session.as_deref() == Some(s.as_str()))
        .then_some((p, s)),
        Opened::Collection(p, c) => {
            let s = match &pick.session {
                Some(s) => st
                    .store
                    .index
                    .in_collection(&p, &c, s)
                    .await
                    .ok()?
                    .then(|| s.clone())?,
                None => st
                    .store
                    .index
                    .collection_sessions(&p, &c)
                    .await
                    .ok()?
                    .into_iter()
                    .next()?,
            };
            Some((p, s))
        }
    }
}

fn gone() -> Response {
    let mut r = (StatusCode::NOT_FOUND, Html("<!doctype html><title>Reel</title><p>This link does not exist, has expired or was revoked.</p>")).into_response();
    secure(&mut r, false, None);
    r
}

async fn share_page(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match open(&st, &token).await {
        Some(_) => page(
            shell("Shared recording · Reel", "data-mode=share", "/ui/share.js"),
            false,
        ),
        None => gone(),
    }
}

async fn embed_page(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    match open(&st, &token).await {
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
    Query(pick): Query<Pick>,
) -> Response {
    let Some((project, session)) = resolve(&st, &token, &pick).await else {
        return gone();
    };
    events_response(&st, &project, &session, &q).await
}

async fn share_moments(
    State(st): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(pick): Query<Pick>,
) -> Response {
    let Some((project, session)) = resolve(&st, &token, &pick).await else {
        return gone();
    };
    crate::moments::for_share(&st, &project, &session).await
}

/// What a share page shows above the player: the session's start, length and first URL (the
/// export policy applied); for a collection, its name and description and the same facts of
/// every session in it.
async fn share_meta(State(st): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    let facts = |r: &reel_store::SessionRow| {
        // The export policy applies here as on every way out of the server.
        let start_url = match st.policy("export_redaction") {
            Some(p) => r.start_url.as_deref().and_then(|u| p.page_url(u)),
            None => r.start_url.clone(),
        };
        serde_json::json!({
            "id": r.id, "start_time": r.start_time, "recording_duration": r.recording_duration, "start_url": start_url,
        })
    };
    match open(&st, &token).await {
        Some(Opened::Session(project, session)) => {
            match st.store.index.session(&project, &session).await {
                Ok(Some(r)) => axum::Json(facts(&r)).into_response(),
                _ => gone(),
            }
        }
        Some(Opened::Collection(project, id)) => {
            let (Ok(Some(c)), Ok(ids)) = (
                st.store.index.collection(&project, &id).await,
                st.store.index.collection_sessions(&project, &id).await,
            ) else {
                return gone();
            };
            let mut sessions = Vec::new();
            for s in ids.iter().take(reel_store::collections::MAX_BATCH) {
                if let Ok(Some(r)) = st.store.index.session(&project, s).await {
                    sessions.push(facts(&r));
                }
            }
            axum::Json(serde_json::json!({
                "collection": {"name": c.name, "description": c.description},
                "sessions": sessions,
            }))
            .into_response()
        }
        None => gone(),
    }
}

/// The shared session's assets (`--capture-assets`): `{url: {sha256, content_type, size}}`, the
/// manifest's map, which the share page hands to the player (it fetches each from
/// `/share/{token}/assets/{sha256}`). Under an export policy only the assets the exported events
/// still load are listed (one pass over the events, as an export makes).
/// The assets a share may show of a session: all it links, or under an export policy only those
/// its exported events still load (and what their stylesheets load). Kept a minute per session
/// and policy, so that a page's many asset requests cost one pass over the events.
async fn visible_assets(
    st: &AppState,
    project: &str,
    session: &str,
) -> Result<Arc<Vec<reel_store::assets::SessionAsset>>, Response> {
    type Key = (String, String, String);
    type Kept = std::collections::HashMap<
        Key,
        (
            std::time::Instant,
            Arc<Vec<reel_store::assets::SessionAsset>>,
        ),
    >;
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Kept>> = std::sync::OnceLock::new();
    const TTL: std::time::Duration = std::time::Duration::from_secs(60);
    let unavailable = |e: reel_store::Error| error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
    let read = || async {
        st.store
            .session_assets(project, session)
            .await
            .map_err(unavailable)
    };
    let Some(policy) = st.policy("export_redaction") else {
        return Ok(Arc::new(read().await?));
    };
    // The policy as configured now: a change of policy is a new key.
    let rules = st.project().settings["export_redaction"].to_string();
    let key = (project.to_string(), session.to_string(), rules);
    let cache = CACHE.get_or_init(Default::default);
    if let Some((at, kept)) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        if at.elapsed() < TTL {
            return Ok(kept.clone());
        }
    }
    let assets = read().await?;
    if assets.is_empty() {
        return Ok(Arc::new(assets));
    }
    let loaded = crate::api::loaded_urls(st, project, session, policy).await?;
    let kept = Arc::new(
        crate::api::loaded_assets(&st.store, project, assets, loaded)
            .await
            .map_err(unavailable)?,
    );
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    if c.len() >= 256 {
        c.retain(|_, (at, _)| at.elapsed() < TTL);
        if c.len() >= 256 {
            c.clear();
        }
    }
    c.insert(key, (std::time::Instant::now(), kept.clone()));
    Ok(kept)
}

async fn share_assets(
    State(st): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(pick): Query<Pick>,
) -> Response {
    let Some((project, session)) = resolve(&st, &token, &pick).await else {
        return gone();
    };
    let assets = match visible_assets(&st, &project, &session).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut map = serde_json::Map::new();
    for a in assets.iter() {
        map.insert(
            a.url.clone(),
            serde_json::json!({"sha256": a.sha256, "content_type": a.content_type, "size": a.size}),
        );
    }
    let mut r = axum::Json(serde_json::Value::Object(map)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Content types an asset is served with: images, fonts and CSS as fetched; anything else as
/// bytes (the player only ever turns images, fonts and CSS into blobs).
fn served_type(t: &str) -> &str {
    let t = t.trim();
    let ok = t.starts_with("image/")
        || t.starts_with("font/")
        || t == "text/css"
        || t.starts_with("application/font-")
        || t.starts_with("application/x-font-")
        || t == "application/vnd.ms-fontobject";
    if ok
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b))
    {
        t
    } else {
        "application/octet-stream"
    }
}

/// One asset of the shared session by content hash. Hostile bytes: `nosniff`, a CSP that runs
/// nothing (an SVG opened on its own is an inert document), never framed.
async fn share_asset(
    State(st): State<Arc<AppState>>,
    Path((token, sha)): Path<(String, String)>,
    Query(pick): Query<Pick>,
) -> Response {
    let Some((project, session)) = resolve(&st, &token, &pick).await else {
        return gone();
    };
    // What the export policy keeps out of the map is not served either.
    match visible_assets(&st, &project, &session).await {
        Ok(v) if v.iter().any(|a| a.sha256 == sha) => {}
        Ok(_) => return error(StatusCode::NOT_FOUND, "no such asset"),
        Err(r) => return r,
    }
    match st
        .store
        .session_asset(&project, &session, &sha, crate::api::ASSET_CAP)
        .await
    {
        Ok(Some((ct, bytes))) => {
            let mut r = (
                [
                    (header::CONTENT_TYPE, served_type(&ct).to_string()),
                    (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
                    (header::CONTENT_DISPOSITION, "inline".to_string()),
                ],
                bytes,
            )
                .into_response();
            // nosniff, no-referrer, never framed; and a CSP under which nothing runs.
            secure(&mut r, false, None);
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'",
                ),
            );
            r
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "no such asset"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
