//! Capture: PostHog's protocol for unmodified posthog-js (remote config, flags, `/s/`, `/e/`,
//! the lazy recorder bundle) and Reel's native `/api/v1/ingest`.
use crate::auth::{error, same};
use crate::guard::{Refusal, Reservation};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use reel_format::import::{
    decode_body_capped, is_refused, string_of, valid_posthog_id, warning_count, wire_items_checked,
    BodyCap, CheckedBatch, CvBudget, Envelope, ImportOptions, ReelBatch, WireControl, WireItem,
    BUSY,
};
use reel_format::Event;
use reel_store::IngestUnit;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A refused capture token's message, with what to do: after a rotation (Settings) pages that
/// still send the old token are refused.
macro_rules! refused {
    ($m:literal) => {
        concat!(
            $m,
            " (a rotated token is refused: the web UI's Settings shows the current one)"
        )
    };
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/s", any(snapshot))
        .route("/s/", any(snapshot))
        .route("/e", any(analytics))
        .route("/e/", any(analytics))
        .route("/i/v0/e", any(analytics))
        .route("/i/v0/e/", any(analytics))
        .route("/batch", any(analytics))
        .route("/batch/", any(analytics))
        .route("/capture", any(analytics))
        .route("/capture/", any(analytics))
        .route("/flags", any(flags))
        .route("/flags/", any(flags))
        .route("/decide", any(flags))
        .route("/decide/", any(flags))
        .route("/array/{token}/config.js", get(config_js))
        .route("/array/{token}/config", get(config_json))
        .route("/static/{*path}", get(static_file))
        .route("/api/v1/ingest", post(native_ingest).options(preflight))
}

/// CORS as posthog-js needs it: the page's origin echoed on capture routes and bundles.
pub fn cors(headers: &HeaderMap, mut res: Response) -> Response {
    let h = res.headers_mut();
    let origin = headers
        .get(header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    let req_headers = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static("content-type, authorization"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, req_headers);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    res
}

async fn preflight(headers: HeaderMap) -> Response {
    cors(&headers, StatusCode::NO_CONTENT.into_response())
}

fn ok_reply(headers: &HeaderMap, q: &HashMap<String, String>) -> Response {
    if q.get("beacon").map(String::as_str) == Some("1") {
        return cors(headers, StatusCode::NO_CONTENT.into_response());
    }
    cors(
        headers,
        axum::Json(serde_json::json!({"status": "Ok"})).into_response(),
    )
}

/// 1990-01-01T00:00:00Z in ms: the earliest event time accepted at capture.
pub(crate) const MIN_EVENT_MS: i64 = 631_152_000_000;
/// How far in the future (ms, from the server's clock) an event time may be at capture.
pub(crate) const MAX_FUTURE_MS: i64 = 86_400_000;

/// Refuse an event time far outside a sane range (one event could otherwise keep a session
/// out of retention or overflow a duration); the message names `field`.
pub(crate) fn check_time(field: &str, ms: i64, now: i64) -> Result<(), String> {
    if (MIN_EVENT_MS..=now.saturating_add(MAX_FUTURE_MS)).contains(&ms) {
        return Ok(());
    }
    Err(format!(
        "{field}: {ms} is not a time between 1990-01-01 and one day from now (milliseconds since 1970-01-01 UTC); check the client's clock"
    ))
}

/// [`check_time`] for every event of every unit.
pub(crate) fn check_unit_times(units: &[IngestUnit]) -> Result<(), String> {
    let now = reel_store::now_ms();
    for u in units {
        for (i, e) in u.events.iter().enumerate() {
            check_time(
                &format!(
                    "session {} window {} event {i}: field \"timestamp\"",
                    u.session_id, u.window_id
                ),
                e.timestamp,
                now,
            )?;
        }
    }
    Ok(())
}

/// [`check_unit_times`] for an imported recording (`POST /api/v1/import`).
pub(crate) fn check_recording_times(rec: &reel_format::Recording) -> Result<(), String> {
    let now = reel_store::now_ms();
    for s in &rec.sessions {
        for w in &s.windows {
            for (i, e) in w.events.iter().enumerate() {
                check_time(
                    &format!(
                        "session {} window {} event {i}: field \"timestamp\"",
                        s.id, w.id
                    ),
                    e.timestamp,
                    now,
                )?;
            }
        }
    }
    Ok(())
}

/// A refused request before anything is stored.
struct Fail(StatusCode, String);

impl Fail {
    fn bad(msg: impl Into<String>) -> Fail {
        Fail(StatusCode::BAD_REQUEST, msg.into())
    }
    fn into_response(self, st: &AppState, headers: &HeaderMap) -> Response {
        st.reject();
        let mut r = error(self.0, &self.1);
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        cors(headers, r)
    }
}

/// 429 with `Retry-After` for a quota.
fn refused(st: &AppState, headers: &HeaderMap, r: Refusal) -> Response {
    st.reject();
    let mut res = error(StatusCode::TOO_MANY_REQUESTS, &r.message);
    if let Ok(v) = HeaderValue::from_str(&r.retry_after_secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    cors(headers, res)
}

/// Decode a body's transport encoding under `cap` (flag `hint`), charging `res`.
fn decode<'b>(
    body: &'b [u8],
    cap: u64,
    hint: &'static str,
    res: &mut Reservation,
) -> Result<Cow<'b, [u8]>, Fail> {
    let mut grow = |n: u64| res.grow(n);
    match decode_body_capped(
        body,
        &mut BodyCap {
            cap,
            hint,
            grow: &mut grow,
        },
    ) {
        Ok((p, _)) => Ok(p),
        Err(e) => Err(decode_fail(e)),
    }
}

