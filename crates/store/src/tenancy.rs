//! Tenancy: workspaces, their bots and bot-file versions, API tokens and the audit log.
//!
//! Every read and change of a workspace's rows takes the caller's workspace id and matches it
//! in the same statement, so a row of another workspace is never returned nor changed: asking
//! for it looks exactly like asking for a row that does not exist (`None`, `false`, empty).
//! The one lookup without a workspace for a caller is [`Store::verify_token`], which is how the
//! caller learns its workspace; [`Store::workspaces`] and [`Store::workspace_named`] are the
//! operator's (the command line speaks for every workspace: `ferrogram bot`, `serve`). Tokens are stored as their SHA-256 only; see
//! `docs/decisions/0009-api-tokens.md`.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ops::Conn;
use crate::{Error, Result, Store, Transaction, now};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// What an API token or a workspace member may do, from most to least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A member's only (never a token's): everything an admin may, and the workspace's owners
    /// (decision 0042).
    Owner,
    /// Everything, including tokens and members.
    Admin,
    /// Bots and their versions.
    Editor,
    /// Read only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role may do what `needed` may: owner ⊇ admin ⊇ editor ⊇ viewer.
    pub fn allows(self, needed: Role) -> bool {
        self <= needed
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "editor" => Ok(Role::Editor),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("unknown role `{other}`: expected owner, admin, editor or viewer")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workspace (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

/// A bot managed in a workspace. `id` is the dashboard's id (the key of its versions);
/// `telegram_id` is the id the engine's tables use, once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRecord {
    pub id: i64,
    pub workspace: i64,
    pub name: String,
    pub telegram_id: Option<u64>,
    pub created_at: i64,
    /// Whether `serve` runs it: cleared by `bot stop` and `bot disable`, set by `bot start` and
    /// `bot enable` ([`Store::set_bot_enabled`]); a new bot is enabled.
    pub enabled: bool,
}

/// One saved version of a bot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotVersion {
    /// 1, 2, 3… per bot.
    pub version: i64,
    pub source: String,
    pub created_at: i64,
}

/// A freshly issued API token: the only time its secret exists outside the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: i64,
    /// `fg_` and 43 base64url characters (32 random bytes); show it once, it cannot be recovered.
    pub secret: String,
}

/// An API token's description (never its secret nor its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub workspace: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The secret's first characters (`fg_` and 6 more), to recognise it by; `None` for tokens
    /// issued before the prefix was kept.
    pub prefix: Option<String>,
}

/// What [`Store::audit_page`] returns: each filter given must match; `before` (an entry id)
/// continues a listing, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Only entries with a smaller id.
    pub before: Option<i64>,
    pub limit: u32,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAccess {
    pub token: i64,
    pub workspace: i64,
    pub role: Role,
}

/// One entry of a workspace's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing in append order.
    pub id: i64,
    pub workspace: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
    pub at: i64,
}

/// How many characters of a token's secret are kept to recognise it by (`fg_` and 6).
pub const TOKEN_PREFIX_LEN: usize = 9;

/// What every API token starts with, so leaked tokens are easy to recognise (secret scanners).
pub const TOKEN_PREFIX: &str = "fg_";

/// A new random token: `fg_` + 32 bytes from the operating system's generator, base64url.
pub(crate) fn new_secret() -> Result<String> {
    random_secret(TOKEN_PREFIX)
}

