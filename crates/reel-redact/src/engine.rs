//! The redaction engine: compiled rules ([`Redactor`]) and per-window state ([`WindowRedactor`]).
//!
//! ## How DOM rules follow the page
//! Each window keeps a [`reel_dom::Dom`] fed with the *original* events, so selectors see the page
//! as it really was (classes, attributes, structure). Every element's own matches (`block`,
//! `mask_text`, `mask_inputs` selectors, `remove_attributes`) are evaluated when it is added and
//! again when its attributes (or an ancestor's) change. Matches are **sticky**: once an element
//! matched, it stays redacted until it is removed or a new FullSnapshot arrives.
//!
//! An element that *comes to match later* (a class added by a mutation) gets synthetic changes in
//! the same Mutation event, so the replay stops showing its content from that moment:
//! * `block`: its children are removed (`removes` entries) and its attributes other than
//!   `class`/`style` are cleared; later adds, texts, attributes and inputs under it are dropped;
//! * `mask_text` / `mask_inputs` / `remove_attributes`: masked `texts` entries and masked or
//!   cleared `attributes` entries are appended for what is already on the page.
//!
//! What was shown *before* the element matched stays as it was recorded (the recording really
//! showed it then); use a selector that matches from the start (e.g. a marker class present in the
//! snapshot, or a broader selector) to cover it.
use crate::patterns::{is_masked, mask, mask_ranges, PatternSet};
use crate::report::{Counts, RulesInfo, SessionReport, Totals};
use crate::rules::{Located, Rules, RulesError};
use reel_dom::{Dom, NodeData, NodeId, Selector};
use reel_format::{Event, EventType, IncrementalSource, Session};
use serde_json::{Map, Value};
/// Maps and sets keyed by node ids from the recording: foldhash (fast, seeded per process, so ids
/// chosen by a hostile recording cannot be aimed at collisions in advance) instead of SipHash,
/// which took ~10 % of selector-rule redaction.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::Arc;

/// Attributes that carry text a person reads; masked with the text of `mask_text` elements.
const TEXT_ATTRS: &[&str] = &[
    "alt",
    "title",
    "placeholder",
    "aria-label",
    "aria-description",
    "aria-valuetext",
    "label",
    "value",
];
const MEDIA_TAGS: &[&str] = &[
    "img", "image", "source", "video", "audio", "picture", "track", "embed", "object",
];
const MEDIA_ATTRS: &[&str] = &[
    "src",
    "srcset",
    "rr_dataurl",
    "poster",
    "href",
    "xlink:href",
    "data",
];
const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "action",
    "srcset",
    "poster",
    "data",
    "formaction",
    "cite",
];

/// A rules set compiled for use: selectors parsed, regexes built.
#[derive(Clone)]
pub struct Redactor {
    c: Arc<Compiled>,
}

struct Compiled {
    rules: Rules,
    info: RulesInfo,
    mask_text: Vec<Selector>,
    block: Vec<Selector>,
    rm_attrs: Vec<(Selector, Vec<String>)>,
    input_all: bool,
    input_types: Vec<String>,
    input_sel: Vec<Selector>,
    patterns: PatternSet,
    query_params: Vec<String>,
    block_images: bool,
    blank_canvas: bool,
    drop_headers: Vec<String>,
    drop_bodies: Vec<regex::Regex>,
    mask_bodies: Vec<regex::Regex>,
    drop_person: bool,
    hash_distinct_id: bool,
    key: Vec<u8>,
    needs_dom: bool,
    sibling_sensitive: bool,
}

/// Errors while redacting (the input event could not be read back).
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("{0}")]
    Format(#[from] reel_format::Error),
}

fn selector(text: Option<&str>, what: &str, s: &Located) -> Result<Selector, RulesError> {
    Selector::parse(s.get_ref())
        .map_err(|e| RulesError::at(text, s.span(), format!("{what}: {}", e)))
}

impl Redactor {
    /// Compile rules. `text` is the rules file's source, used to name lines in errors.
    pub fn compile(rules: Rules, text: Option<&str>) -> Result<Redactor, RulesError> {
        let sel = |what: &str, v: &[Located]| -> Result<Vec<Selector>, RulesError> {
            v.iter().map(|s| selector(text, what, s)).collect()
        };
        let mask_text = sel("mask_text", &rules.mask_text)?;
        let block = sel("block", &rules.block)?;
        let rm_attrs = rules
            .remove_attributes
            .iter()
            .map(|r| {
                Ok((
                    selector(text, "remove_attributes", &r.selector)?,
                    r.attributes
                        .iter()
                        .map(|a| a.to_ascii_lowercase())
                        .collect(),
                ))
            })
            .collect::<Result<Vec<_>, RulesError>>()?;
        let input_sel = sel("mask_inputs.selectors", &rules.mask_inputs.selectors)?;
        let patterns = PatternSet::compile(&rules, text)?;
        let url_re = |what: &str, v: &[Located]| -> Result<Vec<regex::Regex>, RulesError> {
            v.iter()
                .map(|s| {
                    regex::Regex::new(s.get_ref()).map_err(|e| {
                        RulesError::at(
                            text,
                            s.span(),
                            format!(
                                "{what}: bad regex: {}",
                                e.to_string().lines().last().unwrap_or("").trim()
                            ),
                        )
                    })
                })
                .collect()
        };
        let drop_bodies = url_re("network.drop_bodies", &rules.network.drop_bodies)?;
        let mask_bodies = url_re("network.mask_bodies", &rules.network.mask_bodies)?;
        let key = match rules
            .metadata
            .hash_key
            .clone()
            .or_else(|| std::env::var("REEL_REDACT_KEY").ok())
        {
            Some(k) if !k.is_empty() => k.into_bytes(),
            _ => {
                use rand_key::random_key;
                random_key()
            }
        };
        let mut applied = Vec::new();
        applied.extend(rules.block.iter().map(|s| format!("block {}", s.get_ref())));
        applied.extend(
            rules
                .mask_text
                .iter()
                .map(|s| format!("mask_text {}", s.get_ref())),
        );
        applied.extend(rules.remove_attributes.iter().map(|r| {
            format!(
                "remove_attributes {} [{}]",
                r.selector.get_ref(),
                r.attributes.join(",")
            )
        }));
        if rules.mask_inputs.all {
            applied.push("mask_inputs all".into());
        }
        applied.extend(
            rules
                .mask_inputs
                .types
                .iter()
                .map(|t| format!("mask_inputs type {t}")),
        );
        applied.extend(
            rules
                .mask_inputs
                .selectors
                .iter()
                .map(|s| format!("mask_inputs selector {}", s.get_ref())),
        );
        applied.extend(
            patterns
                .patterns
                .iter()
                .map(|p| format!("pattern {}", p.name)),
        );
        applied.extend(
            rules
                .urls
                .query_params
                .iter()
                .map(|q| format!("query_param {q}")),
        );
        if rules.media.block_images {
            applied.push("media.block_images".into());
        }
        if rules.media.blank_canvas {
            applied.push("media.blank_canvas".into());
        }
        applied.extend(
            rules
                .network
                .drop_headers
                .iter()
                .map(|h| format!("network.drop_headers {h}")),
        );
        applied.extend(
            rules
                .network
                .drop_bodies
                .iter()
                .map(|h| format!("network.drop_bodies {}", h.get_ref())),
        );
        applied.extend(
            rules
                .network
                .mask_bodies
                .iter()
                .map(|h| format!("network.mask_bodies {}", h.get_ref())),
        );
        if rules.metadata.drop_person {
            applied.push("metadata.drop_person".into());
        }
        if rules.metadata.hash_distinct_id {
            applied.push("metadata.hash_distinct_id".into());
        }
        let all_sel = mask_text
            .iter()
            .chain(&block)
            .chain(&input_sel)
            .chain(rm_attrs.iter().map(|r| &r.0));
        let sibling_sensitive = all_sel.clone().any(|s| s.depends_on_siblings());
        let needs_dom = !mask_text.is_empty()
            || !block.is_empty()
            || !rm_attrs.is_empty()
            || rules.mask_inputs.all
            || !rules.mask_inputs.types.is_empty()
            || !input_sel.is_empty()
            || rules.media.block_images
            || rules.media.blank_canvas;
        let info = RulesInfo {
            name: rules.display_name(),
            sha256: rules.sha256(),
            applied,
        };
        Ok(Redactor {
            c: Arc::new(Compiled {
                info,
                mask_text,
                block,
                rm_attrs,
                input_all: rules.mask_inputs.all,
                input_types: rules
                    .mask_inputs
                    .types
                    .iter()
                    .map(|t| t.to_ascii_lowercase())
                    .collect(),
                input_sel,
                patterns,
                query_params: rules
                    .urls
                    .query_params
                    .iter()
                    .map(|q| q.to_ascii_lowercase())
                    .collect(),
                block_images: rules.media.block_images,
                blank_canvas: rules.media.blank_canvas,
                drop_headers: rules
                    .network
                    .drop_headers
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                drop_bodies,
                mask_bodies,
                drop_person: rules.metadata.drop_person,
                hash_distinct_id: rules.metadata.hash_distinct_id,
                key,
                needs_dom,
                sibling_sensitive,
                rules,
            }),
        })
    }

