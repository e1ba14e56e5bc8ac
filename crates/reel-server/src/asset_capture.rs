//! `--capture-assets ORIGIN,…`: the images, fonts and stylesheets that recordings of those
//! origins load, fetched shortly after they are ingested, so that exports and shares carry them.
//!
//! * **Finding URLs** happens at ingest, on the batch's events after the ingest policy: one
//!   `reel-insight` [`AssetScan`] per window, kept between batches (so mutations see the page's
//!   URL and the tags of earlier snapshots) in a bounded table ([`MAX_WINDOWS`] windows,
//!   [`MAX_SCAN_BYTES`] estimated, least recently used dropped; a dropped window starts again at
//!   its next Meta event). Nothing is read back
//!   from storage: every event is scanned once. Only windows whose page (Meta `href`) is of a
//!   listed origin count, and only URLs of listed origins are kept (a CDN is listed beside the
//!   site): recordings come from browsers, so they must not choose what the server fetches.
//! * **Linking** (`reel_store::assets`): the URLs become the session's links; a URL fetched and
//!   still fresh is linked to that version at once, others become due.
//! * **Fetching**: one task claims due URLs (a lease in the index, so servers share the work)
//!   and fetches [`CONCURRENCY`] at a time through `reel-move`'s asset fetcher (private addresses
//!   refused unless `--capture-assets-allow-private`, redirects re-checked, per-asset cap,
//!   timeout). Stylesheets are followed to their own `url()`/`@import`. Caching headers decide
//!   how long a fetch stays fresh (default one day, at least a minute); `no-store` is not kept.
//!   Failures back off and are given up after a few attempts.
use crate::state::AppState;
use reel_insight::assets::AssetScan;
use reel_store::IngestUnit;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Windows whose scan state is kept between batches …
pub const MAX_WINDOWS: usize = 1024;
/// … in at most this much memory (estimated), least recently used dropped first …
pub const MAX_SCAN_BYTES: usize = 64 << 20;
/// … and a window holding more than this is not kept at all.
const MAX_WINDOW_BYTES: usize = 4 << 20;
/// URLs remembered per window as already linked (later ones are linked again: harmless).
const MAX_SENT: usize = 500;
/// Fetches at once.
pub const CONCURRENCY: usize = 4;
/// A fetch stays fresh at least this long, whatever the headers say (no refetch storms).
const MIN_FRESH_MS: i64 = 60_000;

struct WindowScan {
    scan: AssetScan,
    sent: HashSet<String>,
    used: u64,
    bytes: usize,
}

/// Scan state per (session, window); see the module docs.
#[derive(Default)]
pub struct Scans {
    windows: HashMap<(String, String), WindowScan>,
    tick: u64,
    /// Sum of the windows' `bytes`.
    bytes: usize,
}

impl Scans {
    fn take(&mut self, key: &(String, String)) -> Option<WindowScan> {
        let w = self.windows.remove(key)?;
        self.bytes -= w.bytes;
        Some(w)
    }

    /// Keep `w` (unless it is too big), dropping the least recently used past the bounds.
    fn put(&mut self, key: (String, String), mut w: WindowScan) {
        w.bytes = w.scan.memory() + w.sent.iter().map(|u| u.len() + 48).sum::<usize>();
        if w.bytes > MAX_WINDOW_BYTES {
            return;
        }
        while !self.windows.is_empty()
            && (self.windows.len() >= MAX_WINDOWS || self.bytes + w.bytes > MAX_SCAN_BYTES)
        {
            let Some(old) = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.take(&old);
        }
        self.tick += 1;
        w.used = self.tick;
        self.bytes += w.bytes;
        self.windows.insert(key, w);
    }
}

/// Whether `url`'s origin is one of `origins` (`https://shop.example`, `http://127.0.0.1:8000`).
pub fn listed(origins: &[String], url: &url::Url) -> bool {
    let o = url.origin().ascii_serialization();
    origins
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&o))
}

fn listed_str(origins: &[String], url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| listed(origins, &u))
}

