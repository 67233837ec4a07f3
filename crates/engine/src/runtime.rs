//! The engine: bots added, reloaded and stopped at run time, each with its own receiver,
//! dispatcher and flood scheduler.
//!
//! # Nothing lost
//!
//! Every received update is stored in the inbox ([`StateStore::inbox_put`]) before it is
//! acknowledged: the getUpdates offset that confirms it to Telegram is sent only after the
//! store accepted it (a store failure backs off, and the update is fetched again). A
//! redelivered update (one the inbox already has: the same id *and* the same JSON) is stored
//! once and dispatched once, and is the only update skipped without a warning. Update ids can
//! restart (Telegram picks a random next id after a week without updates; a reset sandbox starts
//! at 1 again), so the same id with other content is a new update: it replaces the handled one
//! and is dispatched, with a warning; while the update under that id is still unhandled, the new
//! one is not stored nor confirmed (warning) and comes again. An id far from the previous one is
//! logged as a restart too ([`Received`], `notice`). Handled updates are kept 24 hours
//! (`INBOX_KEEP`): a redelivery is recognised within that window, then they are pruned.
//!
//! An update is marked handled only after its handler finished, successfully or through the
//! error handler; one not understood, or of a kind the engine does not handle, is marked handled
//! at once with a log line. An update without an `update_id` cannot be stored or confirmed: it
//! is skipped with a warning, and a batch of nothing else backs off like an error, since
//! Telegram hands it back at once. When a bot starts, the updates a crash left unhandled are
//! dispatched first, in update-id order, and only then does polling begin, so a chat's replayed
//! updates come before its new ones.
//!
//! # Poison updates
//!
//! Each dispatch of an update is an attempt, counted in its inbox row before the handler runs:
//! storing it counts the first, and a replay counts one more for each update of a page before
//! dispatching it ([`StateStore::inbox_count_attempts`]). So a handler that never finishes,
//! because the process froze or was killed while running it, still used an attempt. After
//! [`EngineConfig::max_update_attempts`] the next start does not run it again: the dispatcher
//! sets it aside as a dead letter, in the chat's order (`dispatch::set_aside`: error
//! log, the bot's error reply, the letter kept, the update marked handled). A handler that panics
//! or overruns its budget in a running process is set aside at once the same way. Operators list,
//! retry and discard dead letters with `ferrogram dead-letters`.
//!
//! So a crash (even `kill -9`) loses no update. A handler's replies, variable writes and the
//! chat's new state are committed together with the update's "handled" mark (the outbox module
//! tells how), and a starting bot first delivers what its outbox still holds, then replays its
//! inbox, then polls. An update whose handler was running at the crash is handled again from
//! the start, having changed nothing; a reply is sent twice only if it was being sent at the
//! crash. (A `dice` or `poll` step needs Telegram's answer at once, so the calls before it in
//! its handler are made at once too: a crash before that handler's commit repeats them.)

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use schema::{BotFile, Schedule};
use serde_json::{Value, json};
use telegram::flood::{Priority, Scheduler};
use telegram::frankenstein::methods::GetUpdatesParams;
use telegram::{Backoff, Client, IncomingUpdate};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::budget::{self, DEFAULT_UPDATE_FUEL, DEFAULT_UPDATE_STEPS};
use crate::caps::SizeCaps;
use crate::clock::Clock;
use crate::collections::{CollectionSpec, CollectionStore, MemoryCollections};
use crate::dispatch::{Dispatcher, Job, commit_and_deliver, mark_handled, run_guarded};
use crate::error::EngineError;
use crate::event::Event;
use crate::http::{Http, HttpConfig};
use crate::limits::Limiter;
use crate::outbox::{Committer, DEFAULT_COMMIT_BATCH, Deliverer, RefusalReply};
use crate::state::{MemoryStore, Received, StateStore, StoreError};
use crate::template::{DEFAULT_FUEL, DEFAULT_RECURSION_LIMIT, Templates};
use crate::{i18n, jobs, steps};

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
    pub flood: telegram::flood::Config,
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
            flood: telegram::flood::Config::default(),
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

