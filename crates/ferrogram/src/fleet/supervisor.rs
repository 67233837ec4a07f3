//! The supervisor of `serve`'s bots (decision 0032): per bot a status (`starting`, `running`,
//! `stopped`, `failing`, `unauthorized`), the time of its last change and its last
//! [`MAX_ERRORS`] errors.
//!
//! A start reads the bot's newest version from the store, picks its target ([`target`]: Telegram
//! at `telegram.api_url` with its stored token, else the token of its `bot.token` read under
//! `serve`'s `--bot-env` allow-list; or the sandbox, where it is registered first), sets its
//! record's id to the target's when it differs, checks its token (getMe) and starts it in the engine; a version
//! with another token or target restarts a running bot instead of reloading it. A start that
//! fails is retried with exponential backoff ([`retry_delay`]: 1 s doubling to 5 min) in a task
//! of its own, so the other bots never wait for it; a 401 (the token refused) is not retried:
//! the bot is `unauthorized` until an operator starts it again. A running bot whose getUpdates or
//! setWebhook gets a 401 (its token revoked; `Engine::unauthorized`) is stopped and marked
//! `unauthorized`; the others go on. `ferrogram bot start|stop|reload|status|remove` reaches it
//! through the listener's control API (`ferrogram_server::bots`), which this implements.
//!
//! Decision 0040: every status change is written to the store (`Store::save_bot_status`) and read
//! back at the start of `serve` ([`Supervisor::restore`]): a disabled bot (`bots.enabled`, which
//! `bot stop` clears and `bot start` sets) is `stopped` and not started, an `unauthorized` one
//! stays so; a 401 on a send marks a bot unauthorized like one on getUpdates; a removal stops the
//! bot and deletes it from the store.
//!
//! Decision 0052: each bot has its own locks ([`Bot`]), so a start that hangs (a Bot API that
//! accepts the connection and never answers, a slow database) holds up only the actions on its
//! own bot: the others are started, stopped and reloaded meanwhile, and every status read
//! answers at once, from the state as it is.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::Duration;

use ferrogram_engine::{BotHandle, BoxFuture, Engine};
use ferrogram_server::bots::{BotControl, BotError, BotStatus, ControlError, DraftRun, Status, TokenOwner};
use ferrogram_store::{BotRecord, Store, StoredStatus};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::drafts::Drafts;
use super::import;
use super::secrets;
use super::target::{self, Target};

/// How many errors a bot's status keeps (the newest).
pub(crate) const MAX_ERRORS: usize = 5;
/// The first retry of a failed start comes after this…
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// …and the delay doubles up to this.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// The delay before the retry that follows the `attempts`-th failed start (1 s, 2 s, 4 s, …,
/// at most 5 min).
pub(crate) fn retry_delay(attempts: u32) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1u32 << attempts.saturating_sub(1).min(16));
    doubled.min(MAX_RETRY)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// One supervised bot's state.
struct Entry {
    workspace: i64,
    workspace_name: String,
    status: Status,
    since: i64,
    version: Option<i64>,
    errors: VecDeque<BotError>,
    attempts: u32,
    handle: Option<BotHandle>,
    /// The token the running bot uses (kept in memory only): a saved version with another one
    /// restarts the bot instead of reloading it.
    token: Option<String>,
    /// The pending retry of a failed start.
    retry: Option<JoinHandle<()>>,
}

impl Entry {
    /// A bot of `workspace` in `status` since now, with no version, error nor handle yet.
    fn new(workspace: i64, workspace_name: &str, status: Status) -> Entry {
        Entry {
            workspace,
            workspace_name: workspace_name.to_owned(),
            status,
            since: now(),
            version: None,
            errors: VecDeque::new(),
            attempts: 0,
            handle: None,
            token: None,
            retry: None,
        }
    }

    fn set(&mut self, status: Status) {
        if self.status != status {
            self.status = status;
            self.since = now();
        }
    }

    fn error(&mut self, message: String) {
        if self.errors.len() == MAX_ERRORS {
            self.errors.pop_front();
        }
        self.errors.push_back(BotError { at: now(), message });
    }

    fn report(&self, name: &str, engine: &Engine) -> BotStatus {
        BotStatus {
            asleep: self.handle.is_some_and(|handle| engine.is_awake(handle).is_ok_and(|awake| !awake)),
            name: name.to_owned(),
            status: self.status,
            since: self.since,
            version: self.version,
            errors: self.errors.iter().cloned().collect(),
            attempts: self.attempts,
        }
    }

