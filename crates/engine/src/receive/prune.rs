//! A bot's retention: handled updates are kept a day to recognise a redelivery, then
//! forgotten; who was active which day is kept for the statistics' monthly window, then only
//! counted (decision 0053).

use std::sync::Arc;
use std::time::Duration;

use ferrogram_core::ACTIVE_USERS_KEEP_DAYS;
use tokio::sync::watch;

use crate::interpret::context::BotContext;

/// How often a bot prunes its inbox. (Failed deliveries are retried by their held chat, see
/// the outbox.)
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);

/// How long a handled update is kept to recognise a redelivery of it, unless the operator
/// sets [`EngineConfig::inbox_keep`](crate::EngineConfig::inbox_keep).
pub const INBOX_KEEP: Duration = Duration::from_secs(24 * 3600);

/// A bot's housekeeping until it stops: forgets handled updates older than `keep` (by default
/// [`INBOX_KEEP`]) every 30 s, and, at the start and once each UTC day, who was active before
/// the last [`ACTIVE_USERS_KEEP_DAYS`] days (their daily counts stay).
pub async fn maintain(context: Arc<BotContext>, keep: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(MAINTENANCE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut active_pruned_on = None;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticks.tick() => {}
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let cutoff = now.saturating_sub(keep).as_secs();
        match context.store.inbox_prune(context.bot_id, cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(bot_id = context.bot_id, pruned, "handled updates pruned from the inbox"),
            Err(error) => tracing::warn!(bot_id = context.bot_id, %error, "pruning the inbox failed"),
        }
        let today = i64::try_from(now.as_secs() / 86_400).unwrap_or(i64::MAX);
        if active_pruned_on != Some(today) {
            match context.store.active_users_prune(context.bot_id, today - ACTIVE_USERS_KEEP_DAYS + 1).await {
                Ok(pruned) => {
                    active_pruned_on = Some(today);
                    if pruned > 0 {
                        tracing::debug!(bot_id = context.bot_id, pruned, "old days' active users pruned");
                    }
                }
                Err(error) => tracing::warn!(bot_id = context.bot_id, %error, "pruning the active users failed"),
            }
        }
    }
}
