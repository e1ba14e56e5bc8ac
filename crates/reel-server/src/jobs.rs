//! Video jobs: `POST /api/v1/sessions/{id}/video` → `202 {"job_id"}`, `GET /api/v1/jobs/{job_id}`,
//! `GET /api/v1/jobs/{job_id}/file`. A job renders with `reel-render` (export redaction policy
//! applied first); one render (video or screenshot) runs at a time per process, the others wait
//! (at most `MAX_QUEUED`). Each job is a JSON record in `<data>/renders/` written at every state
//! change, so a job that was queued or running when the server stopped is reported `failed`
//! ("the server restarted") afterwards, never lost silently. The finished file sits beside it.
use crate::auth::{error, Admin};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reel_render::video::{Format, VideoOptions};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/sessions/{id}/video", post(create))
        .route("/api/v1/jobs/{job_id}", get(status))
        .route("/api/v1/jobs/{job_id}/file", get(file))
}

/// Jobs waiting or running in this process at once; more get `503`.
const MAX_QUEUED: usize = 8;

#[derive(Serialize, Deserialize, Clone)]
struct Record {
    project: String,
    session: String,
    format: String,
    state: String,
    progress: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Jobs of this process (id → progress); a record on disk that is not here and not finished is
/// from an earlier process.
fn live() -> &'static Mutex<HashMap<String, f64>> {
    static LIVE: OnceLock<Mutex<HashMap<String, f64>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

fn dir(st: &AppState) -> PathBuf {
    st.config.data_dir.join("renders")
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn save(st: &AppState, id: &str, r: &Record) -> std::io::Result<()> {
    let d = dir(st);
    std::fs::create_dir_all(&d)?;
    let tmp = d.join(format!("{id}.json.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(r).unwrap_or_default())?;
    std::fs::rename(tmp, d.join(format!("{id}.json")))
}

fn load(st: &AppState, id: &str) -> Option<Record> {
    if !valid_id(id) {
        return None;
    }
    serde_json::from_slice(&std::fs::read(dir(st).join(format!("{id}.json"))).ok()?).ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VideoBody {
    format: String,
    from: Option<f64>,
    to: Option<f64>,
    fps: Option<f64>,
    size: Option<String>,
    speed: Option<f64>,
    skip_inactivity: Option<bool>,
}

async fn create(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let b: VideoBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("body: {e} (expected {{\"format\": \"mp4|webm|gif\", \"from\", \"to\", \"fps\", \"size\", \"speed\", \"skip_inactivity\"}})"),
            )
        }
    };
    let Some(format) = Format::from_path(std::path::Path::new(&format!("x.{}", b.format))) else {
        return error(StatusCode::BAD_REQUEST, "format: mp4, webm or gif");
    };
    let (width, height) = match reel_render::parse_size(b.size.as_deref().unwrap_or("1280x720")) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let v = VideoOptions {
        format,
        from: b.from.unwrap_or(0.0),
        to: b.to,
        fps: b.fps.unwrap_or(format.default_fps()),
        speed: b.speed.unwrap_or(1.0),
        skip_inactivity: b.skip_inactivity.unwrap_or(false),
        threads: 1,
    };
    if !(v.from.is_finite() && v.from >= 0.0) || v.to.is_some_and(|t| t <= v.from) {
        return error(StatusCode::BAD_REQUEST, "from: 0 or more, and before to");
    }
    if !(v.fps > 0.0 && v.fps <= 120.0 && v.speed > 0.0 && v.speed <= 1000.0) {
        return error(
            StatusCode::BAD_REQUEST,
            "fps: 1 to 120; speed: above 0 to 1000",
        );
    }
    // The session must exist now (and is loaded again, with the current policy, when the job runs).
    match st.store.index.session(&p.id, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("reading the index failed: {e}"),
            )
        }
    }
    let job = {
        let mut live = live().lock().unwrap_or_else(|e| e.into_inner());
        if live.len() >= MAX_QUEUED {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many video jobs waiting; retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
            return r;
        }
        let job = hex::encode(rand::random::<[u8; 16]>());
        live.insert(job.clone(), 0.0);
        job
    };
    let mut rec = Record {
        project: p.id.clone(),
        session: id.clone(),
        format: b.format.to_ascii_lowercase(),
        state: "queued".into(),
        progress: 0.0,
        error: None,
    };
    if let Err(e) = save(&st, &job, &rec) {
        live()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot record the job: {e}"),
        );
    }
    let (st2, job2) = (st.clone(), job.clone());
    tokio::spawn(async move {
        let outcome = run(&st2, &job2, &mut rec, width, height, v).await;
        match outcome {
            Ok(()) => {
                rec.state = "done".into();
                rec.progress = 1.0;
            }
            Err(e) => {
                tracing::warn!(job = %job2, error = %e, "video job failed");
                rec.state = "failed".into();
                rec.error = Some(e);
            }
        }
        let _ = save(&st2, &job2, &rec);
        live()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job2);
    });
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "job_id": job })),
    )
        .into_response()
}

