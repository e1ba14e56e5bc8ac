//! The timeline: a streaming walk over one window's events producing the *meaningful* events,
//! with click/input/scroll targets resolved through the window's virtual DOM.
//!
//! ```no_run
//! # fn demo(session: &reel_format::Session) {
//! use reel_insight::timeline::{TimelineEvent, WindowTimeline};
//! for w in &session.windows {
//!     let mut walk = WindowTimeline::new(&session.id, &w.id);
//!     let mut out: Vec<TimelineEvent> = Vec::new();
//!     for e in &w.events {
//!         walk.observe(e, &mut out);
//!         for t in out.drain(..) {
//!             println!("{} {:?} {:?}", t.timestamp, t.kind, t.target.map(|t| t.selector));
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! Events come out window by window, in the window's (time) order; one input event may give
//! several timeline events (a network plugin event lists many requests) or none (mouse moves,
//! mutations, style sheets…: they change the DOM or the cursor but are not "meaningful").
//! [`session_timeline`] and [`package_timeline`] walk a whole session.
//!
//! Memory: one [`reel_dom::Dom`] per window being walked (the current page) and the current URL.
//! Texts are taken as stored: text the recorder masked stays masked; input values are the
//! recorded ones (`maskAllInputs` makes them `*`).
use reel_dom::{Dom, NodeData, NodeId};
use reel_format::event::{Detail, EventType, IncrementalSource, MouseInteraction};
use reel_format::package::PackageReader;
use reel_format::{Event, Limits, Session};
use serde::{Deserialize, Serialize};

/// Longest target text kept (characters), after trimming and collapsing white space.
pub const MAX_TEXT: usize = 200;
/// Longest console message kept (characters).
pub const MAX_MESSAGE: usize = 1000;
/// Longest URL kept (characters).
pub const MAX_URL: usize = 2000;

/// What a [`TimelineEvent`] is. Names are stable (`snake_case` in JSON; Parquet's events table
/// uses the DOM's names, `dblclick` and `contextmenu`, see docs/parquet.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A FullSnapshot: the page was (re)built.
    FullSnapshot,
    /// The page's URL changed (a Meta event with a new `href`, PostHog's `$pageview` /
    /// `$url_changed` custom events). `url` is the new URL.
    Navigation,
    /// The same URL was loaded again: a Meta event with the same `href`, and the next
    /// FullSnapshot's node ids started again (a new document, not a re-snapshot).
    Reload,
    /// The viewport was resized: `x` is the new width, `y` the new height.
    Viewport,
    Click,
    DblClick,
    ContextMenu,
    /// A value typed or chosen: `input_value` as stored (`true`/`false` for checkboxes).
    Input,
    /// A scroll of the page or an element: `x`, `y` are the scroll offsets.
    Scroll,
    /// A console plugin (`rrweb/console@1`) entry.
    Console,
    /// One request of a network plugin (`rrweb/network@1`) event.
    Network,
    /// A custom event (`custom_tag`), other than PostHog's `$pageview`/`$url_changed`.
    #[default]
    Custom,
}

impl Kind {
    /// The stable name (`click`, `full_snapshot`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::FullSnapshot => "full_snapshot",
            Kind::Navigation => "navigation",
            Kind::Reload => "reload",
            Kind::Viewport => "viewport",
            Kind::Click => "click",
            Kind::DblClick => "dbl_click",
            Kind::ContextMenu => "context_menu",
            Kind::Input => "input",
            Kind::Scroll => "scroll",
            Kind::Console => "console",
            Kind::Network => "network",
            Kind::Custom => "custom",
        }
    }
}

/// The element an event happened on, as the recording shows it at that moment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Target {
    /// rrweb node id.
    pub id: i64,
    /// Lower-case tag name (empty when the node was not in the DOM).
    pub tag: String,
    /// A short CSS path: `form#login > button.primary` (at most 4 levels; stops at an id).
    pub selector: String,
    /// Visible text as stored (masked text stays masked), white space collapsed, at most
    /// [`MAX_TEXT`] characters; for buttons made of `<input>` their `value`, for images `alt`,
    /// else `aria-label`/`title` when there is no text.
    pub text: String,
}

