//! Key moments: the detectors of `docs/moments.md`, run per window over the timeline (plus the
//! raw event header, for "something visible happened" after a click).
//!
//! Thresholds are the constants below; names are stable (`rage_click`, …).
use crate::timeline::{Kind, Target, TimelineEvent};
use reel_dom::{Dom, NodeId};
use reel_format::event::{Detail, EventType, IncrementalSource, MouseInteraction};
use reel_format::Event;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;

/// Clicks that make a rage click (posthog-js's own thresholds).
pub const RAGE_CLICKS: usize = 3;
/// … all within this long of the first click …
pub const RAGE_WINDOW_MS: i64 = 1_000;
/// … and this close to it (pixels, Euclidean).
pub const RAGE_RADIUS_PX: f64 = 30.0;
/// A click with no visible reaction for this long is dead.
pub const DEAD_CLICK_MS: i64 = 2_500;
/// An error this soon after a click makes an error click.
pub const ERROR_CLICK_MS: i64 = 1_000;
/// A request taking at least this long is slow.
pub const SLOW_REQUEST_MS: f64 = 3_000.0;
/// No activity for this long is idle time.
pub const IDLE_MS: i64 = 30_000;
/// Pages kept per window for finding thrashing (later ones are not looked at).
pub const MAX_PAGES: usize = 5000;

/// A window's id, first and last event time and pages, for [`thrash`].
pub type WindowPages<'a> = (&'a str, i64, i64, &'a [(i64, String)]);
/// A page shown: when, its URL, its window.
type Visit<'a> = (i64, &'a str, &'a str);

/// Thrashing over a session's windows (`pages`: each window's id, first and last event and pages
/// in order): windows that follow one another in time form one sequence of pages (a recorder such
/// as posthog-js may start a new window id at a page load in the same tab); a window that starts
/// while another is still going is another tab, with its own sequence. A page that repeats the
/// one before it (a reload, a new window on the same page) is not a switch. Within a sequence,
/// going back and forth between the same two URLs [`THRASH_SWITCHES`] times within
/// [`THRASH_WINDOW_MS`] of the first switch is one moment, at that first switch.
pub fn thrash(mut windows: Vec<WindowPages<'_>>) -> Vec<Moment> {
    windows.sort_by_key(|w| w.1);
    // Sequences: (end of the last window in it, pages with their window).
    let mut chains: Vec<(i64, Vec<Visit<'_>>)> = Vec::new();
    for (id, first, last, pages) in windows {
        let visits = pages.iter().map(|(t, u)| (*t, u.as_str(), id));
        match chains.last_mut() {
            Some(c) if first >= c.0 => {
                c.0 = c.0.max(last);
                c.1.extend(visits);
            }
            _ => chains.push((last, visits.collect())),
        }
    }
    /// A run of switches between one pair of URLs.
    struct Run<'a> {
        pair: [&'a str; 2],
        start: i64,
        switches: u32,
        reported: bool,
        window: &'a str,
    }
    let mut out = Vec::new();
    for (_, visits) in chains {
        let mut run: Option<Run<'_>> = None;
        let mut last: Option<&str> = None;
        for (t, to, w) in visits {
            if let Some(from) = last.filter(|f| *f != to) {
                match run.as_mut() {
                    Some(r)
                        if t - r.start <= THRASH_WINDOW_MS
                            && (r.pair == [from, to] || r.pair == [to, from]) =>
                    {
                        r.switches += 1;
                        if r.switches >= THRASH_SWITCHES && !r.reported {
                            r.reported = true;
                            out.push(Moment {
                                kind: MomentKind::Thrash,
                                t_ms: 0,
                                timestamp: String::new(),
                                window_id: r.window.to_string(),
                                url: Some(r.pair[0].to_string()),
                                target: None,
                                detail: detail(json!({"urls": r.pair, "switches": r.switches})),
                                at: r.start,
                            });
                        }
                    }
                    _ => {
                        run = Some(Run {
                            pair: [from, to],
                            start: t,
                            switches: 1,
                            reported: false,
                            window: w,
                        })
                    }
                }
            }
            last = Some(to);
        }
    }
    out
}

/// Switches between two URLs that make thrashing …
pub const THRASH_SWITCHES: u32 = 3;
/// … within this long.
pub const THRASH_WINDOW_MS: i64 = 60_000;
/// At most this many moments of one kind are kept per session (the counts stay exact).
pub const MAX_PER_KIND: usize = 1_000;

/// The kinds of moments. Names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentKind {
    RageClick,
    DeadClick,
    ErrorClick,
    ConsoleError,
    Exception,
    NetworkError,
    SlowRequest,
    Navigation,
    Reload,
    FormSubmit,
    Idle,
    Thrash,
    Custom,
}

