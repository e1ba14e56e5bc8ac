//! Facts about a session, computed from its events in any order, under PostHog's names where
//! PostHog has one (`click_count`, `console_error_count`, …) so tools that speak PostHog read them.
use crate::event::{ConsoleLevel, Detail, Event, EventType, IncrementalSource, MouseInteraction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Two activity events further apart than this do not make the time between them active.
pub const ACTIVITY_GAP_MS: i64 = 5_000;

/// Accumulates statistics; feed every event of a session with [`StatsBuilder::observe`].
#[derive(Debug, Default, Clone)]
pub struct StatsBuilder {
    s: SessionStats,
    activity: Vec<i64>,
    urls: Vec<(i64, String)>,
    /// Wireframe events seen: a mobile recording, whose taps are its clicks.
    mobile: bool,
    /// Touch ends (`MouseInteraction` type 9): clicks of a mobile recording (a web page on a phone
    /// sends a click too, so they are not counted there).
    taps: u64,
}

/// Statistics of one session (or one window).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStats {
    /// First event, ms since the epoch.
    pub start_ms: Option<i64>,
    /// Last event, ms since the epoch.
    pub end_ms: Option<i64>,
    pub event_count: u64,
    /// Bytes of plain event JSON.
    pub size: u64,
    pub click_count: u64,
    pub keypress_count: u64,
    pub mouse_activity_count: u64,
    pub console_log_count: u64,
    pub console_warn_count: u64,
    pub console_error_count: u64,
    pub network_request_count: u64,
    /// Time with user activity (gaps between activity events up to 5 s count), in ms.
    pub active_ms: u64,
    /// Pages visited, in first-visit order.
    pub urls: Vec<String>,
    /// Event counts by type name (`FullSnapshot`, `Unknown(42)`, …).
    pub events_by_type: BTreeMap<String, u64>,
    /// IncrementalSnapshot counts by source name.
    pub events_by_source: BTreeMap<String, u64>,
}

impl SessionStats {
    pub fn duration_ms(&self) -> i64 {
        match (self.start_ms, self.end_ms) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }
    pub fn start_url(&self) -> Option<&str> {
        self.urls.first().map(String::as_str)
    }
}

impl StatsBuilder {
    /// A builder for events of a recorder (`Source::system`): a mobile SDK's touch ends count as
    /// clicks even in a batch without wireframes.
    pub fn for_system(system: &str) -> StatsBuilder {
        StatsBuilder {
            mobile: system.contains("mobile"),
            ..StatsBuilder::default()
        }
    }

    pub fn observe(&mut self, e: &Event) {
        let s = &mut self.s;
        s.event_count += 1;
        s.size += e.json().len() as u64;
        s.start_ms = Some(s.start_ms.map_or(e.timestamp, |v| v.min(e.timestamp)));
        s.end_ms = Some(s.end_ms.map_or(e.timestamp, |v| v.max(e.timestamp)));
        *s.events_by_type.entry(e.kind.to_string()).or_default() += 1;
        if let Some(src) = e.source {
            *s.events_by_source.entry(src.to_string()).or_default() += 1;
            match src {
                IncrementalSource::Input => s.keypress_count += 1,
                IncrementalSource::MouseMove
                | IncrementalSource::MouseInteraction
                | IncrementalSource::TouchMove
                | IncrementalSource::Drag => s.mouse_activity_count += 1,
                _ => {}
            }
        }
        if e.is_activity() {
            self.activity.push(e.timestamp);
        }
        let m = crate::mobile::facts(e);
        self.mobile |= m.mobile;
        // A mobile SDK sends an input's wireframe again when its value changed: one keypress.
        s.keypress_count += m.input_updates;
        match &e.detail {
            Detail::Interaction(MouseInteraction::TouchEnd) => self.taps += 1,
            Detail::Interaction(MouseInteraction::Click)
            | Detail::Interaction(MouseInteraction::DblClick) => s.click_count += 1,
            Detail::Console(ConsoleLevel::Log) | Detail::Console(ConsoleLevel::Other) => {
                s.console_log_count += 1
            }
            Detail::Console(ConsoleLevel::Warn) => s.console_warn_count += 1,
            Detail::Console(ConsoleLevel::Error) => s.console_error_count += 1,
            Detail::Network(n) => s.network_request_count += *n as u64,
            Detail::Href(h) if e.kind == EventType::Meta || e.kind == EventType::Custom => {
                self.urls.push((e.timestamp, h.clone()))
            }
            _ => {}
        }
    }

