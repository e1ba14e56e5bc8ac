//! reel-redact (being written).
