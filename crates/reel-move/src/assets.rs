//! Fetching a recording's assets (images, fonts, stylesheets) for `reel assets`: each URL once,
//! stylesheets followed to their own `url()`/`@import`, under a timeout, a redirect bound, a
//! per-asset and a total byte cap. Private, loopback and link-local addresses are refused unless
//! allowed: every address a host resolves to is checked, on every connection (redirects too),
//! by the resolver the HTTP client connects through, so a name cannot point elsewhere after the
//! check. Which URLs a recording loads is `reel-insight::assets`'s business.
use reel_insight::assets::{css_urls, resolve};
use std::collections::{BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

#[derive(Debug, Clone)]
pub struct Policy {
    /// Fetch from loopback, private and link-local addresses too (tests, intranets).
    pub allow_private: bool,
    /// When not empty, only URLs of these origins (`https://example.com`, `http://h:8080`).
    pub allow_origins: Vec<String>,
    pub max_asset_bytes: u64,
    pub max_total_bytes: u64,
    /// Per request, connection included.
    pub timeout: Duration,
    pub max_redirects: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_private: false,
            allow_origins: Vec::new(),
            max_asset_bytes: 20 << 20,
            max_total_bytes: 500 << 20,
            timeout: Duration::from_secs(20),
            max_redirects: 5,
        }
    }
}

/// One fetched asset. `urls`: the URL asked for and every redirect target (all map to it).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub urls: Vec<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Epoch milliseconds.
    pub fetched_ms: i64,
    /// What the response's caching headers say (see [`Caching`]).
    pub caching: Caching,
}

/// The caching headers of a response, as a shared cache reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caching {
    /// `Cache-Control: no-store` (or `private`): the response must not be kept.
    pub no_store: bool,
    /// How long the response stays fresh (`s-maxage`, `max-age`, `no-cache` = 0, or `Expires`
    /// minus `Date`); `None` when the headers do not say.
    pub fresh_for: Option<Duration>,
}

impl Caching {
    /// Read `Cache-Control`, `Expires` and `Date` (header values as sent).
    pub fn parse(
        cache_control: Option<&str>,
        expires: Option<&str>,
        date: Option<&str>,
    ) -> Caching {
        let mut c = Caching::default();
        let (mut max_age, mut s_maxage) = (None, None);
        for d in cache_control.unwrap_or("").split(',') {
            let d = d.trim();
            let (name, value) = match d.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (d, None),
            };
            let secs = || value.and_then(|v| v.parse::<u64>().ok());
            match name.to_ascii_lowercase().as_str() {
                "no-store" | "private" => c.no_store = true,
                "no-cache" => max_age = Some(0),
                "max-age" => max_age = max_age.or(secs()),
                "s-maxage" => s_maxage = secs(),
                _ => {}
            }
        }
        let http_date = |v: &str| {
            time::OffsetDateTime::parse(v.trim(), &time::format_description::well_known::Rfc2822)
                .ok()
        };
        c.fresh_for = s_maxage.or(max_age).map(Duration::from_secs).or_else(|| {
            let exp = http_date(expires?)?;
            // An invalid `Expires` (such as "0") means already expired.
            let now = date
                .and_then(http_date)
                .unwrap_or_else(time::OffsetDateTime::now_utc);
            Some(Duration::from_secs(
                (exp - now).whole_seconds().max(0) as u64
            ))
        });
        if c.fresh_for.is_none() && expires.is_some() {
            c.fresh_for = Some(Duration::ZERO);
        }
        c
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub url: String,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct Collected {
    /// URLs stored (each fetched asset's URLs, redirect targets and aliases included).
    pub fetched: usize,
    pub failed: Vec<Failure>,
    pub bytes: u64,
    /// `(url, target)`: `url` redirects to `target`, an asset fetched on its own: store it under
    /// both URLs.
    pub aliases: Vec<(String, String)>,
}

/// Whether `ip` is an address on the public internet: not loopback, private (RFC 1918, unique
/// local), link-local, unspecified, shared (100.64/10), documentation, benchmarking, multicast,
/// broadcast or reserved; IPv4-mapped and -compatible IPv6 addresses are judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0; 6] {
                // ::/96 (compatible, ::, ::1): never public.
                return false;
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
                || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (embeds IPv4)
                || s[0] == 0x2002) // 6to4 (embeds IPv4)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 shared
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || o[0] >= 240) // reserved
}

/// The resolver every connection goes through: refuses a host with any non-public address.
#[derive(Debug)]
struct Guard {
    inner: DefaultResolver,
    allow_private: bool,
}

impl Resolver for Guard {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if !self.allow_private {
            if let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(ureq::Error::Io(std::io::Error::other(format!(
                    "refused: {} resolves to the non-public address {} (use --allow-private)",
                    uri.host().unwrap_or(""),
                    a.ip()
                ))));
            }
        }
        Ok(addrs)
    }
}

