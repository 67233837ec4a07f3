//! `/api/v1/bots/{name}/users…`: the Telegram users a bot has seen (its directory,
//! `bot_users`), paginated by user id and searchable by id, name or username, and one user with
//! their variables (`user.*`) and their conversation state in their private chat (scene, the
//! `call` stack, the form being filled in). Any role reads; an editor blocks and unblocks a user
//! (decision 0047: kept in the store, applied to the running bot through [`crate::BotControl`],
//! audited as `user.block` and `user.unblock`). A bot's data is kept under the id it runs as
//! ([`super::bots::data_id`]): a bot that never ran has no users yet.

use axum::Json;
use axum::extract::{Path, State};
use ferrogram_engine::Scope;
use ferrogram_store::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::Params;
use super::bots::{data_id, find};
use super::pagination::{self, Page};
use super::problem::{Problem, store_failed};
use crate::bots::Api;

/// A user the bot has seen, as Telegram last described them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The Telegram user id.
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds; lags by up to the store's directory refresh interval.
    pub last_seen: i64,
    /// Whether the user is blocked: their updates are stored, but no handler runs for them and
    /// the bot answers nothing.
    pub blocked: bool,
    /// When they were blocked (Unix seconds), if they are.
    pub blocked_at: Option<i64>,
    /// Who blocked them (`token:ID`, `account:ID`), if they are.
    pub blocked_by: Option<String>,
}

/// A user with their variables and conversation state.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: UserView,
    /// The user's variables (`user.NAME` in the bot file), by name.
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// Where the user's private chat with the bot stands; `null` before the bot saved any.
    pub conversation: Option<Conversation>,
}

/// A chat's conversation state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conversation {
    /// The current scene; `null`: the start scene.
    pub scene: Option<String>,
    /// Scenes a `return` comes back to, innermost last.
    pub stack: Vec<String>,
    /// The form being filled in (its name, the field asked, the answers so far), if any.
    #[schema(value_type = Option<Object>)]
    pub form: Option<Value>,
}

/// The user list's search and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only users whose id is this, or whose name or username contains it (`@` ignored).
    pub search: Option<String>,
    /// Only the blocked users (`true`) or the others (`false`).
    pub blocked: Option<bool>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user))
        .routes(routes!(block_user))
        .routes(routes!(unblock_user))
}

fn user_view(value: Value) -> Result<UserView, Problem> {
    serde_json::from_value(value).map_err(|e| Problem::internal("reading a user", e))
}

/// The users the bot has seen, by id ascending.
#[utoipa::path(get, path = "/api/v1/bots/{name}/users", tag = "users", params(("name" = String, Path), UserFilter),
    responses((status = 200, body = Page<UserView>)))]
async fn list_users(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(filter): Params<UserFilter>,
) -> Result<Json<Page<UserView>>, Problem> {
    Ok(Json(list(&api, &caller, &name, &filter).await?))
}

/// The users of the workspace's bot `name` (any role), a page of them by id ascending, read
/// from the store one page at a time (never the whole directory).
pub(crate) async fn list(
    api: &Api,
    caller: &Caller,
    name: &str,
    filter: &UserFilter,
) -> Result<Page<UserView>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::key_of(filter.cursor.as_deref())?.unwrap_or(i64::MIN);
    let bot = find(api, caller, name).await?;
    let Some(data) = data_id(&bot) else { return Ok(Page { items: Vec::new(), next_cursor: None }) };
    let rows = api.store.bot_users_page(data, filter.search.as_deref(), filter.blocked, after, limit + 1).await;
    let users =
        rows.map_err(store_failed("reading the users"))?.into_iter().map(user_view).collect::<Result<Vec<_>, _>>()?;
    Ok(pagination::page(users, limit, |u| u.id, |u| u))
}

/// One user, with their variables and conversation state.
#[utoipa::path(get, path = "/api/v1/bots/{name}/users/{id}", tag = "users",
    params(("name" = String, Path), ("id" = i64, Path, description = "the Telegram user id")),
    responses((status = 200, body = UserDetail)))]