    /// Compile a rules file's text (TOML).
    pub fn from_toml(text: &str) -> Result<Redactor, RulesError> {
        Redactor::compile(Rules::from_toml(text)?, Some(text))
    }

    /// A preset: `default` or `strict`.
    pub fn preset(name: &str) -> Result<Redactor, RulesError> {
        let r = Rules::preset(name).ok_or_else(|| {
            RulesError::new(format!(
                "no preset {name:?} (use \"default\" or \"strict\")"
            ))
        })?;
        Redactor::compile(r, None)
    }

    pub fn rules(&self) -> &Rules {
        &self.c.rules
    }
    pub fn info(&self) -> &RulesInfo {
        &self.c.info
    }

    /// The value for the manifest's `redaction` field.
    pub fn manifest_entry(&self, at: &str) -> Value {
        serde_json::json!({
            "redacted": true,
            "at": at,
            "rules": self.c.info.name,
            "rules_sha256": self.c.info.sha256,
            "report": "redaction-report.json",
        })
    }

    /// State for one window's events, fed in time order (keep it between batches of a window).
    /// Whether the rules follow the page (selectors, inputs, media): then a window's redactor
    /// keeps state from one event to the next.
    pub fn needs_dom(&self) -> bool {
        self.c.needs_dom
    }

    pub fn window(&self) -> WindowRedactor {
        WindowRedactor {
            c: self.c.clone(),
            dom: Dom::new(),
            own: HashMap::default(),
            counts: Counts::default(),
            totals: Totals::default(),
            mask: 0,
        }
    }

    /// Redact a session's facts: person properties, distinct id.
    pub fn session_facts(
        &self,
        distinct_id: &mut Option<String>,
        person: &mut Option<Value>,
        extra: &mut Map<String, Value>,
        counts: &mut Counts,
    ) {
        if self.c.drop_person && person.take().is_some() {
            counts.add("metadata.drop_person", "metadata", 1);
        }
        if self.c.hash_distinct_id {
            if let Some(d) = distinct_id.as_mut() {
                *d = self.hash_id(d);
                counts.add("metadata.hash_distinct_id", "metadata", 1);
            }
        }
        for v in extra.values_mut() {
            self.source_facts(v, counts);
        }
    }

    /// Free text people wrote about a recording (a comment): every text pattern and masked query
    /// parameter, as text inside an event gets them (selectors do not apply: there is no DOM).
    /// True when something was masked.
    pub fn free_text(&self, s: &mut String, counts: &mut Counts) -> bool {
        scrub_str(&self.c, u64::MAX, s, "comment", counts)
    }

    /// What an importer kept of the source's listing (`meta.json`'s `posthog`, `sentry`, …
    /// sections) gets the same treatment as the session's own facts: `person` (PostHog) and
    /// `user` (Sentry) objects dropped with `drop_person`, `distinct_id`s hashed with
    /// `hash_distinct_id`, and every URL (keys containing `url`) through the page-URL rules.
    fn source_facts(&self, v: &mut Value, counts: &mut Counts) {
        match v {
            Value::Object(o) => {
                if self.c.drop_person {
                    for k in ["person", "user", "person_properties"] {
                        if o.remove(k).is_some_and(|p| !p.is_null()) {
                            counts.add("metadata.drop_person", "metadata", 1);
                        }
                    }
                }
                for (k, x) in o.iter_mut() {
                    match x {
                        Value::String(s) if k == "distinct_id" && self.c.hash_distinct_id => {
                            *s = self.hash_id(s);
                            counts.add("metadata.hash_distinct_id", "metadata", 1);
                        }
                        _ if k.contains("url") => self.urls_in(x),
                        _ => self.source_facts(x, counts),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.source_facts(x, counts)),
            _ => {}
        }
    }

    fn urls_in(&self, v: &mut Value) {
        match v {
            Value::String(s) => match self.page_url(s) {
                Some(u) => *s = u,
                None => *v = Value::Null,
            },
            Value::Array(a) => a.iter_mut().for_each(|x| self.urls_in(x)),
            _ => {}
        }
    }

    /// A page URL through these rules, the way they treat a recorded page URL (a Meta event's
    /// `href`: URL patterns, query parameters). `None` when the rules drop it or cannot process it.
    pub fn page_url(&self, url: &str) -> Option<String> {
        let meta = serde_json::json!({"type": 4, "timestamp": 1, "data": {"href": url, "width": 0, "height": 0}});
        let e = Event::parse(meta.to_string()).ok()?;
        match self.window().event(e) {
            Ok(Some(out)) => match out.detail {
                reel_format::event::Detail::Href(h) => Some(h),
                _ => None,
            },
            _ => None,
        }
    }

    /// `h:` + the first 32 hex chars of HMAC-SHA256(key, id).
    pub fn hash_id(&self, id: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.c.key).expect("any key size");
        m.update(id.as_bytes());
        format!("h:{}", &hex::encode(m.finalize().into_bytes())[..32])
    }

    /// Redact a whole in-memory session (every window, and its facts).
    pub fn session(&self, s: &mut Session) -> Result<SessionReport, RedactError> {
        let mut rep = SessionReport {
            id: s.id.clone(),
            ..Default::default()
        };
        self.session_facts(
            &mut s.distinct_id,
            &mut s.person,
            &mut s.extra,
            &mut rep.counts,
        );
        for w in &mut s.windows {
            let mut wr = self.window();
            let mut out = Vec::with_capacity(w.events.len());
            for e in std::mem::take(&mut w.events) {
                if let Some(e) = wr.event(e)? {
                    out.push(e);
                }
            }
            w.events = out;
            rep.counts.merge(&wr.counts);
            rep.totals.merge(&wr.totals);
        }
        Ok(rep)
    }
}

mod rand_key {
    /// 32 random bytes from the operating system, for runs without a configured key.
    pub fn random_key() -> Vec<u8> {
        use rand::RngCore;
        let mut k = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    }
}

/// Own matches of one element (indexes are rule index + 1; 0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Own {
    block: u16,
    mask: u16,
    input: bool,
    /// Bit i: remove_attributes rule i matched (first 64 rules).
    rm: u64,
}

