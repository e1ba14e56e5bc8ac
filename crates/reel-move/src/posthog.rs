//! PostHog's recording API as a [`Source`]: `GET /api/projects/{id}/session_recordings` (paging by
//! `has_next` with `offset`/`limit`, or `after` = `next_cursor` when the answer has one), then per
//! recording `…/session_recordings/{sid}/snapshots` for its `sources`, and the sources' JSONL:
//! `blob_v2` in ranges of at most 20 keys (`start_blob_key`/`end_blob_key`, inclusive; PostHog's
//! limit for personal API keys), `blob_v2_lts` (and the older `blob`) one `blob_key` at a time.
//! The listing's fields are kept in the session's `meta.json` under `posthog`.
use crate::http::{enc, Client, Policy};
use crate::run::{Item, Source};
use anyhow::{bail, Context};
use reel_format::import::ImportOptions;
use reel_format::recording::Source as Origin;
use reel_format::{Limits, Recording, Session};
use serde::Deserialize;
use serde_json::Value;

/// Keys per `blob_v2` range request (PostHog refuses more for personal API keys).
pub const MAX_BLOB_KEYS: u64 = 20;
/// Recordings per listing page.
const PAGE: usize = 100;
/// Ids per listing request when `--session` names recordings (the URL stays short).
const IDS_PER_LIST: usize = 50;
/// PostHog's documented free-tier limit for the recordings API (per minute; 60 per hour). Paid
/// plans allow 60/min and 300/h.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 12;

pub struct PostHog {
    /// `https://eu.posthog.com/api/projects/42` (or `…/api/environments/42`).
    api: String,
    since: Option<String>,
    until: String,
    sessions: Vec<String>,
    client: Client,
    limits: Limits,
}

/// What [`PostHog::new`] needs.
pub struct Config {
    /// As given: `https://eu.posthog.com`, or a URL pasted from the API docs
    /// (`https://eu.posthog.com/api/environments/42/session_recordings`).
    pub host: String,
    pub project: String,
    pub key: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub sessions: Vec<String>,
    /// Requests per minute; 0: no limit. PostHog also counts per hour: at most 5× this per hour.
    pub rate: u32,
    pub limits: Limits,
}

impl PostHog {
    pub fn new(c: Config) -> anyhow::Result<PostHog> {
        let api = api_base(&c.host, &c.project)?;
        let since = c
            .since
            .as_deref()
            .map(crate::parse_date)
            .transpose()
            .context("--since")?
            .map(crate::iso);
        // A fixed end: recordings that arrive while listing do not shift the offset pages.
        let until = match c.until.as_deref() {
            Some(u) => crate::iso(crate::parse_date(u).context("--until")?),
            None => crate::iso(time::OffsetDateTime::now_utc()),
        };
        for s in &c.sessions {
            reel_format::package::check_id("--session", s)?;
        }
        let policy = Policy {
            per_minute: (c.rate > 0).then_some(c.rate),
            per_hour: (c.rate > 0).then_some(c.rate.saturating_mul(5)),
            ..Policy::default()
        };
        Ok(PostHog {
            api,
            since,
            until,
            sessions: c.sessions,
            client: Client::new(Some(c.key), policy),
            limits: c.limits,
        })
    }