    /// What the store keeps of it (`bot_statuses`).
    fn stored(&self) -> StoredStatus {
        StoredStatus {
            status: self.status.as_str().to_owned(),
            since: self.since,
            version: self.version,
            attempts: self.attempts,
            errors: self.errors.iter().map(|error| (error.at, error.message.clone())).collect(),
        }
    }

    fn cancel_retry(&mut self) {
        if let Some(retry) = self.retry.take() {
            retry.abort();
        }
    }
}

/// One supervised bot: its state, and the lock its actions take (decision 0052).
struct Bot {
    /// Held for the whole of an action on this bot, its awaits included (a start with its
    /// getMe, a stop, a reload, a removal, a retry, a revoked token, a block applied): the
    /// actions on one bot happen one at a time; those on other bots never wait for them.
    action: Arc<tokio::sync::Mutex<()>>,
    /// Its state: locked only to read or change it, never across an await, so a status read
    /// never waits for an action (a start still waiting for its getMe reads `starting`).
    state: Mutex<Entry>,
}

impl Bot {
    fn new(entry: Entry) -> Arc<Bot> {
        Arc::new(Bot { action: Arc::default(), state: Mutex::new(entry) })
    }

    /// Its state, for a moment: never held across an await, nor taken twice in one statement.
    fn entry(&self) -> MutexGuard<'_, Entry> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A supervised bot with its action lock held ([`Supervisor::acting`]); released when dropped.
struct Acting {
    bot: Arc<Bot>,
    _action: tokio::sync::OwnedMutexGuard<()>,
}

impl std::ops::Deref for Acting {
    type Target = Bot;

    fn deref(&self) -> &Bot {
        &self.bot
    }
}

/// Why a start failed.
enum Failure {
    /// The Bot API refused the token (401): not retried.
    Unauthorized(String),
    /// Anything else: retried.
    Failed(String),
}

/// What a saved file of the folder did to its bot ([`Supervisor::saved`]).
pub(crate) enum Saved {
    /// That version runs already.
    Unchanged,
    Reloaded,
    NotReloaded(String),
    Started,
    /// Not started (the start is retried).
    NotStarted(String),
    /// Stopped by an operator: it stays so.
    Stopped,
}

/// The bots `serve` runs against their targets. Each bot has its own locks (decision 0052, on
/// [`Bot`]): the actions on one bot (a start with its getMe, a stop, a reload) are carried out
/// one at a time, while those on other bots go on; a status read (`status`, `list`, the health
/// and metrics routes) never waits for an action, it reads the state as it is. The map of the
/// bots is locked only to find, add or remove one, never across an await.
pub(crate) struct Supervisor {
    store: Arc<Store>,
    engine: Arc<Engine>,
    sandbox_url: String,
    /// `telegram.api_url`: where the bots with a token run.
    telegram_url: String,
    /// `server.public_url`: bots receive by webhook under it, else by long polling.
    public_url: Option<String>,
    /// `serve`'s allow-list, which `bot.token: ${NAME}` is read under.
    bot_env: ferrogram_engine::BotEnv,
    http: reqwest::Client,
    bots: RwLock<BTreeMap<String, Arc<Bot>>>,
    /// The drafts the dashboard's try-it chat runs (decision 0056), on an engine of their own.
    drafts: Drafts,
    me: Weak<Supervisor>,
}

impl Supervisor {
    pub(crate) fn new(
        store: Arc<Store>,
        engine: Arc<Engine>,
        sandbox_url: String,
        telegram_url: String,
        public_url: Option<String>,
        bot_env: ferrogram_engine::BotEnv,
        drafts_engine: Arc<Engine>,
    ) -> Result<Arc<Supervisor>, String> {
        let http = ferrogram_telegram::http_client().map_err(|e| e.to_string())?;
        let drafts = Drafts::new(drafts_engine, sandbox_url.clone(), http.clone());
        Ok(Arc::new_cyclic(|me| Supervisor {
            store,
            engine,
            sandbox_url,
            telegram_url,
            public_url,
            bot_env,
            http,
            bots: RwLock::default(),
            drafts,
            me: me.clone(),
        }))
    }

