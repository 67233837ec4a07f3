//! Secrets at rest (decision 0034): a bot's token and, later, a workspace's integration keys
//! and signing secrets, kept in the `secrets` table sealed under the store's [`SecretKey`]
//! (`secret_key.rs`), never in clear.
//!
//! The key is not in the database: the store is given it ([`Store::with_secret_key`]). Every
//! secret of a database is sealed under one key: a write under another key is refused while
//! secrets of the first remain, and [`Store::rotate_secrets`] moves all of them to a new key in
//! one transaction. Writes of secrets are serialized (SQLite's write lock; on PostgreSQL an
//! `EXCLUSIVE` lock of the table, which leaves reads free), so a write cannot slip in under the
//! old key while a rotation runs. Reading without a key is refused only when there is a value
//! to read; listing ([`Store::secrets`]) never needs the key and never shows a value.

use std::sync::Arc;

use crate::ops::Conn;
use crate::secret_key::{Place, Sealed, check_name, check_value};
use crate::{Error, Result, SecretKey, Store, Transaction, now};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// The name of a bot's own token among its secrets.
pub const BOT_TOKEN: &str = "token";

/// A stored secret's description: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub workspace: i64,
    /// The dashboard's bot id for a bot's own secret; `None` for the workspace's.
    pub bot: Option<i64>,
    pub name: String,
    /// The id of the key it is sealed under.
    pub key_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

type SealedRow = (String, Vec<u8>, Vec<u8>);
type InfoRow = (i64, Option<i64>, String, String, i64, i64);
type RotateRow = (i64, i64, Option<i64>, String, String, Vec<u8>, Vec<u8>);
type BotSecretRow = (i64, String, String, Vec<u8>, Vec<u8>);

/// A row's owner in SQL: `COALESCE(bot_id, 0) = $n` matches the workspace's own secrets with 0
/// (bot ids start at 1).
const OWNER: &str = "workspace_id = $1 AND COALESCE(bot_id, 0) = $2 AND name = $3";

fn sealed((key_id, nonce, ciphertext): SealedRow) -> Sealed {
    Sealed { key_id, nonce, ciphertext }
}

