//! Conversation state and variables, behind [`StateStore`] so SQLite and PostgreSQL can
//! replace the in-memory store without touching the interpreter.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use parking_lot::Mutex;
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
}

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

/// Everything in memory: for the sandbox, tests and single-process use without persistence.
#[derive(Debug, Default)]
pub struct MemoryStore {
    chats: Mutex<HashMap<(u64, i64), ChatState>>,
    vars: Mutex<HashMap<(u64, Scope), Map<String, Value>>>,
    inboxes: Mutex<HashMap<u64, BTreeMap<i64, InboxEntry>>>,
    dead_letters: Mutex<Vec<StoredDeadLetter>>,
    next_runs: Mutex<HashMap<(u64, String), u64>>,
    outbox: Mutex<Outbox>,
}

/// Every bot's undelivered calls, by id.
#[derive(Debug, Default)]
struct Outbox {
    entries: BTreeMap<i64, (u64, Outgoing)>,
    last_id: i64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn write_var(&self, bot: u64, scope: Scope, name: String, value: Option<Value>) {
        let mut vars = self.vars.lock();
        let scoped = vars.entry((bot, scope)).or_default();
        match value {
            Some(value) => scoped.insert(name, value),
            None => scoped.remove(&name),
        };
    }

    fn mark_handled(&self, bot: u64, update_id: i64) -> bool {
        let mut inboxes = self.inboxes.lock();
        match inboxes.get_mut(&bot).and_then(|inbox| inbox.get_mut(&update_id)) {
            Some(entry) if entry.handled_at.is_none() => {
                entry.handled_at = Some(unix_now());
                true
            }
            _ => false,
        }
    }

    fn put(&self, bot: u64, update_id: i64, raw: String) -> Received {
        let mut inboxes = self.inboxes.lock();
        let inbox = inboxes.entry(bot).or_default();
        let held = inbox.get(&update_id).map(|entry| (entry.raw.as_str(), entry.handled_at.is_some()));
        let received = Received::of(held, &raw);
        if received.is_stored() {
            inbox.insert(update_id, InboxEntry { raw, handled_at: None, attempts: 1 });
        }
        received
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One update in a bot's memory inbox, kept like a database row: until pruned.
#[derive(Debug)]
struct InboxEntry {
    raw: String,
    /// When it was handled (Unix seconds).
    handled_at: Option<u64>,
    attempts: u32,
}

impl StateStore for MemoryStore {
    fn load_chat(&self, bot: u64, chat: i64) -> BoxFuture<'_, Result<Option<ChatState>, StoreError>> {
        let state = self.chats.lock().get(&(bot, chat)).cloned();
        Box::pin(async move { Ok(state) })
    }

    fn save_chat(&self, bot: u64, chat: i64, state: ChatState) -> BoxFuture<'_, Result<(), StoreError>> {
        self.chats.lock().insert((bot, chat), state);
        Box::pin(async { Ok(()) })
    }