    /// The bot `name`, if supervised.
    fn bot(&self, name: &str) -> Option<Arc<Bot>> {
        self.bots.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// Supervises `bot` as `name`, unless a bot of that name is already: the one supervised.
    fn insert(&self, name: &str, bot: Arc<Bot>) -> Arc<Bot> {
        let mut bots = self.bots.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(bots.entry(name.to_owned()).or_insert(bot))
    }

    /// The bot `name` with its action lock held, once the actions under way on it are done;
    /// `None` when it is not supervised, or was removed while this waited.
    async fn acting(&self, name: &str) -> Option<Acting> {
        loop {
            let bot = self.bot(name)?;
            let action = Arc::clone(&bot.action).lock_owned().await;
            // Still the bot of this name (not removed, nor removed and supervised again).
            if self.bot(name).is_some_and(|now| Arc::ptr_eq(&now, &bot)) {
                return Some(Acting { bot, _action: action });
            }
        }
    }

    /// The bot `name` of `workspace` ([`Supervisor::known`]) with its action lock held.
    async fn acting_in(&self, workspace: i64, name: &str) -> Result<Acting, ControlError> {
        self.known(workspace, name).await?;
        let bot = self.acting(name).await.ok_or(ControlError::UnknownBot)?;
        let same = bot.entry().workspace == workspace;
        if same { Ok(bot) } else { Err(ControlError::UnknownBot) }
    }

    /// Its status as the control API answers it.
    fn report(&self, bot: &Bot, name: &str) -> BotStatus {
        bot.entry().report(name, &self.engine)
    }

    /// Supervises the stored bot `record` of `workspace` at the start of `serve`, from what the
    /// store knows of it, before the listener answers (so the first status read is the last
    /// known one): a disabled bot (`bot stop`, `bot disable`) is `stopped`; one whose token was
    /// refused before (`unauthorized`) stays so, with its errors, until an operator starts it;
    /// any other is `starting` (its last errors kept), for [`Supervisor::start_restored`].
    /// Returns whether it is to be started.
    pub(crate) async fn restore(&self, workspace: i64, workspace_name: &str, record: &BotRecord) -> bool {
        let name = record.name.as_str();
        let stored = match self.store.bot_status(workspace, record.id).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!("{workspace_name}/{name}: its last status could not be read: {error}");
                None
            }
        };
        let last = stored.as_ref().map(|stored| stored.status.as_str());
        let mut entry = Entry::new(workspace, workspace_name, Status::Starting);
        entry.version = stored.as_ref().and_then(|stored| stored.version);
        entry.errors = stored
            .iter()
            .flat_map(|stored| stored.errors.iter())
            .map(|(at, message)| BotError { at: *at, message: message.clone() })
            .collect();
        let kept = |status: Status, entry: &mut Entry| {
            entry.status = status;
            if last == Some(status.as_str()) {
                entry.since = stored.as_ref().map_or(entry.since, |stored| stored.since);
            }
        };
        let start = if !record.enabled {
            kept(Status::Stopped, &mut entry);
            tracing::info!("{workspace_name}/{name}: disabled, not started (`ferrogram bot start {name}`)");
            false
        } else if last == Some(Status::Unauthorized.as_str()) {
            kept(Status::Unauthorized, &mut entry);
            tracing::warn!(
                "{workspace_name}/{name}: not started: its token was refused before (`ferrogram bot start {name}` \
                 once it has a valid one)"
            );
            false
        } else {
            true
        };
        let bot = Bot::new(entry);
        if !record.enabled {
            self.persist(name, &bot).await;
        }
        self.bots.write().unwrap_or_else(PoisonError::into_inner).insert(name.to_owned(), bot);
        start
    }

    /// Starts a bot [`Supervisor::restore`] left `starting`, unless an operator acted on it
    /// meanwhile. `Err` says why this first start failed (it is retried).
    pub(crate) async fn start_restored(&self, name: &str) -> Result<(), String> {
        let Some(bot) = self.acting(name).await else { return Ok(()) };
        let waiting = {
            let entry = bot.entry();
            entry.status == Status::Starting && entry.handle.is_none()
        };
        if !waiting {
            return Ok(());
        }
        self.start_locked(&bot, name).await
    }

    /// Supervises the bot `name` of `workspace` and starts it (a failed start is retried).
    /// `Err` says why this first start failed.
    pub(crate) async fn add(&self, workspace: i64, workspace_name: &str, name: &str) -> Result<(), String> {
        self.insert(name, Bot::new(Entry::new(workspace, workspace_name, Status::Starting)));
        let Some(bot) = self.acting(name).await else { return Err(format!("no bot named {name}")) };
        self.start_locked(&bot, name).await
    }

