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
    /// Keeps a received update (its JSON as received) until it is handled; `false` if the bot
    /// already had this update (a redelivery), which is then left as it was. The engine
    /// confirms an update to Telegram only after this succeeded.
    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// [`StateStore::inbox_put`] for a batch (one getUpdates answer), all or nothing, in one
    /// write: whether each update was new.
    fn inbox_put_batch(&self, bot: u64, updates: Vec<(i64, String)>) -> BoxFuture<'_, Result<Vec<bool>, StoreError>>;
    /// Up to `limit` of the bot's stored updates not yet marked handled, lowest update id first:
    /// what a crash interrupted, replayed when the bot starts.
    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>>;
    /// Marks an update handled; `false` if it was not stored or already handled.
    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Forgets the bot's updates handled before `handled_before` (Unix seconds), keeping its
    /// newest update so a redelivery is still recognised; returns how many were forgotten.
    fn inbox_prune(&self, bot: u64, handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>>;
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
}

/// Everything in memory: for the sandbox, tests and single-process use without persistence.
#[derive(Debug, Default)]
pub struct MemoryStore {
    chats: Mutex<HashMap<(u64, i64), ChatState>>,
    vars: Mutex<HashMap<(u64, Scope), Map<String, Value>>>,
    inboxes: Mutex<HashMap<u64, Inbox>>,
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
        let inbox = inboxes.entry(bot).or_default();
        let marked = match inbox.updates.get_mut(&update_id) {
            Some((_, handled)) if !*handled => {
                *handled = true;
                true
            }
            _ => false,
        };
        while let Some(entry) = inbox.updates.first_entry()
            && entry.get().1
        {
            inbox.forgotten_up_to = Some(inbox.forgotten_up_to.map_or(*entry.key(), |up_to| up_to.max(*entry.key())));
            entry.remove();
        }
        marked
    }
}

/// One bot's inbox in memory. Handled updates are forgotten once no unhandled one is below
/// them, so it holds only what is in flight; update ids increase, so an id at or below the
/// highest forgotten one is a redelivery.
#[derive(Debug, Default)]
struct Inbox {
    /// Raw JSON and whether it was handled, by update id.
    updates: BTreeMap<i64, (String, bool)>,
    forgotten_up_to: Option<i64>,
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

    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inboxes = self.inboxes.lock();
        let inbox = inboxes.entry(bot).or_default();
        let seen = inbox.forgotten_up_to.is_some_and(|up_to| update_id <= up_to);
        let stored = !seen && !inbox.updates.contains_key(&update_id);
        if stored {
            inbox.updates.insert(update_id, (raw, false));
        }
        Box::pin(async move { Ok(stored) })
    }

    fn inbox_put_batch(&self, bot: u64, updates: Vec<(i64, String)>) -> BoxFuture<'_, Result<Vec<bool>, StoreError>> {
        // Each put is done when it returns (in memory), so the futures are ready at once.
        let puts: Vec<_> = updates.into_iter().map(|(id, raw)| self.inbox_put(bot, id, raw)).collect();
        Box::pin(async move {
            let mut stored = Vec::with_capacity(puts.len());
            for put in puts {
                stored.push(put.await?);
            }
            Ok(stored)
        })
    }

    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>> {
        let unhandled = self.inboxes.lock().get(&bot).map_or_else(Vec::new, |inbox| {
            inbox
                .updates
                .iter()
                .filter(|(_, (_, handled))| !handled)
                .take(limit as usize)
                .map(|(update_id, (raw, _))| StoredUpdate { update_id: *update_id, raw: raw.clone() })
                .collect()
        });
        Box::pin(async move { Ok(unhandled) })
    }

    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        let marked = self.mark_handled(bot, update_id);
        Box::pin(async move { Ok(marked) })
    }

    fn inbox_prune(&self, _bot: u64, _handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        // The memory inbox forgets an update as soon as it and every update before it were
        // handled (see `Inbox`): nothing is left to prune.
        Box::pin(async { Ok(0) })
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
    async fn the_memory_inbox_stores_once_and_forgets_what_was_handled() {
        let store = MemoryStore::new();
        let ids = |updates: Vec<StoredUpdate>| updates.into_iter().map(|u| u.update_id).collect::<Vec<_>>();
        for id in [3, 1, 2] {
            assert!(store.inbox_put(7, id, format!("{{\"update_id\":{id}}}")).await.unwrap());
        }
        assert!(!store.inbox_put(7, 2, "again".into()).await.unwrap(), "a redelivery is stored once");
        assert_eq!(ids(store.inbox_unhandled(7, 10).await.unwrap()), [1, 2, 3]);
        assert_eq!(ids(store.inbox_unhandled(7, 2).await.unwrap()), [1, 2]);
        assert!(store.inbox_unhandled(8, 10).await.unwrap().is_empty(), "inboxes are per bot");

        assert!(store.inbox_mark_handled(7, 2).await.unwrap());
        assert!(!store.inbox_mark_handled(7, 2).await.unwrap(), "already handled");
        assert!(!store.inbox_mark_handled(7, 9).await.unwrap(), "never stored");
        assert_eq!(ids(store.inbox_unhandled(7, 10).await.unwrap()), [1, 3]);
        assert!(!store.inbox_put(7, 2, "again".into()).await.unwrap(), "handled, still remembered");

        assert!(store.inbox_mark_handled(7, 1).await.unwrap());
        assert_eq!(store.inboxes.lock()[&7].updates.len(), 1, "1 and 2 are forgotten");
        assert!(!store.inbox_put(7, 1, "again".into()).await.unwrap(), "forgotten, still a redelivery");
        assert_eq!(store.inbox_unhandled(7, 10).await.unwrap()[0].raw, "{\"update_id\":3}");
        assert!(store.inbox_put(7, 4, "{}".into()).await.unwrap());
    }
}