impl Conn<'_> {
    /// The same connection, borrowed again (for a function that takes a `Conn` by value).
    pub(crate) fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }

    /// Serializes writers of secrets until the transaction ends (PostgreSQL: reads stay free;
    /// SQLite's transactions hold the write lock already). Only inside a transaction.
    async fn lock_secrets(&mut self) -> Result<()> {
        if let Conn::Postgres(c) = self {
            sqlx::query("LOCK TABLE secrets IN EXCLUSIVE MODE").execute(&mut **c).await?;
        }
        Ok(())
    }

    /// The ids of the keys the stored secrets are sealed under (one, or none when there is no
    /// secret).
    pub(crate) async fn secret_key_ids(self) -> Result<Vec<String>> {
        const SQL: &str = "SELECT DISTINCT key_id FROM secrets ORDER BY key_id";
        Ok(on!(self, c => sqlx::query_scalar(SQL).fetch_all(c).await?))
    }

    /// Seals and stores (or replaces) a secret; `false` when the workspace, or the bot in it,
    /// does not exist. Only inside a transaction.
    pub(crate) async fn put_secret(
        mut self,
        key: &SecretKey,
        workspace: i64,
        bot: Option<i64>,
        name: &str,
        value: &str,
    ) -> Result<bool> {
        check_name(name)?;
        check_value(value)?;
        self.lock_secrets().await?;
        const OTHER_KEY: &str = "SELECT key_id FROM secrets WHERE key_id <> $1 LIMIT 1";
        const WORKSPACE: &str = "SELECT COUNT(*) FROM workspaces WHERE id = $1";
        const BOT: &str = "SELECT COUNT(*) FROM bots WHERE workspace_id = $1 AND id = $2";
        let update =
            format!("UPDATE secrets SET key_id = $4, nonce = $5, ciphertext = $6, updated_at = $7 WHERE {OWNER}");
        const INSERT: &str = "INSERT INTO secrets (workspace_id, bot_id, name, key_id, nonce, ciphertext, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        on!(self, c => {
            let other: Option<String> = sqlx::query_scalar(OTHER_KEY).bind(key.id()).fetch_optional(&mut *c).await?;
            if let Some(stored) = other {
                return Err(Error::WrongSecretKey { stored, given: key.id().to_owned() });
            }
            let owners: i64 = match bot {
                None => sqlx::query_scalar(WORKSPACE).bind(workspace).fetch_one(&mut *c).await?,
                Some(bot) => sqlx::query_scalar(BOT).bind(workspace).bind(bot).fetch_one(&mut *c).await?,
            };
            if owners == 0 {
                return Ok(false);
            }
            let sealed = key.seal(Place { workspace, bot, name }, value)?;
            let at = now();
            let updated = sqlx::query(&update)
                .bind(workspace).bind(bot.unwrap_or(0)).bind(name)
                .bind(&sealed.key_id).bind(&sealed.nonce).bind(&sealed.ciphertext).bind(at)
                .execute(&mut *c).await?.rows_affected();
            if updated == 0 {
                sqlx::query(INSERT)
                    .bind(workspace).bind(bot).bind(name)
                    .bind(&sealed.key_id).bind(&sealed.nonce).bind(&sealed.ciphertext).bind(at)
                    .execute(&mut *c).await?;
            }
            Ok(true)
        })
    }

    /// A secret's value, `None` when there is no such secret; a stored secret without a `key`
    /// is [`Error::NoSecretKey`].
    pub(crate) async fn secret(
        self,
        key: Option<&SecretKey>,
        workspace: i64,
        bot: Option<i64>,
        name: &str,
    ) -> Result<Option<String>> {
        let sql = format!("SELECT key_id, nonce, ciphertext FROM secrets WHERE {OWNER}");
        let row: Option<SealedRow> = on!(self, c => sqlx::query_as(&sql)
            .bind(workspace).bind(bot.unwrap_or(0)).bind(name)
            .fetch_optional(c).await?);
        let Some(row) = row else { return Ok(None) };
        let key = key.ok_or(Error::NoSecretKey)?;
        key.open(Place { workspace, bot, name }, &sealed(row)).map(Some)
    }

    /// The secrets of `workspace` (its own and its bots'), by bot then name; never a value.
    pub(crate) async fn secrets(self, workspace: i64) -> Result<Vec<SecretInfo>> {
        const SQL: &str = "SELECT workspace_id, bot_id, name, key_id, created_at, updated_at FROM secrets \
             WHERE workspace_id = $1 ORDER BY COALESCE(bot_id, 0), name";
        let rows: Vec<InfoRow> = on!(self, c => sqlx::query_as(SQL).bind(workspace).fetch_all(c).await?);
        Ok(rows
            .into_iter()
            .map(|(workspace, bot, name, key_id, created_at, updated_at)| SecretInfo {
                workspace,
                bot,
                name,
                key_id,
                created_at,
                updated_at,
            })
            .collect())
    }

    /// Whether the secret exists (no key needed).
    pub(crate) async fn has_secret(self, workspace: i64, bot: Option<i64>, name: &str) -> Result<bool> {
        let sql = format!("SELECT COUNT(*) FROM secrets WHERE {OWNER}");
        let count: i64 = on!(self, c => sqlx::query_scalar(&sql)
            .bind(workspace).bind(bot.unwrap_or(0)).bind(name)
            .fetch_one(c).await?);
        Ok(count > 0)
    }

    /// Forgets a secret; `false` if there was none.
    pub(crate) async fn delete_secret(self, workspace: i64, bot: Option<i64>, name: &str) -> Result<bool> {
        let sql = format!("DELETE FROM secrets WHERE {OWNER}");
        let deleted = on!(self, c => sqlx::query(&sql)
            .bind(workspace).bind(bot.unwrap_or(0)).bind(name)
            .execute(c).await?.rows_affected());
        Ok(deleted == 1)
    }

    /// The secrets of one bot (by its dashboard id), opened: `(name, value)` by name.
    pub(crate) async fn bot_secrets(self, key: Option<&SecretKey>, bot: i64) -> Result<Vec<(String, String)>> {
        const SQL: &str =
            "SELECT workspace_id, name, key_id, nonce, ciphertext FROM secrets WHERE bot_id = $1 ORDER BY name";
        let rows: Vec<BotSecretRow> = on!(self, c => sqlx::query_as(SQL).bind(bot).fetch_all(c).await?);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = key.ok_or(Error::NoSecretKey)?;
        rows.into_iter()
            .map(|(workspace, name, key_id, nonce, ciphertext)| {
                let value =
                    key.open(Place { workspace, bot: Some(bot), name: &name }, &Sealed { key_id, nonce, ciphertext })?;
                Ok((name, value))
            })
            .collect()
    }

    /// The secrets of the workspace (`bot: None`) or of one of its bots, opened: `(name,
    /// value)` by name, each value wiped when dropped.
    pub(crate) async fn secret_values(
        self,
        key: Option<&SecretKey>,
        workspace: i64,
        bot: Option<i64>,
    ) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
        const SQL: &str = "SELECT name, key_id, nonce, ciphertext FROM secrets \
             WHERE workspace_id = $1 AND COALESCE(bot_id, 0) = $2 ORDER BY name";
        let rows: Vec<(String, String, Vec<u8>, Vec<u8>)> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(bot.unwrap_or(0)).fetch_all(c).await?);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = key.ok_or(Error::NoSecretKey)?;
        rows.into_iter()
            .map(|(name, key_id, nonce, ciphertext)| {
                let value = key.open(Place { workspace, bot, name: &name }, &Sealed { key_id, nonce, ciphertext })?;
                Ok((name, zeroize::Zeroizing::new(value)))
            })
            .collect()
    }

    /// Re-seals every secret from `old` to `new`; how many. Only inside a transaction: one
    /// that does not open under `old` fails it all.
    pub(crate) async fn rotate_secrets(mut self, old: &SecretKey, new: &SecretKey) -> Result<u64> {
        if old == new {
            return Err(Error::Refused("the new secret key is the current one: nothing to rotate".to_owned()));
        }
        self.lock_secrets().await?;
        const ALL: &str = "SELECT id, workspace_id, bot_id, name, key_id, nonce, ciphertext FROM secrets ORDER BY id";
        // Only a row still under the old key: anything else means another writer, and fails.
        const RESEAL: &str = "UPDATE secrets SET key_id = $2, nonce = $3, ciphertext = $4, updated_at = $5 WHERE id = $1 AND key_id = $6";
        on!(self, c => {
            let rows: Vec<RotateRow> = sqlx::query_as(ALL).fetch_all(&mut *c).await?;
            let at = now();
            let mut count = 0;
            for (id, workspace, bot, name, key_id, nonce, ciphertext) in rows {
                let place = Place { workspace, bot, name: &name };
                let value = zeroize::Zeroizing::new(old.open(place, &Sealed { key_id, nonce, ciphertext })?);
                let sealed = new.seal(place, &value)?;
                let changed = sqlx::query(RESEAL)
                    .bind(id).bind(&sealed.key_id).bind(&sealed.nonce).bind(&sealed.ciphertext).bind(at).bind(old.id())
                    .execute(&mut *c).await?.rows_affected();
                if changed != 1 {
                    return Err(Error::Refused(format!("secret `{name}` changed during the rotation; nothing was rotated")));
                }
                count += 1;
            }
            Ok(count)
        })
    }
}