impl Own {
    fn any(&self) -> bool {
        self.block != 0 || self.mask != 0 || self.input || self.rm != 0
    }
    fn union(self, o: Own) -> Own {
        Own {
            block: if self.block != 0 { self.block } else { o.block },
            mask: if self.mask != 0 { self.mask } else { o.mask },
            input: self.input || o.input,
            rm: self.rm | o.rm,
        }
    }
}

/// What applies to a node from itself and its ancestors.
#[derive(Debug, Clone, Copy, Default)]
struct Eff {
    /// Inside a blocked element (strict ancestor): the node is not in the replay at all.
    hidden: bool,
    /// The node itself is blocked: it becomes a placeholder.
    block: u16,
    mask: u16,
    input: bool,
    rm: u64,
}

impl Eff {
    fn child(self, own: Own) -> Eff {
        Eff {
            hidden: self.hidden || self.block != 0,
            block: own.block,
            mask: if own.mask != 0 { own.mask } else { self.mask },
            input: self.input || own.input,
            rm: self.rm | own.rm,
        }
    }
}

/// Per-window redaction state: the DOM of the original page and the counts so far.
pub struct WindowRedactor {
    c: Arc<Compiled>,
    dom: Dom,
    own: HashMap<NodeId, Own>,
    /// Redactions done so far in this window.
    pub counts: Counts,
    pub totals: Totals,
    /// Patterns that may match somewhere in the current event (bit i: pattern i).
    mask: u64,
}

