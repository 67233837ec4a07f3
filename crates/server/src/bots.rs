//! The bots' control: what the host running them (`serve`'s supervisor) lets the API do. The
//! server does not run bots itself: the host implements [`BotControl`] and hands it, with the
//! store, to [`crate::router_with`] as an [`Api`]. The routes that use it are the REST API's
//! (`crate::api::bots`, `/api/v1/bots/{name}/start|stop|restart|reload|status`), which
//! `ferrogram bot start|stop|reload|status NAME` calls.
//!
//! A status is `{"name", "status", "since", "version", "errors": [...], "attempts", "asleep"}`:
//! `status` one of `starting`, `running`, `stopped`, `failing`, `unauthorized`; `since` the Unix
//! time of the last change; `version` the version running (or last tried), `null` when none;
//! `errors` the last errors, oldest first, each `{"at", "message"}`; `attempts` the failed starts
//! since the last success.

use std::sync::Arc;

use ferrogram_engine::BoxFuture;
use ferrogram_store::Store;
use serde_json::{Value, json};

/// One of a supervised bot's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Its start is under way.
    Starting,
    /// It runs.
    Running,
    /// Stopped by an operator (`bot stop`); it stays so until started.
    Stopped,
    /// Its start failed; it is retried with backoff.
    Failing,
    /// The Bot API refused its token (401): stopped, not retried until started again.
    Unauthorized,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Failing => "failing",
            Status::Unauthorized => "unauthorized",
        }
    }
}

/// One error of a bot, kept in its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotError {
    /// Unix seconds.
    pub at: i64,
    pub message: String,
}

/// A bot's status as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotStatus {
    pub name: String,
    pub status: Status,
    /// Unix seconds of the last change of `status`.
    pub since: i64,
    /// The version running, or the one last tried.
    pub version: Option<i64>,
    /// The last errors, oldest first (bounded by the host).
    pub errors: Vec<BotError>,
    /// Failed starts since the last successful one.
    pub attempts: u32,
    /// Running, with its runtime dropped while idle: its next update builds it again
    /// (`bots.idle_after`).
    pub asleep: bool,
}

impl BotStatus {
    pub fn to_json(&self) -> Value {
        let errors: Vec<Value> = self.errors.iter().map(|e| json!({"at": e.at, "message": e.message})).collect();
        json!({
            "name": self.name,
            "status": self.status.as_str(),
            "since": self.since,
            "version": self.version,
            "errors": errors,
            "attempts": self.attempts,
            "asleep": self.asleep,
        })
    }
}

/// Why an action on a bot was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// No bot of this name in the workspace (404).
    UnknownBot,
    /// The action could not be carried out (409), e.g. a reload refused by the engine.
    Refused(String),
}

/// The bot a Telegram token belongs to, as getMe answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub id: u64,
    pub username: String,
}

/// A bot's draft running for the dashboard's try-it chat (decision 0056): a throwaway bot in
/// the sandbox, apart from the published bot and its users' data, and the sandbox user who
/// talks to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftRun {
    /// The sandbox's web chat opened on that bot, user and chat.
    pub chat_url: String,
    /// The throwaway bot's id in the sandbox.
    pub bot_id: u64,
    /// The sandbox user of this conversation (a new one at each restart).
    pub user_id: i64,
}

/// What the host running the bots (`serve`'s supervisor) lets the API do. Every call names the
/// caller's workspace: a bot of another one is [`ControlError::UnknownBot`].
pub trait BotControl: Send + Sync {
    /// The workspace's bots, in name order.
    fn list(&self, workspace: i64) -> BoxFuture<'_, Vec<BotStatus>>;
    fn status<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>>;
    /// Starts the bot from its newest stored version (nothing when it runs).
    fn start<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>>;
    /// Stops the bot (and any retry of its start).
    fn stop<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>>;
    /// Runs the bot's newest stored version: reloaded when it runs, started otherwise.
    fn reload<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>>;
    /// Asks the Bot API the host runs token bots against (`telegram.api_url`: Telegram, or the
    /// sandbox under it) whose `token` is, with getMe: the dashboard checks a pasted token
    /// before storing it. `Err` says why it was refused, never holding the token. A host that
    /// cannot check keeps the default: refused.
    fn check_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenOwner, String>> {
        let _ = token;
        Box::pin(async { Err("this server does not check tokens".to_owned()) })
    }
    /// Stops the bot and removes it from the store: its record, versions, secrets and status,
    /// and its data unless `keep_data`. The answer says what was deleted (a JSON object). A
    /// host that cannot remove bots keeps the default: refused.
    fn remove<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Value, ControlError>> {
        let _ = (workspace, name, keep_data);
        Box::pin(async { Err(ControlError::Refused("this server does not remove bots".into())) })
    }
    /// Runs `source`, the workspace's bot `name`'s draft (already checked valid), as a
    /// throwaway bot against the sandbox for the try-it chat (decision 0056): its own id and an
    /// in-memory store, so neither the published bot nor its users' data are touched. A draft
    /// already running is reloaded with `source`; `restart` also starts a new conversation (a
    /// new sandbox user). A host that cannot run drafts keeps the default: refused.
    fn try_draft<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        source: &'a str,
        restart: bool,
    ) -> BoxFuture<'a, Result<DraftRun, ControlError>> {
        let _ = (workspace, name, source, restart);
        Box::pin(async { Err(ControlError::Refused("this server does not run drafts".into())) })
    }
    /// The origin (`http://host:port`) of the sandbox's web chat that [`BotControl::try_draft`]'s
    /// `chat_url` points at: the code view's page lets the browser frame it (its
    /// Content-Security-Policy's `frame-src`). `None` (the default): no drafts are run.
    fn draft_chat_origin(&self) -> Option<String> {
        None
    }
    /// Applies a block (`true`) or unblock of the bot's user `user`, already kept in the store,
    /// to the bot if the host runs it (decision 0047): its next update is handled accordingly,
    /// without a restart. A bot the host does not run reads its blocks from the store when it
    /// starts; a host that runs no bots keeps the default (nothing to do).
    fn user_blocked<'a>(&'a self, workspace: i64, name: &'a str, user: i64, blocked: bool) -> BoxFuture<'a, ()> {
        let _ = (workspace, name, user, blocked);
        Box::pin(async {})
    }
}

/// What the API routes need: the store (tokens, audit log), the bots, and the outgoing event
/// webhooks' egress rule and worker (`EventWebhooks::default()`: no private address allowed).
#[derive(Clone)]
pub struct Api {
    pub store: Arc<Store>,
    pub bots: Arc<dyn BotControl>,
    pub hooks: crate::event_webhooks::EventWebhooks,
}