    fn list_query(&self, ids: Option<&[String]>) -> anyhow::Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0usize;
        let mut after: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/session_recordings?limit={PAGE}&date_from={}&date_to={}",
                self.api,
                // PostHog's default is the last 3 days: ask for everything unless told.
                enc(self.since.as_deref().unwrap_or("2000-01-01T00:00:00Z")),
                enc(&self.until)
            );
            match &after {
                Some(a) => url.push_str(&format!("&after={}", enc(a))),
                None => url.push_str(&format!("&offset={offset}")),
            }
            if let Some(ids) = ids {
                url.push_str(&format!(
                    "&session_ids={}",
                    enc(&serde_json::to_string(ids)?)
                ));
            }
            let reply = self.client.get(&url)?;
            let page: Page = serde_json::from_slice(&reply.body).map_err(|e| {
                anyhow::anyhow!(
                    "{}/session_recordings: not a recordings listing ({e}); is --host a PostHog address?",
                    self.api
                )
            })?;
            let n = page.results.len();
            let before = items.len();
            for r in page.results {
                let Some(id) = r.get("id").and_then(Value::as_str).map(str::to_string) else {
                    bail!("{}/session_recordings: a result without an id", self.api);
                };
                if seen.insert(id.clone()) {
                    items.push(Item { id, listing: r });
                }
            }
            if !page.has_next || n == 0 {
                return Ok(items);
            }
            if items.len() > crate::run::MAX_LISTED {
                bail!("{}/session_recordings: more than {} recordings in one listing; import in date ranges with --since/--until", self.api, crate::run::MAX_LISTED);
            }
            if items.len() == before {
                // A broken or hostile server could page forever: stop when a page brings nothing new.
                bail!(
                    "{}/session_recordings: the listing repeats itself (a further page holds only recordings already listed); run again later or narrow it with --since/--until",
                    self.api
                );
            }
            match page.next_cursor.filter(|c| !c.is_empty()) {
                Some(c) => after = Some(c),
                None => offset += n,
            }
        }
    }

    fn lines(&self, sid: &str, body: &[u8]) -> anyhow::Result<Recording> {
        let opts = ImportOptions {
            limits: self.limits,
            lenient: false,
        };
        let (plain, _) = reel_format::import::decode_body(body, &self.limits)?;
        Ok(reel_format::import::snapshot_lines(sid, &plain, &opts)?)
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    results: Vec<Value>,
    #[serde(default)]
    has_next: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Sources {
    sources: Vec<SourceRef>,
}

#[derive(Deserialize)]
struct SourceRef {
    source: String,
    #[serde(default)]
    blob_key: Option<Value>,
}

impl Source for PostHog {
    fn describe(&self) -> String {
        format!("posthog {}", self.api)
    }

    fn list(&self, page: &mut dyn FnMut(usize)) -> anyhow::Result<Vec<Item>> {
        let mut seen = std::collections::HashSet::new();
        let mut all = Vec::new();
        let mut add = |items: Vec<Item>, all: &mut Vec<Item>| {
            for it in items {
                if seen.insert(it.id.clone()) {
                    all.push(it);
                }
            }
        };
        if self.sessions.is_empty() {
            let items = self.list_query(None)?;
            add(items, &mut all);
            page(all.len());
        } else {
            for ids in self.sessions.chunks(IDS_PER_LIST) {
                let items = self.list_query(Some(ids))?;
                add(items, &mut all);
                page(all.len());
            }
        }
        Ok(all)
    }

    fn session(&self, item: &Item) -> Session {
        let l = &item.listing;
        let mut s = Session::new(item.id.clone());
        s.distinct_id = l
            .get("distinct_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        s.person = l.get("person").filter(|p| !p.is_null()).cloned();
        s.source = Origin {
            system: "posthog-api".into(),
            lib: l
                .get("snapshot_library")
                .and_then(Value::as_str)
                .map(str::to_string),
            lib_version: None,
        };
        s.extra.insert("posthog".into(), l.clone());
        s
    }

    fn fetch(
        &self,
        item: &Item,
        add: &mut dyn FnMut(Recording) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let base = format!("{}/session_recordings/{}/snapshots", self.api, item.id);
        let reply = self.client.get(&base)?;
        let sources: Sources = serde_json::from_slice(&reply.body)
            .map_err(|e| anyhow::anyhow!("{base}: not a list of snapshot sources ({e})"))?;
        let mut v2 = Vec::new();
        let mut single = Vec::new();
        for s in sources.sources {
            let key = match &s.blob_key {
                Some(Value::String(k)) => Some(k.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            match (s.source.as_str(), key) {
                ("blob_v2", Some(k)) => {
                    v2.push(k.parse::<u64>().map_err(|_| {
                        anyhow::anyhow!("{base}: blob_v2 key {k:?} is not a number")
                    })?)
                }
                (_, Some(k)) => single.push((s.source, k)),
                // `realtime`: a recording still in progress has no stored blocks yet.
                _ => {}
            }
        }
        v2.sort_unstable();
        v2.dedup();
        for (a, b) in blob_ranges(&v2) {
            let reply = self.client.get(&format!(
                "{base}?source=blob_v2&start_blob_key={a}&end_blob_key={b}"
            ))?;
            add(self
                .lines(&item.id, &reply.body)
                .with_context(|| format!("{base}: blob_v2 keys {a}-{b}"))?)?;
        }
        for (source, k) in single {
            let reply = self.client.get(&format!(
                "{base}?source={}&blob_key={}",
                enc(&source),
                enc(&k)
            ))?;
            add(self
                .lines(&item.id, &reply.body)
                .with_context(|| format!("{base}: {source} {k}"))?)?;
        }
        Ok(())
    }

    fn client(&self) -> &Client {
        &self.client
    }
}

/// Consecutive keys in runs of at most [`MAX_BLOB_KEYS`] (sorted input), as inclusive ranges.
pub fn blob_ranges(keys: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &k in keys {
        match out.last_mut() {
            Some((a, b)) if *b + 1 == k && k - *a < MAX_BLOB_KEYS => *b = k,
            _ => out.push((k, k)),
        }
    }
    out
}

/// `{host}/api/{projects|environments}/{id}` from `--host` (an address, or a URL pasted from
/// PostHog's API docs) and `--project`.
pub fn api_base(host: &str, project: &str) -> anyhow::Result<String> {
    let host = crate::host(host, "https://eu.posthog.com")?;
    let host = host.as_str();
    if project.is_empty()
        || project.len() > 64
        || !project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!(
            "--project {project:?}: the project (environment) id from PostHog's settings, e.g. 42"
        );
    }
    let (base, kind) = match host.find("/api/") {
        None => (host, "projects"),
        Some(i) => {
            let rest: Vec<&str> = host[i + 5..].split('/').collect();
            let kind = match rest.first() {
                Some(&"projects") => "projects",
                Some(&"environments") => "environments",
                _ => bail!("--host {host:?}: expected …/api/projects/ID or …/api/environments/ID, or just the address"),
            };
            if let Some(id) = rest.get(1).filter(|x| !x.is_empty()) {
                if *id != project {
                    bail!("--host names project {id} but --project is {project}");
                }
            }
            (&host[..i], kind)
        }
    };
    Ok(format!("{base}/api/{kind}/{project}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_at_most_20_consecutive_keys() {
        let keys: Vec<u64> = (0..45).chain([50, 51, 60]).collect();
        assert_eq!(
            blob_ranges(&keys),
            vec![(0, 19), (20, 39), (40, 44), (50, 51), (60, 60)]
        );
        assert!(blob_ranges(&[]).is_empty());
    }

    #[test]
    fn host_forms() {
        assert_eq!(
            api_base("https://eu.posthog.com/", "42").unwrap(),
            "https://eu.posthog.com/api/projects/42"
        );
        assert_eq!(
            api_base(
                "https://us.posthog.com/api/environments/42/session_recordings",
                "42"
            )
            .unwrap(),
            "https://us.posthog.com/api/environments/42"
        );
        assert!(api_base("https://us.posthog.com/api/environments/7/", "42").is_err());
        assert!(api_base("us.posthog.com", "42").is_err());
        assert!(api_base("https://x", "4 2").is_err());
    }
}