/// One version of a bot file, with its compiled templates.
#[derive(Debug)]
pub struct Loaded {
    pub file: BotFile,
    pub templates: Templates,
    /// Increases with each reload; chat states remember it.
    pub generation: u64,
    /// What the store needs to know of each declared collection, by name.
    pub collections: HashMap<String, CollectionSpec>,
}

/// What the handlers of one bot share.
pub struct BotContext {
    pub bot_id: u64,
    pub scheduler: Scheduler,
    pub store: Arc<dyn StateStore>,
    pub limiter: Limiter,
    /// The engine's HTTP client and circuit breakers, shared by its bots.
    pub http: Arc<Http>,
    /// The records of the bot's collections.
    pub collections: Arc<dyn CollectionStore>,
    /// Delivers the bot's committed calls.
    pub outbox: Arc<Deliverer>,
    /// Serialises handlers that write bot-wide variables (see `steps`).
    pub bot_vars: Arc<tokio::sync::Mutex<()>>,
    /// See [`EngineConfig::llm_edit_interval`].
    pub llm_edit_interval: Duration,
    /// The engine's clock.
    pub clock: Clock,
    /// The engine's size caps (variables and records are checked against them).
    pub caps: SizeCaps,
    /// What one update (or job run) of the bot may spend.
    pub update_limits: budget::Limits,
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

/// Why a webhook update was not taken; each maps to the HTTP status Telegram is answered.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No webhook bot with this id runs here (404).
    #[error("no webhook bot with this id")]
    UnknownBot,
    /// The secret header is missing or wrong (403).
    #[error("wrong or missing secret token")]
    Forbidden,
    /// The bot is still starting (503: Telegram delivers it again).
    #[error("the bot is starting, try again")]
    NotReady,
    /// The update could not be stored (500: Telegram delivers it again).
    #[error("storing the update failed: {0}")]
    Store(StoreError),
    /// An unhandled update holds the same id (the ids restarted): 503, Telegram delivers it
    /// again, and it is stored once that one is handled.
    #[error("an unhandled update has the same id, try again")]
    Busy,
}

impl WebhookError {
    /// The HTTP status to answer Telegram with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::UnknownBot => 404,
            WebhookError::Forbidden => 403,
            WebhookError::NotReady | WebhookError::Busy => 503,
            WebhookError::Store(_) => 500,
        }
    }
}

/// How long a webhook update waits for its bot to finish starting.
const WEBHOOK_READY_WAIT: Duration = Duration::from_secs(10);

struct BotRuntime {
    client: Client,
    context: Arc<BotContext>,
    /// The bot's file now; shared with the deliverer, which renders the `errors` reply to a
    /// refused call with it.
    current: Arc<RwLock<Arc<Loaded>>>,
    dispatcher: Arc<Dispatcher>,
    stop: watch::Sender<bool>,
    poller: Mutex<Option<JoinHandle<()>>>,
    /// The scheduler of the current version's jobs, and what stops it.
    jobs: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
    /// Set once the bot replayed its inbox and takes new updates.
    ready: watch::Sender<bool>,
    /// A webhook bot's secret token.
    webhook_secret: Option<String>,
    /// The id of the update received last, to notice a restart of the update id sequence.
    last_update_id: Mutex<Option<i64>>,
    /// See [`EngineConfig::max_update_attempts`].
    max_attempts: u32,
}

