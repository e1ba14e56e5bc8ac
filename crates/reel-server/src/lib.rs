//! # reel-server
//!
//! The HTTP face of Reel (axum): PostHog-compatible capture (`/s/`, `/e/`, remote config, flags,
//! the lazy recorder script), native ingest (`/api/v1/ingest`), the read API, share and embed
//! pages, the web UI, `/healthz` and `/metrics`.
//!
//! This crate holds no SQL and knows no file layout: it calls `reel-store` and `reel-format`.
#![forbid(unsafe_code)]

mod api;
mod asset_capture;
pub mod assets;
mod auth;
mod capture;
mod collections;
mod comments;
pub mod export_to;
mod guard;
mod jobs;
mod moments;
mod pages;
mod screenshot;
mod settings;
mod state;

pub use state::{AppState, Config};

use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Every route of the server.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.body_limit;
    Router::new()
        .merge(capture::routes())
        .merge(api::routes())
        .merge(comments::routes())
        .merge(collections::routes())
        .merge(settings::routes())
        .merge(pages::routes())
        .merge(screenshot::routes())
        .merge(jobs::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            state::count_requests,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(60),
        ))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// Errors are JSON everywhere: a plain-text or empty error (axum's rejections of a bad query
/// string, path or body, the body limit, an unknown route) becomes `{"error": "<message>"}`.
/// Every response also gets `X-Content-Type-Options: nosniff` unless it set it already.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::{header, HeaderValue};
    let mut res = next.run(req).await;
    res.headers_mut()
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.is_empty() || ct.starts_with("text/plain")) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 16 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let msg = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({ "error": msg }).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// `/metrics` alone, for `--metrics-listen` (the main listener then does not serve it).
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(api::metrics_only))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// Run the server until Ctrl-C / SIGTERM, then stop accepting, finish in-flight requests and exit.
/// `ready` is called with the bound address once listening.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(&AppState, SocketAddr),
) -> anyhow::Result<()> {
    let state = Arc::new(AppState::open(config).await?);
    let target = match &state.config.export_to {
        Some(url) => Some(
            reel_store::export::ExportTarget::open(url)
                .map_err(|e| anyhow::anyhow!("--export-to {url}: {e}"))?,
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&state.config.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another server running? use --listen)",
                state.config.listen
            )
        })?;
    let metrics_listener = match &state.config.metrics_listen {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {a} for /metrics: {e} (use another --metrics-listen)")
        })?),
        None => None,
    };
    let addr = listener.local_addr()?;
    ready(&state, addr);
    let bg = state::spawn_background(state.clone());
    let exporter = target.map(|t| export_to::spawn_exporter(state.clone(), t));
    let fetcher = asset_capture::spawn(state.clone());
    let metrics = metrics_listener.map(|l| {
        let app = metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!(error = %e, "the /metrics listener stopped");
            }
        })
    });
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    bg.abort();
    if let Some(x) = exporter {
        x.abort();
    }
    if let Some(f) = fetcher {
        f.abort();
    }
    if let Some(m) = metrics {
        m.abort();
    }
    tracing::info!("stopped; every acknowledged batch is stored");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// `reel play`: serve the player and one recording on `listen` until Ctrl-C.
pub async fn play(
    recording: Vec<u8>,
    name: String,
    listen: &str,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let rec = Arc::new(recording);
    let file = format!("/recording/{name}");
    let start = format!("/player/player.html?src={file}");
    let app = Router::new()
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Redirect::temporary(&start) }),
        )
        .route(
            "/player/{f}",
            axum::routing::get(
                |uri: axum::http::Uri| async move { pages::asset_response(uri.path()) },
            ),
        )
        .route(
            &file,
            axum::routing::get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/octet-stream"),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    rec.as_ref().clone(),
                )
                    .into_response()
            }),
        )
        .layer(axum::middleware::from_fn(json_errors));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    ready(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
