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
use reel_store::SessionFilter;
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/sessions", get(list))
        .route("/api/v1/sessions/{id}", get(one).delete(remove))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/sessions/{id}/events", get(events))
        .route("/api/v1/sessions/{id}/export", get(export))
        .route("/api/v1/sessions/{id}/watched", post(watched))
        .route("/api/v1/sessions/{id}/moments", get(crate::moments::get))
        .route(
            "/api/v1/sessions/{id}/summary/llm",
            axum::routing::post(crate::moments::llm),
        )
        .route(
            "/api/v1/sessions/{id}/shares",
            post(create_share).get(list_shares),
        )
        .route("/api/v1/shares/{id}", delete(revoke_share))
        .route("/api/v1/import", post(import))
        .route("/api/v1/people/{distinct_id}/forget", post(forget))
        .route(
            "/api/v1/project",
            get(project)
                .patch(update_settings)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::settings::MAX_PREVIEW_BODY,
                )),
        )
        .route("/api/v1/audit", get(audit))
}

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    // Kinds only: no file path, bucket or host leaves the server on this unauthenticated route.
    let blobs = if st.store.blobs.describe.starts_with("s3://") {
        "s3"
    } else {
        "local"
    };
    match sqlx_ping(&st).await {
        Ok(()) => Json(serde_json::json!({"status": "ok", "index": format!("{:?}", st.store.index.kind), "blobs": blobs})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "healthz: index unavailable");
            error(StatusCode::SERVICE_UNAVAILABLE, "index unavailable (see the server log)")
        }
    }
}

async fn sqlx_ping(st: &AppState) -> reel_store::Result<()> {
    st.store.index.ping().await
}

/// `/metrics` on the main listener, unless `--metrics-listen` moved it to its own address.
async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    if st.config.metrics_listen.is_some() {
        return error(
            StatusCode::NOT_FOUND,
            "/metrics is served on the --metrics-listen address",
        );
    }
    metrics_only(State(st)).await
}

/// The Prometheus text (the route of the `--metrics-listen` listener).
pub async fn metrics_only(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics_text(),
    )
        .into_response()
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
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
    /// `false`: only sessions no admin has watched yet; `true`: only watched ones.
    watched: Option<bool>,
    /// Moment kinds, comma-separated: sessions with at least one of each.
    has: Option<String>,
    /// An order of `reel_store::SORT_COLUMNS` (descending).
    sort: Option<String>,
    /// Free text over the person and the page URLs.
    q: Option<String>,
    /// Only sessions of this collection.
    collection: Option<String>,
    /// Only sessions of this source (`GET /api/v1/sources` lists them).
    source: Option<String>,
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
    let has: Vec<String> = q
        .has
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(k) = has
        .iter()
        .find(|k| reel_insight::MomentKind::from_name(k).is_none())
    {
        let all: Vec<&str> = reel_insight::MomentKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        return error(
            StatusCode::BAD_REQUEST,
            &format!("has: unknown moment kind {k:?}; use {}", all.join(", ")),
        );
    }
    if let Some(s) = q.sort.as_deref() {
        if s != "start_time" && !reel_store::SORT_COLUMNS.contains(&s) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "sort: use start_time or one of {}",
                    reel_store::SORT_COLUMNS.join(", ")
                ),
            );
        }
    }
    if q.q.as_deref().is_some_and(|t| t.len() > 200) {
        return error(
            StatusCode::BAD_REQUEST,
            "q: at most 200 bytes of search text",
        );
    }
    let f = SessionFilter {
        has,
        search: q.q,
        sort: q.sort.filter(|s| s != "start_time"),
        person: q.person,
        url_contains: q.url,
        from_ms: from,
        to_ms: to,
        min_duration_ms: q.min_duration.map(|s| (s * 1000.0) as i64),
        has_errors: q.has_errors,
        watched: q.watched,
        collection: q.collection,
        source: q.source.filter(|s| !s.is_empty()),
        cursor: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    let (rows, next) = match st.store.index.sessions(&p.id, &f).await {
        Ok(x) => x,
        Err(reel_store::Error::Config(m)) => return error(StatusCode::BAD_REQUEST, &m),
        Err(e) => return internal(e),
    };
    // How many match in all: on the first page only (later pages keep paging cheap).
    let total = match f.cursor {
        None => match st.store.index.count_sessions(&p.id, &f).await {
            Ok(n) => Some(n),
            Err(e) => return internal(e),
        },
        Some(_) => None,
    };
    Json(serde_json::json!({"results": rows, "has_next": next.is_some(), "next_cursor": next, "total": total}))
        .into_response()
}

