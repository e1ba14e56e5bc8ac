//! One session's moments and summary: [`WindowAnalyzer`] walks a window (timeline → detectors →
//! summary parts), [`Analyzer`] combines the windows into an [`Insight`], the content of a
//! package's `sessions/<id>/summary.json`.
use crate::moments::{
    Activity, Config, Moment, MomentKind, WindowDetector, DEAD_CLICK_MS, IDLE_MS, MAX_PER_KIND,
};
use crate::summary::{self, Summary, WindowSummary};
use crate::timeline::{TimelineEvent, WindowTimeline};
use reel_format::package::{iso_ms, summary_path, PackageReader, PackageWriter, WindowFilter};
use reel_format::{Event, Session};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Version of the `summary.json` document (see `docs/schema/summary.schema.json`).
pub const INSIGHT_VERSION: u32 = 1;

/// Moments and summary of one session: what `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Insight {
    pub version: u32,
    pub session_id: String,
    /// The session's first event, ISO 8601 UTC (`t_ms` counts from here).
    pub start_time: Option<String>,
    /// Every moment kind with its count (zeros included), exact even when moments were capped.
    pub counts: BTreeMap<String, u64>,
    /// Moments in time order (at most 1,000 per kind).
    pub moments: Vec<Moment>,
    /// True when some kind had more than 1,000 moments and the rest were left out.
    pub truncated: bool,
    pub summary: Summary,
    /// Custom tags that were counted as moments.
    #[serde(default)]
    pub custom_tags: Vec<String>,
    /// The optional model-written summary (see [`crate::llm`]), kept apart from `summary`;
    /// absent unless someone asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_summary: Option<crate::llm::LlmSummary>,
}

impl Insight {
    /// Count of one kind.
    pub fn count(&self, k: MomentKind) -> u64 {
        self.counts.get(k.name()).copied().unwrap_or(0)
    }
}

/// The walk over one window. Feed every event in order, then give it to [`Analyzer::add`].
#[derive(Debug, Clone)]
pub struct WindowAnalyzer {
    timeline: WindowTimeline,
    detector: WindowDetector,
    summary: WindowSummary,
    buf: Vec<TimelineEvent>,
}

impl WindowAnalyzer {
    pub fn new(session_id: &str, window_id: &str, config: &Config) -> Self {
        WindowAnalyzer {
            timeline: WindowTimeline::new(session_id, window_id),
            detector: WindowDetector::new(window_id, config.clone()),
            summary: WindowSummary::new(window_id),
            buf: Vec::new(),
        }
    }

    pub fn window_id(&self) -> &str {
        self.timeline.window_id()
    }

    pub fn observe(&mut self, e: &Event) {
        self.buf.clear();
        self.timeline.observe(e, &mut self.buf);
        let dom = self.timeline.dom();
        self.detector.observe(e, &self.buf, dom);
        self.summary.observe(e.timestamp, &self.buf, dom);
    }
}

/// Combines a session's windows. Memory: per window its moments, activity intervals, pages and
/// key actions (capped), never its events or DOM.
#[derive(Debug, Clone, Default)]
pub struct Analyzer {
    session_id: String,
    config: Config,
    windows: Vec<(WindowDetector, WindowSummary)>,
}

impl Analyzer {
    pub fn new(session_id: &str, config: &Config) -> Self {
        Analyzer {
            session_id: session_id.into(),
            config: config.clone(),
            windows: Vec::new(),
        }
    }

    /// A walker for one window of this session.
    pub fn window(&self, window_id: &str) -> WindowAnalyzer {
        WindowAnalyzer::new(&self.session_id, window_id, &self.config)
    }

    /// Add a window walked to its end (the DOM is dropped here).
    pub fn add(&mut self, w: WindowAnalyzer) {
        let WindowAnalyzer {
            mut detector,
            summary,
            ..
        } = w;
        detector.finish();
        self.windows.push((detector, summary));
    }

