//! The outbox: Bot API calls are committed together with the state change that caused them,
//! then delivered.
//!
//! A handler does not call Telegram as it runs: its replies, its variable writes and its
//! chat's new state are collected and written in one [`Commit`], which also marks its update
//! handled. Only then are the calls delivered, in order, and each one is forgotten once
//! Telegram accepted it, or refused it for good (the chat then gets the bot's `errors` reply
//! with the reason). A call that failed in a way worth retrying holds its chat: the chat's later
//! calls wait behind it (see [`Deliverer`]). A crash before the commit leaves nothing
//! behind and the update is handled again; a crash after it leaves the undelivered calls in the
//! outbox, and the bot delivers them when it starts. A call is sent twice only if it was in
//! flight at the crash.
//!

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrogram_telegram::flood::{Priority, Scheduler};
use ferrogram_telegram::{AmbiguousSends, Backoff};
use parking_lot::Mutex;
use serde_json::Value;
use tracing::{Instrument, Span};

use crate::deliver::commit::Committer;
use ferrogram_core::{Outgoing, PendingSend, StateStore, StoreError};

/// Outbox entries read at once when redelivering.
const REDELIVERY_PAGE: u32 = 500;

/// reply, see [`crate::interpret::steps::messages::refusal_reply`]).
pub type RefusalReply = Box<dyn Fn(&Outgoing, Option<u16>, &str) -> Outgoing + Send + Sync>;

/// Delivers one bot's outbox entries through its flood scheduler.
///
/// # Order
///
/// One chat's calls leave in commit order within their lane: replies (interactive) one after
/// the other, notifications (bulk) one after the other. A reply may overtake a notification
/// of its chat still waiting for its paced slot (the flood scheduler's rule: a user's answer is
/// not held behind a broadcast). A call that fails in a way worth retrying (a 429 the scheduler
/// stopped waiting for, the network, a 5xx) *holds its chat*: it is parked at the head of the
/// chat's held queue, every later call of the chat, of either lane, joins that queue instead of
/// being sent, and one task per held chat retries them strictly in commit order (after the
/// `retry_after` Telegram named, or with backoff) until the queue is empty. Other chats are not
/// held up. What the outbox holds at start is delivered the same way. Two exceptions: a bulk
/// call already handed to the scheduler when an earlier call of its chat was parked still
/// leaves; and calls a handler makes at once (`dice`, `poll`) do not wait behind held ones.
///
/// # Refusals
///
/// A call Telegram refused for good is forgotten, never retried. A refusal of a message the
/// user would have seen (a send or an edit answered 400 Bad Request: too long, bad HTML, a
/// photo Telegram cannot process) is logged and answered with the bot's `errors` reply,
/// sent at once with the reason; that reply's own refusal is only logged, so nothing loops.
/// Other refusals (403 blocked by the user, a callback answer too old) are only logged.
///
/// Under [`AmbiguousSends::Fail`] (at most once), a send that failed after it may have reached
/// Telegram (no answer, a 5xx) is forgotten with a warning, not held and repeated.
pub struct Deliverer {
    pub bot_id: u64,
    pub scheduler: Scheduler,
    pub committer: Arc<Committer>,
    refusal_reply: RefusalReply,
    /// Whether a send that may have reached Telegram is repeated; the flood scheduler's
    /// setting, which the outbox keeps too.
    ambiguous_sends: AmbiguousSends,
    /// Entries being sent now: a redelivery pass skips them.
    in_flight: Mutex<HashSet<i64>>,
    /// Held chats: the calls each waits to send, in commit order, the parked one first. Locked
    /// before `in_flight` when both are.
    held: Mutex<HashMap<i64, VecDeque<PendingSend>>>,
    /// Woken each time an entry leaves `in_flight`.
    settled: tokio::sync::Notify,
}