async fn sources(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    match st.store.index.sources(&p.id).await {
        Ok(v) => Json(serde_json::json!({"results": v.iter().map(|(s, n)| serde_json::json!({"source": s, "sessions": n})).collect::<Vec<_>>()})).into_response(),
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
        let collections = st
            .store
            .index
            .collections_of_session(&p.id, &id)
            .await
            .unwrap_or_default();
        o.insert(
            "collections".into(),
            collections
                .iter()
                .map(|c| serde_json::json!({"id": c.id, "name": c.name}))
                .collect(),
        );
    }
    Json(v).into_response()
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    pub format: Option<String>,
    pub window: Option<String>,
}

/// The session row and the blocks to read, or the error response (404 when it does not exist).
pub(crate) async fn plan_of(
    st: &AppState,
    project: &str,
    id: &str,
) -> Result<(reel_store::SessionRow, reel_store::read::Plan), Response> {
    let row = match st.store.index.session(project, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(error(StatusCode::NOT_FOUND, "no such session")),
        Err(e) => return Err(internal(e)),
    };
    match st.store.plan(project, id).await {
        Ok(p) => Ok((row, p)),
        Err(e) => Err(internal(e)),
    }
}

/// A body fed by a blocking producer through a small channel: memory stays at a few chunks
/// whatever the size, and the producer stops when the client goes away.
fn channel_body(
    produce: impl FnOnce(&tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Result<(), String>
        + Send
        + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = produce(&tx) {
            tracing::error!(error = %e, "streaming a response failed");
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|x| (x, rx))
    }))
}

/// Stream a session's events in time order, as they may leave the server (the project's export
/// policy applied): a JSON array of rrweb events (default; `window` picks one window) or
/// `format=jsonl`: `[windowId, event]` per line (PostHog's snapshot form). Blocks are read one
/// at a time (see `reel_store::read`): memory does not grow with the session.
pub async fn events_response(st: &AppState, project: &str, id: &str, q: &EventsQuery) -> Response {
    let (_, mut plan) = match plan_of(st, project, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(w) = &q.window {
        plan = match plan.windows.iter().position(|x| x == w) {
            Some(i) => plan.window(i),
            None => reel_store::read::Plan::default(),
        };
    }
    let jsonl = q.format.as_deref() == Some("jsonl");
    let policy = st.policy("export_redaction");
    let store = st.store.clone();
    let body = channel_body(move |tx| {
        let windows = plan.windows.clone();
        let mut redactors: std::collections::HashMap<usize, reel_redact::WindowRedactor> =
            Default::default();
        let mut buf = Vec::with_capacity(72 << 10);
        let mut first = true;
        if !jsonl {
            buf.push(b'[');
        }
        for item in store.events(plan).map_err(|e| e.to_string())? {
            let (w, e) = item.map_err(|e| e.to_string())?;
            let e = match &policy {
                Some(r) => {
                    let wr = redactors.entry(w).or_insert_with(|| r.window());
                    match wr.event(e).map_err(|e| e.to_string())? {
                        Some(e) => e,
                        None => continue,
                    }
                }
                None => e,
            };
            if jsonl {
                buf.push(b'[');
                serde_json::to_writer(&mut buf, &windows[w]).map_err(|e| e.to_string())?;
                buf.push(b',');
                buf.extend_from_slice(e.json().as_bytes());
                buf.extend_from_slice(b"]\n");
            } else {
                if !first {
                    buf.push(b',');
                }
                buf.extend_from_slice(e.json().as_bytes());
            }
            first = false;
            if buf.len() >= 64 << 10
                && tx
                    .blocking_send(Ok(Bytes::from(std::mem::take(&mut buf))))
                    .is_err()
            {
                return Ok(()); // the client went away
            }
        }
        if !jsonl {
            buf.push(b']');
        }
        let _ = tx.blocking_send(Ok(Bytes::from(buf)));
        Ok(())
    });
    let ct = if jsonl {
        "application/jsonl"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, ct)], body).into_response()
}