async fn run(
    st: &Arc<AppState>,
    job: &str,
    rec: &mut Record,
    width: u32,
    height: u32,
    v: VideoOptions,
) -> Result<(), String> {
    // One browser at a time: wait for the renderer shared with screenshots.
    let permit = crate::screenshot::slot()
        .acquire()
        .await
        .map_err(|e| e.to_string())?;
    rec.state = "running".into();
    save(st, job, rec).map_err(|e| e.to_string())?;
    let pkg = crate::api::export_package(st, &rec.project, &rec.session)
        .await
        .map_err(|_| "the session is gone".to_string())?;
    let out = dir(st).join(format!("{job}.{}", rec.format));
    let part = dir(st).join(format!("{job}.part"));
    let job = job.to_string();
    let res = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let html = crate::assets::offline_html(Some(&pkg))?;
        let opts = reel_render::Options {
            width,
            height,
            session: None,
            panels: Vec::new(),
        };
        reel_render::video::video(&html, &opts, &v, &part, |done, total| {
            if let Some(p) = live()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&job)
            {
                *p = done as f64 / total.max(1) as f64;
            }
        })
        .map_err(|e| e.to_string())?;
        std::fs::rename(&part, &out).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?;
    res
}

async fn status(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(job): Path<String>,
) -> Response {
    let Some(mut rec) = load(&st, &job).filter(|r| r.project == p.id) else {
        return error(StatusCode::NOT_FOUND, "no such job");
    };
    let live_progress = live()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&job)
        .copied();
    match live_progress {
        Some(p) if rec.state == "running" => rec.progress = p,
        Some(_) => {}
        None if rec.state == "queued" || rec.state == "running" => {
            // Recorded by a server process that is gone.
            rec.state = "failed".into();
            rec.error = Some("the server restarted before the job finished; start it again".into());
            let _ = save(&st, &job, &rec);
        }
        None => {}
    }
    let mut v = serde_json::json!({
        "job_id": job, "session": rec.session, "format": rec.format,
        "state": rec.state, "progress": rec.progress,
    });
    if let Some(e) = &rec.error {
        v["error"] = serde_json::json!(e);
    }
    if rec.state == "done" {
        v["url"] = serde_json::json!(format!("/api/v1/jobs/{job}/file"));
    }
    Json(v).into_response()
}

async fn file(
    State(st): State<Arc<AppState>>,
    Admin(p): Admin,
    Path(job): Path<String>,
) -> Response {
    let Some(rec) = load(&st, &job).filter(|r| r.project == p.id && r.state == "done") else {
        return error(StatusCode::NOT_FOUND, "no finished job with this id");
    };
    let ct = match rec.format.as_str() {
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "image/gif",
    };
    match tokio::fs::read(dir(&st).join(format!("{job}.{}", rec.format))).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, ct.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}.{}\"",
                        rec.session.replace('"', ""),
                        rec.format
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, "the file of this job is gone"),
    }
}
