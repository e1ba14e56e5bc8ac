//! Moving recordings between systems.
//!
//! - [`posthog::PostHog`] and [`sentry::Sentry`]: read recordings from PostHog's and Sentry's
//!   APIs (listing, paging, snapshot sources / recording segments) as [`reel_format::Recording`]s.
//! - [`run`]: the one resumable driver both use (state file, concurrency, packages written under a
//!   temporary name and renamed, or pushed to a Reel server).
//! - [`http`]: the one client (rate limit, `429` + `Retry-After`, backoff, `410`, body caps).
//! - [`llm`]: ask an OpenAI-compatible endpoint for a session summary (what is sent is
//!   `reel-insight`'s compact timeline).
//! - [`capture`]: send recordings to any PostHog through the capture protocol posthog-js speaks.
//!
//! Decoding (JSONL lines, `cv` packing, rrweb events) is `reel-format`'s: this crate only talks
//! HTTP and shapes what the remotes answer into recordings.
#![forbid(unsafe_code)]
pub mod assets;
pub mod capture;
pub mod http;
pub mod llm;
pub mod posthog;
pub mod run;
pub mod sentry;
pub mod state;

use time::OffsetDateTime;

/// A date from the command line: `2026-01-31`, RFC 3339 (`2026-01-31T12:00:00Z`), or relative to
/// now: `-7d`, `-12h`, `-30m`, `-2w`.
pub fn parse_date(s: &str) -> anyhow::Result<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Some(rel) = s.strip_prefix('-') {
        let (n, unit) = rel.split_at(rel.len().saturating_sub(1));
        if let Ok(n) = n.parse::<i64>() {
            let d = match unit {
                "m" => time::Duration::minutes(n),
                "h" => time::Duration::hours(n),
                "d" => time::Duration::days(n),
                "w" => time::Duration::weeks(n),
                _ => anyhow::bail!("{s:?}: use a unit of m, h, d or w (e.g. -7d)"),
            };
            return Ok(OffsetDateTime::now_utc() - d);
        }
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &fmt) {
        return Ok(d.midnight().assume_utc());
    }
    anyhow::bail!("{s:?}: not a date; use 2026-01-31, 2026-01-31T12:00:00Z or -7d")
}

/// `--host` without surrounding space or trailing `/`; refused unless it is an http(s) address.
/// `example` shows the expected form in the message.
pub fn host(host: &str, example: &str) -> anyhow::Result<String> {
    let host = host.trim().trim_end_matches('/');
    if !(host.starts_with("https://") || host.starts_with("http://")) {
        anyhow::bail!("--host {host:?}: give the address with https:// (e.g. {example})");
    }
    Ok(host.to_string())
}

/// RFC 3339 UTC, seconds precision.
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            iso(parse_date("2026-01-31").unwrap()),
            "2026-01-31T00:00:00Z"
        );
        assert_eq!(
            iso(parse_date("2026-01-31T12:30:00+01:00").unwrap()),
            "2026-01-31T11:30:00Z"
        );
        assert!(parse_date("-7d").unwrap() < OffsetDateTime::now_utc());
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("-7y").is_err());
    }
}
