//! `/api/v1/bots/{name}/broadcasts…`: a message sent to a bot's users — all of them, or those
//! whose variables or records match —, now or at a time, with its progress (sent, failed,
//! blocked by the user), paused, resumed and cancelled. The sending is the server's broadcast
//! runner's (`crate::broadcasts`, decision 0048). Viewers read; editors create and act; every
//! change is audited. A broadcast whose audience is empty is refused (422) and nothing is made.
//! `…/broadcasts/preview` shows a message as one user would get it (its text rendered with
//! their variables, decision 0055) and how many users the audience holds, changing nothing.
//!
//! The work of each route is a public function ([`list`], [`create`], [`get`], [`act`],
//! [`preview`]) that the dashboard's broadcasts page calls too (decision 0049).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use ferrogram_store::{BotRecord, Broadcast, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::bots::find;
use super::idempotency::{Created, once};
use super::pagination::{self, Page};
use super::problem::{FieldError, Problem, store_failed};
use super::versions::now;
use crate::bots::Api;
use crate::broadcasts::audience::{Audience, resolve};
use crate::broadcasts::message::{Button, Message};
use crate::broadcasts::personal::Personal;

/// The latest a broadcast may be scheduled: a year ahead, in seconds.
const MAX_AHEAD: i64 = 366 * 24 * 60 * 60;

/// A broadcast to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    pub message: Message,
    /// Whom to; absent or `{}`: every user the bot has seen.
    #[serde(default)]
    pub audience: Audience,
    /// When to start (Unix seconds, at most a year ahead); now when absent or past.
    #[schema(minimum = 0)]
    pub scheduled_at: Option<i64>,
}

/// How far a broadcast got.
#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    /// Recipients, known once it started (its audience resolved then); `null` before.
    pub total: Option<i64>,
    pub sent: i64,
    /// Refused by Telegram, or failed after it may have been delivered (never repeated).
    pub failed: i64,
    /// Telegram's 403: the user blocked the bot.
    pub blocked: i64,
    /// Not sent yet.
    pub pending: i64,
}

/// A broadcast.
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastView {
    pub id: i64,
    /// The bot's name.
    pub bot: String,
    /// `scheduled`, `running`, `paused`, `cancelled` or `done`.
    pub state: String,
    pub message: Message,
    pub audience: Audience,
    /// Unix seconds.
    pub scheduled_at: i64,
    pub progress: Progress,
    /// Why it ended without sending: its audience could not be resolved at its start.
    pub error: Option<String>,
    /// Who made it: `token:ID` or `account:ID`.
    pub created_by: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// The broadcast list's filter and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BroadcastFilter {
    /// Only broadcasts in this state.
    #[param(pattern = "^(scheduled|running|paused|cancelled|done)$")]
    pub state: Option<String>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A message to preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub message: Message,
    /// Whom it would go to; absent or `{}`: every user the bot has seen.
    #[serde(default)]
    pub audience: Audience,
    /// The user to show it for (one the bot has seen); the audience's first when absent.
    pub user: Option<i64>,
}

/// A message as one user would get it, and how many would.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    /// Users in the audience now (it is resolved again when the broadcast starts).
    pub audience: i64,
    /// The user it is shown for (`id`, `first_name`, `last_name`, `username`); `null` when the
    /// audience is empty and none was named: the text is then rendered with no variables.
    #[schema(value_type = Option<Object>)]
    pub user: Option<serde_json::Value>,
    /// Whether that user is in the audience.
    pub in_audience: bool,
    /// The text (or caption) that user gets: the message's, its template rendered.
    pub text: String,
    /// Whether the text is a template (it differs per user).
    pub personal: bool,
    pub parse_mode: Option<String>,
    /// The buttons under it, as Telegram lays them out.
    pub buttons: Vec<Vec<Button>>,
    /// The Bot API method the message is sent with (`sendMessage`, `sendPhoto`, `sendDocument`).
    pub method: String,
    /// Its parameters for that user.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

const STATES: [&str; 5] = ["scheduled", "running", "paused", "cancelled", "done"];

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_broadcasts, create_broadcast))
        .routes(routes!(preview_broadcast))
        .routes(routes!(get_broadcast))
        .routes(routes!(pause_broadcast))
        .routes(routes!(resume_broadcast))
        .routes(routes!(cancel_broadcast))
}