fn decode_fail(e: reel_format::Error) -> Fail {
    match e {
        reel_format::Error::Limit { .. } => {
            Fail(StatusCode::PAYLOAD_TOO_LARGE, format!("body: {e}"))
        }
        e if e.to_string().ends_with(BUSY) => Fail(StatusCode::SERVICE_UNAVAILABLE, BUSY.into()),
        e => Fail::bad(format!("body: {e}")),
    }
}

/// Run CPU-heavy decoding off the async workers (the budget bounds how many run at once).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Fail> + Send + 'static,
) -> Result<T, Fail> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("decoding failed: {e}"),
        ))
    })
}

fn cv_budget(st: &AppState) -> CvBudget {
    CvBudget {
        left: st.config.cv_limit,
        total: st.config.cv_limit,
        hint: "--cv-limit",
    }
}

/// The token a request names in its query string, refused before its body is decoded when it
/// is not the capture token.
fn query_token(
    q: &HashMap<String, String>,
    names: &[&str],
    capture_token: &str,
    refused: &str,
) -> Result<Option<String>, Fail> {
    let t = names.iter().find_map(|n| q.get(*n)).cloned();
    if t.as_deref().is_some_and(|t| !same(t, capture_token)) {
        return Err(Fail(StatusCode::UNAUTHORIZED, refused.into()));
    }
    Ok(t)
}

struct SnapshotBody {
    _res: Reservation,
    items: Vec<WireItem>,
    warnings: Vec<String>,
    bytes: u64,
}

fn parse_snapshot(
    st: &AppState,
    body: &[u8],
    query_token: Option<&str>,
    capture_token: &str,
) -> Result<SnapshotBody, Fail> {
    let mut res = st.guard.reserve();
    let plain = decode(
        body,
        st.config.decompressed_limit,
        "--decompressed-limit",
        &mut res,
    )?;
    snapshot_items(st, &plain, res, query_token, capture_token)
}

/// The `$snapshot` items of a decoded capture body (other events are skipped), tokens checked.
fn snapshot_items(
    st: &AppState,
    plain: &[u8],
    res: Reservation,
    query_token: Option<&str>,
    capture_token: &str,
) -> Result<SnapshotBody, Fail> {
    let opts = ImportOptions {
        limits: st.limits(),
        lenient: true,
    };
    let mut warnings = Vec::new();
    let mut missing = false;
    let mut token_ok = |t: Option<&str>| match t.or(query_token) {
        Some(t) => same(t, capture_token),
        None => {
            missing = true;
            false
        }
    };
    let mut ctl = WireControl {
        token_ok: &mut token_ok,
        cv: cv_budget(st),
    };
    let items = match wire_items_checked(plain, &opts, &mut warnings, &mut ctl) {
        Ok(i) => i,
        Err(e) if is_refused(&e) => {
            return Err(Fail(
                StatusCode::UNAUTHORIZED,
                if missing {
                    "missing project token (token / api_key)".into()
                } else {
                    refused!("unknown project token").into()
                },
            ))
        }
        Err(e @ reel_format::Error::Limit { .. }) => {
            return Err(Fail(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))
        }
        Err(e) => return Err(Fail::bad(e.to_string())),
    };
    Ok(SnapshotBody {
        _res: res,
        items,
        warnings,
        bytes: plain.len() as u64,
    })
}