    fn load_vars(&self, bot: u64, scope: Scope) -> BoxFuture<'_, Result<Map<String, Value>, StoreError>> {
        let vars = self.vars.lock().get(&(bot, scope)).cloned().unwrap_or_default();
        Box::pin(async move { Ok(vars) })
    }

    fn set_var(
        &self,
        bot: u64,
        scope: Scope,
        name: String,
        value: Option<Value>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write_var(bot, scope, name, value);
        Box::pin(async { Ok(()) })
    }

    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<Received, StoreError>> {
        let received = self.put(bot, update_id, raw);
        Box::pin(async move { Ok(received) })
    }

    fn inbox_put_batch(
        &self,
        bot: u64,
        updates: Vec<(i64, String)>,
    ) -> BoxFuture<'_, Result<Vec<Received>, StoreError>> {
        let received = updates.into_iter().map(|(id, raw)| self.put(bot, id, raw)).collect();
        Box::pin(async move { Ok(received) })
    }

    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>> {
        let unhandled = self.inboxes.lock().get(&bot).map_or_else(Vec::new, |inbox| {
            inbox
                .iter()
                .filter(|(_, entry)| entry.handled_at.is_none())
                .take(limit as usize)
                .map(|(update_id, entry)| StoredUpdate {
                    update_id: *update_id,
                    raw: entry.raw.clone(),
                    attempts: entry.attempts,
                })
                .collect()
        });
        Box::pin(async move { Ok(unhandled) })
    }

    fn inbox_count_attempts(&self, bot: u64, update_ids: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>> {
        if let Some(inbox) = self.inboxes.lock().get_mut(&bot) {
            for id in update_ids {
                if let Some(entry) = inbox.get_mut(&id).filter(|entry| entry.handled_at.is_none()) {
                    entry.attempts = entry.attempts.saturating_add(1);
                }
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        let marked = self.mark_handled(bot, update_id);
        Box::pin(async move { Ok(marked) })
    }

    fn inbox_prune(&self, bot: u64, handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        let mut pruned = 0;
        if let Some(inbox) = self.inboxes.lock().get_mut(&bot) {
            let newest = inbox.keys().next_back().copied();
            let before = inbox.len();
            inbox.retain(|id, entry| Some(*id) == newest || entry.handled_at.is_none_or(|at| at >= handled_before));
            pruned = (before - inbox.len()) as u64;
        }
        Box::pin(async move { Ok(pruned) })
    }

    fn dead_letters(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredDeadLetter>, StoreError>> {
        let letters =
            self.dead_letters.lock().iter().filter(|letter| letter.bot == bot).take(limit as usize).cloned().collect();
        Box::pin(async move { Ok(letters) })
    }

    fn load_next_run(&self, bot: u64, job: &str) -> BoxFuture<'_, Result<Option<u64>, StoreError>> {
        let at = self.next_runs.lock().get(&(bot, job.to_owned())).copied();
        Box::pin(async move { Ok(at) })
    }

    fn save_next_run(&self, bot: u64, job: &str, at: Option<u64>) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut runs = self.next_runs.lock();
        match at {
            Some(at) => runs.insert((bot, job.to_owned()), at),
            None => runs.remove(&(bot, job.to_owned())),
        };
        Box::pin(async { Ok(()) })
    }

    fn claim_next_run(
        &self,
        bot: u64,
        job: &str,
        expected: Option<u64>,
        next: Option<u64>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut runs = self.next_runs.lock();
        let key = (bot, job.to_owned());
        let won = runs.get(&key).copied() == expected;
        if won {
            match next {
                Some(at) => runs.insert(key, at),
                None => runs.remove(&key),
            };
        }
        Box::pin(async move { Ok(won) })
    }

    fn commit<'a>(&'a self, batch: &'a [Commit]) -> BoxFuture<'a, Result<Vec<Vec<i64>>, StoreError>> {
        let mut ids = Vec::with_capacity(batch.len());
        for commit in batch {
            let bot = commit.bot;
            if let Some((chat, state)) = &commit.chat {
                self.chats.lock().insert((bot, *chat), state.clone());
            }
            for (scope, name, value) in &commit.vars {
                self.write_var(bot, *scope, name.clone(), value.clone());
            }
            if let Some(update_id) = commit.handled {
                self.mark_handled(bot, update_id);
            }
            if let Some(letter) = &commit.dead_letter {
                let mut letters = self.dead_letters.lock();
                let id = letters.last().map_or(1, |last| last.id + 1);
                letters.push(StoredDeadLetter { id, bot, failed_at: unix_now() as i64, letter: letter.clone() });
            }
            let mut outbox = self.outbox.lock();
            for id in &commit.delivered {
                outbox.entries.remove(id);
            }
            let pushed = commit
                .outbox
                .iter()
                .map(|outgoing| {
                    outbox.last_id += 1;
                    let id = outbox.last_id;
                    outbox.entries.insert(id, (bot, outgoing.clone()));
                    id
                })
                .collect();
            ids.push(pushed);
        }
        Box::pin(async move { Ok(ids) })
    }

    fn outbox_pending(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<PendingSend>, StoreError>> {
        let pending = self
            .outbox
            .lock()
            .entries
            .iter()
            .filter(|(_, (owner, _))| *owner == bot)
            .take(limit as usize)
            .map(|(id, (_, outgoing))| PendingSend { id: *id, outgoing: outgoing.clone() })
            .collect();
        Box::pin(async move { Ok(pending) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
