//! `/api/v1/secrets` and `/api/v1/bots/{name}/secrets`: the stored secrets bot files read as
//! `${NAME}` (decision 0044), the workspace's and each bot's, as `ferrogram secrets set|list|
//! delete` keeps them (the same store functions, the same name rule: [`check_name`]). Admin
//! only. A value is write-only: it goes in with a PUT and never comes out: lists and answers
//! give names, the key id and times, and the audit log the name and scope. A running `serve`
//! reads a changed secret at the bot's next start or reload.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrogram_store::{BOT_TOKEN, MAX_SECRET_NAME, MAX_SECRET_VALUE, Role, SecretInfo};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::bots::find;
use super::pagination::{self, Page, PageQuery};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// A name bot files can read as `${NAME}` (letters, digits and `_`, at most
/// [`MAX_SECRET_NAME`]) and not the bots' token's: why not, when it is not. Shared by the API
/// and `ferrogram secrets set`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name == BOT_TOKEN {
        return Err(format!("`{BOT_TOKEN}` is kept for the bots' tokens (`bot add --token`)"));
    }
    if !ferrogram_engine::BotEnv::is_name(name) || name.len() > MAX_SECRET_NAME {
        return Err(format!(
            "{name:?} is not a secret name bot files can read as ${{NAME}}: letters, digits and _, at most \
             {MAX_SECRET_NAME} characters"
        ));
    }
    Ok(())
}

/// A stored secret's description: never its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretView {
    pub name: String,
    /// The bot whose secret it is; `null` for the workspace's (every bot of it reads it).
    pub bot: Option<String>,
    /// The id of the key it is sealed under.
    pub key_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

fn view(info: SecretInfo, bot: Option<&str>) -> SecretView {
    SecretView {
        name: info.name,
        bot: bot.map(str::to_owned),
        key_id: info.key_id,
        created_at: info.created_at,
        updated_at: info.updated_at,
    }
}

/// A secret's new value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// The value: 1 to 65,536 bytes. Never shown again.
    #[schema(min_length = 1, max_length = 65536)]
    pub value: String,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_workspace_secrets))
        .routes(routes!(set_workspace_secret, delete_workspace_secret))
        .routes(routes!(list_bot_secrets))
        .routes(routes!(set_bot_secret, delete_bot_secret))
}

/// The bot's id and name, or the workspace's scope (`None`); 404 for an unknown bot.
async fn owner(api: &Api, caller: &Caller, bot: Option<&str>) -> Result<Option<(i64, String)>, Problem> {
    match bot {
        None => Ok(None),
        Some(name) => Ok(Some((find(api, caller, name).await?.id, name.to_owned()))),
    }
}

/// `workspace` or `bot NAME`, for the audit log.
fn scope(bot: &Option<(i64, String)>) -> String {
    match bot {
        None => "workspace".to_owned(),
        Some((_, name)) => format!("bot {name}"),
    }
}

async fn list(
    api: &Api,
    caller: &Caller,
    bot: Option<&str>,
    filter: PageQuery,
) -> Result<Json<Page<SecretView>>, Problem> {
    caller.require(Role::Admin)?;
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::text_key_of(filter.cursor.as_deref())?;
    let owner = owner(api, caller, bot).await?;
    let id = owner.as_ref().map(|(id, _)| *id);
    let mut secrets: Vec<SecretInfo> = api
        .store
        .secrets(caller.workspace)
        .await
        .map_err(store_failed("reading the secrets"))?
        .into_iter()
        .filter(|secret| secret.bot == id)
        .filter(|secret| after.as_deref().is_none_or(|after| secret.name.as_str() > after))
        .collect();
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    let name = owner.as_ref().map(|(_, name)| name.as_str());
    Ok(Json(pagination::page_by_text(secrets, limit, |s| s.name.clone(), |s| view(s, name))))
}

async fn set(
    api: &Api,
    caller: &Caller,
    bot: Option<&str>,
    name: &str,
    body: JsonBody<SecretValue>,
) -> Result<Response, Problem> {
    caller.require(Role::Admin)?;
    let owner = owner(api, caller, bot).await?;
    let mut errors = Vec::new();
    if let Err(message) = check_name(name) {
        errors.push(FieldError::parameter("secret", message));
    }
    let value = &body.value.value;
    if value.is_empty() || value.len() > MAX_SECRET_VALUE {
        errors.push(FieldError::at("/value", format!("1 to {MAX_SECRET_VALUE} bytes, not {}", value.len())));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid("the secret is not acceptable; nothing saved", errors));
    }
    let id = owner.as_ref().map(|(id, _)| *id);
    let existed =
        api.store.has_secret(caller.workspace, id, name).await.map_err(store_failed("reading the secrets"))?;
    let put =
        api.store.put_secret(caller.workspace, id, name, value).await.map_err(store_failed("saving the secret"))?;
    if !put {
        return Err(Problem::not_found("the bot is gone; nothing saved"));
    }
    let detail =
        json!({"name": name, "scope": scope(&owner), "replaced": existed, "key_id": api.store.secret_key_id()});
    audit(api, caller, "secrets.set", name, detail).await;
    let secrets = api.store.secrets(caller.workspace).await.map_err(store_failed("reading the secrets"))?;
    let saved = secrets.into_iter().find(|s| s.bot == id && s.name == name);
    let saved = saved.ok_or_else(|| Problem::not_found(format!("the secret {name} is gone")))?;
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(view(saved, owner.as_ref().map(|(_, name)| name.as_str())))).into_response())
}