/// One meaningful event of a window. Fields that do not apply to a kind are `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub session_id: String,
    pub window_id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub kind: Kind,
    /// The window's page URL at this moment (after the change, for navigations).
    pub url: Option<String>,
    /// Pointer position (clicks), scroll offset (scrolls), or width (viewport).
    pub x: Option<f64>,
    /// Pointer position (clicks), scroll offset (scrolls), or height (viewport).
    pub y: Option<f64>,
    pub target: Option<Target>,
    /// Input events: the value as stored (`true`/`false` for checkboxes and radios).
    pub input_value: Option<String>,
    /// Console: `log`, `info`, `warn`, `error`, `debug`, `assert`, …
    pub console_level: Option<String>,
    /// Console: the arguments, decoded and joined by spaces, at most [`MAX_MESSAGE`] chars.
    pub console_message: Option<String>,
    pub network_method: Option<String>,
    pub network_url: Option<String>,
    /// HTTP status; `0` when the request failed without a response; `None` when unknown (a
    /// resource-timing entry of another origin).
    pub network_status: Option<i64>,
    pub network_duration_ms: Option<f64>,
    /// When the request started, ms since the epoch, when the recorder says (`timestamp` of the
    /// request entry); `timestamp` of the event is when the recorder wrote it down.
    pub network_start: Option<i64>,
    /// Custom events: the tag.
    pub custom_tag: Option<String>,
}

/// The walk over one window; feed it every event of the window in order.
#[derive(Debug, Clone)]
pub struct WindowTimeline {
    session_id: String,
    window_id: String,
    dom: Dom,
    url: Option<String>,
    /// A Meta event with the current URL, waiting for its FullSnapshot to tell reload from
    /// re-snapshot: (timestamp, href).
    pending_meta: Option<(i64, String)>,
    /// The document node id of the last FullSnapshot.
    last_doc_id: Option<NodeId>,
    /// A mobile recording (wireframes, no DOM): what each wireframe id is, for taps and inputs.
    wires: Option<std::collections::HashMap<i64, Target>>,
    limits: Limits,
}

impl WindowTimeline {
    pub fn new(session_id: &str, window_id: &str) -> Self {
        WindowTimeline {
            session_id: session_id.to_string(),
            window_id: window_id.to_string(),
            dom: Dom::new(),
            url: None,
            pending_meta: None,
            last_doc_id: None,
            wires: None,
            limits: Limits::default(),
        }
    }

    /// The virtual DOM as of the last event observed.
    pub fn dom(&self) -> &Dom {
        &self.dom
    }

