//! The engine: bots added, reloaded and stopped at run time, each with its own update source
//! and inbox (`receive`), dispatcher and interpreter (`interpret`), outbox and flood scheduler
//! (`deliver`). How an update travels through them: docs/architecture.md. What the engine keeps
//! of a bot is `bot.rs` (`Hosted`, with its `Runtime` awake or asleep); `idle.rs` puts idle
//! webhook bots to sleep.

mod bot;
mod idle;
mod registrations;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrogram_schema::{BotFile, Schedule};
use ferrogram_telegram::Client;
use ferrogram_telegram::flood::Scheduler;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bot_secrets::BotSecrets;
use crate::caps::SizeCaps;
use crate::clock::Clock;
use crate::commands::{command_menus, publish_commands};
use crate::deliver::bulk::BulkError;
use crate::deliver::commit::{Committer, DEFAULT_COMMIT_BATCH, commit_and_deliver};
use crate::deliver::outbox::{Deliverer, RefusalReply};
use crate::error::EngineError;
use crate::interpret::budget::{self, DEFAULT_UPDATE_FUEL, DEFAULT_UPDATE_STEPS};
use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::dispatch::{Dispatcher, run_guarded};
use crate::interpret::http::{Http, HttpConfig};
use crate::interpret::limits::Limiter;
use crate::interpret::steps;
use crate::interpret::template::{DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT, Templates};
use crate::jobs;
use crate::receive::webhook::{self, WebhookError};
use crate::receive::{Inbox, polling, prune};
use bot::{Asleep, Hosted, Runtime, Slot};
use ferrogram_core::{CollectionStore, Commit, MemoryCollections};
use ferrogram_core::{MemoryStore, StateStore};
use idle::Bots;
use registrations::{Registration, Registrations};

/// How the engine runs bots.
#[derive(Clone)]
pub struct EngineConfig {
    /// Updates of one bot handled at once (different chats). Default 64.
    pub max_concurrent_updates: usize,
    /// Time one update may take before it is abandoned and answered with the error reply.
    /// Default 30 s.
    pub update_budget: Duration,
    /// Steps one update may run: every step started and every `for_each` iteration, counted
    /// across nesting, `call`s and scene entries. Past it the update ends with the error reply.
    /// Default [`DEFAULT_UPDATE_STEPS`] (100,000).
    pub update_steps: u64,
    /// Template instructions one update may run over all its renders (each render is also held
    /// to [`EngineConfig::template_fuel`]). Past it the update ends with the error reply.
    /// Default [`DEFAULT_UPDATE_FUEL`] (20,000,000).
    pub update_fuel: u64,
    /// getUpdates long-poll timeout in seconds. Default 25.
    pub poll_timeout: u32,
    /// Flood limits of each bot's send scheduler.
    pub flood: ferrogram_telegram::flood::Config,
    /// Template instructions per render. Default [`DEFAULT_FUEL`].
    pub template_fuel: u64,
    pub template_recursion_limit: usize,
    /// The size caps of template output, variables and records. Default [`SizeCaps::default`]
    /// (1 MiB each).
    pub caps: SizeCaps,
    /// Conversation state and variables. Default: in memory.
    pub store: Arc<dyn StateStore>,
    /// The `http` step: the private hosts an operator allows, body limit, breaker, retries.
    pub http: HttpConfig,
    /// Commits written in one transaction at most (group commit); 1 turns grouping off.
    /// Default [`DEFAULT_COMMIT_BATCH`].
    pub commit_batch: usize,
    /// The records of the bots' `collections`. Default: in memory.
    pub collections: Arc<dyn CollectionStore>,
    /// The shortest time between two edits of an `llm` answer being streamed into a chat
    /// (Telegram slows down bots that edit one message more often). Default 1 s.
    pub llm_edit_interval: Duration,
    /// What `now` reads, `limits` count in and jobs are scheduled by. Default: the system
    /// clock; tests pin a manual one ([`Clock::at`]).
    pub clock: Clock,
    /// Whether jobs run on their schedule. Default true; false leaves them to
    /// [`Engine::run_job`] (tests that run a job at a chosen point).
    pub schedule_jobs: bool,
    /// Times an update is dispatched, counting replays after a restart, before it is set aside
    /// as a dead letter instead (its handler never finished: the process stopped or hung).
    /// Default [`DEFAULT_MAX_UPDATE_ATTEMPTS`].
    pub max_update_attempts: u32,
    /// How long a handled update stays in the inbox, so that a redelivery of it is recognised
    /// and not handled twice; older ones are pruned. Default [`prune::INBOX_KEEP`] (24 hours).
    pub inbox_keep: Duration,
    /// When set, a webhook bot that has been idle this long (no update taken, nothing being
    /// handled or sent, no job scheduled) has its runtime dropped and keeps only its routing
    /// entry and file; its next update builds it again. Such a bot also starts that way unless
    /// its last run left work. Default `None`: every bot stays built (polling bots always do).
    pub idle_after: Option<Duration>,
    /// The URL that reaches Ferrogram's listener from outside (`server.public_url`): a bot's
    /// `web_app` URL that is a path (`web_app: /shop`) opens the page Ferrogram serves at
    /// `{public_url}/webapp/{bot_id}/…` (see [`crate::web_app`]). Default `None`: a relative
    /// `web_app` URL is a step error.
    pub public_url: Option<String>,
}

