//! Durable storage on SQLite or PostgreSQL: conversation state, variables, job schedules, the
//! inbox of received updates and the outbox of calls to make, plus the dashboard's workspaces,
//! bots and bot-file versions, the accounts that sign in to it with their sessions (`accounts.rs`,
//! decision 0042), the secrets at rest (bot tokens), sealed under a key the
//! database never holds (`secrets.rs`, decision 0034), and the outgoing event webhooks with
//! their durable delivery queue (`webhooks.rs`, decision 0050).
//!
//! On the path of an update (docs/architecture.md) it is the durable side of every hand-off: the
//! inbox row written before an update is acknowledged, the commit of a handler's effects with its
//! "handled" mark, the outbox rows deleted once delivered. It implements the traits of
//! `ferrogram-core` and does not depend on the interpreter.
//!
//! [`Store`] is opened from a URL (`sqlite://PATH` or `postgres://…`) and runs its migrations at
//! open. Every operation exists on the [`Store`] (one statement, autocommit) and on a
//! [`Transaction`] (`store.transaction()`), so a state change and the outbox entries it causes
//! can commit together. The store implements [`ferrogram_core::StateStore`], so the engine runs on it
//! unchanged. Times are Unix seconds in integer columns and JSON is text, on both backends; see
//! `docs/decisions/0007-store-on-sqlx.md`.

mod collection_store;
mod dead_letters;
mod directory;
mod migrate;
mod ops;
mod postgres_tls;
mod secret_key;
mod state_store;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrogram_core::{ChatState, Outgoing, PendingSend, Received, Scope, StoredDeadLetter};
use serde_json::{Map, Value};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use ops::Conn;
pub use postgres_tls::{TLS_MODES, Tls, TlsMode};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The URL's scheme (only the scheme: a URL may hold a password).
    #[error("unsupported database URL scheme `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    Url(String),
    /// Connection settings that cannot work (a URL parameter, the TLS mode and CA), or a
    /// connection refused, said in words (never with the URL, which may hold a password).
    #[error("{0}")]
    Connect(String),
    #[error("{what} {value} does not fit a 64-bit signed integer column")]
    OutOfRange { what: &'static str, value: u64 },
    #[error("stored {what} {value} is negative")]
    Negative { what: &'static str, value: i64 },
    /// An operation refused with a reason meant for people (import, backup, export format).
    #[error("{0}")]
    Refused(String),
    /// A secret was to be read or written, and the store has no key ([`Store::with_secret_key`]).
    #[error("no secret key: the secrets at rest cannot be read or written without the key they are encrypted with")]
    NoSecretKey,
    /// The stored secrets are sealed under another key than the store's.
    #[error("secrets were encrypted with another key (key id {stored}); this key's id is {given}")]
    WrongSecretKey { stored: String, given: String },
    /// A stored secret does not open under its own key: it was altered, or copied from another
    /// row (its place is part of what it is sealed with).
    #[error(
        "secret `{name}` does not decrypt with its key (key id {key_id}): it was altered or copied from another row"
    )]
    SecretAltered { name: String, key_id: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How a store is opened; [`Store::open`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The pool's size (an in-memory SQLite database always uses one connection).
    pub max_connections: u32,
    /// How long to wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for another's lock before failing.
    pub busy_timeout: Duration,
    /// Run pending migrations at open.
    pub migrate: bool,
    /// How often an unchanged user or chat in a bot's directory (`bot_users`, `bot_chats`) has
    /// its `last_seen` refreshed; a changed one is written at once (decision 0020).
    pub directory_refresh: Duration,
    /// PostgreSQL: TLS settings besides the URL's `sslmode` and `sslrootcert`, which they
    /// override (decision 0037). Refused with a SQLite URL.
    pub tls: Tls,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
            migrate: true,
            directory_refresh: Duration::from_secs(600),
            tls: Tls::default(),
        }
    }
}