async fn events(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Response {
    events_response(&st, &p.id, &id, &q).await
}

/// Everything one session brings into a package, gathered on the async side by
/// [`session_parts`].
pub(crate) struct SessionParts {
    row: reel_store::SessionRow,
    plan: reel_store::read::Plan,
    /// An imported session's facts without a column (person properties, the listing's fields).
    meta: Option<serde_json::Value>,
    llm: Option<reel_insight::LlmSummary>,
    comments: Vec<reel_store::Comment>,
    /// What `--capture-assets` collected for it (only those the exported events load go in).
    assets: Vec<reel_store::assets::SessionAsset>,
}

/// Write sessions as one `.reel.zip` package into a temporary file, window by window, events
/// streamed from the store through the export policy (blocking).
fn write_package(
    store: &reel_store::Store,
    sessions: Vec<SessionParts>,
    policy: Option<Arc<reel_redact::Redactor>>,
    config: &reel_insight::Config,
) -> Result<std::fs::File, reel_format::Error> {
    use std::io::Seek;
    let tmp = tempfile::tempfile().map_err(|e| reel_format::Error::io("temporary file", e))?;
    let mut w = PackageWriter::new(
        std::io::BufWriter::with_capacity(256 << 10, tmp),
        WriterOptions {
            producer: format!("reel-server {}", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        },
    );
    for s in sessions {
        add_session(&mut w, store, s, policy.clone(), config)?;
    }
    let (bw, _) = w.finish(None)?;
    let mut file = bw
        .into_inner()
        .map_err(|e| reel_format::Error::io("temporary file", e.into_error()))?;
    file.rewind()
        .map_err(|e| reel_format::Error::io("temporary file", e))?;
    Ok(file)
}

/// One session into a package being written: events, facts, comments, moments and summary.
fn add_session<W: std::io::Write + std::io::Seek>(
    w: &mut PackageWriter<W>,
    store: &reel_store::Store,
    parts: SessionParts,
    policy: Option<Arc<reel_redact::Redactor>>,
    config: &reel_insight::Config,
) -> Result<(), reel_format::Error> {
    use reel_format::package::SessionInfo;
    let SessionParts {
        row,
        plan,
        meta,
        llm,
        comments,
        assets,
    } = parts;
    let mut info = SessionInfo {
        id: row.id.clone(),
        distinct_id: row.distinct_id.clone(),
        user_agent: row.user_agent.clone(),
        source: reel_format::recording::Source {
            system: row.source.clone().unwrap_or_default(),
            lib: row.lib.clone(),
            lib_version: row.lib_version.clone(),
        },
        ..Default::default()
    };
    if let Some(serde_json::Value::Object(mut m)) = meta {
        info.person = m.remove("person").filter(|p| !p.is_null());
        if let Some(serde_json::Value::Object(extra)) = m.remove("extra") {
            info.extra = extra;
        }
    }
    if let Some(r) = &policy {
        let mut counts = reel_redact::Counts::default();
        r.session_facts(
            &mut info.distinct_id,
            &mut info.person,
            &mut info.extra,
            &mut counts,
        );
    }
    let store_err = |e: reel_store::Error| reel_format::Error::invalid("store", e.to_string());
    let mut metas = Vec::new();
    let mut all = reel_format::stats::StatsBuilder::default();
    // Moments and summary of what leaves the server (after the export policy).
    let mut analyzer = reel_insight::Analyzer::new(&row.id, config);
    // The URLs the exported events load (after the export policy): only their assets go along.
    let mut loaded = std::collections::BTreeSet::new();
    for i in 0..plan.windows.len() {
        let wp = plan.window(i);
        let size = wp.raw_bytes();
        let mut wr = policy.as_ref().map(|r| r.window());
        let mut wa = analyzer.window(&plan.windows[i]);
        let walk = &mut wa;
        let mut scan = (!assets.is_empty()).then(reel_insight::assets::AssetScan::new);
        let scanning = &mut scan;
        let events = store
            .events(wp)
            .map_err(store_err)?
            .filter_map(move |item| {
                let e = match item {
                    Ok((_, e)) => e,
                    Err(e) => return Some(Err(store_err(e))),
                };
                let e = match &mut wr {
                    Some(wr) => match wr.event(e) {
                        Ok(Some(e)) => e,
                        Ok(None) => return None,
                        Err(e) => {
                            return Some(Err(reel_format::Error::invalid(
                                "redaction",
                                e.to_string(),
                            )))
                        }
                    },
                    None => e,
                };
                walk.observe(&e);
                if let Some(s) = scanning.as_mut() {
                    s.observe(&e);
                }
                Some(Ok(std::borrow::Cow::Owned(e)))
            });
        let (m, st) = w.write_window(&row.id, &plan.windows[i], events, size)?;
        if let Some(s) = scan {
            loaded.extend(s.urls);
        }
        analyzer.add(wa);
        metas.push(m);
        all.merge(st);
    }
    let session_start = row.start_ms;
    let meta = w.finish_session(info, metas, all)?;
    // Comments travel with the session (format 1.3), through the policy's text patterns.
    let package_start = meta
        .start_time
        .as_deref()
        .and_then(reel_format::package::comments::parse_time)
        .unwrap_or(session_start);
    w.add_comments(
        &row.id,
        crate::comments::for_package(&comments, session_start, package_start, policy.as_deref()),
    )?;
    let mut insight = analyzer.finish();
    insight.llm_summary = llm;
    reel_insight::add_summary(w, insight)?;
    add_assets(store, &plan.project, w, assets, loaded)?;
    Ok(())
}

/// The session's assets (format 1.2) that the exported events load, and what loaded stylesheets
/// refer to, as `reel assets` writes them: one at a time in memory (each under the per-asset
/// cap). An asset whose bytes are gone is left out (the URL stays as recorded). Blocking.
fn add_assets<W: std::io::Write + std::io::Seek>(
    store: &reel_store::Store,
    project: &str,
    w: &mut PackageWriter<W>,
    assets: Vec<reel_store::assets::SessionAsset>,
    loaded: std::collections::BTreeSet<String>,
) -> Result<(), reel_format::Error> {
    if assets.is_empty() {
        return Ok(());
    }
    let rt = tokio::runtime::Handle::current();
    let err = |e: reel_store::Error| reel_format::Error::invalid("assets", e.to_string());
    for a in rt
        .block_on(loaded_assets(store, project, assets, loaded))
        .map_err(err)?
    {
        // Sessions of one package may load the same URL: it is written once.
        if w.has_asset(&a.url) {
            continue;
        }
        let Some(bytes) = rt
            .block_on(store.asset_bytes(project, &a.sha256, ASSET_CAP))
            .map_err(err)?
        else {
            tracing::warn!(url = %a.url, "an asset's bytes are missing; exported without it");
            continue;
        };
        w.add_asset(
            &a.url,
            &bytes,
            &a.content_type,
            &reel_format::package::iso_ms(a.fetched_ms),
        )?;
    }
    Ok(())
}

/// Of a session's `assets`, those whose URL is in `loaded` and, transitively, those the loaded
/// stylesheets refer to (their bytes are read for it), in that order.
pub(crate) async fn loaded_assets(
    store: &reel_store::Store,
    project: &str,
    assets: Vec<reel_store::assets::SessionAsset>,
    loaded: std::collections::BTreeSet<String>,
) -> Result<Vec<reel_store::assets::SessionAsset>, reel_store::Error> {
    let mut by_url: std::collections::BTreeMap<String, reel_store::assets::SessionAsset> =
        assets.into_iter().map(|a| (a.url.clone(), a)).collect();
    let mut queue: std::collections::VecDeque<String> = loaded.into_iter().collect();
    let mut out = Vec::new();
    while let Some(url) = queue.pop_front() {
        let Some(a) = by_url.remove(&url) else {
            continue;
        };
        if a.content_type == "text/css" {
            if let Some(css) = store.asset_bytes(project, &a.sha256, ASSET_CAP).await? {
                queue.extend(reel_insight::assets::stylesheet_urls(&url, &css));
            }
        }
        out.push(a);
    }
    Ok(out)
}

/// The asset URLs a session's events load once the export policy has applied (blocking pass
/// over the events, in a blocking thread). `Err` is the response to send.
pub(crate) async fn loaded_urls(
    st: &AppState,
    project: &str,
    id: &str,
    policy: Arc<reel_redact::Redactor>,
) -> Result<std::collections::BTreeSet<String>, Response> {
    let (_, plan) = plan_of(st, project, id).await?;
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = std::collections::BTreeSet::new();
        for i in 0..plan.windows.len() {
            let mut wr = policy.window();
            let mut scan = reel_insight::assets::AssetScan::new();
            for item in store.events(plan.window(i)).map_err(|e| e.to_string())? {
                let (_, e) = item.map_err(|e| e.to_string())?;
                if let Some(e) = wr.event(e).map_err(|e| e.to_string())? {
                    scan.observe(&e);
                }
            }
            out.extend(scan.urls);
        }
        Ok::<_, String>(out)
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

/// Largest asset read back from the blob store (above the largest `--capture-assets-max-bytes`
/// anyone sensible sets; a bound on memory all the same).
pub(crate) const ASSET_CAP: u64 = 256 << 20;

/// What [`write_package`] needs of a session, read from the index.
pub(crate) async fn session_parts(
    st: &AppState,
    project: &str,
    row: reel_store::SessionRow,
    plan: reel_store::read::Plan,
) -> Result<SessionParts, String> {
    let meta = st
        .store
        .index
        .session_meta(project, &row.id)
        .await
        .map_err(|e| e.to_string())?;
    // An LLM summary asked for the session as it is now travels with it.
    let llm = crate::moments::kept_llm_summary(st, project, &row.id).await;
    let comments = st
        .store
        .index
        .comments(project, &row.id)
        .await
        .map_err(|e| e.to_string())?;
    let assets = st
        .store
        .session_assets(project, &row.id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(SessionParts {
        row,
        plan,
        meta,
        llm,
        comments,
        assets,
    })
}

/// A session as it may leave the server, as a `.reel.zip` in a temporary file: the export policy
/// applied, and an imported session's facts (`meta`) carried. The one way out for packages: the
/// export route, the renderer and `--export-to` (and [`sessions_file`] for several sessions).
pub(crate) async fn package_file(
    st: &AppState,
    project: &str,
    row: reel_store::SessionRow,
    plan: reel_store::read::Plan,
) -> Result<std::fs::File, String> {
    let parts = session_parts(st, project, row, plan).await?;
    write_parts(st, vec![parts]).await
}

/// Sessions (in this order) as one `.reel.zip` in a temporary file, as [`package_file`] writes
/// one. `Err`: the response to send (404 naming the first id the project does not hold).
pub(crate) async fn sessions_file(
    st: &AppState,
    project: &str,
    ids: &[String],
) -> Result<std::fs::File, Response> {
    let mut parts = Vec::with_capacity(ids.len());
    for id in ids {
        let (row, plan) = match plan_of(st, project, id).await {
            Ok(x) => x,
            Err(r) if r.status() == StatusCode::NOT_FOUND => {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    &format!("no such session: {id}"),
                ))
            }
            Err(r) => return Err(r),
        };
        parts.push(
            session_parts(st, project, row, plan)
                .await
                .map_err(internal)?,
        );
    }
    write_parts(st, parts).await.map_err(internal)
}

async fn write_parts(st: &AppState, parts: Vec<SessionParts>) -> Result<std::fs::File, String> {
    let policy = st.policy("export_redaction");
    let config = crate::moments::config(st);
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || write_package(&store, parts, policy, &config))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// A session as it may leave the server (export policy applied), as `.reel.zip` bytes: for the
/// renderer, which embeds the whole package in its page. `Err` is the response to send (404 when
/// the session is gone).
pub(crate) async fn export_package(
    st: &AppState,
    project: &str,
    id: &str,
) -> Result<Vec<u8>, Response> {
    use std::io::Read;
    let (row, plan) = plan_of(st, project, id).await?;
    let mut file = package_file(st, project, row, plan)
        .await
        .map_err(internal)?;
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        file.read_to_end(&mut out).map(|_| out)
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

/// A file as a response body, read in chunks.
fn file_body(file: std::fs::File) -> Body {
    channel_body(move |tx| {
        use std::io::Read;
        let mut file = file;
        loop {
            let mut buf = vec![0u8; 64 << 10];
            let n = file.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return Ok(());
            }
        }
    })
}

async fn export(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    let (row, plan) = match plan_of(&st, &p.id, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match package_file(&st, &p.id, row, plan).await {
        Ok(file) => file_response(file, &format!("{id}.reel.zip")),
        Err(e) => internal(e),
    }
}

/// Write an audit entry; a failure is logged, never shown to the client.
pub(crate) async fn write_audit(
    st: &AppState,
    project: &str,
    action: &str,
    subject: Option<&str>,
    detail: serde_json::Value,
) {
    if let Err(e) = st.store.index.audit(project, action, subject, detail).await {
        tracing::warn!(error = %e, action, "audit entry not written");
    }
}

/// A `.reel.zip` in a temporary file as a download named `name` (plain ASCII, no quotes).
pub(crate) fn file_response(file: std::fs::File, name: &str) -> Response {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        file_body(file),
    )
        .into_response()
}

async fn remove(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st.store.delete_session(&p.id, &id).await {
        Ok(true) => {
            crate::jobs::sweep(&st).await; // its rendered videos go too
            write_audit(
                &st,
                &p.id,
                "session.delete",
                Some(&id),
                serde_json::json!({}),
            )
            .await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => internal(e),
    }
}

/// `POST /api/v1/sessions/{id}/watched`: an admin opened the session (the list's "not watched").
async fn watched(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    match st
        .store
        .index
        .mark_watched(&p.id, &id, reel_store::now_ms())
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
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
        Ok(n) => {
            crate::jobs::sweep(&st).await; // the rendered videos of those sessions go too
            Json(serde_json::json!({"sessions_deleted": n})).into_response()
        }
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
    let origins = st.config.capture_assets.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let (kind, rec) = reel_format::import::import(
            "upload",
            &body,
            &reel_format::import::ImportOptions {
                limits,
                lenient: false,
            },
        )?;
        let comments = package_comments(&body, &rec, limits)?;
        let assets = crate::asset_capture::scan_recording(&origins, &rec);
        Ok::<_, reel_format::Error>((kind, rec, comments, assets))
    })
    .await;
    let (kind, rec, comments, assets) = match parsed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => return internal(e),
    };
    // The same recording in any form, in any order, is stored once: events the session already
    // holds are left out (reel_store::dedupe).
    if let Err(m) = crate::capture::check_recording_times(&rec) {
        return error(StatusCode::BAD_REQUEST, &m);
    }
    let warnings = rec.warnings.clone();
    match st
        .store
        .import_recording(&p.id, &key_base, rec, &limits)
        .await
    {
        Err(e) if crate::state::refused_batch(&e).is_some() => {
            crate::state::refused_batch(&e).unwrap_or_default()
        }
        Ok(o) => {
            crate::asset_capture::after_ingest(&st, &p.id, assets);
            let restored = match restore_comments(&st, &p.id, comments).await {
                Ok(n) => n,
                Err(e) => return internal(e),
            };
            Json(serde_json::json!({"kind": kind.name(), "sessions": o.sessions, "events": o.events, "already_stored": o.already_stored, "duplicate": o.duplicate, "comments": restored, "warnings": warnings})).into_response()
        }
        Err(e) => internal(e),
    }
}

