//! `/api/v1/bots`: the workspace's bots, by name. Creating one takes its file (YAML or JSON)
//! and checks it as `ferrogram validate` does: with an error, 422 with every diagnostic (line,
//! column, key, hint) and nothing saved. A bot's representation carries its newest version's
//! `ETag` (`"vN"`), which changing it (publishing, rolling back: `versions.rs`) must send back
//! as `If-Match`. Its running state comes from the host ([`crate::BotControl`]): `control.rs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::{BOT_TOKEN, BotRecord, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::control::StatusView;
use super::idempotency::{Created, once};
use super::pagination::{self, Page};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::{Api, ControlError};

/// A bot file's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

/// A bot as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    /// Its newest version (the one a start runs), `null` when it has none.
    pub version: Option<i64>,
    /// The newest version's ETag, for `If-Match`.
    pub etag: Option<String>,
    /// Its state in the host, `null` when the host does not run it.
    pub status: Option<StatusView>,
}

/// A bot with its newest file.
#[derive(Debug, Serialize, ToSchema)]
pub struct BotDetail {
    #[serde(flatten)]
    pub bot: BotView,
    /// The newest version's file.
    pub source: Option<String>,
}

/// A bot to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotRequest {
    /// 1 to 64 of `A-Z a-z 0-9 _ - .`, starting with a letter or digit; unique in the workspace.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    pub name: String,
    /// The bot file.
    pub source: String,
    /// How `source` is written (`yaml` when absent).
    #[serde(default)]
    pub format: Format,
}

/// A created bot, with the file's warnings.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBot {
    #[serde(flatten)]
    pub bot: BotView,
    /// What `ferrogram validate` warns about (the file was accepted).
    pub warnings: Vec<FieldError>,
}

/// The bot list's filters and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BotFilter {
    /// Only bots whose name contains this.
    pub name: Option<String>,
    /// Only bots in this state (`running`, `stopped`…).
    pub status: Option<String>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(list_bots, create_bot)).routes(routes!(get_bot, remove_bot))
}

/// `DELETE /api/v1/bots/{name}`'s options.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveOptions {
    /// `true`: remove only the bot, its versions, token, secrets and status, and keep its data
    /// (users' and chats' state, collections, inbox, outbox) under its bot id (`false`).
    pub keep_data: Option<bool>,
}

/// The ETag of a bot's version `n`.
pub(crate) fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// The workspace's bot of this name, or 404 (also for another workspace's).
pub(crate) async fn find(api: &Api, caller: &Caller, name: &str) -> Result<BotRecord, Problem> {
    let found = api.store.bot_named(caller.workspace, name).await.map_err(store_failed("reading the bot"))?;
    found.ok_or_else(|| Problem::not_found(format!("no bot named {name}")))
}

/// The id the bot's data (users, chats, variables, collections) is kept under: the Telegram
/// bot id it runs as, which `serve` records at its first start; `None` before that (no data).
pub(crate) fn data_id(bot: &BotRecord) -> Option<u64> {
    bot.telegram_id
}

/// The bot's newest version number (0 when it has none).
pub(super) async fn newest(api: &Api, caller: &Caller, bot: &BotRecord) -> Result<i64, Problem> {
    let version = api.store.current_version(caller.workspace, bot.id).await.map_err(store_failed("reading the bot"))?;
    Ok(version.map_or(0, |v| v.version))
}

/// The file checked as `ferrogram validate` would: its warnings, or 422 with every diagnostic.
pub(super) fn check(source: &str, format: Format, pointer: &str) -> Result<Vec<FieldError>, Problem> {
    let file_name = match format {
        Format::Yaml => "bot.yaml",
        Format::Json => "bot.json",
    };
    let checked = ferrogram_schema::check_str(source, file_name);
    let errors = checked.has_errors();
    let diagnostics = checked
        .diagnostics
        .into_iter()
        .map(|d| FieldError {
            pointer: Some(pointer.to_owned()),
            parameter: None,
            detail: d.message.clone(),
            line: (d.line > 0).then_some(d.line),
            column: (d.line > 0).then_some(d.column),
            key: (!d.key.is_empty()).then_some(d.key.clone()),
            hint: d.hint.clone(),
            severity: Some(d.severity.to_string()),
        })
        .collect();
    if errors {
        return Err(Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid-bot-file"),
            "Invalid bot file",
            "the bot file has errors: nothing was saved",
        )
        .with_errors(diagnostics));
    }
    Ok(diagnostics)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

