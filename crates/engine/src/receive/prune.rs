//! Pruning the inbox: handled updates are kept a day to recognise a redelivery, then forgotten.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::interpret::context::BotContext;

/// How often a bot prunes its inbox. (Failed deliveries are retried by their held chat, see
/// the outbox.)
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);

/// How long a handled update is kept to recognise a redelivery of it, unless the operator
/// sets [`EngineConfig::inbox_keep`](crate::EngineConfig::inbox_keep).
pub const INBOX_KEEP: Duration = Duration::from_secs(24 * 3600);

/// A bot's housekeeping until it stops: forgets handled updates older than `keep` (by default
/// [`INBOX_KEEP`]).
pub async fn maintain(context: Arc<BotContext>, keep: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(MAINTENANCE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticks.tick() => {}
        }
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.saturating_sub(keep).as_secs());
        match context.store.inbox_prune(context.bot_id, cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(bot_id = context.bot_id, pruned, "handled updates pruned from the inbox"),
            Err(error) => tracing::warn!(bot_id = context.bot_id, %error, "pruning the inbox failed"),
        }
    }
}