/// `prefix` + 32 bytes from the operating system's generator, base64url (43 characters).
pub(crate) fn random_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::Refused(format!("no secure random numbers: {e}")))?;
    Ok(format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// The token's SHA-256 in lower-case hex: what the database keeps.
pub(crate) fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn role(text: &str) -> Result<Role> {
    text.parse().map_err(Error::Refused)
}

fn bot_id(value: Option<i64>) -> Result<Option<u64>> {
    value.map(|id| u64::try_from(id).map_err(|_| Error::Negative { what: "telegram id", value: id })).transpose()
}

fn int_id(bot: u64) -> Result<i64> {
    i64::try_from(bot).map_err(|_| Error::OutOfRange { what: "bot id", value: bot })
}

fn telegram_id(value: Option<u64>) -> Result<Option<i64>> {
    value.map(|id| i64::try_from(id).map_err(|_| Error::OutOfRange { what: "telegram id", value: id })).transpose()
}

type BotRow = (i64, i64, String, Option<i64>, i64, bool);
type TokenRow = (i64, i64, String, String, i64, Option<i64>, Option<i64>, Option<String>);
type AuditRow = (i64, i64, String, String, String, String, i64);

fn bot_record((id, workspace, name, telegram, created_at, enabled): BotRow) -> Result<BotRecord> {
    Ok(BotRecord { id, workspace, name, telegram_id: bot_id(telegram)?, created_at, enabled })
}

fn api_token(
    (id, workspace, name, role_text, created_at, last_used_at, revoked_at, prefix): TokenRow,
) -> Result<ApiToken> {
    Ok(ApiToken { id, workspace, name, role: role(&role_text)?, created_at, last_used_at, revoked_at, prefix })
}

/// A version insert that another one beat to the same number (its primary key) is `None`, like
/// one whose expected current version had already moved on.
fn lost_race_is_none(inserted: Result<Option<i64>, sqlx::Error>) -> Result<Option<i64>> {
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        other => Ok(other?),
    }
}

const NEXT_VERSION: &str = "COALESCE((SELECT MAX(v.version) FROM bot_versions v WHERE v.bot_id = b.id), 0) + 1";

