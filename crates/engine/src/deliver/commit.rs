//! Group commit: a handler's effects and its update's "handled" mark written together.
//!
//! [`Committer`] groups the commits of updates handled at the same time into one store
//! transaction (group commit): while one batch is written, the next one gathers, so durability
//! costs one write per batch rather than one per update.

//!
//! A commit that keeps failing is retried a few times ([`commit_and_deliver`]); then nothing is
//! delivered and the update stays unhandled, to be handled again at the next start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::deliver::outbox::Deliverer;
use ferrogram_core::{Commit, PendingSend, StateStore, StoreError};

/// Commits written in one transaction at most, by default.
pub const DEFAULT_COMMIT_BATCH: usize = 256;

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

/// Renders what a chat is told when Telegram refused one of its calls for good: given the
/// refused call, Telegram's error code and its reason, the message to send (the bot's `errors`
/// A handler's outcome: what to commit, and the bot-variable lock to release after the commit.
pub struct Handled {
    pub commit: Commit,
    pub lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// Delays between attempts to commit, for a store that is briefly unavailable.
const COMMIT_RETRIES: [Duration; 3] = [Duration::from_millis(50), Duration::from_millis(500), Duration::from_secs(2)];

/// Commits a handler's effects, releases its bot-variable lock, then delivers its calls. If the
/// store keeps failing, nothing is delivered and the update stays unhandled: it is handled again
/// at the next start.
pub async fn commit_and_deliver(bot_id: u64, outbox: &Arc<Deliverer>, handled: Handled) {
    if let Some(entries) = commit(bot_id, outbox, handled).await {
        outbox.deliver(entries).await;
    }
}

/// The first half of [`commit_and_deliver`]: commits a handler's effects (retrying a few times)
/// and releases its bot-variable lock; gives the outbox entries to deliver, or `None` when the
/// store kept failing (logged; the update stays unhandled for the next start).
pub async fn commit(bot_id: u64, outbox: &Arc<Deliverer>, handled: Handled) -> Option<Vec<PendingSend>> {
    let Handled { mut commit, lock } = handled;
    let mut delays = COMMIT_RETRIES.iter();
    let ids = loop {
        let (back, outcome) = outbox.committer.commit(commit).await;
        commit = back;
        match outcome {
            Ok(ids) => break ids,
            Err(error) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(bot_id, %error, ?delay, "committing failed, retrying");
                    tokio::time::sleep(*delay).await;
                }
                None => {
                    let update_id = commit.handled;
                    tracing::error!(bot_id, ?update_id, %error, "committing failed: left for the next start");
                    return None;
                }
            },
        }
    };
    drop(lock);
    Some(ids.into_iter().zip(commit.outbox).map(|(id, outgoing)| PendingSend { id, outgoing }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogram_core::{MemoryStore, Outgoing};

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
