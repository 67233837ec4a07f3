//! Receiving: the one way updates come in. Long polling ([`polling`]) and webhooks
//! ([`webhook`]) are sibling update sources; both hand what they receive to the bot's [`Inbox`],
//! which stores each update before it is acknowledged, recognises a redelivery, replays what a
//! crash left unhandled ([`replay`]), prunes what was handled long ago ([`prune`]), and passes
//! each new update, decoded once, to the interpreting stage's dispatcher: the JSON parsed on
//! arrival gives both the text the inbox keeps and the handlers' [`Event`].
//!
//! # Nothing lost
//!
//! Every received update is stored in the inbox ([`StateStore::inbox_put`]) before it is
//! acknowledged: the getUpdates offset that confirms it to Telegram is sent only after the
//! store accepted it (a store failure backs off, and the update is fetched again). A
//! redelivered update (one the inbox already has: the same id *and* the same JSON) is stored
//! once and dispatched once, and is the only update skipped without a warning. Update ids can
//! restart (Telegram picks a random next id after a week without updates; a reset sandbox starts
//! at 1 again), so the same id with other content is a new update: it replaces the handled one
//! and is dispatched, with a warning; while the update under that id is still unhandled, the new
//! one is not stored nor confirmed (warning) and comes again. An id far from the previous one is
//! logged as a restart too ([`Received`], `notice`). Handled updates are kept 24 hours
//! (`INBOX_KEEP`): a redelivery is recognised within that window, then they are pruned.
//!
//! An update is marked handled only after its handler finished, successfully or through the
//! error handler; one not understood (of a kind the engine handles, without a field it needs,
//! such as a message without a chat), or of a kind the engine does not handle, is marked handled
//! at once with a log line. An update without an `update_id` cannot be stored or confirmed: it
//! is skipped with a warning, and a batch of nothing else backs off like an error, since
//! Telegram hands it back at once. When a bot starts, the updates a crash left unhandled are
//! dispatched first, in update-id order, and only then does polling begin, so a chat's replayed
//! updates come before its new ones.
//!
//! # Poison updates
//!
//! Each dispatch of an update is an attempt, counted in its inbox row before the handler runs:
//! storing it counts the first, and a replay counts one more for each update of a page before
//! dispatching it ([`StateStore::inbox_count_attempts`]). So a handler that never finishes,
//! because the process froze or was killed while running it, still used an attempt. After
//! [`EngineConfig::max_update_attempts`] the next start does not run it again: the dispatcher
//! sets it aside as a dead letter, in the chat's order (`dispatch::set_aside`: error
//! log, the bot's error reply, the letter kept, the update marked handled). A handler that panics
//! or overruns its budget in a running process is set aside at once the same way. Operators list,
//! retry and discard dead letters with `ferrogram dead-letters`.
//!
//! So a crash (even `kill -9`) loses no update. A handler's replies, variable writes and the
//! chat's new state are committed together with the update's "handled" mark (`deliver/`
//! tells how), and a starting bot first delivers what its outbox still holds, then replays its
//! inbox, then polls. An update whose handler was running at the crash is handled again from
//! the start, having changed nothing; a reply is sent twice only if it was being sent at the
//! crash. (A `dice` or `poll` step needs Telegram's answer at once, so the calls before it in
//! its handler are made at once too: a crash before that handler's commit repeats them.)

pub mod polling;
pub mod prune;
pub mod replay;
pub mod webhook;

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::watch;

use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::dispatch::{Dispatcher, Job};
use crate::update::{Event, NotAnEvent, kind_of};
use ferrogram_core::{Received, StoreError};

