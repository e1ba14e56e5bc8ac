//! # reel-format
//!
//! Reel's data model and portable package format, usable without the Reel server:
//!
//! * [`event`]: rrweb events kept as raw JSON with a small parsed header (type, timestamp, source),
//!   open enums, unknown fields passed through untouched.
//! * [`cv`]: decoding of PostHog's `cv: "2024-10"` packed events into plain rrweb events.
//! * [`import`]: detection and import of bare rrweb arrays, PostHog "Export to JSON" files (V1, V2),
//!   PostHog `/s/` wire bodies (gzip, base64 form, lz64, plain JSON) and `[windowId, event]` JSONL.
//! * [`export`]: rrweb JSON arrays and PostHog V2 export files.
//! * [`package`]: the `*.reel.zip` package: streaming writer, reader, verifier, signatures, safe unpack.
//! * [`stats`]: per-session facts (duration, pages, clicks, console errors) under PostHog's names.
//!
//! This crate knows nothing about HTTP or databases.
#![forbid(unsafe_code)]

pub mod cv;
pub mod error;
pub mod event;
pub mod export;
pub mod import;
pub mod json;
pub mod limits;
pub mod mobile;
pub mod package;
pub mod recording;
pub mod stats;

pub use error::{Error, Result};
pub use event::{Event, EventType, IncrementalSource};
pub use limits::Limits;
pub use recording::{Recording, Session, Window};
