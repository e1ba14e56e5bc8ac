//! Video jobs: `POST /api/v1/sessions/{id}/video` → `202 {"job_id"}`, `GET /api/v1/jobs/{job_id}`,
//! `GET /api/v1/jobs/{job_id}/file`. A job renders with `reel-render` (export redaction policy
//! applied first); one render (video or screenshot) runs at a time per process, the others wait
//! (at most `MAX_QUEUED`, beyond that `503` with `Retry-After`). Job ids are 128-bit random.
//!
//! Each job is a JSON record in `<data>/renders/` written at every state change; the file being
//! encoded is `<id>.part` until it is complete, then `<id>.<format>`. At start (`recover`) a job
//! that was queued or running when the server stopped is marked `failed` ("the server restarted")
//! and `.part` files are removed: never lost silently. A finished file lives `--render-ttl-seconds`
//! (then the job says `expired` and the file answers `410`); records go a TTL later. A session
//! deleted (by id, by forgetting its person, by retention) takes its jobs and files with it
//! (`sweep`, run after each deletion and by the background loop).
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
    /// When the job was created / reached `done` or `failed` (ms since the epoch).
    #[serde(default)]
    created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_ms: Option<i64>,
}

const RESTARTED: &str = "the server restarted before the job finished; start it again";

impl Record {
    fn finish(&mut self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.state = "done".into();
                self.progress = 1.0;
            }
            Err(e) => {
                self.state = "failed".into();
                self.error = Some(e);
            }
        }
        self.finished_ms = Some(reel_store::now_ms());
    }

    /// A finished file older than the TTL: removed, the job marked `expired`. True when changed.
    fn expire(&mut self, st: &AppState, id: &str, now: i64) -> bool {
        let ttl = st.config.render_ttl.as_millis() as i64;
        if self.state != "done" || self.finished_ms.unwrap_or(self.created_ms) + ttl > now {
            return false;
        }
        let _ = std::fs::remove_file(dir(st).join(format!("{id}.{}", self.format)));
        self.state = "expired".into();
        self.error = Some(format!(
            "the file expired {} after it was made (--render-ttl-seconds); start the job again",
            human(st.config.render_ttl)
        ));
        true
    }
}

fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) && s > 0 {
        format!("{} h", s / 3600)
    } else {
        format!("{s} s")
    }
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
        created_ms: reel_store::now_ms(),
        finished_ms: None,
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
        if let Err(e) = &outcome {
            tracing::warn!(job = %job2, error = %e, "video job failed");
        }
        rec.finish(outcome);
        // The session may have been deleted while the job ran: then nothing of it stays.
        match st2.store.index.session(&rec.project, &rec.session).await {
            Ok(None) => remove(&st2, &job2, &rec),
            _ => {
                let _ = save(&st2, &job2, &rec);
            }
        }
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
            // Recorded by a server process that is gone (`recover` marks these at start).
            rec.state = "failed".into();
            rec.error = Some(RESTARTED.into());
            rec.finished_ms = Some(reel_store::now_ms());
            let _ = save(&st, &job, &rec);
        }
        None => {
            if rec.expire(&st, &job, reel_store::now_ms()) {
                let _ = save(&st, &job, &rec);
            }
        }
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
    let Some(mut rec) = load(&st, &job).filter(|r| r.project == p.id) else {
        return error(StatusCode::NOT_FOUND, "no such job");
    };
    if rec.expire(&st, &job, reel_store::now_ms()) {
        let _ = save(&st, &job, &rec);
    }
    match rec.state.as_str() {
        "done" => {}
        "expired" => return error(StatusCode::GONE, rec.error.as_deref().unwrap_or("expired")),
        "failed" => {
            return error(
                StatusCode::CONFLICT,
                &format!(
                    "the job failed ({}); nothing to download",
                    rec.error.as_deref().unwrap_or("no reason")
                ),
            )
        }
        _ => {
            return error(
                StatusCode::CONFLICT,
                "the job has not finished; poll GET /api/v1/jobs/{id}",
            )
        }
    }
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

/// Remove a job's record and files.
fn remove(st: &AppState, id: &str, r: &Record) {
    let d = dir(st);
    for f in [
        format!("{id}.{}", r.format),
        format!("{id}.part"),
        format!("{id}.json"),
    ] {
        let _ = std::fs::remove_file(d.join(f));
    }
}

/// The records in `<data>/renders/` (id → record); unreadable ones are skipped.
fn records(st: &AppState) -> Vec<(String, Record)> {
    let Ok(rd) = std::fs::read_dir(dir(st)) else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let name = e.ok()?.file_name().into_string().ok()?;
        let id = name.strip_suffix(".json")?;
        Some((id.to_string(), load(st, id)?))
    })
    .collect()
}

fn live_ids() -> Vec<String> {
    live()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect()
}

/// Remove half-written files (`.part`, `.tmp`) of jobs not running in this process.
fn remove_partial(st: &AppState, live: &[String]) {
    let Ok(rd) = std::fs::read_dir(dir(st)) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let id = name.split('.').next().unwrap_or_default();
        if (name.ends_with(".part") || name.ends_with(".tmp")) && !live.iter().any(|l| l == id) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// At start: jobs of an earlier process that were queued or running are reported failed (the
/// reason says so), and files it left half-written (`.part`, `.json.tmp`) are removed.
pub(crate) fn recover(st: &AppState) {
    let live = live_ids();
    remove_partial(st, &live);
    for (id, mut r) in records(st) {
        if (r.state == "queued" || r.state == "running") && !live.contains(&id) {
            r.state = "failed".into();
            r.error = Some(RESTARTED.into());
            r.finished_ms = Some(reel_store::now_ms());
            let _ = save(st, &id, &r);
        }
    }
}

/// Upkeep of `<data>/renders/`: the jobs of sessions that no longer exist are removed with their
/// files; finished files older than the TTL are removed (job `expired`); records of jobs finished
/// more than two TTLs ago are forgotten; half-written files of jobs not running are removed.
pub(crate) async fn sweep(st: &AppState) {
    let now = reel_store::now_ms();
    let ttl = st.config.render_ttl.as_millis() as i64;
    let live = live_ids();
    // An encoder orphaned by a killed process may still have been writing when `recover` ran.
    remove_partial(st, &live);
    for (id, mut r) in records(st) {
        if live.contains(&id) {
            continue;
        }
        match st.store.index.session(&r.project, &r.session).await {
            Ok(None) => {
                remove(st, &id, &r);
                continue;
            }
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "render upkeep: reading the index failed");
                return;
            }
        }
        if r.finished_ms.is_some_and(|f| f + 2 * ttl <= now) {
            remove(st, &id, &r);
        } else if r.expire(st, &id, now) {
            let _ = save(st, &id, &r);
        }
    }
}
