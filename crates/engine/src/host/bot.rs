//! What the engine keeps of one bot: the part that lives as long as the bot is added (its
//! routing entry, client, counters and stop signal) and the runtime that may come and go: awake,
//! its stages built; asleep, only its file (an idle webhook bot, `host/idle.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ferrogram_schema::BotFile;
use ferrogram_telegram::Client;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bot_secrets::BotSecrets;
use crate::interpret::context::BotContext;
use crate::receive::Inbox;

/// A bot's stages, built: its inbox (with its dispatcher and context) and its tasks.
pub(crate) struct Runtime {
    pub(crate) inbox: Arc<Inbox>,
    /// The update source's task: long polling, or catching up and setting the webhook.
    pub(crate) source: Mutex<Option<JoinHandle<()>>>,
    /// The scheduler of the current version's jobs, and what stops it.
    pub(crate) jobs: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

impl Runtime {
    pub(crate) fn context(&self) -> &Arc<BotContext> {
        &self.inbox.context
    }

    /// Whether it may be dropped now: no update is being handled or waits for its chat, no call
    /// is being sent or held, its source's task ended (caught up, webhook set) and it runs no
    /// jobs.
    pub(crate) fn is_quiet(&self) -> bool {
        self.inbox.dispatcher.is_quiet()
            && self.context().outbox.is_quiet()
            && self.jobs.lock().is_none()
            && self.source.lock().as_ref().is_none_or(JoinHandle::is_finished)
    }
}

/// A bot's file while its runtime is dropped.
pub(crate) struct Asleep {
    pub(crate) file: Box<BotFile>,
    /// The generation of the loaded file ([`crate::interpret::context::Loaded`]), which goes on
    /// counting across runtimes.
    pub(crate) generation: u64,
}

/// Awake or asleep.
pub(crate) enum Slot {
    Awake(Arc<Runtime>),
    Asleep(Asleep),
}

/// A bot added to the engine, from [`crate::Engine::add_bot_with`] to [`crate::Engine::stop`].
pub(crate) struct Hosted {
    /// Its [`crate::BotHandle`]'s id.
    pub(crate) handle: u64,
    pub(crate) bot_id: u64,
    pub(crate) client: Client,
    /// A webhook bot's secret token (checked in constant time by `webhook_update`).
    pub(crate) webhook_secret: Option<String>,
    /// The key its Web Apps' `initData` is signed with ([`crate::web_app::secret_key`]).
    pub(crate) web_app_key: [u8; 32],
    /// Whether its runtime is dropped when idle: a webhook bot, when the engine's `idle_after` is
    /// set (and while it runs no jobs: [`Runtime::is_quiet`]).
    pub(crate) may_sleep: bool,
    pub(crate) slot: Mutex<Slot>,
    /// Handled updates, across runtimes ([`crate::Engine::handled`]).
    pub(crate) handled: Arc<watch::Sender<u64>>,
    /// Set when the Bot API refused its token ([`crate::Engine::unauthorized`]).
    pub(crate) unauthorized: Arc<watch::Sender<Option<String>>>,
    /// Raised by [`crate::Engine::stop`]: ends the work done for the bot outside a runtime
    /// (an asleep bot's start-up calls, `host/registrations.rs`).
    pub(crate) stop: watch::Sender<bool>,
    /// Webhook updates being taken now: the bot does not fall asleep under them.
    pub(crate) taking: AtomicUsize,
    /// When it last took an update or woke.
    pub(crate) last_active: Mutex<Instant>,
    /// Its stored secrets, shared with each runtime's context; replaced by
    /// [`crate::Engine::set_secrets`].
    pub(crate) secrets: Arc<parking_lot::RwLock<BotSecrets>>,
    /// Its blocked users, shared with each runtime's context; changed by
    /// [`crate::Engine::set_blocked`].
    pub(crate) blocked: Arc<parking_lot::RwLock<std::collections::HashSet<i64>>>,
}

impl Hosted {
    /// The runtime, when awake.
    pub(crate) fn runtime(&self) -> Option<Arc<Runtime>> {
        match &*self.slot.lock() {
            Slot::Awake(runtime) => Some(Arc::clone(runtime)),
            Slot::Asleep(_) => None,
        }
    }

    /// Marks an update being taken until the guard is dropped.
    pub(crate) fn taking(self: &Arc<Self>) -> Taking {
        self.taking.fetch_add(1, Ordering::SeqCst);
        Taking(Arc::clone(self))
    }
}

/// See [`Hosted::taking`].
pub(crate) struct Taking(Arc<Hosted>);

impl Drop for Taking {
    fn drop(&mut self) {
        *self.0.last_active.lock() = Instant::now();
        self.0.taking.fetch_sub(1, Ordering::SeqCst);
    }
}