/// The comments of an uploaded package (format 1.3), per session of the import; none for other
/// kinds of file. A bad `comments.json` refuses the import (nothing is stored).
fn package_comments(
    body: &[u8],
    rec: &reel_format::Recording,
    limits: reel_format::Limits,
) -> Result<Vec<(String, Vec<reel_format::package::comments::Comment>)>, reel_format::Error> {
    if !body.starts_with(b"PK") {
        return Ok(Vec::new());
    }
    let Ok(mut r) = reel_format::package::PackageReader::open(std::io::Cursor::new(body), limits)
    else {
        return Ok(Vec::new()); // a ZIP of other files: the importer read it
    };
    let mut out = Vec::new();
    for s in &rec.sessions {
        let c = r.comments(&s.id)?;
        if !c.is_empty() {
            out.push((s.id.clone(), c));
        }
    }
    Ok(out)
}

/// Store an import's comments, times against the stored session's start; a comment already
/// there (same id) is kept once. Returns how many were added.
async fn restore_comments(
    st: &AppState,
    project: &str,
    comments: Vec<(String, Vec<reel_format::package::comments::Comment>)>,
) -> reel_store::Result<usize> {
    let mut added = 0;
    for (session, list) in comments {
        let Some(row) = st.store.index.session(project, &session).await? else {
            continue;
        };
        for c in &list {
            let c = crate::comments::from_package(&session, c, row.start_ms);
            if st.store.index.insert_comment(project, &c).await? == Some(true) {
                added += 1;
            }
        }
    }
    Ok(added)
}