fn view(bot: &BotRecord, b: Broadcast) -> Result<BroadcastView, Problem> {
    let message = serde_json::from_str(&b.message).map_err(|e| Problem::internal("reading a broadcast", e))?;
    let audience = serde_json::from_str(&b.audience).map_err(|e| Problem::internal("reading a broadcast", e))?;
    let progress =
        Progress { total: b.total, sent: b.sent, failed: b.failed, blocked: b.blocked, pending: b.pending() };
    Ok(BroadcastView {
        id: b.id,
        bot: bot.name.clone(),
        state: b.state,
        message,
        audience,
        scheduled_at: b.scheduled_at,
        progress,
        error: b.error,
        created_by: b.created_by,
        created_at: b.created_at,
        started_at: b.started_at,
        finished_at: b.finished_at,
    })
}

/// The broadcast `id` of the caller's `bot` (404 when there is none, ids that are not numbers
/// included).
async fn one(api: &Api, caller: &Caller, bot: &BotRecord, id: &str) -> Result<Broadcast, Problem> {
    let unknown = || Problem::not_found(format!("{} has no broadcast {id}", bot.name));
    let id = id.parse::<i64>().map_err(|_| unknown())?;
    let found =
        api.store.broadcast(caller.workspace, bot.id, id).await.map_err(store_failed("reading the broadcast"))?;
    found.ok_or_else(unknown)
}

/// The bot's broadcasts, newest first.
#[utoipa::path(get, path = "/api/v1/bots/{name}/broadcasts", tag = "broadcasts",
    params(("name" = String, Path), BroadcastFilter),
    responses((status = 200, body = Page<BroadcastView>)))]
async fn list_broadcasts(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(filter): Params<BroadcastFilter>,
) -> Result<Json<Page<BroadcastView>>, Problem> {
    Ok(Json(list(&api, &caller, &name, &filter).await?))
}

/// The bot `name`'s broadcasts, newest first (viewer).
pub async fn list(
    api: &Api,
    caller: &Caller,
    name: &str,
    filter: &BroadcastFilter,
) -> Result<Page<BroadcastView>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let before = pagination::key_of(filter.cursor.as_deref())?.unwrap_or(i64::MAX);
    if let Some(state) = filter.state.as_deref().filter(|s| !STATES.contains(s)) {
        return Err(Problem::bad_request(format!("no broadcast state `{state}`"))
            .with_errors(vec![FieldError::parameter("state", "scheduled, running, paused, cancelled or done")]));
    }
    let bot = find(api, caller, name).await?;
    let rows = api.store.broadcasts_page(caller.workspace, bot.id, filter.state.as_deref(), before, limit + 1).await;
    let rows = rows.map_err(store_failed("reading the broadcasts"))?;
    let views = rows.into_iter().map(|b| view(&bot, b)).collect::<Result<Vec<_>, _>>()?;
    Ok(pagination::page(views, limit, |b| b.id, |b| b))
}

/// Makes a broadcast: started at once (its audience resolved now), or at `scheduled_at`
/// (resolved then). An empty audience is a 422 and nothing is made. Takes `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/bots/{name}/broadcasts", tag = "broadcasts",
    params(("name" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "repeat-safe creation (24 h)",
            min_length = 1, max_length = 255, pattern = r"^[\t\x20-\x7E]*[\x21-\x7E][\t\x20-\x7E]*$")),
    request_body = BroadcastRequest,
    responses((status = 201, body = BroadcastView),
        (status = 409, description = "An `Idempotency-Key` whose first request is still being answered, or a bot whose newest version does not load (for a collection audience)")))]
async fn create_broadcast(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: JsonBody<BroadcastRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::Editor)?;
    find(&api, &caller, &name).await?;
    let act = async {
        let made = create(&api, &caller, &name, &body.value).await?;
        let location = format!("/api/v1/bots/{name}/broadcasts/{}", made.id);
        let mut created = Created::new(serde_json::to_value(made).map_err(|e| Problem::internal("answering", e))?);
        created.location = Some(location);
        Ok(created)
    };
    Ok(once(&api, &caller, &headers, &format!("POST /api/v1/bots/{name}/broadcasts"), &body.raw, act).await)
}

/// What is wrong with a message's shape, its text's template included, at `/message…`.
async fn message_problems(api: &Api, bot: &BotRecord, message: &Message) -> Vec<FieldError> {
    let mut errors = message.problems("/message");
    if errors.is_empty()
        && Personal::varies(message)
        && let Err(why) = Personal::compile(api, bot, message).await
    {
        errors.push(FieldError::at("/message/text", format!("the template does not compile: {why}")));
    }
    errors
}