    /// Combine the windows.
    pub fn finish(self) -> Insight {
        let start = self.windows.iter().filter_map(|(d, _)| d.first).min();
        let end = self.windows.iter().filter_map(|(d, _)| d.last).max();
        let (Some(start), Some(end)) = (start, end) else {
            let mut i = Insight {
                version: INSIGHT_VERSION,
                session_id: self.session_id,
                custom_tags: self.config.custom_tags,
                ..Default::default()
            };
            for k in MomentKind::ALL {
                i.counts.insert(k.name().into(), 0);
            }
            return i;
        };
        let firsts: Vec<(String, i64)> = self
            .windows
            .iter()
            .filter_map(|(d, s)| d.first.map(|f| (window_of(s), f)))
            .collect();
        let mut window_ends = BTreeMap::new();
        let mut moments = crate::moments::thrash(
            self.windows
                .iter()
                .filter_map(|(d, _)| Some((d.window_id(), d.first?, d.last?, &d.pages[..])))
                .collect(),
        );
        let mut intervals = Vec::new();
        let mut parts = Vec::new();
        let mut active_ms = 0i64;
        for (d, s) in self.windows {
            let wid = window_of(&s);
            if let Some(l) = d.last {
                window_ends.insert(wid.clone(), l);
            }
            let WindowDetector {
                moments: m,
                activity,
                ..
            } = d;
            active_ms += activity.active_ms;
            for (a, b, u) in Activity::intervals(activity) {
                intervals.push((a, b, u, wid.clone()));
            }
            moments.extend(m.into_iter().filter(|m| {
                // A click that opened another window was not dead.
                m.kind != MomentKind::DeadClick
                    || !firsts
                        .iter()
                        .any(|(w, f)| *w != m.window_id && *f > m.at && *f <= m.at + DEAD_CLICK_MS)
            }));
            parts.push(s);
        }
        // Idle: gaps of at least IDLE_MS in the union of all windows' activity.
        intervals.sort_by_key(|i| i.0);
        let active_ms = active_ms.min(end - start);
        let mut cur: Option<(i64, i64, Option<String>, String)> = None;
        for iv in intervals {
            match &mut cur {
                Some(c) if iv.0 - c.1 < IDLE_MS => {
                    if iv.1 > c.1 {
                        c.1 = iv.1;
                        c.2 = iv.2;
                        c.3 = iv.3;
                    }
                }
                _ => {
                    if let Some(c) = cur.take() {
                        moments.push(Moment {
                            kind: MomentKind::Idle,
                            t_ms: 0,
                            timestamp: String::new(),
                            window_id: c.3,
                            url: c.2,
                            target: None,
                            detail: json!({"duration_ms": iv.0 - c.1})
                                .as_object()
                                .cloned()
                                .unwrap_or_default(),
                            at: c.1,
                        });
                    }
                    cur = Some(iv);
                }
            }
        }
        moments.sort_by(|a, b| a.at.cmp(&b.at).then(a.kind.cmp(&b.kind)));
        let mut counts: BTreeMap<String, u64> = MomentKind::ALL
            .iter()
            .map(|k| (k.name().to_string(), 0))
            .collect();
        let mut truncated = false;
        moments.retain(|m| {
            let n = counts.entry(m.kind.name().into()).or_default();
            *n += 1;
            let keep = *n as usize <= MAX_PER_KIND;
            truncated |= !keep;
            keep
        });
        for m in &mut moments {
            m.t_ms = m.at - start;
            m.timestamp = iso_ms(m.at);
        }
        let summary: Summary = summary::build(
            start,
            end,
            active_ms,
            parts,
            &window_ends,
            &moments,
            &counts,
        );
        Insight {
            version: INSIGHT_VERSION,
            session_id: self.session_id,
            start_time: Some(iso_ms(start)),
            counts,
            moments,
            truncated,
            summary,
            custom_tags: self.config.custom_tags,
            llm_summary: None,
        }
    }
}

fn window_of(s: &WindowSummary) -> String {
    s.window_id().to_string()
}

/// Moments and summary of an in-memory session.
pub fn analyze_session(s: &Session, config: &Config) -> Insight {
    let mut a = Analyzer::new(&s.id, config);
    for w in &s.windows {
        let mut wa = a.window(&w.id);
        for e in &w.events {
            wa.observe(e);
        }
        a.add(wa);
    }
    a.finish()
}

/// Moments and summary of one session of a package, streaming its windows.
pub fn analyze_package_session<R: std::io::Read + std::io::Seek>(
    r: &mut PackageReader<R>,
    session_id: &str,
    config: &Config,
) -> reel_format::Result<Insight> {
    let meta = r.session_meta(session_id)?;
    let mut a = Analyzer::new(session_id, config);
    for w in &meta.windows {
        let mut wa = a.window(&w.id);
        r.for_each_event(&w.path, |e| {
            wa.observe(&e);
            Ok(())
        })?;
        a.add(wa);
    }
    Ok(a.finish())
}

/// A [`WindowFilter`] that passes each event through `inner` and analyses what comes out: how
/// `reel pack`, `reel redact` (after redaction) and the server's export compute `summary.json`
/// while they write the package, without reading the events twice.
pub struct Analyzing<F> {
    pub inner: F,
    pub window: WindowAnalyzer,
}

impl<F: WindowFilter> WindowFilter for Analyzing<F> {
    fn event(&mut self, e: Event) -> reel_format::Result<Option<Event>> {
        let out = self.inner.event(e)?;
        if let Some(e) = &out {
            self.window.observe(e);
        }
        Ok(out)
    }
}

/// The filter that keeps every event (for [`Analyzing`] without another filter).
pub struct Keep;

impl WindowFilter for Keep {
    fn event(&mut self, e: Event) -> reel_format::Result<Option<Event>> {
        Ok(Some(e))
    }
}

/// After [`reel_format::package::Spool::write_parallel`] with [`Analyzing`] filters: combine
/// each session's windows (they come in package order) and add its `sessions/<id>/summary.json`.
/// Returns the inner filters, with their session ids, in package order.
pub fn write_summaries<W: std::io::Write + std::io::Seek, F>(
    w: &mut PackageWriter<W>,
    windows: Vec<(String, Analyzing<F>)>,
    config: &Config,
) -> reel_format::Result<Vec<(String, F)>> {
    let mut inner = Vec::with_capacity(windows.len());
    let mut cur: Option<Analyzer> = None;
    for (sid, a) in windows {
        if cur.as_ref().is_some_and(|c| c.session_id != sid) {
            add_summary(w, cur.take().expect("some").finish())?;
        }
        cur.get_or_insert_with(|| Analyzer::new(&sid, config))
            .add(a.window);
        inner.push((sid, a.inner));
    }
    if let Some(c) = cur {
        add_summary(w, c.finish())?;
    }
    Ok(inner)
}

/// Add an insight to a package being written, as `sessions/<id>/summary.json`.
pub fn add_summary<W: std::io::Write + std::io::Seek>(
    w: &mut PackageWriter<W>,
    insight: Insight,
) -> reel_format::Result<()> {
    let path = summary_path(&insight.session_id);
    let bytes = serde_json::to_vec_pretty(&insight)
        .map_err(|e| reel_format::Error::invalid(&path, e.to_string()))?;
    w.add_file(&path, &bytes)
}