/// `/s/`: recording batches. Gzip (magic bytes), base64 form, lz64 and plain JSON bodies.
async fn snapshot(
    State(st): State<Arc<AppState>>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::OPTIONS {
        return preflight(headers).await;
    }
    if method == Method::GET && body.is_empty() {
        return ok_reply(&headers, &q);
    }
    let project = st.project();
    let qt = match query_token(
        &q,
        &["token", "api_key"],
        &project.capture_token,
        refused!("unknown project token"),
    ) {
        Ok(t) => t,
        Err(f) => return f.into_response(&st, &headers),
    };
    let parsed = {
        let st = st.clone();
        let tok = project.capture_token.clone();
        blocking(move || parse_snapshot(&st, &body, qt.as_deref(), &tok)).await
    };
    match parsed {
        Ok(p) => store_snapshot(&st, &project, &headers, &q, p, "/s/").await,
        Err(f) => f.into_response(&st, &headers),
    }
}

/// Store the `$snapshot` items of a capture body (`/s/`, or mobile SDKs' `/batch/`, `/e/`,
/// `/i/v0/e/`): quotas, times, ingest redaction, then the durable write; the reply says it is stored.
async fn store_snapshot(
    st: &Arc<AppState>,
    project: &reel_store::index::Project,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: SnapshotBody,
    route: &str,
) -> Response {
    let (st, headers, q) = (st.clone(), headers.clone(), q);
    let SnapshotBody {
        _res,
        items,
        warnings,
        bytes,
    } = body;
    if items.is_empty() {
        if let Some(w) = warnings.first() {
            return Fail::bad(w.clone()).into_response(&st, &headers);
        }
        return ok_reply(&headers, q);
    }
    if let Err(r) = st.guard.charge_bytes(&project.capture_token, bytes) {
        return refused(&st, &headers, r);
    }
    if !warnings.is_empty() {
        st.bad_events
            .fetch_add(warning_count(&warnings) as u64, Ordering::Relaxed);
        tracing::warn!(count = warning_count(&warnings), first = %warnings[0], route, "skipped malformed events in a snapshot batch");
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut units = Vec::new();
    for it in items {
        let key = match &it.uuid {
            Some(u) => format!("ph:{u}"),
            None => format!(
                "ph:{}",
                reel_store::index::sha256_hex(
                    &it.session
                        .windows
                        .iter()
                        .flat_map(|w| w.events.iter().map(|e| e.json()))
                        .collect::<String>()
                )
            ),
        };
        let s = it.session;
        for w in s.windows {
            units.push(IngestUnit {
                key: if units.iter().any(|u: &IngestUnit| u.key == key) {
                    format!("{key}:{}", w.id)
                } else {
                    key.clone()
                },
                session_id: s.id.clone(),
                window_id: w.id,
                distinct_id: s.distinct_id.clone(),
                source: s.source.clone(),
                user_agent: s.user_agent.clone().or_else(|| ua.clone()),
                events: w.events,
            });
        }
    }
    if let Err(m) = check_unit_times(&units) {
        return Fail::bad(m).into_response(&st, &headers);
    }
    if let Err(r) = st.guard.charge_sessions(
        &project.capture_token,
        units.iter().map(|u| u.session_id.as_str()),
    ) {
        return refused(&st, &headers, r);
    }
    for u in &mut units {
        if let Err(e) = st.redact_ingest(&project.id, u).await {
            tracing::error!(error = %e, "ingest redaction failed");
            return cors(
                &headers,
                error(StatusCode::SERVICE_UNAVAILABLE, "redaction failed; retry"),
            );
        }
    }
    let found = crate::asset_capture::scan(&st, &units);
    match st.store.ingest(&project.id, units).await {
        Ok(_) => {
            crate::asset_capture::after_ingest(&st, &project.id, found);
            ok_reply(&headers, q)
        }
        Err(e) if crate::state::refused_batch(&e).is_some() => {
            st.reject();
            cors(
                &headers,
                crate::state::refused_batch(&e).unwrap_or_default(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, route, "storing a snapshot batch failed");
            cors(
                &headers,
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable; retry",
                ),
            )
        }
    }
}

/// The fields of an analytics event that are read; the rest is skipped without allocating.
#[derive(serde::Deserialize)]
struct AnalyticsEvent<'a> {
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    api_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    token: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    distinct_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct AnalyticsProps<'a> {
    #[serde(borrow, default)]
    token: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$session_id")]
    session_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "$current_url")]
    current_url: Option<&'a RawValue>,
    #[serde(borrow, default)]
    distinct_id: Option<&'a RawValue>,
}