impl Store {
    /// This store (sharing its pool) with `key` for reading and writing secrets.
    pub fn with_secret_key(&self, key: SecretKey) -> Store {
        Store { secret_key: Some(Arc::new(key)), ..self.clone() }
    }

    /// The id of this store's secret key, if it has one.
    pub fn secret_key_id(&self) -> Option<&str> {
        self.secret_key.as_deref().map(SecretKey::id)
    }

    /// The ids of the keys the stored secrets are sealed under: none when there is no secret,
    /// one otherwise (no key needed).
    pub async fn secret_key_ids(&self) -> Result<Vec<String>> {
        let mut pooled = self.acquire().await?;
        pooled.conn().secret_key_ids().await
    }

    /// Seals and stores (or replaces) a secret of the workspace (`bot: None`) or of one of its
    /// bots (the dashboard's id), in a transaction of its own; `false` when there is no such
    /// workspace or bot in it. Refused without a key, with a key other than the stored
    /// secrets', or with a name or value [`Transaction::put_secret`] refuses.
    pub async fn put_secret(&self, workspace: i64, bot: Option<i64>, name: &str, value: &str) -> Result<bool> {
        let mut tx = self.transaction().await?;
        let put = tx.put_secret(workspace, bot, name, value).await?;
        tx.commit().await?;
        Ok(put)
    }