impl Conn<'_> {
    pub(crate) async fn create_workspace(self, name: &str) -> Result<i64> {
        const SQL: &str = "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar(SQL).bind(name).bind(now()).fetch_one(c).await?))
    }

    pub(crate) async fn workspace(self, workspace: i64) -> Result<Option<Workspace>> {
        const SQL: &str = "SELECT id, name, created_at FROM workspaces WHERE id = $1";
        let row: Option<(i64, String, i64)> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).fetch_optional(c).await?);
        Ok(row.map(|(id, name, created_at)| Workspace { id, name, created_at }))
    }

    pub(crate) async fn rename_workspace(self, workspace: i64, name: &str) -> Result<bool> {
        const SQL: &str = "UPDATE workspaces SET name = $2 WHERE id = $1";
        let changed = on!(self, c => sqlx::query(SQL).bind(workspace).bind(name).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn workspaces(self) -> Result<Vec<Workspace>> {
        const SQL: &str = "SELECT id, name, created_at FROM workspaces ORDER BY id";
        let rows: Vec<(i64, String, i64)> = on!(self, c => sqlx::query_as(SQL).fetch_all(c).await?);
        Ok(rows.into_iter().map(|(id, name, created_at)| Workspace { id, name, created_at }).collect())
    }

    pub(crate) async fn workspace_named(self, name: &str) -> Result<Option<Workspace>> {
        const SQL: &str = "SELECT id, name, created_at FROM workspaces WHERE name = $1 ORDER BY id LIMIT 1";
        let row: Option<(i64, String, i64)> = on!(self, c => sqlx::query_as(SQL).bind(name).fetch_optional(c).await?);
        Ok(row.map(|(id, name, created_at)| Workspace { id, name, created_at }))
    }

    pub(crate) async fn create_bot(self, workspace: i64, name: &str, telegram: Option<u64>) -> Result<Option<i64>> {
        // The workspace must exist: inserting from it makes a missing one a `None`, not an error.
        const SQL: &str = "INSERT INTO bots (workspace_id, name, telegram_id, created_at) \
             SELECT w.id, $2, $3, $4 FROM workspaces w WHERE w.id = $1 RETURNING id";
        let telegram = telegram_id(telegram)?;
        Ok(on!(self, c => sqlx::query_scalar(SQL)
            .bind(workspace).bind(name).bind(telegram).bind(now())
            .fetch_optional(c).await?))
    }

    pub(crate) async fn set_bot_telegram(self, workspace: i64, bot: i64, telegram: Option<u64>) -> Result<bool> {
        const SQL: &str = "UPDATE bots SET telegram_id = $3 WHERE workspace_id = $1 AND id = $2";
        let telegram = telegram_id(telegram)?;
        let changed =
            on!(self, c => sqlx::query(SQL).bind(workspace).bind(bot).bind(telegram).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn bots(self, workspace: i64) -> Result<Vec<BotRecord>> {
        const SQL: &str = "SELECT id, workspace_id, name, telegram_id, created_at, enabled FROM bots WHERE workspace_id = $1 ORDER BY id";
        let rows: Vec<BotRow> = on!(self, c => sqlx::query_as(SQL).bind(workspace).fetch_all(c).await?);
        rows.into_iter().map(bot_record).collect()
    }

    pub(crate) async fn bot(self, workspace: i64, bot: i64) -> Result<Option<BotRecord>> {
        const SQL: &str = "SELECT id, workspace_id, name, telegram_id, created_at, enabled FROM bots WHERE workspace_id = $1 AND id = $2";
        let row: Option<BotRow> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(bot).fetch_optional(c).await?);
        row.map(bot_record).transpose()
    }

    pub(crate) async fn bot_named(self, workspace: i64, name: &str) -> Result<Option<BotRecord>> {
        const SQL: &str = "SELECT id, workspace_id, name, telegram_id, created_at, enabled FROM bots \
             WHERE workspace_id = $1 AND name = $2 ORDER BY id LIMIT 1";
        let row: Option<BotRow> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(name).fetch_optional(c).await?);
        row.map(bot_record).transpose()
    }

    pub(crate) async fn current_version(self, workspace: i64, bot: i64) -> Result<Option<BotVersion>> {
        const SQL: &str = "SELECT v.version, v.source, v.created_at FROM bot_versions v \
             JOIN bots b ON b.id = v.bot_id WHERE b.workspace_id = $1 AND b.id = $2 ORDER BY v.version DESC LIMIT 1";
        let row: Option<(i64, String, i64)> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(bot).fetch_optional(c).await?);
        Ok(row.map(|(version, source, created_at)| BotVersion { version, source, created_at }))
    }

    pub(crate) async fn save_version(self, workspace: i64, bot: i64, source: &str) -> Result<Option<i64>> {
        let sql = format!(
            "INSERT INTO bot_versions (bot_id, version, source, created_at) \
             SELECT b.id, {NEXT_VERSION}, $3, $4 FROM bots b WHERE b.workspace_id = $1 AND b.id = $2 RETURNING version"
        );
        Ok(on!(self, c => sqlx::query_scalar(&sql)
            .bind(workspace).bind(bot).bind(source).bind(now())
            .fetch_optional(c).await?))
    }

    pub(crate) async fn versions(self, workspace: i64, bot: i64) -> Result<Vec<BotVersion>> {
        const SQL: &str = "SELECT v.version, v.source, v.created_at FROM bot_versions v \
             JOIN bots b ON b.id = v.bot_id WHERE b.workspace_id = $1 AND b.id = $2 ORDER BY v.version";
        let rows: Vec<(i64, String, i64)> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(bot).fetch_all(c).await?);
        Ok(rows.into_iter().map(|(version, source, created_at)| BotVersion { version, source, created_at }).collect())
    }

    pub(crate) async fn rollback_version(self, workspace: i64, bot: i64, version: i64) -> Result<Option<i64>> {
        let sql = format!(
            "INSERT INTO bot_versions (bot_id, version, source, created_at) \
             SELECT b.id, {NEXT_VERSION}, old.source, $4 FROM bots b \
             JOIN bot_versions old ON old.bot_id = b.id AND old.version = $3 \
             WHERE b.workspace_id = $1 AND b.id = $2 RETURNING version"
        );
        Ok(on!(self, c => sqlx::query_scalar(&sql)
            .bind(workspace).bind(bot).bind(version).bind(now())
            .fetch_optional(c).await?))
    }

    pub(crate) async fn issue_token(self, workspace: i64, name: &str, role: Role) -> Result<Option<IssuedToken>> {
        const SQL: &str = "INSERT INTO api_tokens (workspace_id, name, role, token_hash, created_at, prefix) \
             SELECT w.id, $2, $3, $4, $5, $6 FROM workspaces w WHERE w.id = $1 RETURNING id";
        if role == Role::Owner {
            return Err(Error::Refused("an API token cannot be an owner: use admin, editor or viewer".into()));
        }
        let secret = new_secret()?;
        let hash = token_hash(&secret);
        let prefix = &secret[..TOKEN_PREFIX_LEN];
        let id: Option<i64> = on!(self, c => sqlx::query_scalar(SQL)
            .bind(workspace).bind(name).bind(role.as_str()).bind(&hash).bind(now()).bind(prefix)
            .fetch_optional(c).await?);
        Ok(id.map(|id| IssuedToken { id, secret }))
    }

    pub(crate) async fn verify_token(self, secret: &str) -> Result<Option<TokenAccess>> {
        // Looked up by hash: what the lookup's timing could reveal is about the SHA-256 of the
        // guess, which says nothing useful about a valid token. The stored hash is then compared
        // in constant time anyway, and every guess costs the same hashing whatever its form.
        const FIND: &str =
            "SELECT id, workspace_id, role, token_hash FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
        // At most one write a minute per token, not one per request.
        const USED: &str = "UPDATE api_tokens SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60)";
        let hash = token_hash(secret);
        on!(self, c => {
            let row: Option<(i64, i64, String, String)> = sqlx::query_as(FIND).bind(&hash).fetch_optional(&mut *c).await?;
            let Some((id, workspace, role_text, stored)) = row else { return Ok(None) };
            if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
                return Ok(None);
            }
            sqlx::query(USED).bind(id).bind(now()).execute(&mut *c).await?;
            Ok(Some(TokenAccess { token: id, workspace, role: role(&role_text)? }))
        })
    }

    pub(crate) async fn tokens(self, workspace: i64) -> Result<Vec<ApiToken>> {
        const SQL: &str = "SELECT id, workspace_id, name, role, created_at, last_used_at, revoked_at, prefix \
             FROM api_tokens WHERE workspace_id = $1 ORDER BY id";
        let rows: Vec<TokenRow> = on!(self, c => sqlx::query_as(SQL).bind(workspace).fetch_all(c).await?);
        rows.into_iter().map(api_token).collect()
    }

    pub(crate) async fn revoke_token(self, workspace: i64, token: i64) -> Result<bool> {
        const SQL: &str =
            "UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL";
        let changed =
            on!(self, c => sqlx::query(SQL).bind(workspace).bind(token).bind(now()).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn audit(
        self,
        workspace: i64,
        actor: &str,
        action: &str,
        target: &str,
        detail: &Value,
    ) -> Result<Option<i64>> {
        const SQL: &str = "INSERT INTO audit_log (workspace_id, actor, action, target, detail, at) \
             SELECT w.id, $2, $3, $4, $5, $6 FROM workspaces w WHERE w.id = $1 RETURNING id";
        let text = serde_json::to_string(detail)?;
        let mut conn = self;
        let id: Option<i64> = on!(conn.reborrow(), c => sqlx::query_scalar(SQL)
            .bind(workspace).bind(actor).bind(action).bind(target).bind(&text).bind(now())
            .fetch_optional(c).await?);
        // Every audited change is an event for the workspace's webhooks (decision 0050).
        if let Some(id) = id {
            let data = serde_json::json!({"audit_id": id, "actor": actor, "target": target, "detail": detail});
            conn.record_event(workspace, action, crate::webhooks::bot_of(action, target), &data).await?;
        }
        Ok(id)
    }

    pub(crate) async fn audit_log(self, workspace: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        const SQL: &str = "SELECT id, workspace_id, actor, action, target, detail, at FROM audit_log \
             WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2";
        let rows: Vec<AuditRow> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(i64::from(limit)).fetch_all(c).await?);
        rows.into_iter()
            .map(|(id, workspace, actor, action, target, detail, at)| {
                Ok(AuditEntry { id, workspace, actor, action, target, detail: serde_json::from_str(&detail)?, at })
            })
            .collect()
    }

    pub(crate) async fn audit_page(self, workspace: i64, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        // Each filter is a parameter that, when NULL, matches every row: one statement for
        // every combination.
        const SQL: &str = "SELECT id, workspace_id, actor, action, target, detail, at FROM audit_log \
             WHERE workspace_id = $1 AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR actor = $3) \
             AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) AND ($6 IS NULL OR id < $6) \
             ORDER BY id DESC LIMIT $7";
        let rows: Vec<AuditRow> = on!(self, c => sqlx::query_as(SQL)
            .bind(workspace).bind(&query.action).bind(&query.actor).bind(query.since).bind(query.until)
            .bind(query.before).bind(i64::from(query.limit))
            .fetch_all(c).await?);
        rows.into_iter()
            .map(|(id, workspace, actor, action, target, detail, at)| {
                Ok(AuditEntry { id, workspace, actor, action, target, detail: serde_json::from_str(&detail)?, at })
            })
            .collect()
    }

    pub(crate) async fn publish_version(
        self,
        workspace: i64,
        bot: i64,
        current: i64,
        source: &str,
    ) -> Result<Option<i64>> {
        let sql = format!(
            "INSERT INTO bot_versions (bot_id, version, source, created_at) \
             SELECT b.id, {NEXT_VERSION}, $3, $4 FROM bots b WHERE b.workspace_id = $1 AND b.id = $2 \
             AND {NEXT_VERSION} = $5 RETURNING version"
        );
        let inserted = on!(self, c => sqlx::query_scalar(&sql)
            .bind(workspace).bind(bot).bind(source).bind(now()).bind(current + 1)
            .fetch_optional(c).await);
        lost_race_is_none(inserted)
    }

    pub(crate) async fn rollback_version_if(
        self,
        workspace: i64,
        bot: i64,
        current: i64,
        version: i64,
    ) -> Result<Option<i64>> {
        let sql = format!(
            "INSERT INTO bot_versions (bot_id, version, source, created_at) \
             SELECT b.id, {NEXT_VERSION}, old.source, $4 FROM bots b \
             JOIN bot_versions old ON old.bot_id = b.id AND old.version = $3 \
             WHERE b.workspace_id = $1 AND b.id = $2 AND {NEXT_VERSION} = $5 RETURNING version"
        );
        let inserted = on!(self, c => sqlx::query_scalar(&sql)
            .bind(workspace).bind(bot).bind(version).bind(now()).bind(current + 1)
            .fetch_optional(c).await);
        lost_race_is_none(inserted)
    }

    pub(crate) async fn subscribe(self, bot: u64, chat: i64, topic: &str) -> Result<bool> {
        const SQL: &str = "INSERT INTO subscriptions (bot_id, chat_id, topic, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bot_id, topic, chat_id) DO NOTHING";
        let bot = int_id(bot)?;
        let added = on!(self, c => sqlx::query(SQL).bind(bot).bind(chat).bind(topic).bind(now()).execute(c).await?.rows_affected());
        Ok(added == 1)
    }

    pub(crate) async fn unsubscribe(self, bot: u64, chat: i64, topic: &str) -> Result<bool> {
        const SQL: &str = "DELETE FROM subscriptions WHERE bot_id = $1 AND chat_id = $2 AND topic = $3";
        let bot = int_id(bot)?;
        let removed =
            on!(self, c => sqlx::query(SQL).bind(bot).bind(chat).bind(topic).execute(c).await?.rows_affected());
        Ok(removed == 1)
    }

    pub(crate) async fn subscribers(self, bot: u64, topic: &str) -> Result<Vec<i64>> {
        const SQL: &str = "SELECT chat_id FROM subscriptions WHERE bot_id = $1 AND topic = $2 ORDER BY chat_id";
        let bot = int_id(bot)?;
        Ok(on!(self, c => sqlx::query_scalar(SQL).bind(bot).bind(topic).fetch_all(c).await?))
    }
}