/// Longest `$pageview` URL kept (longer ones are skipped).
const MAX_URL_BYTES: usize = 8192;

struct AnalyticsBody {
    /// The body's `$snapshot` events (mobile SDKs send recordings with their analytics events).
    snapshots: Option<SnapshotBody>,
    _res: Reservation,
    /// (session, url) → first time seen.
    urls: HashMap<(String, String), i64>,
    /// (session, distinct id) of each `$pageview`, so that forgetting a person removes the URLs.
    people: std::collections::BTreeSet<(String, String)>,
    bytes: u64,
}

fn parse_analytics(
    st: &AppState,
    body: &[u8],
    query_token: Option<&str>,
    capture_token: &str,
) -> Result<AnalyticsBody, Fail> {
    let mut res = st.guard.reserve();
    let plain = decode(
        body,
        st.config.analytics_limit,
        "--analytics-limit",
        &mut res,
    )?;
    let unauthorized = || {
        Fail(
            StatusCode::UNAUTHORIZED,
            refused!("unknown or missing project token").into(),
        )
    };
    let json_err = |e: serde_json::Error| Fail::bad(format!("body: invalid JSON: {e}"));
    let (list, single, envelope_token): (Option<&[u8]>, Option<&RawValue>, Option<String>) =
        match reel_format::json::first_byte(&plain) {
            Some(b'[') => (Some(&plain[..]), None, None),
            Some(b'{') => {
                let env: Envelope = serde_json::from_slice(&plain).map_err(json_err)?;
                match env.batch.filter(|b| b.get().trim_start().starts_with('[')) {
                    Some(b) => {
                        let t = string_of(env.api_key).or_else(|| string_of(env.token));
                        if t.as_deref().is_some_and(|t| !same(t, capture_token)) {
                            return Err(unauthorized());
                        }
                        (Some(b.get().as_bytes()), None, t)
                    }
                    None => (
                        None,
                        Some(serde_json::from_slice(&plain).map_err(json_err)?),
                        None,
                    ),
                }
            }
            _ => {
                // Not an event list: nothing to record, but the JSON must be valid.
                serde_json::from_slice::<serde::de::IgnoredAny>(&plain).map_err(json_err)?;
                (None, None, None)
            }
        };
    let now = reel_store::now_ms();
    let max_urls = st.config.max_urls_per_request;
    let mut urls: HashMap<(String, String), i64> = HashMap::new();
    let mut people = std::collections::BTreeSet::new();
    let mut snapshots = false;
    let mut each = |i: usize, raw: &RawValue| -> reel_format::Result<()> {
        let e: Option<AnalyticsEvent> = serde_json::from_str(raw.get()).ok();
        let props: Option<AnalyticsProps> = e
            .as_ref()
            .and_then(|e| e.properties)
            .and_then(|p| serde_json::from_str(p.get()).ok());
        let tok = e
            .as_ref()
            .and_then(|e| string_of(e.api_key).or_else(|| string_of(e.token)))
            .or_else(|| props.as_ref().and_then(|p| string_of(p.token)))
            .or_else(|| envelope_token.clone())
            .or_else(|| query_token.map(str::to_string));
        if !tok.as_deref().is_some_and(|t| same(t, capture_token)) {
            return Err(reel_format::Error::invalid("token", "refused"));
        }
        let Some(e) = e else { return Ok(()) };
        let ms = string_of(e.timestamp).and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        });
        let ms = match ms {
            Some(t) => {
                let ms = (t.unix_timestamp_nanos() / 1_000_000)
                    .clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                check_time(&format!("event {i}: field \"timestamp\""), ms, now)
                    .map_err(|m| reel_format::Error::invalid("timestamp", m))?;
                ms
            }
            None => now,
        };
        match string_of(e.event).as_deref() {
            Some("$pageview") => {}
            Some("$snapshot") => {
                snapshots = true;
                return Ok(());
            }
            _ => return Ok(()),
        }
        let Some(p) = props else { return Ok(()) };
        let (Some(sid), Some(url)) = (string_of(p.session_id), string_of(p.current_url)) else {
            return Ok(());
        };
        if !valid_posthog_id(&sid) || url.len() > MAX_URL_BYTES {
            return Ok(());
        }
        if let Some(d) = string_of(e.distinct_id).or_else(|| string_of(p.distinct_id)) {
            if people.len() < max_urls {
                people.insert((sid.clone(), d));
            }
        }
        let v = urls.entry((sid, url)).or_insert(ms);
        *v = (*v).min(ms);
        if urls.len() > max_urls {
            return Err(reel_format::Error::Limit {
                context: "body".into(),
                what: "the number of distinct $pageview URLs".into(),
                limit: max_urls as u64,
                hint: "--max-urls-per-request",
            });
        }
        Ok(())
    };
    let walked = match (list, single) {
        (Some(l), _) => reel_format::import::for_each_item(l, "body", &mut each),
        (None, Some(one)) => each(0, one),
        (None, None) => Ok(()),
    };
    match walked {
        Ok(()) => {}
        Err(reel_format::Error::Invalid { context, message }) if context == "token" => {
            let _ = message;
            return Err(unauthorized());
        }
        Err(reel_format::Error::Invalid { context, message }) if context == "timestamp" => {
            return Err(Fail::bad(message))
        }
        Err(e @ reel_format::Error::Limit { .. }) => {
            return Err(Fail(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))
        }
        Err(e) => return Err(Fail::bad(e.to_string())),
    }
    let bytes = plain.len() as u64;
    if snapshots {
        // The same body read as recordings; its reservation covers both readings.
        let snap = snapshot_items(st, &plain, res, query_token, capture_token)?;
        return Ok(AnalyticsBody {
            snapshots: Some(snap),
            _res: st.guard.reserve(),
            urls,
            people,
            bytes,
        });
    }
    Ok(AnalyticsBody {
        snapshots: None,
        _res: res,
        urls,
        people,
        bytes,
    })
}

