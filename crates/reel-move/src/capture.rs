//! Send recordings to a PostHog project the way posthog-js does: `$snapshot` events POSTed to
//! `{host}/s/` as gzip JSON, each carrying `$session_id`, `$window_id`, `distinct_id`, the
//! project token and a batch of rrweb events (at most [`BATCH_BYTES`] of event JSON; a larger
//! event goes alone). Every request is retried on `5xx`/`429`/network errors; each `$snapshot`
//! event has a `uuid` derived from its content, so a retried batch is recognised as the same.
use crate::http::{Client, Policy};
use reel_format::import::valid_posthog_id;
use reel_format::Session;
use std::io::Write;

/// Event JSON per `$snapshot` event (PostHog's capture splits larger ones; posthog-js sends
/// about this much).
pub const BATCH_BYTES: usize = 900_000;

pub struct Exporter {
    url: String,
    token: String,
    client: Client,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Sent {
    pub events: u64,
    pub batches: u64,
    pub bytes: u64,
}

impl Exporter {
    /// `host`: the PostHog (or Reel) address that capture goes to; `token`: the project API key.
    pub fn new(host: &str, token: &str) -> anyhow::Result<Exporter> {
        let host = crate::host(host, "https://eu.i.posthog.com")?;
        if token.is_empty() {
            anyhow::bail!("--token: the project API key (phc_…) is empty");
        }
        Ok(Exporter {
            url: format!("{host}/s/?compression=gzip-js&ver=reel"),
            token: token.to_string(),
            client: Client::new(None, Policy::default()),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Send every window of `s`; `sent` is told each batch's event bytes.
    pub fn session(&self, s: &Session, sent: &mut dyn FnMut(u64)) -> anyhow::Result<Sent> {
        if !valid_posthog_id(&s.id) {
            anyhow::bail!(
                "session {}: PostHog session ids are 1-70 chars of [A-Za-z0-9-]; this one cannot keep its id",
                s.id
            );
        }
        let distinct = s.distinct_id.clone().unwrap_or_else(|| s.id.clone());
        let mut total = Sent::default();
        for w in &s.windows {
            let wid = posthog_window_id(&w.id);
            for r in batches(&w.events, BATCH_BYTES) {
                let events = &w.events[r];
                let bytes: u64 = events.iter().map(|e| e.json().len() as u64).sum();
                let body = self.body(s, &wid, &distinct, events)?;
                self.client
                    .post(&self.url, "text/plain", None, &body)
                    .map_err(|e| anyhow::anyhow!("session {}: {e}", s.id))?;
                total.events += events.len() as u64;
                total.batches += 1;
                total.bytes += bytes;
                sent(bytes);
            }
        }
        Ok(total)
    }

    /// One gzip body holding one `$snapshot` event; the events' JSON is copied as it is.
    fn body(
        &self,
        s: &Session,
        wid: &str,
        distinct: &str,
        events: &[reel_format::Event],
    ) -> anyhow::Result<Vec<u8>> {
        use sha2::Digest;
        let mut data = String::from("[");
        let mut h = sha2::Sha256::new();
        h.update(s.id.as_bytes());
        h.update([0]);
        h.update(wid.as_bytes());
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                data.push(',');
            }
            data.push_str(e.json());
            h.update(e.timestamp.to_le_bytes());
            h.update(e.json().as_bytes());
        }
        data.push(']');
        let x = hex::encode(&h.finalize()[..16]);
        // A UUID (version 4 layout) from the content: the same batch always has the same uuid.
        let uuid = format!(
            "{}-{}-4{}-8{}-{}",
            &x[0..8],
            &x[8..12],
            &x[13..16],
            &x[17..20],
            &x[20..32]
        );
        let first = events.first().map(|e| e.timestamp).unwrap_or(0);
        let props = serde_json::json!({
            "$session_id": s.id,
            "$window_id": wid,
            "$snapshot_source": "web",
            "$snapshot_bytes": data.len(),
            "$lib": "reel",
            "$lib_version": env!("CARGO_PKG_VERSION"),
            "distinct_id": distinct,
            "token": self.token,
        });
        let mut props = props.to_string();
        // `$snapshot_data` goes in as raw JSON: no event is parsed or re-serialised.
        props.pop();
        props.push_str(",\"$snapshot_data\":");
        props.push_str(&data);
        props.push('}');
        let event = format!(
            "[{{\"event\":\"$snapshot\",\"uuid\":\"{uuid}\",\"timestamp\":{},\"distinct_id\":{},\"properties\":{props}}}]",
            serde_json::to_string(&reel_format::package::iso_ms(first))?,
            serde_json::to_string(distinct)?,
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(event.as_bytes())?;
        Ok(gz.finish()?)
    }
}

/// Consecutive runs of `events` holding at most `max` bytes of event JSON each (an event larger
/// than `max` alone).
fn batches(events: &[reel_format::Event], max: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, e) in events.iter().enumerate() {
        let n = e.json().len() + 1;
        if i > start && bytes + n > max {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < events.len() {
        out.push(start..events.len());
    }
    out
}

/// PostHog's window ids are 1-70 chars of `[A-Za-z0-9-]`; others are mapped onto that alphabet.
fn posthog_window_id(w: &str) -> String {
    if valid_posthog_id(w) {
        return w.to_string();
    }
    let mut out: String = w
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(70)
        .collect();
    if out.is_empty() {
        out.push('1');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn ev(ts: i64, pad: usize) -> reel_format::Event {
        reel_format::Event::parse(format!(
            r#"{{"type":3,"data":{{"source":2,"x":"{}"}},"timestamp":{ts}}}"#,
            "a".repeat(pad)
        ))
        .unwrap()
    }

    #[test]
    fn batches_stay_under_the_limit_and_big_events_go_alone() {
        let events: Vec<_> = (0..10)
            .map(|i| ev(i, if i == 4 { 500 } else { 40 }))
            .collect();
        let b = batches(&events, 200);
        assert_eq!(b.iter().map(|r| r.len()).sum::<usize>(), 10);
        assert!(b.contains(&(4..5)), "{b:?}");
        for r in &b {
            let n: usize = events[r.clone()].iter().map(|e| e.json().len() + 1).sum();
            assert!(n <= 200 || r.len() == 1);
        }
        assert!(batches(&[], 200).is_empty());
    }

    #[test]
    fn body_is_a_gzip_snapshot_event_with_ids_and_the_events_verbatim() {
        let x = Exporter::new("http://127.0.0.1:1", "phc_t").unwrap();
        let mut s = Session::new("0192-abc");
        s.distinct_id = Some("alice".into());
        let events = vec![ev(5, 1), ev(7, 2)];
        let body = x.body(&s, "w-1", "alice", &events).unwrap();
        let again = x.body(&s, "w-1", "alice", &events).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let e = &v[0];
        assert_eq!(e["event"], "$snapshot");
        assert_eq!(e["properties"]["$session_id"], "0192-abc");
        assert_eq!(e["properties"]["$window_id"], "w-1");
        assert_eq!(e["properties"]["distinct_id"], "alice");
        assert_eq!(e["properties"]["token"], "phc_t");
        assert_eq!(e["properties"]["$snapshot_data"][1]["timestamp"], 7);
        assert_eq!(e["timestamp"], "1970-01-01T00:00:00.005Z");
        // The same batch gets the same uuid (a retry is recognisable).
        let mut t2 = String::new();
        flate2::read::GzDecoder::new(&again[..])
            .read_to_string(&mut t2)
            .unwrap();
        let v2: serde_json::Value = serde_json::from_str(&t2).unwrap();
        assert_eq!(v2[0]["uuid"], e["uuid"]);
        assert_eq!(posthog_window_id("a_b.c"), "a-b-c");
    }
}
