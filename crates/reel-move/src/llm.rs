//! Sending a session's compact timeline to an OpenAI-compatible chat-completions endpoint and
//! reading back the summary (`reel moments --llm-url`, the server's
//! `POST /api/v1/sessions/{id}/summary/llm`). What is sent and how the answer is checked is
//! `reel_insight::llm`'s; this module only talks HTTP, through [`crate::http::Client`] (retries,
//! `429` + `Retry-After`, body cap). The key is sent as `Authorization: Bearer …` and nowhere else.
use crate::http::{Client, Policy};
use reel_insight::{llm, Insight, LlmSummary};
use std::time::Duration;

/// Where summaries come from: `--llm-url` / `REEL_LLM_URL`, `REEL_LLM_MODEL`, `REEL_LLM_API_KEY`.
#[derive(Clone)]
pub struct Endpoint {
    /// The chat-completions URL (a base URL such as `https://api.openai.com/v1` gets
    /// `/chat/completions` added).
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The model asked when none is named.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

impl Endpoint {
    /// From a URL given on the command line or in a config file (else `REEL_LLM_URL`), the model
    /// (else `REEL_LLM_MODEL`, else [`DEFAULT_MODEL`]) and the key from `REEL_LLM_API_KEY`.
    /// `Ok(None)`: no URL anywhere, summaries are off.
    pub fn from_env(url: Option<String>, model: Option<String>) -> anyhow::Result<Option<Self>> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let Some(url) = url
            .filter(|u| !u.trim().is_empty())
            .or_else(|| env("REEL_LLM_URL"))
        else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!(
                "--llm-url {url:?}: use an http(s) URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1"
            );
        }
        let url = if url.ends_with("/chat/completions") {
            url
        } else {
            format!("{url}/chat/completions")
        };
        Ok(Some(Endpoint {
            url,
            model: model
                .or_else(|| env("REEL_LLM_MODEL"))
                .unwrap_or_else(|| DEFAULT_MODEL.into()),
            api_key: env("REEL_LLM_API_KEY"),
        }))
    }

    /// Ask for a summary of `insight` (blocking). The error names the endpoint and what went wrong.
    pub fn summarize(&self, insight: &Insight) -> anyhow::Result<LlmSummary> {
        let client = Client::new(
            self.api_key.clone(),
            Policy {
                attempts: 3,
                backoff: Duration::from_secs(1),
                backoff_cap: Duration::from_secs(10),
                retry_after_cap: Duration::from_secs(60),
                throttled_attempts: 3,
                max_body: llm::MAX_ANSWER_BYTES,
                timeout: Duration::from_secs(120),
                ..Policy::default()
            },
        );
        let (body, sent) = llm::request(&self.model, insight);
        let body = serde_json::to_vec(&body)?;
        let reply = client
            .post(&self.url, "application/json", None, &body)
            .map_err(|e| anyhow::anyhow!("LLM summary: {e}"))?;
        llm::parse_answer(
            &reply.body,
            &self.model,
            insight.summary.duration_ms,
            sent,
            crate::iso(time::OffsetDateTime::now_utc()),
        )
        .map_err(|e| anyhow::anyhow!("LLM summary from {}: {e}", self.url))
    }
}
