//! Callback and inline queries expire: Telegram refuses a late answer, and the sandbox forgets
//! expired queries so their maps stay small.

use super::State;
use super::objects::now;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackRec {
    pub bot_id: i64,
    /// The chat and message of the pressed button, when the message is accessible.
    #[serde(default)]
    pub chat_id: Option<i64>,
    #[serde(default)]
    pub message_id: Option<i64>,
    pub answer: Option<Value>,
    /// When the user pressed the button (Unix time): the query expires after `query_expiry`.
    #[serde(default = "now")]
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InlineQueryRec {
    pub bot_id: i64,
    pub answer: Option<Value>,
    #[serde(default = "now")]
    pub created: i64,
}

/// Telegram does not document how long a query stays answerable; 15 minutes is the sandbox's.
pub fn default_expiry() -> Duration {
    Duration::from_secs(15 * 60)
}

/// Whether a query made at `created` (Unix time) is older than `expiry`.
fn expired(expiry: Duration, created: i64) -> bool {
    let expiry = i64::try_from(expiry.as_secs()).unwrap_or(i64::MAX);
    now().saturating_sub(created) >= expiry
}

impl State {
    /// Whether a query made at `created` can no longer be answered.
    pub fn query_expired(&self, created: i64) -> bool {
        expired(self.query_expiry, created)
    }

    /// Forgets the callback and inline queries that have expired.
    pub fn prune_queries(&mut self) {
        let expiry = self.query_expiry;
        self.callbacks.retain(|_, query| !expired(expiry, query.created));
        self.inline_queries.retain(|_, query| !expired(expiry, query.created));
    }

    /// Registers an inline query a user made, after forgetting the expired ones.
    pub fn add_inline_query(&mut self, id: String, bot_id: i64) {
        self.prune_queries();
        self.inline_queries.insert(id, InlineQueryRec { bot_id, answer: None, created: now() });
    }
}
