//! Telegram Bot API client and flood control for Ferrogram.
//!
//! On the path of an update (docs/architecture.md) it is both ends: long polling fetches updates
//! with its [`Client`], and the delivering stage's outbox sends every call through a bot's
//! [`flood`] scheduler.
//!
//! * [`Client`] — one bot's Bot API client over a shared connection pool, with typed methods
//!   on frankenstein's types, in-memory uploads ([`Upload`]), bounded answers, streamed
//!   downloads ([`Client::download_to`]) and retries of network errors and 5xx (of
//!   message-creating calls whose answer was lost only as [`AmbiguousSends`] says).
//! * [`IncomingUpdate`] — updates decoded one by one, so an unfamiliar one never drops a batch.
//! * [`flood`] — the per-bot send scheduler: Telegram's rate limits, interactive before bulk,
//!   429 pauses of exactly the affected scope.
//! * [`telemetry`] — every request on the wire, retries, 429 pauses and queue waits, counted
//!   through the `metrics` facade (the host installs the recorder).

mod backoff;
mod client;
mod error;
pub mod flood;
mod frankenstein_gaps;
mod methods;
pub mod telemetry;
mod updates;
mod upload;

/// frankenstein's Bot API types, re-exported so users build parameters with the same version.
pub use frankenstein;

pub use self::backoff::Backoff;
pub use self::client::{
    AmbiguousSends, Client, ClientBuilder, DEFAULT_API_URL, USER_AGENT, creates_messages, http_client,
    install_crypto_provider,
};
pub use self::error::Error;
pub use self::updates::IncomingUpdate;
pub use self::upload::{InputFile, Request, Upload};