/// What one attempt at a call came to.
enum Outcome {
    /// Telegram carried it out (or answered something unreadable after it did).
    Delivered,
    /// Worth trying again, after `after` if Telegram named a wait.
    Retry { after: Option<Duration>, error: ferrogram_telegram::Error },
    /// Refused for good.
    Refused(ferrogram_telegram::Error),
    /// Failed after it may have reached Telegram, and the bot sends at most once
    /// ([`AmbiguousSends::Fail`]): not repeated.
    MaybeDelivered(ferrogram_telegram::Error),
    /// The scheduler has stopped (the bot is stopping): left in the outbox for the next start.
    Stopped,
}

impl Outcome {
    /// The span's `ferrogram.outcome` (see [`crate::traces`]), with the error when it failed.
    fn trace(&self, span: &Span) {
        let (label, error) = match self {
            Outcome::Delivered => ("ok", None),
            Outcome::Retry { error, .. } => ("held", Some(error)),
            Outcome::Refused(error) => ("refused", Some(error)),
            Outcome::MaybeDelivered(error) => ("maybe_delivered", Some(error)),
            Outcome::Stopped => ("stopped", None),
        };
        crate::traces::outcome(span, label, error.map(|error| error as &dyn std::fmt::Display));
    }

    /// The outcome of one attempt at `outgoing`. The requests themselves are counted by the
    /// client (`ferrogram_bot_api_calls_total`); a call held to be tried again is counted here
    /// as a retry (`ferrogram_bot_api_retries_total`), the one the flood scheduler gave up on.
    fn counted(
        bot_id: u64,
        outgoing: &Outgoing,
        outcome: Result<Value, ferrogram_telegram::Error>,
        ambiguous: AmbiguousSends,
    ) -> Outcome {
        let outcome = Outcome::of(outgoing, outcome, ambiguous);
        if let Outcome::Retry { error, .. } = &outcome {
            ferrogram_telegram::telemetry::api_retry(bot_id, &outgoing.method, error);
        }
        outcome
    }

    fn of(
        outgoing: &Outgoing,
        outcome: Result<Value, ferrogram_telegram::Error>,
        ambiguous: AmbiguousSends,
    ) -> Outcome {
        match outcome {
            Ok(_) => Outcome::Delivered,
            // The call went through; only its answer could not be read.
            Err(ferrogram_telegram::Error::Decode { .. } | ferrogram_telegram::Error::TooLarge { .. }) => {
                Outcome::Delivered
            }
            // An edit that changes nothing did what it was asked.
            Err(ferrogram_telegram::Error::Api { code: 400, ref description, .. })
                if description.contains("message is not modified") =>
            {
                Outcome::Delivered
            }
            Err(ferrogram_telegram::Error::Closed | ferrogram_telegram::Error::QueueFull) => Outcome::Stopped,
            Err(error) if error.is_retryable() && !ambiguous.allows_retry(&outgoing.method, &error) => {
                Outcome::MaybeDelivered(error)
            }
            Err(error) if error.is_retryable() => Outcome::Retry { after: error.retry_after(), error },
            Err(error) => Outcome::Refused(error),
        }
    }
}

/// Whether the chat is told about a refusal: only of a message it would have seen, refused for
/// what it was (400) or before it was sent (an unserialisable call).
fn tells_chat(outgoing: &Outgoing, error: &ferrogram_telegram::Error) -> bool {
    let shown = ferrogram_telegram::creates_messages(&outgoing.method) || outgoing.method.starts_with("editMessage");
    shown
        && outgoing.chat_id != 0
        && matches!(
            error,
            ferrogram_telegram::Error::Api { code: 400, .. } | ferrogram_telegram::Error::InvalidRequest(_)
        )
}

/// The wait before retrying a held chat after its `failures`-th failed attempt, when Telegram
/// named none.
fn held_backoff(failures: u32) -> Duration {
    Backoff::default().delay(failures.max(1))
}