fn num(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

impl WindowRedactor {
    /// The DOM of the original (unredacted) page at the last event.
    pub fn dom(&self) -> &Dom {
        &self.dom
    }

    /// An estimate of the memory this window's state holds, bytes (for memory budgets).
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.dom.approx_bytes()
            + self.own.capacity() * (std::mem::size_of::<(NodeId, Own)>() + 8)
    }

    /// Redact one event. `None`: the event must be dropped.
    pub fn event(&mut self, e: Event) -> Result<Option<Event>, RedactError> {
        let len = e.json().len() as u64;
        self.totals.events_in += 1;
        self.totals.bytes_in += len;
        let out = self.event_inner(e)?;
        match &out {
            Some(o) => {
                self.totals.events_out += 1;
                self.totals.bytes_out += o.json().len() as u64;
            }
            None => self.totals.events_dropped += 1,
        }
        Ok(out)
    }

    fn event_inner(&mut self, e: Event) -> Result<Option<Event>, RedactError> {
        let c = self.c.clone();
        if e.packed {
            // A packing this version cannot open: nothing in it can be checked.
            self.counts.add("undecodable packed event", "event", 1);
            return Ok(None);
        }
        if reel_format::mobile::facts(&e).mobile {
            return self.mobile_event(e);
        }
        let dom_event = c.needs_dom
            && (e.kind == EventType::FullSnapshot
                || matches!(
                    e.source,
                    Some(IncrementalSource::Mutation) | Some(IncrementalSource::Input)
                ));
        if c.blank_canvas && e.source == Some(IncrementalSource::CanvasMutation) {
            self.counts.add("media.blank_canvas", "canvas", 1);
            return Ok(None);
        }
        let network = e.kind == EventType::Plugin
            && matches!(e.detail, reel_format::event::Detail::Network(_))
            && (!c.drop_headers.is_empty()
                || !c.drop_bodies.is_empty()
                || !c.mask_bodies.is_empty());
        let mut spans = Vec::new();
        self.mask = if dom_event || network {
            c.patterns.candidates(e.json().as_bytes())
        } else {
            c.patterns
                .candidate_spans(e.json().as_bytes(), Some(&mut spans))
        };
        if !dom_event && !network && self.mask == 0 {
            self.totals.events_untouched += 1;
            return Ok(Some(e));
        }
        if !dom_event && !network && !spans.is_empty() {
            // Patterns only: rewrite just the string literals holding candidates, on the raw text.
            let mut counts = std::mem::take(&mut self.counts);
            let out = rewrite_raw(
                &c,
                self.mask,
                e.json(),
                &mut spans,
                field_of(&e),
                &mut counts,
            );
            self.counts = counts;
            return Ok(Some(match out {
                Some(text) => {
                    self.totals.events_changed += 1;
                    Event::parse(text)?
                }
                None => e,
            }));
        }
        let mut v = e.to_value()?;
        let field = field_of(&e);
        let before = self.counts.total();
        let mut keep = true;
        let changed = if dom_event {
            match e.kind {
                EventType::FullSnapshot => self.snapshot(&mut v),
                _ if e.source == Some(IncrementalSource::Mutation) => self.mutation(&mut v),
                _ => {
                    let (k, ch) = self.input(&mut v);
                    keep = k;
                    ch
                }
            }
        } else if network {
            self.network(&mut v)
        } else {
            let mut counts = std::mem::take(&mut self.counts);
            let ch = scrub(&c, self.mask, &mut v, field, &mut counts);
            self.counts = counts;
            ch
        };
        if !keep {
            return Ok(None);
        }
        if !changed && self.counts.total() == before {
            return Ok(Some(e));
        }
        self.totals.events_changed += 1;
        let text = reel_format::json::to_string(&v);
        Ok(Some(Event::parse(text)?))
    }

    // ---- matching --------------------------------------------------------------------------

    fn eval_own(&self, id: NodeId) -> Own {
        let c = &self.c;
        let dom = &self.dom;
        let first = |v: &[Selector]| {
            v.iter()
                .position(|s| dom.matches(id, s))
                .map(|i| (i + 1) as u16)
                .unwrap_or(0)
        };
        let mut rm = 0u64;
        for (i, (s, _)) in c.rm_attrs.iter().enumerate().take(64) {
            if dom.matches(id, s) {
                rm |= 1 << i;
            }
        }
        Own {
            block: first(&c.block),
            mask: first(&c.mask_text),
            input: c.input_sel.iter().any(|s| dom.matches(id, s)),
            rm,
        }
    }

    fn own(&self, id: NodeId) -> Own {
        self.own.get(&id).copied().unwrap_or_default()
    }

    /// Effects on `id` from itself and its ancestors (from the DOM as it is now).
    fn eff(&self, id: NodeId) -> Eff {
        let mut chain: Vec<NodeId> = self.dom.ancestors(id).map(|n| n.id).collect();
        chain.reverse();
        let mut e = Eff::default();
        for a in chain {
            e = e.child(self.own(a));
        }
        e.child(self.own(id))
    }

    /// Evaluate every element of the subtree at `id` afresh (nodes just added).
    fn evaluate_fresh(&mut self, id: NodeId) {
        for n in self.dom.subtree(id) {
            if !self.dom.get(n).is_some_and(|x| x.is_element()) {
                continue;
            }
            let o = self.eval_own(n);
            if o.any() {
                self.own.insert(n, o);
            } else {
                self.own.remove(&n);
            }
        }
    }

    /// Re-evaluate a subtree after a change, keeping earlier matches (sticky). Returns elements
    /// that gained a match, with what they gained.
    fn reevaluate(&mut self, id: NodeId, skip: &HashSet<NodeId>, gained: &mut Vec<(NodeId, Own)>) {
        for n in self.dom.subtree(id) {
            if skip.contains(&n) || !self.dom.get(n).is_some_and(|x| x.is_element()) {
                continue;
            }
            let old = self.own(n);
            let new = self.eval_own(n);
            let merged = old.union(new);
            if merged != old {
                self.own.insert(n, merged);
                let g = Own {
                    block: if old.block == 0 { merged.block } else { 0 },
                    mask: if old.mask == 0 { merged.mask } else { 0 },
                    input: merged.input && !old.input,
                    rm: merged.rm & !old.rm,
                };
                if g.any() && !gained.iter().any(|(x, _)| *x == n) {
                    gained.push((n, g));
                }
            }
        }
    }

    fn input_masked(&self, id: NodeId, eff: &Eff) -> bool {
        let Some(n) = self.dom.get(id) else {
            return false;
        };
        let tag = n.tag().unwrap_or("");
        if !matches!(tag, "input" | "textarea" | "select") {
            return false;
        }
        if self.c.input_all || eff.input {
            return true;
        }
        let ty = match tag {
            "input" => n.attr("type").unwrap_or("text").to_ascii_lowercase(),
            t => t.to_string(),
        };
        self.c.input_types.contains(&ty)
    }

    fn rule_name(&self, kind: &str, idx: u16) -> String {
        let list = if kind == "block" {
            &self.c.rules.block
        } else {
            &self.c.rules.mask_text
        };
        match list.get(idx as usize - 1) {
            Some(s) => format!("{kind} {}", s.get_ref()),
            None => kind.to_string(),
        }
    }

    fn rm_names(&self, rm: u64) -> Vec<(usize, &[String])> {
        self.c
            .rm_attrs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && rm & (1 << i) != 0)
            .map(|(i, (_, a))| (i, a.as_slice()))
            .collect()
    }

    // ---- events ------------------------------------------------------------------------------

    fn snapshot(&mut self, v: &mut Value) -> bool {
        self.dom.apply(v);
        self.own.clear();
        if let Some(root) = self.dom.root() {
            self.evaluate_fresh(root);
        }
        let mut counts = std::mem::take(&mut self.counts);
        let mut changed = false;
        if let Some(node) = v.get_mut("data").and_then(|d| d.get_mut("node")) {
            changed = self.rewrite_node(node, Eff::default(), None, &mut counts);
        }
        // Strings outside the node tree (none in rrweb today) still get patterns.
        self.counts = counts;
        changed
    }

    /// Rewrite a serialized node (and its children) for the replay. `parent_tag` is the tag of
    /// the element it hangs under.
    fn rewrite_node(
        &self,
        node: &mut Value,
        parent: Eff,
        parent_tag: Option<&str>,
        counts: &mut Counts,
    ) -> bool {
        let Some(o) = node.as_object_mut() else {
            return false;
        };
        let id = o.get("id").and_then(num).unwrap_or(i64::MIN);
        let eff = parent.child(self.own(id));
        let mut changed = false;
        match o.get("type").and_then(num) {
            Some(2) => {
                let tag = o
                    .get("tagName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if eff.block != 0 {
                    placeholder(o);
                    counts.add(&self.rule_name("block", eff.block), "element", 1);
                    return true;
                }
                if let Some(Value::Object(attrs)) = o.get_mut("attributes") {
                    changed |= self.rewrite_attrs(id, &tag, attrs, &eff, counts);
                }
                if let Some(Value::Array(kids)) = o.get_mut("childNodes") {
                    for k in kids {
                        changed |= self.rewrite_node(k, eff, Some(&tag), counts);
                    }
                }
            }
            Some(3) | Some(5) => {
                let is_style = o.get("isStyle").and_then(Value::as_bool).unwrap_or(false)
                    || matches!(parent_tag, Some("style") | Some("script"));
                if let Some(Value::String(t)) = o.get_mut("textContent") {
                    changed |= self.rewrite_text(id, t, &eff, parent_tag, is_style, counts);
                }
            }
            _ => {
                if let Some(Value::Array(kids)) = o.get_mut("childNodes") {
                    for k in kids {
                        changed |= self.rewrite_node(k, eff, parent_tag, counts);
                    }
                }
            }
        }
        changed
    }

    /// Text of a text node: mask_text, textarea input masking, patterns.
    fn rewrite_text(
        &self,
        id: NodeId,
        t: &mut String,
        eff: &Eff,
        parent_tag: Option<&str>,
        is_style: bool,
        counts: &mut Counts,
    ) -> bool {
        if t.trim().is_empty() {
            return false;
        }
        if parent_tag == Some("textarea") {
            let pid = self.dom.parent(id).unwrap_or(i64::MIN);
            if self.input_masked(pid, eff) || self.c.input_all {
                if !is_masked(t) {
                    *t = mask(t);
                    counts.add("mask_inputs", "input", 1);
                    return true;
                }
                return false;
            }
        }
        if eff.mask != 0 && !is_style {
            if !is_masked(t) {
                *t = mask(t);
                counts.add(&self.rule_name("mask_text", eff.mask), "text", 1);
                return true;
            }
            return false;
        }
        scrub_str(&self.c, self.mask, t, "text", counts)
    }

    fn rewrite_attrs(
        &self,
        id: NodeId,
        tag: &str,
        attrs: &mut Map<String, Value>,
        eff: &Eff,
        counts: &mut Counts,
    ) -> bool {
        let c = &self.c;
        let mut changed = false;
        let rm = self.rm_names(eff.rm);
        let input = self.input_masked(id, eff)
            || (self.dom.get(id).is_none()
                && c.input_all
                && matches!(tag, "input" | "textarea" | "select"));
        let keys: Vec<String> = attrs.keys().cloned().collect();
        for k in keys {
            let lk = k.to_ascii_lowercase();
            if let Some((i, _)) = rm.iter().find(|(_, a)| a.contains(&lk)) {
                attrs.remove(&k);
                counts.add(
                    &format!(
                        "remove_attributes {}",
                        c.rules.remove_attributes[*i].selector.get_ref()
                    ),
                    "attribute",
                    1,
                );
                changed = true;
                continue;
            }
            let Some(val) = attrs.get_mut(&k) else {
                continue;
            };
            changed |= self.rewrite_attr(tag, &lk, val, eff, input, counts);
        }
        changed
    }

    /// One attribute value (a string, number, null or a style object).
    fn rewrite_attr(
        &self,
        tag: &str,
        lk: &str,
        val: &mut Value,
        eff: &Eff,
        input: bool,
        counts: &mut Counts,
    ) -> bool {
        let c = &self.c;
        let Value::String(s) = val else {
            if let Value::Object(_) = val {
                return scrub(c, self.mask, val, "attribute", counts);
            }
            return false;
        };
        if s.is_empty() {
            return false;
        }
        if input && lk == "value" {
            if is_masked(s) {
                return false;
            }
            *s = mask(s);
            counts.add("mask_inputs", "input", 1);
            return true;
        }
        if c.block_images
            && MEDIA_TAGS.contains(&tag)
            && MEDIA_ATTRS.contains(&lk)
            && !s.starts_with(PLACEHOLDER_PREFIX)
        {
            *s = if lk == "srcset" {
                String::new()
            } else {
                image_placeholder(s)
            };
            counts.add("media.block_images", "image", 1);
            return true;
        }
        if c.blank_canvas
            && tag == "canvas"
            && lk == "rr_dataurl"
            && !s.starts_with(PLACEHOLDER_PREFIX)
        {
            *s = image_placeholder(s);
            counts.add("media.blank_canvas", "canvas", 1);
            return true;
        }
        if eff.mask != 0 && TEXT_ATTRS.contains(&lk) {
            if is_masked(s) {
                return false;
            }
            *s = mask(s);
            counts.add(&self.rule_name("mask_text", eff.mask), "attribute", 1);
            return true;
        }
        let field = if URL_ATTRS.contains(&lk) {
            "url"
        } else {
            "attribute"
        };
        scrub_str(c, self.mask, s, field, counts)
    }

    fn mutation(&mut self, v: &mut Value) -> bool {
        let c = self.c.clone();
        let Some(d) = v.get_mut("data") else {
            return false;
        };
        let mut counts = std::mem::take(&mut self.counts);
        let mut changed = false;

        // Removes: decided on the page *before* the event; nodes inside blocked elements are not
        // in the replay, so removing them there would only warn.
        let mut drop_removes = HashSet::default();
        // Parents that lose a child: with sibling-dependent selectors (`:first-child`, `+`, `~`,
        // `:nth-child`, …) their remaining children may match differently afterwards. Taken now:
        // after the mutation a removed node has no parent.
        let mut left_parents = Vec::new();
        if let Some(Value::Array(rs)) = d.get("removes") {
            for (i, r) in rs.iter().enumerate() {
                if let Some(id) = r.get("id").and_then(num) {
                    if c.sibling_sensitive {
                        left_parents.extend(
                            self.dom
                                .parent(id)
                                .or_else(|| r.get("parentId").and_then(num)),
                        );
                    }
                    if self.dom.contains(id) && self.eff(id).hidden {
                        drop_removes.insert(i);
                    }
                    for n in self.dom.subtree(id) {
                        self.own.remove(&n);
                    }
                }
            }
        }
        let mut ch = reel_dom::Changes::default();
        self.dom.apply_mutation(d, &mut ch);

        // New nodes: fresh matches. Changed attributes: sticky re-evaluation of the subtree.
        let mut added: HashSet<NodeId> = HashSet::default();
        for a in &ch.added {
            for n in self.dom.subtree(*a) {
                added.insert(n);
            }
            self.evaluate_fresh(*a);
        }
        let mut gained = Vec::new();
        let mut roots: Vec<NodeId> = ch.attributes.clone();
        if c.sibling_sensitive {
            for a in ch.added.iter().chain(&ch.removed) {
                if let Some(p) = self.dom.parent(*a) {
                    roots.push(p);
                }
            }
            roots.extend(left_parents.into_iter().filter(|p| self.dom.contains(*p)));
        }
        for r in roots {
            self.reevaluate(r, &added, &mut gained);
        }

        if let Some(Value::Array(rs)) = d.get_mut("removes") {
            if !drop_removes.is_empty() {
                let mut i = 0;
                rs.retain(|_| {
                    let keep = !drop_removes.contains(&i);
                    i += 1;
                    keep
                });
                changed = true;
            }
        }

        // Adds: dropped under blocked elements (and when they never found their parent).
        if let Some(Value::Array(adds)) = d.get_mut("adds") {
            let orphaned: HashSet<NodeId> = ch.orphaned.iter().copied().collect();
            let n0 = adds.len();
            let mut kept = Vec::with_capacity(n0);
            for mut a in std::mem::take(adds) {
                let id = a.get("node").and_then(|n| n.get("id")).and_then(num);
                let pid = a.get("parentId").and_then(num);
                let (Some(id), Some(pid)) = (id, pid) else {
                    continue;
                };
                if orphaned.contains(&id) || !self.dom.contains(id) {
                    continue;
                }
                let pe = self.eff(pid);
                if pe.hidden || pe.block != 0 {
                    continue;
                }
                let ptag = self.dom.get(pid).and_then(|n| n.tag()).map(str::to_string);
                if let Some(node) = a.get_mut("node") {
                    changed |= self.rewrite_node(node, pe, ptag.as_deref(), &mut counts);
                }
                kept.push(a);
            }
            changed |= kept.len() != n0;
            *adds = kept;
        }

        // Texts.
        if let Some(Value::Array(ts)) = d.get_mut("texts") {
            let n0 = ts.len();
            let mut kept = Vec::with_capacity(n0);
            for mut t in std::mem::take(ts) {
                let Some(id) = t.get("id").and_then(num) else {
                    continue;
                };
                let e = self.eff(id);
                if e.hidden {
                    continue;
                }
                let ptag = self
                    .dom
                    .parent(id)
                    .and_then(|p| self.dom.get(p))
                    .and_then(|n| n.tag())
                    .map(str::to_string);
                let is_style = matches!(ptag.as_deref(), Some("style") | Some("script"))
                    || matches!(
                        self.dom.get(id).map(|n| &n.data),
                        Some(NodeData::Text { is_style: true, .. })
                    );
                if let Some(Value::String(s)) = t.get_mut("value") {
                    changed |= self.rewrite_text(id, s, &e, ptag.as_deref(), is_style, &mut counts);
                }
                kept.push(t);
            }
            changed |= kept.len() != n0;
            *ts = kept;
        }

        // Attributes.
        if let Some(Value::Array(attrs)) = d.get_mut("attributes") {
            let n0 = attrs.len();
            let mut kept = Vec::with_capacity(n0);
            for mut a in std::mem::take(attrs) {
                let Some(id) = a.get("id").and_then(num) else {
                    continue;
                };
                let e = self.eff(id);
                if e.hidden {
                    continue;
                }
                let tag = self
                    .dom
                    .get(id)
                    .and_then(|n| n.tag())
                    .unwrap_or("")
                    .to_string();
                if let Some(Value::Object(m)) = a.get_mut("attributes") {
                    if e.block != 0 {
                        // A placeholder keeps only its class and style (its box).
                        let n = m.len();
                        m.retain(|k, _| k == "class" || k == "style");
                        changed |= m.len() != n;
                        if m.is_empty() {
                            continue;
                        }
                    } else {
                        changed |= self.rewrite_attrs(id, &tag, m, &e, &mut counts);
                    }
                }
                kept.push(a);
            }
            changed |= kept.len() != n0;
            *attrs = kept;
        }

        // Elements that came to match: hide what is already on the page.
        if !gained.is_empty() {
            changed |= self.synthesize(d, &gained, &added, &mut counts);
        }
        self.counts = counts;
        changed
    }

    /// Append removes/texts/attributes so the replay stops showing what newly matched elements hold.
    fn synthesize(
        &self,
        d: &mut Value,
        gained: &[(NodeId, Own)],
        added: &HashSet<NodeId>,
        counts: &mut Counts,
    ) -> bool {
        let mut removes = Vec::new();
        let mut texts = Vec::new();
        let mut attrs: Vec<(NodeId, Map<String, Value>)> = Vec::new();
        let mut done: HashSet<NodeId> = HashSet::default();
        for (id, g) in gained {
            let e = self.eff(*id);
            if e.hidden || done.contains(id) {
                continue;
            }
            if g.block != 0 {
                // Children go; the element stays as an empty placeholder.
                for k in self.dom.children(*id) {
                    if !added.contains(&k) {
                        removes.push(serde_json::json!({"parentId": id, "id": k}));
                    }
                }
                if let Some(n) = self.dom.get(*id) {
                    let mut m = Map::new();
                    for (k, _) in n.attrs() {
                        if k != "class" && k != "style" {
                            m.insert(k.clone(), Value::Null);
                        }
                    }
                    if !m.is_empty() {
                        attrs.push((*id, m));
                    }
                }
                counts.add(&self.rule_name("block", g.block), "element", 1);
                done.extend(self.dom.subtree(*id));
                continue;
            }
            // Mask / input / remove_attributes on what is already there.
            for n in self.dom.subtree(*id) {
                if added.contains(&n) {
                    continue;
                }
                let ne = self.eff(n);
                if ne.hidden {
                    continue;
                }
                let Some(node) = self.dom.get(n) else {
                    continue;
                };
                match &node.data {
                    NodeData::Text { text, is_style } => {
                        let ptag = self
                            .dom
                            .parent(n)
                            .and_then(|p| self.dom.get(p))
                            .and_then(|x| x.tag());
                        let style = *is_style || matches!(ptag, Some("style") | Some("script"));
                        let textarea_input = ptag == Some("textarea")
                            && self.input_masked(self.dom.parent(n).unwrap_or(i64::MIN), &ne);
                        if !text.trim().is_empty()
                            && !is_masked(text)
                            && ((ne.mask != 0 && !style) || textarea_input)
                        {
                            texts.push(serde_json::json!({"id": n, "value": mask(text)}));
                            if textarea_input {
                                counts.add("mask_inputs", "input", 1);
                            } else {
                                counts.add(&self.rule_name("mask_text", ne.mask), "text", 1);
                            }
                        }
                    }
                    NodeData::Element { tag, attrs: a, .. } => {
                        let mut m = Map::new();
                        let input = self.input_masked(n, &ne);
                        let rm = self.rm_names(ne.rm);
                        for (k, val) in a {
                            let lk = k.to_ascii_lowercase();
                            if let Some((i, _)) = rm.iter().find(|(_, l)| l.contains(&lk)) {
                                m.insert(k.clone(), Value::Null);
                                counts.add(
                                    &format!(
                                        "remove_attributes {}",
                                        self.c.rules.remove_attributes[*i].selector.get_ref()
                                    ),
                                    "attribute",
                                    1,
                                );
                            } else if val.is_empty() || is_masked(val) {
                            } else if input && lk == "value" {
                                m.insert(k.clone(), Value::String(mask(val)));
                                counts.add("mask_inputs", "input", 1);
                            } else if ne.mask != 0 && TEXT_ATTRS.contains(&lk.as_str()) {
                                m.insert(k.clone(), Value::String(mask(val)));
                                counts.add(&self.rule_name("mask_text", ne.mask), "attribute", 1);
                            }
                        }
                        let _ = tag;
                        if !m.is_empty() {
                            attrs.push((n, m));
                        }
                    }
                    _ => {}
                }
            }
        }
        if removes.is_empty() && texts.is_empty() && attrs.is_empty() {
            return false;
        }
        let Some(obj) = d.as_object_mut() else {
            return false;
        };
        let mut push = |key: &str, items: Vec<Value>| {
            if items.is_empty() {
                return;
            }
            match obj
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => a.extend(items),
                other => *other = Value::Array(items),
            }
        };
        push("removes", removes);
        push("texts", texts);
        push(
            "attributes",
            attrs
                .into_iter()
                .map(|(id, m)| serde_json::json!({"id": id, "attributes": m}))
                .collect(),
        );
        true
    }

    /// Input events: dropped inside blocked elements, masked for masked inputs, else patterns.
    /// Returns (keep, changed).
    fn input(&mut self, v: &mut Value) -> (bool, bool) {
        let c = self.c.clone();
        let id = v
            .get("data")
            .and_then(|d| d.get("id"))
            .and_then(num)
            .unwrap_or(i64::MIN);
        let known = self.dom.contains(id);
        let e = self.eff(id);
        if known && (e.hidden || e.block != 0) {
            self.counts
                .add(&self.rule_name("block", e.block.max(1)), "input", 1);
            return (false, true);
        }
        // The DOM keeps the original value (selectors on [value] see the page as it was).
        self.dom.apply(v);
        let Some(d) = v.get_mut("data") else {
            return (true, false);
        };
        let masked = if known {
            self.input_masked(id, &e)
        } else {
            // Unknown target: be safe whenever any input masking is configured.
            c.input_all || !c.input_types.is_empty() || !c.input_sel.is_empty()
        };
        let Some(Value::String(t)) = d.get_mut("text") else {
            return (true, false);
        };
        if masked {
            if t.is_empty() || is_masked(t) {
                return (true, false);
            }
            *t = mask(t);
            self.counts.add("mask_inputs", "input", 1);
            return (true, true);
        }
        let mut counts = std::mem::take(&mut self.counts);
        let ch = scrub_str(&c, self.mask, t, "input", &mut counts);
        self.counts = counts;
        (true, ch)
    }

    /// A mobile recording's wireframes (full snapshot or mutation): patterns over each wireframe's
    /// `text`, `value`, `label`, `placeholder`, `options` and web view `url` (query parameters
    /// too), inputs masked by type (`mask_inputs.types` with the web's names: `text_area` is
    /// `textarea`, `toggle` is `checkbox`) or all, and images and screenshots dropped with
    /// `media.block_images` (the player shows a placeholder). CSS selectors do not apply: there is
    /// no DOM.
    fn mobile_event(&mut self, e: Event) -> Result<Option<Event>, RedactError> {
        let c = self.c.clone();
        let mask = c.patterns.candidates(e.json().as_bytes());
        let inputs = c.input_all || !c.input_types.is_empty();
        if mask == 0 && !inputs && !c.block_images {
            self.totals.events_untouched += 1;
            return Ok(Some(e));
        }
        let mut v = e.to_value()?;
        let mut counts = std::mem::take(&mut self.counts);
        let mut changed = false;
        for root in reel_format::mobile::roots_mut(&mut v) {
            reel_format::mobile::walk_mut(root, &mut |w| {
                changed |= mobile_wireframe(&c, mask, w, &mut counts);
            });
        }
        self.counts = counts;
        if !changed {
            return Ok(Some(e));
        }
        self.totals.events_changed += 1;
        Ok(Some(Event::parse(reel_format::json::to_string(&v))?))
    }

    /// `rrweb/network@1`: headers dropped by name, bodies dropped or masked by URL, patterns.
    fn network(&mut self, v: &mut Value) -> bool {
        let c = self.c.clone();
        let m = self.mask;
        let mut counts = std::mem::take(&mut self.counts);
        let mut changed = false;
        if let Some(Value::Array(reqs)) = v
            .get_mut("data")
            .and_then(|d| d.get_mut("payload"))
            .and_then(|p| p.get_mut("requests"))
        {
            for r in reqs.iter_mut() {
                let Some(o) = r.as_object_mut() else { continue };
                let url = o
                    .get("name")
                    .or_else(|| o.get("url"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                for hk in ["requestHeaders", "responseHeaders", "headers"] {
                    if let Some(Value::Object(h)) = o.get_mut(hk) {
                        let n = h.len();
                        h.retain(|k, _| !c.drop_headers.contains(&k.to_ascii_lowercase()));
                        let dropped = (n - h.len()) as u64;
                        if dropped > 0 {
                            counts.add("network.drop_headers", "network.header", dropped);
                            changed = true;
                        }
                        for (_, hv) in h.iter_mut() {
                            changed |= scrub(&c, m, hv, "network.header", &mut counts);
                        }
                    }
                }
                let drop = c.drop_bodies.iter().any(|re| re.is_match(&url));
                let maskb = c.mask_bodies.iter().any(|re| re.is_match(&url));
                for bk in ["requestBody", "responseBody", "body"] {
                    let Some(b) = o.get_mut(bk) else { continue };
                    if b.is_null() {
                        continue;
                    }
                    if drop {
                        *b = Value::Null;
                        counts.add("network.drop_bodies", "network.body", 1);
                        changed = true;
                    } else if maskb {
                        let text = match &*b {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        if !is_masked(&text) {
                            *b = Value::String(mask(&text));
                            counts.add("network.mask_bodies", "network.body", 1);
                            changed = true;
                        }
                    } else {
                        changed |= scrub(&c, m, b, "network.body", &mut counts);
                    }
                }
                for (k, val) in o.iter_mut() {
                    if matches!(
                        k.as_str(),
                        "requestHeaders"
                            | "responseHeaders"
                            | "headers"
                            | "requestBody"
                            | "responseBody"
                            | "body"
                    ) {
                        continue;
                    }
                    let f = if k == "name" || k == "url" {
                        "network.url"
                    } else {
                        "network"
                    };
                    changed |= scrub(&c, m, val, f, &mut counts);
                }
            }
        }
        // Everything else in the event.
        if let Some(Value::Object(d)) = v.get_mut("data") {
            for (k, val) in d.iter_mut() {
                if k == "payload" {
                    if let Value::Object(p) = val {
                        for (pk, pv) in p.iter_mut() {
                            if pk != "requests" {
                                changed |= scrub(&c, m, pv, "network", &mut counts);
                            }
                        }
                    }
                } else {
                    changed |= scrub(&c, m, val, "network", &mut counts);
                }
            }
        }
        self.counts = counts;
        changed
    }
}

const PLACEHOLDER_PREFIX: &str = "data:image/svg+xml,%3Csvg";

/// A transparent SVG of the same size as the image in a data URL (PNG, GIF, JPEG headers are read),
/// or of size 1×1 when the size cannot be known (the element's own width/height keep its box).
fn image_placeholder(src: &str) -> String {
    let (w, h) = data_url_size(src).unwrap_or((1, 1));
    format!("{PLACEHOLDER_PREFIX}%20xmlns='http://www.w3.org/2000/svg'%20width='{w}'%20height='{h}'%2F%3E")
}

fn data_url_size(src: &str) -> Option<(u32, u32)> {
    use base64::Engine;
    let rest = src.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    if !meta.ends_with(";base64") {
        return None;
    }
    let head: String = data.chars().take(64).collect();
    let head = &head[..head.len() / 4 * 4];
    let b = base64::engine::general_purpose::STANDARD
        .decode(head)
        .ok()?;
    if b.len() >= 24 && b.starts_with(b"\x89PNG") {
        let w = u32::from_be_bytes(b[16..20].try_into().ok()?);
        let h = u32::from_be_bytes(b[20..24].try_into().ok()?);
        return Some((w, h));
    }
    if b.len() >= 10 && b.starts_with(b"GIF8") {
        return Some((
            u16::from_le_bytes([b[6], b[7]]) as u32,
            u16::from_le_bytes([b[8], b[9]]) as u32,
        ));
    }
    None
}

/// Replace a blocked element's serialized form by rrweb's placeholder: only `class` and `style`
/// kept, `rr_width`/`rr_height` from its size attributes when known, no children.
fn placeholder(o: &mut Map<String, Value>) {
    if let Some(Value::Object(attrs)) = o.get_mut("attributes") {
        let w = attrs
            .get("rr_width")
            .or_else(|| attrs.get("width"))
            .cloned();
        let h = attrs
            .get("rr_height")
            .or_else(|| attrs.get("height"))
            .cloned();
        attrs.retain(|k, _| k == "class" || k == "style");
        let px = |v: Value| match v {
            Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) => {
                Value::String(format!("{s}px"))
            }
            Value::Number(n) => Value::String(format!("{n}px")),
            other => other,
        };
        if let Some(w) = w {
            attrs.insert("rr_width".into(), px(w));
        }
        if let Some(h) = h {
            attrs.insert("rr_height".into(), px(h));
        }
    }
    if let Some(Value::Array(k)) = o.get_mut("childNodes") {
        k.clear();
    }
    o.remove("isShadowHost");
}

/// Redact one wireframe (not its children) of a mobile recording; see `mobile_event`.
fn mobile_wireframe(
    c: &Compiled,
    candidates: u64,
    w: &mut Map<String, Value>,
    counts: &mut Counts,
) -> bool {
    let kind = w
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut changed = false;
    if kind == "input" {
        let ty = match w.get("inputType").and_then(Value::as_str).unwrap_or("text") {
            "text_area" => "textarea".to_string(),
            "toggle" => "checkbox".to_string(),
            t => t.to_ascii_lowercase(),
        };
        if c.input_all || c.input_types.contains(&ty) {
            let mut n = 0;
            if let Some(Value::String(t)) = w.get_mut("value") {
                if !t.is_empty() && !is_masked(t) {
                    *t = mask(t);
                    n += 1;
                }
            }
            if let Some(Value::Array(opts)) = w.get_mut("options") {
                for o in opts.iter_mut() {
                    if let Value::String(t) = o {
                        if !t.is_empty() && !is_masked(t) {
                            *t = mask(t);
                            n += 1;
                        }
                    }
                }
            }
            counts.add("mask_inputs", "input", n);
            changed |= n > 0;
        }
    }
    if c.block_images
        && matches!(kind.as_str(), "image" | "screenshot")
        && w.remove("base64").is_some()
    {
        counts.add("media.block_images", "image", 1);
        changed = true;
    }
    if c.block_images {
        if let Some(Value::Object(style)) = w.get_mut("style") {
            if style.remove("backgroundImage").is_some() {
                counts.add("media.block_images", "image", 1);
                changed = true;
            }
        }
    }
    for key in ["text", "value", "label", "placeholder", "url"] {
        if let Some(Value::String(t)) = w.get_mut(key) {
            let field = if key == "value" {
                "input"
            } else if key == "url" {
                "url"
            } else {
                "text"
            };
            changed |= scrub_str(c, candidates, t, field, counts);
        }
    }
    if let Some(Value::Array(opts)) = w.get_mut("options") {
        for o in opts.iter_mut() {
            if let Value::String(t) = o {
                changed |= scrub_str(c, candidates, t, "input", counts);
            }
        }
    }
    changed
}

fn field_of(e: &Event) -> &'static str {
    use reel_format::event::Detail;
    match (e.kind, &e.detail) {
        (EventType::Meta, _) => "url",
        (EventType::Custom, _) => "custom",
        (EventType::Plugin, Detail::Console(_)) => "console",
        (EventType::Plugin, Detail::Network(_)) => "network",
        (EventType::Plugin, _) => "plugin",
        (EventType::FullSnapshot, _) => "dom",
        (EventType::IncrementalSnapshot, _) => match e.source {
            Some(IncrementalSource::Mutation) => "dom",
            Some(IncrementalSource::Input) => "input",
            Some(IncrementalSource::StyleSheetRule)
            | Some(IncrementalSource::StyleDeclaration)
            | Some(IncrementalSource::AdoptedStyleSheet) => "style",
            Some(IncrementalSource::Log) => "console",
            _ => "other",
        },
        _ => "other",
    }
}

