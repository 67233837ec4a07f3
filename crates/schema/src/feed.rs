//! The `feed` step: an RSS or Atom feed read over HTTP.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `feed`: reads an RSS (0.9x, 1.0, 2.0) or Atom feed, through the same guarded HTTP client as
/// `http` (retries, circuit breaker, private addresses refused). Its result is
/// `{title, link, items, skipped}`: `items` the feed's entries in the feed's order, each
/// `{id, title, link, published, summary}` (`published`: unix seconds, or `none`; `id`: the
/// entry's guid or id, else its link), `skipped` the number of malformed entries left out (an
/// entry without a title, or one whose XML is broken: each is logged, the rest are kept). An
/// answer that is not a feed, or an HTTP error status, fails the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// The feed's URL (a template): `"{{ bot.feed_url }}"`. Only `http://` and `https://`.
    pub url: String,
    /// The most entries kept, first ones first (1 to 1000; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Time limit of one attempt, in milliseconds (1 to 60000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    /// Retries after a network error, a timeout, a 5xx or a 429 answer (0 to 5).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// A name for the result: `as: feed` then `for_each: {in: feed.items, …}`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// The default `limit` of `feed`.
pub const DEFAULT_FEED_LIMIT: u32 = 100;
/// The largest `limit` of `feed`.
pub const MAX_FEED_LIMIT: u32 = 1000;

fn default_timeout() -> u32 {
    crate::model::DEFAULT_HTTP_TIMEOUT_MS
}

fn default_retries() -> u32 {
    crate::model::DEFAULT_HTTP_RETRIES
}