impl Deliverer {
    /// `ambiguous_sends` is the flood scheduler's setting (see [`AmbiguousSends`]).
    pub fn new(
        bot_id: u64,
        scheduler: Scheduler,
        committer: Arc<Committer>,
        refusal_reply: RefusalReply,
        ambiguous_sends: AmbiguousSends,
    ) -> Deliverer {
        Deliverer {
            bot_id,
            scheduler,
            committer,
            refusal_reply,
            ambiguous_sends,
            in_flight: Mutex::default(),
            held: Mutex::default(),
            settled: tokio::sync::Notify::new(),
        }
    }

    /// Delivers committed entries in order: interactive calls one after the other (so a chat's
    /// replies keep their order), bulk ones queued to the scheduler's paced lane. An entry of a
    /// held chat joins the chat's held queue instead (see [Order](Deliverer#order)).
    pub async fn deliver(self: &Arc<Self>, entries: Vec<PendingSend>) {
        for entry in entries {
            if !self.take(&entry) {
                continue;
            }
            let priority = if entry.outgoing.bulk { Priority::Bulk } else { Priority::Interactive };
            let span = crate::traces::telegram(self.bot_id, entry.outgoing.chat_id, &entry.outgoing.method);
            if priority == Priority::Bulk {
                let submitted = match ferrogram_telegram::Request::new(&entry.outgoing.method, &entry.outgoing.params) {
                    Ok(request) => self.scheduler.submit::<Value>(priority, request).instrument(span.clone()).await,
                    Err(error) => Err(error),
                };
                match submitted {
                    Ok(handle) => {
                        let this = Arc::clone(self);
                        // In the update's span, which stays open until this call is settled.
                        tokio::spawn(
                            async move {
                                let outcome = handle.await;
                                this.settle(entry, outcome, &span).await;
                            }
                            .in_current_span(),
                        );
                    }
                    Err(error) => self.settle(entry, Err(error), &span).await,
                }
            } else {
                let call = self.scheduler.call(priority, &entry.outgoing.method, &entry.outgoing.params);
                let outcome = call.instrument(span.clone()).await;
                self.settle(entry, outcome, &span).await;
            }
        }
    }

    /// Marks `entry` as being sent, unless it is already or its chat is held: then it joins
    /// the chat's held queue (once) and is not sent now.
    fn take(&self, entry: &PendingSend) -> bool {
        let mut held = self.held.lock();
        let mut in_flight = self.in_flight.lock();
        if in_flight.contains(&entry.id) {
            return false;
        }
        let taken = match held.get_mut(&entry.outgoing.chat_id) {
            Some(queue) => {
                enqueue(queue, entry.clone(), &in_flight);
                false
            }
            None => in_flight.insert(entry.id),
        };
        self.count_pending(&held, &in_flight);
        taken
    }

    /// Sets `ferrogram_outbox_pending`: the calls being sent now or waiting in a held chat's
    /// queue (the front of a queue being retried is both: counted once).
    fn count_pending(&self, held: &HashMap<i64, VecDeque<PendingSend>>, in_flight: &HashSet<i64>) {
        let waiting = held.values().flatten().filter(|entry| !in_flight.contains(&entry.id)).count();
        crate::telemetry::outbox_pending(self.bot_id, in_flight.len() + waiting);
    }

