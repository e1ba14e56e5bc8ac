//! # reel-redact
//!
//! Remove what must not be kept from rrweb recordings, after the fact, and report what was removed
//! without keeping it.
//!
//! * [`Rules`]: the rules file (TOML, `docs/redaction.md`) and the presets `default` and `strict`.
//! * [`Redactor`]: rules compiled once; cheap to clone and share between threads.
//! * [`WindowRedactor`]: the per-window state (a [`reel_dom::Dom`] of the original page), fed
//!   events in time order one at a time; keep it between batches of the same window.
//! * [`Report`]: counts per rule and per kind of field, sessions touched, the rules' hash.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let redactor = reel_redact::Redactor::preset("default")?;
//! let (_, mut rec) = reel_format::import::import("x.json", b"[]", &Default::default())?;
//! for s in &mut rec.sessions {
//!     let report = redactor.session(s)?; // counts only, never values
//!     println!("{}: {} redactions", report.id, report.counts.total());
//! }
//! # Ok(()) }
//! ```
//!
//! Speed: events that no pattern can touch are recognised on their raw JSON text (one pass of a
//! combined regex plus validators) and passed through unparsed; only candidates are parsed.
//! With DOM rules (selectors, inputs, media), FullSnapshot, Mutation and Input events are always
//! parsed, since the DOM must follow the page.
//!
//! This crate knows nothing about HTTP, databases or the package format's files.
#![forbid(unsafe_code)]

mod engine;
pub mod patterns;
mod report;
pub mod rules;

pub use engine::{RedactError, Redactor, WindowRedactor};
pub use report::{now_rfc3339, Counts, Report, RulesInfo, SessionReport, Totals, REPORT_FORMAT};
pub use rules::{Rules, RulesError};