async fn view(api: &Api, caller: &Caller, bot: BotRecord, status: Option<StatusView>) -> Result<BotView, Problem> {
    let version = newest(api, caller, &bot).await?;
    let version = (version > 0).then_some(version);
    Ok(BotView { id: bot.id, name: bot.name, created_at: bot.created_at, version, etag: version.map(etag), status })
}

async fn status_of(api: &Api, caller: &Caller, name: &str) -> Option<StatusView> {
    api.bots.status(caller.workspace, name).await.ok().map(|s| StatusView::from(&s))
}

/// The workspace's bots, oldest first.
#[utoipa::path(get, path = "/api/v1/bots", tag = "bots", params(BotFilter),
    responses((status = 200, body = Page<BotView>)))]
async fn list_bots(
    State(api): State<Api>,
    caller: Caller,
    Params(filter): Params<BotFilter>,
) -> Result<Json<Page<BotView>>, Problem> {
    list(&api, &caller, &filter).await.map(Json)
}

/// The workspace's bots matching `filter` (viewer): the API's list and the dashboard's.
pub(crate) async fn list(api: &Api, caller: &Caller, filter: &BotFilter) -> Result<Page<BotView>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::key_of(filter.cursor.as_deref())?.unwrap_or(i64::MIN);
    let records = api.store.bots(caller.workspace).await.map_err(store_failed("reading the bots"))?;
    let statuses = api.bots.list(caller.workspace).await;
    let mut views = Vec::new();
    for bot in records.into_iter().filter(|b| b.id > after) {
        if filter.name.as_deref().is_some_and(|part| !bot.name.contains(part)) {
            continue;
        }
        let status = statuses.iter().find(|s| s.name == bot.name).map(StatusView::from);
        if let Some(wanted) = &filter.status
            && status.as_ref().is_none_or(|s| &s.status != wanted)
        {
            continue;
        }
        views.push(view(api, caller, bot, status).await?);
        if views.len() > limit as usize {
            break;
        }
    }
    Ok(pagination::page(views, limit, |b| b.id, |b| b))
}

/// Creates a bot from its file (editor); 422 with the file's diagnostics, and nothing saved,
/// when it has errors. Takes `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/bots", tag = "bots", request_body = BotRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe creation (24 h)",
            min_length = 1, max_length = 255, pattern = r"^[\t\x20-\x7E]*[\x21-\x7E][\t\x20-\x7E]*$")),
    responses((status = 201, body = CreatedBot),
        (status = 409, description = "The name is taken, or the `Idempotency-Key`'s first request is still being answered")))]
async fn create_bot(
    State(api): State<Api>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<BotRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::Editor)?;
    let request = &body.value;
    let act = async {
        let (created, version) = create(&api, &caller, request, None).await?;
        let mut answer = Created::new(serde_json::to_value(&created).map_err(|e| Problem::internal("answering", e))?);
        answer.etag = Some(etag(version));
        answer.location = Some(format!("/api/v1/bots/{}", request.name));
        Ok(answer)
    };
    Ok(once(&api, &caller, &headers, "POST /api/v1/bots", &body.raw, act).await)
}