/// Fetch `urls` and what fetched stylesheets refer to, handing each asset to `store` as it
/// arrives (memory holds one asset at a time); `store`'s error ends the collection with it.
/// URLs in `have` are not fetched (already stored). `progress(done, known, url)` after each.
pub fn collect<E>(
    urls: impl IntoIterator<Item = String>,
    have: &BTreeSet<String>,
    policy: &Policy,
    progress: &mut dyn FnMut(usize, usize, &str),
    store: &mut dyn FnMut(Fetched) -> Result<(), E>,
) -> Result<Collected, E> {
    let agent = agent(policy);
    let mut seen: BTreeSet<String> = have.clone();
    let mut queue: VecDeque<String> = VecDeque::new();
    for u in urls {
        if seen.insert(u.clone()) {
            queue.push_back(u);
        }
    }
    let mut out = Collected::default();
    let mut done = 0;
    // URLs stored (redirect targets included); redirects to a URL that is fetched, queued or
    // stored wait in `aliases` instead of fetching it twice.
    let mut stored: BTreeSet<String> = have.clone();
    let mut aliases: Vec<(String, String)> = Vec::new();
    while let Some(url) = queue.pop_front() {
        done += 1;
        if stored.contains(&url) {
            progress(done, done + queue.len(), &url);
            continue;
        }
        let left = policy.max_total_bytes.saturating_sub(out.bytes);
        let r = if left == 0 {
            Err(format!(
                "not fetched: the total cap of {} bytes is reached (--max-total-bytes)",
                policy.max_total_bytes
            ))
        } else {
            fetch(&agent, &url, policy, left, &|u| {
                u != url && (seen.contains(u) || stored.contains(u))
            })
        };
        match r {
            Ok(Got::Alias(target)) => aliases.push((url.clone(), target)),
            Ok(Got::Fetched(f)) => {
                stored.extend(f.urls.iter().cloned());
                out.fetched += f.urls.len();
                out.bytes += f.bytes.len() as u64;
                if f.content_type == "text/css" {
                    let base = f.urls.last().and_then(|u| url::Url::parse(u).ok());
                    let text = String::from_utf8_lossy(&f.bytes);
                    for raw in css_urls(&text) {
                        if let Some(u) = resolve(base.as_ref(), raw) {
                            if seen.len() < reel_insight::assets::MAX_URLS && seen.insert(u.clone())
                            {
                                queue.push_back(u);
                            }
                        }
                    }
                }
                store(f)?;
            }
            Err(error) => out.failed.push(Failure {
                url: url.clone(),
                error,
            }),
        }
        progress(done, done + queue.len(), &url);
    }
    for (from, target) in aliases {
        match stored.contains(&target) {
            true => {
                out.fetched += 1;
                out.aliases.push((from, target));
            }
            false => {
                let why = out
                    .failed
                    .iter()
                    .find(|f| f.url == target)
                    .map_or("it was not fetched".to_string(), |f| f.error.clone());
                out.failed.push(Failure {
                    url: from,
                    error: format!("redirects to {target}: {why}"),
                })
            }
        }
    }
    Ok(out)
}

/// The client every asset fetch goes through: no redirects followed by itself, no proxy, the
/// address check in its resolver.
fn agent(policy: &Policy) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // No proxy from the environment: a proxy would resolve the target's name, out of reach
        // of the address check in the resolver.
        .proxy(None)
        .timeout_global(Some(policy.timeout))
        .user_agent(format!("reel/{} (assets)", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        Guard {
            inner: DefaultResolver::default(),
            allow_private: policy.allow_private,
        },
    )
}

/// Fetches one asset at a time under a [`Policy`] (the server's `--capture-assets`): the same
/// checks as [`collect`] (origins, private addresses, redirects re-checked, the per-asset cap),
/// without following stylesheets (the caller does, through `reel-insight`'s CSS parser).
pub struct Fetcher {
    agent: ureq::Agent,
    policy: Policy,
}

impl Fetcher {
    pub fn new(policy: Policy) -> Fetcher {
        Fetcher {
            agent: agent(&policy),
            policy,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Fetch `url` (blocking). `Err` says why not, for the record.
    pub fn fetch(&self, url: &str) -> Result<Fetched, String> {
        match fetch(
            &self.agent,
            url,
            &self.policy,
            self.policy.max_asset_bytes,
            &|_| false,
        )? {
            Got::Fetched(f) => Ok(f),
            Got::Alias(to) => Err(format!("redirects to {to}")),
        }
    }
}

enum Got {
    Fetched(Fetched),
    /// A redirect to a URL fetched (or to be fetched) on its own.
    Alias(String),
}

fn origin_allowed(url: &url::Url, policy: &Policy) -> bool {
    policy.allow_origins.is_empty() || {
        let o = url.origin().ascii_serialization();
        policy
            .allow_origins
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&o))
    }
}