    /// A file of the folder saved `version` of the bot `name` (source `source`): reloaded when
    /// it runs another version, started when it does not run (unless stopped by an operator).
    pub(crate) async fn saved(
        &self,
        workspace: i64,
        workspace_name: &str,
        name: &str,
        version: i64,
        source: &str,
        file_name: &str,
    ) -> Saved {
        let Some(bot) = self.acting(name).await else {
            return match self.add(workspace, workspace_name, name).await {
                Ok(()) => Saved::Started,
                Err(error) => Saved::NotStarted(error),
            };
        };
        let (status, handle, running, token) = {
            let entry = bot.entry();
            (entry.status, entry.handle, entry.version, entry.token.clone())
        };
        let same_token = self.token_of(workspace, name, source, file_name).await == token;
        match (status, handle) {
            (Status::Running, Some(_)) if running == Some(version) => Saved::Unchanged,
            (Status::Running, Some(handle)) if !same_token => match self.restart_locked(&bot, name, handle).await {
                Ok(()) => Saved::Started,
                Err(error) => Saved::NotStarted(error),
            },
            (Status::Running, Some(handle)) => {
                let reloaded = match self.refresh_secrets(workspace, name, handle).await {
                    Ok(()) => self.engine.reload_source(handle, source, file_name).await.map_err(|e| e.to_string()),
                    Err(error) => Err(error),
                };
                let saved = {
                    let mut entry = bot.entry();
                    match reloaded {
                        Ok(()) => {
                            entry.version = Some(version);
                            Saved::Reloaded
                        }
                        Err(error) => {
                            entry.error(format!("version {version} not reloaded: {error}"));
                            Saved::NotReloaded(error)
                        }
                    }
                };
                self.persist(name, &bot).await;
                saved
            }
            (Status::Stopped, _) => Saved::Stopped,
            _ => {
                bot.entry().attempts = 0;
                match self.start_locked(&bot, name).await {
                    Ok(()) => Saved::Started,
                    Err(error) => Saved::NotStarted(error),
                }
            }
        }
    }

    /// Stops the running bot `name` (`handle`) and starts it again from its newest stored
    /// version: for a version with another token or target, which a reload cannot change.
    /// The caller holds the bot's action lock.
    async fn restart_locked(&self, bot: &Bot, name: &str, handle: BotHandle) -> Result<(), String> {
        {
            let mut entry = bot.entry();
            entry.handle = None;
            entry.token = None;
            entry.attempts = 0;
        }
        if let Err(error) = self.engine.stop(handle).await {
            bot.entry().error(error.to_string());
        }
        self.start_locked(bot, name).await
    }