/// The asset URLs new in these units (after the ingest policy), per session. Empty when
/// `--capture-assets` is off.
pub fn scan(st: &AppState, units: &[IngestUnit]) -> Vec<(String, Vec<String>)> {
    let origins = &st.config.capture_assets;
    if origins.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for u in units {
        let key = (u.session_id.clone(), u.window_id.clone());
        // Out of the table while scanning, so that other requests are not held up.
        let taken = st
            .asset_scans
            .lock()
            .map(|mut t| t.take(&key))
            .unwrap_or_default();
        let mut w = taken.unwrap_or_else(|| WindowScan {
            scan: AssetScan::new(),
            sent: HashSet::new(),
            used: 0,
            bytes: 0,
        });
        for e in &u.events {
            // A window whose page is not listed (or not known yet) costs a look at its Meta events
            // only: the next page it shows starts with one.
            if e.kind == reel_format::event::EventType::Meta
                || w.scan.page().is_some_and(|p| listed(origins, p))
            {
                w.scan.observe(e);
            }
        }
        {
            let fresh: Vec<String> = take_listed(origins, &mut w.scan)
                .into_iter()
                .filter(|x| !w.sent.contains(x))
                .collect();
            for x in &fresh {
                if w.sent.len() < MAX_SENT {
                    w.sent.insert(x.clone());
                }
            }
            if !fresh.is_empty() {
                match out.iter_mut().find(|(s, _)| *s == u.session_id) {
                    Some((_, v)) => v.extend(fresh),
                    None => out.push((u.session_id.clone(), fresh)),
                }
            }
        }
        if let Ok(mut t) = st.asset_scans.lock() {
            t.put(key, w);
        }
    }
    out
}

/// The URLs `scan` found so far (and forgets), those of listed origins, when its page is of one.
fn take_listed(origins: &[String], scan: &mut AssetScan) -> Vec<String> {
    let urls = std::mem::take(&mut scan.urls);
    if !scan.page().is_some_and(|p| listed(origins, p)) {
        return Vec::new();
    }
    urls.into_iter()
        .filter(|x| listed_str(origins, x))
        .collect()
}

/// The asset URLs of an imported recording (`POST /api/v1/import`), per session; each window is
/// whole here, so it is scanned on its own. Empty when `--capture-assets` is off. Blocking.
pub fn scan_recording(
    origins: &[String],
    rec: &reel_format::Recording,
) -> Vec<(String, Vec<String>)> {
    if origins.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in &rec.sessions {
        let mut urls = Vec::new();
        for w in &s.windows {
            let mut scan = AssetScan::new();
            for e in &w.events {
                scan.observe(e);
            }
            urls.extend(take_listed(origins, &mut scan));
        }
        if !urls.is_empty() {
            out.push((s.id.clone(), urls));
        }
    }
    out
}

/// Link what [`scan`] found once the batch is stored (in the background: the batch is
/// acknowledged without waiting), and wake the fetcher.
pub fn after_ingest(st: &Arc<AppState>, project: &str, found: Vec<(String, Vec<String>)>) {
    if found.is_empty() {
        return;
    }
    let st = st.clone();
    let project = project.to_string();
    tokio::spawn(async move {
        for (session, urls) in found {
            match st
                .store
                .link_assets(
                    &project,
                    &session,
                    &urls,
                    st.config.capture_assets_session_bytes,
                )
                .await
            {
                Ok(0) => {}
                Ok(_) => st.assets_wake.notify_one(),
                Err(e) => tracing::warn!(session = %session, error = %e, "linking assets failed"),
            }
        }
    });
}

/// The fetch policy of `--capture-assets`.
pub fn policy(st: &AppState) -> reel_move::assets::Policy {
    reel_move::assets::Policy {
        allow_private: st.config.capture_assets_allow_private,
        allow_origins: st.config.capture_assets.clone(),
        // Exports and shares read an asset back under this cap.
        max_asset_bytes: st
            .config
            .capture_assets_max_bytes
            .min(crate::api::ASSET_CAP),
        max_total_bytes: u64::MAX,
        ..Default::default()
    }
}

