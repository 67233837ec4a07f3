//! Conversation state, variables, inbox and outbox in memory: one of the [`StateStore`]
//! backends (the database ones are in the store crate).

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::state_store::*;

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

    fn bots_with_work(&self) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        let mut bots: std::collections::BTreeSet<u64> = self
            .inboxes
            .lock()
            .iter()
            .filter(|(_, inbox)| inbox.values().any(|entry| entry.handled_at.is_none()))
            .map(|(bot, _)| *bot)
            .collect();
        bots.extend(self.outbox.lock().entries.values().map(|(bot, _)| *bot));
        Box::pin(async move { Ok(bots.into_iter().collect()) })
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
