//! Conversation state and variables, behind [`StateStore`] so SQLite and PostgreSQL can
//! replace the in-memory store without touching the interpreter.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A boxed, sendable future: the store's methods stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct StoreError(pub String);

/// Where a chat is in the conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatState {
    /// The current scene; `None` before the first update (the start scene applies).
    pub scene: Option<String>,
    /// Scenes to come back to, innermost last (`call` pushes, `return` pops).
    pub stack: Vec<Frame>,
    /// The form being filled in, if any.
    pub form: Option<FormProgress>,
    /// The bot-file generation this state was last saved under (see hot reload).
    pub generation: u64,
}

/// A scene a `call` left: where `return` comes back to, and the steps after the `call` that
/// run then. Stored as the scene's name alone when there are no such steps, as rows written
/// before continuations existed are, so old rows read and rows without one stay as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "FrameRow", into = "FrameRow")]
pub struct Frame {
    pub scene: String,
    pub resume: Option<Resume>,
}

/// How a [`Frame`] is stored.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum FrameRow {
    Scene(String),
    Full { scene: String, resume: Resume },
}

impl From<FrameRow> for Frame {
    fn from(row: FrameRow) -> Frame {
        match row {
            FrameRow::Scene(scene) => Frame { scene, resume: None },
            FrameRow::Full { scene, resume } => Frame { scene, resume: Some(resume) },
        }
    }
}

impl From<Frame> for FrameRow {
    fn from(frame: Frame) -> FrameRow {
        match frame.resume {
            None => FrameRow::Scene(frame.scene),
            Some(resume) => FrameRow::Full { scene: frame.scene, resume },
        }
    }
}

/// A frame with nothing to resume.
impl From<&str> for Frame {
    fn from(scene: &str) -> Frame {
        Frame { scene: scene.to_owned(), resume: None }
    }
}

/// Where a `call` stood, to run the steps after it when the called scene returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The step list holding the `call`, at its top level.
    pub at: StepsAt,
    /// From that list down to the `call`: a step's index, and inside an `if` the branch
    /// (0 `then`, 1 `else`) and the index in it, inside a `for_each` the index in its steps.
    pub path: Vec<u32>,
    /// A hash of the list at `at` when the `call` ran: after a reload, the steps resume only
    /// if that list is unchanged.
    pub fingerprint: u64,
}

/// A top-level step list of the bot file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "in")]
pub enum StepsAt {
    /// `on[index].do`.
    Handler { index: u32 },
    /// `scenes.<scene>.on[index].do`.
    SceneHandler { scene: String, index: u32 },
    /// `scenes.<scene>.on_enter`.
    OnEnter { scene: String },
    /// `scenes.<scene>.form.on_done`.
    FormDone { scene: String },
    /// `scenes.<scene>.form.on_cancel`.
    FormCancel { scene: String },
}

/// A form in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormProgress {
    /// The scene whose form this is.
    pub scene: String,
    /// The index of the field being asked.
    pub field: usize,
    /// The answers so far, by field name.
    pub answers: Map<String, Value>,
}

/// Whose variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    User(i64),
    Chat(i64),
    Bot,
}

