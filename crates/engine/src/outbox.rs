//! The outbox: Bot API calls are committed together with the state change that caused them,
//! then delivered.
//!
//! A handler does not call Telegram as it runs: its replies, its variable writes and its
//! chat's new state are collected and written in one [`Commit`], which also marks its update
//! handled. Only then are the calls delivered, in order, and each one is forgotten once
//! Telegram accepted it (or refused it for good). A crash before the commit leaves nothing
//! behind and the update is handled again; a crash after it leaves the undelivered calls in the
//! outbox, and the bot delivers them when it starts. A call is sent twice only if it was in
//! flight at the crash.
//!
//! [`Committer`] groups the commits of updates handled at the same time into one store
//! transaction (group commit): while one batch is written, the next one gathers, so durability
//! costs one write per batch rather than one per update.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde_json::Value;
use telegram::flood::{Priority, Scheduler};
use tokio::sync::{mpsc, oneshot};

use crate::state::{Commit, Outgoing, PendingSend, StateStore, StoreError};

/// Commits written in one transaction at most, by default.
pub const DEFAULT_COMMIT_BATCH: usize = 256;
/// Outbox entries read at once when redelivering.
const REDELIVERY_PAGE: u32 = 500;

struct Request {
    commit: Commit,
    /// Where the commit goes back, with its outbox ids; `None` for a delivery acknowledgement
    /// nobody waits for.
    done: Option<oneshot::Sender<Committed>>,
}

/// A commit handed back to its sender, with the outcome of writing it: the ids of its outbox
/// entries in order. Handing it back spares the sender a copy for retrying or delivering.
pub type Committed = (Commit, Result<Vec<i64>, StoreError>);

/// Writes commits in batches, on its own task.
pub struct Committer {
    queue: mpsc::UnboundedSender<Request>,
}

impl Committer {
    /// Starts the committer's task on the current Tokio runtime; it ends when the committer
    /// is dropped and its queue is empty.
    /// `max_batch` 1 writes each commit in its own transaction (no group commit).
    pub fn start(store: Arc<dyn StateStore>, max_batch: usize) -> Committer {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, requests, max_batch.max(1)));
        Committer { queue }
    }

    /// Writes `commit` (in a batch with whatever else is waiting) and hands it back with the
    /// ids of its outbox entries.
    pub async fn commit(&self, commit: Commit) -> Committed {
        let stopped = || StoreError("the committer has stopped".into());
        let (done, outcome) = oneshot::channel();
        if let Err(mpsc::error::SendError(request)) = self.queue.send(Request { commit, done: Some(done) }) {
            return (request.commit, Err(stopped()));
        }
        // The committer's task answers every waiter, so the sender is only dropped if the
        // task itself was (the runtime is shutting down): the commit is then lost with it.
        outcome.await.unwrap_or_else(|_| (Commit::default(), Err(stopped())))
    }

    /// Forgets a delivered outbox entry with the next batch. If the process dies first, the
    /// entry is delivered again at the next start: one of the "in flight" duplicates.
    pub fn delivered(&self, bot: u64, id: i64) {
        let commit = Commit { bot, delivered: vec![id], ..Commit::default() };
        // A stopped committer means the engine is gone; the entry is redelivered next start.
        let _ = self.queue.send(Request { commit, done: None });
    }
}

async fn write_batches(store: Arc<dyn StateStore>, mut requests: mpsc::UnboundedReceiver<Request>, max: usize) {
    let mut batch = Vec::new();
    while requests.recv_many(&mut batch, max).await > 0 {
        let (commits, waiters): (Vec<Commit>, Vec<_>) = merge_acks(std::mem::take(&mut batch));
        match store.commit(&commits).await {
            Ok(ids) => {
                for ((commit, waiter), ids) in commits.into_iter().zip(waiters).zip(ids) {
                    answer(waiter, commit, Ok(ids));
                }
            }
            // One bad commit must not fail the others of its batch: write them one by one.
            Err(error) if commits.len() > 1 => {
                tracing::warn!(%error, batch = commits.len(), "a group commit failed, committing one by one");
                for (commit, waiter) in commits.into_iter().zip(waiters) {
                    let outcome =
                        store.commit(std::slice::from_ref(&commit)).await.map(|mut ids| ids.pop().unwrap_or_default());
                    if let Err(error) = &outcome {
                        tracing::warn!(%error, "a commit failed");
                    }
                    answer(waiter, commit, outcome);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "a commit failed");
                if let Some((commit, waiter)) = commits.into_iter().zip(waiters).next() {
                    answer(waiter, commit, Err(error));
                }
            }
        }
    }
}