/// Makes a broadcast of the bot `name` (editor): started at once, its audience resolved now,
/// or at `scheduled_at`. A refused request (422: the failing fields; an empty audience at
/// `/audience`) makes nothing. Audited as `broadcast.create`.
pub async fn create(
    api: &Api,
    caller: &Caller,
    name: &str,
    request: &BroadcastRequest,
) -> Result<BroadcastView, Problem> {
    caller.require(Role::Editor)?;
    let bot = find(api, caller, name).await?;
    let mut errors = message_problems(api, &bot, &request.message).await;
    errors.extend(request.audience.problems("/audience"));
    let at = now();
    match request.scheduled_at {
        Some(when) if when < 0 || when > at + MAX_AHEAD => {
            errors.push(FieldError::at("/scheduled_at", "Unix seconds, at most a year ahead"));
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Err(Problem::invalid("the broadcast is not acceptable", errors));
    }
    let chats = resolve(api, caller.workspace, &bot, &request.audience, "/audience").await?;
    if chats.is_empty() {
        let why = if bot.telegram_id.is_none() {
            format!("{name} has never run: it has no users yet")
        } else {
            "no user of the bot is in this audience".to_owned()
        };
        return Err(Problem::invalid("the audience is empty", vec![FieldError::at("/audience", why)]));
    }
    let scheduled_at = request.scheduled_at.unwrap_or(at).max(at);
    let stored = |e| Problem::internal("saving the broadcast", e);
    let message = serde_json::to_string(&request.message).map_err(|e| Problem::internal("saving", e))?;
    let audience = serde_json::to_string(&request.audience).map_err(|e| Problem::internal("saving", e))?;
    let mut tx = api.store.transaction().await.map_err(stored)?;
    let id = tx
        .broadcast_create(caller.workspace, bot.id, &message, &audience, scheduled_at, &caller.actor())
        .await
        .map_err(stored)?
        .ok_or_else(|| Problem::not_found(format!("no bot named {name}")))?;
    if scheduled_at <= at {
        tx.broadcast_add_recipients(id, &chats).await.map_err(stored)?;
        tx.broadcast_begin(id, chats.len() as i64, None).await.map_err(stored)?;
    }
    tx.commit().await.map_err(stored)?;
    let detail = json!({"recipients": chats.len(), "scheduled_at": scheduled_at});
    audit(api, caller, "broadcast.create", &format!("{name}/{id}"), detail).await;
    view(&bot, one(api, caller, &bot, &id.to_string()).await?)
}

/// Shows a message as one of the bot's users would get it — its text rendered with that
/// user's variables, its buttons — and how many users the audience holds now. Changes nothing.
#[utoipa::path(post, path = "/api/v1/bots/{name}/broadcasts/preview", tag = "broadcasts",
    params(("name" = String, Path)),
    request_body = PreviewRequest,
    responses((status = 200, body = PreviewView),
        (status = 409, description = "A bot whose newest version does not load (for a collection audience)")))]
async fn preview_broadcast(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    body: JsonBody<PreviewRequest>,
) -> Result<Json<PreviewView>, Problem> {
    Ok(Json(preview(&api, &caller, &name, &body.value).await?))
}