/// See [`EngineConfig::max_update_attempts`]: the first attempt and two replays, so one crash
/// (or a deploy) in the middle of an update never costs it, and a poison update freezes the
/// bot at most three times.
pub const DEFAULT_MAX_UPDATE_ATTEMPTS: u32 = 3;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_concurrent_updates: 64,
            update_budget: Duration::from_secs(30),
            update_steps: DEFAULT_UPDATE_STEPS,
            update_fuel: DEFAULT_UPDATE_FUEL,
            poll_timeout: 25,
            flood: ferrogram_telegram::flood::Config::default(),
            template_fuel: DEFAULT_FUEL,
            template_recursion_limit: DEFAULT_RECURSION_LIMIT,
            caps: SizeCaps::default(),
            store: Arc::new(MemoryStore::new()),
            http: HttpConfig::default(),
            commit_batch: DEFAULT_COMMIT_BATCH,
            collections: Arc::new(MemoryCollections::new()),
            llm_edit_interval: Duration::from_secs(1),
            clock: Clock::system(),
            schedule_jobs: true,
            max_update_attempts: DEFAULT_MAX_UPDATE_ATTEMPTS,
            inbox_keep: prune::INBOX_KEEP,
            idle_after: None,
            public_url: None,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("max_concurrent_updates", &self.max_concurrent_updates)
            .field("update_budget", &self.update_budget)
            .field("update_steps", &self.update_steps)
            .field("update_fuel", &self.update_fuel)
            .field("poll_timeout", &self.poll_timeout)
            .field("max_update_attempts", &self.max_update_attempts)
            .field("inbox_keep", &self.inbox_keep)
            .field("idle_after", &self.idle_after)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// A bot running in an [`Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BotHandle {
    id: u64,
    bot_id: u64,
}

impl BotHandle {
    /// The bot's Telegram id (the number before the colon of its token).
    pub fn bot_id(&self) -> u64 {
        self.bot_id
    }
}

/// How a bot receives its updates.
#[derive(Debug, Clone)]
pub enum Receive {
    /// getUpdates long polling.
    Polling,
    /// Telegram POSTs each update to `url` with `secret` in its `X-Telegram-Bot-Api-Secret-Token`
    /// header; the server hands it to [`Engine::webhook_update`]. The engine registers the
    /// webhook (setWebhook) once the bot has replayed what its last run left.
    Webhook { url: String, secret: String },
}

