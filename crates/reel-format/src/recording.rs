//! Recordings in memory: sessions made of windows (browser tabs) of time-ordered events.
use crate::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a recording came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// The system or file kind: `rrweb`, `posthog-export-v1`, `posthog-export-v2`, `posthog-wire`,
    /// `posthog-snapshot-api`, `reel`, …
    pub system: String,
    /// Recording library and version when known (`web` 1.449.2, `reel-js` 0.1.0, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lib: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lib_version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub id: String,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    pub id: String,
    /// The person's id in the recording system (PostHog's `distinct_id`).
    pub distinct_id: Option<String>,
    /// Person properties as the source system gave them.
    pub person: Option<Value>,
    pub source: Source,
    pub user_agent: Option<String>,
    pub windows: Vec<Window>,
    /// Fields of a package's `meta.json` this version does not know (written by a newer minor
    /// version): carried into any package written from this session.
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    pub sessions: Vec<Session>,
    /// Things a person should know (events re-ordered, malformed events skipped, …).
    pub warnings: Vec<String>,
}

impl Session {
    pub fn new(id: impl Into<String>) -> Self {
        Session {
            id: id.into(),
            ..Default::default()
        }
    }

    /// The window with this id, created if missing.
    pub fn window_mut(&mut self, id: &str) -> &mut Window {
        if let Some(i) = self.windows.iter().position(|w| w.id == id) {
            return &mut self.windows[i];
        }
        self.windows.push(Window {
            id: id.to_string(),
            events: Vec::new(),
        });
        self.windows.last_mut().expect("just pushed")
    }

    pub fn event_count(&self) -> usize {
        self.windows.iter().map(|w| w.events.len()).sum()
    }

    /// Sort every window by timestamp (stable). Returns how many windows were out of order.
    pub fn sort(&mut self) -> usize {
        let mut fixed = 0;
        for w in &mut self.windows {
            if !w
                .events
                .windows(2)
                .all(|p| p[0].timestamp <= p[1].timestamp)
            {
                w.events.sort_by_key(|e| e.timestamp);
                fixed += 1;
            }
        }
        fixed
    }

    /// All events of all windows, with their window id, in time order.
    pub fn events_in_time_order(&self) -> Vec<(&str, &Event)> {
        let mut all: Vec<(&str, &Event)> = self
            .windows
            .iter()
            .flat_map(|w| w.events.iter().map(move |e| (w.id.as_str(), e)))
            .collect();
        all.sort_by_key(|(_, e)| e.timestamp);
        all
    }

    /// Merge `other` (same session id) into this session: windows by id, facts where missing.
    pub fn absorb(&mut self, other: Session) {
        self.distinct_id = self.distinct_id.take().or(other.distinct_id);
        self.person = self.person.take().or(other.person);
        self.user_agent = self.user_agent.take().or(other.user_agent);
        if self.source.system.is_empty() {
            self.source = other.source;
        }
        for w in other.windows {
            self.window_mut(&w.id).events.extend(w.events);
        }
    }
}

impl Recording {
    /// Merge sessions with the same id (many wire bodies of one session make one recording).
    pub fn merge(&mut self, other: Recording) {
        for s in other.sessions {
            match self.sessions.iter_mut().find(|x| x.id == s.id) {
                Some(x) => x.absorb(s),
                None => self.sessions.push(s),
            }
        }
        self.warnings.extend(other.warnings);
    }

    /// Sort every session's windows by time, recording a warning for each re-ordered window.
    pub fn sort(&mut self) {
        for s in &mut self.sessions {
            let n = s.sort();
            if n > 0 {
                self.warnings.push(format!(
                    "session {}: {n} window(s) had events out of time order; sorted",
                    s.id
                ));
            }
        }
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }
}