/// The fetcher task (none when `--capture-assets` is off).
pub fn spawn(st: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    if st.config.capture_assets.is_empty() {
        return None;
    }
    let fetcher = Arc::new(reel_move::assets::Fetcher::new(policy(&st)));
    Some(tokio::spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        loop {
            let project = st.project().id;
            let claimed = match st.store.claim_due_assets(&project, 16).await {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(error = %e, "listing assets to fetch failed");
                    Vec::new()
                }
            };
            let idle = claimed.is_empty();
            for url in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (st, fetcher, project) = (st.clone(), fetcher.clone(), project.clone());
                tokio::spawn(async move {
                    fetch_one(&st, fetcher, &project, url).await;
                    drop(permit);
                });
            }
            if idle {
                tokio::select! {
                    _ = st.assets_wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }))
}

async fn fetch_one(
    st: &AppState,
    fetcher: Arc<reel_move::assets::Fetcher>,
    project: &str,
    url: String,
) {
    let u = url.clone();
    let got = tokio::task::spawn_blocking(move || fetcher.fetch(&u))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let store = &st.store;
    let r = match got {
        Ok(f) if f.caching.no_store => {
            store
                .asset_failed(
                    project,
                    &url,
                    "not kept: the response says Cache-Control: no-store (or private)",
                    true,
                )
                .await
        }
        Ok(f) => {
            let fresh = f
                .caching
                .fresh_for
                .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
                .unwrap_or(reel_store::assets::FRESH_DEFAULT_MS)
                .max(MIN_FRESH_MS);
            let refs = if f.content_type == "text/css" {
                let base = f.urls.last().cloned().unwrap_or_else(|| url.clone());
                reel_insight::assets::stylesheet_urls(&base, &f.bytes)
                    .into_iter()
                    .filter(|r| listed_str(&st.config.capture_assets, r))
                    .collect()
            } else {
                Vec::new()
            };
            let asset = reel_store::assets::FetchedAsset {
                url: url.clone(),
                content_type: f.content_type,
                fetched_ms: f.fetched_ms,
                fresh_until_ms: f.fetched_ms.saturating_add(fresh),
                bytes: f.bytes,
                refs,
            };
            let woke = !asset.refs.is_empty();
            let r = store
                .asset_fetched(project, asset, st.config.capture_assets_session_bytes)
                .await
                .map(|_| ());
            if woke {
                st.assets_wake.notify_one();
            }
            r
        }
        Err(e) => {
            tracing::info!(url = %url, error = %e, "fetching an asset failed");
            store.asset_failed(project, &url, &e, false).await
        }
    };
    if let Err(e) = r {
        tracing::warn!(url = %url, error = %e, "recording an asset fetch failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(urls: usize) -> WindowScan {
        let mut scan = AssetScan::new();
        scan.urls = (0..urls)
            .map(|i| format!("https://a.example/{i:0>200}"))
            .collect();
        WindowScan {
            scan,
            sent: HashSet::new(),
            used: 0,
            bytes: 0,
        }
    }

    #[test]
    fn scan_states_are_bounded_in_count_and_bytes() {
        let mut t = Scans::default();
        for i in 0..MAX_WINDOWS + 10 {
            t.put(("s".into(), i.to_string()), window(0));
        }
        assert_eq!(t.windows.len(), MAX_WINDOWS);
        assert!(
            t.take(&("s".into(), "0".into())).is_none(),
            "oldest dropped"
        );
        assert!(t
            .windows
            .contains_key(&("s".into(), (MAX_WINDOWS + 9).to_string())));
        // ~1 MB each: the byte budget holds fewer.
        let mut t = Scans::default();
        for i in 0..200 {
            t.put(("s".into(), i.to_string()), window(4000));
        }
        assert!(t.bytes <= MAX_SCAN_BYTES, "{}", t.bytes);
        assert!(t.windows.len() < 200 && !t.windows.is_empty());
        assert_eq!(t.bytes, t.windows.values().map(|w| w.bytes).sum::<usize>());
        // Too big to keep at all.
        t.put(("big".into(), "w".into()), window(30_000));
        assert!(!t.windows.contains_key(&("big".into(), "w".into())));
    }
}