async fn get_user(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<UserDetail>, Problem> {
    Ok(Json(detail(&api, &caller, &name, &id).await?))
}

/// The user `id` of the workspace's bot `name` (any role), with their variables and
/// conversation state.
pub(crate) async fn detail(api: &Api, caller: &Caller, name: &str, id: &str) -> Result<UserDetail, Problem> {
    caller.require(Role::Viewer)?;
    let (data, user) = known_user(api, caller, name, id).await?;
    let user_id = user.id;
    let variables = api.store.load_vars(data, Scope::User(user_id)).await.map_err(store_failed("reading variables"))?;
    // A user's private chat has the user's id.
    let state = api.store.load_chat(data, user_id).await.map_err(store_failed("reading the conversation"))?;
    let conversation = state.map(|state| Conversation {
        scene: state.scene,
        stack: state.stack.iter().map(|frame| frame.scene.clone()).collect(),
        form: state.form.as_ref().and_then(|form| serde_json::to_value(form).ok()),
    });
    Ok(UserDetail { user, variables, conversation })
}

/// The bot's data id and its user `id` (a string from the path); 404 for an unknown bot, a
/// bot that never ran, an id that is not a number or a user the bot has not seen.
async fn known_user(api: &Api, caller: &Caller, name: &str, id: &str) -> Result<(u64, UserView), Problem> {
    let bot = find(api, caller, name).await?;
    let unknown = || Problem::not_found(format!("{name} has no user {id}"));
    let user_id = id.parse::<i64>().map_err(|_| unknown())?;
    let data = data_id(&bot).ok_or_else(unknown)?;
    let user = api.store.bot_user(data, user_id).await.map_err(store_failed("reading the user"))?;
    Ok((data, user_view(user.ok_or_else(unknown)?)?))
}

/// Blocks the user (editor): their updates are still received and stored, but no handler runs
/// and the bot answers nothing, from their next update on, without a restart. Blocking a
/// blocked user changes nothing (they keep when and by whom they were first blocked).
#[utoipa::path(post, path = "/api/v1/bots/{name}/users/{id}/block", tag = "users",
    params(("name" = String, Path), ("id" = i64, Path, description = "the Telegram user id")),
    responses((status = 200, body = UserView)))]
async fn block_user(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<UserView>, Problem> {
    Ok(Json(set_blocked(&api, &caller, &name, &id, true).await?))
}

/// Unblocks the user (editor): their next update is handled again. Unblocking a user who is
/// not blocked changes nothing.
#[utoipa::path(post, path = "/api/v1/bots/{name}/users/{id}/unblock", tag = "users",
    params(("name" = String, Path), ("id" = i64, Path, description = "the Telegram user id")),
    responses((status = 200, body = UserView)))]
async fn unblock_user(
    State(api): State<Api>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<UserView>, Problem> {
    Ok(Json(set_blocked(&api, &caller, &name, &id, false).await?))
}

/// Keeps the block in the store, applies it to the running bot, audits a change, answers the
/// user as they now are.
pub(crate) async fn set_blocked(
    api: &Api,
    caller: &Caller,
    name: &str,
    id: &str,
    blocked: bool,
) -> Result<UserView, Problem> {
    caller.require(Role::Editor)?;
    let (data, user) = known_user(api, caller, name, id).await?;
    let changed = if blocked {
        let was = user.blocked;
        let block = api.store.block_user(data, user.id, &caller.actor()).await;
        // `None` only if the user left the directory meanwhile (the bot's data removed).
        block
            .map_err(store_failed("blocking the user"))?
            .ok_or_else(|| Problem::not_found(format!("{name} has no user {id}")))?;
        !was
    } else {
        api.store.unblock_user(data, user.id).await.map_err(store_failed("unblocking the user"))?
    };
    api.bots.user_blocked(caller.workspace, name, user.id, blocked).await;
    if changed {
        let action = if blocked { "user.block" } else { "user.unblock" };
        audit(api, caller, action, &format!("{name}/{}", user.id), json!({"user": user.id})).await;
    }
    let now = api.store.bot_user(data, user.id).await.map_err(store_failed("reading the user"))?;
    user_view(now.ok_or_else(|| Problem::not_found(format!("{name} has no user {id}")))?)
}