operations! {
    /// Creates a workspace (tenant); returns its id.
    fn create_workspace(name: &str) -> i64;
    /// The workspace, if it exists.
    fn workspace(workspace: i64) -> Option<Workspace>;
    /// Renames the workspace; `false` if there is no such workspace.
    fn rename_workspace(workspace: i64, name: &str) -> bool;
    /// Every workspace, oldest first: the operator's listing (the command line), not a caller's.
    fn workspaces() -> Vec<Workspace>;
    /// The oldest workspace of this name (names are not unique): the operator's lookup.
    fn workspace_named(name: &str) -> Option<Workspace>;
    /// Creates a bot in the workspace; `None` if there is no such workspace. `telegram` is the
    /// id its state is kept under in the engine's tables (unique over all workspaces).
    fn create_bot(workspace: i64, name: &str, telegram: Option<u64>) -> Option<i64>;
    /// Sets the id the bot's state is kept under (its target: the sandbox id of its name, or its
    /// Telegram token's id; unique over all workspaces); `false` if the bot is not the
    /// workspace's.
    fn set_bot_telegram(workspace: i64, bot: i64, telegram: Option<u64>) -> bool;
    /// The workspace's bots, oldest first.
    fn bots(workspace: i64) -> Vec<BotRecord>;
    /// The bot, if it is the workspace's.
    fn bot(workspace: i64, bot: i64) -> Option<BotRecord>;
    /// The workspace's oldest bot of this name (names are not unique), if any.
    fn bot_named(workspace: i64, name: &str) -> Option<BotRecord>;
    /// Saves a new version of the bot's file; returns its number, `None` if the bot is not the
    /// workspace's.
    fn save_version(workspace: i64, bot: i64, source: &str) -> Option<i64>;
    /// The bot's versions, oldest first (empty if the bot is not the workspace's).
    fn versions(workspace: i64, bot: i64) -> Vec<BotVersion>;
    /// The bot's newest version (the one that runs), `None` if it has none or is not the
    /// workspace's.
    fn current_version(workspace: i64, bot: i64) -> Option<BotVersion>;
    /// Rolls back: saves a new version with the source of `version` (history is never
    /// rewritten); returns its number, `None` if there is no such version of the workspace's bot.
    fn rollback_version(workspace: i64, bot: i64, version: i64) -> Option<i64>;
    /// Issues an API token; the secret is returned this once and only its SHA-256 is kept.
    /// `None` if there is no such workspace; refused for [`Role::Owner`] (members only).
    fn issue_token(workspace: i64, name: &str, role: Role) -> Option<IssuedToken>;
    /// The workspace and role of a valid, unrevoked token (and records its use); `None`
    /// otherwise.
    fn verify_token(secret: &str) -> Option<TokenAccess>;
    /// The workspace's tokens (revoked ones too), oldest first.
    fn tokens(workspace: i64) -> Vec<ApiToken>;
    /// Revokes one of the workspace's tokens; `false` if unknown there or already revoked.
    fn revoke_token(workspace: i64, token: i64) -> bool;
    /// Appends to the workspace's audit log; returns the entry's id, `None` if there is no
    /// such workspace.
    fn audit(workspace: i64, actor: &str, action: &str, target: &str, detail: &Value) -> Option<i64>;
    /// The workspace's latest audit entries, newest first.
    fn audit_log(workspace: i64, limit: u32) -> Vec<AuditEntry>;
    /// The workspace's audit entries matching `query`, newest first, at most `query.limit`.
    fn audit_page(workspace: i64, query: &AuditQuery) -> Vec<AuditEntry>;
    /// Saves a new version only if the bot's newest is still `current` (0: none): the `If-Match`
    /// of the API. `None` if it moved on (or another save took the number), or the bot is not
    /// the workspace's.
    fn publish_version(workspace: i64, bot: i64, current: i64, source: &str) -> Option<i64>;
    /// [`Store::rollback_version`] only if the bot's newest version is still `current`; `None`
    /// otherwise, or when there is no such version of the workspace's bot.
    fn rollback_version_if(workspace: i64, bot: i64, current: i64, version: i64) -> Option<i64>;
    /// Subscribes a chat to a bot's notifications on `topic`; `false` if it already was.
    fn subscribe(bot: u64, chat: i64, topic: &str) -> bool;
    /// Unsubscribes; `false` if it was not subscribed.
    fn unsubscribe(bot: u64, chat: i64, topic: &str) -> bool;
    /// The chats subscribed to a bot's `topic`, in id order.
    fn subscribers(bot: u64, topic: &str) -> Vec<i64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed_to_hex() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 43, "{a}");
        assert!(a[3..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Admin.allows(Role::Viewer) && Role::Editor.allows(Role::Editor));
        assert!(!Role::Viewer.allows(Role::Editor) && !Role::Editor.allows(Role::Admin));
        assert!(Role::Owner.allows(Role::Admin) && !Role::Admin.allows(Role::Owner));
        for role in [Role::Owner, Role::Admin, Role::Editor, Role::Viewer] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