impl MomentKind {
    pub const ALL: [MomentKind; 13] = [
        MomentKind::RageClick,
        MomentKind::DeadClick,
        MomentKind::ErrorClick,
        MomentKind::ConsoleError,
        MomentKind::Exception,
        MomentKind::NetworkError,
        MomentKind::SlowRequest,
        MomentKind::Navigation,
        MomentKind::Reload,
        MomentKind::FormSubmit,
        MomentKind::Idle,
        MomentKind::Thrash,
        MomentKind::Custom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MomentKind::RageClick => "rage_click",
            MomentKind::DeadClick => "dead_click",
            MomentKind::ErrorClick => "error_click",
            MomentKind::ConsoleError => "console_error",
            MomentKind::Exception => "exception",
            MomentKind::NetworkError => "network_error",
            MomentKind::SlowRequest => "slow_request",
            MomentKind::Navigation => "navigation",
            MomentKind::Reload => "reload",
            MomentKind::FormSubmit => "form_submit",
            MomentKind::Idle => "idle",
            MomentKind::Thrash => "thrash",
            MomentKind::Custom => "custom",
        }
    }

    pub fn from_name(s: &str) -> Option<MomentKind> {
        MomentKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Frustration: the person tried something and it did not work.
    pub fn is_frustration(self) -> bool {
        matches!(
            self,
            MomentKind::RageClick
                | MomentKind::DeadClick
                | MomentKind::ErrorClick
                | MomentKind::Thrash
        )
    }

    /// Something failed (an error the page or the network reported).
    pub fn is_error(self) -> bool {
        matches!(
            self,
            MomentKind::ErrorClick
                | MomentKind::ConsoleError
                | MomentKind::Exception
                | MomentKind::NetworkError
        )
    }
}

impl std::fmt::Display for MomentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the detectors need besides the events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Custom event tags that are moments (`custom`), e.g. `checkout-started`.
    #[serde(default)]
    pub custom_tags: Vec<String>,
}

/// One key moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    pub kind: MomentKind,
    /// Milliseconds from the session's first event.
    pub t_ms: i64,
    /// When, ISO 8601 UTC with milliseconds.
    pub timestamp: String,
    pub window_id: String,
    /// The page URL of the window at that moment.
    pub url: Option<String>,
    /// The element involved (clicks, form submits).
    pub target: Option<Target>,
    /// Kind-specific facts (`clicks`, `message`, `status`, `duration_ms`, …; see docs/moments.md).
    pub detail: Map<String, Value>,
    /// Milliseconds since the epoch (not serialised: `timestamp` says it).
    #[serde(skip)]
    pub at: i64,
}

fn detail(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[derive(Debug, Clone)]
struct Click {
    at: i64,
    x: f64,
    y: f64,
    target: Option<Target>,
    url: Option<String>,
}

#[derive(Debug, Clone)]
struct RageRun {
    clicks: Vec<Click>,
    rage: bool,
    run: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    click: Click,
    run: u64,
}

/// Activity of one window: intervals of activity separated by gaps ≥ [`IDLE_MS`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    /// (start, end, url at end)
    pub done: Vec<(i64, i64, Option<String>)>,
    pub cur: Option<(i64, i64, Option<String>)>,
    /// Active time as `meta.json` counts it: gaps between activity events up to 5 s.
    pub active_ms: i64,
    last: Option<i64>,
}

impl Activity {
    fn observe(&mut self, at: i64, url: Option<&str>) {
        if let Some(l) = self.last {
            let gap = at - l;
            if (0..=reel_format::stats::ACTIVITY_GAP_MS).contains(&gap) {
                self.active_ms += gap;
            }
        }
        self.last = Some(at);
        match &mut self.cur {
            Some((_, end, u)) if at - *end < IDLE_MS => {
                *end = (*end).max(at);
                if u.as_deref() != url {
                    *u = url.map(str::to_string);
                }
            }
            _ => {
                if let Some(c) = self.cur.take() {
                    self.done.push(c);
                }
                self.cur = Some((at, at, url.map(str::to_string)));
            }
        }
    }