/// Apply patterns and query-parameter masking to every string inside `v` (values, not keys).
fn scrub(c: &Compiled, mask: u64, v: &mut Value, field: &str, counts: &mut Counts) -> bool {
    match v {
        Value::String(s) => scrub_str(c, mask, s, field, counts),
        Value::Array(a) => {
            let mut ch = false;
            for x in a {
                ch |= scrub(c, mask, x, field, counts);
            }
            ch
        }
        Value::Object(o) => {
            let mut ch = false;
            for (_, x) in o.iter_mut() {
                ch |= scrub(c, mask, x, field, counts);
            }
            ch
        }
        _ => false,
    }
}

fn scrub_str(c: &Compiled, mask: u64, s: &mut String, field: &str, counts: &mut Counts) -> bool {
    if s.len() < 4 {
        return false;
    }
    let mut ranges = Vec::new();
    for (i, p) in c.patterns.patterns.iter().enumerate() {
        if mask & (1u64 << i.min(62)) == 0 {
            continue;
        }
        let before = ranges.len();
        p.find(s, &mut ranges);
        let n = (ranges.len() - before) as u64;
        if n > 0 {
            counts.add(&format!("pattern {}", p.name), field, n);
        }
    }
    if mask & (1 << 63) != 0 && !c.query_params.is_empty() && s.contains('=') {
        query_ranges(c, s, &mut ranges, field, counts);
    }
    if ranges.is_empty() {
        return false;
    }
    *s = mask_ranges(s, &mut ranges);
    true
}