/// A bot's receiving stage: what its update sources share.
pub struct Inbox {
    pub context: Arc<BotContext>,
    /// The bot's file now; shared with the deliverer, which renders the `errors` reply to a
    /// refused call with it.
    pub current: Arc<RwLock<Arc<Loaded>>>,
    pub dispatcher: Arc<Dispatcher>,
    /// Set when the bot stops: its sources end.
    pub stop: watch::Sender<bool>,
    /// Set once the bot replayed its inbox and takes new updates.
    pub ready: watch::Sender<bool>,
    /// The id of the update received last, to notice a restart of the update id sequence.
    pub last_update_id: Mutex<Option<i64>>,
    /// See [`crate::EngineConfig::max_update_attempts`].
    pub max_attempts: u32,
    /// Set (to the error) when the Bot API answered 401 to the bot's getUpdates or setWebhook:
    /// its token was revoked. The sources keep backing off; the host decides
    /// ([`crate::Engine::unauthorized`]).
    /// Kept by the host across the bot's runtimes.
    pub unauthorized: Arc<watch::Sender<Option<String>>>,
}

impl Inbox {
    pub fn new(
        context: Arc<BotContext>,
        current: Arc<RwLock<Arc<Loaded>>>,
        dispatcher: Arc<Dispatcher>,
        max_attempts: u32,
        unauthorized: Arc<watch::Sender<Option<String>>>,
    ) -> Inbox {
        Inbox {
            context,
            current,
            dispatcher,
            stop: watch::Sender::new(false),
            ready: watch::Sender::new(false),
            last_update_id: Mutex::new(None),
            max_attempts: max_attempts.max(1),
            unauthorized,
        }
    }

    /// Notes a Bot API error of the bot's sources: a 401 marks the bot unauthorized.
    pub fn note_refusal(&self, error: &ferrogram_telegram::Error) {
        if error.code() == Some(401) {
            self.unauthorized.send_replace(Some(error.to_string()));
        }
    }
}