/// `/e/`, `/i/v0/e/`, `/batch/`: analytics events. Accepted; `$pageview` URLs become session facts.
async fn analytics(
    State(st): State<Arc<AppState>>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::OPTIONS {
        return preflight(headers).await;
    }
    let project = st.project();
    let qt = match query_token(
        &q,
        &["token"],
        &project.capture_token,
        refused!("unknown or missing project token"),
    ) {
        Ok(t) => t,
        Err(f) => return f.into_response(&st, &headers),
    };
    let parsed = {
        let st = st.clone();
        let tok = project.capture_token.clone();
        blocking(move || parse_analytics(&st, &body, qt.as_deref(), &tok)).await
    };
    let AnalyticsBody {
        snapshots,
        _res,
        urls,
        people,
        bytes,
    } = match parsed {
        Ok(p) => p,
        Err(f) => return f.into_response(&st, &headers),
    };
    match snapshots {
        // Recordings first: the reply says they are stored (it charges the body's bytes).
        Some(snap) => {
            let r = store_snapshot(&st, &project, &headers, &q, snap, "analytics").await;
            if !r.status().is_success() {
                return r;
            }
        }
        None => {
            if let Err(r) = st.guard.charge_bytes(&project.capture_token, bytes) {
                return refused(&st, &headers, r);
            }
        }
    }
    if urls.is_empty() {
        return ok_reply(&headers, &q);
    }
    if let Err(r) = st
        .guard
        .charge_sessions(&project.capture_token, urls.keys().map(|(s, _)| s.as_str()))
    {
        return refused(&st, &headers, r);
    }
    let people: Vec<(String, String)> = people.into_iter().collect();
    if let Err(e) = st.store.index.link_people(&project.id, &people).await {
        tracing::warn!(error = %e, "keeping $pageview persons failed");
    }
    let policy = st.policy("ingest_redaction");
    let mut by_session: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for ((sid, url), ms) in urls {
        let url = match &policy {
            Some(r) => match r.page_url(&url) {
                Some(u) => u,
                None => continue,
            },
            None => url,
        };
        by_session.entry(sid).or_default().push((url, ms));
    }
    // Concurrently: on SQLite they meet in one group commit.
    let writes = by_session
        .iter()
        .map(|(sid, u)| st.store.add_urls(&project.id, sid, u));
    for r in futures::future::join_all(writes).await {
        if let Err(e) = r {
            tracing::warn!(error = %e, "keeping $pageview URLs failed");
        }
    }
    ok_reply(&headers, &q)
}

