//! Redaction rules: the TOML file, the presets, and their canonical hash.
//!
//! Unknown keys are errors (a typo must never silently disable a rule); selectors and regexes are
//! checked when the rules are compiled, and every error names the line of the rules file.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

/// Largest rules file accepted.
pub const MAX_RULES_BYTES: usize = 1 << 20;

/// A string with its place in the rules file (byte range), for error messages.
pub type Located = Spanned<String>;

/// Make a located string from code (presets): no place in any file.
pub fn here(s: &str) -> Located {
    Spanned::new(0..0, s.to_string())
}

/// The whole rules file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// A name for the report and the manifest.
    #[serde(default)]
    pub name: Option<String>,
    /// Start from a preset (`default` or `strict`) and add this file's rules to it.
    #[serde(default)]
    pub extends: Option<String>,
    /// Elements whose text (and text-like attributes) is replaced by `*`, with their subtrees.
    #[serde(default)]
    pub mask_text: Vec<Located>,
    /// Elements replaced by an empty placeholder of the same size, with their subtrees.
    #[serde(default)]
    pub block: Vec<Located>,
    #[serde(default)]
    pub remove_attributes: Vec<RemoveAttributes>,
    #[serde(default)]
    pub mask_inputs: MaskInputs,
    #[serde(default)]
    pub patterns: Patterns,
    #[serde(default)]
    pub urls: Urls,
    #[serde(default)]
    pub media: Media,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveAttributes {
    pub selector: Located,
    pub attributes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MaskInputs {
    /// Every `<input>`, `<textarea>` and `<select>`.
    #[serde(default)]
    pub all: bool,
    /// Input types (`password`, `email`, `tel`, …); `textarea` and `select` name those elements.
    #[serde(default)]
    pub types: Vec<String>,
    /// Form fields matching these selectors, or inside elements matching them.
    #[serde(default)]
    pub selectors: Vec<Located>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Patterns {
    /// Built-in detectors: `email`, `card`, `phone`, `iban`, `jwt`, `bearer`, `ipv4`, `ipv6`, or `all`.
    #[serde(default)]
    pub builtin: Vec<Located>,
    #[serde(default)]
    pub custom: Vec<CustomPattern>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    pub name: String,
    /// A Rust `regex` (https://docs.rs/regex): matches are replaced by `*` of the same length.
    pub regex: Located,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Urls {
    /// Query parameters whose values are masked in every URL (`?token=…&email=…`).
    #[serde(default)]
    pub query_params: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// `src`, `srcset` and `rr_dataURL` of images, video, audio and picture sources become a
    /// transparent placeholder of the same size.
    #[serde(default)]
    pub block_images: bool,
    /// Canvas pixels (`rr_dataURL` of `<canvas>`, CanvasMutation events) are blanked.
    #[serde(default)]
    pub blank_canvas: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Request and response headers dropped from `rrweb/network@1` events (case-insensitive).
    #[serde(default = "default_headers")]
    pub drop_headers: Vec<String>,
    /// Request/response bodies of requests whose URL matches one of these regexes are dropped.
    #[serde(default)]
    pub drop_bodies: Vec<Located>,
    /// … or masked (`*` of the same length).
    #[serde(default)]
    pub mask_bodies: Vec<Located>,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            drop_headers: default_headers(),
            drop_bodies: Vec::new(),
            mask_bodies: Vec::new(),
        }
    }
}

/// Headers dropped unless the rules say otherwise.
pub fn default_headers() -> Vec<String> {
    [
        "authorization",
        "cookie",
        "set-cookie",
        "x-csrf-token",
        "proxy-authorization",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Drop the person properties kept with each session.
    #[serde(default)]
    pub drop_person: bool,
    /// Replace `distinct_id` by `h:` + HMAC-SHA256(key, id) (hex, 32 chars).
    #[serde(default)]
    pub hash_distinct_id: bool,
    /// The HMAC key. Else `$REEL_REDACT_KEY`; else a random key per run (ids become unlinkable).
    /// Never part of the rules hash or the report.
    #[serde(default, skip_serializing)]
    pub hash_key: Option<String>,
}

/// A rules file that cannot be used, with its place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default())]
pub struct RulesError {
    /// `line L, column C` when known.
    pub location: Option<String>,
    pub message: String,
}

impl RulesError {
    pub fn new(message: impl Into<String>) -> Self {
        RulesError {
            location: None,
            message: message.into(),
        }
    }
    /// An error about a value at `span` of `text`.
    pub fn at(
        text: Option<&str>,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        RulesError {
            location: text
                .filter(|_| span.end > 0)
                .map(|t| line_col(t, span.start)),
            message: message.into(),
        }
    }
}

fn line_col(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = offset
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0)
        + 1;
    format!("line {line}, column {col}")
}

impl Rules {
    /// Parse a rules file (TOML). Unknown keys, wrong types and oversized files are errors.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        if text.len() > MAX_RULES_BYTES {
            return Err(RulesError::new(format!(
                "rules file is larger than {MAX_RULES_BYTES} bytes"
            )));
        }
        let mut r: Rules = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(s) => RulesError::at(Some(text), s.start..s.end.max(1), msg),
                None => RulesError::new(msg),
            }
        })?;
        if let Some(base) = r.extends.take() {
            let preset = Rules::preset(&base).ok_or_else(|| {
                RulesError::new(format!(
                    "extends = {base:?}: no such preset (use \"default\" or \"strict\")"
                ))
            })?;
            r = preset.merged_with(r, &base);
        }
        Ok(r)
    }

    /// A built-in preset: `default` or `strict`.
    pub fn preset(name: &str) -> Option<Rules> {
        let markers_block = [".rr-block", ".ph-no-capture", "[data-reel-block]"];
        let markers_mask = [".rr-mask", ".ph-mask", "[data-reel-mask]"];
        let builtins = ["all"];
        let mut r = Rules {
            name: Some(format!("preset:{name}")),
            block: markers_block.iter().map(|s| here(s)).collect(),
            mask_text: markers_mask.iter().map(|s| here(s)).collect(),
            mask_inputs: MaskInputs {
                all: true,
                ..Default::default()
            },
            patterns: Patterns {
                builtin: builtins.iter().map(|s| here(s)).collect(),
                custom: Vec::new(),
            },
            ..Default::default()
        };
        match name {
            "default" => Some(r),
            "strict" => {
                r.mask_text.push(here("*"));
                r.media = Media {
                    block_images: true,
                    blank_canvas: true,
                };
                r.metadata = Metadata {
                    drop_person: true,
                    hash_distinct_id: true,
                    hash_key: None,
                };
                r.urls.query_params = [
                    "token",
                    "access_token",
                    "code",
                    "email",
                    "key",
                    "session",
                    "password",
                ]
                .map(String::from)
                .to_vec();
                Some(r)
            }
            _ => None,
        }
    }

    fn merged_with(mut self, o: Rules, base: &str) -> Rules {
        self.name = Some(o.name.unwrap_or_else(|| format!("preset:{base}+file")));
        self.mask_text.extend(o.mask_text);
        self.block.extend(o.block);
        self.remove_attributes.extend(o.remove_attributes);
        self.mask_inputs.all |= o.mask_inputs.all;
        self.mask_inputs.types.extend(o.mask_inputs.types);
        self.mask_inputs.selectors.extend(o.mask_inputs.selectors);
        self.patterns.builtin.extend(o.patterns.builtin);
        self.patterns.custom.extend(o.patterns.custom);
        self.urls.query_params.extend(o.urls.query_params);
        self.media.block_images |= o.media.block_images;
        self.media.blank_canvas |= o.media.blank_canvas;
        for h in o.network.drop_headers {
            if !self.network.drop_headers.contains(&h) {
                self.network.drop_headers.push(h);
            }
        }
        self.network.drop_bodies.extend(o.network.drop_bodies);
        self.network.mask_bodies.extend(o.network.mask_bodies);
        self.metadata.drop_person |= o.metadata.drop_person;
        self.metadata.hash_distinct_id |= o.metadata.hash_distinct_id;
        self.metadata.hash_key = o.metadata.hash_key.or(self.metadata.hash_key);
        self
    }

    /// SHA-256 (hex) of the rules' canonical form: their JSON serialisation with presets
    /// expanded, comments and formatting gone, and the hash key left out.
    pub fn sha256(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&canonical))
    }

    /// The name shown in reports.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "rules".into())
    }
}