/// Stores a batch of updates in the inbox (one write) and dispatches those it did not have yet.
/// Each update is parsed JSON as getUpdates returned it; its text is what the inbox keeps, and
/// the handlers' [`Event`] is read from the same value. `offset` moves past the batch only
/// once it is stored, and not past an update the inbox could not take ([`Received::Busy`]): the
/// next call fetches those again. It follows the batch's last update, so it moves back with a
/// restarted id sequence.
pub async fn receive(inbox: &Inbox, batch: Vec<Value>, offset: &mut Option<i64>) -> Result<(), StoreError> {
    let (bot_id, store) = (inbox.context.bot_id, &inbox.context.store);
    let mut updates = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for raw in batch {
        if let Some(update_id) = update_id_of(bot_id, &raw) {
            let text = raw.to_string();
            rows.push((update_id, text.clone()));
            updates.push((update_id, raw, text));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let received = store.inbox_put_batch(bot_id, rows).await?;
    let mut confirm = true;
    for ((update_id, update, text), received) in updates.into_iter().zip(received) {
        notice(inbox, update_id, received);
        if received.is_stored() {
            accept(inbox, update_id, &update, text, 1).await;
        }
        confirm &= received != Received::Busy;
        // The batch's order, not the highest id ever seen: after a restart of the ids the
        // offset follows the new sequence instead of confirming (dropping) its updates unseen.
        if confirm {
            *offset = Some(update_id + 1);
        }
    }
    Ok(())
}

/// The id of a received update. `None` when it has no usable `update_id`, which makes it
/// impossible to store, confirm or deduplicate; that is logged as a warning naming the update's
/// keys, never its values (they may hold personal data).
pub fn update_id_of(bot_id: u64, update: &Value) -> Option<i64> {
    let update_id = update.get("update_id").and_then(Value::as_i64);
    if update_id.is_none() {
        let keys: Vec<&str> = update.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        tracing::warn!(bot_id, ?keys, "update without an update_id skipped");
    }
    update_id
}

/// How far an update id may land from the one received before it without being taken for a
/// restart of the sequence: Telegram numbers a bot's updates one after the other, and a batch
/// (100 at most) or concurrent webhook deliveries only shuffle neighbours.
const RESTART_GAP: i64 = 1000;

/// Logs what the inbox made of a received update, and a restart of the update id sequence:
/// an id reused for other content, or far from the last one. Only a true redelivery is
/// skipped without a warning. A stored update (new, or under a reused id) is counted
/// (`ferrogram_updates_received_total`).
pub fn notice(inbox: &Inbox, update_id: i64, received: Received) {
    let bot_id = inbox.context.bot_id;
    let last = inbox.last_update_id.lock().replace(update_id);
    match received {
        Received::Redelivered => {
            tracing::debug!(bot_id, update_id, "update received again, already stored: skipped");
        }
        Received::Reused => {
            crate::telemetry::update_received(bot_id);
            tracing::warn!(
                bot_id,
                update_id,
                "update id reused by an update with other content: the update id sequence restarted \
                 (Telegram after a week without updates, or a reset sandbox); handled as a new update"
            )
        }
        Received::Busy => tracing::warn!(
            bot_id,
            update_id,
            "update id reused while the earlier update with this id is still unhandled: not stored \
             nor confirmed yet, it is fetched again once that one is handled"
        ),
        Received::New => {
            crate::telemetry::update_received(bot_id);
            if let Some(last) = last.filter(|last| update_id.abs_diff(*last) > RESTART_GAP.unsigned_abs()) {
                tracing::warn!(bot_id, update_id, last, "update ids jumped: the update id sequence restarted");
            }
        }
    }
}

/// Dispatches a stored update (`update` parsed from `raw`, the text as stored; `attempt` as
/// [`Job::attempt`] says); returns `false` for one that is not understood (a kind the engine
/// handles, without a field it needs) or of a kind the engine does not handle, which is marked
/// handled at once. The logs name the update's kind and the missing field, never values.
pub async fn accept(inbox: &Inbox, update_id: i64, update: &Value, raw: String, attempt: u32) -> bool {
    let bot_id = inbox.context.bot_id;
    let event = match Event::from_update(update) {
        Ok(event) => event,
        Err(NotAnEvent::Malformed(missing)) => {
            let kind = kind_of(update);
            tracing::warn!(
                bot_id,
                update_id,
                kind,
                missing,
                "update not understood: stored, marked handled, not handled"
            );
            mark_handled(&inbox.context, update_id).await;
            return false;
        }
        Err(NotAnEvent::KindNotHandled) => {
            tracing::debug!(bot_id, update_id, kind = kind_of(update), "update kind not handled, skipped");
            mark_handled(&inbox.context, update_id).await;
            return false;
        }
    };
    // The version is fixed here: a reload after this point does not change how it is handled.
    let loaded = Arc::clone(&inbox.current.read());
    inbox.dispatcher.dispatch(Job { event, loaded, raw, attempt });
    true
}

/// Marks an update handled in the inbox; a failure is logged (the update is then replayed at
/// the next start, its replies sent again).
pub async fn mark_handled(bot: &BotContext, update_id: i64) {
    if let Err(error) = bot.store.inbox_mark_handled(bot.bot_id, update_id).await {
        tracing::warn!(bot_id = bot.bot_id, update_id, %error, "marking the update handled failed");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_update_without_an_id_is_skipped_and_logged_without_its_content() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber =
            tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).without_time().finish();
        let batch = [
            json!({"message": {"text": "my phone is 555-0199"}, "update_idd": 4}),
            json!({"update_id": 3, "message": {"text": "ok"}}),
            json!({"update_id": "5", "message": {"text": "a string id"}}),
            json!("not even an object"),
        ];
        let ids: Vec<_> = tracing::subscriber::with_default(subscriber, || {
            batch.iter().filter_map(|update| update_id_of(7, update)).collect()
        });
        assert_eq!(ids, [3], "the rest of the batch is kept");
        let log = String::from_utf8_lossy(&captured.0.lock()).into_owned();
        let lines: Vec<_> = log.lines().collect();
        assert_eq!(lines.len(), 3, "{log}");
        assert!(lines.iter().all(|l| l.trim_start().starts_with("WARN")), "{log}");
        assert!(lines.iter().all(|l| l.contains("update without an update_id skipped")), "{log}");
        assert!(lines[0].contains(r#"keys=["message", "update_idd"]"#), "{log}");
        assert!(lines[1].contains(r#"keys=["update_id", "message"]"#), "{log}");
        assert!(
            !log.contains("555-0199") && !log.contains("not even") && !log.contains("string id"),
            "values logged: {log}"
        );
    }
}
