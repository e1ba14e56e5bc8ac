//! Sentry Session Replay as a [`Source`]: `GET /api/0/organizations/{org}/replays/` (filtered by
//! `projectSlug`, a time range, paged by the `Link` header's `cursor`), then per replay
//! `GET /api/0/projects/{org}/{project}/replays/{id}/recording-segments/` (an array of segments,
//! each an array of rrweb events; paged the same way).
//!
//! Sentry's own custom events (breadcrumbs, performance spans) are kept as they are (rrweb custom
//! events, type 5); timestamps Sentry wrote in seconds become milliseconds; console breadcrumbs
//! also become `rrweb/console@1` plugin events, so Reel's console panel lists them.
use crate::http::{enc, next_cursor, Client, Policy};
use crate::run::{Item, Source};
use anyhow::{bail, Context};
use reel_format::import::ImportOptions;
use reel_format::recording::Source as Origin;
use reel_format::{Limits, Recording, Session};
use serde_json::{json, Value};

/// Replays per listing page (Sentry's maximum is 100).
const PAGE: usize = 100;
/// Segments per page: a segment may hold a full snapshot of several MB.
const SEGMENTS_PER_PAGE: usize = 20;
/// How far back Sentry keeps replays (90 days): the default range.
const DEFAULT_PERIOD: &str = "90d";

pub struct Sentry {
    host: String,
    org: String,
    project: String,
    since: Option<String>,
    until: Option<String>,
    replays: Vec<String>,
    client: Client,
    limits: Limits,
}

pub struct Config {
    /// `https://sentry.io` or a self-hosted address.
    pub host: String,
    pub org: String,
    pub project: String,
    pub token: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub replays: Vec<String>,
    /// Requests per minute (0: only `429` answers slow it down).
    pub rate: u32,
    pub limits: Limits,
}

/// Most recording segments one replay may have (Sentry cuts one every ~5 s of a replay of at most
/// an hour: about 720).
const MAX_SEGMENTS: usize = 100_000;

fn slug(what: &str, s: &str) -> anyhow::Result<String> {
    if s.is_empty()
        || s.len() > 100
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("{what} {s:?}: a Sentry slug (letters, digits, - and _)");
    }
    Ok(s.to_string())
}

impl Sentry {
    pub fn new(c: Config) -> anyhow::Result<Sentry> {
        let host = crate::host(&c.host, "https://sentry.io")?;
        let host = host.strip_suffix("/api/0").unwrap_or(&host).to_string();
        let date = |d: &Option<String>, flag: &str| -> anyhow::Result<Option<String>> {
            d.as_deref()
                .map(|s| crate::parse_date(s).map(crate::iso))
                .transpose()
                .context(flag.to_string())
        };
        for r in &c.replays {
            reel_format::package::check_id("--replay", r)?;
        }
        Ok(Sentry {
            org: slug("--org", &c.org)?,
            project: slug("--project", &c.project)?,
            since: date(&c.since, "--since")?,
            until: date(&c.until, "--until")?,
            replays: c.replays,
            client: Client::new(
                Some(c.token),
                Policy {
                    per_minute: (c.rate > 0).then_some(c.rate),
                    ..Policy::default()
                },
            ),
            limits: c.limits,
            host,
        })
    }

    fn range(&self) -> String {
        match (&self.since, &self.until) {
            (None, None) => format!("statsPeriod={DEFAULT_PERIOD}"),
            (s, u) => format!(
                "start={}&end={}",
                enc(s.as_deref().unwrap_or("2000-01-01T00:00:00Z")),
                enc(&u
                    .clone()
                    .unwrap_or_else(|| crate::iso(time::OffsetDateTime::now_utc())))
            ),
        }
    }

    fn segments_url(&self, id: &str) -> String {
        format!(
            "{}/api/0/projects/{}/{}/replays/{id}/recording-segments/",
            self.host, self.org, self.project
        )
    }
}

fn data(body: &[u8], what: &str) -> anyhow::Result<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("{what}: not JSON ({e}); is --host a Sentry address?"))?;
    Ok(match v {
        Value::Object(mut o) if o.contains_key("data") => o.remove("data").unwrap_or_default(),
        v => v,
    })
}

