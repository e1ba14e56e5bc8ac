//! One HTTP client for every remote: a rate limit shared by all threads, `429` + `Retry-After`
//! honoured (every thread pauses), `5xx`, `408` and network errors retried with capped exponential
//! backoff, `410` reported as [`Fail::Gone`], and every response body read under a size cap.
//!
//! The credential lives only in the request header: it is not in any URL, message or `Debug`.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a request did not succeed (after retries).
#[derive(Debug)]
pub enum Fail {
    /// `410 Gone`: the remote deleted it (PostHog: `recording_deleted`).
    Gone(String),
    /// Any other non-success answer; the message names the URL path and the remote's reason.
    Status { status: u16, message: String },
    /// No answer after every retry (network, timeouts, 5xx), or a body over the cap.
    Other(String),
}

impl Fail {
    /// A `401`/`403`: nothing else will work either, so an import stops.
    pub fn is_auth(&self) -> bool {
        matches!(self, Fail::Status { status, .. } if *status == 401 || *status == 403)
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Gone(what) => write!(f, "{what}: 410 Gone (deleted at the source)"),
            Fail::Status { message, .. } | Fail::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Fail {}

/// A successful answer.
pub struct Reply {
    pub body: Vec<u8>,
    /// The `Link` header (Sentry's paging).
    pub link: Option<String>,
}

/// Counters for the summary.
#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// `429` answers.
    pub throttled: AtomicU64,
    /// Response body bytes received (after transfer decoding).
    pub bytes: AtomicU64,
}

/// How a [`Client`] behaves.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Requests per minute (`None`: no limit). Requests are spaced evenly.
    pub per_minute: Option<u32>,
    /// Requests per sliding hour (`None`: no limit).
    pub per_hour: Option<u32>,
    /// Attempts for one request on 5xx / timeouts / network errors.
    pub attempts: u32,
    /// First backoff; doubles per attempt up to `backoff_cap`.
    pub backoff: Duration,
    pub backoff_cap: Duration,
    /// Longest `Retry-After` honoured as given (longer ones wait this long, then try again).
    pub retry_after_cap: Duration,
    /// Most `429` answers to one request before giving up.
    pub throttled_attempts: u32,
    /// Largest response body.
    pub max_body: u64,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            per_minute: None,
            per_hour: None,
            attempts: 8,
            backoff: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(3600),
            throttled_attempts: 50,
            max_body: 1 << 30,
            timeout: Duration::from_secs(300),
        }
    }
}

/// See the module docs.
pub struct Client {
    agent: ureq::Agent,
    authorization: Option<String>,
    policy: Policy,
    limiter: Mutex<Limiter>,
    pub counters: Counters,
}