#[derive(Deserialize, Default)]
struct ShareReq {
    /// Checked in the handler, so that any wrong value gets the same clear message.
    expires_in_seconds: Option<serde_json::Value>,
}

/// `expires_in_seconds` of a share request as the time it expires (`None`: never), or the
/// message of a 400.
pub(crate) fn expires_from(v: Option<&serde_json::Value>) -> Result<Option<i64>, &'static str> {
    match v.filter(|v| !v.is_null()).map(|v| v.as_i64().unwrap_or(0)) {
        None => Ok(None),
        Some(s) => match s
            .checked_mul(1000)
            .and_then(|ms| reel_store::now_ms().checked_add(ms))
        {
            Some(at) if s > 0 => Ok(Some(at)),
            _ => Err("expires_in_seconds: a whole number of seconds greater than 0 (leave it out for a link that does not expire)"),
        },
    }
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
    let expires = match expires_from(req.expires_in_seconds.as_ref()) {
        Ok(x) => x,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let made = st.store.index.create_share(&p.id, &id, expires).await;
    share_created(&st, &p.id, made, Some(&id), serde_json::json!({}), expires).await
}

/// The answer to a new share link (a session's or a collection's): `201` with its token, page
/// and embed URLs, audited as `share.create` (`detail` gets the share id; never the token).
pub(crate) async fn share_created(
    st: &AppState,
    project: &str,
    made: reel_store::Result<(String, String)>,
    subject: Option<&str>,
    mut detail: serde_json::Value,
    expires: Option<i64>,
) -> Response {
    match made {
        Ok((share_id, token)) => {
            detail["share_id"] = serde_json::json!(share_id);
            write_audit(st, project, "share.create", subject, detail).await;
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
    let done = st.store.index.revoke_share(&p.id, &id).await;
    let detail = serde_json::json!({ "share_id": id });
    revocation(
        &st,
        &p.id,
        done,
        "share.revoke",
        detail,
        "no such live share",
    )
    .await
}

/// The answer to a revocation: `204` once audited (`action`, `detail`: never a secret), `404`
/// saying `missing` when there was nothing live to revoke.
pub(crate) async fn revocation(
    st: &AppState,
    project: &str,
    done: reel_store::Result<bool>,
    action: &str,
    detail: serde_json::Value,
    missing: &str,
) -> Response {
    match done {
        Ok(true) => {
            write_audit(st, project, action, None, detail).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, missing),
        Err(e) => internal(e),
    }
}

async fn project(State(st): State<Arc<AppState>>, Admin(p): Admin) -> Response {
    Json(serde_json::json!({"id": p.id, "name": p.name, "capture_token": p.capture_token, "settings": p.settings, "llm_summaries": st.config.llm.is_some(), "retention_days_default": st.config.retention_days})).into_response()
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
        "moment_custom_tags",
        "retention_days",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unknown setting {k:?}; known: {}", known.join(", ")),
        );
    }
    if let Some(v) = obj.get("moment_custom_tags") {
        if let Err(e) = crate::moments::check_setting(v) {
            return error(StatusCode::BAD_REQUEST, &format!("moment_custom_tags: {e}"));
        }
    }
    if let Some(v) = obj.get("retention_days") {
        if let Err(e) = crate::state::check_retention(v) {
            return error(StatusCode::BAD_REQUEST, &format!("retention_days: {e}"));
        }
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
    // Onto the project as this server holds it now: a capture token rotated meanwhile stays.
    let mut now = st.project();
    if now.id == p.id {
        now.settings = p.settings.clone();
        st.set_project(now);
    }
    Json(serde_json::json!({"settings": p.settings})).into_response()
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    /// A person's id or a session id: only the entries about it (by its keyed hash).
    subject: Option<String>,
}

async fn audit(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Query(q): Query<AuditQuery>,
) -> Response {
    match st
        .store
        .index
        .audit_log_of(&p.id, q.subject.as_deref(), 200)
        .await
    {
        Ok(v) => Json(serde_json::json!({"results": v})).into_response(),
        Err(e) => internal(e),
    }
}
