//! The engine's [`StateStore`] on the database.
//!
//! The store crate depends on the engine for the trait (the engine holds an
//! `Arc<dyn StateStore>` and never names `Store`), so there is no cycle: the binary opens a
//! `Store` and hands it to the engine.

use ferrogram_core::{
    BoxFuture, ChatState, Commit, PendingSend, Received, Scope, StateStore, StoreError, StoredDeadLetter, StoredUpdate,
};
use serde_json::{Map, Value};

use crate::Store;
use crate::directory::{ChatRecord, UserRecord, last_per_key};
use crate::ops::{int, scope_key};
use crate::stats::Rollup;

fn engine_error(error: crate::Error) -> StoreError {
    StoreError(error.to_string())
}

impl StateStore for Store {
    fn load_chat(&self, bot: u64, chat: i64) -> BoxFuture<'_, Result<Option<ChatState>, StoreError>> {
        Box::pin(async move { Store::load_chat(self, bot, chat).await.map_err(engine_error) })
    }

    fn save_chat(&self, bot: u64, chat: i64, state: ChatState) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Store::save_chat(self, bot, chat, &state).await.map_err(engine_error) })
    }

    fn load_vars(&self, bot: u64, scope: Scope) -> BoxFuture<'_, Result<Map<String, Value>, StoreError>> {
        Box::pin(async move { Store::load_vars(self, bot, scope).await.map_err(engine_error) })
    }

    fn set_var(
        &self,
        bot: u64,
        scope: Scope,
        name: String,
        value: Option<Value>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Store::set_var(self, bot, scope, &name, value.as_ref()).await.map_err(engine_error) })
    }

    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<Received, StoreError>> {
        Box::pin(async move { Store::inbox_put(self, bot, update_id, &raw).await.map_err(engine_error) })
    }

    fn inbox_put_batch(
        &self,
        bot: u64,
        updates: Vec<(i64, String)>,
    ) -> BoxFuture<'_, Result<Vec<Received>, StoreError>> {
        Box::pin(async move {
            // A few statements for the whole batch (decision 0020), in one transaction.
            let write = async {
                let bot = int("bot id", bot)?;
                let mut tx = self.transaction().await?;
                let received = tx.conn().inbox_put_rows(bot, &updates, crate::now()).await?;
                tx.commit().await?;
                Ok::<_, crate::Error>(received)
            };
            write.await.map_err(engine_error)
        })
    }

    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>> {
        Box::pin(async move {
            let updates = Store::inbox_take_unhandled(self, bot, limit).await.map_err(engine_error)?;
            Ok(updates
                .into_iter()
                .map(|u| StoredUpdate { update_id: u.update_id, raw: u.raw, attempts: u.attempts })
                .collect())
        })
    }

    fn inbox_count_attempts(&self, bot: u64, update_ids: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { Store::inbox_count_attempts(self, bot, &update_ids).await.map_err(engine_error) })
    }

    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { Store::inbox_mark_handled(self, bot, update_id).await.map_err(engine_error) })
    }

    fn inbox_prune(&self, bot: u64, handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Store::inbox_prune(self, bot, handled_before).await.map_err(engine_error) })
    }

    fn active_users_prune(&self, bot: u64, before_day: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Store::active_users_prune(self, bot, before_day).await.map_err(engine_error) })
    }

    fn dead_letters(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredDeadLetter>, StoreError>> {
        Box::pin(async move { Store::dead_letters(self, Some(bot), limit).await.map_err(engine_error) })
    }

    fn load_next_run(&self, bot: u64, job: &str) -> BoxFuture<'_, Result<Option<u64>, StoreError>> {
        let job = job.to_owned();
        Box::pin(async move { Store::load_next_run(self, bot, &job).await.map_err(engine_error) })
    }

    fn save_next_run(&self, bot: u64, job: &str, at: Option<u64>) -> BoxFuture<'_, Result<(), StoreError>> {
        let job = job.to_owned();
        Box::pin(async move { Store::save_next_run(self, bot, &job, at).await.map_err(engine_error) })
    }

    fn claim_next_run(
        &self,
        bot: u64,
        job: &str,
        expected: Option<u64>,
        next: Option<u64>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let job = job.to_owned();
        Box::pin(async move { Store::claim_next_run(self, bot, &job, expected, next).await.map_err(engine_error) })
    }

    fn commit<'a>(&'a self, batch: &'a [Commit]) -> BoxFuture<'a, Result<Vec<Vec<i64>>, StoreError>> {
        Box::pin(async move { self.commit_batch(batch).await.map_err(engine_error) })
    }

    fn outbox_pending(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<PendingSend>, StoreError>> {
        Box::pin(async move { Store::outbox_pending(self, bot, limit).await.map_err(engine_error) })
    }

    fn bots_with_work(&self) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        Box::pin(async move { Store::bots_with_work(self).await.map_err(engine_error) })
    }

    fn blocked_users(&self, bot: u64) -> BoxFuture<'_, Result<Vec<i64>, StoreError>> {
        Box::pin(async move { Store::blocked_user_ids(self, bot).await.map_err(engine_error) })
    }
}