    /// Starts the bot `name` from its newest stored version, its status following; a failure
    /// other than a refused token schedules a retry. The caller holds the bot's action lock.
    async fn start_locked(&self, bot: &Bot, name: &str) -> Result<(), String> {
        {
            let mut entry = bot.entry();
            entry.cancel_retry();
            entry.set(Status::Starting);
        }
        let tried = self.try_start(bot, name).await;
        let started = {
            let mut entry = bot.entry();
            match tried {
                Ok((handle, token)) => {
                    entry.handle = Some(handle);
                    entry.token = Some(token);
                    entry.attempts = 0;
                    entry.set(Status::Running);
                    self.watch_token(name, handle);
                    Ok(())
                }
                Err(Failure::Unauthorized(error)) => {
                    tracing::warn!("{}/{name}: not started: {error}", entry.workspace_name);
                    entry.error(error.clone());
                    entry.set(Status::Unauthorized);
                    Err(error)
                }
                Err(Failure::Failed(error)) => {
                    entry.attempts = entry.attempts.saturating_add(1);
                    let delay = retry_delay(entry.attempts);
                    tracing::warn!("{}/{name}: not started: {error}; retrying in {delay:?}", entry.workspace_name);
                    entry.error(error.clone());
                    entry.set(Status::Failing);
                    let (me, retried) = (self.me.clone(), name.to_owned());
                    entry.retry = Some(tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        if let Some(supervisor) = me.upgrade() {
                            supervisor.retry(&retried).await;
                        }
                    }));
                    Err(error)
                }
            }
        };
        self.persist(name, bot).await;
        started
    }

    /// Writes the bot's status to the store (`bot_statuses`), where the next start of `serve`
    /// reads it ([`Supervisor::restore`]); a failed write is logged, never fatal.
    async fn persist(&self, name: &str, bot: &Bot) {
        let (workspace, workspace_name, status) = {
            let entry = bot.entry();
            (entry.workspace, entry.workspace_name.clone(), entry.stored())
        };
        let saved = match self.store.bot_named(workspace, name).await {
            Ok(Some(record)) => self.store.save_bot_status(workspace, record.id, &status).await.map(drop),
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = saved {
            tracing::warn!("{workspace_name}/{name}: its status was not saved: {error}");
        }
    }

    /// Records in the store whether `serve` runs the bot (`bot start` enables it, `bot stop`
    /// disables it, so a restart keeps it so); a failed write is logged.
    async fn set_enabled(&self, workspace: i64, workspace_name: &str, name: &str, enabled: bool) {
        let set = match self.store.bot_named(workspace, name).await {
            Ok(Some(record)) if record.enabled != enabled => {
                self.store.set_bot_enabled(workspace, record.id, enabled).await.map(drop)
            }
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = set {
            let what = if enabled { "enabled" } else { "disabled" };
            tracing::warn!("{workspace_name}/{name}: not recorded as {what}: {error}");
        }
    }

    /// The retry of a failed start, unless something else happened to the bot meanwhile
    /// (boxed: a start schedules a retry, which starts).
    fn retry<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(bot) = self.acting(name).await else { return };
            let failing = {
                let mut entry = bot.entry();
                // This very task: forgotten, not aborted.
                entry.retry = None;
                entry.status == Status::Failing
            };
            if failing {
                let _ = self.start_locked(&bot, name).await;
            }
        })
    }

    /// The token a version (`source`) would run with: the sandbox's for a bot without a stored
    /// token nor `bot.token`, `None` when it does not load or its token cannot be read.
    async fn token_of(&self, workspace: i64, name: &str, source: &str, file_name: &str) -> Option<String> {
        let file = ferrogram_schema::load_str(source, file_name).ok()?;
        let record = self.store.bot_named(workspace, name).await.ok()??;
        let stored = target::stored_token(&self.store, workspace, record.id).await.ok()?;
        if file.bot.token.is_none() && stored.is_none() {
            return Some(format!("{}:sandbox", ferrogram_core::sandbox_bot_id(name)));
        }
        target::token(&file, stored.as_deref(), &self.bot_env).ok().map(|(token, _)| token)
    }

    /// Starts the bot from its newest version on its target: its handle and the token it runs
    /// with. The version tried is the bot's from the moment it is read.
    async fn try_start(&self, bot: &Bot, name: &str) -> Result<(BotHandle, String), Failure> {
        let (workspace, workspace_name) = {
            let entry = bot.entry();
            (entry.workspace, entry.workspace_name.clone())
        };
        let failed = |e: String| Failure::Failed(e);
        let record = self.store.bot_named(workspace, name).await.map_err(|e| failed(e.to_string()))?;
        let record = record.ok_or_else(|| failed("the bot is no longer in the store".into()))?;
        let current = self.store.current_version(workspace, record.id).await.map_err(|e| failed(e.to_string()))?;
        let current = current.ok_or_else(|| failed("the bot has no version".into()))?;
        bot.entry().version = Some(current.version);
        let file_name = import::stored_file_name(&workspace_name, name, current.version, &current.source);
        let file = ferrogram_schema::load_str(&current.source, &file_name).map_err(|diagnostics| {
            failed(diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        })?;
        let stored = target::stored_token(&self.store, workspace, record.id).await.map_err(failed)?;
        let (token, bot_id, api_url) =
            match target::of(name, record.telegram_id, file.bot.token.is_some() || stored.is_some()).map_err(failed)? {
                Target::Sandbox => {
                    let bot_id = ferrogram_core::sandbox_bot_id(name);
                    // Any well-formed token works in the sandbox; the bot's id is its number.
                    let token = format!("{bot_id}:sandbox");
                    self.register(&token, name).await.map_err(failed)?;
                    (token, bot_id, self.sandbox_url.as_str())
                }
                Target::Telegram => {
                    let (token, bot_id) = target::token(&file, stored.as_deref(), &self.bot_env).map_err(failed)?;
                    (token, bot_id, self.telegram_url.as_str())
                }
            };
        if record.telegram_id != Some(bot_id) {
            // The record follows the target (`fleet/target.rs`); an id another bot has is refused.
            let set = self.store.set_bot_telegram(workspace, record.id, Some(bot_id)).await;
            set.map_err(|e| failed(format!("cannot make it bot {bot_id} in the store (is another bot?): {e}")))?;
            let was = record.telegram_id.map_or_else(|| "no id".to_owned(), |id| format!("bot {id}"));
            tracing::info!("{workspace_name}/{name}: now bot {bot_id} (was {was})");
        }
        let client = ferrogram_telegram::Client::builder(token.as_str())
            .api_url(api_url)
            .retry(ferrogram_telegram::Backoff::none())
            .build()
            .map_err(|e| failed(e.to_string()))?;
        if let Err(error) = client.get_me().await {
            let message = format!("getMe: {error}");
            return Err(if error.code() == Some(401) { Failure::Unauthorized(message) } else { failed(message) });
        }
        let receive = match &self.public_url {
            Some(base) => ferrogram_engine::Receive::Webhook {
                url: format!("{base}{}", ferrogram_server::webhook::path(bot_id)),
                secret: ferrogram_server::webhook::new_secret().map_err(failed)?,
            },
            None => ferrogram_engine::Receive::Polling,
        };
        let secrets = secrets::of_bot(&self.store, workspace, record.id).await.map_err(failed)?;
        let handle = self
            .engine
            .add_bot_with_secrets(file, &token, api_url, receive, secrets)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if api_url == self.sandbox_url {
            println!("{name}: {}/?bot={}", self.sandbox_url, handle.bot_id());
        } else {
            println!("{name}: bot {} at {api_url}", handle.bot_id());
        }
        Ok((handle, token))
    }

    /// Gives the running bot `name` its stored secrets as they are now (a reload reads them
    /// again: `fleet/secrets.rs`). On an error it keeps those it had.
    async fn refresh_secrets(&self, workspace: i64, name: &str, handle: BotHandle) -> Result<(), String> {
        let record = self.store.bot_named(workspace, name).await.map_err(|e| e.to_string())?;
        let record = record.ok_or("the bot is no longer in the store")?;
        let secrets = secrets::of_bot(&self.store, workspace, record.id).await?;
        self.engine.set_secrets(handle, secrets).map_err(|e| e.to_string())
    }

    /// Registers the bot in the sandbox (its control API), under a username from its name.
    async fn register(&self, token: &str, name: &str) -> Result<(), String> {
        let username: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let body = serde_json::json!({"token": token, "username": format!("{username}_bot"), "first_name": name});
        let url = format!("{}/sandbox/bots", self.sandbox_url);
        let response = self.http.post(url).json(&body).send().await.map_err(|e| format!("the sandbox: {e}"))?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(format!("the sandbox refused the bot ({status}): {text}"))
    }

    /// Stops the bot `name` as `unauthorized` when the Bot API refuses its token.
    fn watch_token(&self, name: &str, handle: BotHandle) {
        let Ok(mut refused) = self.engine.unauthorized(handle) else { return };
        let (me, name) = (self.me.clone(), name.to_owned());
        tokio::spawn(async move {
            // An error: the bot stopped (its sender is gone).
            let Ok(error) = refused.wait_for(Option::is_some).await.map(|error| error.clone().unwrap_or_default())
            else {
                return;
            };
            if let Some(supervisor) = me.upgrade() {
                supervisor.revoked(&name, handle, error).await;
            }
        });
    }

    async fn revoked(&self, name: &str, handle: BotHandle, error: String) {
        let Some(bot) = self.acting(name).await else { return };
        {
            let mut entry = bot.entry();
            if entry.handle != Some(handle) {
                return;
            }
            entry.handle = None;
            entry.token = None;
            tracing::warn!("{}/{name}: the Bot API refused its token; stopped: {error}", entry.workspace_name);
            entry.error(format!("the Bot API refused the token: {error}"));
            entry.set(Status::Unauthorized);
        }
        self.persist(name, &bot).await;
        if let Err(error) = self.engine.stop(handle).await {
            tracing::warn!("{name}: {error}");
        }
    }

    /// The bot `name` of `workspace`, loaded from the store when it is a bot of it with a
    /// target ([`target`]) but not supervised yet (added with `bot add` meanwhile): then
    /// `stopped`. The store is read without any lock held.
    async fn known(&self, workspace: i64, name: &str) -> Result<Arc<Bot>, ControlError> {
        let bot = match self.bot(name) {
            Some(bot) => bot,
            None => {
                let refused = |e: ferrogram_store::Error| ControlError::Refused(e.to_string());
                let record = self.store.bot_named(workspace, name).await.map_err(refused)?;
                let record = record.ok_or(ControlError::UnknownBot)?;
                let current = self.store.current_version(workspace, record.id).await.map_err(refused)?;
                let source = current.as_ref().map(|current| current.source.as_str());
                target::of_record(&self.store, &record, source).await.map_err(ControlError::Refused)?;
                let workspace_name = match self.store.workspace(workspace).await {
                    Ok(Some(found)) => found.name,
                    _ => workspace.to_string(),
                };
                self.insert(name, Bot::new(Entry::new(workspace, &workspace_name, Status::Stopped)))
            }
        };
        let same = bot.entry().workspace == workspace;
        if same { Ok(bot) } else { Err(ControlError::UnknownBot) }
    }

    async fn start_bot(&self, workspace: i64, name: &str) -> Result<BotStatus, ControlError> {
        let bot = self.acting_in(workspace, name).await?;
        let workspace_name = bot.entry().workspace_name.clone();
        self.set_enabled(workspace, &workspace_name, name, true).await;
        let running = {
            let mut entry = bot.entry();
            if entry.status != Status::Running {
                entry.attempts = 0;
            }
            entry.status == Status::Running
        };
        if !running {
            let _ = self.start_locked(&bot, name).await;
        }
        Ok(self.report(&bot, name))
    }

    async fn stop_bot(&self, workspace: i64, name: &str) -> Result<BotStatus, ControlError> {
        let bot = self.acting_in(workspace, name).await?;
        let handle = {
            let mut entry = bot.entry();
            entry.cancel_retry();
            entry.handle.take()
        };
        if let Some(handle) = handle
            && let Err(error) = self.engine.stop(handle).await
        {
            bot.entry().error(error.to_string());
        }
        let workspace_name = {
            let mut entry = bot.entry();
            entry.set(Status::Stopped);
            entry.workspace_name.clone()
        };
        tracing::info!("{workspace_name}/{name}: stopped (disabled: it stays stopped across restarts)");
        self.persist(name, &bot).await;
        self.set_enabled(workspace, &workspace_name, name, false).await;
        Ok(self.report(&bot, name))
    }

    async fn reload_bot(&self, workspace: i64, name: &str) -> Result<BotStatus, ControlError> {
        let bot = self.acting_in(workspace, name).await?;
        let (running, workspace_name, token) = {
            let entry = bot.entry();
            (
                entry.handle.filter(|_| entry.status == Status::Running),
                entry.workspace_name.clone(),
                entry.token.clone(),
            )
        };
        let Some(handle) = running else {
            bot.entry().attempts = 0;
            self.set_enabled(workspace, &workspace_name, name, true).await;
            let _ = self.start_locked(&bot, name).await;
            return Ok(self.report(&bot, name));
        };
        let refused = |e: String| ControlError::Refused(e);
        let record = self.store.bot_named(workspace, name).await.map_err(|e| refused(e.to_string()))?;
        let record = record.ok_or_else(|| refused("the bot is no longer in the store".into()))?;
        let current = self.store.current_version(workspace, record.id).await.map_err(|e| refused(e.to_string()))?;
        let current = current.ok_or_else(|| refused("the bot has no version".into()))?;
        let file_name = import::stored_file_name(&workspace_name, name, current.version, &current.source);
        // A version without a target is refused (the running one goes on); one with another
        // token restarts the bot on it.
        target::of_record(&self.store, &record, Some(&current.source)).await.map_err(refused)?;
        if self.token_of(workspace, name, &current.source, &file_name).await != token {
            let _ = self.restart_locked(&bot, name, handle).await;
            return Ok(self.report(&bot, name));
        }
        let reloaded = match self.refresh_secrets(workspace, name, handle).await {
            Ok(()) => self.engine.reload_source(handle, &current.source, &file_name).await.map_err(|e| e.to_string()),
            Err(error) => Err(error),
        };
        match reloaded {
            Ok(()) => {
                bot.entry().version = Some(current.version);
                tracing::info!("{workspace_name}/{name}: version {} reloaded", current.version);
                self.persist(name, &bot).await;
                Ok(self.report(&bot, name))
            }
            Err(error) => {
                let message = format!("version {} not reloaded: {error}", current.version);
                bot.entry().error(message.clone());
                self.persist(name, &bot).await;
                Err(ControlError::Refused(message))
            }
        }
    }

    /// Stops the bot `name` of `workspace` if it runs (and any retry of its start) and removes
    /// it from the store ([`Store::remove_bot`]: record, versions, secrets, status, and its data
    /// unless `keep_data`): what was deleted, as the control API answers it. An action on it
    /// waiting meanwhile finds it unknown.
    async fn remove_bot(&self, workspace: i64, name: &str, keep_data: bool) -> Result<Value, ControlError> {
        let bot = self.acting(name).await;
        let other_workspace = bot.as_ref().is_some_and(|bot| bot.entry().workspace != workspace);
        if other_workspace {
            return Err(ControlError::UnknownBot);
        }
        let refused = |e: ferrogram_store::Error| ControlError::Refused(e.to_string());
        let record = self.store.bot_named(workspace, name).await.map_err(refused)?.ok_or(ControlError::UnknownBot)?;
        let workspace_name = match self.store.workspace(workspace).await {
            Ok(Some(found)) => found.name,
            _ => workspace.to_string(),
        };
        let mut was_running = false;
        if let Some(bot) = &bot {
            let handle = {
                let mut entry = bot.entry();
                entry.cancel_retry();
                entry.token = None;
                entry.set(Status::Stopped);
                entry.handle.take()
            };
            if let Some(handle) = handle {
                was_running = true;
                if let Err(error) = self.engine.stop(handle).await {
                    tracing::warn!("{workspace_name}/{name}: {error}");
                }
            }
        }
        let removed = self.store.remove_bot(workspace, record.id, keep_data).await.map_err(refused)?;
        let removed = removed.ok_or(ControlError::UnknownBot)?;
        self.bots.write().unwrap_or_else(PoisonError::into_inner).remove(name);
        let data = if keep_data {
            "its data kept".to_owned()
        } else {
            format!("{} data rows deleted", removed.rows.iter().map(|(_, rows)| rows).sum::<u64>())
        };
        tracing::info!(
            "{workspace_name}/{name}: removed ({} versions, {data}); a file of it in the bots folder is \
             imported again only once it changes",
            removed.versions
        );
        Ok(super::removal_report(&workspace_name, name, was_running, &removed))
    }

    /// Stops every draft, every bot and every pending retry (`serve` stopping), each bot once
    /// the action under way on it is done.
    pub(crate) async fn stop_all(&self) {
        self.drafts.stop_all().await;
        let names: Vec<String> = self.bots.read().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        for name in names {
            let Some(bot) = self.acting(&name).await else { continue };
            let handle = {
                let mut entry = bot.entry();
                entry.cancel_retry();
                entry.set(Status::Stopped);
                entry.handle.take()
            };
            if let Some(handle) = handle
                && let Err(error) = self.engine.stop(handle).await
            {
                eprintln!("ferrogram: {error}");
            }
        }
    }
}

