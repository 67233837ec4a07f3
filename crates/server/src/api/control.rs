//! `/api/v1/bots/{name}/status|start|stop|restart|reload`: a bot's state in the host that runs
//! it ([`crate::BotControl`], `serve`'s supervisor), and the actions on it (editor). Each
//! action is written to the audit log as `bot.start`, `bot.stop`, `bot.restart` or `bot.reload`
//! with the status after it; a bot the host does not know (or another workspace's) is 404, an
//! action the host refused is 409. `ferrogram bot start|stop|reload|status` calls these.

use axum::Json;
use axum::extract::{Path, State};
use ferrogram_store::Role;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::problem::{Problem, store_failed};
use crate::bots::{Api, BotStatus, ControlError};

/// A bot's state in the host.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusView {
    pub name: String,
    /// `starting`, `running`, `stopped`, `failing` or `unauthorized`.
    pub status: String,
    /// Unix seconds of the last change of `status`.
    pub since: i64,
    /// The version running (or last tried).
    pub version: Option<i64>,
    /// The last errors, oldest first.
    pub errors: Vec<ErrorView>,
    /// Failed starts since the last successful one.
    pub attempts: u32,
    /// Running, with its runtime dropped while idle.
    pub asleep: bool,
}

/// One recent error of a bot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorView {
    /// Unix seconds.
    pub at: i64,
    pub message: String,
}

impl From<&BotStatus> for StatusView {
    fn from(s: &BotStatus) -> Self {
        StatusView {
            name: s.name.clone(),
            status: s.status.as_str().to_owned(),
            since: s.since,
            version: s.version,
            errors: s.errors.iter().map(|e| ErrorView { at: e.at, message: e.message.clone() }).collect(),
            attempts: s.attempts,
            asleep: s.asleep,
        }
    }
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(bot_status))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(restart))
        .routes(routes!(reload))
}

fn answer(result: Result<BotStatus, ControlError>, name: &str) -> Result<Json<StatusView>, Problem> {
    match result {
        Ok(status) => Ok(Json(StatusView::from(&status))),
        Err(ControlError::UnknownBot) => Err(Problem::not_found(format!("no bot named {name}"))),
        Err(ControlError::Refused(message)) => Err(Problem::conflict(message)),
    }
}

/// Runs `action` (`start`, `stop`, `reload`, `restart`) on the bot (editor), audits it, answers
/// its status: the API's actions and the dashboard's buttons.
pub(crate) async fn act(api: &Api, caller: &Caller, name: &str, action: &str) -> Result<Json<StatusView>, Problem> {
    caller.require(Role::Editor)?;
    let (workspace, bots) = (caller.workspace, &api.bots);
    let result = match action {
        "start" => bots.start(workspace, name).await,
        "stop" => bots.stop(workspace, name).await,
        "reload" => bots.reload(workspace, name).await,
        _ => match bots.stop(workspace, name).await {
            Ok(_) => bots.start(workspace, name).await,
            Err(refused) => Err(refused),
        },
    };
    if !matches!(result, Err(ControlError::UnknownBot)) {
        let detail = match &result {
            Ok(status) => json!({"status": status.status.as_str(), "version": status.version}),
            Err(ControlError::Refused(message)) => json!({"error": message}),
            Err(ControlError::UnknownBot) => Value::Null,
        };
        audit(api, caller, &format!("bot.{action}"), name, detail).await;
    }
    if matches!(result, Err(ControlError::UnknownBot)) && action != "start" {
        not_run(api, caller, name).await?;
    }
    answer(result, name)
}

/// After the host said it does not know `name`: a bot of the workspace it does not run
/// (created through the API, never started) exists, so it is a 409, not a 404: there is no
/// state to read, nothing to stop or reload. `Ok` when there is no such bot (then 404).
async fn not_run(api: &Api, caller: &Caller, name: &str) -> Result<(), Problem> {
    let known = api.store.bot_named(caller.workspace, name).await.map_err(store_failed("reading the bot"))?;
    match known {
        Some(_) => Err(Problem::conflict(format!("{name} is not running on this server: start it first"))),
        None => Ok(()),
    }
}

/// The bot's state in the host, with its recent errors; 409 for a bot the host does not run.
#[utoipa::path(get, path = "/api/v1/bots/{name}/status", tag = "control", params(("name" = String, Path)),
    responses((status = 200, body = StatusView),
        (status = 409, description = "The server does not run this bot")))]
async fn bot_status(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<StatusView>, Problem> {
    caller.require(Role::Viewer)?;
    let result = api.bots.status(caller.workspace, &name).await;
    if matches!(result, Err(ControlError::UnknownBot)) {
        not_run(&api, &caller, &name).await?;
    }
    answer(result, &name)
}

/// Starts the bot from its newest version (editor); nothing when it runs.
#[utoipa::path(post, path = "/api/v1/bots/{name}/start", tag = "control", params(("name" = String, Path)),
    responses((status = 200, body = StatusView),
        (status = 409, description = "The host refused the action")))]
async fn start(State(api): State<Api>, caller: Caller, Path(name): Path<String>) -> Result<Json<StatusView>, Problem> {
    act(&api, &caller, &name, "start").await
}

/// Stops the bot (editor).
#[utoipa::path(post, path = "/api/v1/bots/{name}/stop", tag = "control", params(("name" = String, Path)),
    responses((status = 200, body = StatusView),
        (status = 409, description = "The host refused the action")))]
async fn stop(State(api): State<Api>, caller: Caller, Path(name): Path<String>) -> Result<Json<StatusView>, Problem> {
    act(&api, &caller, &name, "stop").await
}

/// Stops the bot, then starts it from its newest version (editor).
#[utoipa::path(post, path = "/api/v1/bots/{name}/restart", tag = "control", params(("name" = String, Path)),
    responses((status = 200, body = StatusView),
        (status = 409, description = "The host refused the action")))]
async fn restart(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<StatusView>, Problem> {
    act(&api, &caller, &name, "restart").await
}

/// Runs the bot's newest version (editor): reloaded in place when it runs, started otherwise.
#[utoipa::path(post, path = "/api/v1/bots/{name}/reload", tag = "control", params(("name" = String, Path)),
    responses((status = 200, body = StatusView),
        (status = 409, description = "The host refused the action")))]
async fn reload(State(api): State<Api>, caller: Caller, Path(name): Path<String>) -> Result<Json<StatusView>, Problem> {
    act(&api, &caller, &name, "reload").await
}