/// Runs bots. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Engine {
    config: EngineConfig,
    /// The bots by handle id; shared with the idle sweeper ([`idle::sweep`]).
    bots: Arc<Bots>,
    /// The webhook bots by Telegram id: each POST finds its bot here, not by a scan.
    webhooks: Mutex<HashMap<u64, Arc<Hosted>>>,
    next_id: AtomicU64,
    http: Arc<Http>,
    /// Group commit for every bot, started with the first bot (it needs a Tokio runtime).
    committer: std::sync::OnceLock<Arc<Committer>>,
    /// The asleep bots' start-up calls, started with the first such bot.
    registrations: std::sync::OnceLock<Registrations>,
    /// The idle sweeper, started with the first bot that may sleep.
    sweeper: std::sync::OnceLock<JoinHandle<()>>,
    /// The bots whose earlier run left work in the store (`StateStore::bots_with_work`), read
    /// once with the first bot that may sleep, plus every bot stopped since: such a bot starts
    /// awake and catches up.
    left_work: tokio::sync::Mutex<Option<std::collections::HashSet<u64>>>,
    /// Runtimes of bots stopped since the last [`Engine::drain`]: their handlers may still be
    /// running.
    stopped: Mutex<Vec<Arc<Runtime>>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(sweeper) = self.sweeper.get() {
            sweeper.abort();
        }
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        let http = Arc::new(Http::new(config.http.clone()));
        Engine {
            config,
            bots: Arc::default(),
            webhooks: Mutex::default(),
            next_id: AtomicU64::new(1),
            http,
            committer: std::sync::OnceLock::new(),
            registrations: std::sync::OnceLock::new(),
            sweeper: std::sync::OnceLock::new(),
            left_work: tokio::sync::Mutex::default(),
            stopped: Mutex::default(),
        }
    }

    /// Starts a bot: compiles its templates (all errors at once), publishes its commands and
    /// starts long polling `api_url` (Telegram's is [`ferrogram_telegram::DEFAULT_API_URL`]).
    pub async fn add_bot(&self, file: BotFile, token: &str, api_url: &str) -> Result<BotHandle, EngineError> {
        self.add_bot_with(file, token, api_url, Receive::Polling).await
    }

    /// Starts a bot that receives its updates as `receive` says. A webhook bot without jobs, when
    /// [`EngineConfig::idle_after`] is set, starts asleep (nothing built but its routing entry;
    /// see `host/idle.rs`) unless its last run left work in the store.
    pub async fn add_bot_with(
        &self,
        file: BotFile,
        token: &str,
        api_url: &str,
        receive: Receive,
    ) -> Result<BotHandle, EngineError> {
        self.add_bot_with_secrets(file, token, api_url, receive, BotSecrets::default()).await
    }

    /// [`Engine::add_bot_with`] for a bot with stored secrets: its file's `${NAME}` reads its
    /// secret `NAME` first, then the environment under the operator's rule
    /// ([`crate::BotEnv::expand_with`]). [`Engine::set_secrets`] replaces them.
    pub async fn add_bot_with_secrets(
        &self,
        file: BotFile,
        token: &str,
        api_url: &str,
        receive: Receive,
        secrets: BotSecrets,
    ) -> Result<BotHandle, EngineError> {
        let loaded = Arc::new(self.load(file, 1)?);
        let client = Client::builder(token).api_url(api_url).build()?;
        let bot_id = client.bot_id();
        let blocked: HashSet<i64> = self.config.store.blocked_users(bot_id).await?.into_iter().collect();
        let (webhook_secret, webhook_url) = match &receive {
            Receive::Webhook { url, secret } => (Some(secret.clone()), Some(url.clone())),
            Receive::Polling => (None, None),
        };
        let may_sleep = webhook_secret.is_some() && self.config.idle_after.is_some();
        let handle = BotHandle { id: self.next_id.fetch_add(1, Ordering::Relaxed), bot_id };
        let hosted = Arc::new(Hosted {
            handle: handle.id,
            bot_id,
            client,
            webhook_secret,
            web_app_key: crate::web_app::secret_key(token),
            may_sleep,
            // Replaced by its runtime below unless it starts asleep.
            slot: Mutex::new(Slot::Asleep(Asleep {
                file: Box::new(loaded.file.clone()),
                generation: loaded.generation,
            })),
            handled: Arc::new(watch::Sender::new(0)),
            unauthorized: Arc::new(watch::Sender::new(None)),
            stop: watch::Sender::new(false),
            taking: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            secrets: Arc::new(RwLock::new(secrets)),
            blocked: Arc::new(RwLock::new(blocked)),
        });
        let asleep =
            may_sleep && (loaded.file.jobs.is_empty() || !self.config.schedule_jobs) && !self.left_work(bot_id).await;
        // The route first, then the source: setWebhook (sent by the source once the bot caught
        // up) must never make Telegram push to a bot this engine does not know yet.
        if hosted.webhook_secret.is_some() {
            self.webhooks.lock().insert(bot_id, Arc::clone(&hosted));
        }
        if asleep {
            let menus = command_menus(&loaded);
            drop(loaded);
            let (client, url, secret) = (
                hosted.client.clone(),
                webhook_url.unwrap_or_default(),
                hosted.webhook_secret.clone().unwrap_or_default(),
            );
            self.registrations.get_or_init(Registrations::start).add(Registration {
                bot_id,
                client,
                menus,
                url,
                secret,
                stop: hosted.stop.subscribe(),
                unauthorized: Arc::clone(&hosted.unauthorized),
            });
            self.start_sweeper();
        } else {
            let publish = {
                let (client, loaded) = (hosted.client.clone(), Arc::clone(&loaded));
                async move { publish_commands(bot_id, &client, &loaded).await }
            };
            let runtime = self.build(&hosted, loaded);
            let source = match receive {
                Receive::Polling => {
                    let (inbox, client, timeout) =
                        (Arc::clone(&runtime.inbox), hosted.client.clone(), self.config.poll_timeout);
                    tokio::spawn(async move {
                        publish.await;
                        polling::poll(inbox, client, timeout).await;
                    })
                }
                Receive::Webhook { url, secret } => {
                    let (inbox, client) = (Arc::clone(&runtime.inbox), hosted.client.clone());
                    tokio::spawn(async move {
                        publish.await;
                        webhook::register(inbox, client, url, secret).await;
                    })
                }
            };
            *runtime.source.lock() = Some(source);
            *hosted.slot.lock() = Slot::Awake(runtime);
            if may_sleep {
                self.start_sweeper();
            }
        }
        self.bots.lock().insert(handle.id, hosted);
        tracing::info!(bot_id, asleep, "bot started");
        Ok(handle)
    }

    /// Builds the bot's stages around `loaded` and starts its inbox maintenance and jobs; its
    /// update source is the caller's to start.
    fn build(&self, hosted: &Hosted, loaded: Arc<Loaded>) -> Arc<Runtime> {
        let bot_id = hosted.bot_id;
        let scheduler = Scheduler::for_client(hosted.client.clone(), self.config.flood.clone());
        let committer = self
            .committer
            .get_or_init(|| Arc::new(Committer::start(Arc::clone(&self.config.store), self.config.commit_batch)));
        let current = Arc::new(RwLock::new(loaded));
        let refusal_reply: RefusalReply = {
            let current = Arc::clone(&current);
            Box::new(move |refused, code, reason| {
                steps::messages::refusal_reply(&current.read(), refused.chat_id, refused, code, reason)
            })
        };
        let context = Arc::new(BotContext {
            bot_id,
            outbox: Arc::new(Deliverer::new(
                bot_id,
                scheduler.clone(),
                Arc::clone(committer),
                refusal_reply,
                self.config.flood.ambiguous_sends,
                Arc::clone(&hosted.unauthorized),
            )),
            bot_vars: Arc::default(),
            clock: self.config.clock.clone(),
            scheduler,
            store: Arc::clone(&self.config.store),
            limiter: Limiter::default(),
            http: Arc::clone(&self.http),
            collections: Arc::clone(&self.config.collections),
            llm_edit_interval: self.config.llm_edit_interval,
            public_url: self.config.public_url.clone(),
            caps: self.config.caps,
            update_limits: budget::Limits {
                steps: self.config.update_steps,
                fuel: self.config.update_fuel,
                time: self.config.update_budget,
            },
            secrets: Arc::clone(&hosted.secrets),
            blocked: Arc::clone(&hosted.blocked),
            http_sessions: Default::default(),
        });
        let dispatcher = Dispatcher::new(
            Arc::clone(&context),
            self.config.max_concurrent_updates,
            self.config.update_budget,
            self.config.max_update_attempts,
            Arc::clone(&hosted.handled),
        );
        let inbox = Arc::new(Inbox::new(
            context,
            current,
            dispatcher,
            self.config.max_update_attempts,
            Arc::clone(&hosted.unauthorized),
        ));
        let runtime = Arc::new(Runtime { inbox, source: Mutex::new(None), jobs: Mutex::new(None) });
        tokio::spawn(prune::maintain(
            Arc::clone(runtime.context()),
            self.config.inbox_keep,
            runtime.inbox.stop.subscribe(),
        ));
        if self.config.schedule_jobs {
            start_jobs(&runtime, self.config.update_budget);
        }
        runtime
    }

    /// The bot's runtime, built first if it is asleep (it then delivers what its outbox holds and
    /// replays its inbox before it takes an update, as a start does; its webhook is set).
    fn awake(&self, hosted: &Hosted) -> Result<Arc<Runtime>, EngineError> {
        let mut slot = hosted.slot.lock();
        if *hosted.stop.borrow() {
            return Err(EngineError::UnknownBot(hosted.handle));
        }
        let asleep = match &*slot {
            Slot::Awake(runtime) => return Ok(Arc::clone(runtime)),
            Slot::Asleep(asleep) => asleep,
        };
        let loaded = Arc::new(self.load((*asleep.file).clone(), asleep.generation)?);
        let runtime = self.build(hosted, loaded);
        *runtime.source.lock() = Some(tokio::spawn(webhook::wake(Arc::clone(&runtime.inbox))));
        *slot = Slot::Awake(Arc::clone(&runtime));
        *hosted.last_active.lock() = Instant::now();
        tracing::debug!(bot_id = hosted.bot_id, "woken by an update");
        Ok(runtime)
    }

    /// Whether the bot's earlier run may have left work in the store (see `left_work`). A store
    /// that cannot say counts as work.
    async fn left_work(&self, bot_id: u64) -> bool {
        let mut known = self.left_work.lock().await;
        if known.is_none() {
            match self.config.store.bots_with_work().await {
                Ok(bots) => *known = Some(bots.into_iter().collect()),
                Err(error) => {
                    tracing::warn!(bot_id, %error, "reading which bots left work failed: the bot starts awake");
                    return true;
                }
            }
        }
        known.as_ref().is_some_and(|bots| bots.contains(&bot_id))
    }

    /// Starts the idle sweeper once.
    fn start_sweeper(&self) {
        let Some(idle_after) = self.config.idle_after else { return };
        self.sweeper.get_or_init(|| {
            tokio::spawn(idle::sweep(Arc::downgrade(&self.bots), Arc::clone(&self.config.store), idle_after))
        });
    }

    /// Swaps the bot's file. Updates already dispatched finish on the old version, later ones
    /// use the new one. A chat mid-form keeps its form if the scene still has it; every other
    /// chat returns to the start scene. A file that does not compile changes nothing. An asleep
    /// bot keeps sleeping with the new file, unless it has jobs (they need it awake).
    pub async fn reload(&self, bot: BotHandle, file: BotFile) -> Result<(), EngineError> {
        let hosted = self.hosted(bot)?;
        if !file.jobs.is_empty() {
            self.awake(&hosted)?;
        }
        let generation = match &*hosted.slot.lock() {
            Slot::Awake(runtime) => runtime.inbox.current.read().generation,
            Slot::Asleep(asleep) => asleep.generation,
        } + 1;
        let loaded = Arc::new(self.load(file, generation)?);
        // Swapped under the slot's lock, so a bot waking meanwhile wakes with the new file.
        let runtime = match &mut *hosted.slot.lock() {
            Slot::Awake(runtime) => {
                *runtime.inbox.current.write() = Arc::clone(&loaded);
                Some(Arc::clone(runtime))
            }
            Slot::Asleep(asleep) => {
                *asleep = Asleep { file: Box::new(loaded.file.clone()), generation };
                None
            }
        };
        if let Some(runtime) = runtime {
            stop_jobs(&runtime).await;
            if self.config.schedule_jobs {
                start_jobs(&runtime, self.config.update_budget);
            }
        }
        publish_commands(bot.bot_id, &hosted.client, &loaded).await;
        tracing::info!(bot_id = bot.bot_id, generation, "bot reloaded");
        Ok(())
    }

    /// Runs the job `name` of the bot now, as its schedule would (under the update time budget),
    /// and returns once its effects are committed and its messages delivered (or failed), the
    /// paced ones of `notify` included.
    pub async fn run_job(&self, bot: BotHandle, name: &str) -> Result<(), EngineError> {
        let hosted = self.hosted(bot)?;
        let _active = hosted.taking();
        let runtime = self.awake(&hosted)?;
        let loaded = Arc::clone(&runtime.inbox.current.read());
        if !loaded.file.jobs.contains_key(name) {
            return Err(EngineError::Step(format!("the bot has no job {name:?}")));
        }
        let context = Arc::clone(runtime.context());
        let job = steps::run::run_job(Arc::clone(&context), loaded, name.to_owned());
        match run_guarded(self.config.update_budget, job).await {
            Ok(handled) => {
                commit_and_deliver(context.bot_id, &context.outbox, handled).await;
                context.outbox.until_idle().await;
                Ok(())
            }
            Err(crate::interpret::dispatch::Failure::Step(error)) => Err(error),
            Err(failure) => Err(EngineError::Step(format!("the job {name:?} failed: {failure}"))),
        }
    }

    /// An edited bot file as text (YAML, or JSON when `file_name` ends in `.json`), validated
    /// and swapped in as [`Engine::reload`] does: the next update runs it. A file with errors
    /// changes nothing and is refused with its diagnostics (`file:line:column: error: …`).
    pub async fn reload_source(&self, bot: BotHandle, source: &str, file_name: &str) -> Result<(), EngineError> {
        let file = ferrogram_schema::load_str(source, file_name).map_err(EngineError::Invalid)?;
        self.reload(bot, file).await
    }

    /// Replaces the bot's stored secrets ([`Engine::add_bot_with_secrets`]): the steps that run
    /// from now on read the new ones (a step already past its `${NAME}` keeps what it read).
    pub fn set_secrets(&self, bot: BotHandle, secrets: BotSecrets) -> Result<(), EngineError> {
        let hosted = self.hosted(bot)?;
        *hosted.secrets.write() = secrets;
        Ok(())
    }

    /// Blocks (`true`) or unblocks the bot's user `user_id` from now on (decision 0047): a
    /// blocked user's updates are stored and marked handled, but no handler runs and nothing is
    /// sent (`ferrogram_updates_handled_total{outcome="blocked"}`, a debug log line). The host
    /// keeps the block in its store, which [`Engine::add_bot_with`] reads; this changes a bot
    /// already running. An update already being handled finishes.
    pub fn set_blocked(&self, bot: BotHandle, user_id: i64, blocked: bool) -> Result<(), EngineError> {
        let hosted = self.hosted(bot)?;
        let mut users = hosted.blocked.write();
        if blocked {
            users.insert(user_id);
        } else {
            users.remove(&user_id);
        }
        Ok(())
    }

    /// Stops receiving the bot's updates and confirms those received; updates already
    /// dispatched still finish.
    pub async fn stop(&self, bot: BotHandle) -> Result<(), EngineError> {
        let hosted = self.bots.lock().remove(&bot.id).ok_or(EngineError::UnknownBot(bot.id))?;
        {
            let mut webhooks = self.webhooks.lock();
            if webhooks.get(&bot.bot_id).is_some_and(|hooked| Arc::ptr_eq(hooked, &hosted)) {
                webhooks.remove(&bot.bot_id);
            }
        }
        // Raised before the slot is read: from here on nothing wakes it (`awake`).
        hosted.stop.send_replace(true);
        // What it leaves (an update queued but not started, a call held) is caught up by its
        // next start.
        if let Some(left) = self.left_work.lock().await.as_mut() {
            left.insert(bot.bot_id);
        }
        if let Some(runtime) = hosted.runtime() {
            runtime.inbox.stop.send_replace(true);
            stop_jobs(&runtime).await;
            let source = runtime.source.lock().take();
            if let Some(source) = source
                && let Err(error) = source.await
            {
                tracing::error!(bot_id = bot.bot_id, %error, "the receiver ended abnormally");
            }
            // Kept for `drain` while it may still be working; a bot stopped and started again
            // and again (the control API) does not pile up.
            let mut stopped = self.stopped.lock();
            stopped.retain(|earlier| !earlier.inbox.dispatcher.is_idle());
            stopped.push(runtime);
        }
        tracing::info!(bot_id = bot.bot_id, "bot stopped");
        Ok(())
    }

    /// Lets the bots stopped so far finish what they were doing: waits until their running
    /// handlers ended, were committed and their calls delivered (or held for the next start),
    /// then until the delivered calls are forgotten in the store. Updates received but not yet
    /// started stay unhandled in the inbox (the next start handles them). Unbounded: a caller
    /// that must stop in bounded time wraps it in a timeout (what is cut then is replayed at
    /// the next start, having changed nothing).
    pub async fn drain(&self) {
        let stopped = std::mem::take(&mut *self.stopped.lock());
        for runtime in &stopped {
            runtime.inbox.dispatcher.drain().await;
        }
        for runtime in &stopped {
            runtime.context().outbox.until_idle().await;
        }
        // The deliveries' acknowledgements are queued for the committer; an empty commit
        // behind them returns once they are written.
        if let (Some(committer), Some(runtime)) = (self.committer.get(), stopped.first()) {
            let bot = runtime.context().bot_id;
            let (_, written) = committer.commit(Commit { bot, ..Commit::default() }).await;
            if let Err(error) = written {
                tracing::warn!(%error, "writing the last deliveries failed: they are sent again at the next start");
            }
        }
    }

    /// Takes one update POSTed to a webhook bot (`bot_id` is its Telegram id), with the value of
    /// its `X-Telegram-Bot-Api-Secret-Token` header. `Ok` only once the update is stored: the
    /// server answers Telegram 200 then, and an error status otherwise (Telegram delivers it
    /// again). A wrong or missing secret is refused (401) before the body is read; a body that is
    /// not an update is logged and refused (400), nothing stored. An asleep bot is woken by it.
    pub async fn webhook_update(&self, bot_id: u64, secret: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
        let hosted = self.webhooks.lock().get(&bot_id).cloned().ok_or(WebhookError::UnknownBot)?;
        let expected = hosted.webhook_secret.as_deref().ok_or(WebhookError::UnknownBot)?;
        let given = secret.unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes())) {
            return Err(WebhookError::WrongSecret);
        }
        let (update_id, update) = webhook::parse(bot_id, body)?;
        let _taking = hosted.taking();
        let runtime = match self.awake(&hosted) {
            Ok(runtime) => runtime,
            Err(EngineError::UnknownBot(_)) => return Err(WebhookError::UnknownBot),
            Err(error) => {
                tracing::error!(bot_id, %error, "waking the bot failed");
                return Err(WebhookError::NotReady);
            }
        };
        webhook::take(&runtime.inbox, update_id, update).await
    }

    /// Whether the Bot API refused the bot's token (401 to its getUpdates, its setWebhook or a
    /// call of its outbox: the token was revoked): `None` while not, then the error. The engine
    /// keeps retrying its source and leaves a call refused so in the outbox; the host (`serve`'s
    /// supervisor) watches this and stops the bot. A bot receiving by webhook makes no
    /// getUpdates: its first send after a revocation is what tells.
    pub fn unauthorized(&self, bot: BotHandle) -> Result<watch::Receiver<Option<String>>, EngineError> {
        Ok(self.hosted(bot)?.unauthorized.subscribe())
    }

    /// What a Web App page of the bot running as Telegram id `bot_id` needs: the key its
    /// `initData` is checked with and the products its shop lists (from its current file);
    /// `None` when no such bot runs here.
    pub fn web_app(&self, bot_id: u64) -> Option<crate::web_app::WebAppBot> {
        let hosted =
            self.bots.lock().values().find(|hosted| hosted.bot_id == bot_id && !*hosted.stop.borrow()).cloned()?;
        let products = match &*hosted.slot.lock() {
            Slot::Awake(runtime) => crate::web_app::products(&runtime.inbox.current.read().file),
            Slot::Asleep(asleep) => crate::web_app::products(&asleep.file),
        };
        Some(crate::web_app::WebAppBot { key: hosted.web_app_key, products })
    }

    /// The running bots.
    pub fn bots(&self) -> Vec<BotHandle> {
        self.bots.lock().iter().map(|(id, hosted)| BotHandle { id: *id, bot_id: hosted.bot_id }).collect()
    }

    /// Returns once the start-up calls of every bot that started asleep (its command menu, then
    /// its webhook, made by a queue of workers after [`Engine::add_bot_with`] returned) have been
    /// made: setWebhook is retried until it succeeds or the bot is stopped, so a bot whose webhook
    /// cannot be set keeps this waiting until it is stopped. A bot that starts awake makes its own
    /// calls and is not waited for. Bots added later are waited for by a later call.
    pub async fn start_up_calls_made(&self) {
        if let Some(registrations) = self.registrations.get() {
            registrations.settled().await;
        }
    }

    /// Whether a bot running as Telegram id `bot_id` is added (awake or asleep) and not stopping.
    pub fn runs(&self, bot_id: u64) -> bool {
        self.bots.lock().values().any(|hosted| hosted.bot_id == bot_id && !*hosted.stop.borrow())
    }

    /// Makes one Bot API call for the host through the bot's flood scheduler as *bulk*: paced,
    /// behind the bot's replies (a broadcast, decision 0048). An asleep bot is woken for it.
    /// The call is not put in the outbox: the caller records it before and after, and gets
    /// how it ended ([`BulkError`]).
    pub async fn send_bulk(
        &self,
        bot_id: u64,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, BulkError> {
        let hosted = self.bots.lock().values().find(|hosted| hosted.bot_id == bot_id).cloned();
        let hosted = hosted.ok_or(BulkError::NotRunning)?;
        // Counted as taking an update, so the bot does not fall asleep under the call.
        let _taking = hosted.taking();
        let runtime = self.awake(&hosted).map_err(|_| BulkError::NotRunning)?;
        let scheduler = &runtime.context().scheduler;
        crate::deliver::bulk::call(bot_id, scheduler, &hosted.unauthorized, method, params).await
    }

    /// Whether the bot's runtime is built now (`false`: asleep, see [`EngineConfig::idle_after`]).
    pub fn is_awake(&self, bot: BotHandle) -> Result<bool, EngineError> {
        Ok(self.hosted(bot)?.runtime().is_some())
    }

    /// A counter of the bot's handled updates (successfully or not): tests and tools wait on
    /// it instead of sleeping.
    pub fn handled(&self, bot: BotHandle) -> Result<watch::Receiver<u64>, EngineError> {
        Ok(self.hosted(bot)?.handled.subscribe())
    }

    fn hosted(&self, bot: BotHandle) -> Result<Arc<Hosted>, EngineError> {
        self.bots.lock().get(&bot.id).cloned().ok_or(EngineError::UnknownBot(bot.id))
    }

    fn load(&self, file: BotFile, generation: u64) -> Result<Loaded, EngineError> {
        if !file.scenes.is_empty() {
            let start = file.bot.start.as_ref().ok_or(EngineError::NoStartScene)?;
            if !file.scenes.contains_key(start) {
                return Err(EngineError::Step(format!("bot.start names no scene: {start:?}")));
            }
        }
        for (name, job) in &file.jobs {
            Schedule::of(job).map_err(|e| EngineError::Step(format!("jobs.{name}: {e}")))?;
        }
        let templates = Templates::compile(&file, self.config.template_fuel, self.config.template_recursion_limit)?
            .with_max_output(self.config.caps.template_output);
        let collections = crate::interpret::steps::records::specs(&file);
        Ok(Loaded { file, templates, generation, collections })
    }
}