/// Conversation state per (bot, chat) and variables per (bot, scope). Bots are named by their
/// Telegram id. Variables are written one at a time so parallel chats do not overwrite each
/// other's changes to bot-wide variables.
pub trait StateStore: Send + Sync + 'static {
    fn load_chat(&self, bot: u64, chat: i64) -> BoxFuture<'_, Result<Option<ChatState>, StoreError>>;
    fn save_chat(&self, bot: u64, chat: i64, state: ChatState) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Every variable set in `scope` (declared defaults are applied by the engine).
    fn load_vars(&self, bot: u64, scope: Scope) -> BoxFuture<'_, Result<Map<String, Value>, StoreError>>;
    /// Sets (`Some`) or forgets (`None`) one variable.
    fn set_var(
        &self,
        bot: u64,
        scope: Scope,
        name: String,
        value: Option<Value>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Keeps a received update (its JSON as received) until it is handled, as [`Received`]
    /// tells: a repeated update id is a redelivery only if the inbox holds the same update
    /// (same content) under it; other content under a known id is a new update (Telegram
    /// restarted its update ids). The engine confirms an update to Telegram only after it was
    /// stored (or recognised as a redelivery). A stored update counts as attempted once: it
    /// is dispatched at once.
    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<Received, StoreError>>;
    /// [`StateStore::inbox_put`] for a batch (one getUpdates answer), all or nothing: what
    /// became of each update, in order (a later copy of an update in the batch is a redelivery).
    fn inbox_put_batch(
        &self,
        bot: u64,
        updates: Vec<(i64, String)>,
    ) -> BoxFuture<'_, Result<Vec<Received>, StoreError>>;
    /// Up to `limit` of the bot's stored updates not yet marked handled, lowest update id first:
    /// what a crash interrupted, replayed when the bot starts.
    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>>;
    /// Counts one more attempt at each of these unhandled updates, before they are dispatched
    /// again (a replay): a handler that never finishes (the process hung or was killed) still
    /// counts.
    fn inbox_count_attempts(&self, bot: u64, update_ids: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Marks an update handled; `false` if it was not stored or already handled.
    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Forgets the bot's updates handled before `handled_before` (Unix seconds), keeping its
    /// newest update; returns how many were forgotten. A redelivery is recognised only while
    /// its update is kept.
    fn inbox_prune(&self, bot: u64, handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// The bot's dead letters (updates set aside, see [`DeadLetter`]), oldest first, up to
    /// `limit`.
    fn dead_letters(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredDeadLetter>, StoreError>>;
    /// When the bot's job `job` runs next, in seconds since the Unix epoch (UTC), if it was
    /// scheduled. The scheduler keeps it here so that a restart does not skip or repeat a run.
    fn load_next_run(&self, bot: u64, job: &str) -> BoxFuture<'_, Result<Option<u64>, StoreError>>;
    /// Records (`Some`) or forgets (`None`) the job's next run.
    fn save_next_run(&self, bot: u64, job: &str, at: Option<u64>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Moves the job's next run from `expected` to `next` only if it still is `expected`: of
    /// several processes running the same bot, exactly one wins each run (a compare-and-set).
    fn claim_next_run(
        &self,
        bot: u64,
        job: &str,
        expected: Option<u64>,
        next: Option<u64>,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Writes each [`Commit`] of the batch: all of one commit or none of it. The engine groups
    /// the commits of updates handled at the same time into one batch (group commit), so a
    /// store should write a batch in one transaction. Returns, per commit, the ids of its
    /// outbox entries in order.
    fn commit<'a>(&'a self, batch: &'a [Commit]) -> BoxFuture<'a, Result<Vec<Vec<i64>>, StoreError>>;
    /// Up to `limit` of the bot's outbox entries not yet delivered, lowest id (oldest) first.
    fn outbox_pending(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<PendingSend>, StoreError>>;
    /// Every bot with an unhandled update in its inbox or an undelivered call in its outbox, in
    /// no order: what a starting host must let catch up (an idle bot may start asleep only when
    /// it is not among them). One read for all bots.
    fn bots_with_work(&self) -> BoxFuture<'_, Result<Vec<u64>, StoreError>>;
    /// The users of the bot blocked through the API (decision 0047): their updates are stored
    /// and marked handled, but no handler runs for them. Read when the bot is added; a store
    /// that keeps no blocks (the in-memory one) has none.
    fn blocked_users(&self, bot: u64) -> BoxFuture<'_, Result<Vec<i64>, StoreError>> {
        let _ = bot;
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Forgets which users were active on the bot's UTC days (days since 1970-01-01) before
    /// `before_day`, keeping each such day's count of them; returns how many rows went. The
    /// engine calls it with [`ACTIVE_USERS_KEEP_DAYS`], so the statistics' monthly window
    /// stays exact (decision 0053). A store that keeps no statistics has nothing to forget.
    fn active_users_prune(&self, bot: u64, before_day: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        let _ = (bot, before_day);
        Box::pin(async { Ok(0) })
    }
}

/// How many UTC days of who was active a store keeps (today included): the 30 days of the
/// statistics' monthly window ending today, and one more so that a window ending yesterday
/// is exact too. See [`StateStore::active_users_prune`].
pub const ACTIVE_USERS_KEEP_DAYS: i64 = 31;

/// What handling one update (or running one job) changed, written at once: the chat's state,
/// its variables, the Bot API calls to make (the outbox), and the update marked handled. After
/// a crash either all of it is there, and the outbox sends the replies, or none of it is, and
/// the update is handled again from the start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    pub bot: u64,
    pub chat: Option<(i64, ChatState)>,
    /// Variables set (`Some`) or forgotten (`None`), in the order the steps ran.
    pub vars: Vec<(Scope, String, Option<Value>)>,
    pub outbox: Vec<Outgoing>,
    /// The update now handled.
    pub handled: Option<i64>,
    /// Outbox entries delivered since the last commit, to forget.
    pub delivered: Vec<i64>,
    /// The update set aside instead of handled (its `handled` mark is set too).
    pub dead_letter: Option<DeadLetter>,
    /// The Telegram user and chat of the update (their `User` and `Chat` objects), for the
    /// bot's directory of users and chats; `Null` when there is none (a job).
    pub seen_user: Value,
    pub seen_chat: Value,
    /// What the update counts for in the bot's daily statistics (decision 0047); `None` for
    /// what is not an update's handling (a job, an acknowledgement).
    pub tally: Option<Tally>,
}

/// One handled update as the daily statistics count it (decision 0047): the store adds it to
/// its bot's row of the UTC day of `at`, with the whole batch in a few statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Unix seconds when its handling ended: its day is `at / 86400` (UTC).
    pub at: i64,
    /// The user who sent it; an active user of the day unless `blocked`.
    pub user_id: Option<i64>,
    /// How it ended.
    pub outcome: TallyOutcome,
    /// From its dispatch to the end of its handler, in milliseconds; `None` when no handler
    /// ran (a blocked user's update).
    pub latency_ms: Option<u64>,
}

/// How an update's handling ended, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallyOutcome {
    /// Handled.
    Ok,
    /// An error: a step failed (the error reply was sent), or the update was set aside as a
    /// dead letter (a panic, a spent budget, too many attempts).
    Error,
    /// Its user is blocked: no handler ran.
    Blocked,
}

/// A Bot API call to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The chat it goes to (0 for none): delivery keeps each chat's calls in order.
    pub chat_id: i64,
    pub method: String,
    pub params: Value,
    /// A paced bulk send (a notification) rather than an interactive reply.
    pub bulk: bool,
}

/// An outbox entry not yet delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSend {
    pub id: i64,
    pub outgoing: Outgoing,
}

/// A received update as kept in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpdate {
    pub update_id: i64,
    /// The update's JSON as received.
    pub raw: String,
    /// How many times it was dispatched (counted before each dispatch).
    pub attempts: u32,
}

