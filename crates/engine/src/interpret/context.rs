//! What a bot's handlers share while they run: its current bot file ([`Loaded`]) and its
//! [`BotContext`] (store, HTTP client, outbox, flood scheduler, limits).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferrogram_schema::BotFile;
use ferrogram_telegram::flood::Scheduler;

use crate::bot_secrets::BotSecrets;
use crate::caps::SizeCaps;
use crate::clock::Clock;
use crate::deliver::outbox::Deliverer;
use crate::interpret::budget;
use crate::interpret::http::Http;
use crate::interpret::limits::Limiter;
use crate::interpret::template::Templates;
use ferrogram_core::StateStore;
use ferrogram_core::{CollectionSpec, CollectionStore};

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
    /// See [`crate::EngineConfig::public_url`].
    pub public_url: Option<String>,
    /// The engine's clock.
    pub clock: Clock,
    /// The engine's size caps (variables and records are checked against them).
    pub caps: SizeCaps,
    /// What one update (or job run) of the bot may spend.
    pub update_limits: budget::Limits,
    /// The bot's stored secrets (see [`BotContext::expand`]).
    pub secrets: Arc<parking_lot::RwLock<BotSecrets>>,
    /// The users whose updates no handler runs for (decision 0047).
    pub blocked: Arc<parking_lot::RwLock<std::collections::HashSet<i64>>>,
    /// What the bot's `http_sessions` keep between calls: login cookies, handshake headers.
    pub http_sessions: crate::interpret::http_session::HttpSessions,
}

impl BotContext {
    /// Whether the user's updates are not handled (see [`crate::Engine::set_blocked`]).
    pub fn is_blocked(&self, user_id: i64) -> bool {
        user_id != 0 && self.blocked.read().contains(&user_id)
    }

    /// Expands the `${NAME}` written in `source` in `rendered` for this bot: its stored secret
    /// `NAME`, else the environment under the operator's rule
    /// ([`crate::BotEnv::expand_with`]). Every `${NAME}` of a bot file goes through here.
    pub fn expand(&self, source: &str, rendered: &str) -> Result<String, String> {
        self.http.bot_env().expand_with(&self.secrets.read(), source, rendered)
    }
}
