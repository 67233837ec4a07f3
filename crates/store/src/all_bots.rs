//! Every bot of a store in one document: the backup of a database that cannot be snapshotted
//! as a file (PostgreSQL), restorable into either database.
//!
//! ```json
//! {"ferrogram_backup": 1, "bots": [<export of one bot>, …]}
//! ```
//!
//! Each element is exactly what [`Store::export_bot`] writes (its format is
//! [`crate::EXPORT_FORMAT`]); all of them are read in one transaction (on PostgreSQL a
//! repeatable-read one), so the document is one consistent moment of the database, and
//! restored in one transaction. It holds what a bot export holds: the dashboard records,
//! file versions and data rows of every bot; not the API tokens, audit log or workspaces
//! without a bot.

use serde_json::{Value, json};
use sqlx::Row;

use ferrogram_core::sandbox_bot_id;

use crate::export::{BOT_TABLES, refused};
use crate::ops::Conn;
use crate::{ImportOptions, ImportSummary, Pool, Result, Store};

/// The version of the all-bots document this build writes and reads (`"ferrogram_backup"`).
pub const ALL_BOTS_FORMAT: i64 = 1;

impl Conn<'_> {
    /// The engine ids of every bot with a dashboard record or a row in a bot table, ascending.
    async fn all_bot_ids(&mut self) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for &(table, _) in BOT_TABLES {
            let sql = format!("SELECT DISTINCT bot_id FROM {table}");
            let found: Vec<i64> = match self {
                Conn::Sqlite(c) => sqlx::query_scalar(&sql).fetch_all(&mut **c).await?,
                Conn::Postgres(c) => sqlx::query_scalar(&sql).fetch_all(&mut **c).await?,
            };
            ids.extend(found);
        }
        const RECORDS: &str = "SELECT name, telegram_id FROM bots";
        let records: Vec<(String, Option<i64>)> = match self {
            Conn::Sqlite(c) => {
                sqlx::query(RECORDS).fetch_all(&mut **c).await?.iter().map(|row| (row.get(0), row.get(1))).collect()
            }
            Conn::Postgres(c) => {
                sqlx::query(RECORDS).fetch_all(&mut **c).await?.iter().map(|row| (row.get(0), row.get(1))).collect()
            }
        };
        for (name, telegram) in records {
            ids.push(telegram.unwrap_or_else(|| sandbox_bot_id(&name) as i64));
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    async fn export_all(&mut self) -> Result<Value> {
        let mut bots = Vec::new();
        for id in self.all_bot_ids().await? {
            bots.push(self.export(&id.to_string(), None).await?);
        }
        Ok(json!({"ferrogram_backup": ALL_BOTS_FORMAT, "bots": bots}))
    }
}

impl Store {
    /// Every bot's export in one document, read in one transaction (module docs).
    pub async fn export_all_bots(&self) -> Result<Value> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let document = Conn::Sqlite(&mut tx).export_all().await?;
                tx.rollback().await?;
                Ok(document)
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
                let document = Conn::Postgres(&mut tx).export_all().await?;
                tx.rollback().await?;
                Ok(document)
            }
        }
    }

    /// Restores a document of [`Store::export_all_bots`] in one transaction: all its bots or,
    /// on any error (a bot already here without `replace`, a malformed export), none.
    pub async fn import_all_bots(&self, document: &Value, replace: bool) -> Result<Vec<ImportSummary>> {
        let format = document.get("ferrogram_backup").and_then(Value::as_i64);
        if format != Some(ALL_BOTS_FORMAT) {
            return Err(refused(match format {
                Some(other) => {
                    format!("backup format {other} is not supported (this Ferrogram reads {ALL_BOTS_FORMAT})")
                }
                None => "not a Ferrogram backup (no \"ferrogram_backup\" format number)".to_owned(),
            }));
        }
        let bots = document
            .get("bots")
            .and_then(Value::as_array)
            .ok_or_else(|| refused("the backup has no \"bots\" array"))?;
        let mut tx = self.transaction().await?;
        let mut summaries = Vec::with_capacity(bots.len());
        for (index, bot) in bots.iter().enumerate() {
            let options = ImportOptions { replace, workspace: None };
            let summary = tx.conn().import(bot, options, None).await.map_err(|error| match error {
                crate::Error::Refused(why) => refused(format!("bot {} of the backup: {why}", index + 1)),
                other => other,
            })?;
            summaries.push(summary);
        }
        tx.commit().await?;
        self.forget_directory_writes();
        Ok(summaries)
    }

    /// How many bots have a dashboard record or data here: 0 for a database a restore may fill.
    pub async fn bot_count(&self) -> Result<usize> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                Ok(Conn::Sqlite(&mut conn).all_bot_ids().await?.len())
            }
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                Ok(Conn::Postgres(&mut conn).all_bot_ids().await?.len())
            }
        }
    }
}