/// Runs bots. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Engine {
    config: EngineConfig,
    bots: Mutex<HashMap<u64, Arc<BotRuntime>>>,
    /// The webhook bots by Telegram id: each POST finds its bot here, not by a scan.
    webhooks: Mutex<HashMap<u64, Arc<BotRuntime>>>,
    next_id: AtomicU64,
    http: Arc<Http>,
    /// Group commit for every bot, started with the first bot (it needs a Tokio runtime).
    committer: std::sync::OnceLock<Arc<Committer>>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        let http = Arc::new(Http::new(config.http.clone()));
        let committer = std::sync::OnceLock::new();
        Engine {
            config,
            bots: Mutex::default(),
            webhooks: Mutex::default(),
            next_id: AtomicU64::new(1),
            http,
            committer,
        }
    }

    /// Starts a bot: compiles its templates (all errors at once), publishes its commands and
    /// starts long polling `api_url` (Telegram's is [`telegram::DEFAULT_API_URL`]).
    pub async fn add_bot(&self, file: BotFile, token: &str, api_url: &str) -> Result<BotHandle, EngineError> {
        self.add_bot_with(file, token, api_url, Receive::Polling).await
    }

    /// Starts a bot that receives its updates as `receive` says.
    pub async fn add_bot_with(
        &self,
        file: BotFile,
        token: &str,
        api_url: &str,
        receive: Receive,
    ) -> Result<BotHandle, EngineError> {
        let loaded = self.load(file, 1)?;
        let client = Client::builder(token).api_url(api_url).build()?;
        let bot_id = client.bot_id();
        let scheduler = Scheduler::for_client(client.clone(), self.config.flood.clone());
        let committer = self
            .committer
            .get_or_init(|| Arc::new(Committer::start(Arc::clone(&self.config.store), self.config.commit_batch)));
        let current = Arc::new(RwLock::new(Arc::new(loaded)));
        let refusal_reply: RefusalReply = {
            let current = Arc::clone(&current);
            Box::new(move |refused, code, reason| {
                steps::refusal_reply(&current.read(), refused.chat_id, refused, code, reason)
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
            )),
            bot_vars: Arc::default(),
            clock: self.config.clock.clone(),
            scheduler,
            store: Arc::clone(&self.config.store),
            limiter: Limiter::default(),
            http: Arc::clone(&self.http),
            collections: Arc::clone(&self.config.collections),
            llm_edit_interval: self.config.llm_edit_interval,
            caps: self.config.caps,
            update_limits: budget::Limits {
                steps: self.config.update_steps,
                fuel: self.config.update_fuel,
                time: self.config.update_budget,
            },
        });
        let dispatcher = Dispatcher::new(
            Arc::clone(&context),
            self.config.max_concurrent_updates,
            self.config.update_budget,
            self.config.max_update_attempts,
        );
        let runtime = Arc::new(BotRuntime {
            client,
            context,
            current,
            dispatcher,
            stop: watch::Sender::new(false),
            poller: Mutex::new(None),
            jobs: Mutex::new(None),
            ready: watch::Sender::new(false),
            webhook_secret: match &receive {
                Receive::Webhook { secret, .. } => Some(secret.clone()),
                Receive::Polling => None,
            },
            last_update_id: Mutex::new(None),
            max_attempts: self.config.max_update_attempts.max(1),
        });
        let poller = match receive {
            Receive::Polling => tokio::spawn(poll(Arc::clone(&runtime), self.config.poll_timeout)),
            Receive::Webhook { url, secret } => tokio::spawn(start_webhook(Arc::clone(&runtime), url, secret)),
        };
        *runtime.poller.lock() = Some(poller);
        tokio::spawn(maintain(Arc::clone(&runtime.context), runtime.stop.subscribe()));
        if self.config.schedule_jobs {
            start_jobs(&runtime, self.config.update_budget);
        }
        let handle = BotHandle { id: self.next_id.fetch_add(1, Ordering::Relaxed), bot_id };
        if runtime.webhook_secret.is_some() {
            self.webhooks.lock().insert(bot_id, Arc::clone(&runtime));
        }
        self.bots.lock().insert(handle.id, runtime);
        tracing::info!(bot_id, "bot started");
        Ok(handle)
    }

    /// Swaps the bot's file. Updates already dispatched finish on the old version, later ones
    /// use the new one. A chat mid-form keeps its form if the scene still has it; every other
    /// chat returns to the start scene. A file that does not compile changes nothing.
    pub async fn reload(&self, bot: BotHandle, file: BotFile) -> Result<(), EngineError> {
        let runtime = self.runtime(bot)?;
        let generation = runtime.current.read().generation + 1;
        let loaded = Arc::new(self.load(file, generation)?);
        *runtime.current.write() = Arc::clone(&loaded);
        stop_jobs(&runtime).await;
        if self.config.schedule_jobs {
            start_jobs(&runtime, self.config.update_budget);
        }
        publish_commands(&runtime.context, &loaded).await;
        tracing::info!(bot_id = bot.bot_id, generation, "bot reloaded");
        Ok(())
    }

    /// Runs the job `name` of the bot now, as its schedule would (under the update time budget),
    /// and returns once its effects are committed and its messages delivered (or failed), the
    /// paced ones of `notify` included.
    pub async fn run_job(&self, bot: BotHandle, name: &str) -> Result<(), EngineError> {
        let runtime = self.runtime(bot)?;
        let loaded = Arc::clone(&runtime.current.read());
        if !loaded.file.jobs.contains_key(name) {
            return Err(EngineError::Step(format!("the bot has no job {name:?}")));
        }
        let context = Arc::clone(&runtime.context);
        let job = steps::run_job(Arc::clone(&context), loaded, name.to_owned());
        match run_guarded(self.config.update_budget, job).await {
            Ok(handled) => {
                commit_and_deliver(&context, handled).await;
                context.outbox.until_idle().await;
                Ok(())
            }
            Err(crate::dispatch::Failure::Step(error)) => Err(error),
            Err(failure) => Err(EngineError::Step(format!("the job {name:?} failed: {failure}"))),
        }
    }

    /// An edited bot file as text (YAML, or JSON when `file_name` ends in `.json`), validated
    /// and swapped in as [`Engine::reload`] does: the next update runs it. A file with errors
    /// changes nothing and is refused with its diagnostics (`file:line:column: error: …`).
    pub async fn reload_source(&self, bot: BotHandle, source: &str, file_name: &str) -> Result<(), EngineError> {
        let file = schema::load_str(source, file_name).map_err(EngineError::Invalid)?;
        self.reload(bot, file).await
    }

    /// Stops receiving the bot's updates and confirms those received; updates already
    /// dispatched still finish.
    pub async fn stop(&self, bot: BotHandle) -> Result<(), EngineError> {
        let runtime = self.bots.lock().remove(&bot.id).ok_or(EngineError::UnknownBot(bot.id))?;
        {
            let mut webhooks = self.webhooks.lock();
            if webhooks.get(&bot.bot_id).is_some_and(|hooked| Arc::ptr_eq(hooked, &runtime)) {
                webhooks.remove(&bot.bot_id);
            }
        }
        runtime.stop.send_replace(true);
        stop_jobs(&runtime).await;
        let poller = runtime.poller.lock().take();
        if let Some(poller) = poller
            && let Err(error) = poller.await
        {
            tracing::error!(bot_id = bot.bot_id, %error, "the receiver ended abnormally");
        }
        tracing::info!(bot_id = bot.bot_id, "bot stopped");
        Ok(())
    }

    /// Takes one update POSTed to a webhook bot (`bot_id` is its Telegram id), with the value of
    /// its `X-Telegram-Bot-Api-Secret-Token` header. `Ok` only once the update is stored: the
    /// server answers Telegram 200 then, and an error status otherwise so Telegram delivers it
    /// again. A body that is not an update is logged and accepted (a retry would not fix it).
    pub async fn webhook_update(&self, bot_id: u64, secret: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
        let runtime = self.webhooks.lock().get(&bot_id).cloned().ok_or(WebhookError::UnknownBot)?;
        let expected = runtime.webhook_secret.as_deref().ok_or(WebhookError::UnknownBot)?;
        let given = secret.unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes())) {
            return Err(WebhookError::Forbidden);
        }
        // Until the bot replayed what its last run left, new updates wait (the chat's order).
        let mut ready = runtime.ready.subscribe();
        match tokio::time::timeout(WEBHOOK_READY_WAIT, ready.wait_for(|ready| *ready)).await {
            Ok(Ok(_)) => {}
            _ => return Err(WebhookError::NotReady),
        }
        let raw: Value = match serde_json::from_slice(body) {
            Ok(raw) => raw,
            Err(error) => {
                tracing::warn!(bot_id, %error, "webhook body is not JSON: skipped");
                return Ok(());
            }
        };
        let text = raw.to_string();
        let Some(update) = IncomingUpdate::from_value(raw) else {
            tracing::warn!(bot_id, "webhook body is not an update: skipped");
            return Ok(());
        };
        let update_id = update.update_id();
        let received =
            runtime.context.store.inbox_put(bot_id, update_id, text.clone()).await.map_err(WebhookError::Store)?;
        notice(&runtime, update_id, received);
        match received {
            Received::Busy => Err(WebhookError::Busy),
            Received::Redelivered => Ok(()),
            Received::New | Received::Reused => {
                accept(&runtime, update, text, 1).await;
                Ok(())
            }
        }
    }

    /// The running bots.
    pub fn bots(&self) -> Vec<BotHandle> {
        self.bots.lock().iter().map(|(id, rt)| BotHandle { id: *id, bot_id: rt.context.bot_id }).collect()
    }

    /// A counter of the bot's handled updates (successfully or not): tests and tools wait on
    /// it instead of sleeping.
    pub fn handled(&self, bot: BotHandle) -> Result<watch::Receiver<u64>, EngineError> {
        Ok(self.runtime(bot)?.dispatcher.handled())
    }

    fn runtime(&self, bot: BotHandle) -> Result<Arc<BotRuntime>, EngineError> {
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
        let collections = crate::records::specs(&file);
        Ok(Loaded { file, templates, generation, collections })
    }
}

