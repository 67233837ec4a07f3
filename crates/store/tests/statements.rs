//! How many SQL statements storing received updates and the group commit run (decision 0020):
//! sqlx reports each statement it executes as a `tracing` event with the target `sqlx::query`,
//! counted here by a process-wide subscriber (so this file holds one test: tests in parallel
//! would count each other's statements).
//!
//! Only the statements of the code under test may be counted. A connection the pool opens runs
//! its set-up first (SQLite: one `PRAGMA …` statement), and a pool opens one whenever the
//! connection the previous call used is still on its way back (a spawned task, late on a busy
//! machine): so the store is pinned to one connection, opened with the store, before counting.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrogram_core::{ChatState, Commit, Outgoing, Scope, StateStore, Tally, TallyOutcome};
use ferrogram_store::Store;
use serde_json::json;
use tracing_subscriber::layer::{Context, SubscriberExt};

struct CountQueries(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountQueries {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the echo bench's handler commits for one update of user (and private chat) `user`.
fn echo(bot: u64, update_id: i64, user: i64) -> Commit {
    Commit {
        bot,
        chat: Some((user, ChatState::default())),
        vars: vec![(Scope::User(user), "count".into(), Some(json!(update_id)))],
        outbox: vec![Outgoing {
            chat_id: user,
            method: "sendMessage".into(),
            params: json!({"chat_id": user, "text": "echo"}),
            bulk: false,
        }],
        handled: Some(update_id),
        seen_user: json!({"id": user, "is_bot": false, "first_name": "Ann"}),
        seen_chat: json!({"id": user, "type": "private", "first_name": "Ann"}),
        tally: Some(Tally { at: 1_750_000_000, user_id: Some(user), outcome: TallyOutcome::Ok, latency_ms: Some(7) }),
        ..Commit::default()
    }
}

/// Statements to store a batch of `updates` received updates of `bot`.
async fn count_inbox(store: &Store, queries: &AtomicUsize, bot: u64, updates: i64) -> usize {
    let before = queries.load(Ordering::SeqCst);
    let batch = (1..=updates).map(|id| (id, "{}".to_owned())).collect();
    assert!(StateStore::inbox_put_batch(store, bot, batch).await.unwrap().iter().all(|r| r.is_stored()));
    queries.load(Ordering::SeqCst) - before
}

/// Statements per batch of `updates` echo commits from as many users of `bot`: the first time
/// each user is seen, and again unchanged.
async fn count(store: &Store, queries: &AtomicUsize, bot: u64, updates: i64) -> (usize, usize) {
    let received = (1..=2 * updates).map(|id| (id, "{}".to_owned())).collect();
    StateStore::inbox_put_batch(store, bot, received).await.unwrap();
    let mut counts = Vec::new();
    for round in 0..2 {
        let batch: Vec<Commit> = (1..=updates).map(|user| echo(bot, round * updates + user, user)).collect();
        let before = queries.load(Ordering::SeqCst);
        StateStore::commit(store, &batch).await.unwrap();
        counts.push(queries.load(Ordering::SeqCst) - before);
    }
    (counts[0], counts[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_and_the_group_commit_run_a_few_statements_per_batch_not_per_update() {
    let queries = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountQueries(queries.clone()));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let pinned = ferrogram_store::Options { max_connections: 1, ..ferrogram_store::Options::default() };
    for db in [common::sqlite_with(&pinned).await, common::postgres_with(&pinned).await].into_iter().flatten() {
        let backend = db.store.backend();
        let (first, again) = count(&db.store, &queries, 1, 100).await;
        eprintln!("{backend:?}: 100 updates, users new: {first} statements; users unchanged: {again}");
        // One statement per kind of row (chat state, variable, outbox, inbox mark, user, chat,
        // the day's statistics, the day's active users), plus `BEGIN` where sqlx reports it
        // (PostgreSQL), however many updates the batch has; unchanged users and chats, and users
        // already active that day, are not written again.
        assert!(first <= 9, "{backend:?}: {first} statements for 100 updates");
        assert_eq!(again, first - 3, "{backend:?}: users, chats or active users written again");
        assert_eq!(count(&db.store, &queries, 2, 10).await, (first, again), "{backend:?}: 10 updates");
        // Received updates: one `SELECT` of the rows their ids have (a repeated id is a
        // redelivery only with the same content) and one `INSERT` for the batch (plus `BEGIN` on
        // PostgreSQL).
        let inbox = count_inbox(&db.store, &queries, 3, 100).await;
        eprintln!("{backend:?}: 100 received updates: {inbox} statements");
        assert!(inbox <= 3, "{backend:?}: {inbox} statements to store 100 received updates");
        db.cleanup().await;
    }
}
