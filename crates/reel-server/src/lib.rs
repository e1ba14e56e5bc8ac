//! # reel-server
//!
//! The HTTP face of Reel (axum): PostHog-compatible capture (`/s/`, `/e/`, remote config, flags,
//! the lazy recorder script), native ingest (`/api/v1/ingest`), the read API, share and embed
//! pages, the web UI, `/healthz` and `/metrics`.
//!
//! This crate holds no SQL and knows no file layout: it calls `reel-store` and `reel-format`.
#![forbid(unsafe_code)]

mod api;
pub mod assets;
mod auth;
mod capture;
mod guard;
mod pages;
mod state;

pub use state::{AppState, Config};

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
        .merge(pages::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            state::count_requests,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(60),
        ))
        .with_state(state)
}

/// Run the server until Ctrl-C / SIGTERM, then stop accepting, finish in-flight requests and exit.
/// `ready` is called with the bound address once listening.
pub async fn serve(
    config: Config,
    ready: impl FnOnce(&AppState, SocketAddr),
) -> anyhow::Result<()> {
    let state = Arc::new(AppState::open(config).await?);
    let listener = tokio::net::TcpListener::bind(&state.config.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (is another server running? use --listen)",
                state.config.listen
            )
        })?;
    let addr = listener.local_addr()?;
    ready(&state, addr);
    let bg = state::spawn_background(state.clone());
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    bg.abort();
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
            axum::routing::get(|uri: axum::http::Uri| async move {
                match assets::get(uri.path()) {
                    Some(b) => (
                        [(header::CONTENT_TYPE, assets::content_type(uri.path()))],
                        b,
                    )
                        .into_response(),
                    None => axum::http::StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .route(
            &file,
            axum::routing::get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    rec.as_ref().clone(),
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    ready(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