#[derive(Default)]
struct Limiter {
    next: Option<Instant>,
    hour: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Client {
    /// `bearer`: the credential sent as `Authorization: Bearer …`.
    pub fn new(bearer: Option<String>, policy: Policy) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(policy.timeout))
            .timeout_connect(Some(Duration::from_secs(30)))
            .user_agent(concat!("reel/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            authorization: bearer.map(|k| format!("Bearer {k}")),
            policy,
            limiter: Mutex::new(Limiter::default()),
            counters: Counters::default(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// GET `url`.
    pub fn get(&self, url: &str) -> Result<Reply, Fail> {
        self.send(url, &|| {
            let mut r = self.agent.get(url);
            if let Some(a) = &self.authorization {
                r = r.header("Authorization", a);
            }
            r.call()
        })
    }

    /// POST `body` to `url`.
    pub fn post(
        &self,
        url: &str,
        content_type: &str,
        content_encoding: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Fail> {
        self.send(url, &|| {
            let mut r = self.agent.post(url).header("Content-Type", content_type);
            if let Some(a) = &self.authorization {
                r = r.header("Authorization", a);
            }
            if let Some(e) = content_encoding {
                r = r.header("Content-Encoding", e);
            }
            r.send(body)
        })
    }

    fn send(
        &self,
        url: &str,
        call: &dyn Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, Fail> {
        let what = shown(url);
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            self.acquire();
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let transient = match call() {
                Ok(mut res) => {
                    let status = res.status().as_u16();
                    let header = |n: &str| {
                        res.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let link = header("link");
                    let retry_after = header("retry-after");
                    let body = res
                        .body_mut()
                        .with_config()
                        .limit(self.policy.max_body)
                        .read_to_vec();
                    match (status, body) {
                        (_, Err(ureq::Error::BodyExceedsLimit(n))) => {
                            return Err(Fail::Other(format!(
                                "{what}: the answer is larger than {n} bytes; refused"
                            )))
                        }
                        (200..=299, Ok(body)) => {
                            self.counters
                                .bytes
                                .fetch_add(body.len() as u64, Ordering::Relaxed);
                            return Ok(Reply { body, link });
                        }
                        (429, _) => {
                            throttled += 1;
                            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                            if throttled > self.policy.throttled_attempts {
                                return Err(Fail::Other(format!(
                                    "{what}: still 429 Too Many Requests after {} waits; lower --rate and run again (done work is kept)",
                                    self.policy.throttled_attempts
                                )));
                            }
                            let wait = retry_after
                                .as_deref()
                                .and_then(parse_retry_after)
                                .unwrap_or(self.backoff(throttled))
                                .min(self.policy.retry_after_cap);
                            self.pause(wait);
                            self.counters.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        (410, _) => return Err(Fail::Gone(what)),
                        (408 | 500..=599, body) => {
                            format!("{what}: HTTP {status}{}", reason(body.ok().as_deref()))
                        }
                        (_, Err(e)) => format!("{what}: reading the answer: {e}"),
                        (_, Ok(body)) => {
                            return Err(Fail::Status {
                                status,
                                message: format!("{what}: HTTP {status}{}", reason(Some(&body))),
                            })
                        }
                    }
                }
                Err(
                    e @ (ureq::Error::BadUri(_)
                    | ureq::Error::HostNotFound
                    | ureq::Error::Http(_)
                    | ureq::Error::InvalidProxyUrl),
                ) => return Err(Fail::Other(format!("{what}: {e}"))),
                Err(e) => format!("{what}: {e}"),
            };
            failures += 1;
            if failures >= self.policy.attempts {
                return Err(Fail::Other(format!(
                    "{transient} (gave up after {failures} attempts)"
                )));
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(self.backoff(failures));
        }
    }

    fn backoff(&self, n: u32) -> Duration {
        self.policy
            .backoff
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.policy.backoff_cap)
    }

    /// Every thread waits `d` before its next request.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut l = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        if l.paused_until.is_none_or(|p| p < until) {
            l.paused_until = Some(until);
        }
    }

    /// Wait for a slot under the rate limits and any pause.
    fn acquire(&self) {
        let interval = self
            .policy
            .per_minute
            .filter(|n| *n > 0)
            .map(|n| Duration::from_secs(60) / n);
        loop {
            let wait = {
                let mut l = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                while l
                    .hour
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
                {
                    l.hour.pop_front();
                }
                let mut at = now;
                if let Some(p) = l.paused_until {
                    at = at.max(p);
                }
                if let Some(n) = l.next {
                    at = at.max(n);
                }
                if let Some(h) = self.policy.per_hour.filter(|h| *h > 0) {
                    if l.hour.len() >= h as usize {
                        at = at.max(l.hour[l.hour.len() - h as usize] + Duration::from_secs(3600));
                    }
                }
                if at <= now {
                    if let Some(i) = interval {
                        l.next = Some(now + i);
                    }
                    if self.policy.per_hour.is_some() {
                        l.hour.push_back(now);
                    }
                    return;
                }
                at - now
            };
            std::thread::sleep(wait.min(Duration::from_secs(1)));
        }
    }
}

/// A URL for messages: without its query (which may be long), never with credentials (none are
/// ever put in URLs).
fn shown(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// The remote's reason from an error body (`detail`, `error`, `message`, or the first 200 chars).
fn reason(body: Option<&[u8]>) -> String {
    let Some(b) = body.filter(|b| !b.is_empty()) else {
        return String::new();
    };
    let v: Option<serde_json::Value> = serde_json::from_slice(b).ok();
    let text = v
        .as_ref()
        .and_then(|v| {
            ["detail", "error", "message"]
                .iter()
                .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned());
    format!(": {}", text.trim())
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    }
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (t - time::OffsetDateTime::now_utc()).whole_seconds().max(0);
    Some(Duration::from_secs(secs as u64))
}

/// The `cursor` of the `rel="next"` link of a `Link` header when it says `results="true"`
/// (Sentry's paging).
pub fn next_cursor(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let attrs: Vec<(&str, &str)> = part
            .split(';')
            .skip(1)
            .filter_map(|a| a.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        let get = |k: &str| attrs.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
        (get("rel") == Some("next") && get("results") != Some("false"))
            .then(|| get("cursor").map(str::to_string))
            .flatten()
    })
}

/// Percent-encode a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("garbage"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn link_header_paging() {
        let l = r#"<https://sentry.io/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", <https://sentry.io/api/0/x/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0""#;
        assert_eq!(next_cursor(l).as_deref(), Some("0:100:0"));
        let last = l.replace(r#"results="true""#, r#"results="false""#);
        assert_eq!(next_cursor(&last), None);
    }

    #[test]
    fn encoding() {
        assert_eq!(enc(r#"["a b"]"#), "%5B%22a%20b%22%5D");
    }
}