/// An update as stored in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxUpdate {
    pub update_id: i64,
    /// The update's JSON exactly as received.
    pub raw: String,
    pub received_at: i64,
    /// How many times it was dispatched (see `StateStore::inbox_count_attempts`).
    pub attempts: u32,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database: a pool of SQLite or PostgreSQL connections. Cheap to clone (shares the pool).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// What this store last wrote to the bots' directories, shared by its clones.
    directory: Arc<Mutex<directory::Directory>>,
    /// `Options::directory_refresh` in seconds.
    directory_refresh: i64,
    /// The key the secrets are sealed under, if given ([`Store::with_secret_key`]).
    secret_key: Option<Arc<SecretKey>>,
    /// PostgreSQL: the TLS settings in force, which explain a failed connection.
    tls: Option<Arc<postgres_tls::Resolved>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (SQLite: creates if missing) the database at `url` and runs pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &Options::default()).await
    }

    /// Opens the database at `url` without touching its schema; see [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open_with(url, &Options { migrate: false, ..Options::default() }).await
    }

    /// Opens the database at `url` with `options`.
    ///
    /// SQLite runs in WAL mode with `synchronous=NORMAL` (a power loss may lose the last
    /// commits, never corrupt the file), a busy timeout and foreign keys on. PostgreSQL uses
    /// TLS as the URL's `sslmode` and `sslrootcert` and `options.tls` say (`prefer` when none
    /// does); an unknown URL parameter, a mode that would not check the CA given or a CA file
    /// that cannot serve is refused before connecting, and a refused connection is explained
    /// ([`Error::Connect`]).
    pub async fn open_with(url: &str, options: &Options) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        let mut tls = None;
        let pool = match scheme {
            "sqlite" => {
                if options.tls.is_set() {
                    return Err(Error::Connect(
                        "database.tls_mode and database.tls_ca are for PostgreSQL; this database is SQLite".into(),
                    ));
                }
                let connect = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(options.busy_timeout)
                    .foreign_keys(true);
                let memory = url.starts_with("sqlite::memory:") || url.contains("mode=memory");
                // A SQLite connection is a file handle in this process, not a socket that can
                // break: pinging it on every acquire (sqlx's default) costs a round trip through
                // its worker thread for each statement run outside a transaction (bench/PROFILE.md).
                let pool = SqlitePoolOptions::new().acquire_timeout(options.acquire_timeout).test_before_acquire(false);
                let pool = if memory {
                    // Each connection would get its own empty database: keep exactly one.
                    pool.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
                } else {
                    pool.max_connections(options.max_connections)
                };
                Pool::Sqlite(pool.connect_with(connect).await?)
            }
            "postgres" | "postgresql" => {
                // Notices such as "relation already exists, skipping" are not worth a log line each.
                let mut resolved = postgres_tls::resolve(url, &options.tls, |name| std::env::var(name).ok())?;
                let connect = PgConnectOptions::from_str(url)?
                    .application_name("ferrogram")
                    .options([("client_min_messages", "warning")]);
                let connect = resolved.apply(connect);
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(|error| resolved.explain(error))?;
                tls = Some(Arc::new(resolved));
                Pool::Postgres(pool)
            }
            other => return Err(Error::Url(other.to_owned())),
        };
        let directory_refresh = i64::try_from(options.directory_refresh.as_secs()).unwrap_or(i64::MAX);
        let store = Self { pool, directory: Arc::default(), directory_refresh, secret_key: None, tls };
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Waits for the connections in use and closes the pool.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Begins a transaction: its operations commit together on [`Transaction::commit`] and are
    /// rolled back by [`Transaction::rollback`] or when it is dropped. On SQLite it takes the
    /// write lock at once (`BEGIN IMMEDIATE`), so a read-then-write never fails halfway on a
    /// concurrent writer; keep transactions short, and do not write through the `Store`
    /// while the same task holds a transaction (on SQLite that write waits for the
    /// transaction's lock until the busy timeout).
    pub async fn transaction(&self) -> Result<Transaction> {
        let tx = match &self.pool {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await.map_err(|e| self.explain(e))?),
        };
        Ok(Transaction { tx, secret_key: self.secret_key.clone() })
    }

    async fn acquire(&self) -> Result<Pooled> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Pooled::Sqlite(pool.acquire().await?),
            Pool::Postgres(pool) => Pooled::Postgres(pool.acquire().await.map_err(|e| self.explain(e))?),
        })
    }

    /// A PostgreSQL connection error in words (the pool connects again when it needs to: the
    /// server's certificate or the CA file may have changed since the store was opened).
    fn explain(&self, error: sqlx::Error) -> Error {
        match &self.tls {
            Some(tls) => tls.explain(error),
            None => Error::Database(error),
        }
    }
}

enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(conn) => Conn::Sqlite(conn),
            Pooled::Postgres(conn) => Conn::Postgres(conn),
        }
    }
}

enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A database transaction with the same operations as [`Store`].
pub struct Transaction {
    tx: Tx,
    /// The store's secret key, for the secrets written in the transaction.
    secret_key: Option<Arc<SecretKey>>,
}

impl Transaction {
    pub async fn commit(self) -> Result<()> {
        match self.tx {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.tx {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    fn conn(&mut self) -> Conn<'_> {
        match &mut self.tx {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }
}

/// Declares each operation once and defines it on both [`Store`] (a pooled connection,
/// autocommit) and [`Transaction`]; the SQL lives in [`ops`].
macro_rules! operations {
    ($( $(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                    let mut pooled = self.acquire().await?;
                    pooled.conn().$name($($arg),*).await
                }
            )*
        }
        impl Transaction {
            $(
                $(#[$meta])*
                pub async fn $name(&mut self, $($arg: $ty),*) -> Result<$ret> {
                    self.conn().$name($($arg),*).await
                }
            )*
        }
    };
}

operations! {
    /// The chat's conversation state, if it was saved.
    fn load_chat(bot: u64, chat: i64) -> Option<ChatState>;
    /// Saves (replaces) the chat's conversation state.
    fn save_chat(bot: u64, chat: i64, state: &ChatState) -> ();
    /// Every variable set in `scope`.
    fn load_vars(bot: u64, scope: Scope) -> Map<String, Value>;
    /// Sets (`Some`) or forgets (`None`) one variable; other variables are untouched.
    fn set_var(bot: u64, scope: Scope, name: &str, value: Option<&Value>) -> ();
    /// When the job runs next (Unix seconds), if scheduled.
    fn load_next_run(bot: u64, job: &str) -> Option<u64>;
    /// Records (`Some`) or forgets (`None`) the job's next run, unconditionally.
    fn save_next_run(bot: u64, job: &str, at: Option<u64>) -> ();
    /// Moves the job's next run from `expected` to `next` only if it still is `expected`
    /// (`None`: not scheduled): returns whether this caller won. Of several processes that
    /// saw the same due time, exactly one claims it and runs the job.
    fn claim_next_run(bot: u64, job: &str, expected: Option<u64>, next: Option<u64>) -> bool;
    /// Stores a received update, as `ferrogram_core::Received` tells: a redelivery (the same id and
    /// content) is left as it was.
    fn inbox_put(bot: u64, update_id: i64, raw: &str) -> Received;
    /// The bot's stored updates not yet marked handled, oldest update id first.
    fn inbox_take_unhandled(bot: u64, limit: u32) -> Vec<InboxUpdate>;
    /// Marks an update handled; `false` if it was not stored or already handled.
    fn inbox_mark_handled(bot: u64, update_id: i64) -> bool;
    /// The bot's updates received in each of the `hours` hours from `since` (Unix seconds),
    /// oldest hour first, counted from the inbox (which keeps handled updates a day,
    /// `ferrogram_engine::INBOX_KEEP`): the dashboard's sparkline.
    fn inbox_hourly(bot: u64, since: i64, hours: u32) -> Vec<i64>;
    /// The users the bot has seen, most recently seen first: `{id, first_name, last_name,
    /// username, language_code, first_seen, last_seen}`. `last_seen` lags by up to
    /// `Options::directory_refresh` (a user seen again unchanged is not rewritten sooner).
    fn known_users(bot: u64, limit: u32) -> Vec<Value>;
    /// A page of the users the bot has seen, by id ascending after `after`, at most `limit`:
    /// with `search`, only those whose id is it, or whose name (`first last`) or username
    /// contains it (case-insensitively for ASCII; a leading `@` is ignored); with `blocked`, only
    /// the blocked users (`true`) or the others. Each is as in [`Store::known_users`], with
    /// `blocked`, `blocked_at` and `blocked_by` (decision 0047).
    fn bot_users_page(bot: u64, search: Option<&str>, blocked: Option<bool>, after: i64, limit: u32) -> Vec<Value>;
    /// One user of the bot's directory, as in [`Store::bot_users_page`]; `None` if never seen.
    fn bot_user(bot: u64, user: i64) -> Option<Value>;
    /// Forgets updates handled before `handled_before` (Unix seconds) but the bot's newest.
    fn inbox_prune(bot: u64, handled_before: u64) -> u64;
    /// Counts one more attempt at each of these of the bot's unhandled updates.
    fn inbox_count_attempts(bot: u64, update_ids: &[i64]) -> ();
    /// Dead letters, oldest first: the bot's, or every bot's (`None`).
    fn dead_letters(bot: Option<u64>, limit: u32) -> Vec<StoredDeadLetter>;
    /// Forgets a dead letter; `false` if there is none with this id.
    fn dead_letter_discard(id: i64) -> bool;
    /// Queues a Bot API call; returns its id (ids increase: deliver in id order).
    fn outbox_push(bot: u64, outgoing: &Outgoing) -> i64;
    /// The bot's queued calls, oldest first.
    fn outbox_pending(bot: u64, limit: u32) -> Vec<PendingSend>;
    /// Forgets a delivered call; `false` if the bot has no such call.
    fn outbox_forget(bot: u64, id: i64) -> bool;
    /// The bots with an unhandled update or an undelivered call, in no order.
    fn bots_with_work() -> Vec<u64>;
}

// After `operations!`, which they use to define their operations on `Store` and `Transaction`.
mod accounts;
mod all_bots;
mod blocks;
mod bot_lifecycle;
mod broadcasts;
mod drafts;
mod export;
mod idempotency;
mod secrets;
mod stats;
mod tenancy;
mod webhooks;

pub use accounts::{
    Account, AccountLink, IssuedLink, IssuedSession, LinkKind, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, Member,
    Membership, PasswordHash, SESSION_MAX_AGE, SessionAccess, SessionInfo, csrf_matches, csrf_token, hash_password,
    password_problem,
};
pub use all_bots::ALL_BOTS_FORMAT;
pub use bot_lifecycle::{RemovedBot, StoredStatus};
pub use broadcasts::{Broadcast, Delivery};
pub use collection_store::ScopedRecord;
pub use drafts::BotDraft;
pub use export::{BOT_TABLES, EXPORT_FORMAT, ImportOptions, ImportSummary, backup};
pub use idempotency::{IDEMPOTENCY_TTL, Idempotency};
pub use secret_key::{MAX_SECRET_NAME, MAX_SECRET_VALUE, SECRET_KEY_BYTES, SecretKey};
pub use secrets::{BOT_TOKEN, SecretInfo};
pub use stats::{DAY, DayCounts, LATENCY_BOUNDS_MS, LATENCY_BUCKETS, Stats, percentile};
pub use tenancy::{
    ApiToken, AuditEntry, AuditQuery, BotRecord, BotVersion, IssuedToken, Role, TOKEN_PREFIX, TOKEN_PREFIX_LEN,
    TokenAccess, Workspace,
};
pub use webhooks::{
    AttemptOutcome, DeliveryState, DueDelivery, PING_EVENT, WEBHOOK_SECRET_PREFIX, Webhook, WebhookAttempt,
    WebhookDelivery, WebhookSpec, event_matches, status_event,
};

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