/// The remote config posthog-js asks for, built from the project's settings.
fn remote_config(st: &AppState, token: &str) -> serde_json::Value {
    let s = st.project().settings;
    let enabled = s
        .get("recording_enabled")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let network = s
        .get("network_capture")
        .cloned()
        .unwrap_or(serde_json::json!({"recordHeaders": false, "recordBody": false}));
    let network_on = network
        .get("recordHeaders")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
        || network
            .get("recordBody")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    let recording = if enabled {
        serde_json::json!({
            "endpoint": "/s/",
            "consoleLogRecordingEnabled": s.get("console_log_recording").and_then(|v| v.as_bool()).unwrap_or(true),
            "recorderVersion": "v2",
            "sampleRate": s.get("sample_rate").filter(|v| !v.is_null()).map(|v| serde_json::Value::String(v.to_string())),
            "minimumDurationMilliseconds": s.get("minimum_duration_ms").cloned().unwrap_or(serde_json::Value::Null),
            "linkedFlag": null,
            "networkPayloadCapture": network,
            "masking": s.get("masking").cloned().unwrap_or(serde_json::Value::Null),
            "urlTriggers": [], "urlBlocklist": [], "eventTriggers": [], "triggerMatchType": null,
            "scriptConfig": null,
            "recordCanvas": s.get("record_canvas").and_then(|v| v.as_bool()).unwrap_or(false),
        })
    } else {
        serde_json::Value::Bool(false)
    };
    serde_json::json!({
        "token": token,
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": false,
        "captureDeadClicks": false,
        "capturePerformance": {"network_timing": network_on, "web_vitals": false, "web_vitals_allowed_metrics": null},
        "autocapture_opt_out": true,
        "autocaptureExceptions": false,
        "analytics": {"endpoint": "/i/v0/e/"},
        "elementsChainAsString": true,
        "sessionRecording": recording,
        "heatmaps": false,
        "surveys": false,
        "productTours": false,
        "defaultIdentifiedOnly": true,
        "siteApps": [],
    })
}

fn known_token(st: &AppState, token: &str) -> bool {
    same(token, &st.project().capture_token)
}

async fn config_js(
    State(st): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !known_token(&st, &token) {
        return cors(
            &headers,
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "application/javascript")],
                "/* reel: unknown project token */",
            )
                .into_response(),
        );
    }
    let cfg = remote_config(&st, &token);
    let tok = serde_json::to_string(&token).unwrap_or_default();
    let js = format!(
        "(function() {{\n  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {{}};\n  window._POSTHOG_REMOTE_CONFIG[{tok}] = {{\n    config: {cfg},\n    siteApps: []\n  }}\n}})();"
    );
    cors(
        &headers,
        (
            [(
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            )],
            js,
        )
            .into_response(),
    )
}

async fn config_json(
    State(st): State<Arc<AppState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !known_token(&st, &token) {
        return cors(
            &headers,
            error(StatusCode::NOT_FOUND, "unknown project token"),
        );
    }
    cors(
        &headers,
        axum::Json(remote_config(&st, &token)).into_response(),
    )
}

/// `/flags/?v=2` and `/decide/`: no feature flags, plus the recording config older SDKs read here.
async fn flags(
    State(st): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::OPTIONS {
        return preflight(headers).await;
    }
    let parsed = {
        let st = st.clone();
        blocking(move || {
            let mut res = st.guard.reserve();
            let plain = decode(&body, st.config.flags_limit, "--flags-limit", &mut res)?;
            let env: Option<Envelope> = serde_json::from_slice(&plain).ok();
            Ok(env.and_then(|e| string_of(e.token).or_else(|| string_of(e.api_key))))
        })
        .await
    };
    let token = match parsed {
        Ok(t) => t.unwrap_or_else(|| st.project().capture_token),
        // An undecodable body still gets the config (older SDKs send odd bodies); only a body
        // over the cap or a busy server is refused.
        Err(Fail(code, msg))
            if code == StatusCode::PAYLOAD_TOO_LARGE || code == StatusCode::SERVICE_UNAVAILABLE =>
        {
            return Fail(code, msg).into_response(&st, &headers)
        }
        Err(_) => st.project().capture_token,
    };
    let mut v = remote_config(&st, &token);
    if let Some(o) = v.as_object_mut() {
        o.remove("token"); // never echo a token: posthog-js does not read it here
        o.insert("flags".into(), serde_json::json!({}));
        o.insert("featureFlags".into(), serde_json::json!({}));
        o.insert("featureFlagPayloads".into(), serde_json::json!({}));
        o.insert("errorsWhileComputingFlags".into(), serde_json::json!(false));
        o.insert("quotaLimited".into(), serde_json::json!([]));
    }
    cors(&headers, axum::Json(v).into_response())
}