    /// The page URL as of the last event observed.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    pub fn window_id(&self) -> &str {
        &self.window_id
    }

    fn base(&self, e: &Event, kind: Kind) -> TimelineEvent {
        TimelineEvent {
            session_id: self.session_id.clone(),
            window_id: self.window_id.clone(),
            timestamp: e.timestamp,
            kind,
            url: self.url.clone(),
            ..Default::default()
        }
    }

    /// Apply one event to the window's state and append the timeline events it makes to `out`.
    /// Events that cannot be read (odd shapes) change nothing and make nothing.
    pub fn observe(&mut self, e: &Event, out: &mut Vec<TimelineEvent>) {
        let unpacked;
        let e = if e.packed {
            match reel_format::cv::unpack(e.clone(), &self.limits) {
                Ok(x) => {
                    unpacked = x;
                    &unpacked
                }
                Err(_) => return,
            }
        } else {
            e
        };
        match e.kind {
            EventType::Meta => {
                if let Detail::Href(h) = &e.detail {
                    if self.url.as_deref() == Some(h.as_str()) {
                        self.pending_meta = Some((e.timestamp, h.clone()));
                    } else {
                        self.navigate(e, h, out);
                    }
                }
            }
            EventType::FullSnapshot => self.full_snapshot(e, out),
            EventType::IncrementalSnapshot => self.incremental(e, out),
            EventType::Custom => match &e.detail {
                Detail::Href(h) if self.url.as_deref() != Some(h.as_str()) => {
                    self.navigate(e, h, out);
                }
                Detail::Custom(tag) => {
                    let mut t = self.base(e, Kind::Custom);
                    t.custom_tag = Some(cut(tag, 200));
                    out.push(t);
                }
                _ => {}
            },
            EventType::Plugin => match &e.detail {
                Detail::Console(_) => self.console(e, out),
                Detail::Network(_) => self.network(e, out),
                _ => {}
            },
            _ => {}
        }
    }

    fn navigate(&mut self, e: &Event, href: &str, out: &mut Vec<TimelineEvent>) {
        self.url = Some(cut(href, MAX_URL));
        self.pending_meta = None;
        out.push(self.base(e, Kind::Navigation));
    }

    fn full_snapshot(&mut self, e: &Event, out: &mut Vec<TimelineEvent>) {
        if reel_format::mobile::facts(e).mobile {
            let mut wires = std::collections::HashMap::new();
            if let Ok(mut v) = e.to_value() {
                for root in reel_format::mobile::roots_mut(&mut v) {
                    reel_format::mobile::walk_mut(root, &mut |w| {
                        if let Some(t) = wire_target(w) {
                            wires.insert(t.id, t);
                        }
                    });
                }
            }
            self.wires = Some(wires);
            self.pending_meta = None;
            out.push(self.base(e, Kind::FullSnapshot));
            return;
        }
        self.wires = None;
        // The document's id is the new root's (read without a `Value` tree: the hot path).
        let Some(ch) = self.dom.apply_json(e.json()) else {
            return;
        };
        let doc = if ch.rebuilt { self.dom.root() } else { None };
        if let Some((t, _)) = self.pending_meta.take() {
            // rrweb numbers nodes from 1 in each new document; a re-snapshot of the same
            // document (checkout, recorder restart in place) continues the count.
            if let (Some(d), Some(last)) = (doc, self.last_doc_id) {
                if d <= last {
                    let mut r = self.base(e, Kind::Reload);
                    r.timestamp = t;
                    out.push(r);
                }
            }
        }
        if doc.is_some() {
            self.last_doc_id = doc;
        }
        out.push(self.base(e, Kind::FullSnapshot));
    }

    fn incremental(&mut self, e: &Event, out: &mut Vec<TimelineEvent>) {
        if self.wires.is_some() {
            return self.mobile_incremental(e, out);
        }
        match e.source {
            Some(IncrementalSource::Mutation) => {
                self.dom.apply_json(e.json());
            }
            Some(IncrementalSource::MouseInteraction) => {
                let kind = match e.detail {
                    Detail::Interaction(MouseInteraction::Click) => Kind::Click,
                    Detail::Interaction(MouseInteraction::DblClick) => Kind::DblClick,
                    Detail::Interaction(MouseInteraction::ContextMenu) => Kind::ContextMenu,
                    _ => return,
                };
                let Ok(d) = data::<Pointer>(e) else { return };
                let mut t = self.base(e, kind);
                t.x = d.x;
                t.y = d.y;
                t.target = d.id.map(|id| target(&self.dom, id as NodeId));
                out.push(t);
            }
            Some(IncrementalSource::Scroll) => {
                let Ok(d) = data::<Pointer>(e) else { return };
                let mut t = self.base(e, Kind::Scroll);
                t.x = d.x;
                t.y = d.y;
                t.target = d.id.map(|id| target(&self.dom, id as NodeId));
                out.push(t);
            }
            Some(IncrementalSource::ViewportResize) => {
                let Ok(d) = data::<Size>(e) else { return };
                let mut t = self.base(e, Kind::Viewport);
                t.x = d.width;
                t.y = d.height;
                out.push(t);
            }
            Some(IncrementalSource::Input) => {
                // The usual shape read typed (no `Value` tree); anything odd through `Value`,
                // whose lenient reading is the definition.
                let (id, value) = match data::<InputData>(e) {
                    Ok(d) => {
                        self.dom.apply_json(e.json());
                        let value = d
                            .text
                            .map(|s| cut(&s, MAX_MESSAGE))
                            .or_else(|| d.is_checked.map(|c| c.to_string()));
                        (d.id, value)
                    }
                    Err(_) => {
                        let Ok(v) = e.to_value() else { return };
                        self.dom.apply(&v);
                        let d = v.get("data");
                        let id = d.and_then(|d| d.get("id")).and_then(|i| i.as_f64());
                        let value = d.and_then(|d| {
                            d.get("text")
                                .and_then(|t| t.as_str())
                                .map(|s| cut(s, MAX_MESSAGE))
                                .or_else(|| {
                                    d.get("isChecked")
                                        .and_then(|c| c.as_bool())
                                        .map(|c| c.to_string())
                                })
                        });
                        (id, value)
                    }
                };
                let mut t = self.base(e, Kind::Input);
                t.target = id.map(|id| target(&self.dom, id as NodeId));
                t.input_value = value;
                out.push(t);
            }
            _ => {}
        }
    }

    /// A mobile recording: a touch end is a tap (a click on the wireframe under it), an input
    /// wireframe sent again with a value or checked state is an input.
    fn mobile_incremental(&mut self, e: &Event, out: &mut Vec<TimelineEvent>) {
        match e.source {
            Some(IncrementalSource::MouseInteraction)
                if e.detail == Detail::Interaction(MouseInteraction::TouchEnd) =>
            {
                let Ok(d) = data::<Pointer>(e) else { return };
                let mut t = self.base(e, Kind::Click);
                t.x = d.x;
                t.y = d.y;
                t.target =
                    d.id.and_then(|id| self.wires.as_ref()?.get(&(id as i64)).cloned());
                out.push(t);
            }
            Some(IncrementalSource::Mutation) => {
                let Ok(mut v) = e.to_value() else { return };
                let updated: Vec<i64> = v
                    .get("data")
                    .and_then(|d| d.get("updates"))
                    .and_then(|u| u.as_array())
                    .map(|u| {
                        u.iter()
                            .filter_map(|c| c.get("wireframe")?.get("id")?.as_i64())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut inputs = Vec::new();
                let wires = self.wires.get_or_insert_with(Default::default);
                for root in reel_format::mobile::roots_mut(&mut v) {
                    let top = root.get("id").and_then(|i| i.as_i64());
                    let value = input_value(root);
                    reel_format::mobile::walk_mut(root, &mut |w| {
                        if let Some(t) = wire_target(w) {
                            wires.insert(t.id, t);
                        }
                    });
                    if let (Some(id), Some(value)) = (top, value) {
                        if updated.contains(&id) {
                            inputs.push((id, value));
                        }
                    }
                }
                for (id, value) in inputs {
                    let mut t = self.base(e, Kind::Input);
                    t.target = self.wires.as_ref().and_then(|w| w.get(&id).cloned());
                    t.input_value = Some(value);
                    out.push(t);
                }
            }
            _ => {}
        }
    }

    fn console(&mut self, e: &Event, out: &mut Vec<TimelineEvent>) {
        let Ok(d) = data::<Plugin<ConsolePayload>>(e) else {
            return;
        };
        let Some(p) = d.payload else { return };
        let mut t = self.base(e, Kind::Console);
        t.console_level = p.level.map(|l| cut(&l, 20));
        t.console_message = Some(console_message(&p.payload));
        out.push(t);
    }

    fn network(&mut self, e: &Event, out: &mut Vec<TimelineEvent>) {
        let Ok(d) = data::<Plugin<NetworkPayload>>(e) else {
            return;
        };
        let Some(p) = d.payload else { return };
        for r in p.requests.into_iter().flatten().flatten() {
            let mut t = self.base(e, Kind::Network);
            t.network_method = r.method.map(|m| cut(&m, 20));
            t.network_url = r.name.map(|u| cut(&u, MAX_URL));
            // `status` comes from a wrapped fetch/XHR; `responseStatus` from the recorder's own
            // wrapper (Reel: 0 = failed) or from a PerformanceResourceTiming entry
            // (`entryType: "resource"`), where 0 only means the browser hid it (cross-origin).
            let timing_entry = r.entry_type.as_deref() == Some("resource");
            t.network_status = r
                .status
                .or(r.response_status.filter(|s| !(timing_entry && *s == 0.0)))
                .map(|s| s as i64);
            t.network_duration_ms = r.duration.or(match (r.start_time, r.end_time) {
                (Some(a), Some(b)) if b >= a => Some(b - a),
                _ => None,
            });
            // Epoch ms within a day of the event (some recorders put performance time here).
            t.network_start = r
                .timestamp
                .map(|v| v as i64)
                .filter(|v| (v - e.timestamp).abs() < 86_400_000);
            out.push(t);
        }
    }
}

/// `data` of an event, read into `T` (fields `T` does not name are skipped).
fn data<T: for<'de> Deserialize<'de> + Default>(e: &Event) -> serde_json::Result<T> {
    #[derive(Deserialize)]
    struct Env<T> {
        #[serde(default)]
        data: Option<T>,
    }
    serde_json::from_str::<Env<T>>(e.json()).map(|v| v.data.unwrap_or_default())
}

/// An Input event's `data`, strictly typed (see the `Input` arm).
#[derive(Deserialize, Default)]
struct InputData {
    id: Option<f64>,
    text: Option<String>,
    #[serde(rename = "isChecked")]
    is_checked: Option<bool>,
}

#[derive(Deserialize, Default)]
struct Pointer {
    #[serde(default, deserialize_with = "lenient")]
    id: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    x: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    y: Option<f64>,
}

#[derive(Deserialize, Default)]
struct Size {
    #[serde(default, deserialize_with = "lenient")]
    width: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    height: Option<f64>,
}

#[derive(Deserialize, Default)]
struct Plugin<P> {
    #[serde(default)]
    payload: Option<P>,
}

#[derive(Deserialize, Default)]
struct ConsolePayload {
    #[serde(default, deserialize_with = "lenient")]
    level: Option<String>,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize, Default)]