impl Store {
    /// Writes a batch of the engine's commits in one transaction (group commit); returns the
    /// outbox ids of each commit.
    ///
    /// Each kind of row is written for the whole batch at once, with multi-row statements
    /// (decision 0020): the result is that of writing the commits one after the other (a later
    /// commit's chat state or variable wins; outbox ids grow in commit order). A user or chat
    /// this store wrote unchanged less than `Options::directory_refresh` ago is not rewritten.
    pub async fn commit_batch(&self, batch: &[Commit]) -> crate::Result<Vec<Vec<i64>>> {
        let now = crate::now();
        let mut chats = Vec::new();
        let mut vars = Vec::new();
        let mut outbox = Vec::new();
        let mut handled = Vec::new();
        let mut delivered = Vec::new();
        let mut dead_letters = Vec::new();
        let mut users = Vec::new();
        let mut chat_records = Vec::new();
        let mut rollup = Rollup::default();
        for commit in batch {
            let bot = int("bot id", commit.bot)?;
            if let Some((chat, state)) = &commit.chat {
                chats.push(((bot, *chat), serde_json::to_string(state)?));
            }
            for (scope, name, value) in &commit.vars {
                let (scope, owner) = scope_key(*scope);
                let value = value.as_ref().map(serde_json::to_string).transpose()?;
                vars.push(((bot, scope, owner, name.as_str()), value));
            }
            for outgoing in &commit.outbox {
                outbox.push((bot, outgoing, serde_json::to_string(&outgoing.params)?));
            }
            handled.extend(commit.handled.map(|update_id| (bot, update_id)));
            delivered.extend(commit.delivered.iter().map(|id| (bot, *id)));
            dead_letters.extend(commit.dead_letter.as_ref().map(|letter| (bot, letter)));
            if let Some((id, user)) = UserRecord::from_user(&commit.seen_user) {
                users.push(((bot, id), user));
            }
            if let Some((id, chat)) = ChatRecord::from_chat(&commit.seen_chat) {
                chat_records.push(((bot, id), chat));
            }
            if let Some(tally) = &commit.tally {
                rollup.add(bot, tally);
            }
        }
        let chats: Vec<_> = last_per_key(chats).into_iter().map(|((bot, chat), state)| (bot, chat, state)).collect();
        let (mut set, mut forget) = (Vec::new(), Vec::new());
        for ((bot, scope, owner, name), value) in last_per_key(vars) {
            match value {
                Some(value) => set.push((bot, scope, owner, name, value)),
                None => forget.push((bot, scope, owner, name)),
            }
        }
        let (users, chat_records) = {
            let directory = self.directory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let refresh = self.directory_refresh;
            let users: Vec<_> = last_per_key(users)
                .into_iter()
                .filter(|(key, user)| !directory.users.is_current(key, user, now, refresh))
                .collect();
            let chat_records: Vec<_> = last_per_key(chat_records)
                .into_iter()
                .filter(|(key, chat)| !directory.chats.is_current(key, chat, now, refresh))
                .collect();
            // A user already written active that day is not written again.
            rollup.active.retain(|(key, day)| !directory.active.is_current(key, day, now, i64::MAX));
            (users, chat_records)
        };
        let days: Vec<_> = rollup.days.into_iter().collect();
        let mut active = rollup.active;
        active.sort_unstable();
        active.dedup();

        // Each call writes nothing (no statement) when it has no rows.
        let mut tx = self.transaction().await?;
        tx.conn().save_chats(&chats, now).await?;
        tx.conn().set_vars(&set, now).await?;
        // Forgetting is rare (a step that unsets a variable): one statement each.
        for (bot, scope, owner, name) in forget {
            tx.conn().forget_var(bot, scope, owner, name).await?;
        }
        let ids = tx.conn().outbox_push_rows(&outbox, now).await?;
        tx.conn().inbox_mark_handled_rows(&handled, now).await?;
        tx.conn().outbox_forget_rows(&delivered).await?;
        tx.conn().dead_letter_rows(&dead_letters, now).await?;
        tx.conn().remember_users(&users, now).await?;
        tx.conn().remember_chats(&chat_records, now).await?;
        tx.conn().add_daily_stats(&days).await?;
        tx.conn().add_active_users(&active).await?;
        tx.commit().await?;

        // Only what is committed counts as written: a failed batch is written again in full.
        let mut directory = self.directory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, user) in users {
            directory.users.remember(key, user, now);
        }
        for (key, chat) in chat_records {
            directory.chats.remember(key, chat, now);
        }
        for (key, day) in active {
            directory.active.remember(key, day, now);
        }
        drop(directory);

        let mut ids = ids.into_iter();
        Ok(batch.iter().map(|commit| ids.by_ref().take(commit.outbox.len()).collect()).collect())
    }

    /// Adds or refreshes a Telegram user (its `User` object) in the bot's directory, as a commit
    /// with that user would.
    pub async fn remember_user(&self, bot: u64, user: &Value) -> crate::Result<()> {
        self.commit_batch(&[Commit { bot, seen_user: user.clone(), ..Commit::default() }]).await.map(drop)
    }

    /// Adds or refreshes a chat (its `Chat` object) in the bot's directory, as a commit with
    /// that chat would.
    pub async fn remember_chat(&self, bot: u64, chat: &Value) -> crate::Result<()> {
        self.commit_batch(&[Commit { bot, seen_chat: chat.clone(), ..Commit::default() }]).await.map(drop)
    }

    /// Forgets what this store remembers having written to the directories (after an import
    /// replaced them).
    pub(crate) fn forget_directory_writes(&self) {
        let mut directory = self.directory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        directory.users.clear();
        directory.chats.clear();
        directory.active.clear();
    }
}
