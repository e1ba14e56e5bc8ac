//! `--export-to`: every sealed session copied to a folder or bucket the user owns, as a package
//! (the export redaction policy applied, as for `GET …/export`) and as Parquet tables, and its
//! copies deleted there when the session is deleted. The bookkeeping (what is due, leases,
//! retries, keys) is `reel_store::export`; this is the worker that does the writing.
use crate::state::AppState;
use reel_store::export::{ExportFiles, ExportKeys, ExportTarget};
use std::sync::Arc;

/// Sessions (or deletions) one pass handles at most before it refreshes the gauges again.
const BATCH: i64 = 20;

/// Export forever, one pass per sweep interval (a pass continues while work is due).
pub fn spawn_exporter(state: Arc<AppState>, target: ExportTarget) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.sweep_every);
        loop {
            tick.tick().await;
            loop {
                match run_once(&state, &target).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, target = %target.url, "export pass failed; trying again later");
                        break;
                    }
                }
            }
            let project = state.project().id;
            if let Err(e) = state
                .store
                .refresh_export_gauges(&project, &target.url)
                .await
            {
                tracing::warn!(error = %e, "counting pending exports failed");
            }
        }
    })
}

/// One pass: deletions first (a deleted recording must not stay in the user's bucket), then
/// sessions whose current version is not in the target. Returns how many it handled.
pub async fn run_once(state: &AppState, target: &ExportTarget) -> reel_store::Result<usize> {
    let project = state.project().id;
    let store = &state.store;
    let mut done = 0;
    for d in store
        .export_deletions_due(&project, &target.url, BATCH)
        .await?
    {
        match target.remove(&d.keys).await {
            Ok(()) => {
                store
                    .export_deleted(&project, &d.session_id, &target.url)
                    .await?
            }
            Err(e) => {
                tracing::warn!(session = %d.session_id, error = %e, "deleting exported copies failed; will retry");
                store
                    .fail_export(&project, &d.session_id, &target.url, &e.to_string())
                    .await?;
            }
        }
        done += 1;
    }
    for due in store.exports_due(&project, &target.url, BATCH).await? {
        let Some((lease, old_keys)) = store
            .claim_export(&project, &due.session_id, &target.url, due.version)
            .await?
        else {
            continue;
        };
        done += 1;
        match export_one(state, &project, &due, target, lease, &old_keys).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(session = %due.session_id, error = %e, target = %target.url, "export failed; will retry (backing off)");
                store
                    .fail_export(&project, &due.session_id, &target.url, &e)
                    .await?;
            }
        }
    }
    Ok(done)
}

async fn export_one(
    state: &AppState,
    project: &str,
    due: &reel_store::export::DueExport,
    target: &ExportTarget,
    lease: i64,
    old_keys: &[String],
) -> Result<(), String> {
    let store = &state.store;
    let id = &due.session_id;
    let row = store
        .index
        .session(project, id)
        .await
        .map_err(|e| e.to_string())?;
    let Some(row) = row else {
        // Deleted since it was listed: whatever an earlier version left in the target goes.
        store
            .abandon_export(project, id, &target.url)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    let keys = ExportKeys::new(id, row.start_ms);
    let plan = store.plan(project, id).await.map_err(|e| e.to_string())?;
    let package = crate::api::package_file(state, project, row, plan).await?;
    let files = tokio::task::spawn_blocking(move || -> Result<ExportFiles, String> {
        let (sessions_parquet, events_parquet) = parquet_tables(&package)?;
        Ok(ExportFiles {
            package,
            sessions_parquet,
            events_parquet,
        })
    })
    .await
    .map_err(|e| e.to_string())??;
    target
        .publish(&keys, files, old_keys)
        .await
        .map_err(|e| e.to_string())?;
    let recorded = store
        .finish_export(project, id, &target.url, lease, due.version, &keys)
        .await
        .map_err(|e| e.to_string())?;
    if !recorded {
        // The session was deleted while its copies were being written: nothing else knows these
        // keys now, so they go here.
        let all: Vec<String> = keys.all().iter().map(|k| k.to_string()).collect();
        target.remove(&all).await.map_err(|e| e.to_string())?;
        store
            .abandon_export(project, id, &target.url)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(session = %id, "deleted during its export: copies removed");
    }
    Ok(())
}

/// The sessions and events tables of a package, in temporary files (blocking).
pub fn parquet_tables(package: &std::fs::File) -> Result<(std::fs::File, std::fs::File), String> {
    use std::io::Seek;
    let mut zip = package.try_clone().map_err(|e| e.to_string())?;
    zip.rewind().map_err(|e| e.to_string())?;
    let sessions = tempfile::tempfile().map_err(|e| e.to_string())?;
    let events = tempfile::tempfile().map_err(|e| e.to_string())?;
    let mut t = reel_parquet::Tables::new(
        sessions.try_clone().map_err(|e| e.to_string())?,
        events.try_clone().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    t.add_package(std::io::BufReader::new(zip))
        .map_err(|e| e.to_string())?;
    t.finish().map_err(|e| e.to_string())?;
    // Uploads rewind the files they read (`Blobs::put_file`): the shared offsets need no reset.
    Ok((sessions, events))
}