/// Starts the scheduler of the current version's jobs (none when it has no jobs).
fn start_jobs(runtime: &Arc<BotRuntime>, budget: Duration) {
    let loaded = Arc::clone(&runtime.current.read());
    let jobs: Vec<(String, Schedule)> =
        loaded.file.jobs.iter().filter_map(|(name, job)| Schedule::of(job).ok().map(|s| (name.clone(), s))).collect();
    if jobs.is_empty() {
        return;
    }
    let context = Arc::clone(&runtime.context);
    let bot_id = context.bot_id;
    let names: Vec<String> = jobs.iter().map(|(name, _)| name.clone()).collect();
    let (stop, stopped) = watch::channel(false);
    let store = Arc::clone(&context.store);
    let run = move |index: usize| {
        let (context, loaded, name) = (Arc::clone(&context), Arc::clone(&loaded), names[index].clone());
        async move {
            match run_guarded(budget, steps::run_job(Arc::clone(&context), loaded, name.clone())).await {
                Ok(handled) => commit_and_deliver(&context, handled).await,
                Err(error) => tracing::error!(bot_id, job = %name, %error, "the job failed"),
            }
        }
    };
    let task = tokio::spawn(jobs::schedule(bot_id, jobs, store, runtime.context.clock.clone(), stopped, run));
    *runtime.jobs.lock() = Some((stop, task));
}