fn answer(waiter: Waiter, commit: Commit, outcome: Result<Vec<i64>, StoreError>) {
    if let Some(waiter) = waiter {
        // A waiter that gave up (its handler was cancelled) no longer needs the answer.
        let _ = waiter.send((commit, outcome));
    }
}

type Waiter = Option<oneshot::Sender<Committed>>;

/// Folds the delivery acknowledgements of a batch into one commit per bot.
fn merge_acks(batch: Vec<Request>) -> (Vec<Commit>, Vec<Waiter>) {
    let (mut commits, mut waiters) = (Vec::with_capacity(batch.len()), Vec::with_capacity(batch.len()));
    let mut acks: Vec<Commit> = Vec::new();
    for Request { commit, done } in batch {
        if done.is_none() && commit.outbox.is_empty() && commit.vars.is_empty() && commit.chat.is_none() {
            match acks.iter_mut().find(|ack| ack.bot == commit.bot && ack.handled.is_none()) {
                Some(ack) => ack.delivered.extend(commit.delivered),
                None => acks.push(commit),
            }
            continue;
        }
        commits.push(commit);
        waiters.push(done);
    }
    for ack in acks {
        commits.push(ack);
        waiters.push(None);
    }
    (commits, waiters)
}

/// Delivers one bot's outbox entries through its flood scheduler.
pub struct Deliverer {
    pub bot_id: u64,
    pub scheduler: Scheduler,
    pub committer: Arc<Committer>,
    /// Entries being delivered now: a redelivery pass skips them.
    in_flight: Mutex<HashSet<i64>>,
    /// Set when a delivery failed in a way worth retrying (the network, Telegram's 5xx).
    retry: AtomicBool,
    /// Woken each time an entry leaves `in_flight`.
    settled: tokio::sync::Notify,
}

impl Deliverer {
    pub fn new(bot_id: u64, scheduler: Scheduler, committer: Arc<Committer>) -> Deliverer {
        Deliverer {
            bot_id,
            scheduler,
            committer,
            in_flight: Mutex::default(),
            retry: AtomicBool::new(false),
            settled: tokio::sync::Notify::new(),
        }
    }

    /// Delivers committed entries in order: interactive calls one after the other (so a chat's
    /// replies keep their order), bulk ones queued to the scheduler's paced lane.
    pub async fn deliver(self: &Arc<Self>, entries: Vec<PendingSend>) {
        for PendingSend { id, outgoing } in entries {
            if !self.in_flight.lock().insert(id) {
                continue;
            }
            if outgoing.bulk {
                match telegram::Request::new(&outgoing.method, &outgoing.params) {
                    Ok(request) => match self.scheduler.submit::<Value>(Priority::Bulk, request).await {
                        Ok(handle) => {
                            let this = Arc::clone(self);
                            tokio::spawn(async move { this.settle(id, &outgoing, handle.await) });
                        }
                        Err(error) => self.settle(id, &outgoing, Err(error)),
                    },
                    Err(error) => self.settle(id, &outgoing, Err(error)),
                }
            } else {
                let outcome = self.scheduler.call(Priority::Interactive, &outgoing.method, &outgoing.params).await;
                self.settle(id, &outgoing, outcome);
            }
        }
    }