/// `/static/…`: Reel's recorder (`reel.js`, `reel.mjs`) and posthog-js bundles from `--posthog-js-dist`.
async fn static_file(
    State(st): State<Arc<AppState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(bytes) = crate::assets::get(&format!("/static/{path}")) {
        return cors(
            &headers,
            (
                [
                    (header::CONTENT_TYPE, crate::assets::content_type(&path)),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                ],
                bytes,
            )
                .into_response(),
        );
    }
    // posthog-js asks for /static/<version>/<name>.js or /static/<name>.js?v=<version>.
    let name = path.rsplit('/').next().unwrap_or("");
    let safe = !name.is_empty()
        && name.ends_with(".js")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if !safe {
        return cors(&headers, error(StatusCode::NOT_FOUND, "no such file"));
    }
    let Some(dist) = &st.config.posthog_js_dist else {
        let msg = format!(
            "console.error({:?});",
            format!("reel: cannot serve posthog-js's {name}: start `reel serve --posthog-js-dist node_modules/posthog-js/dist` (or set REEL_POSTHOG_JS_DIST), or bundle the recorder in your page with `import 'posthog-js/dist/recorder'`")
        );
        return cors(
            &headers,
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "application/javascript")],
                msg,
            )
                .into_response(),
        );
    };
    match tokio::fs::read(dist.join(name)).await {
        Ok(b) => cors(
            &headers,
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/javascript; charset=utf-8",
                    ),
                    (header::CACHE_CONTROL, "public, max-age=3600"),
                ],
                b,
            )
                .into_response(),
        ),
        Err(_) => cors(
            &headers,
            error(
                StatusCode::NOT_FOUND,
                &format!("{name} is not in the posthog-js dist folder (--posthog-js-dist)"),
            ),
        ),
    }
}

/// The fields of an ingest batch read before its events: ids and the token. `events` stays a
/// borrowed slice, walked item by item after the token is checked.
#[derive(serde::Deserialize)]
struct IngestHead<'a> {
    #[serde(default)]
    batch_id: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    window_id: Option<String>,
    #[serde(default)]
    distinct_id: Option<String>,
    #[serde(default)]
    lib: Option<String>,
    #[serde(default)]
    lib_version: Option<String>,
    #[serde(borrow, default)]
    events: Option<&'a RawValue>,
}

struct IngestBody {
    _res: Reservation,
    batch: CheckedBatch<'static>,
    distinct_id: Option<String>,
    lib: Option<String>,
    lib_version: Option<String>,
    events: Vec<Event>,
    rejected: usize,
    warnings: Vec<String>,
    bytes: u64,
}

fn parse_ingest(
    st: &AppState,
    body: &[u8],
    query_token: Option<&str>,
    bearer: Option<&str>,
    capture_token: &str,
) -> Result<IngestBody, Fail> {
    let mut res = st.guard.reserve();
    let plain = decode(
        body,
        st.config.decompressed_limit,
        "--decompressed-limit",
        &mut res,
    )?;
    if reel_format::json::depth_exceeds(&plain, 4096) {
        return Err(Fail::bad("body: JSON nested too deeply"));
    }
    let head: IngestHead = serde_json::from_slice(&plain)
        .map_err(|e| Fail::bad(format!("body: invalid JSON: {e}")))?;
    match query_token.or(head.token.as_deref()).or(bearer) {
        Some(t) if same(t, capture_token) => {}
        Some(_) => {
            return Err(Fail(
                StatusCode::UNAUTHORIZED,
                refused!("unknown capture token").into(),
            ))
        }
        None => {
            return Err(Fail(
                StatusCode::UNAUTHORIZED,
                "missing capture token (?token=, \"token\" or Authorization: Bearer)".into(),
            ))
        }
    }
    // The ids are checked by the one `ReelBatch` rule; events are walked below.
    let mut ids = ReelBatch {
        batch_id: head.batch_id,
        session_id: head.session_id,
        window_id: head.window_id,
        events: head.events.map(|_| Vec::new()),
        ..Default::default()
    };
    let batch = ids.check(true).map_err(Fail::bad)?;
    let raw = head
        .events
        .ok_or_else(|| Fail::bad("missing field \"events\""))?;
    let opts = ImportOptions {
        limits: st.limits(),
        lenient: true,
    };
    let mut budget = cv_budget(st);
    let mut warnings = Vec::new();
    let mut events = Vec::new();
    let mut rejected = 0usize;
    let walked = reel_format::import::for_each_item(raw.get().as_bytes(), "events", |i, r| {
        match reel_format::import::parse_event_budgeted(r.get(), &opts.limits, &mut budget) {
            Ok(e) => events.push(e),
            Err(e @ reel_format::Error::Limit { .. }) => return Err(e),
            Err(e) => {
                rejected += 1;
                reel_format::import::push_warning_with(&mut warnings, || {
                    format!("events: event {i} skipped: {e}")
                });
            }
        }
        Ok(())
    });
    match walked {
        Ok(()) => {}
        Err(e @ reel_format::Error::Limit { .. }) => {
            return Err(Fail(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))
        }
        Err(e) => return Err(Fail::bad(e.to_string())),
    }
    Ok(IngestBody {
        _res: res,
        batch: CheckedBatch {
            batch_id: batch.batch_id,
            session_id: batch.session_id,
            window_id: batch.window_id,
            events: Vec::new(),
        },
        distinct_id: head.distinct_id,
        lib: head.lib,
        lib_version: head.lib_version,
        events,
        rejected,
        warnings,
        bytes: plain.len() as u64,
    })
}

