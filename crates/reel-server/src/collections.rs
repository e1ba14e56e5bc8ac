//! Collections (admin token): named lists of recordings. `GET/POST /api/v1/collections`,
//! `GET/PATCH/DELETE /api/v1/collections/{id}`, `POST /api/v1/collections/{id}/sessions` (add),
//! `POST /api/v1/collections/{id}/sessions/remove`, `DELETE /api/v1/collections/{id}/sessions/{sid}`,
//! `GET/POST /api/v1/collections/{id}/shares` (a link opening the whole collection: same token
//! rules as a session's), `GET /api/v1/collections/{id}/export` (one `.reel.zip` of every
//! session), and `POST /api/v1/export` (one `.reel.zip` of chosen sessions: the list's bulk
//! export). Every package leaves through the export policy, as a session's export does.
use crate::api::{expires_from, file_response, internal};
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use reel_store::collections::{Collection, MAX_BATCH};
use std::sync::Arc;

/// Largest request body: a thousand session ids (the most one call takes) fit with room.
pub const MAX_BODY: usize = 256 << 10;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/collections", get(list).post(create))
        .route(
            "/api/v1/collections/{id}",
            get(one).patch(update).delete(remove),
        )
        .route("/api/v1/collections/{id}/sessions", post(add))
        .route("/api/v1/collections/{id}/sessions/remove", post(take_out))
        .route(
            "/api/v1/collections/{id}/sessions/{session}",
            delete(take_out_one),
        )
        .route(
            "/api/v1/collections/{id}/shares",
            get(list_shares).post(create_share),
        )
        .route("/api/v1/collections/{id}/export", get(export))
        .route("/api/v1/export", post(export_selection))
}

/// The body as a JSON object, or the response to send (413 past [`MAX_BODY`], 400 otherwise).
async fn object(
    body: Body,
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Response> {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body: at most {MAX_BODY} bytes ({MAX_BATCH} session ids a call)"),
        ));
    };
    if bytes.is_empty() {
        return Ok(Default::default());
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(o)) => Ok(o),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("body: send a JSON object, e.g. {what}"),
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("body: not JSON ({e}); send e.g. {what}"),
        )),
    }
}

/// An optional string field, or the message of a 400.
fn text<'a>(
    o: &'a serde_json::Map<String, serde_json::Value>,
    k: &str,
) -> Result<Option<&'a str>, String> {
    match o.get(k) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{k}: a string")),
    }
}

fn bad(m: &str) -> Response {
    error(StatusCode::BAD_REQUEST, m)
}

/// `session_ids`: a non-empty list of at most [`MAX_BATCH`] strings, or the message of a 400.
fn session_ids(o: &serde_json::Map<String, serde_json::Value>) -> Result<Vec<String>, String> {
    let msg = || {
        format!("session_ids: a list of 1 to {MAX_BATCH} session ids, e.g. {{\"session_ids\": [\"…\"]}}")
    };
    let Some(serde_json::Value::Array(a)) = o.get("session_ids") else {
        return Err(msg());
    };
    if a.is_empty() || a.len() > MAX_BATCH {
        return Err(msg());
    }
    a.iter()
        .map(|v| match v {
            serde_json::Value::String(s) if !s.is_empty() && s.len() <= 200 => Ok(s.clone()),
            _ => Err(msg()),
        })
        .collect()
}

/// A body `{"session_ids": [...]}`: the ids, or the response to send.
async fn ids_of(body: Body) -> Result<Vec<String>, Response> {
    let o = object(body, "{\"session_ids\": [\"…\"]}").await?;
    session_ids(&o).map_err(|m| bad(&m))
}

fn store_error(e: reel_store::Error) -> Response {
    match e {
        reel_store::Error::Config(m) => error(StatusCode::BAD_REQUEST, &m),
        e => internal(e),
    }
}

fn json_of(c: &Collection) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "session_count": c.session_count,
        "created_at": reel_format::package::iso_ms(c.created_ms),
        "updated_at": reel_format::package::iso_ms(c.updated_ms),
    })
}

async fn found(st: &AppState, project: &str, id: &str) -> Result<Collection, Response> {
    match st.store.index.collection(project, id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(error(StatusCode::NOT_FOUND, "no such collection")),
        Err(e) => Err(internal(e)),
    }
}

async fn list(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    match st.store.index.collections(&p.id).await {
        Ok(v) => Json(serde_json::json!({"results": v.iter().map(json_of).collect::<Vec<_>>()}))
            .into_response(),
        Err(e) => internal(e),
    }
}

