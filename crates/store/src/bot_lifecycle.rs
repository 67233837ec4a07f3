//! A bot's lifecycle (decision 0040): whether `serve` runs it (`bots.enabled`), the
//! supervisor's last known status of it (`bot_statuses`, read at the next start of `serve`), and
//! its removal ([`Store::remove_bot`]) with what it deleted, leaving a mark (`removed_bots`) so
//! that the same file in `serve`'s folder does not bring it back.
//!
//! Like the rest of the tenancy, every call names the caller's workspace and matches it in the
//! same statement: a bot of another workspace is one that does not exist.

use sha2::{Digest, Sha256};

use crate::export::BOT_TABLES;
use crate::ops::Conn;
use crate::{Result, Store, Transaction, now};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// A bot's status as its supervisor last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStatus {
    /// `starting`, `running`, `stopped`, `failing` or `unauthorized` (the store does not check).
    pub status: String,
    /// Unix seconds of the last change of `status`.
    pub since: i64,
    /// The version running, or the one last tried.
    pub version: Option<i64>,
    /// Failed starts since the last successful one.
    pub attempts: u32,
    /// The last errors, oldest first: (Unix seconds, message).
    pub errors: Vec<(i64, String)>,
}

/// What [`Store::remove_bot`] deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemovedBot {
    /// The id its data was kept under, if it had one.
    pub telegram_id: Option<u64>,
    /// Its file versions.
    pub versions: u64,
    /// Its secrets (its stored token).
    pub secrets: u64,
    /// Rows deleted from each data table ([`BOT_TABLES`]) that had some, in that order; empty
    /// when the data was kept.
    pub rows: Vec<(String, u64)>,
    /// Whether its data rows were left in place (`keep_data`).
    pub kept_data: bool,
}