    /// Merge another builder (e.g. another window of the same session).
    pub fn merge(&mut self, other: StatsBuilder) {
        let (a, o) = (&mut self.s, other.s);
        a.start_ms = [a.start_ms, o.start_ms].into_iter().flatten().min();
        a.end_ms = [a.end_ms, o.end_ms].into_iter().flatten().max();
        a.event_count += o.event_count;
        a.size += o.size;
        a.click_count += o.click_count;
        a.keypress_count += o.keypress_count;
        a.mouse_activity_count += o.mouse_activity_count;
        a.console_log_count += o.console_log_count;
        a.console_warn_count += o.console_warn_count;
        a.console_error_count += o.console_error_count;
        a.network_request_count += o.network_request_count;
        for (k, v) in o.events_by_type {
            *a.events_by_type.entry(k).or_default() += v;
        }
        for (k, v) in o.events_by_source {
            *a.events_by_source.entry(k).or_default() += v;
        }
        self.activity.extend(other.activity);
        self.urls.extend(other.urls);
        self.mobile |= other.mobile;
        self.taps += other.taps;
    }

    pub fn finish(mut self) -> SessionStats {
        if self.mobile {
            self.s.click_count += self.taps;
        }
        self.activity.sort_unstable();
        let mut active = 0i64;
        for w in self.activity.windows(2) {
            let gap = w[1] - w[0];
            if gap <= ACTIVITY_GAP_MS {
                active += gap;
            }
        }
        self.s.active_ms = active.max(0) as u64;
        self.urls.sort_by_key(|(t, _)| *t);
        let mut seen = std::collections::HashSet::new();
        self.s.urls = self
            .urls
            .into_iter()
            .filter(|(_, u)| seen.insert(u.clone()))
            .map(|(_, u)| u)
            .collect();
        self.s
    }
}

/// Statistics of a list of events.
/// Longest page title kept (characters).
pub const MAX_TITLE_CHARS: usize = 300;

