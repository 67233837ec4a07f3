//! The one error type of the crate.
//!
//! Callers mostly need two answers from an error: *may I try again* ([`Error::is_retryable`])
//! and *how long must I wait* ([`Error::retry_after`]); the variants keep what Telegram said so
//! the flood scheduler and the engine can act on it (pause a chat, follow a group migration).

use std::time::Duration;

/// A failed Bot API call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Telegram (or the sandbox) answered `ok: false`, or an HTTP error without a Bot API body.
    #[error("Bot API error {code}: {description}")]
    Api {
        /// `error_code`, or the HTTP status when the body was not a Bot API answer.
        code: u16,
        description: String,
        /// Seconds to wait before repeating the request (429 answers).
        retry_after: Option<u64>,
        /// The group was upgraded to a supergroup with this id (400 answers).
        migrate_to_chat_id: Option<i64>,
    },
    /// No connection was made (refused, DNS failure, connect timeout): Telegram never saw the
    /// request, so repeating it is always safe.
    #[error("cannot connect: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request was sent, or may have been, but no complete answer came back (timeout,
    /// connection reset or dropped): Telegram may have carried it out. See
    /// [`Error::may_have_been_delivered`].
    #[error("network error: {0}")]
    Network(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The writer given to a download failed.
    #[error("cannot write the download: {0}")]
    Write(#[source] std::io::Error),
    /// An answer or a download was larger than the client accepts.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge { what: &'static str, limit: u64 },
    /// The server answered, but the answer is not what the method returns.
    #[error("cannot decode the answer of {method}: {source}")]
    Decode {
        method: String,
        #[source]
        source: serde_json::Error,
    },
    /// The request was refused before it was sent (unserialisable parameters, missing upload).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The flood scheduler's queue for this priority is full (`try_submit` only).
    #[error("send queue is full")]
    QueueFull,
    /// The flood scheduler has stopped; the request was not sent.
    #[error("send scheduler is closed")]
    Closed,
}

impl Error {
    /// True for failures that a later identical request may not hit: network errors, 5xx and
    /// 429. Everything else (4xx, decode errors) would fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect(_) | Error::Network(_) => true,
            Error::Api { code, .. } => *code == 429 || *code >= 500,
            _ => false,
        }
    }

    /// True when the request failed after it may have reached Telegram: no answer came, or a
    /// 5xx did (a gateway's 502 or 504 can follow a message that was posted). A retry of a send
    /// may then deliver its message twice.
    pub fn may_have_been_delivered(&self) -> bool {
        matches!(self, Error::Network(_) | Error::Api { code: 500.., .. })
    }

    /// True for a 429 "Too Many Requests" answer.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::Api { code: 429, .. })
    }

    /// The wait Telegram asked for, if it asked for one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after: Some(secs), .. } => Some(Duration::from_secs(*secs)),
            _ => None,
        }
    }

    /// The Bot API error code, if the server answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Builds a network error (the request may have been delivered) from any error or message.
    pub fn network(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Network(source.into())
    }

    /// Builds a connect error (the request was not sent) from any error or message.
    pub fn connect(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Connect(source.into())
    }

    /// Only a failure to connect proves the request was not sent; a timeout or a reset may
    /// come after Telegram read it.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_builder() {
            Error::InvalidRequest(err.without_url().to_string())
        } else if err.is_connect() {
            Error::Connect(Box::new(err.without_url()))
        } else {
            Error::Network(Box::new(err.without_url()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, retry_after: Option<u64>) -> Error {
        Error::Api { code, description: "x".into(), retry_after, migrate_to_chat_id: None }
    }

    #[test]
    fn retryable_classification() {
        assert!(api(429, Some(3)).is_retryable());
        assert!(api(500, None).is_retryable());
        assert!(api(502, None).is_retryable());
        assert!(!api(400, None).is_retryable());
        assert!(!api(403, None).is_retryable());
        assert!(Error::network("reset").is_retryable());
        assert!(Error::connect("refused").is_retryable());
        assert!(!Error::TooLarge { what: "answer", limit: 1 }.is_retryable());
        assert!(!Error::InvalidRequest("bad".into()).is_retryable());
    }

    #[test]
    fn failures_after_the_request_reached_a_server_may_have_been_delivered() {
        assert!(Error::network("timed out").may_have_been_delivered());
        assert!(api(502, None).may_have_been_delivered(), "a gateway may answer 502 after the post");
        assert!(api(500, None).may_have_been_delivered());
        assert!(!Error::connect("refused").may_have_been_delivered());
        assert!(!api(400, None).may_have_been_delivered(), "a 4xx did nothing");
        assert!(!api(429, Some(1)).may_have_been_delivered(), "a 429 did nothing");
    }

    #[test]
    fn retry_after_only_when_given() {
        assert_eq!(api(429, Some(3)).retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(api(429, None).retry_after(), None);
        assert_eq!(Error::network("x").retry_after(), None);
    }
}