/// The SHA-256 of a source, in lower-case hex: what `removed_bots` keeps.
fn source_hash(source: &str) -> String {
    Sha256::digest(source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

type StatusRow = (String, i64, Option<i64>, i64, String);

impl Conn<'_> {
    pub(crate) async fn set_bot_enabled(self, workspace: i64, bot: i64, enabled: bool) -> Result<bool> {
        const SQL: &str = "UPDATE bots SET enabled = $3 WHERE workspace_id = $1 AND id = $2";
        let changed =
            on!(self, c => sqlx::query(SQL).bind(workspace).bind(bot).bind(enabled).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn save_bot_status(self, workspace: i64, bot: i64, status: &StoredStatus) -> Result<bool> {
        const SQL: &str = "INSERT INTO bot_statuses (bot_id, status, since, version, attempts, errors, updated_at) \
             SELECT b.id, $3, $4, $5, $6, $7, $8 FROM bots b WHERE b.workspace_id = $1 AND b.id = $2 \
             ON CONFLICT (bot_id) DO UPDATE SET status = excluded.status, since = excluded.since, \
             version = excluded.version, attempts = excluded.attempts, errors = excluded.errors, \
             updated_at = excluded.updated_at";
        let errors: Vec<serde_json::Value> =
            status.errors.iter().map(|(at, message)| serde_json::json!({"at": at, "message": message})).collect();
        const BEFORE: &str = "SELECT b.name, s.status FROM bots b LEFT JOIN bot_statuses s ON s.bot_id = b.id \
             WHERE b.workspace_id = $1 AND b.id = $2";
        let errors = serde_json::to_string(&errors)?;
        let mut conn = self;
        let before: Option<(String, Option<String>)> =
            on!(conn.reborrow(), c => sqlx::query_as(BEFORE).bind(workspace).bind(bot).fetch_optional(c).await?);
        let changed = on!(conn.reborrow(), c => sqlx::query(SQL)
            .bind(workspace).bind(bot).bind(&status.status).bind(status.since).bind(status.version)
            .bind(i64::from(status.attempts)).bind(&errors).bind(now())
            .execute(c).await?.rows_affected());
        // A change of status is an event for the workspace's webhooks (decision 0050).
        if let (1, Some((name, previous))) = (changed, before)
            && previous.as_deref() != Some(status.status.as_str())
            && let Some(kind) = crate::webhooks::status_event(&status.status)
        {
            let data = serde_json::json!({
                "status": status.status, "previous": previous, "version": status.version,
                "attempts": status.attempts, "error": status.errors.last().map(|(_, message)| message),
            });
            conn.record_event(workspace, kind, Some(&name), &data).await?;
        }
        Ok(changed == 1)
    }

    pub(crate) async fn bot_status(self, workspace: i64, bot: i64) -> Result<Option<StoredStatus>> {
        const SQL: &str = "SELECT s.status, s.since, s.version, s.attempts, s.errors FROM bot_statuses s \
             JOIN bots b ON b.id = s.bot_id WHERE b.workspace_id = $1 AND b.id = $2";
        let row: Option<StatusRow> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(bot).fetch_optional(c).await?);
        let Some((status, since, version, attempts, errors)) = row else { return Ok(None) };
        let errors: Vec<serde_json::Value> = serde_json::from_str(&errors)?;
        let errors = errors
            .iter()
            .map(|e| (e["at"].as_i64().unwrap_or_default(), e["message"].as_str().unwrap_or_default().to_owned()))
            .collect();
        let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        Ok(Some(StoredStatus { status, since, version, attempts, errors }))
    }

    pub(crate) async fn removed_with(self, workspace: i64, name: &str, source: &str) -> Result<Option<i64>> {
        const SQL: &str =
            "SELECT removed_at FROM removed_bots WHERE workspace_id = $1 AND name = $2 AND source_hash = $3";
        let hash = source_hash(source);
        Ok(on!(self, c => sqlx::query_scalar(SQL).bind(workspace).bind(name).bind(&hash).fetch_optional(c).await?))
    }

    pub(crate) async fn forget_removed(self, workspace: i64, name: &str) -> Result<bool> {
        const SQL: &str = "DELETE FROM removed_bots WHERE workspace_id = $1 AND name = $2";
        let changed = on!(self, c => sqlx::query(SQL).bind(workspace).bind(name).execute(c).await?.rows_affected());
        Ok(changed > 0)
    }

    /// The removal's statements, in the caller's transaction.
    async fn remove_bot(self, workspace: i64, bot: i64, keep_data: bool) -> Result<Option<RemovedBot>> {
        const RECORD: &str = "SELECT name, telegram_id FROM bots WHERE workspace_id = $1 AND id = $2";
        const SOURCE: &str = "SELECT source FROM bot_versions WHERE bot_id = $1 ORDER BY version DESC LIMIT 1";
        const VERSIONS: &str = "SELECT COUNT(*) FROM bot_versions WHERE bot_id = $1";
        const SECRETS: &str = "SELECT COUNT(*) FROM secrets WHERE bot_id = $1";
        const MARK: &str = "INSERT INTO removed_bots (workspace_id, name, source_hash, removed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, name) DO UPDATE SET \
             source_hash = excluded.source_hash, removed_at = excluded.removed_at";
        const DELETE: &str = "DELETE FROM bots WHERE workspace_id = $1 AND id = $2";
        on!(self, c => {
            let record: Option<(String, Option<i64>)> =
                sqlx::query_as(RECORD).bind(workspace).bind(bot).fetch_optional(&mut *c).await?;
            let Some((name, telegram)) = record else { return Ok(None) };
            let source: Option<String> = sqlx::query_scalar(SOURCE).bind(bot).fetch_optional(&mut *c).await?;
            let versions: i64 = sqlx::query_scalar(VERSIONS).bind(bot).fetch_one(&mut *c).await?;
            let secrets: i64 = sqlx::query_scalar(SECRETS).bind(bot).fetch_one(&mut *c).await?;
            let mut removed = RemovedBot {
                telegram_id: telegram.and_then(|id| u64::try_from(id).ok()),
                versions: u64::try_from(versions).unwrap_or_default(),
                secrets: u64::try_from(secrets).unwrap_or_default(),
                rows: Vec::new(),
                kept_data: keep_data,
            };
            if let (false, Some(telegram)) = (keep_data, telegram) {
                for &(table, _) in BOT_TABLES {
                    let sql = format!("DELETE FROM {table} WHERE bot_id = $1");
                    let deleted = sqlx::query(&sql).bind(telegram).execute(&mut *c).await?.rows_affected();
                    if deleted > 0 {
                        removed.rows.push((table.to_owned(), deleted));
                    }
                }
            }
            if let Some(source) = source {
                sqlx::query(MARK)
                    .bind(workspace).bind(&name).bind(source_hash(&source)).bind(now())
                    .execute(&mut *c).await?;
            }
            // Its versions, secrets and status go with it (ON DELETE CASCADE).
            sqlx::query(DELETE).bind(workspace).bind(bot).execute(&mut *c).await?;
            Ok(Some(removed))
        })
    }
}

operations! {
    /// Sets whether `serve` runs the bot; `false` if the bot is not the workspace's.
    fn set_bot_enabled(workspace: i64, bot: i64, enabled: bool) -> bool;
    /// Writes (replaces) the bot's last known status; `false` if the bot is not the workspace's.
    fn save_bot_status(workspace: i64, bot: i64, status: &StoredStatus) -> bool;
    /// The bot's last status written, `None` if none was or the bot is not the workspace's.
    fn bot_status(workspace: i64, bot: i64) -> Option<StoredStatus>;
    /// When the workspace's bot `name` was removed, if it was and its last version's source was
    /// exactly `source` (what a folder import checks before bringing a file's bot back).
    fn removed_with(workspace: i64, name: &str, source: &str) -> Option<i64>;
    /// Forgets that the workspace's bot `name` was removed (a bot of that name is saved again);
    /// `false` if it was not marked.
    fn forget_removed(workspace: i64, name: &str) -> bool;
}

impl Store {
    /// Removes the workspace's bot, in one transaction: its record, its versions, its secrets
    /// and its status, and unless `keep_data` every row of its data tables ([`BOT_TABLES`]:
    /// users' and chats' state, variables, jobs, collections, inbox, outbox, dead letters,
    /// subscriptions, people) under its Telegram id. The source of its last version is marked
    /// removed ([`Store::removed_with`]). The workspace's audit log is not touched (the caller
    /// writes the removal to it). `None` if the bot is not the workspace's (nothing changed).
    pub async fn remove_bot(&self, workspace: i64, bot: i64, keep_data: bool) -> Result<Option<RemovedBot>> {
        let mut tx = self.transaction().await?;
        let removed = tx.conn().remove_bot(workspace, bot, keep_data).await?;
        tx.commit().await?;
        Ok(removed)
    }
}

impl Transaction {
    /// [`Store::remove_bot`] in this transaction.
    pub async fn remove_bot(&mut self, workspace: i64, bot: i64, keep_data: bool) -> Result<Option<RemovedBot>> {
        self.conn().remove_bot(workspace, bot, keep_data).await
    }
}
