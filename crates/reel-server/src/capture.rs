//! Capture: PostHog's protocol for unmodified posthog-js (remote config, flags, `/s/`, `/e/`,
//! the lazy recorder bundle) and Reel's native `/api/v1/ingest`.
use crate::auth::{error, same};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use reel_format::import::{
    decode_body, parse_events, valid_posthog_id, wire_items, CheckedBatch, ImportOptions, ReelBatch,
};
use reel_store::IngestUnit;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
    let limits = st.limits();
    let plain = match decode_body(&body, &limits) {
        Ok((p, _)) => p,
        Err(e) => {
            st.reject();
            return cors(
                &headers,
                error(StatusCode::BAD_REQUEST, &format!("body: {e}")),
            );
        }
    };
    let opts = ImportOptions {
        limits,
        lenient: true,
    };
    let mut warnings = Vec::new();
    let items = match wire_items(&plain, &opts, &mut warnings) {
        Ok(i) => i,
        Err(e) => {
            st.reject();
            return cors(&headers, error(StatusCode::BAD_REQUEST, &e.to_string()));
        }
    };
    let project = st.project();
    let query_token = q.get("token").or_else(|| q.get("api_key"));
    for it in &items {
        let tok = it.token.as_ref().or(query_token);
        match tok {
            Some(t) if same(t, &project.capture_token) => {}
            Some(_) => {
                st.reject();
                return cors(
                    &headers,
                    error(StatusCode::UNAUTHORIZED, "unknown project token"),
                );
            }
            None => {
                st.reject();
                return cors(
                    &headers,
                    error(
                        StatusCode::UNAUTHORIZED,
                        "missing project token (token / api_key)",
                    ),
                );
            }
        }
    }
    if items.is_empty() {
        if let Some(w) = warnings.first() {
            st.reject();
            return cors(&headers, error(StatusCode::BAD_REQUEST, w));
        }
        return ok_reply(&headers, &q);
    }
    if !warnings.is_empty() {
        st.bad_events
            .fetch_add(warnings.len() as u64, Ordering::Relaxed);
        tracing::warn!(count = warnings.len(), first = %warnings[0], "skipped malformed events in a /s/ batch");
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
    for u in &mut units {
        if let Err(e) = st.redact_ingest(&project.id, u).await {
            tracing::error!(error = %e, "ingest redaction failed");
            return cors(
                &headers,
                error(StatusCode::SERVICE_UNAVAILABLE, "redaction failed; retry"),
            );
        }
    }
    match st.store.ingest(&project.id, units).await {
        Ok(_) => ok_reply(&headers, &q),
        Err(e) if crate::state::refused_batch(&e).is_some() => {
            st.reject();
            cors(
                &headers,
                crate::state::refused_batch(&e).unwrap_or_default(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a /s/ batch failed");
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
    let Ok((plain, _)) = decode_body(&body, &st.limits()) else {
        st.reject();
        return cors(
            &headers,
            error(
                StatusCode::BAD_REQUEST,
                "body is not gzip, base64, lz64 or JSON",
            ),
        );
    };
    let v: serde_json::Value = match reel_format::json::parse_value("body", &plain, 256) {
        Ok(v) => v,
        Err(e) => {
            st.reject();
            return cors(&headers, error(StatusCode::BAD_REQUEST, &e.to_string()));
        }
    };
    let (events, envelope_token) = match &v {
        serde_json::Value::Array(a) => (a.clone(), None),
        serde_json::Value::Object(o) => match o.get("batch").and_then(|b| b.as_array()) {
            Some(b) => (
                b.clone(),
                o.get("api_key")
                    .or_else(|| o.get("token"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
            ),
            None => (vec![v.clone()], None),
        },
        _ => (vec![], None),
    };
    let project = st.project();
    let mut urls: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    // Who each session's URLs belong to, so that forgetting a person removes them.
    let mut people: Vec<(String, String)> = Vec::new();
    for e in &events {
        let props = e.get("properties");
        let tok = e
            .get("api_key")
            .or_else(|| e.get("token"))
            .or_else(|| props.and_then(|p| p.get("token")))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .or(envelope_token.clone())
            .or_else(|| q.get("token").cloned());
        if !tok
            .as_deref()
            .is_some_and(|t| same(t, &project.capture_token))
        {
            st.reject();
            return cors(
                &headers,
                error(StatusCode::UNAUTHORIZED, "unknown or missing project token"),
            );
        }
        let (Some(sid), Some(url)) = (
            props
                .and_then(|p| p.get("$session_id"))
                .and_then(|s| s.as_str()),
            props
                .and_then(|p| p.get("$current_url"))
                .and_then(|s| s.as_str()),
        ) else {
            continue;
        };
        if e.get("event").and_then(|x| x.as_str()) == Some("$pageview") && valid_posthog_id(sid) {
            let ms = e
                .get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .unwrap_or_else(reel_store::now_ms);
            urls.entry(sid.to_string())
                .or_default()
                .push((url.to_string(), ms));
            if let Some(d) = e
                .get("distinct_id")
                .or_else(|| props.and_then(|p| p.get("distinct_id")))
                .and_then(|d| d.as_str())
            {
                people.push((sid.to_string(), d.to_string()));
            }
        }
    }
    people.sort();
    people.dedup();
    if let Err(e) = st.store.index.link_people(&project.id, &people).await {
        tracing::warn!(error = %e, "keeping $pageview persons failed");
    }
    for (sid, u) in urls {
        if let Err(e) = st.store.add_urls(&project.id, &sid, &u).await {
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
    let token = decode_body(&body, &st.limits())
        .ok()
        .and_then(|(p, _)| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .and_then(|v| {
            v.get("token")
                .or_else(|| v.get("api_key"))
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| st.project().capture_token);
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

/// `POST /api/v1/ingest`: Reel's recorder and any rrweb client. Gzip (magic bytes) or plain JSON:
/// `{batch_id, session_id, window_id?, distinct_id?, events: [...]}`; token in `?token=`, the body
/// or `Authorization: Bearer`.
async fn native_ingest(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |st: &AppState, code: StatusCode, msg: String| {
        st.reject();
        cors(&headers, error(code, &msg))
    };
    let plain = match decode_body(&body, &st.limits()) {
        Ok((p, _)) => p,
        Err(e) => return bad(&st, StatusCode::BAD_REQUEST, format!("body: {e}")),
    };
    if reel_format::json::depth_exceeds(&plain, 4096) {
        return bad(
            &st,
            StatusCode::BAD_REQUEST,
            "body: JSON nested too deeply".into(),
        );
    }
    let mut b: ReelBatch = match serde_json::from_slice(&plain) {
        Ok(b) => b,
        Err(e) => {
            return bad(
                &st,
                StatusCode::BAD_REQUEST,
                format!("body: invalid JSON: {e}"),
            )
        }
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = q.get("token").cloned().or(b.token.clone()).or(bearer);
    let project = st.project();
    match token {
        Some(t) if same(&t, &project.capture_token) => {}
        Some(_) => {
            return bad(
                &st,
                StatusCode::UNAUTHORIZED,
                "unknown capture token".into(),
            )
        }
        None => {
            return bad(
                &st,
                StatusCode::UNAUTHORIZED,
                "missing capture token (?token=, \"token\" or Authorization: Bearer)".into(),
            )
        }
    }
    let CheckedBatch {
        batch_id,
        session_id,
        window_id,
        events: raw_events,
    } = match b.check(true) {
        Ok(x) => x,
        Err(msg) => return bad(&st, StatusCode::BAD_REQUEST, msg),
    };
    let batch_id = batch_id.unwrap_or_default();
    let opts = ImportOptions {
        limits: st.limits(),
        lenient: true,
    };
    let mut warnings = Vec::new();
    let total = raw_events.len();
    let events = match parse_events(
        raw_events.iter().map(|r| r.get().to_string()),
        "events",
        &opts,
        &mut warnings,
    ) {
        Ok(e) => e,
        Err(e) => return bad(&st, StatusCode::BAD_REQUEST, e.to_string()),
    };
    let rejected = total - events.len();
    if rejected > 0 {
        st.bad_events.fetch_add(rejected as u64, Ordering::Relaxed);
        tracing::warn!(batch_id, rejected, first = %warnings.first().cloned().unwrap_or_default(), "skipped malformed events");
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut unit = IngestUnit {
        key: format!("b:{batch_id}"),
        session_id,
        window_id,
        distinct_id: b.distinct_id,
        source: reel_format::recording::Source {
            system: "reel".into(),
            lib: b.lib.or(Some("rrweb".into())),
            lib_version: b.lib_version,
        },
        user_agent: ua,
        events,
    };
    if let Err(e) = st.redact_ingest(&project.id, &mut unit).await {
        tracing::error!(error = %e, "ingest redaction failed");
        return cors(
            &headers,
            error(StatusCode::SERVICE_UNAVAILABLE, "redaction failed; retry"),
        );
    }
    match st.store.ingest(&project.id, vec![unit]).await {
        Ok(o) => cors(
            &headers,
            axum::Json(serde_json::json!({"status": "ok", "batch_id": batch_id, "duplicate": o.duplicates > 0, "events": o.events, "rejected_events": rejected}))
                .into_response(),
        ),
        Err(e) if crate::state::refused_batch(&e).is_some() => {
            st.reject();
            cors(&headers, crate::state::refused_batch(&e).unwrap_or_default())
        }
        Err(e) => {
            tracing::error!(error = %e, "storing an ingest batch failed");
            cors(&headers, error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable; retry"))
        }
    }
}