/// Stops the jobs' scheduler, letting a job that is running finish.
async fn stop_jobs(runtime: &BotRuntime) {
    let scheduler = runtime.jobs.lock().take();
    if let Some((stop, task)) = scheduler {
        stop.send_replace(true);
        if let Err(error) = task.await {
            tracing::error!(bot_id = runtime.context.bot_id, %error, "the job scheduler ended abnormally");
        }
    }
}

/// How many stored updates a replay reads from the inbox at once.
const REPLAY_PAGE: u32 = 1000;

/// Long polling: replays what the inbox holds unhandled, then fetches updates, stores each
/// one, dispatches the new ones and confirms them with the next call's offset. Errors back off
/// and retry; a stop ends the poll at once.
async fn poll(runtime: Arc<BotRuntime>, timeout: u32) {
    let bot_id = runtime.context.bot_id;
    let backoff = Backoff::default();
    let Some(mut stop) = catch_up(&runtime, &backoff).await else { return };
    // A webhook left by an earlier run would make every getUpdates fail with a 409.
    if let Err(error) = runtime.client.call::<_, Value>("deleteWebhook", &json!({})).await {
        tracing::warn!(bot_id, %error, "deleteWebhook failed");
    }
    let mut offset: Option<i64> = None;
    let mut failures = 0u32;
    loop {
        let params = GetUpdatesParams::builder().maybe_offset(offset).timeout(timeout).build();
        // Raw JSON, so the inbox keeps each update as it came, whether it decodes or not.
        let batch = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            batch = runtime.client.call::<_, Vec<Value>>("getUpdates", &params) => batch,
        };
        let error = match batch {
            Ok(batch) => {
                let (fetched, before) = (batch.len(), offset);
                match receive(&runtime, batch, &mut offset).await {
                    // Nothing to confirm (no usable update_id, or the first one's id is held by an
                    // unhandled update): the same batch comes back at once.
                    Ok(()) if fetched > 0 && offset == before => {
                        format!("none of {fetched} updates can be confirmed yet (no usable update_id, or it is in use)")
                    }
                    Ok(()) => {
                        failures = 0;
                        continue;
                    }
                    Err(error) => format!("storing an update failed, it will be fetched again: {error}"),
                }
            }
            Err(error) => format!("getUpdates failed: {error}"),
        };
        failures = failures.saturating_add(1);
        let delay = backoff.delay(failures.min(10));
        tracing::warn!(bot_id, %error, ?delay, "receiving updates failed");
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    // Confirm what was stored, so a restart does not fetch it again (it would be dropped as a
    // redelivery anyway).
    if let Some(offset) = offset {
        let params = GetUpdatesParams::builder().offset(offset).timeout(0).limit(1).build();
        if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(5), runtime.client.get_updates(&params)).await
        {
            tracing::warn!(bot_id, %error, "confirming the last updates failed");
        }
    }
}