/// The preview of `request` for the bot `name` (viewer: it only reads). A message or audience
/// that would be refused is refused the same way (422), but an empty audience is an answer
/// (`audience: 0`), not a refusal; a named `user` the bot has never seen is a 422 at `/user`.
pub async fn preview(api: &Api, caller: &Caller, name: &str, request: &PreviewRequest) -> Result<PreviewView, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(api, caller, name).await?;
    let mut errors = message_problems(api, &bot, &request.message).await;
    errors.extend(request.audience.problems("/audience"));
    if !errors.is_empty() {
        return Err(Problem::invalid("the broadcast is not acceptable", errors));
    }
    let chats = resolve(api, caller.workspace, &bot, &request.audience, "/audience").await?;
    let sample = request.user.or_else(|| chats.first().copied());
    let read = store_failed("reading the user");
    let (user, ctx) = match (sample, bot.telegram_id) {
        (Some(user), Some(data)) => {
            let Some(seen) = api.store.bot_user(data, user).await.map_err(read)? else {
                let why = format!("{name} has never seen the user {user}");
                return Err(Problem::invalid("no such user", vec![FieldError::at("/user", why)]));
            };
            let ctx = Personal::context(api, data, user).await.map_err(store_failed("reading the variables"))?;
            let shown = json!({"id": user, "first_name": seen["first_name"], "last_name": seen["last_name"],
                "username": seen["username"]});
            (Some(shown), ctx)
        }
        (Some(user), None) => {
            let why = format!("{name} has never run: it has seen no user {user}");
            return Err(Problem::invalid("no such user", vec![FieldError::at("/user", why)]));
        }
        (None, _) => (None, json!({"user": {}, "from": {}})),
    };
    let personal = Personal::varies(&request.message);
    let text = if personal {
        let compiled = Personal::compile(api, &bot, &request.message).await;
        compiled.and_then(|p| p.render(&ctx)).map_err(|why| {
            Problem::invalid(
                "the text does not render",
                vec![FieldError::at("/message/text", format!("for this user: {why}"))],
            )
        })?
    } else {
        request.message.text.clone()
    };
    let chat = sample.unwrap_or(0);
    let (method, params) = request.message.call_as(chat, &text);
    Ok(PreviewView {
        audience: chats.len() as i64,
        in_audience: sample.is_some_and(|user| chats.contains(&user)),
        user,
        text,
        personal,
        parse_mode: request.message.parse_mode.clone(),
        buttons: request.message.buttons.clone(),
        method: method.to_owned(),
        params,
    })
}

/// One broadcast with its progress.
#[utoipa::path(get, path = "/api/v1/bots/{name}/broadcasts/{id}", tag = "broadcasts",
    params(("name" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = BroadcastView)))]
async fn get_broadcast(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<BroadcastView>, Problem> {
    Ok(Json(get(&api, &caller, &name, &id).await?))
}

/// The broadcast `id` of the bot `name` with its progress (viewer).
pub async fn get(api: &Api, caller: &Caller, name: &str, id: &str) -> Result<BroadcastView, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(api, caller, name).await?;
    view(&bot, one(api, caller, &bot, id).await?)
}

/// Moves the broadcast to `to` (`paused`, `running` or `cancelled`; 409 when its state does not
/// allow it), audited as `broadcast.ACTION` (`pause`, `resume`, `cancel`). Editor.
pub async fn act(
    api: &Api,
    caller: &Caller,
    name: &str,
    id: &str,
    to: &str,
    action: &str,
) -> Result<BroadcastView, Problem> {
    caller.require(Role::Editor)?;
    let bot = find(api, caller, name).await?;
    let found = one(api, caller, &bot, id).await?;
    let moved = api.store.broadcast_transition(caller.workspace, bot.id, found.id, to).await;
    if !moved.map_err(store_failed("changing the broadcast"))? {
        let now = one(api, caller, &bot, id).await?;
        let done = match action {
            "pause" => "paused",
            "resume" => "resumed",
            _ => "cancelled",
        };
        return Err(Problem::conflict(format!("a {} broadcast cannot be {done}", now.state)));
    }
    audit(api, caller, &format!("broadcast.{action}"), &format!("{name}/{}", found.id), json!({"from": found.state}))
        .await;
    view(&bot, one(api, caller, &bot, id).await?)
}

/// Pauses a running broadcast: the batch being sent finishes, no more is sent until resumed.
#[utoipa::path(post, path = "/api/v1/bots/{name}/broadcasts/{id}/pause", tag = "broadcasts",
    params(("name" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = BroadcastView), (status = 409, description = "It is not running")))]
async fn pause_broadcast(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<BroadcastView>, Problem> {
    Ok(Json(act(&api, &caller, &name, &id, "paused", "pause").await?))
}

/// Resumes a paused broadcast where it stopped: no one gets it twice.
#[utoipa::path(post, path = "/api/v1/bots/{name}/broadcasts/{id}/resume", tag = "broadcasts",
    params(("name" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = BroadcastView), (status = 409, description = "It is not paused")))]
async fn resume_broadcast(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<BroadcastView>, Problem> {
    Ok(Json(act(&api, &caller, &name, &id, "running", "resume").await?))
}

/// Cancels a broadcast that is scheduled, running or paused: the batch being sent finishes,
/// the rest is never sent.
#[utoipa::path(post, path = "/api/v1/bots/{name}/broadcasts/{id}/cancel", tag = "broadcasts",
    params(("name" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = BroadcastView), (status = 409, description = "It is done or cancelled already")))]
async fn cancel_broadcast(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<BroadcastView>, Problem> {
    Ok(Json(act(&api, &caller, &name, &id, "cancelled", "cancel").await?))
}