    pub fn intervals(mut self) -> Vec<(i64, i64, Option<String>)> {
        if let Some(c) = self.cur.take() {
            self.done.push(c);
        }
        self.done
    }
}

/// The detectors of one window. Feed every event with [`WindowDetector::observe`].
#[derive(Debug, Clone)]
pub struct WindowDetector {
    window_id: String,
    config: Config,
    pub(crate) moments: Vec<Moment>,
    run: Option<RageRun>,
    runs: u64,
    pending: VecDeque<Pending>,
    recent: VecDeque<(Click, bool)>,
    /// The window's pages in order (its first, then each navigation): thrashing is found over
    /// the session ([`thrash`]), since a recorder may start a new window at a page load.
    pub(crate) pages: Vec<(i64, String)>,
    last_url: Option<String>,
    pub(crate) activity: Activity,
    pub(crate) first: Option<i64>,
    pub(crate) last: Option<i64>,
}

/// Matches the messages browsers and recorders give uncaught errors and unhandled rejections.
pub fn is_uncaught(message: &str) -> bool {
    let m = message.trim_start();
    m.starts_with("Uncaught")
        || m.starts_with("Unhandled rejection")
        || m.starts_with("Unhandled promise rejection")
        || m.starts_with("UnhandledRejection")
}

/// Whether event `e` shows the person something changed (what ends a click's wait).
fn is_reaction(e: &Event) -> bool {
    match e.kind {
        EventType::FullSnapshot | EventType::Meta => true,
        EventType::Custom => matches!(e.detail, Detail::Href(_)),
        EventType::IncrementalSnapshot => match e.source {
            Some(IncrementalSource::MouseInteraction) => {
                e.detail == Detail::Interaction(MouseInteraction::Focus)
            }
            Some(s) => matches!(
                s,
                IncrementalSource::Mutation
                    | IncrementalSource::Scroll
                    | IncrementalSource::Input
                    | IncrementalSource::Selection
                    | IncrementalSource::MediaInteraction
                    | IncrementalSource::CanvasMutation
                    | IncrementalSource::StyleSheetRule
                    | IncrementalSource::StyleDeclaration
                    | IncrementalSource::AdoptedStyleSheet
            ),
            None => false,
        },
        _ => false,
    }
}

/// What a click landed on, for the click detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ClickFacts {
    /// A control a person expects to react (link, button, `role=button`, `onclick`, …).
    pub interactive: bool,
    /// A field that takes focus or opens natively (text input, textarea, select, contenteditable):
    /// its reaction is not recorded, so it is never dead.
    pub field: bool,
    /// The submit control of a form (its id).
    pub submits: Option<NodeId>,
}

/// Look at the clicked element and up to 5 ancestors.
pub(crate) fn click_facts(dom: &Dom, id: NodeId) -> ClickFacts {
    let mut f = ClickFacts::default();
    let mut cur = Some(id);
    let mut depth = 0;
    let mut submit_control = false;
    while let Some(c) = cur {
        let Some(n) = dom.get(c) else { break };
        if let Some(tag) = n.tag() {
            let ty = n.attr("type").unwrap_or("").to_ascii_lowercase();
            if depth <= 5 {
                let role = n.attr("role").unwrap_or("").to_ascii_lowercase();
                let field = match tag {
                    "textarea" | "select" | "option" => true,
                    "input" => !matches!(
                        ty.as_str(),
                        "button" | "submit" | "reset" | "image" | "checkbox" | "radio"
                    ),
                    _ => n
                        .attr("contenteditable")
                        .is_some_and(|v| !v.eq_ignore_ascii_case("false")),
                };
                if field {
                    f.field = true;
                }
                let interactive = match tag {
                    "button" | "summary" => true,
                    "a" => n.attr("href").is_some(),
                    "input" => matches!(
                        ty.as_str(),
                        "button" | "submit" | "reset" | "image" | "checkbox" | "radio"
                    ),
                    _ => false,
                } || matches!(
                    role.as_str(),
                    "button"
                        | "link"
                        | "menuitem"
                        | "menuitemcheckbox"
                        | "menuitemradio"
                        | "tab"
                        | "checkbox"
                        | "radio"
                        | "switch"
                        | "option"
                ) || n.attr("onclick").is_some();
                if interactive {
                    f.interactive = true;
                }
                if depth <= 3
                    && ((tag == "button" && matches!(ty.as_str(), "" | "submit"))
                        || (tag == "input" && matches!(ty.as_str(), "submit" | "image")))
                {
                    submit_control = true;
                }
            }
            if tag == "form" {
                if submit_control {
                    f.submits = Some(c);
                }
                break;
            }
        }
        depth += 1;
        if depth > 40 {
            break;
        }
        cur = dom.parent(c);
    }
    f
}