/// What the inbox did with a received update ([`StateStore::inbox_put`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Stored, to dispatch.
    New,
    /// Stored in place of a handled update with the same id and other content: the update id
    /// sequence restarted (Telegram after a week without updates, a reset sandbox). To dispatch,
    /// with a warning.
    Reused,
    /// The inbox already holds this very update (same id, same content): a redelivery, not
    /// dispatched again.
    Redelivered,
    /// An update with the same id and other content is still unhandled: not stored, and not to
    /// be confirmed, so that Telegram delivers it again once the other one is handled.
    Busy,
}

impl Received {
    /// How the inbox takes an update whose id it holds as `held` (its raw JSON and whether it
    /// was handled), or does not hold (`None`): the one rule of every store.
    pub fn of(held: Option<(&str, bool)>, raw: &str) -> Received {
        match held {
            None => Received::New,
            Some((held, _)) if held == raw => Received::Redelivered,
            Some((_, true)) => Received::Reused,
            Some((_, false)) => Received::Busy,
        }
    }

    /// Whether the update was stored and is to be dispatched.
    pub fn is_stored(self) -> bool {
        matches!(self, Received::New | Received::Reused)
    }
}

/// An update set aside instead of handled: its handler panicked or overran its budget, or the
/// process stopped while handling it in every one of its attempts. It is not replayed; the
/// operator lists it (`ferrogram dead-letters`) and retries or discards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub update_id: i64,
    /// The chat it came from, when it has one.
    pub chat_id: Option<i64>,
    /// The update's JSON as received.
    pub raw: String,
    /// Why it was set aside, in words.
    pub reason: String,
    pub attempts: u32,
}