    /// A secret's value; `None` when there is no such secret (of this workspace). A stored one
    /// is refused without a key ([`Error::NoSecretKey`]), under another key
    /// ([`Error::WrongSecretKey`]), or when it does not open ([`Error::SecretAltered`]): never
    /// a wrong value.
    pub async fn secret(&self, workspace: i64, bot: Option<i64>, name: &str) -> Result<Option<String>> {
        let mut pooled = self.acquire().await?;
        pooled.conn().secret(self.secret_key.as_deref(), workspace, bot, name).await
    }

    /// The workspace's secrets (its own and its bots'), described: never a value, no key needed.
    pub async fn secrets(&self, workspace: i64) -> Result<Vec<SecretInfo>> {
        let mut pooled = self.acquire().await?;
        pooled.conn().secrets(workspace).await
    }

    /// Every secret of the workspace (`bot: None`, not its bots') or of one of its bots, opened:
    /// `(name, value)` by name, each value wiped from memory when dropped. Refused like
    /// [`Store::secret`] when there is one to open and no key, or one does not open.
    pub async fn secret_values(
        &self,
        workspace: i64,
        bot: Option<i64>,
    ) -> Result<Vec<(String, zeroize::Zeroizing<String>)>> {
        let mut pooled = self.acquire().await?;
        pooled.conn().secret_values(self.secret_key.as_deref(), workspace, bot).await
    }

    /// Whether the workspace (`bot: None`) or its bot has the secret `name` (no key needed).
    pub async fn has_secret(&self, workspace: i64, bot: Option<i64>, name: &str) -> Result<bool> {
        let mut pooled = self.acquire().await?;
        pooled.conn().has_secret(workspace, bot, name).await
    }

    /// Forgets a secret; `false` if there was none.
    pub async fn delete_secret(&self, workspace: i64, bot: Option<i64>, name: &str) -> Result<bool> {
        let mut pooled = self.acquire().await?;
        pooled.conn().delete_secret(workspace, bot, name).await
    }

    /// Re-seals every secret under `new` in one transaction, from this store's key: all of
    /// them or, on any error (one that does not open, a key that is not the stored secrets'),
    /// none. Returns how many; the caller then uses `new` ([`Store::with_secret_key`]).
    pub async fn rotate_secrets(&self, new: &SecretKey) -> Result<u64> {
        let old = self.secret_key.clone().ok_or(Error::NoSecretKey)?;
        let mut tx = self.transaction().await?;
        let count = tx.conn().rotate_secrets(&old, new).await?;
        tx.commit().await?;
        Ok(count)
    }
}

impl Transaction {
    /// [`Store::put_secret`] in this transaction. The name is 1 to 64 ASCII letters, digits,
    /// `_`, `-` or `.`; the value at most 64 KiB.
    pub async fn put_secret(&mut self, workspace: i64, bot: Option<i64>, name: &str, value: &str) -> Result<bool> {
        let key = self.secret_key.clone().ok_or(Error::NoSecretKey)?;
        self.conn().put_secret(&key, workspace, bot, name, value).await
    }

    /// [`Store::secret`] in this transaction.
    pub async fn secret(&mut self, workspace: i64, bot: Option<i64>, name: &str) -> Result<Option<String>> {
        let key = self.secret_key.clone();
        self.conn().secret(key.as_deref(), workspace, bot, name).await
    }

    /// [`Store::has_secret`] in this transaction.
    pub async fn has_secret(&mut self, workspace: i64, bot: Option<i64>, name: &str) -> Result<bool> {
        self.conn().has_secret(workspace, bot, name).await
    }
}