async fn delete(api: &Api, caller: &Caller, bot: Option<&str>, name: &str) -> Result<StatusCode, Problem> {
    caller.require(Role::Admin)?;
    let owner = owner(api, caller, bot).await?;
    if name == BOT_TOKEN && owner.is_some() {
        return Err(Problem::invalid(
            "the bot's token is replaced by a new version's token, never deleted alone; nothing deleted",
            vec![FieldError::parameter("secret", format!("`{BOT_TOKEN}` is the bot's token"))],
        ));
    }
    let id = owner.as_ref().map(|(id, _)| *id);
    let deleted =
        api.store.delete_secret(caller.workspace, id, name).await.map_err(store_failed("deleting the secret"))?;
    if !deleted {
        return Err(Problem::not_found(format!("no secret {name} of the {}", scope(&owner))));
    }
    audit(api, caller, "secrets.delete", name, json!({"name": name, "scope": scope(&owner)})).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The workspace's own secrets (every bot of it reads them), by name; never a value (admin).
#[utoipa::path(get, path = "/api/v1/secrets", tag = "secrets", params(PageQuery),
    responses((status = 200, body = Page<SecretView>)))]
async fn list_workspace_secrets(
    State(api): State<Api>,
    caller: Caller,
    Params(filter): Params<PageQuery>,
) -> Result<Json<Page<SecretView>>, Problem> {
    list(&api, &caller, None, filter).await
}

/// Sets (201) or replaces (200) a secret of the workspace (admin); the value is never shown.
#[utoipa::path(put, path = "/api/v1/secrets/{secret}", tag = "secrets", request_body = SecretValue,
    params(("secret" = String, Path, description = "the name bot files read as ${NAME}", pattern = "^[A-Za-z0-9_]{1,64}$")),
    responses((status = 200, body = SecretView, description = "replaced"),
        (status = 201, body = SecretView, description = "set")))]
async fn set_workspace_secret(
    State(api): State<Api>,
    caller: Caller,
    Path(secret): Path<String>,
    body: JsonBody<SecretValue>,
) -> Result<Response, Problem> {
    set(&api, &caller, None, &secret, body).await
}

/// Deletes a secret of the workspace (admin).
#[utoipa::path(delete, path = "/api/v1/secrets/{secret}", tag = "secrets",
    params(("secret" = String, Path)), responses((status = 204, description = "deleted")))]
async fn delete_workspace_secret(
    State(api): State<Api>,
    caller: Caller,
    Path(secret): Path<String>,
) -> Result<StatusCode, Problem> {
    delete(&api, &caller, None, &secret).await
}

/// The bot's own secrets (read before the workspace's of the same name; `token` is its
/// token), by name; never a value (admin).
#[utoipa::path(get, path = "/api/v1/bots/{name}/secrets", tag = "secrets",
    params(("name" = String, Path), PageQuery), responses((status = 200, body = Page<SecretView>)))]
async fn list_bot_secrets(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(filter): Params<PageQuery>,
) -> Result<Json<Page<SecretView>>, Problem> {
    list(&api, &caller, Some(&name), filter).await
}

/// Sets (201) or replaces (200) a secret of the bot (admin); the value is never shown.
#[utoipa::path(put, path = "/api/v1/bots/{name}/secrets/{secret}", tag = "secrets", request_body = SecretValue,
    params(("name" = String, Path),
        ("secret" = String, Path, description = "the name bot files read as ${NAME}", pattern = "^[A-Za-z0-9_]{1,64}$")),
    responses((status = 200, body = SecretView, description = "replaced"),
        (status = 201, body = SecretView, description = "set")))]
async fn set_bot_secret(
    State(api): State<Api>,
    caller: Caller,
    Path((name, secret)): Path<(String, String)>,
    body: JsonBody<SecretValue>,
) -> Result<Response, Problem> {
    set(&api, &caller, Some(&name), &secret, body).await
}

/// Deletes a secret of the bot (admin); its `token` is not deleted this way (422).
#[utoipa::path(delete, path = "/api/v1/bots/{name}/secrets/{secret}", tag = "secrets",
    params(("name" = String, Path), ("secret" = String, Path)), responses((status = 204, description = "deleted")))]
async fn delete_bot_secret(
    State(api): State<Api>,
    caller: Caller,
    Path((name, secret)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    delete(&api, &caller, Some(&name), &secret).await
}