    /// Settles a first attempt: forgets the entry, answers a refusal, or holds its chat; records
    /// how it ended on the call's `span`.
    async fn settle(
        self: &Arc<Self>,
        entry: PendingSend,
        outcome: Result<Value, ferrogram_telegram::Error>,
        span: &Span,
    ) {
        let id = entry.id;
        let outcome = Outcome::counted(self.bot_id, &entry.outgoing, outcome, self.ambiguous_sends);
        outcome.trace(span);
        match outcome {
            Outcome::Retry { after, error } => {
                let chat_id = entry.outgoing.chat_id;
                tracing::warn!(
                    bot_id = self.bot_id,
                    method = entry.outgoing.method.as_str(),
                    chat_id,
                    %error,
                    "delivery failed: kept in the outbox, the chat's later calls wait behind it"
                );
                let start = {
                    let mut held = self.held.lock();
                    let in_flight = self.in_flight.lock();
                    let new = !held.contains_key(&chat_id);
                    enqueue(held.entry(chat_id).or_default(), entry, &in_flight);
                    new
                };
                if start {
                    let wait = after.unwrap_or_else(|| held_backoff(1));
                    tokio::spawn(Self::retry_held(Arc::downgrade(self), chat_id, wait));
                }
            }
            outcome => self.finish(&entry, outcome).await,
        }
        {
            let held = self.held.lock();
            let mut in_flight = self.in_flight.lock();
            in_flight.remove(&id);
            self.count_pending(&held, &in_flight);
        }
        self.settled.notify_waiters();
    }

    /// Ends an entry's delivery: forgets it once delivered or refused (telling the chat of a
    /// refusal), or leaves it for the next start.
    async fn finish(&self, entry: &PendingSend, outcome: Outcome) {
        let (bot_id, outgoing) = (self.bot_id, &entry.outgoing);
        let (method, chat_id) = (outgoing.method.as_str(), outgoing.chat_id);
        match outcome {
            Outcome::Delivered => self.committer.delivered(bot_id, entry.id),
            Outcome::MaybeDelivered(error) => {
                tracing::warn!(bot_id, method, chat_id, %error, "the call may have reached Telegram: not repeated (ambiguous_sends: fail)");
                self.committer.delivered(bot_id, entry.id);
            }
            Outcome::Stopped | Outcome::Retry { .. } => {
                tracing::info!(
                    bot_id,
                    method,
                    chat_id,
                    "the bot is stopping: the call stays in the outbox for its next start"
                );
            }
            Outcome::Refused(error) => {
                let reason = match &error {
                    ferrogram_telegram::Error::Api { description, .. } => description.clone(),
                    other => other.to_string(),
                };
                if tells_chat(outgoing, &error) {
                    tracing::warn!(bot_id, method, chat_id, %error, "Telegram refused the call: the chat gets the errors reply");
                    // Told before the call is forgotten: a crash between the two repeats both.
                    let reply = (self.refusal_reply)(outgoing, error.code(), &reason);
                    let span = crate::traces::telegram(bot_id, chat_id, &reply.method);
                    let told = self.scheduler.call::<_, Value>(Priority::Interactive, &reply.method, &reply.params);
                    let told = told.instrument(span.clone()).await;
                    let error = told.as_ref().err().map(|error| error as &dyn std::fmt::Display);
                    crate::traces::outcome(&span, if told.is_ok() { "ok" } else { "refused" }, error);
                    if let Err(error) = told {
                        tracing::error!(bot_id, chat_id, %error, "the errors reply to a refused call was refused too: the chat was not told");
                    }
                } else {
                    tracing::warn!(bot_id, method, chat_id, %error, "Telegram refused the call, dropped from the outbox");
                }
                self.committer.delivered(bot_id, entry.id);
            }
        }
    }

