//! `GET /api/v1/sessions/{id}/screenshot?t=SECONDS[&size=WxH]`: what the player shows at that
//! instant, as a PNG, rendered by `reel-render` (headless Chromium) from the session as it may
//! leave the server (the project's export redaction policy applied first, as for `/export`).
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/sessions/{id}/screenshot", get(screenshot))
}

/// One browser at a time per process (screenshots and video jobs): a render holds Chromium
/// (≈ 225 MB) for seconds to minutes.
pub(crate) fn slot() -> &'static tokio::sync::Semaphore {
    static SLOT: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOT.get_or_init(|| tokio::sync::Semaphore::new(1))
}

/// Seconds a client is told to wait when the renderer is busy.
const RETRY_AFTER: &str = "5";

#[derive(Deserialize)]
struct ShotQuery {
    t: Option<String>,
    size: Option<String>,
}

async fn screenshot(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    Query(q): Query<ShotQuery>,
) -> Response {
    let t = match q.t.as_deref().map(str::parse::<f64>) {
        Some(Ok(t)) if t.is_finite() && t >= 0.0 => t,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "t: seconds from the start of the session (0 or more), e.g. ?t=12.5",
            )
        }
    };
    let (width, height) = match reel_render::parse_size(q.size.as_deref().unwrap_or("1280x720")) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let Ok(permit) = slot().try_acquire() else {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "another screenshot is being rendered; retry shortly",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(RETRY_AFTER),
        );
        return r;
    };
    let pkg = match crate::api::export_package(&st, &p.id, &id).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let internal = |e: String| {
            tracing::error!(error = %e, "screenshot failed");
            Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("rendering failed: {e}"),
            ))
        };
        let html = crate::assets::offline_html(Some(&pkg)).map_err(internal)?;
        let opts = reel_render::Options {
            width,
            height,
            session: None,
            panels: Vec::new(),
        };
        let mut png = Vec::new();
        reel_render::screenshots(&html, &opts, &[t], |_, _, p| {
            png = p;
            Ok(())
        })
        .map_err(|e| match e {
            reel_render::Error::OutOfRange { .. } | reel_render::Error::NoFullSnapshot(_) => {
                Box::new(error(StatusCode::BAD_REQUEST, &e.to_string()))
            }
            reel_render::Error::ChromiumMissing => {
                Box::new(error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))
            }
            e => internal(e.to_string()),
        })?;
        Ok::<_, Box<Response>>(png)
    });
    match job.await {
        Ok(Ok(png)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            png,
        )
            .into_response(),
        Ok(Err(r)) => *r,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