async fn create(State(st): State<Arc<AppState>>, Admin(p): Admin, body: Body) -> Response {
    const EXAMPLE: &str = "{\"name\": \"Checkout bugs\", \"session_ids\": [\"…\"]}";
    let o = match object(body, EXAMPLE).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let (name, description) = match (text(&o, "name"), text(&o, "description")) {
        (Ok(n), Ok(d)) => (n.unwrap_or(""), d.unwrap_or("")),
        (Err(m), _) | (_, Err(m)) => return bad(&m),
    };
    let ids = match o.get("session_ids") {
        None => Vec::new(),
        Some(_) => match session_ids(&o) {
            Ok(v) => v,
            Err(m) => return bad(&m),
        },
    };
    let c = match st
        .store
        .index
        .create_collection(&p.id, name, description)
        .await
    {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    let mut added = reel_store::collections::Added::default();
    if !ids.is_empty() {
        match st.store.index.add_to_collection(&p.id, &c.id, &ids).await {
            Ok(Some(a)) => added = a,
            Ok(None) => return error(StatusCode::CONFLICT, "the collection was deleted meanwhile"),
            Err(e) => return store_error(e),
        }
    }
    crate::api::write_audit(
        &st,
        &p.id,
        "collection.create",
        None,
        serde_json::json!({"collection_id": c.id}),
    )
    .await;
    let c = st
        .store
        .index
        .collection(&p.id, &c.id)
        .await
        .ok()
        .flatten()
        .unwrap_or(c);
    let mut v = json_of(&c);
    v["added"] = serde_json::json!(added.added.len());
    v["unknown"] = serde_json::json!(added.unknown);
    (StatusCode::CREATED, Json(v)).into_response()
}

async fn one(State(st): State<Arc<AppState>>, Admin(p): Admin, Path(id): Path<String>) -> Response {
    let c = match found(&st, &p.id, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ids = match st.store.index.collection_sessions(&p.id, &id).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    let mut v = json_of(&c);
    v["session_ids"] = serde_json::json!(ids);
    Json(v).into_response()
}

async fn update(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let o = match object(body, "{\"name\": \"…\", \"description\": \"…\"}").await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let (name, description) = match (text(&o, "name"), text(&o, "description")) {
        (Ok(n), Ok(d)) => (n, d),
        (Err(m), _) | (_, Err(m)) => return bad(&m),
    };
    match st
        .store
        .index
        .update_collection(&p.id, &id, name, description)
        .await
    {
        Ok(Some(c)) => Json(json_of(&c)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such collection"),
        Err(e) => store_error(e),
    }
}

async fn remove(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    let done = st.store.index.delete_collection(&p.id, &id).await;
    let detail = serde_json::json!({ "collection_id": id });
    crate::api::revocation(
        &st,
        &p.id,
        done,
        "collection.delete",
        detail,
        "no such collection",
    )
    .await
}

async fn add(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let ids = match ids_of(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match st.store.index.add_to_collection(&p.id, &id, &ids).await {
        Ok(Some(a)) => Json(serde_json::json!({
            "added": a.added.len(), "already": a.already.len(), "unknown": a.unknown,
        }))
        .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such collection"),
        Err(e) => store_error(e),
    }
}

async fn take_out_ids(st: &AppState, project: &str, id: &str, ids: &[String]) -> Response {
    match st
        .store
        .index
        .remove_from_collection(project, id, ids)
        .await
    {
        Ok(Some(n)) => Json(serde_json::json!({"removed": n})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such collection"),
        Err(e) => store_error(e),
    }
}

async fn take_out(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    match ids_of(body).await {
        Ok(ids) => take_out_ids(&st, &p.id, &id, &ids).await,
        Err(r) => r,
    }
}

async fn take_out_one(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path((id, session)): Path<(String, String)>,
) -> Response {
    take_out_ids(&st, &p.id, &id, &[session]).await
}

async fn list_shares(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = found(&st, &p.id, &id).await {
        return r;
    }
    match st.store.index.list_collection_shares(&p.id, &id).await {
        Ok(v) => Json(serde_json::json!({"results": v})).into_response(),
        Err(e) => internal(e),
    }
}

async fn create_share(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let o = match object(body, "{\"expires_in_seconds\": 604800}").await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let expires = match expires_from(o.get("expires_in_seconds")) {
        Ok(x) => x,
        Err(m) => return bad(m),
    };
    if let Err(r) = found(&st, &p.id, &id).await {
        return r;
    }
    let made = st
        .store
        .index
        .create_collection_share(&p.id, &id, expires)
        .await;
    let detail = serde_json::json!({ "collection_id": id });
    crate::api::share_created(&st, &p.id, made, None, detail, expires).await
}

async fn export(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    let c = match found(&st, &p.id, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ids = match st.store.index.collection_sessions(&p.id, &id).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    if ids.is_empty() {
        return error(
            StatusCode::CONFLICT,
            "the collection is empty: add sessions to it first",
        );
    }
    if ids.len() > MAX_BATCH {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("a package holds at most {MAX_BATCH} sessions; this collection has {}: export it in parts with POST /api/v1/export", ids.len()),
        );
    }
    match crate::api::sessions_file(&st, &p.id, &ids).await {
        Ok(file) => file_response(file, &file_name(&c.name)),
        Err(r) => r,
    }
}

/// A download name from a collection's name: letters, digits, `-` and `_` kept.
fn file_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s = s.chars().take(80).collect();
    if s.is_empty() {
        s = "collection".into();
    }
    format!("{s}.reel.zip")
}

async fn export_selection(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    body: Body,
) -> Response {
    let mut ids = match ids_of(body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut seen = std::collections::HashSet::new();
    ids.retain(|s| seen.insert(s.clone()));
    match crate::api::sessions_file(&st, &p.id, &ids).await {
        Ok(file) => {
            let name = if ids.len() == 1 {
                format!("{}.reel.zip", ids[0])
            } else {
                format!("{}-sessions.reel.zip", ids.len())
            };
            file_response(file, &name)
        }
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn download_names_are_safe() {
        assert_eq!(file_name("Checkout bugs (Q3)"), "Checkout-bugs-Q3.reel.zip");
        assert_eq!(file_name("../../etc/passwd"), "etc-passwd.reel.zip");
        assert_eq!(file_name("\"; rm"), "rm.reel.zip");
        assert_eq!(file_name("   "), "collection.reel.zip");
    }
}