/// Creates a bot from its file (editor), with its Telegram `token` stored as its own secret
/// (`token`, sealed as `ferrogram bot add --token` stores it) when given, in one transaction and
/// audited as `bot.create`: the API's creation and the dashboard's. A bad name is 422 at
/// `/name`, a file with errors 422 with every diagnostic at `/source`; nothing is saved then.
/// Returns the bot and its first version's number.
pub(crate) async fn create(
    api: &Api,
    caller: &Caller,
    request: &BotRequest,
    token: Option<&str>,
) -> Result<(CreatedBot, i64), Problem> {
    caller.require(Role::Editor)?;
    if !valid_name(&request.name) {
        let error = FieldError::at("/name", "1 to 64 of A-Z a-z 0-9 _ - ., starting with a letter or digit");
        return Err(Problem::invalid("the name is not acceptable", vec![error]));
    }
    let warnings = check(&request.source, request.format, "/source")?;
    if api.store.bot_named(caller.workspace, &request.name).await.map_err(store_failed("reading the bots"))?.is_some() {
        return Err(Problem::conflict(format!("there is already a bot named {}", request.name)));
    }
    let mut tx = api.store.transaction().await.map_err(store_failed("creating the bot"))?;
    let id = tx.create_bot(caller.workspace, &request.name, None).await.map_err(store_failed("creating the bot"))?;
    let id = id.ok_or_else(|| Problem::not_found("the workspace is gone"))?;
    let version = tx.save_version(caller.workspace, id, &request.source).await;
    let version = version.map_err(store_failed("saving the version"))?.unwrap_or(1);
    if let Some(token) = token {
        match tx.put_secret(caller.workspace, Some(id), BOT_TOKEN, token).await {
            Ok(_) => {}
            Err(ferrogram_store::Error::NoSecretKey) => {
                let error = FieldError::at("/token", "this server has no secret key to store tokens with");
                return Err(Problem::invalid("the token cannot be stored", vec![error]));
            }
            Err(e) => return Err(Problem::internal("storing the token", e)),
        }
    }
    let detail = json!({"version": version, "format": request.format, "token": token.is_some()});
    tx.audit(caller.workspace, &caller.actor(), "bot.create", &request.name, &detail)
        .await
        .map_err(store_failed("writing the audit log"))?;
    tx.commit().await.map_err(store_failed("creating the bot"))?;
    api.hooks.wake();
    let bot = find(api, caller, &request.name).await?;
    let status = status_of(api, caller, &request.name).await;
    Ok((CreatedBot { bot: view(api, caller, bot, status).await?, warnings }, version))
}

/// One bot, with its newest file; its `ETag` header is that version's.
#[utoipa::path(get, path = "/api/v1/bots/{name}", tag = "bots", params(("name" = String, Path)),
    responses((status = 200, body = BotDetail, headers(("ETag" = String)))))]
async fn get_bot(State(api): State<Api>, caller: Caller, Path(name): Path<String>) -> Result<Response, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(&api, &caller, &name).await?;
    let current = api.store.current_version(caller.workspace, bot.id).await.map_err(store_failed("reading the bot"))?;
    let status = status_of(&api, &caller, &name).await;
    let detail = BotDetail { bot: view(&api, &caller, bot, status).await?, source: current.map(|v| v.source) };
    let mut response = Json(&detail).into_response();
    if let Some(tag) = detail.bot.etag.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

/// Stops the bot and removes it (admin, decision 0040): its record, versions, stored token and
/// secrets, saved status, and its data unless `keep_data=true`. The answer says what was
/// deleted, table by table; it is written to the audit log as `bot.remove`.
#[utoipa::path(delete, path = "/api/v1/bots/{name}", tag = "bots", params(("name" = String, Path), RemoveOptions),
    responses((status = 200, description = "what was deleted", body = serde_json::Value),
        (status = 409, description = "The host refused to stop it")))]
async fn remove_bot(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(options): Params<RemoveOptions>,
) -> Result<Json<serde_json::Value>, Problem> {
    remove(&api, &caller, &name, options.keep_data.unwrap_or(false)).await.map(Json)
}

/// Stops and removes the bot (admin), audited as `bot.remove`: the API's removal and the
/// dashboard's. Returns what was deleted.
pub(crate) async fn remove(
    api: &Api,
    caller: &Caller,
    name: &str,
    keep_data: bool,
) -> Result<serde_json::Value, Problem> {
    caller.require(Role::Admin)?;
    let removed = match api.bots.remove(caller.workspace, name, keep_data).await {
        Ok(removed) => removed,
        Err(ControlError::UnknownBot) => return Err(Problem::not_found(format!("no bot named {name}"))),
        Err(ControlError::Refused(message)) => return Err(Problem::conflict(message)),
    };
    audit(api, caller, "bot.remove", name, removed.clone()).await;
    Ok(removed)
}