impl Source for Sentry {
    fn describe(&self) -> String {
        format!(
            "sentry {}/api/0/projects/{}/{}",
            self.host, self.org, self.project
        )
    }

    fn list(&self, page: &mut dyn FnMut(usize)) -> anyhow::Result<Vec<Item>> {
        let mut items = Vec::new();
        if !self.replays.is_empty() {
            for id in &self.replays {
                // "Retrieve a Replay Instance": {"data": {…}} (a time range is required).
                let url = format!(
                    "{}/api/0/organizations/{}/replays/{}/?{}",
                    self.host,
                    self.org,
                    enc(id),
                    self.range()
                );
                let listing = data(&self.client.get(&url)?.body, &url)?;
                items.push(Item {
                    id: id.clone(),
                    listing,
                });
                page(items.len());
            }
            return Ok(items);
        }
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut url = format!(
                "{}/api/0/organizations/{}/replays/?projectSlug={}&per_page={PAGE}&{}",
                self.host,
                self.org,
                enc(&self.project),
                self.range()
            );
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={}", enc(c)));
            }
            let reply = self.client.get(&url)?;
            let Value::Array(list) = data(&reply.body, &url)? else {
                bail!("{url}: expected a list of replays");
            };
            let n = list.len();
            let before = items.len();
            for r in list {
                let Some(id) = r.get("id").and_then(Value::as_str).map(str::to_string) else {
                    bail!("{url}: a replay without an id");
                };
                if seen.insert(id.clone()) {
                    items.push(Item { id, listing: r });
                }
            }
            page(items.len());
            match reply.link.as_deref().and_then(next_cursor) {
                // A page of replays already listed: a broken or hostile server paging forever.
                Some(_) if n > 0 && items.len() == before => {
                    bail!("{url}: the listing repeats itself (a further page holds only replays already listed)")
                }
                Some(_) if items.len() > crate::run::MAX_LISTED => {
                    bail!("{url}: more than {} replays in one listing; import in date ranges with --since/--until", crate::run::MAX_LISTED)
                }
                Some(c) if n > 0 => cursor = Some(c),
                _ => return Ok(items),
            }
        }
    }

    fn session(&self, item: &Item) -> Session {
        let l = &item.listing;
        let mut s = Session::new(item.id.clone());
        let user = l.get("user").filter(|u| u.is_object());
        s.distinct_id = user.and_then(|u| {
            ["id", "email", "username", "ip"]
                .iter()
                .find_map(|k| match u.get(*k) {
                    Some(Value::String(v)) if !v.is_empty() => Some(v.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                })
        });
        s.person = user.cloned();
        let sdk = l.get("sdk");
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        s.source = Origin {
            system: "sentry".into(),
            lib: text(sdk.and_then(|x| x.get("name"))),
            lib_version: text(sdk.and_then(|x| x.get("version"))),
        };
        s.extra.insert("sentry".into(), l.clone());
        s
    }

    fn fetch(
        &self,
        item: &Item,
        add: &mut dyn FnMut(Recording) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let base = self.segments_url(&item.id);
        let opts = ImportOptions {
            limits: self.limits,
            lenient: false,
        };
        let mut cursor: Option<String> = None;
        let mut cursors = std::collections::HashSet::new();
        let mut segment = 0usize;
        loop {
            let mut url = format!("{base}?per_page={SEGMENTS_PER_PAGE}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={}", enc(c)));
            }
            let reply = self.client.get(&url)?;
            let Value::Array(segments) = data(&reply.body, &base)? else {
                bail!("{base}: expected a list of recording segments");
            };
            let n = segments.len();
            for seg in segments {
                let Value::Array(events) = seg else {
                    bail!("{base}: segment {segment} is not a list of events");
                };
                let mut rec = Recording::default();
                let texts = rrweb_events(events, &format!("{base}: segment {segment}"))?;
                let evs = reel_format::import::parse_events(
                    texts,
                    &format!("segment {segment}"),
                    &opts,
                    &mut rec.warnings,
                )?;
                let mut s = Session::new(item.id.clone());
                s.window_mut(&item.id).events = evs;
                rec.sessions.push(s);
                rec.sort();
                add(rec)?;
                segment += 1;
            }
            match reply.link.as_deref().and_then(next_cursor) {
                Some(_) if segment > MAX_SEGMENTS => {
                    bail!("{base}: more than {MAX_SEGMENTS} recording segments; refused")
                }
                Some(c) if n > 0 && !cursors.insert(c.clone()) => {
                    bail!("{base}: the segments' paging repeats cursor {c:?}")
                }
                Some(c) if n > 0 => cursor = Some(c),
                _ => return Ok(()),
            }
        }
    }

    fn client(&self) -> &Client {
        &self.client
    }
}