/// A [`DeadLetter`] as kept: its id (to retry or discard it) and when it was set aside (Unix
/// seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub bot: u64,
    pub failed_at: i64,
    pub letter: DeadLetter,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_state_store::MemoryStore;

    #[test]
    fn chat_states_written_before_continuations_still_read_and_frames_without_one_look_the_same() {
        let old = r#"{"scene":"profile","stack":["menu"],"form":null,"generation":3}"#;
        let state: ChatState = serde_json::from_str(old).expect("an old row reads");
        assert_eq!(state.stack, [Frame { scene: "menu".into(), resume: None }]);
        assert_eq!(serde_json::to_string(&state).unwrap(), old, "written back the same");

        let resume = Resume {
            at: StepsAt::SceneHandler { scene: "menu".into(), index: 2 },
            path: vec![1, 0, 3],
            fingerprint: 7,
        };
        let state = ChatState { stack: vec![Frame { scene: "menu".into(), resume: Some(resume) }], ..state };
        let row = serde_json::to_value(&state).unwrap();
        assert_eq!(
            row["stack"][0],
            serde_json::json!({"scene": "menu", "resume": {"at": {"in": "scene_handler", "scene": "menu", "index": 2}, "path": [1, 0, 3], "fingerprint": 7}})
        );
        assert_eq!(serde_json::from_value::<ChatState>(row).unwrap(), state);
    }

    #[tokio::test]
    async fn the_memory_inbox_stores_once_and_takes_a_reused_id_with_other_content_as_new() {
        let store = MemoryStore::new();
        let ids = |updates: Vec<StoredUpdate>| updates.into_iter().map(|u| u.update_id).collect::<Vec<_>>();
        let raw = |id: i64| format!("{{\"update_id\":{id}}}");
        for id in [3, 1, 2] {
            assert_eq!(store.inbox_put(7, id, raw(id)).await.unwrap(), Received::New);
        }
        assert_eq!(store.inbox_put(7, 2, raw(2)).await.unwrap(), Received::Redelivered, "stored once");
        assert_eq!(store.inbox_put(7, 2, "other".into()).await.unwrap(), Received::Busy, "2 is not handled yet");
        assert_eq!(ids(store.inbox_unhandled(7, 10).await.unwrap()), [1, 2, 3]);
        assert_eq!(ids(store.inbox_unhandled(7, 2).await.unwrap()), [1, 2]);
        assert!(store.inbox_unhandled(8, 10).await.unwrap().is_empty(), "inboxes are per bot");

        assert!(store.inbox_mark_handled(7, 2).await.unwrap());
        assert!(!store.inbox_mark_handled(7, 2).await.unwrap(), "already handled");
        assert!(!store.inbox_mark_handled(7, 9).await.unwrap(), "never stored");
        assert_eq!(ids(store.inbox_unhandled(7, 10).await.unwrap()), [1, 3]);
        assert_eq!(store.inbox_put(7, 2, raw(2)).await.unwrap(), Received::Redelivered, "handled, remembered");
        assert_eq!(store.inbox_put(7, 2, "new".into()).await.unwrap(), Received::Reused, "the ids restarted");
        assert_eq!(store.inbox_unhandled(7, 10).await.unwrap()[1].raw, "new");

        store.inbox_count_attempts(7, vec![1, 2]).await.unwrap();
        let attempts: Vec<u32> = store.inbox_unhandled(7, 10).await.unwrap().iter().map(|u| u.attempts).collect();
        assert_eq!(attempts, [2, 2, 1], "a stored update was attempted once, a replayed one once more");

        // Handled updates are kept until pruned, but for the newest.
        for id in [1, 2, 3] {
            store.inbox_mark_handled(7, id).await.unwrap();
        }
        assert_eq!(store.inbox_prune(7, 0).await.unwrap(), 0, "handled after the cutoff: kept");
        assert_eq!(store.inbox_prune(7, u64::MAX).await.unwrap(), 2, "all but the newest");
        assert_eq!(store.inbox_put(7, 1, raw(1)).await.unwrap(), Received::New, "forgotten: new again");
    }
}
