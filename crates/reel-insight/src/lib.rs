//! # reel-insight
//!
//! What happened in a recording, without watching it:
//!
//! * [`timeline`]: a streaming walk over a window's events producing the *meaningful* ones (clicks,
//!   inputs, scrolls, navigations, console and network entries, custom events) with their targets
//!   resolved through [`reel_dom`] (tag, short CSS selector, text as stored).
//! * [`moments`]: key moments (`rage_click`, `dead_click`, `error_click`, `console_error`,
//!   `exception`, `network_error`, `slow_request`, `navigation`, `reload`, `form_submit`, `idle`,
//!   `thrash`, `custom`), defined in `docs/moments.md`.
//! * [`summary`]: a deterministic summary (pages with time spent, key actions with
//!   abandonment/confusion/exception flags, segments, outcome, a few sentences of text).
//! * [`llm`]: the optional model-written summary: the compact timeline sent (never DOM or input
//!   values) and the check of the answer (no HTTP here).
//! * [`Analyzer`] ties them together per session; [`Insight`] is what `summary.json` holds.
//!
//! Memory does not grow with the recording beyond the DOM of the current page of the window being
//! walked (plus capped lists of moments and key actions). This crate knows nothing about HTTP,
//! storage or packages' files: callers feed it events.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod assets;
pub mod llm;
pub mod moments;
pub mod summary;
pub mod timeline;

pub use analyze::{
    add_summary, analyze_package_session, analyze_session, write_summaries, Analyzer, Analyzing,
    Insight, Keep, WindowAnalyzer,
};
pub use assets::AssetScan;
pub use llm::LlmSummary;
pub use moments::{Config, Moment, MomentKind};
pub use summary::Summary;
pub use timeline::{Kind, Target, TimelineEvent, WindowTimeline};

#[cfg(test)]
mod tests;