    /// Delivers what the outbox holds for the bot and is not being delivered: at start (what a
    /// crash left) and after failures worth retrying.
    pub async fn redeliver(self: &Arc<Self>, store: &dyn StateStore) -> Result<usize, StoreError> {
        self.retry.store(false, Ordering::Relaxed);
        let mut delivered = 0;
        let mut after = i64::MIN;
        loop {
            let page = store.outbox_pending(self.bot_id, REDELIVERY_PAGE).await?;
            let full = page.len() >= REDELIVERY_PAGE as usize;
            let fresh: Vec<PendingSend> = {
                let in_flight = self.in_flight.lock();
                page.into_iter().filter(|p| p.id > after && !in_flight.contains(&p.id)).collect()
            };
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

    /// Waits until no entry is being delivered: every call handed to [`Deliverer::deliver`]
    /// so far, paced bulk ones included, was made (or failed).
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

    /// Whether a delivery failed since the last redelivery and should be tried again.
    pub fn wants_retry(&self) -> bool {
        self.retry.load(Ordering::Relaxed)
    }

    fn settle(&self, id: i64, outgoing: &Outgoing, outcome: Result<Value, telegram::Error>) {
        let (bot_id, method, chat_id) = (self.bot_id, outgoing.method.as_str(), outgoing.chat_id);
        match outcome {
            Ok(_) => self.committer.delivered(bot_id, id),
            Err(error) if error.is_retryable() => {
                tracing::warn!(bot_id, method, chat_id, %error, "delivery failed, kept in the outbox to retry");
                self.retry.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                // Telegram refused it for good (blocked by the user, chat gone, …): retrying
                // cannot help.
                tracing::warn!(bot_id, method, chat_id, %error, "Telegram refused the call, dropped from the outbox");
                self.committer.delivered(bot_id, id);
            }
        }
        self.in_flight.lock().remove(&id);
        self.settled.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStore;

    fn outgoing(chat_id: i64, text: &str) -> Outgoing {
        Outgoing {
            chat_id,
            method: "sendMessage".into(),
            params: serde_json::json!({"chat_id": chat_id, "text": text}),
            bulk: false,
        }
    }

    #[test]
    fn acknowledgements_fold_into_one_commit_per_bot() {
        let ack = |bot, id| Request { commit: Commit { bot, delivered: vec![id], ..Commit::default() }, done: None };
        let (done, _) = oneshot::channel();
        let real = Request { commit: Commit { bot: 1, handled: Some(5), ..Commit::default() }, done: Some(done) };
        let (commits, waiters) = merge_acks(vec![ack(1, 10), real, ack(2, 11), ack(1, 12)]);
        assert_eq!(commits.len(), 3);
        assert_eq!(commits[0].handled, Some(5));
        assert_eq!(commits[1].delivered, [10, 12]);
        assert_eq!(commits[2].delivered, [11]);
        assert!(waiters[0].is_some() && waiters[1].is_none() && waiters[2].is_none());
    }

    #[tokio::test]
    async fn concurrent_commits_are_written_and_numbered_in_order() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let committer = Arc::new(Committer::start(Arc::clone(&store), DEFAULT_COMMIT_BATCH));
        let tasks: Vec<_> = (0..20)
            .map(|chat| {
                let committer = Arc::clone(&committer);
                tokio::spawn(async move {
                    let commit =
                        Commit { bot: 7, outbox: vec![outgoing(chat, "a"), outgoing(chat, "b")], ..Commit::default() };
                    committer.commit(commit).await.1.unwrap()
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            let ids = task.await.unwrap();
            assert_eq!(ids.len(), 2);
            assert!(ids[0] < ids[1], "a commit's entries keep their order");
            all.extend(ids);
        }
        let pending = store.outbox_pending(7, 100).await.unwrap();
        assert_eq!(pending.len(), 40);
        committer.delivered(7, all[0]);
        // The acknowledgement rides with the next commit; this one waits until both are written.
        committer.commit(Commit { bot: 7, ..Commit::default() }).await.1.unwrap();
        let pending = store.outbox_pending(7, 100).await.unwrap();
        assert_eq!(pending.len(), 39);
        assert!(pending.iter().all(|p| p.id != all[0]));
        assert!(store.outbox_pending(8, 100).await.unwrap().is_empty(), "outboxes are per bot");
    }
}
