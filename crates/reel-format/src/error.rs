//! Typed errors. Every variant carries enough context for a one-line message a person can act on.
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        context: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
    #[error("{context}: {what} exceeds the limit of {limit} (raise it with {hint})")]
    Limit {
        context: String,
        what: String,
        limit: u64,
        hint: &'static str,
    },
    #[error("{context}: not a readable ZIP archive ({message}); the file may be truncated or not a .reel.zip")]
    Zip { context: String, message: String },
    #[error("{entry}: checksum mismatch (expected sha256 {expected}, found {actual}); the package was modified or damaged")]
    Checksum {
        entry: String,
        expected: String,
        actual: String,
    },
    #[error("{context}: format_version {found} is newer than this reader supports ({supported}); upgrade Reel to read it")]
    Version {
        context: String,
        found: String,
        supported: String,
    },
    #[error("{context}: signature: {message}")]
    Signature { context: String, message: String },
    #[error("{entry}: refusing to extract: {message}")]
    UnsafePath { entry: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{context}: not a recognised recording ({message}); Reel reads rrweb JSON arrays, PostHog exports (V1, V2), PostHog /s/ bodies, PostHog snapshot JSONL, Reel ingest batches and .reel.zip packages")]
    UnknownInput { context: String, message: String },
}

impl Error {
    pub fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            context: context.into(),
            message: message.into(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn zip(context: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Error::Zip {
            context: context.into(),
            message: e.to_string(),
        }
    }
    /// Build a JSON error from serde_json's error, with the line counted from `line_offset`.
    pub fn json(context: impl Into<String>, e: &serde_json::Error, line_offset: usize) -> Self {
        Error::Json {
            context: context.into(),
            line: e.line() + line_offset,
            column: e.column(),
            message: strip_position(&e.to_string()),
        }
    }
    /// Prefix the context with a file or entry name.
    pub fn within(self, name: &str) -> Self {
        match self {
            Error::Json {
                context,
                line,
                column,
                message,
            } => Error::Json {
                context: join(name, &context),
                line,
                column,
                message,
            },
            Error::Invalid { context, message } => Error::Invalid {
                context: join(name, &context),
                message,
            },
            Error::Limit {
                context,
                what,
                limit,
                hint,
            } => Error::Limit {
                context: join(name, &context),
                what,
                limit,
                hint,
            },
            Error::UnknownInput { context, message } => Error::UnknownInput {
                context: join(name, &context),
                message,
            },
            other => other,
        }
    }
}

fn join(name: &str, context: &str) -> String {
    if context.is_empty() || context == name {
        name.to_string()
    } else {
        format!("{name}: {context}")
    }
}

fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}