    /// Sends a held chat's queue in order until it is empty, waiting `wait` first and after
    /// each failed attempt (Telegram's `retry_after`, else backoff). Ends early when the
    /// deliverer is gone (the bot stopped): the queue stays in the outbox for the next start.
    async fn retry_held(this: Weak<Self>, chat_id: i64, mut wait: Duration) {
        let mut failures = 1;
        loop {
            tokio::time::sleep(wait).await;
            let Some(this) = this.upgrade() else { return };
            loop {
                let entry = {
                    let mut held = this.held.lock();
                    let Some(entry) = held.get(&chat_id).and_then(|queue| queue.front().cloned()) else {
                        // Empty: the chat is no longer held, its next calls go at once.
                        held.remove(&chat_id);
                        return;
                    };
                    this.in_flight.lock().insert(entry.id);
                    entry
                };
                let priority = if entry.outgoing.bulk { Priority::Bulk } else { Priority::Interactive };
                let outcome = this.scheduler.call(priority, &entry.outgoing.method, &entry.outgoing.params).await;
                let outcome = Outcome::counted(this.bot_id, &entry.outgoing, outcome, this.ambiguous_sends);
                let stopped = matches!(outcome, Outcome::Stopped);
                let retry = match outcome {
                    Outcome::Retry { after, error } => {
                        failures += 1;
                        wait = after.unwrap_or_else(|| held_backoff(failures));
                        tracing::warn!(bot_id = this.bot_id, chat_id, %error, ?wait, failures, "a held call failed again");
                        true
                    }
                    outcome => {
                        this.finish(&entry, outcome).await;
                        false
                    }
                };
                {
                    let mut held = this.held.lock();
                    if !retry && let Some(queue) = held.get_mut(&chat_id) {
                        queue.retain(|queued| queued.id != entry.id);
                    }
                    if stopped {
                        held.remove(&chat_id);
                    }
                    let mut in_flight = this.in_flight.lock();
                    in_flight.remove(&entry.id);
                    this.count_pending(&held, &in_flight);
                }
                this.settled.notify_waiters();
                if stopped {
                    return;
                }
                if retry {
                    break;
                }
            }
        }
    }

    /// Delivers what the outbox holds for the bot and is not being delivered or held: at start,
    /// what the last run left.
    pub async fn redeliver(self: &Arc<Self>, store: &dyn StateStore) -> Result<usize, StoreError> {
        let mut delivered = 0;
        let mut after = i64::MIN;
        loop {
            let page = store.outbox_pending(self.bot_id, REDELIVERY_PAGE).await?;
            let full = page.len() >= REDELIVERY_PAGE as usize;
            let fresh: Vec<PendingSend> = page.into_iter().filter(|p| p.id > after).collect();
            let Some(last) = fresh.last() else { break };
            after = last.id;
            delivered += fresh.len();
            // Each chat's calls in order, different chats at once (each is paced on its own).
            let mut by_chat: BTreeMap<i64, Vec<PendingSend>> = BTreeMap::new();
            for entry in fresh {
                by_chat.entry(entry.outgoing.chat_id).or_default().push(entry);
            }
            let chats: Vec<_> = by_chat
                .into_values()
                .map(|entries| {
                    let this = Arc::clone(self);
                    tokio::spawn(async move { this.deliver(entries).await })
                })
                .collect();
            for chat in chats {
                if let Err(error) = chat.await {
                    tracing::error!(bot_id = self.bot_id, %error, "a redelivery task failed");
                }
            }
            if !full {
                break;
            }
        }
        Ok(delivered)
    }

    /// Whether nothing is being sent nor held to be retried: a bot may sleep (its runtime
    /// dropped) only then.
    pub fn is_quiet(&self) -> bool {
        let held = self.held.lock();
        held.values().all(VecDeque::is_empty) && self.in_flight.lock().is_empty()
    }

    /// Waits until no entry is being sent: every call handed to [`Deliverer::deliver`] so far,
    /// paced bulk ones included, was made, failed, or is held to be retried.
    pub async fn until_idle(&self) {
        loop {
            // Registered before the check, so a settle between the two is not missed.
            let settled = self.settled.notified();
            if self.in_flight.lock().is_empty() {
                return;
            }
            settled.await;
        }
    }
}

/// Puts `entry` in a held chat's queue in commit (id) order, once, never before an entry being
/// sent now.
fn enqueue(queue: &mut VecDeque<PendingSend>, entry: PendingSend, in_flight: &HashSet<i64>) {
    if queue.iter().any(|queued| queued.id == entry.id) {
        return;
    }
    let mut at = queue.partition_point(|queued| queued.id < entry.id);
    if at == 0 && queue.front().is_some_and(|front| in_flight.contains(&front.id)) {
        at = 1;
    }
    queue.insert(at, entry);
}