/// Starts the scheduler of the current version's jobs (none when it has no jobs).
fn start_jobs(runtime: &Arc<Runtime>, budget: Duration) {
    let loaded = Arc::clone(&runtime.inbox.current.read());
    let jobs: Vec<(String, Schedule)> =
        loaded.file.jobs.iter().filter_map(|(name, job)| Schedule::of(job).ok().map(|s| (name.clone(), s))).collect();
    if jobs.is_empty() {
        return;
    }
    let context = Arc::clone(runtime.context());
    let bot_id = context.bot_id;
    let names: Vec<String> = jobs.iter().map(|(name, _)| name.clone()).collect();
    let (stop, stopped) = watch::channel(false);
    let store = Arc::clone(&context.store);
    let run =
        move |index: usize| jobs::run_once(Arc::clone(&context), Arc::clone(&loaded), names[index].clone(), budget);
    let task = tokio::spawn(jobs::schedule(bot_id, jobs, store, runtime.context().clock.clone(), stopped, run));
    *runtime.jobs.lock() = Some((stop, task));
}

/// Stops the jobs' scheduler, letting a job that is running finish.
async fn stop_jobs(runtime: &Runtime) {
    let scheduler = runtime.jobs.lock().take();
    if let Some((stop, task)) = scheduler {
        stop.send_replace(true);
        if let Err(error) = task.await {
            tracing::error!(bot_id = runtime.context().bot_id, %error, "the job scheduler ended abnormally");
        }
    }
}
