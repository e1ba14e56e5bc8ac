//! Tokens. Read and admin routes need the admin token (`Authorization: Bearer …`); the capture
//! token (public: it sits in every recorded page) can only write.
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reel_store::index::Project;
use std::sync::Arc;

/// Constant-time string comparison (tokens).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn error(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": msg}))).into_response()
}

/// The project of a request that presented the admin token.
pub struct Admin(pub Project);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .map(str::to_string);
        let Some(token) = token else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "missing token: send 'Authorization: Bearer <admin token>'",
            ));
        };
        let p = state.project();
        let hash = reel_store::index::sha256_hex(&token);
        if same(&hash, &p.admin_token_sha256) {
            return Ok(Admin(p));
        }
        if same(&token, &p.capture_token) {
            return Err(error(StatusCode::FORBIDDEN, "this is the capture token: it can only send recordings; use the admin token to read"));
        }
        // A named admin token (Settings → Admin tokens): found by its hash, compared again in
        // constant time, refused once revoked.
        match state.store.index.admin_token_by_hash(&hash).await {
            Ok(Some(t)) if same(&t.token_sha256, &hash) => {
                if t.revoked_ms.is_some() {
                    return Err(error(
                        StatusCode::UNAUTHORIZED,
                        "revoked token: ask an admin for a new one (Settings → Admin tokens)",
                    ));
                }
                let project = if t.project_id == p.id {
                    Some(p)
                } else {
                    state
                        .store
                        .index
                        .project(&t.project_id)
                        .await
                        .ok()
                        .flatten()
                };
                if let Some(project) = project {
                    // Last use, to the minute: no write on most requests.
                    let now = reel_store::now_ms();
                    if t.last_used_ms.is_none_or(|u| now - u >= 60_000) {
                        let _ = state
                            .store
                            .index
                            .touch_admin_token(&t.project_id, &t.id, now)
                            .await;
                    }
                    return Ok(Admin(project));
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "checking an admin token failed");
                return Err(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the index is unavailable; try again shortly",
                ));
            }
        }
        // Another server may have rotated the token: check the index before refusing.
        match state.store.index.project_by_admin_token(&token).await {
            Ok(Some(p)) => Ok(Admin(p)),
            _ => Err(error(StatusCode::UNAUTHORIZED, "unknown token")),
        }
    }
}
