//! The deterministic summary: pages in order with time spent, key actions (clicks, fields filled,
//! searches, form submits, navigations) with `abandonment`/`confusion`/`exception` flags,
//! segments (one per page visit), the outcome and a few sentences of plain text. Shaped like
//! PostHog's session summary output; see `docs/moments.md`.
use crate::moments::{click_facts, Moment, MomentKind};
use crate::timeline::{Kind, Target, TimelineEvent};
use reel_dom::Dom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many key actions are kept per session (`key_action_count` stays exact).
pub const MAX_KEY_ACTIONS: usize = 200;
/// Clicks on one element this close together make one key action.
const SAME_ACTION_MS: i64 = 1_000;
/// Errors this soon after an action flag it `exception`.
const EXCEPTION_AFTER_MS: i64 = 1_000;
/// A form submit followed this soon by an error failed.
const SUBMIT_ERROR_MS: i64 = 5_000;
/// Errors this close to the session's end are "errors at the end".
const END_WINDOW_MS: i64 = 10_000;

/// A page visit: a URL in a window from the navigation to it until the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub url: String,
    pub window_id: String,
    /// Milliseconds from the session's start.
    pub t_ms: i64,
    /// Time spent on it, ms.
    pub duration_ms: i64,
    #[serde(skip)]
    pub(crate) at: i64,
    #[serde(skip)]
    pub(crate) end: i64,
}

/// Something the person did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyAction {
    pub t_ms: i64,
    pub window_id: String,
    pub url: Option<String>,
    /// `click`, `input`, `search`, `form_submit`, `navigation`.
    pub kind: String,
    /// Plain text: `clicked "Pay now" (button#pay)`, `filled input#email` (never the value).
    pub description: String,
    pub target: Option<Target>,
    /// Fields filled on a page that was left (or the session ended) without submitting.
    pub abandonment: bool,
    /// A rage or dead click on this action.
    pub confusion: bool,
    /// An error click, exception, console error or failed request within 1 s after it.
    pub exception: bool,
    #[serde(skip)]
    pub(crate) at: i64,
    #[serde(skip)]
    pub(crate) repeat: u32,
}

/// One page visit with what happened during it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub index: usize,
    pub window_id: String,
    pub url: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub key_action_count: usize,
    /// Moments in this segment by kind.
    pub moments: BTreeMap<String, u64>,
    /// Errors or frustration happened here.
    pub failure: bool,
    pub summary: String,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub last_url: Option<String>,
    /// Error moments in the last 10 s of the session (kinds).
    pub errors_at_end: Vec<String>,
    /// A `form_submit` was followed within 5 s by an error or a failed request.
    pub submit_failed: bool,
    /// No errors at the end and no failed submit.
    pub success: bool,
    pub description: String,
}

/// The deterministic summary of a session.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub duration_ms: i64,
    /// Time with activity, ms: gaps of up to 5 s between activity events count (as `meta.json`'s
    /// `active_seconds`), summed over windows, at most the duration.
    pub active_ms: i64,
    pub pages: Vec<Page>,
    pub clicks: u64,
    /// Fields filled (consecutive inputs into one field count once).
    pub fields_filled: u64,
    pub searches: u64,
    pub form_submits: u64,
    pub key_actions: Vec<KeyAction>,
    pub key_action_count: u64,
    pub segments: Vec<Segment>,
    pub outcome: Outcome,
    /// 0–100: `min(100, clicks + 2·fields filled + 3·navigations + active seconds / 10)`.
    pub activity_score: u32,
    /// A few sentences of plain text.
    pub text: String,
}

/// Per-window collection for the summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct WindowSummary {
    window_id: String,
    pub pages: Vec<Page>,
    pub actions: Vec<KeyAction>,
    pub action_count: u64,
    pub clicks: u64,
    pub fields: u64,
    pub searches: u64,
    pub submits: u64,
    pub navigations: u64,
    last_input: Option<i64>,
}

fn describe(t: &Option<Target>) -> String {
    match t {
        Some(t) if !t.text.is_empty() && !t.selector.is_empty() => {
            format!("\"{}\" ({})", crate::timeline::cut(&t.text, 60), t.selector)
        }
        Some(t) if !t.selector.is_empty() => t.selector.clone(),
        Some(t) => format!("node {}", t.id),
        None => "the page".into(),
    }
}

