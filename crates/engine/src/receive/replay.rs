//! What a starting bot does before it takes new updates, in either mode: deliver what its
//! outbox still holds, then dispatch what its inbox holds unhandled, lowest update id first.

use ferrogram_telegram::Backoff;
use serde_json::Value;
use tokio::sync::watch;

use crate::interpret::context::BotContext;
use crate::receive::{Inbox, accept, mark_handled, update_id_of};

/// How many stored updates a replay reads from the inbox at once.
const REPLAY_PAGE: u32 = 1000;

/// What a starting (or woken) bot does before it takes new updates, in either mode: delivers
/// what its outbox holds, replays what its inbox holds unhandled, then marks itself ready. The
/// stop signal to watch, or `None` if the bot was stopped meanwhile. (Its commands are published
/// by the host, once per start and reload, not per runtime.)
pub async fn catch_up(inbox: &Inbox, backoff: &Backoff) -> Option<watch::Receiver<bool>> {
    let mut stop = inbox.stop.subscribe();
    redeliver(&inbox.context).await;
    if !replay(inbox, &mut stop, backoff).await {
        return None;
    }
    inbox.ready.send_replace(true);
    Some(stop)
}

/// Delivers what the bot's outbox holds: what a crash left, or what failed to go out.
async fn redeliver(context: &BotContext) {
    match context.outbox.redeliver(context.store.as_ref()).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(bot_id = context.bot_id, count, "delivered calls left in the outbox"),
        Err(error) => tracing::warn!(bot_id = context.bot_id, %error, "reading the outbox failed"),
    }
}

/// Dispatches what a crash left unhandled in the inbox, lowest update id first, before the
/// first poll. The updates of a page stay unhandled until their handlers finish, so a full page
/// is waited for before the next is read. Returns `false` if the bot was stopped meanwhile.
async fn replay(inbox: &Inbox, stop: &mut watch::Receiver<bool>, backoff: &Backoff) -> bool {
    let context = &inbox.context;
    let bot_id = context.bot_id;
    let mut handled = inbox.dispatcher.handled();
    let (mut after, mut replayed, mut failures) = (i64::MIN, 0usize, 0u32);
    loop {
        let page = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return false,
            page = context.store.inbox_unhandled(bot_id, REPLAY_PAGE) => page,
        };
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                failures = failures.saturating_add(1);
                let delay = backoff.delay(failures.min(10));
                tracing::warn!(bot_id, %error, ?delay, "reading the inbox failed");
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return false,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        let full = page.len() >= REPLAY_PAGE as usize;
        let seen = after;
        let page: Vec<_> = page.into_iter().filter(|stored| stored.update_id > seen).collect();
        // This attempt is counted before the handlers run, so one that never finishes (the
        // process hangs or is killed) counts too; an update out of attempts is not run again.
        let max_attempts = inbox.max_attempts;
        let retried: Vec<i64> =
            page.iter().filter(|stored| stored.attempts < max_attempts).map(|stored| stored.update_id).collect();
        if !retried.is_empty()
            && let Err(error) = context.store.inbox_count_attempts(bot_id, retried).await
        {
            failures = failures.saturating_add(1);
            let delay = backoff.delay(failures.min(10));
            tracing::warn!(bot_id, %error, ?delay, "counting the replayed updates' attempts failed");
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return false,
                () = tokio::time::sleep(delay) => continue,
            }
        }
        failures = 0;
        let before = *handled.borrow_and_update();
        let mut dispatched = 0u64;
        let mut fresh = false;
        for stored in page {
            (after, fresh) = (stored.update_id, true);
            replayed += 1;
            let update = serde_json::from_str::<Value>(&stored.raw).ok();
            let update = update.and_then(|update| Some((update_id_of(bot_id, &update)?, update)));
            let Some((update_id, update)) = update else {
                tracing::warn!(bot_id, update_id = stored.update_id, "stored update is not an update: marked handled");
                mark_handled(context, stored.update_id).await;
                continue;
            };
            *inbox.last_update_id.lock() = Some(stored.update_id);
            // Past its last attempt, the dispatcher sets it aside in the chat's order.
            let attempt = stored.attempts.min(max_attempts).saturating_add(1);
            if accept(inbox, update_id, &update, stored.raw, attempt).await {
                dispatched += 1;
            }
        }
        if !full || !fresh {
            break;
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return false,
            outcome = handled.wait_for(|n| *n >= before + dispatched) => if outcome.is_err() { return false },
        }
    }
    if replayed > 0 {
        tracing::info!(bot_id, replayed, "replaying updates left unhandled by the last run");
    }
    true
}