impl WindowDetector {
    pub fn new(window_id: &str, config: Config) -> Self {
        WindowDetector {
            window_id: window_id.to_string(),
            config,
            moments: Vec::new(),
            run: None,
            runs: 0,
            pending: VecDeque::new(),
            recent: VecDeque::new(),
            pages: Vec::new(),
            last_url: None,
            activity: Activity::default(),
            first: None,
            last: None,
        }
    }

    pub(crate) fn window_id(&self) -> &str {
        &self.window_id
    }

    fn push(
        &mut self,
        kind: MomentKind,
        at: i64,
        url: Option<String>,
        target: Option<Target>,
        d: Value,
    ) {
        self.moments.push(Moment {
            kind,
            t_ms: 0,
            timestamp: String::new(),
            window_id: self.window_id.clone(),
            url,
            target,
            detail: detail(d),
            at,
        });
    }

    /// Observe event `e` of the window; `tl` is what the timeline made of it and `dom` the
    /// window's DOM after it.
    pub fn observe(&mut self, e: &Event, tl: &[TimelineEvent], dom: &Dom) {
        let at = e.timestamp;
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        // Clicks waiting for a reaction.
        while let Some(p) = self.pending.front() {
            if at > p.click.at + DEAD_CLICK_MS {
                let p = self.pending.pop_front().expect("front");
                self.dead(p.click);
            } else {
                break;
            }
        }
        if is_reaction(e) {
            self.pending.retain(|p| p.click.at > at);
        }
        if e.is_activity() {
            let url = tl.first().and_then(|t| t.url.as_deref());
            self.activity.observe(at, url);
        }
        for t in tl {
            self.timeline_event(t, dom);
        }
    }

    fn dead(&mut self, c: Click) {
        self.push(
            MomentKind::DeadClick,
            c.at,
            c.url,
            c.target,
            json!({"waited_ms": DEAD_CLICK_MS}),
        );
    }

    fn timeline_event(&mut self, t: &TimelineEvent, dom: &Dom) {
        match t.kind {
            Kind::Click => self.click(t, dom),
            Kind::Console
                if matches!(t.console_level.as_deref(), Some("error") | Some("assert")) =>
            {
                let msg = t.console_message.clone().unwrap_or_default();
                let kind = if is_uncaught(&msg) {
                    MomentKind::Exception
                } else {
                    MomentKind::ConsoleError
                };
                self.push(
                    kind,
                    t.timestamp,
                    t.url.clone(),
                    None,
                    json!({"message": msg.clone()}),
                );
                self.error_after_click(t.timestamp, &msg);
            }
            Kind::Network => {
                let status = t.network_status;
                let base = json!({
                    "method": t.network_method,
                    "request_url": t.network_url,
                    "status": status,
                    "duration_ms": t.network_duration_ms,
                });
                // When the response came: start + duration when the recorder gave both (the
                // event itself may be written down later), else the event's time.
                let at = match (t.network_start, t.network_duration_ms) {
                    (Some(s), Some(d)) if d >= 0.0 => (s + d.round() as i64).min(t.timestamp),
                    _ => t.timestamp,
                }
                .max(self.first.unwrap_or(i64::MIN));
                if status.is_some_and(|s| s >= 400 || s == 0) {
                    self.push(
                        MomentKind::NetworkError,
                        at,
                        t.url.clone(),
                        None,
                        base.clone(),
                    );
                }
                if t.network_duration_ms.is_some_and(|d| d >= SLOW_REQUEST_MS) {
                    self.push(MomentKind::SlowRequest, at, t.url.clone(), None, base);
                }
            }
            Kind::Navigation => self.navigation(t),
            Kind::Reload => {
                self.push(
                    MomentKind::Reload,
                    t.timestamp,
                    t.url.clone(),
                    None,
                    json!({}),
                );
            }
            Kind::Custom => {
                let tag = t.custom_tag.clone().unwrap_or_default();
                if tag == "$exception" {
                    self.push(
                        MomentKind::Exception,
                        t.timestamp,
                        t.url.clone(),
                        None,
                        json!({"message": "$exception"}),
                    );
                    self.error_after_click(t.timestamp, "$exception");
                } else if self.config.custom_tags.contains(&tag) {
                    self.push(
                        MomentKind::Custom,
                        t.timestamp,
                        t.url.clone(),
                        None,
                        json!({"tag": tag}),
                    );
                }
            }
            _ => {}
        }
    }