/// `POST /api/v1/ingest`: Reel's recorder and any rrweb client. Gzip (magic bytes) or plain JSON:
/// `{batch_id, session_id, window_id?, distinct_id?, events: [...]}`; token in `?token=`, the body
/// or `Authorization: Bearer`. `batch_id` is unique per session: retries repeat it.
async fn native_ingest(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let project = st.project();
    let qt = match query_token(
        &q,
        &["token"],
        &project.capture_token,
        refused!("unknown capture token"),
    ) {
        Ok(t) => t,
        Err(f) => return f.into_response(&st, &headers),
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let parsed = {
        let st = st.clone();
        let tok = project.capture_token.clone();
        blocking(move || parse_ingest(&st, &body, qt.as_deref(), bearer.as_deref(), &tok)).await
    };
    let IngestBody {
        _res,
        batch,
        distinct_id,
        lib,
        lib_version,
        events,
        rejected,
        warnings,
        bytes,
    } = match parsed {
        Ok(p) => p,
        Err(f) => return f.into_response(&st, &headers),
    };
    let CheckedBatch {
        batch_id,
        session_id,
        window_id,
        ..
    } = batch;
    let batch_id = batch_id.unwrap_or_default();
    if rejected > 0 {
        st.bad_events.fetch_add(rejected as u64, Ordering::Relaxed);
        tracing::warn!(batch_id, rejected, first = %warnings.first().cloned().unwrap_or_default(), "skipped malformed events");
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut unit = IngestUnit {
        // Scoped to the session: two sessions may use the same batch id.
        key: format!("b:{session_id}:{batch_id}"),
        session_id,
        window_id,
        distinct_id,
        source: reel_format::recording::Source {
            system: "reel".into(),
            lib: lib.or(Some("rrweb".into())),
            lib_version,
        },
        user_agent: ua,
        events,
    };
    if let Err(m) = check_unit_times(std::slice::from_ref(&unit)) {
        return Fail::bad(m).into_response(&st, &headers);
    }
    if let Err(r) = st.guard.charge_bytes(&project.capture_token, bytes) {
        return refused(&st, &headers, r);
    }
    if let Err(r) = st
        .guard
        .charge_sessions(&project.capture_token, [unit.session_id.as_str()])
    {
        return refused(&st, &headers, r);
    }
    if let Err(e) = st.redact_ingest(&project.id, &mut unit).await {
        tracing::error!(error = %e, "ingest redaction failed");
        return cors(
            &headers,
            error(StatusCode::SERVICE_UNAVAILABLE, "redaction failed; retry"),
        );
    }
    let found = crate::asset_capture::scan(&st, std::slice::from_ref(&unit));
    match st.store.ingest(&project.id, vec![unit]).await {
        Ok(o) => {
            crate::asset_capture::after_ingest(&st, &project.id, found);
            cors(
            &headers,
            axum::Json(serde_json::json!({"status": "ok", "batch_id": batch_id, "duplicate": o.duplicates > 0, "events": o.events, "rejected_events": rejected}))
                .into_response(),
            )
        }
        Err(e) if crate::state::refused_batch(&e).is_some() => {
            st.reject();
            cors(
                &headers,
                crate::state::refused_batch(&e).unwrap_or_default(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "storing an ingest batch failed");
            cors(
                &headers,
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable; retry",
                ),
            )
        }
    }
}