/// A segment's events as rrweb event JSON: timestamps in milliseconds, and a console plugin event
/// after each console breadcrumb.
fn rrweb_events(events: Vec<Value>, what: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(events.len());
    for (i, mut e) in events.into_iter().enumerate() {
        let Some(ts) = e.get("timestamp").and_then(Value::as_f64) else {
            bail!("{what}: event {i} has no numeric timestamp");
        };
        let ms = millis(ts);
        if e.get("timestamp").and_then(Value::as_i64) != Some(ms) {
            e["timestamp"] = json!(ms);
        }
        let console = console_event(&e, ms);
        out.push(serde_json::to_string(&e)?);
        if let Some(c) = console {
            out.push(c.to_string());
        }
    }
    Ok(out)
}

/// Sentry writes some timestamps in seconds (breadcrumbs, spans): anything below 10^11 is seconds
/// (10^11 ms is 1973; 10^11 s is far in the future).
fn millis(ts: f64) -> i64 {
    if ts.abs() < 1e11 {
        (ts * 1000.0).round() as i64
    } else {
        ts.round() as i64
    }
}

/// The console plugin event for a console breadcrumb (`type: 5`, `tag: "breadcrumb"`,
/// `category: "console"`), as rrweb's console plugin records it.
fn console_event(e: &Value, ms: i64) -> Option<Value> {
    if e.get("type").and_then(Value::as_i64) != Some(5) {
        return None;
    }
    let d = e.get("data")?;
    if d.get("tag").and_then(Value::as_str) != Some("breadcrumb") {
        return None;
    }
    let p = d.get("payload")?;
    if p.get("category").and_then(Value::as_str) != Some("console") {
        return None;
    }
    let level = match p.get("level").and_then(Value::as_str).unwrap_or("log") {
        "warning" | "warn" => "warn",
        l @ ("error" | "info" | "debug" | "assert" | "trace" | "log") => l,
        "fatal" => "error",
        _ => "log",
    };
    // rrweb's console plugin stores each argument as JSON text.
    let args: Vec<String> = match p.get("data").and_then(|x| x.get("arguments")) {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().map(Value::to_string).collect(),
        _ => vec![Value::String(
            p.get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
        .to_string()],
    };
    Some(json!({
        "type": 6,
        "timestamp": ms,
        "data": {"plugin": "rrweb/console@1", "payload": {"level": level, "payload": args, "trace": []}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_milliseconds_and_console_breadcrumbs_become_console_events() {
        let events = vec![
            json!({"type": 4, "timestamp": 1700000000123i64, "data": {"href": "https://x", "width": 1, "height": 1}}),
            json!({"type": 5, "timestamp": 1700000000.5, "data": {"tag": "breadcrumb", "payload": {
                "timestamp": 1700000000.5, "type": "default", "category": "console", "level": "warning",
                "message": "careful 1", "data": {"arguments": ["careful", 1], "logger": "console"}}}}),
            json!({"type": 5, "timestamp": 1700000001000i64, "data": {"tag": "breadcrumb", "payload": {"category": "ui.click", "message": "body > button"}}}),
        ];
        let out = rrweb_events(events, "t").unwrap();
        assert_eq!(out.len(), 4);
        let v: Vec<Value> = out
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect();
        assert_eq!(v[0]["timestamp"], 1700000000123i64);
        assert_eq!(v[1]["timestamp"], 1700000000500i64);
        assert_eq!(v[2]["type"], 6);
        assert_eq!(v[2]["data"]["payload"]["level"], "warn");
        assert_eq!(
            v[2]["data"]["payload"]["payload"],
            json!(["\"careful\"", "1"])
        );
        assert_eq!(v[3]["data"]["payload"]["category"], "ui.click");
    }
}