/// Values of masked query parameters: `?name=value` / `&name=value` (also in fragments).
fn query_ranges(
    c: &Compiled,
    s: &str,
    out: &mut Vec<std::ops::Range<usize>>,
    field: &str,
    counts: &mut Counts,
) {
    let b = s.as_bytes();
    for (i, _) in s.match_indices('=') {
        let mut st = i;
        while st > 0 && !matches!(b[st - 1], b'?' | b'&' | b'#' | b';' | b' ' | b'"' | b'\'') {
            st -= 1;
        }
        if st == 0 || !matches!(b[st - 1], b'?' | b'&' | b'#' | b';') {
            continue;
        }
        let name = s[st..i].to_ascii_lowercase();
        if !c.query_params.contains(&name) {
            continue;
        }
        let mut en = i + 1;
        while en < b.len() && !matches!(b[en], b'&' | b'#' | b' ' | b'"' | b'\'' | b'\n') {
            en += 1;
        }
        if en > i + 1 {
            out.push(i + 1..en);
            counts.add(&format!("query_param {name}"), field, 1);
        }
    }
}

/// Patterns on the raw JSON text: decode only the string values that hold a candidate span,
/// scrub them, and splice them back. `None` when nothing changed.
fn rewrite_raw(
    c: &Compiled,
    mask: u64,
    raw: &str,
    spans: &mut [std::ops::Range<usize>],
    field: &str,
    counts: &mut Counts,
) -> Option<String> {
    spans.sort_by_key(|r| r.start);
    let b = raw.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut k = 0;
    let mut i = 0;
    while k < spans.len() {
        // Next string literal at or after i.
        let Some(q) = memchr::memchr(b'"', &b[i..]) else {
            break;
        };
        let start = i + q;
        let mut j = start + 1;
        let end = loop {
            match memchr::memchr2(b'"', b'\\', &b[j..]) {
                Some(x) if b[j + x] == b'\\' => j += x + 2,
                Some(x) => break j + x,
                None => return finish(out, last, raw),
            }
            if j >= b.len() {
                return finish(out, last, raw);
            }
        };
        i = end + 1;
        while k < spans.len() && spans[k].end <= start {
            k += 1;
        }
        if k >= spans.len() || spans[k].start > end {
            continue;
        }
        // A key (followed by `:`) is not a value.
        let next = b[i..].iter().find(|c| !c.is_ascii_whitespace());
        if next == Some(&b':') {
            continue;
        }
        let Ok(mut s) = serde_json::from_str::<String>(&raw[start..=end]) else {
            continue;
        };
        if scrub_str(c, mask, &mut s, field, counts) {
            out.push_str(&raw[last..start]);
            out.push_str(&serde_json::to_string(&s).unwrap_or_else(|_| "\"\"".into()));
            last = end + 1;
        }
    }
    finish(out, last, raw)
}

fn finish(mut out: String, last: usize, raw: &str) -> Option<String> {
    if last == 0 {
        return None;
    }
    out.push_str(&raw[last..]);
    Some(out)
}
