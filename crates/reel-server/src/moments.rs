//! Key moments on the server: computed when a session is sealed (and on request for sessions
//! that are not, or changed since), kept in the index (counts for the list, the whole
//! `summary.json` for `GET /api/v1/sessions/{id}/moments`). Events are read through the
//! project's export policy: moments show what may leave the server.
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use reel_insight::{Analyzer, Config, Insight, MomentKind};
use std::sync::Arc;

/// The project's moment settings: `moment_custom_tags` (custom event tags that are moments).
pub(crate) fn config(st: &AppState) -> Config {
    let tags = st
        .project()
        .settings
        .get("moment_custom_tags")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .take(100)
                .collect()
        })
        .unwrap_or_default();
    Config { custom_tags: tags }
}

/// Check a `moment_custom_tags` setting: an array of at most 100 strings.
pub(crate) fn check_setting(v: &serde_json::Value) -> Result<(), String> {
    match v.as_array() {
        Some(a)
            if a.len() <= 100 && a.iter().all(|t| t.as_str().is_some_and(|s| s.len() <= 200)) =>
        {
            Ok(())
        }
        _ => Err("use an array of at most 100 tags (strings of at most 200 bytes)".into()),
    }
}

/// Read the session (blocking, window by window, export policy applied) and analyse it.
fn analyse(
    store: &reel_store::Store,
    plan: reel_store::read::Plan,
    policy: Option<Arc<reel_redact::Redactor>>,
    config: &Config,
) -> Result<Insight, String> {
    let mut a = Analyzer::new(&plan.session, config);
    for i in 0..plan.windows.len() {
        let mut wa = a.window(&plan.windows[i]);
        let mut wr = policy.as_ref().map(|r| r.window());
        for item in store.events(plan.window(i)).map_err(|e| e.to_string())? {
            let (_, e) = item.map_err(|e| e.to_string())?;
            let e = match &mut wr {
                Some(wr) => match wr.event(e).map_err(|e| e.to_string())? {
                    Some(e) => e,
                    None => continue,
                },
                None => e,
            };
            wa.observe(&e);
        }
        a.add(wa);
    }
    Ok(a.finish())
}

/// What the index keeps of an insight.
pub(crate) fn row_of(i: &Insight) -> reel_store::InsightRow {
    let n = |k| i.count(k) as i64;
    reel_store::InsightRow {
        rage_click_count: n(MomentKind::RageClick),
        dead_click_count: n(MomentKind::DeadClick),
        error_click_count: n(MomentKind::ErrorClick),
        network_error_count: n(MomentKind::NetworkError),
        activity_score: i.summary.activity_score as i64,
        kinds: i
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, _)| k.clone())
            .collect(),
        json: serde_json::to_string(i).unwrap_or_default(),
    }
}

/// The session's `summary.json`: kept if current, else computed now and kept, with the
/// session's `updated_ms` it is current as of. `Ok(None)`: no such session.
pub(crate) async fn current(
    st: &AppState,
    project: &str,
    id: &str,
) -> Result<Option<(String, i64)>, String> {
    let Some((kept, as_of)) = st
        .store
        .index
        .insight(project, id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    if let Some(j) = kept {
        return Ok(Some((j, as_of)));
    }
    let plan = st
        .store
        .plan(project, id)
        .await
        .map_err(|e| e.to_string())?;
    let policy = st.policy("export_redaction");
    let config = config(st);
    let store = st.store.clone();
    let insight = tokio::task::spawn_blocking(move || analyse(&store, plan, policy, &config))
        .await
        .map_err(|e| e.to_string())??;
    let row = row_of(&insight);
    st.store
        .index
        .set_insight(project, id, &row, as_of)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((row.json, as_of)))
}

/// After sealing: compute and keep the moments (errors are logged; a request recomputes).
pub(crate) async fn after_seal(st: &AppState, project: &str, id: &str) {
    if let Err(e) = current(st, project, id).await {
        tracing::warn!(session = %id, error = %e, "computing key moments failed; they will be computed on request");
    }
}

/// `GET /api/v1/sessions/{id}/moments`: the session's `summary.json` (moments and summary).
pub(crate) async fn get(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    respond(current(&st, &p.id, &id).await)
}

fn respond(r: Result<Option<(String, i64)>, String>) -> Response {
    match r {
        Ok(Some((j, _))) => ([(header::CONTENT_TYPE, "application/json")], j).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => {
            tracing::error!(error = %e, "moments failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
    }
}

/// `GET /share/{token}/moments`: the shared session's `summary.json` (the share page's markers
/// and moments panel). Computed through the export policy like everything a share shows.
pub(crate) async fn for_share(st: &AppState, project: &str, id: &str) -> Response {
    respond(current(st, project, id).await)
}

/// The LLM summary kept with a session's current moments, if any (server exports carry it).
pub(crate) async fn kept_llm_summary(
    st: &AppState,
    project: &str,
    id: &str,
) -> Option<reel_insight::LlmSummary> {
    /// Only the one field (exports ask for every session; the moments need not be built).
    #[derive(serde::Deserialize)]
    struct Kept {
        #[serde(default)]
        llm_summary: Option<reel_insight::LlmSummary>,
    }
    let (kept, _) = st.store.index.insight(project, id).await.ok()??;
    serde_json::from_str::<Kept>(&kept?).ok()?.llm_summary
}

/// `POST /api/v1/sessions/{id}/summary/llm`: ask the configured model (`--llm-url`) for a
/// summary of the session's compact timeline (built from moments computed through the export
/// policy: no DOM, no input values), keep it in `summary.json` as `llm_summary` until the
/// session changes, and answer the whole `summary.json`. At most two run at once.
pub(crate) async fn llm(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
) -> Response {
    let Some(endpoint) = st.config.llm.clone() else {
        return error(
            StatusCode::CONFLICT,
            "LLM summaries are off on this server: start it with `reel serve --llm-url URL` (or REEL_LLM_URL, REEL_LLM_MODEL, REEL_LLM_API_KEY)",
        );
    };
    let (json, as_of) = match current(&st, &p.id, &id).await {
        Ok(Some(x)) => x,
        r => return respond(r),
    };
    let Ok(insight) = serde_json::from_str::<Insight>(&json) else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the kept summary.json cannot be read",
        );
    };
    let Ok(_permit) = st.llm_slots.try_acquire() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            axum::Json(serde_json::json!({"error": "LLM summaries are being written for other sessions; try again in a few seconds"})),
        )
            .into_response();
    };
    let answer = tokio::task::spawn_blocking(move || {
        let r = endpoint.summarize(&insight);
        (insight, r)
    })
    .await;
    let (mut insight, summary) = match answer {
        Ok((i, Ok(s))) => (i, s),
        Ok((_, Err(e))) => {
            tracing::warn!(session = %id, error = %e, "LLM summary failed");
            return error(StatusCode::BAD_GATEWAY, &format!("{e:#}"));
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    insight.llm_summary = Some(summary);
    let row = row_of(&insight);
    if let Err(e) = st.store.index.set_insight(&p.id, &id, &row, as_of).await {
        return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    ([(header::CONTENT_TYPE, "application/json")], row.json).into_response()
}