/// A GET, sent again at once if the connection broke before an answer: a kept-alive connection
/// the server closed just as it was reused fails that way (it is idempotent; a second failure
/// is the answer).
fn get_once_more(
    agent: &ureq::Agent,
    url: &str,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    match agent.get(url).call() {
        Err(ureq::Error::Io(_) | ureq::Error::Protocol(_) | ureq::Error::ConnectionFailed) => {
            agent.get(url).call()
        }
        r => r,
    }
}

/// One URL, following redirects by hand so each target is checked against the policy.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    policy: &Policy,
    left: u64,
    known: &dyn Fn(&str) -> bool,
) -> Result<Got, String> {
    let mut urls = vec![url.to_string()];
    let mut current = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    for _ in 0..=policy.max_redirects {
        if !matches!(current.scheme(), "http" | "https") {
            return Err(format!("refused: {} is not http(s)", current.scheme()));
        }
        if !origin_allowed(&current, policy) {
            return Err(format!(
                "refused: {} is not an allowed origin (--allow-origin)",
                current.origin().ascii_serialization()
            ));
        }
        let mut resp = get_once_more(agent, current.as_str()).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        if (300..400).contains(&status) && status != 304 {
            let to = resp
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("HTTP {status} without Location"))?;
            current = current
                .join(to)
                .map_err(|e| format!("bad redirect {to:?}: {e}"))?;
            current.set_fragment(None);
            if known(current.as_str()) {
                return Ok(Got::Alias(current.into()));
            }
            urls.push(current.to_string());
            continue;
        }
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "application/octet-stream".into());
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok());
        let caching = Caching::parse(header("cache-control"), header("expires"), header("date"));
        let cap = policy.max_asset_bytes.min(left);
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(cap)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) if cap < policy.max_asset_bytes => format!(
                    "larger than the {left} bytes left of the total cap (--max-total-bytes)"
                ),
                ureq::Error::BodyExceedsLimit(_) => {
                    format!("larger than {cap} bytes (--max-asset-bytes)")
                }
                e => e.to_string(),
            })?;
        urls.dedup();
        return Ok(Got::Fetched(Fetched {
            urls,
            content_type,
            bytes,
            fetched_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            caching,
        }));
    }
    Err(format!("more than {} redirects", policy.max_redirects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_non_public_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in [
            "93.184.215.14",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn caching_headers() {
        let c = Caching::parse(Some("public, max-age=600"), None, None);
        assert_eq!(c.fresh_for, Some(Duration::from_secs(600)));
        assert!(!c.no_store);
        let c = Caching::parse(Some("max-age=600, s-maxage=60"), None, None);
        assert_eq!(c.fresh_for, Some(Duration::from_secs(60)));
        assert!(Caching::parse(Some("no-store"), None, None).no_store);
        assert!(Caching::parse(Some("private, max-age=60"), None, None).no_store);
        assert_eq!(
            Caching::parse(Some("no-cache"), None, None).fresh_for,
            Some(Duration::ZERO)
        );
        let c = Caching::parse(
            None,
            Some("Wed, 21 Oct 2015 08:28:00 GMT"),
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(c.fresh_for, Some(Duration::from_secs(3600)));
        assert_eq!(
            Caching::parse(None, Some("0"), None).fresh_for,
            Some(Duration::ZERO)
        );
        assert_eq!(Caching::parse(None, None, None), Caching::default());
    }

    /// A server that drops the first connection after reading the request (what a kept-alive
    /// connection closed by the server at the moment of reuse looks like) and answers the next.
    #[test]
    fn a_connection_dropped_before_the_answer_is_tried_once_more() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/a.png", l.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut answered = 0;
            for (n, conn) in l.incoming().enumerate() {
                let mut c = conn.unwrap();
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                if n == 0 {
                    continue; // dropped without a byte
                }
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 3\r\nConnection: close\r\n\r\npng").unwrap();
                answered += 1;
                if answered == 1 {
                    return n + 1;
                }
            }
            0
        });
        let f = Fetcher::new(Policy {
            allow_private: true,
            ..Default::default()
        });
        let got = f.fetch(&url).expect("the second try is answered");
        assert_eq!(got.bytes, b"png");
        assert_eq!(
            server.join().unwrap(),
            2,
            "two connections: one dropped, one answered"
        );
    }

    #[test]
    fn origins() {
        let p = Policy {
            allow_origins: vec!["https://a.example/".into()],
            ..Default::default()
        };
        assert!(origin_allowed(
            &url::Url::parse("https://a.example/x.png").unwrap(),
            &p
        ));
        assert!(!origin_allowed(
            &url::Url::parse("http://a.example/x.png").unwrap(),
            &p
        ));
        assert!(!origin_allowed(
            &url::Url::parse("https://b.example/x.png").unwrap(),
            &p
        ));
    }
}