/// The document title of a full snapshot: the text of its first `<title>` element (the head's,
/// which comes before any SVG `<title>` in the body), whitespace collapsed, at most
/// [`MAX_TITLE_CHARS`]. `None` for other events, an empty title or none.
pub fn snapshot_title(e: &Event) -> Option<String> {
    if e.kind != EventType::FullSnapshot {
        return None;
    }
    let json = e.json();
    let i = ["\"tagName\":\"title\"", "\"tagName\": \"title\""]
        .iter()
        .filter_map(|p| json.find(p).map(|i| i + p.len()))
        .min()?;
    let rest = &json[i..];
    let j = rest.find("\"textContent\"")?;
    // Another element before any text: the title is empty.
    if rest[..j].contains("\"tagName\"") {
        return None;
    }
    let value = rest[j + "\"textContent\"".len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let mut de = serde_json::Deserializer::from_str(value);
    let text = <String as serde::Deserialize>::deserialize(&mut de).ok()?;
    let title: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    (!title.is_empty()).then_some(title)
}

pub fn of_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> SessionStats {
    of_events_from("", events)
}

/// Statistics of a list of events sent by recorder `system` (see [`StatsBuilder::for_system`]).
pub fn of_events_from<'a>(
    system: &str,
    events: impl IntoIterator<Item = &'a Event>,
) -> SessionStats {
    let mut b = StatsBuilder::for_system(system);
    for e in events {
        b.observe(e);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Event {
        Event::parse(s).unwrap()
    }

    #[test]
    fn titles_of_full_snapshots() {
        let snap = |title: &str| {
            ev(&format!(
                r#"{{"type":2,"data":{{"node":{{"type":0,"id":1,"childNodes":[{{"type":2,"id":2,"tagName":"html","attributes":{{}},"childNodes":[{{"type":2,"id":3,"tagName":"head","attributes":{{}},"childNodes":[{title}]}}]}}]}}}},"timestamp":1}}"#
            ))
        };
        let t = r#"{"type":2,"id":4,"tagName":"title","attributes":{},"childNodes":[{"type":3,"id":5,"textContent":"  Checkout \u2013\n step 2 "}]}"#;
        assert_eq!(
            snapshot_title(&snap(t)).as_deref(),
            Some("Checkout \u{2013} step 2")
        );
        let empty = r#"{"type":2,"id":4,"tagName":"title","attributes":{},"childNodes":[]},{"type":2,"id":6,"tagName":"p","attributes":{},"childNodes":[{"type":3,"id":7,"textContent":"not a title"}]}"#;
        assert_eq!(snapshot_title(&snap(empty)), None);
        assert_eq!(snapshot_title(&snap("")), None);
        let long = format!(
            r#"{{"type":2,"id":4,"tagName":"title","attributes":{{}},"childNodes":[{{"type":3,"id":5,"textContent":"{}"}}]}}"#,
            "x".repeat(1000)
        );
        assert_eq!(
            snapshot_title(&snap(&long)).map(|t| t.chars().count()),
            Some(MAX_TITLE_CHARS)
        );
        // Only full snapshots.
        let mutation = ev(
            r#"{"type":3,"data":{"source":0,"adds":[{"node":{"type":2,"tagName":"title","childNodes":[{"type":3,"textContent":"x"}]}}]},"timestamp":2}"#,
        );
        assert_eq!(snapshot_title(&mutation), None);
    }

    #[test]
    fn counts_and_urls() {
        let events = [
            ev(r#"{"type":4,"data":{"href":"https://a/2"},"timestamp":3000}"#),
            ev(r#"{"type":4,"data":{"href":"https://a/1"},"timestamp":1000}"#),
            ev(r#"{"type":3,"data":{"source":2,"type":2,"id":1},"timestamp":1500}"#),
            ev(r#"{"type":3,"data":{"source":5,"text":"x","id":1},"timestamp":1600}"#),
            ev(
                r#"{"type":6,"data":{"plugin":"rrweb/console@1","payload":{"level":"error"}},"timestamp":1700}"#,
            ),
            ev(r#"{"type":3,"data":{"source":1,"positions":[]},"timestamp":9000}"#),
        ];
        let s = of_events(&events);
        assert_eq!(s.event_count, 6);
        assert_eq!(s.click_count, 1);
        assert_eq!(s.keypress_count, 1);
        assert_eq!(s.console_error_count, 1);
        assert_eq!(s.urls, vec!["https://a/1", "https://a/2"]);
        assert_eq!(s.duration_ms(), 8000);
        // 1500 → 1600 active (100 ms); 1600 → 9000 is a gap longer than 5 s.
        assert_eq!(s.active_ms, 100);
        assert_eq!(s.mouse_activity_count, 2);
    }

    #[test]
    fn mobile_taps_are_clicks_and_input_updates_keypresses() {
        let tap = |t: i64, ty: u8| {
            ev(&format!(
                r#"{{"type":3,"data":{{"source":2,"type":{ty},"id":5,"x":1,"y":2}},"timestamp":{t}}}"#
            ))
        };
        let field = |t: i64, v: &str| {
            ev(&format!(
                r#"{{"type":3,"data":{{"source":0,"updates":[{{"parentId":1,"wireframe":{{"id":5,"type":"input","inputType":"text","value":"{v}"}}}}]}},"timestamp":{t}}}"#
            ))
        };
        let full = ev(
            r#"{"type":2,"data":{"wireframes":[{"id":5,"type":"input","inputType":"text","value":""}],"initialOffset":{"top":0,"left":0}},"timestamp":1000}"#,
        );
        let events = [
            full,
            tap(1100, 7),
            tap(1150, 9),
            field(1200, "a"),
            field(1300, "ab"),
            tap(1400, 7),
            tap(1450, 9),
        ];
        let s = of_events(&events);
        assert_eq!((s.click_count, s.keypress_count), (2, 2));
        // Order does not matter (blocks of a session arrive in any order), nor which batch held
        // the wireframes when the recorder says it is a mobile SDK.
        let rev: Vec<Event> = events.iter().rev().cloned().collect();
        assert_eq!(of_events(&rev).click_count, 2);
        assert_eq!(
            of_events_from("posthog-mobile", &events[1..3]).click_count,
            1
        );
        // A web page on a phone sends touch ends besides its clicks: not counted twice.
        let web = [
            tap(1100, 7),
            tap(1150, 9),
            ev(r#"{"type":3,"data":{"source":2,"type":2,"id":5},"timestamp":1160}"#),
        ];
        assert_eq!(of_events_from("posthog", &web).click_count, 1);
    }
}
