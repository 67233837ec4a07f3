//! The bots' control API: what `ferrogram bot start|stop|reload|status NAME` calls on the
//! running server. The server does not run bots itself: the host (`serve`'s supervisor)
//! implements [`BotControl`] and hands it to [`crate::router_with`].
//!
//! | route | role needed | answer |
//! |---|---|---|
//! | `GET /api/v1/bots` | viewer | `{"bots": [status…]}`, the token's workspace's bots |
//! | `GET /api/v1/bots/{name}` | viewer | the bot's status |
//! | `POST /api/v1/bots/{name}/start` | editor | the status after the start (a failed start is retried) |
//! | `POST /api/v1/bots/{name}/stop` | editor | the status after the stop |
//! | `POST /api/v1/bots/{name}/reload` | editor | the status after reloading its newest version |
//! | `DELETE /api/v1/bots/{name}[?keep_data=true]` | admin | what was deleted (decision 0040) |
//!
//! Every request carries `Authorization: Bearer <api token>`, verified by the store
//! (`Store::verify_token`): without one, or with one unknown or revoked, 401; a role that may
//! not act, 403 (`Role::allows`). A bot of another workspace is answered as an unknown one:
//! 404. Errors are `{"error": "…"}`. Each action (not the reads) is written to the workspace's
//! audit log as `bot.start`, `bot.stop`, `bot.reload` or `bot.remove`, actor `token:ID`, target
//! the bot's name, detail the status after it (for a removal, what was deleted).
//!
//! A status is `{"name", "status", "since", "version", "errors": [...], "attempts"}`: `status` one
//! of `starting`, `running`, `stopped`, `failing`, `unauthorized`; `since` the Unix time of
//! the last change; `version` the version running (or last tried), `null` when none; `errors`
//! the last errors, oldest first, each `{"at", "message"}`; `attempts` the failed starts since
//! the last success.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, routing};
use ferrogram_engine::BoxFuture;
use ferrogram_store::{Role, Store, TokenAccess};
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
}

/// What the API routes need: the store (tokens, audit log) and the bots.
#[derive(Clone)]
pub struct Api {
    pub store: Arc<Store>,
    pub bots: Arc<dyn BotControl>,
}

/// The bots' routes, for [`crate::router_with`].
pub(crate) fn routes(api: Api) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/bots", routing::get(list))
        .route("/api/v1/bots/{name}", routing::get(status).delete(remove))
        .route("/api/v1/bots/{name}/{action}", routing::post(act))
        .with_state(api)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// The caller's access, when its bearer token is valid and its role allows `needed`.
async fn authorize(api: &Api, headers: &HeaderMap, needed: Role) -> Result<TokenAccess, Response> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let Some(token) = bearer else {
        return Err(error(StatusCode::UNAUTHORIZED, "an API token is needed: Authorization: Bearer TOKEN"));
    };
    let access = match api.store.verify_token(token).await {
        Ok(Some(access)) => access,
        Ok(None) => return Err(error(StatusCode::UNAUTHORIZED, "unknown or revoked API token")),
        Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("verifying the token: {e}"))),
    };
    if !access.role.allows(needed) {
        let message = format!("the token's role {} may not do this (it needs {needed})", access.role);
        return Err(error(StatusCode::FORBIDDEN, message));
    }
    Ok(access)
}

fn answer(result: Result<BotStatus, ControlError>, name: &str) -> Response {
    match result {
        Ok(status) => Json(status.to_json()).into_response(),
        Err(ControlError::UnknownBot) => error(StatusCode::NOT_FOUND, format!("no bot named {name}")),
        Err(ControlError::Refused(message)) => error(StatusCode::CONFLICT, message),
    }
}

async fn list(State(api): State<Api>, headers: HeaderMap) -> Response {
    let access = match authorize(&api, &headers, Role::Viewer).await {
        Ok(access) => access,
        Err(refused) => return refused,
    };
    let bots: Vec<Value> = api.bots.list(access.workspace).await.iter().map(BotStatus::to_json).collect();
    Json(json!({ "bots": bots })).into_response()
}

async fn status(State(api): State<Api>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    match authorize(&api, &headers, Role::Viewer).await {
        Ok(access) => answer(api.bots.status(access.workspace, &name).await, &name),
        Err(refused) => refused,
    }
}

async fn act(State(api): State<Api>, Path((name, action)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if !matches!(action.as_str(), "start" | "stop" | "reload") {
        return error(StatusCode::NOT_FOUND, format!("no action {action}: start, stop or reload"));
    }
    let access = match authorize(&api, &headers, Role::Editor).await {
        Ok(access) => access,
        Err(refused) => return refused,
    };
    let result = match action.as_str() {
        "start" => api.bots.start(access.workspace, &name).await,
        "stop" => api.bots.stop(access.workspace, &name).await,
        _ => api.bots.reload(access.workspace, &name).await,
    };
    if !matches!(result, Err(ControlError::UnknownBot)) {
        let detail = match &result {
            Ok(status) => json!({"status": status.status.as_str(), "version": status.version}),
            Err(ControlError::Refused(message)) => json!({"error": message}),
            Err(ControlError::UnknownBot) => Value::Null,
        };
        let actor = format!("token:{}", access.token);
        let written = api.store.audit(access.workspace, &actor, &format!("bot.{action}"), &name, &detail).await;
        if let Err(e) = written {
            tracing::error!(%e, bot = %name, "writing the audit log failed");
        }
    }
    answer(result, &name)
}

async fn remove(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let keep_data = match query.get("keep_data").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("keep_data={other}: true or false")),
    };
    let access = match authorize(&api, &headers, Role::Admin).await {
        Ok(access) => access,
        Err(refused) => return refused,
    };
    let removed = match api.bots.remove(access.workspace, &name, keep_data).await {
        Ok(removed) => removed,
        Err(ControlError::UnknownBot) => return error(StatusCode::NOT_FOUND, format!("no bot named {name}")),
        Err(ControlError::Refused(message)) => return error(StatusCode::CONFLICT, message),
    };
    let actor = format!("token:{}", access.token);
    if let Err(e) = api.store.audit(access.workspace, &actor, "bot.remove", &name, &removed).await {
        tracing::error!(%e, bot = %name, "writing the audit log failed");
    }
    Json(removed).into_response()
}