impl BotControl for Supervisor {
    fn list(&self, workspace: i64) -> BoxFuture<'_, Vec<BotStatus>> {
        Box::pin(async move {
            let bots = self.bots.read().unwrap_or_else(PoisonError::into_inner);
            bots.iter()
                .filter_map(|(name, bot)| {
                    let entry = bot.entry();
                    (entry.workspace == workspace).then(|| entry.report(name, &self.engine))
                })
                .collect()
        })
    }

    fn status<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move {
            // Never waits for an action under way on the bot: its state as it is now.
            let bot = self.known(workspace, name).await?;
            Ok(self.report(&bot, name))
        })
    }

    fn start<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.start_bot(workspace, name))
    }

    fn stop<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.stop_bot(workspace, name))
    }

    fn reload<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.reload_bot(workspace, name))
    }

    /// getMe at `telegram.api_url`, where a bot with a stored token runs.
    fn check_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenOwner, String>> {
        Box::pin(async move {
            let client = ferrogram_telegram::Client::builder(token)
                .api_url(self.telegram_url.as_str())
                .retry(ferrogram_telegram::Backoff::none())
                .build()
                .map_err(|_| "this is not a Telegram bot token (digits, a colon, then the secret)".to_owned())?;
            match client.get_me().await {
                Ok(me) => Ok(TokenOwner { id: me.id, username: me.username.unwrap_or_default() }),
                Err(error) if error.code() == Some(401) => Err("the Bot API refused this token (401)".to_owned()),
                Err(error) => Err(format!("getMe failed: {}", error.to_string().replace(token, "…"))),
            }
        })
    }

    fn remove<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Value, ControlError>> {
        Box::pin(self.remove_bot(workspace, name, keep_data))
    }

    /// The draft runs in the sandbox, as a throwaway bot (`fleet/drafts.rs`).
    fn try_draft<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        source: &'a str,
        restart: bool,
    ) -> BoxFuture<'a, Result<DraftRun, ControlError>> {
        Box::pin(async move {
            let record =
                self.store.bot_named(workspace, name).await.map_err(|e| ControlError::Refused(e.to_string()))?;
            record.ok_or(ControlError::UnknownBot)?;
            self.drafts.run(workspace, name, source, restart).await
        })
    }

    fn draft_chat_origin(&self) -> Option<String> {
        Some(self.drafts.origin())
    }

    fn user_blocked<'a>(&'a self, workspace: i64, name: &'a str, user: i64, blocked: bool) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Under the bot's action lock, which its start holds, so a bot starting now either
            // reads the block from the store or gets it here.
            let Some(bot) = self.acting(name).await else { return };
            let running = {
                let entry = bot.entry();
                entry.handle.filter(|_| entry.workspace == workspace)
            };
            if let Some(handle) = running
                && let Err(error) = self.engine.set_blocked(handle, user, blocked)
            {
                tracing::warn!(%error, bot = name, user, "applying a block to the running bot failed");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_second_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }
}
