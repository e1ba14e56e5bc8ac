//! Bounds for capture requests: a memory budget for the bodies being decoded at once, and per
//! capture token quotas (bytes per second, new sessions per minute, sessions per request).
//!
//! The budget is a semaphore of 64 KiB permits. A request takes permits as its decoded body grows
//! (twice the body's size: the parsed events are about as big again) and keeps them until it is
//! answered; when the budget is spent the request is answered 503 with `Retry-After` instead of
//! waiting in an unbounded queue.
use crate::state::Config;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One permit of the budget: 64 KiB (a small batch takes one).
const UNIT: u64 = 64 << 10;

pub struct Guard {
    budget: Arc<Semaphore>,
    quotas: Mutex<HashMap<String, TokenQuota>>,
    bytes_per_second: u64,
    new_sessions_per_minute: u64,
    sessions_per_request: u64,
}

/// Permits a request holds while its body is in memory.
pub struct Reservation {
    sem: Arc<Semaphore>,
    held: Vec<OwnedSemaphorePermit>,
    units: u64,
}

impl Reservation {
    /// Account for a decoded body now taking `bytes`; false when the server's budget is spent.
    pub fn grow(&mut self, bytes: u64) -> bool {
        let want = (bytes.saturating_mul(2)).div_ceil(UNIT).max(1);
        if want <= self.units {
            return true;
        }
        let more = (want - self.units).min(u32::MAX as u64) as u32;
        match self.sem.clone().try_acquire_many_owned(more) {
            Ok(p) => {
                self.held.push(p);
                self.units = want;
                true
            }
            Err(_) => false,
        }
    }
}

/// A quota refusal: what was exceeded and when to retry.
pub struct Refusal {
    pub message: String,
    pub retry_after_secs: u64,
}

struct TokenQuota {
    bytes: f64,
    bytes_at: Instant,
    sessions: f64,
    sessions_at: Instant,
    /// Sessions this server has seen for the token, with when (new ones count against the quota).
    known: HashMap<String, Instant>,
}

/// Sessions remembered per token before old ones are forgotten (they count as new again).
const KNOWN_SESSIONS: usize = 200_000;

impl Guard {
    pub fn new(c: &Config) -> Guard {
        // A budget smaller than one largest body would refuse that body forever.
        let largest = c
            .decompressed_limit
            .max(c.analytics_limit)
            .max(c.flags_limit);
        let units = c
            .inflight_limit
            .max(largest.saturating_mul(2))
            .div_ceil(UNIT)
            .min(Semaphore::MAX_PERMITS as u64);
        Guard {
            budget: Arc::new(Semaphore::new(units as usize)),
            quotas: Mutex::new(HashMap::new()),
            bytes_per_second: c.quota_bytes_per_second,
            new_sessions_per_minute: c.quota_new_sessions_per_minute,
            sessions_per_request: c.quota_sessions_per_request,
        }
    }

    pub fn reserve(&self) -> Reservation {
        Reservation {
            sem: self.budget.clone(),
            held: Vec::new(),
            units: 0,
        }
    }

    fn with_quota<T>(&self, token: &str, f: impl FnOnce(&mut TokenQuota) -> T) -> T {
        let mut m = self.quotas.lock().unwrap_or_else(|e| e.into_inner());
        if !m.contains_key(token) && m.len() > 64 {
            m.clear(); // only valid capture tokens get here; a handful at most
        }
        let q = m.entry(token.to_string()).or_insert_with(|| TokenQuota {
            bytes: self.bytes_per_second as f64,
            bytes_at: Instant::now(),
            sessions: self.new_sessions_per_minute as f64,
            sessions_at: Instant::now(),
            known: HashMap::new(),
        });
        f(q)
    }

    /// Charge `n` decoded body bytes to the token. A request is let through while the bucket is
    /// not empty (so a body larger than one second's allowance still passes once), and its
    /// bytes are owed afterwards.
    pub fn charge_bytes(&self, token: &str, n: u64) -> Result<(), Refusal> {
        let rate = self.bytes_per_second;
        if rate == 0 {
            return Ok(());
        }
        self.with_quota(token, |q| {
            let now = Instant::now();
            let dt = now.duration_since(q.bytes_at).as_secs_f64();
            q.bytes_at = now;
            q.bytes = (q.bytes + dt * rate as f64).min(rate as f64);
            if q.bytes <= 0.0 {
                let secs = (-q.bytes / rate as f64).ceil().max(1.0) as u64;
                return Err(Refusal {
                    message: format!(
                        "this capture token sent more than {rate} bytes per second (--quota-bytes-per-second); retry after {secs} s"
                    ),
                    retry_after_secs: secs,
                });
            }
            q.bytes -= n as f64;
            Ok(())
        })
    }

    /// Check the sessions a request writes to: how many, and how many are new to this server.
    pub fn charge_sessions<'a>(
        &self,
        token: &str,
        sessions: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Refusal> {
        let mut ids: Vec<&str> = sessions.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let per_request = self.sessions_per_request;
        if per_request > 0 && ids.len() as u64 > per_request {
            return Err(Refusal {
                message: format!(
                    "one request writes to {} sessions; at most {per_request} are accepted (--quota-sessions-per-request): send them in separate requests",
                    ids.len()
                ),
                retry_after_secs: 60,
            });
        }
        let per_min = self.new_sessions_per_minute;
        if per_min == 0 {
            return Ok(());
        }
        self.with_quota(token, |q| {
            let now = Instant::now();
            let fresh: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| !q.known.contains_key(*id))
                .collect();
            let rate = per_min as f64 / 60.0;
            let dt = now.duration_since(q.sessions_at).as_secs_f64();
            q.sessions_at = now;
            q.sessions = (q.sessions + dt * rate).min(per_min as f64);
            let need = fresh.len() as f64;
            if need > q.sessions {
                let secs = ((need - q.sessions) / rate).ceil().max(1.0) as u64;
                return Err(Refusal {
                    message: format!(
                        "this capture token started more than {per_min} new sessions per minute (--quota-new-sessions-per-minute); retry after {secs} s"
                    ),
                    retry_after_secs: secs,
                });
            }
            q.sessions -= need;
            if q.known.len() + fresh.len() > KNOWN_SESSIONS {
                let old = now - std::time::Duration::from_secs(600);
                q.known.retain(|_, t| *t > old);
                if q.known.len() + fresh.len() > KNOWN_SESSIONS {
                    q.known.clear();
                }
            }
            for id in ids {
                q.known.insert(id.to_string(), now);
            }
            Ok(())
        })
    }
}