fn is_search(dom: &Dom, t: &Option<Target>) -> bool {
    let Some(n) = t.as_ref().and_then(|t| dom.get(t.id)) else {
        return false;
    };
    if n.attr("type")
        .is_some_and(|v| v.eq_ignore_ascii_case("search"))
        || n.attr("role")
            .is_some_and(|v| v.eq_ignore_ascii_case("searchbox"))
    {
        return true;
    }
    ["name", "id", "placeholder", "aria-label"].iter().any(|a| {
        n.attr(a).is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v == "q" || v.contains("search")
        })
    })
}

impl WindowSummary {
    pub fn window_id(&self) -> &str {
        &self.window_id
    }

    pub fn new(window_id: &str) -> Self {
        WindowSummary {
            window_id: window_id.into(),
            ..Default::default()
        }
    }

    fn action(&mut self, t: &TimelineEvent, kind: &str, description: String) {
        self.action_count += 1;
        if self.actions.len() < MAX_KEY_ACTIONS {
            self.actions.push(KeyAction {
                t_ms: 0,
                window_id: self.window_id.clone(),
                url: t.url.clone(),
                kind: kind.into(),
                description,
                target: t.target.clone(),
                abandonment: false,
                confusion: false,
                exception: false,
                at: t.timestamp,
                repeat: 1,
            });
        }
    }

    pub fn observe(&mut self, at: i64, tl: &[TimelineEvent], dom: &Dom) {
        if let Some(p) = self.pages.last_mut() {
            p.end = p.end.max(at);
        }
        for t in tl {
            match t.kind {
                Kind::Navigation => {
                    self.navigations += u64::from(!self.pages.is_empty());
                    self.pages.push(Page {
                        url: t.url.clone().unwrap_or_default(),
                        window_id: self.window_id.clone(),
                        t_ms: 0,
                        duration_ms: 0,
                        at: t.timestamp,
                        end: t.timestamp,
                    });
                    self.last_input = None;
                    if self.navigations > 0 {
                        let to = t.url.as_deref().unwrap_or("");
                        self.action(t, "navigation", format!("went to {}", short_url(to)));
                    }
                }
                Kind::Click | Kind::DblClick => {
                    if t.kind == Kind::Click {
                        self.clicks += 1;
                    }
                    self.last_input = None;
                    let id = t.target.as_ref().map(|x| x.id);
                    if let Some(last) = self.actions.last_mut() {
                        if last.kind == "click"
                            && last.target.as_ref().map(|x| x.id) == id
                            && t.timestamp - last.at <= SAME_ACTION_MS * i64::from(last.repeat)
                        {
                            if t.kind == Kind::Click {
                                last.repeat += 1;
                                last.description = format!(
                                    "clicked {} {} times",
                                    describe(&last.target),
                                    last.repeat
                                );
                            }
                            continue;
                        }
                    }
                    let facts = id.map(|id| click_facts(dom, id)).unwrap_or_default();
                    if facts.submits.is_some() {
                        self.submits += 1;
                        self.action(
                            t,
                            "form_submit",
                            format!("submitted a form with {}", describe(&t.target)),
                        );
                    } else {
                        self.action(t, "click", format!("clicked {}", describe(&t.target)));
                    }
                }
                Kind::Input => {
                    let id = t.target.as_ref().map(|x| x.id);
                    if id.is_some() && self.last_input == id {
                        continue;
                    }
                    self.last_input = id;
                    if is_search(dom, &t.target) {
                        self.searches += 1;
                        self.action(t, "search", format!("searched in {}", describe(&t.target)));
                    } else {
                        self.fields += 1;
                        self.action(t, "input", format!("filled {}", describe(&t.target)));
                    }
                }
                _ => {}
            }
        }
    }
}

/// The path (and query) of a URL, or the URL when it has none.
pub fn short_url(u: &str) -> String {
    let rest = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    crate::timeline::cut(if u.contains("://") { path } else { u }, 80)
}