/// What a starting bot does before it takes new updates, in either mode: publishes its commands,
/// delivers what its outbox holds, replays what its inbox holds unhandled, then marks itself
/// ready. The stop signal to watch, or `None` if the bot was stopped meanwhile.
async fn catch_up(runtime: &BotRuntime, backoff: &Backoff) -> Option<watch::Receiver<bool>> {
    let current = Arc::clone(&runtime.current.read());
    publish_commands(&runtime.context, &current).await;
    let mut stop = runtime.stop.subscribe();
    redeliver(&runtime.context).await;
    if !replay(runtime, &mut stop, backoff).await {
        return None;
    }
    runtime.ready.send_replace(true);
    Some(stop)
}

/// Webhook mode: publishes the commands, delivers the outbox, replays the inbox, takes new
/// updates, then registers the webhook (retrying until it is set or the bot stops).
async fn start_webhook(runtime: Arc<BotRuntime>, url: String, secret: String) {
    let bot_id = runtime.context.bot_id;
    let backoff = Backoff::default();
    let Some(mut stop) = catch_up(&runtime, &backoff).await else { return };
    let params = json!({"url": url, "secret_token": secret});
    let mut failures = 0u32;
    loop {
        let outcome = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            outcome = runtime.client.call::<_, Value>("setWebhook", &params) => outcome,
        };
        let Err(error) = outcome else {
            tracing::info!(bot_id, "webhook set");
            return;
        };
        failures = failures.saturating_add(1);
        let delay = backoff.delay(failures.min(10));
        tracing::warn!(bot_id, %error, ?delay, "setWebhook failed");
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// How often a bot prunes its inbox. (Failed deliveries are retried by their held chat, see
/// the outbox.)
const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);
/// How long a handled update is kept to recognise a redelivery of it.
const INBOX_KEEP: Duration = Duration::from_secs(24 * 3600);

/// A bot's housekeeping until it stops: forgets handled updates older than [`INBOX_KEEP`].
async fn maintain(context: Arc<BotContext>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(MAINTENANCE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticks.tick() => {}
        }
        let cutoff = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.saturating_sub(INBOX_KEEP).as_secs());
        match context.store.inbox_prune(context.bot_id, cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(bot_id = context.bot_id, pruned, "handled updates pruned from the inbox"),
            Err(error) => tracing::warn!(bot_id = context.bot_id, %error, "pruning the inbox failed"),
        }
    }
}

/// Delivers what the bot's outbox holds: what a crash left, or what failed to go out.
async fn redeliver(context: &BotContext) {
    match context.outbox.redeliver(context.store.as_ref()).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(bot_id = context.bot_id, count, "delivered calls left in the outbox"),
        Err(error) => tracing::warn!(bot_id = context.bot_id, %error, "reading the outbox failed"),
    }
}