struct NetworkPayload {
    #[serde(default, deserialize_with = "lenient")]
    requests: Option<Vec<Option<Request>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default, deserialize_with = "lenient")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    method: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    status: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    response_status: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    start_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    end_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    duration: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    timestamp: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    entry_type: Option<String>,
}

/// A field of the wrong type reads as absent instead of failing the whole event.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Maybe<T> {
        Yes(T),
        No(serde::de::IgnoredAny),
    }
    Ok(match Option::<Maybe<T>>::deserialize(d)? {
        Some(Maybe::Yes(v)) => Some(v),
        _ => None,
    })
}

/// The console plugin's arguments: each is usually a JSON text (`"\"msg\""`); strings are
/// decoded once more, then joined by spaces.
fn console_message(p: &serde_json::Value) -> String {
    let one = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(serde_json::Value::String(inner)) => inner,
                _ => s.clone(),
            },
            other => other.to_string(),
        }
    };
    let text = match p {
        serde_json::Value::Array(a) => a.iter().map(one).collect::<Vec<_>>().join(" "),
        serde_json::Value::Null => String::new(),
        v => one(v),
    };
    cut(text.trim(), MAX_MESSAGE)
}

/// At most `n` characters of `s`.
/// What a mobile wireframe is, as a click or input target: `tag` its type (an input's
/// `inputType`), `selector` `type#id`, `text` its text, label or value as recorded.
fn wire_target(w: &serde_json::Map<String, serde_json::Value>) -> Option<Target> {
    let id = w.get("id")?.as_i64()?;
    let kind = w.get("type").and_then(|t| t.as_str()).unwrap_or("");
    let tag = match (kind, w.get("inputType").and_then(|t| t.as_str())) {
        ("input", Some(it)) => it,
        (k, _) => k,
    };
    let text = ["text", "label", "value"]
        .iter()
        .find_map(|k| w.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("");
    let tag = cut(tag, 40);
    Some(Target {
        id,
        selector: format!("{tag}#{id}"),
        tag,
        text: cut(
            &text.split_whitespace().collect::<Vec<_>>().join(" "),
            MAX_TEXT,
        ),
    })
}

/// An input wireframe's value as recorded (or its checked state).
fn input_value(w: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    if w.get("type").and_then(|t| t.as_str()) != Some("input") {
        return None;
    }
    match (w.get("value"), w.get("checked")) {
        (Some(serde_json::Value::String(s)), _) => Some(cut(s, MAX_MESSAGE)),
        (Some(v @ serde_json::Value::Number(_)), _) => Some(v.to_string()),
        (_, Some(serde_json::Value::Bool(b))) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// The element `id` as the DOM shows it now: tag, short selector and text. A text node's
/// element is its parent.
pub fn target(dom: &Dom, id: NodeId) -> Target {
    let mut t = Target {
        id,
        ..Default::default()
    };
    let mut el = id;
    if let Some(n) = dom.get(id) {
        if !n.is_element() {
            match dom.parent(id) {
                Some(p) => el = p,
                None => return t,
            }
        }
    } else {
        return t;
    }
    let Some(n) = dom.get(el) else { return t };
    t.tag = n.tag().unwrap_or_default().to_string();
    t.selector = selector(dom, el);
    t.text = element_text(dom, el);
    t
}

/// A short CSS path for element `id`: up to 4 levels, stopping at an ancestor with an id.
pub fn selector(dom: &Dom, id: NodeId) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(id);
    while let Some(c) = cur {
        let Some(n) = dom.get(c) else { break };
        let Some(tag) = n.tag() else { break };
        if tag == "html" || (tag == "body" && !parts.is_empty()) {
            break;
        }
        let mut s = tag.to_string();
        let ident = |v: &str| {
            !v.is_empty()
                && v.len() <= 40
                && !v.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let has_id = match n.attr("id") {
            Some(i) if ident(i) => {
                s.push('#');
                s.push_str(i);
                true
            }
            _ => false,
        };
        if !has_id {
            if let Some(cls) = n.attr("class") {
                for c in cls.split_ascii_whitespace().filter(|c| ident(c)).take(2) {
                    s.push('.');
                    s.push_str(c);
                }
            }
        }
        parts.push(s);
        if has_id || parts.len() >= 4 {
            break;
        }
        cur = dom.parent(c);
    }
    parts.reverse();
    parts.join(" > ")
}

/// Visible text of an element as stored (bounded walk), or its label-like attributes.
fn element_text(dom: &Dom, id: NodeId) -> String {
    let Some(n) = dom.get(id) else {
        return String::new();
    };
    let tag = n.tag().unwrap_or_default();
    if tag == "input" {
        let ty = n.attr("type").unwrap_or("text").to_ascii_lowercase();
        if matches!(ty.as_str(), "button" | "submit" | "reset") {
            if let Some(v) = n.attr("value") {
                return tidy(v);
            }
        }
    }
    let mut out = String::new();
    let mut stack = vec![id];
    let mut visited = 0;
    while let Some(c) = stack.pop() {
        visited += 1;
        if visited > 2000 || out.chars().count() > MAX_TEXT * 2 {
            break;
        }
        let Some(n) = dom.get(c) else { continue };
        match &n.data {
            NodeData::Text { text, is_style } if !is_style => {
                out.push_str(text);
                out.push(' ');
            }
            NodeData::Element { tag, .. } if tag == "script" || tag == "style" => {}
            NodeData::Element { .. } => {
                let kids = dom.children(c);
                stack.extend(kids.into_iter().rev());
            }
            _ => {}
        }
    }
    let t = tidy(&out);
    if !t.is_empty() {
        return t;
    }
    for a in ["aria-label", "alt", "title", "placeholder", "name"] {
        if let Some(v) = n.attr(a) {
            let v = tidy(v);
            if !v.is_empty() {
                return v;
            }
        }
    }
    String::new()
}

/// Trimmed, white space collapsed, at most [`MAX_TEXT`] characters.
fn tidy(s: &str) -> String {
    let mut out = String::new();
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
        if out.len() > MAX_TEXT * 4 {
            break;
        }
    }
    cut(&out, MAX_TEXT)
}

/// Every timeline event of an in-memory session, window by window.
pub fn session_timeline(s: &Session) -> impl Iterator<Item = TimelineEvent> + '_ {
    s.windows.iter().flat_map(move |w| {
        let mut walk = WindowTimeline::new(&s.id, &w.id);
        let mut buf = Vec::new();
        w.events.iter().flat_map(move |e| {
            walk.observe(e, &mut buf);
            std::mem::take(&mut buf)
        })
    })
}

/// Stream the timeline of one session of a package into `f`, window by window (each window's
/// events are read from the package as they are walked; nothing else is kept). Each window's
/// checksum is checked against the manifest after its last event (an error then: the window's
/// events already given to `f` came from a damaged file).
pub fn package_timeline<R: std::io::Read + std::io::Seek>(
    r: &mut PackageReader<R>,
    session_id: &str,
    mut f: impl FnMut(TimelineEvent) -> reel_format::Result<()>,
) -> reel_format::Result<()> {
    let meta = r.session_meta(session_id)?;
    for w in &meta.windows {
        let mut walk = WindowTimeline::new(session_id, &w.id);
        let mut buf = Vec::new();
        r.for_each_event_checked(&w.path, |e| {
            walk.observe(&e, &mut buf);
            for t in buf.drain(..) {
                f(t)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}