fn duration_text(ms: i64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Build the session's summary from its windows' parts and its (sorted) moments.
pub(crate) fn build(
    start: i64,
    end: i64,
    active_ms: i64,
    mut parts: Vec<WindowSummary>,
    window_ends: &BTreeMap<String, i64>,
    moments: &[Moment],
    counts: &BTreeMap<String, u64>,
) -> Summary {
    let mut pages = Vec::new();
    let mut actions = Vec::new();
    let mut s = Summary {
        duration_ms: end - start,
        active_ms,
        ..Default::default()
    };
    let mut navigations = 0;
    for p in &mut parts {
        let wend = window_ends.get(&p.window_id).copied().unwrap_or(end);
        let n = p.pages.len();
        for i in 0..n {
            let stop = if i + 1 < n { p.pages[i + 1].at } else { wend };
            p.pages[i].end = stop.max(p.pages[i].at);
        }
        s.clicks += p.clicks;
        s.fields_filled += p.fields;
        s.searches += p.searches;
        s.form_submits += p.submits;
        s.key_action_count += p.action_count;
        navigations += p.navigations;
        pages.append(&mut p.pages);
        actions.append(&mut p.actions);
    }
    pages.sort_by_key(|p| p.at);
    actions.sort_by_key(|a| a.at);
    actions.truncate(MAX_KEY_ACTIONS);
    for p in &mut pages {
        p.t_ms = p.at - start;
        p.duration_ms = p.end - p.at;
    }
    // Flags.
    for a in &mut actions {
        a.t_ms = a.at - start;
        let tid = a.target.as_ref().map(|t| t.id);
        for m in moments {
            if m.window_id != a.window_id || m.at < a.at {
                continue;
            }
            if m.at > a.at + EXCEPTION_AFTER_MS * i64::from(a.repeat.max(1)) {
                break;
            }
            let same_target = m.target.as_ref().map(|t| t.id) == tid && tid.is_some();
            match m.kind {
                MomentKind::RageClick | MomentKind::DeadClick if same_target => a.confusion = true,
                MomentKind::ErrorClick if same_target => a.exception = true,
                MomentKind::Exception | MomentKind::ConsoleError | MomentKind::NetworkError
                    if a.kind != "navigation" =>
                {
                    a.exception = true
                }
                _ => {}
            }
        }
    }
    // Abandonment: fields filled on a page visit with no submit after them in that visit.
    for p in &pages {
        let in_visit = |a: &KeyAction| a.window_id == p.window_id && a.at >= p.at && a.at <= p.end;
        let last_input = actions
            .iter()
            .rposition(|a| in_visit(a) && a.kind == "input");
        if let Some(i) = last_input {
            let submitted = actions[i..]
                .iter()
                .any(|a| in_visit(a) && a.kind == "form_submit");
            if !submitted {
                actions[i].abandonment = true;
            }
        }
    }
    // Segments: one per page visit.
    for (i, p) in pages.iter().enumerate() {
        let in_visit = |w: &str, at: i64| w == p.window_id && at >= p.at && at <= p.end;
        let n_actions = actions
            .iter()
            .filter(|a| in_visit(&a.window_id, a.at))
            .count();
        let mut mk: BTreeMap<String, u64> = BTreeMap::new();
        let mut failure = false;
        for m in moments.iter().filter(|m| in_visit(&m.window_id, m.at)) {
            if m.kind == MomentKind::Navigation {
                continue;
            }
            *mk.entry(m.kind.name().into()).or_default() += 1;
            failure |= m.kind.is_error() || m.kind.is_frustration();
        }
        let mut text = format!(
            "{} for {}: {}",
            short_url(&p.url),
            duration_text(p.end - p.at),
            plural(n_actions as u64, "action", "actions")
        );
        if !mk.is_empty() {
            let list: Vec<String> = mk.iter().map(|(k, v)| format!("{v} {k}")).collect();
            text.push_str(&format!("; {}", list.join(", ")));
        }
        text.push('.');
        s.segments.push(Segment {
            index: i,
            window_id: p.window_id.clone(),
            url: p.url.clone(),
            start_ms: p.at - start,
            end_ms: p.end - start,
            key_action_count: n_actions,
            moments: mk,
            failure,
            summary: text,
        });
    }
    // Outcome.
    let last_url = pages
        .iter()
        .max_by_key(|p| (p.end, p.at))
        .map(|p| p.url.clone());
    let mut errors_at_end: Vec<String> = moments
        .iter()
        .filter(|m| m.kind.is_error() && m.at >= end - END_WINDOW_MS)
        .map(|m| m.kind.name().to_string())
        .collect();
    errors_at_end.sort();
    errors_at_end.dedup();
    let submit_failed = moments.iter().any(|f| {
        f.kind == MomentKind::FormSubmit
            && moments.iter().any(|m| {
                m.window_id == f.window_id
                    && m.at >= f.at
                    && m.at <= f.at + SUBMIT_ERROR_MS
                    && matches!(
                        m.kind,
                        MomentKind::NetworkError | MomentKind::Exception | MomentKind::ConsoleError
                    )
            })
    });
    let success = errors_at_end.is_empty() && !submit_failed;
    let where_ = last_url
        .as_deref()
        .map(short_url)
        .unwrap_or_else(|| "an unknown page".into());
    let description = if submit_failed {
        format!("A form submit was followed by an error; the session ended on {where_}.")
    } else if !errors_at_end.is_empty() {
        format!(
            "The session ended on {where_} right after {}.",
            errors_at_end.join(", ")
        )
    } else {
        format!("The session ended on {where_} without errors at the end.")
    };
    s.outcome = Outcome {
        last_url,
        errors_at_end,
        submit_failed,
        success,
        description,
    };
    s.activity_score = (s.clicks as f64
        + 2.0 * s.fields_filled as f64
        + 3.0 * navigations as f64
        + active_ms as f64 / 10_000.0)
        .round()
        .min(100.0) as u32;
    s.text = text(&s, &pages, moments, counts);
    s.pages = pages;
    s.key_actions = actions;
    s
}

fn text(s: &Summary, pages: &[Page], moments: &[Moment], counts: &BTreeMap<String, u64>) -> String {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for p in pages {
        let u = short_url(&p.url);
        if seen.last() != Some(&u) {
            seen.push(u);
        }
    }
    let path = if seen.len() > 6 {
        format!(
            "{} → … → {}",
            seen[..3].join(" → "),
            seen[seen.len() - 2..].join(" → ")
        )
    } else {
        seen.join(" → ")
    };
    out.push(format!(
        "A {} session ({} active) over {}{}.",
        duration_text(s.duration_ms),
        duration_text(s.active_ms),
        plural(pages.len() as u64, "page visit", "page visits"),
        if path.is_empty() {
            String::new()
        } else {
            format!(": {path}")
        }
    ));
    if s.clicks + s.fields_filled + s.searches == 0 {
        out.push("The person did not click or type.".into());
    } else {
        let mut did = vec![format!("clicked {}", plural(s.clicks, "time", "times"))];
        if s.fields_filled > 0 {
            did.push(format!(
                "filled {}",
                plural(s.fields_filled, "field", "fields")
            ));
        }
        if s.searches > 0 {
            did.push(format!("searched {}", plural(s.searches, "time", "times")));
        }
        if s.form_submits > 0 {
            did.push(format!(
                "submitted {}",
                plural(s.form_submits, "form", "forms")
            ));
        }
        out.push(format!("The person {}.", did.join(", ")));
    }
    let c = |k: MomentKind| counts.get(k.name()).copied().unwrap_or(0);
    let mut fr = Vec::new();
    for (k, one, many) in [
        (MomentKind::RageClick, "rage click", "rage clicks"),
        (MomentKind::DeadClick, "dead click", "dead clicks"),
        (
            MomentKind::Thrash,
            "back-and-forth between two pages",
            "back-and-forths between pages",
        ),
    ] {
        if c(k) > 0 {
            let on = moments
                .iter()
                .find(|m| m.kind == k)
                .and_then(|m| m.target.as_ref())
                .map(|t| format!(" (first on {})", describe(&Some(t.clone()))))
                .unwrap_or_default();
            fr.push(format!("{}{on}", plural(c(k), one, many)));
        }
    }
    if !fr.is_empty() {
        out.push(format!("Signs of frustration: {}.", fr.join(", ")));
    }
    let mut er = Vec::new();
    for (k, one, many) in [
        (
            MomentKind::Exception,
            "uncaught exception",
            "uncaught exceptions",
        ),
        (MomentKind::ConsoleError, "console error", "console errors"),
        (
            MomentKind::NetworkError,
            "failed request",
            "failed requests",
        ),
        (
            MomentKind::ErrorClick,
            "click followed by an error",
            "clicks followed by an error",
        ),
        (MomentKind::SlowRequest, "slow request", "slow requests"),
    ] {
        if c(k) > 0 {
            er.push(plural(c(k), one, many));
        }
    }
    if !er.is_empty() {
        out.push(format!("Problems: {}.", er.join(", ")));
    }
    out.push(s.outcome.description.clone());
    out.join(" ")
}
