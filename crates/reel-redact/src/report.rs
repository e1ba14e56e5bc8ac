//! What a redaction removed: counts per rule and per kind of field, never the values.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts of redactions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Per rule: `mask_inputs`, `block .rr-block`, `mask_text .secret`, `pattern email`,
    /// `query_param token`, `network.drop_headers`, … Each count is one value (or one match of a
    /// pattern) changed.
    pub by_rule: BTreeMap<String, u64>,
    /// Per kind of field: `text`, `attribute`, `input`, `element`, `image`, `canvas`, `url`,
    /// `console`, `network.url`, `network.header`, `network.body`, `custom`, `dom`, `metadata`, …
    pub by_field: BTreeMap<String, u64>,
}

impl Counts {
    pub fn add(&mut self, rule: &str, field: &str, n: u64) {
        if n == 0 {
            return;
        }
        *self.by_rule.entry(rule.to_string()).or_default() += n;
        *self.by_field.entry(field.to_string()).or_default() += n;
    }
    pub fn merge(&mut self, o: &Counts) {
        for (k, v) in &o.by_rule {
            *self.by_rule.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.by_field {
            *self.by_field.entry(k.clone()).or_default() += v;
        }
    }
    pub fn total(&self) -> u64 {
        self.by_rule.values().sum()
    }
    pub fn rule(&self, name: &str) -> u64 {
        self.by_rule.get(name).copied().unwrap_or(0)
    }
}

/// Event totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub events_in: u64,
    pub events_out: u64,
    /// Events rewritten.
    pub events_changed: u64,
    /// Events removed whole (input on blocked elements, canvas frames, undecodable packed events).
    pub events_dropped: u64,
    /// Events passed through without being parsed (the prefilter found nothing to look at).
    pub events_untouched: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Totals {
    pub fn merge(&mut self, o: &Totals) {
        self.events_in += o.events_in;
        self.events_out += o.events_out;
        self.events_changed += o.events_changed;
        self.events_dropped += o.events_dropped;
        self.events_untouched += o.events_untouched;
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
    }
}

/// One session's part of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    pub id: String,
    pub totals: Totals,
    pub counts: Counts,
}

/// The report embedded as `redaction-report.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    /// RFC 3339 UTC time of the redaction.
    #[serde(default)]
    pub redacted_at: String,
    pub rules: RulesInfo,
    pub totals: Totals,
    pub counts: Counts,
    /// Sessions in which something was redacted.
    pub sessions_touched: Vec<String>,
    pub sessions: Vec<SessionReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Which rules were applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesInfo {
    pub name: String,
    /// SHA-256 of the rules' canonical form (see `Rules::sha256`).
    pub sha256: String,
    /// Every rule in effect, as `kind value` lines (selectors, pattern names, header names).
    pub applied: Vec<String>,
}

pub const REPORT_FORMAT: &str = "reel-redaction-report/1";

impl Report {
    pub fn new(rules: RulesInfo) -> Report {
        Report {
            format: REPORT_FORMAT.into(),
            redacted_at: now_rfc3339(),
            rules,
            ..Default::default()
        }
    }

    /// Add a session's results.
    pub fn add_session(&mut self, s: SessionReport) {
        self.totals.merge(&s.totals);
        self.counts.merge(&s.counts);
        if s.counts.total() > 0 && !self.sessions_touched.contains(&s.id) {
            self.sessions_touched.push(s.id.clone());
        }
        match self.sessions.iter_mut().find(|x| x.id == s.id) {
            Some(x) => {
                x.totals.merge(&s.totals);
                x.counts.merge(&s.counts);
            }
            None => self.sessions.push(s),
        }
    }

    /// A few lines for people.
    pub fn human(&self) -> String {
        let mut out = format!(
            "rules {} (sha256 {})\n{} events in, {} out: {} changed, {} dropped, {} untouched\n",
            self.rules.name,
            &self.rules.sha256[..self.rules.sha256.len().min(16)],
            self.totals.events_in,
            self.totals.events_out,
            self.totals.events_changed,
            self.totals.events_dropped,
            self.totals.events_untouched
        );
        if self.counts.by_rule.is_empty() {
            out.push_str("nothing to redact\n");
        }
        for (k, v) in &self.counts.by_rule {
            out.push_str(&format!("  {v:>8}  {k}\n"));
        }
        if !self.counts.by_field.is_empty() {
            out.push_str("by field:\n");
            for (k, v) in &self.counts.by_field {
                out.push_str(&format!("  {v:>8}  {k}\n"));
            }
        }
        out.push_str(&format!(
            "sessions touched: {} of {}\n",
            self.sessions_touched.len(),
            self.sessions.len()
        ));
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
