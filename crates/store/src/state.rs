//! The engine's [`StateStore`] on the database.
//!
//! The store crate depends on the engine for the trait (the engine holds an
//! `Arc<dyn StateStore>` and never names `Store`), so there is no cycle: the binary opens a
//! `Store` and hands it to the engine.

use engine::{BoxFuture, ChatState, Commit, PendingSend, Scope, StateStore, StoreError, StoredUpdate};
use serde_json::{Map, Value};

use crate::Store;

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

    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { Store::inbox_put(self, bot, update_id, &raw).await.map_err(engine_error) })
    }

    fn inbox_put_batch(&self, bot: u64, updates: Vec<(i64, String)>) -> BoxFuture<'_, Result<Vec<bool>, StoreError>> {
        Box::pin(async move {
            let write = async {
                let mut tx = self.transaction().await?;
                let mut stored = Vec::with_capacity(updates.len());
                for (update_id, raw) in &updates {
                    stored.push(tx.inbox_put(bot, *update_id, raw).await?);
                }
                tx.commit().await?;
                Ok::<_, crate::Error>(stored)
            };
            write.await.map_err(engine_error)
        })
    }

    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>> {
        Box::pin(async move {
            let updates = Store::inbox_take_unhandled(self, bot, limit).await.map_err(engine_error)?;
            Ok(updates.into_iter().map(|u| StoredUpdate { update_id: u.update_id, raw: u.raw }).collect())
        })
    }

    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { Store::inbox_mark_handled(self, bot, update_id).await.map_err(engine_error) })
    }

    fn inbox_prune(&self, bot: u64, handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move { Store::inbox_prune(self, bot, handled_before).await.map_err(engine_error) })
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
}

impl Store {
    /// Writes a batch of the engine's commits in one transaction (group commit); returns the
    /// outbox ids of each commit.
    pub async fn commit_batch(&self, batch: &[Commit]) -> crate::Result<Vec<Vec<i64>>> {
        let mut tx = self.transaction().await?;
        let mut ids = Vec::with_capacity(batch.len());
        for commit in batch {
            let bot = commit.bot;
            if let Some((chat, state)) = &commit.chat {
                tx.save_chat(bot, *chat, state).await?;
            }
            for (scope, name, value) in &commit.vars {
                tx.set_var(bot, *scope, name, value.as_ref()).await?;
            }
            let mut pushed = Vec::with_capacity(commit.outbox.len());
            for outgoing in &commit.outbox {
                pushed.push(tx.outbox_push(bot, outgoing).await?);
            }
            if let Some(update_id) = commit.handled {
                tx.inbox_mark_handled(bot, update_id).await?;
            }
            for id in &commit.delivered {
                tx.outbox_forget(bot, *id).await?;
            }
            if commit.seen_user.is_object() {
                tx.remember_user(bot, &commit.seen_user).await?;
            }
            if commit.seen_chat.is_object() {
                tx.remember_chat(bot, &commit.seen_chat).await?;
            }
            ids.push(pushed);
        }
        tx.commit().await?;
        Ok(ids)
    }
}
