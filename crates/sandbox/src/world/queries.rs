//! Callback and inline queries expire: Telegram refuses a late answer, and the sandbox forgets
//! expired queries so their maps stay small.

use super::objects::now;
use super::{InlineQueryRec, State};
use std::time::Duration;

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