/// Stores a batch of updates in the inbox (one write) and dispatches those it did not have yet.
/// `offset` moves past the batch only once it is stored, and not past an update the inbox
/// could not take ([`Received::Busy`]): the next call fetches those again. It follows the
/// batch's last update, so it moves back with a restarted id sequence.
async fn receive(runtime: &BotRuntime, batch: Vec<Value>, offset: &mut Option<i64>) -> Result<(), StoreError> {
    let (bot_id, store) = (runtime.context.bot_id, &runtime.context.store);
    let mut updates = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for raw in batch {
        let text = raw.to_string();
        if let Some(update) = IncomingUpdate::from_value(raw) {
            rows.push((update.update_id(), text.clone()));
            updates.push((update, text));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let received = store.inbox_put_batch(bot_id, rows).await?;
    let mut confirm = true;
    for ((update, text), received) in updates.into_iter().zip(received) {
        let update_id = update.update_id();
        notice(runtime, update_id, received);
        if received.is_stored() {
            accept(runtime, update, text, 1).await;
        }
        confirm &= received != Received::Busy;
        // The batch's order, not the highest id ever seen: after a restart of the ids the
        // offset follows the new sequence instead of confirming (dropping) its updates unseen.
        if confirm {
            *offset = Some(update_id + 1);
        }
    }
    Ok(())
}

/// How far an update id may land from the one received before it without being taken for a
/// restart of the sequence: Telegram numbers a bot's updates one after the other, and a batch
/// (100 at most) or concurrent webhook deliveries only shuffle neighbours.
const RESTART_GAP: i64 = 1000;

/// Logs what the inbox made of a received update, and a restart of the update id sequence:
/// an id reused for other content, or far from the last one. Only a true redelivery is
/// skipped without a warning.
fn notice(runtime: &BotRuntime, update_id: i64, received: Received) {
    let bot_id = runtime.context.bot_id;
    let last = runtime.last_update_id.lock().replace(update_id);
    match received {
        Received::Redelivered => {
            tracing::debug!(bot_id, update_id, "update received again, already stored: skipped");
        }
        Received::Reused => tracing::warn!(
            bot_id,
            update_id,
            "update id reused by an update with other content: the update id sequence restarted \
             (Telegram after a week without updates, or a reset sandbox); handled as a new update"
        ),
        Received::Busy => tracing::warn!(
            bot_id,
            update_id,
            "update id reused while the earlier update with this id is still unhandled: not stored \
             nor confirmed yet, it is fetched again once that one is handled"
        ),
        Received::New => {
            if let Some(last) = last.filter(|last| update_id.abs_diff(*last) > RESTART_GAP.unsigned_abs()) {
                tracing::warn!(bot_id, update_id, last, "update ids jumped: the update id sequence restarted");
            }
        }
    }
}

/// Dispatches what a crash left unhandled in the inbox, lowest update id first, before the
/// first poll. The updates of a page stay unhandled until their handlers finish, so a full page
/// is waited for before the next is read. Returns `false` if the bot was stopped meanwhile.
async fn replay(runtime: &BotRuntime, stop: &mut watch::Receiver<bool>, backoff: &Backoff) -> bool {
    let context = &runtime.context;
    let bot_id = context.bot_id;
    let mut handled = runtime.dispatcher.handled();
    let (mut after, mut replayed, mut failures) = (i64::MIN, 0usize, 0u32);
    loop {
        let page = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return false,
            page = context.store.inbox_unhandled(bot_id, REPLAY_PAGE) => page,
        };
        let page = match page {
            Ok(page) => page,
            Err(error) => {
                failures = failures.saturating_add(1);
                let delay = backoff.delay(failures.min(10));
                tracing::warn!(bot_id, %error, ?delay, "reading the inbox failed");
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return false,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        let full = page.len() >= REPLAY_PAGE as usize;
        let seen = after;
        let page: Vec<_> = page.into_iter().filter(|stored| stored.update_id > seen).collect();
        // This attempt is counted before the handlers run, so one that never finishes (the
        // process hangs or is killed) counts too; an update out of attempts is not run again.
        let max_attempts = runtime.max_attempts;
        let retried: Vec<i64> =
            page.iter().filter(|stored| stored.attempts < max_attempts).map(|stored| stored.update_id).collect();
        if !retried.is_empty()
            && let Err(error) = context.store.inbox_count_attempts(bot_id, retried).await
        {
            failures = failures.saturating_add(1);
            let delay = backoff.delay(failures.min(10));
            tracing::warn!(bot_id, %error, ?delay, "counting the replayed updates' attempts failed");
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return false,
                () = tokio::time::sleep(delay) => continue,
            }
        }
        failures = 0;
        let before = *handled.borrow_and_update();
        let mut dispatched = 0u64;
        let mut fresh = false;
        for stored in page {
            (after, fresh) = (stored.update_id, true);
            replayed += 1;
            let update = serde_json::from_str(&stored.raw).ok().and_then(IncomingUpdate::from_value);
            let Some(update) = update else {
                tracing::warn!(bot_id, update_id = stored.update_id, "stored update is not an update: marked handled");
                mark_handled(context, stored.update_id).await;
                continue;
            };
            *runtime.last_update_id.lock() = Some(stored.update_id);
            // Past its last attempt, the dispatcher sets it aside in the chat's order.
            let attempt = stored.attempts.min(max_attempts).saturating_add(1);
            if accept(runtime, update, stored.raw, attempt).await {
                dispatched += 1;
            }
        }
        if !full || !fresh {
            break;
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return false,
            outcome = handled.wait_for(|n| *n >= before + dispatched) => if outcome.is_err() { return false },
        }
    }
    if replayed > 0 {
        tracing::info!(bot_id, replayed, "replaying updates left unhandled by the last run");
    }
    true
}

/// Dispatches a stored update (`raw` as stored, `attempt` as [`Job::attempt`] says); returns
/// `false` for one that is not understood or of a kind the engine does not handle, which is
/// marked handled at once.
async fn accept(runtime: &BotRuntime, update: IncomingUpdate, raw: String, attempt: u32) -> bool {
    let bot_id = runtime.context.bot_id;
    let update_id = update.update_id();
    let IncomingUpdate::Known(update) = update else {
        tracing::warn!(bot_id, update_id, "update not understood: stored, marked handled, not handled");
        mark_handled(&runtime.context, update_id).await;
        return false;
    };
    let event = serde_json::to_value(&update).ok().and_then(|raw| Event::from_update(&raw));
    let Some(event) = event else {
        tracing::debug!(bot_id, update_id, "update kind not handled, skipped");
        mark_handled(&runtime.context, update_id).await;
        return false;
    };
    // The version is fixed here: a reload after this point does not change how it is handled.
    let loaded = Arc::clone(&runtime.current.read());
    runtime.dispatcher.dispatch(Job { event, loaded, raw, attempt });
    true
}

/// setMyCommands for every locale the bot offers (and without a language for the default).
async fn publish_commands(bot: &BotContext, loaded: &Loaded) {
    let file = &loaded.file;
    if file.bot.commands.is_empty() {
        return;
    }
    let mut locales: Vec<String> =
        if file.bot.locales.is_empty() { file.texts.keys().cloned().collect() } else { file.bot.locales.clone() };
    if !locales.contains(&file.bot.default_locale) {
        locales.push(file.bot.default_locale.clone());
    }
    for locale in locales.iter().map(Some).chain([None]) {
        let locale_name = locale.cloned().unwrap_or_else(|| file.bot.default_locale.clone());
        let ctx = crate::template::to_jinja(json!({"locale": locale_name}));
        let commands: Vec<Value> = file
            .bot
            .commands
            .iter()
            .map(|c| {
                let source = i18n::source(file, &c.description, &locale_name);
                let description = loaded.templates.render(source, &ctx).unwrap_or_else(|_| source.to_owned());
                json!({"command": c.command, "description": description})
            })
            .collect();
        let mut params = json!({"commands": commands});
        if let Some(locale) = locale {
            params["language_code"] = json!(locale);
        }
        let outcome: Result<Value, _> = bot.scheduler.call(Priority::Interactive, "setMyCommands", &params).await;
        if let Err(error) = outcome {
            tracing::warn!(bot_id = bot.bot_id, ?locale, %error, "setMyCommands failed");
        }
    }
}