    fn error_after_click(&mut self, at: i64, msg: &str) {
        while self
            .recent
            .front()
            .is_some_and(|(c, _)| at - c.at > ERROR_CLICK_MS)
        {
            self.recent.pop_front();
        }
        if let Some((c, used)) = self
            .recent
            .iter_mut()
            .rev()
            .find(|(c, u)| !*u && c.at <= at)
        {
            *used = true;
            let c = c.clone();
            self.push(
                MomentKind::ErrorClick,
                c.at,
                c.url,
                c.target,
                json!({"message": msg, "error_after_ms": at - c.at}),
            );
        }
    }

    fn click(&mut self, t: &TimelineEvent, dom: &Dom) {
        let c = Click {
            at: t.timestamp,
            x: t.x.unwrap_or(f64::NAN),
            y: t.y.unwrap_or(f64::NAN),
            target: t.target.clone(),
            url: t.url.clone(),
        };
        let facts = t
            .target
            .as_ref()
            .map(|g| click_facts(dom, g.id))
            .unwrap_or_default();
        if let Some(form) = facts.submits {
            let f = crate::timeline::selector(dom, form);
            self.push(
                MomentKind::FormSubmit,
                c.at,
                c.url.clone(),
                c.target.clone(),
                json!({"form": f}),
            );
        }
        // Rage: clicks within RAGE_WINDOW_MS and RAGE_RADIUS_PX of the run's first click.
        let joins = self.run.as_ref().is_some_and(|r| {
            let f = &r.clicks[0];
            c.at - f.at <= RAGE_WINDOW_MS
                && ((c.x - f.x).powi(2) + (c.y - f.y).powi(2)).sqrt() <= RAGE_RADIUS_PX
        });
        if !joins {
            self.flush_run();
            self.runs += 1;
            self.run = Some(RageRun {
                clicks: Vec::new(),
                rage: false,
                run: self.runs,
            });
        }
        let run = self.run.as_mut().expect("a run");
        run.clicks.push(c.clone());
        let run_id = run.run;
        if !run.rage && run.clicks.len() >= RAGE_CLICKS {
            run.rage = true;
            self.pending.retain(|p| p.run != run_id);
        }
        let in_rage = self.run.as_ref().is_some_and(|r| r.rage);
        if !in_rage && facts.interactive && !facts.field {
            self.pending.push_back(Pending {
                click: c.clone(),
                run: run_id,
            });
            if self.pending.len() > 100 {
                self.pending.pop_front();
            }
        }
        self.recent.push_back((c, false));
        if self.recent.len() > 50 {
            self.recent.pop_front();
        }
    }

    fn flush_run(&mut self) {
        if let Some(r) = self.run.take() {
            if r.rage {
                let f = &r.clicks[0];
                let last = r.clicks.last().expect("non-empty");
                self.push(
                    MomentKind::RageClick,
                    f.at,
                    f.url.clone(),
                    f.target.clone(),
                    json!({"clicks": r.clicks.len(), "duration_ms": last.at - f.at}),
                );
            }
        }
    }

    fn navigation(&mut self, t: &TimelineEvent) {
        let Some(to) = t.url.clone() else { return };
        let from = self.last_url.clone();
        // The window's first page is not a navigation moment.
        if let Some(from) = from {
            self.push(
                MomentKind::Navigation,
                t.timestamp,
                Some(to.clone()),
                None,
                json!({"from": from}),
            );
        }
        if self.pages.len() < MAX_PAGES {
            self.pages.push((t.timestamp, to.clone()));
        }
        self.last_url = Some(to);
    }

    /// End of the window: settle what is still open.
    pub fn finish(&mut self) {
        self.flush_run();
        let last = self.last.unwrap_or(i64::MIN);
        while let Some(p) = self.pending.pop_front() {
            // Dead only if the recording went on long enough to know.
            if last >= p.click.at + DEAD_CLICK_MS {
                self.dead(p.click);
            }
        }
    }
}
