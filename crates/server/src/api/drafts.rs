//! `/api/v1/bots/{name}/draft…`: a bot's draft (decision 0056), the file the dashboard's
//! editor works on, kept apart from the published versions: at most one per bot, saved as it
//! is (it may be invalid), and only a valid one is published.
//!
//! - `GET …/draft` (viewer): the draft, or the newest version's file when there is none yet
//!   (revision 0), with its ETag `"dN"`;
//! - `PUT …/draft` (editor): saves it; `If-Match` with the ETag it was read at is required
//!   (428), and another save since is a 412 that changes nothing: two editors are told;
//! - `POST …/draft/validate` (viewer): the checks of `ferrogram validate` on any file, nothing
//!   saved: whether it is valid and every diagnostic (line, column, key, hint);
//! - `POST …/draft/publish` (editor, `If-Match` with the draft's ETag): a draft with errors is
//!   refused (422 with its diagnostics, nothing changed), else it becomes a new version
//!   (`bot.publish` in the audit log) and a running bot is reloaded on it (`bot.reload`);
//! - `POST …/draft/try` (editor): runs the draft in the sandbox for the try-it chat
//!   ([`crate::bots::BotControl::try_draft`]).
//!
//! Saving a draft is not written to the audit log (the editor saves as one types); publishing is.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::{BotRecord, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::JsonBody;
use super::bots::{Format, check, etag, find};
use super::control::StatusView;
use super::problem::{FieldError, Problem, store_failed};
use super::versions::{VersionView, now};
use crate::bots::{Api, ControlError, DraftRun, Status};

/// A bot's draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    /// The draft's file; the newest version's when there is no draft yet (empty without one).
    pub source: String,
    /// 1, 2, 3… per save; 0 when there is no draft yet.
    pub revision: i64,
    /// The draft's ETag (`"dN"`), for `If-Match`.
    pub etag: String,
    /// Unix seconds of the last save, `null` when there is no draft yet.
    pub updated_at: Option<i64>,
    /// Who saved it last (`account:ID`, `token:ID`), `null` when there is no draft yet.
    pub updated_by: Option<String>,
    /// The bot's newest version, `null` when it has none.
    pub version: Option<i64>,
    /// Whether the draft's file is the newest version's.
    pub published: bool,
}

/// A draft to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// The bot file, YAML (JSON is YAML too); it may have errors.
    pub source: String,
}

/// A file to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The bot file.
    pub source: String,
    /// How `source` is written (`yaml` when absent).
    #[serde(default)]
    pub format: Format,
}

/// What `ferrogram validate` says of a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// Whether it has no errors (warnings allowed).
    pub valid: bool,
    /// Every error and warning, with line, column, key and hint.
    pub diagnostics: Vec<FieldError>,
}

/// A published draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedDraft {
    #[serde(flatten)]
    pub version: VersionView,
    /// The draft revision published.
    pub revision: i64,
    pub warnings: Vec<FieldError>,
    /// The bot's state after its reload on the new version; `null` when it was not running
    /// (it runs the new version at its next start).
    pub status: Option<StatusView>,
}

/// How to try the draft.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryRequest {
    /// Start a new conversation (a new sandbox user) instead of going on with the last one.
    #[serde(default)]
    pub restart: bool,
}

/// The draft running in the sandbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct TryView {
    /// The sandbox's web chat, opened on the draft's bot and this conversation's user.
    pub chat_url: String,
    /// The draft's throwaway bot in the sandbox.
    pub bot_id: u64,
    /// The sandbox user of the conversation.
    pub user_id: i64,
    /// The draft revision running (0: the newest version's file, no draft yet).
    pub revision: i64,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(get_draft, put_draft))
        .routes(routes!(validate_draft))
        .routes(routes!(publish_draft))
        .routes(routes!(try_draft_route))
}

/// The ETag of a draft's revision `n`.
pub(crate) fn draft_etag(revision: i64) -> String {
    format!("\"d{revision}\"")
}

/// The revision `If-Match` names: 428 without it, 412 when it is not `current`'s ETag.
fn if_match(headers: &HeaderMap, current: i64) -> Result<(), Problem> {
    let wanted = draft_etag(current);
    let Some(value) = headers.get(header::IF_MATCH) else {
        let error = FieldError::parameter("If-Match", format!("send the draft's ETag: {wanted}"));
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            None,
            "Precondition Required",
            "changing a draft needs If-Match with its ETag",
        )
        .with_errors(vec![error]));
    };
    let matches = value.to_str().is_ok_and(|v| v.split(',').map(str::trim).any(|t| t == wanted || t == "*"));
    if matches { Ok(()) } else { Err(stale(&wanted)) }
}

fn stale(wanted: &str) -> Problem {
    let error = FieldError::parameter("If-Match", format!("the draft's ETag is {wanted}"));
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        Some("stale-draft"),
        "Precondition Failed",
        "the draft was saved by someone else since that ETag: read it again and reapply the change",
    )
    .with_errors(vec![error])
}

/// The bot's draft as it is now (viewer): the API's and the code view's.
pub(crate) async fn read(api: &Api, caller: &Caller, name: &str) -> Result<DraftView, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(api, caller, name).await?;
    view(api, caller, &bot).await
}

async fn view(api: &Api, caller: &Caller, bot: &BotRecord) -> Result<DraftView, Problem> {
    let draft = api.store.draft(caller.workspace, bot.id).await.map_err(store_failed("reading the draft"))?;
    let newest = api.store.current_version(caller.workspace, bot.id).await.map_err(store_failed("reading the bot"))?;
    let published_source = newest.as_ref().map(|v| v.source.as_str());
    Ok(match draft {
        Some(draft) => DraftView {
            published: published_source == Some(draft.source.as_str()),
            etag: draft_etag(draft.revision),
            revision: draft.revision,
            updated_at: Some(draft.updated_at),
            updated_by: Some(draft.updated_by),
            version: newest.as_ref().map(|v| v.version),
            source: draft.source,
        },
        None => DraftView {
            source: published_source.unwrap_or_default().to_owned(),
            revision: 0,
            etag: draft_etag(0),
            updated_at: None,
            updated_by: None,
            version: newest.as_ref().map(|v| v.version),
            published: newest.is_some(),
        },
    })
}

fn with_etag(view: DraftView, status: StatusCode) -> Response {
    let tag = HeaderValue::from_str(&view.etag).ok();
    let mut response = (status, Json(view)).into_response();
    if let Some(tag) = tag {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The bot's draft: the newest version's file when there is none yet (revision 0).
#[utoipa::path(get, path = "/api/v1/bots/{name}/draft", tag = "drafts", params(("name" = String, Path)),
    responses((status = 200, body = DraftView, headers(("ETag" = String)))))]
async fn get_draft(State(api): State<Api>, caller: Caller, Path(name): Path<String>) -> Result<Response, Problem> {
    Ok(with_etag(read(&api, &caller, &name).await?, StatusCode::OK))
}

/// Saves the bot's draft as it is (editor; it may have errors). Needs `If-Match`.
#[utoipa::path(put, path = "/api/v1/bots/{name}/draft", tag = "drafts", request_body = DraftRequest,
    params(("name" = String, Path), ("If-Match" = String, Header, description = "the draft's ETag")),
    responses((status = 200, body = DraftView, headers(("ETag" = String))),
        (status = 412, description = "`If-Match` names an older revision of the draft"),
        (status = 428, description = "`If-Match` is missing")))]
async fn put_draft(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: JsonBody<DraftRequest>,
) -> Result<Response, Problem> {
    let saved = save(&api, &caller, &name, &headers, &body.value.source).await?;
    Ok(with_etag(saved, StatusCode::OK))
}

/// Saves `source` as the bot's draft (editor) if `headers`' `If-Match` names its revision (428
/// without, 412 with another or when another save comes first): the API's and the code view's.
pub(crate) async fn save(
    api: &Api,
    caller: &Caller,
    name: &str,
    headers: &HeaderMap,
    source: &str,
) -> Result<DraftView, Problem> {
    caller.require(Role::Editor)?;
    let bot = find(api, caller, name).await?;
    let current = api.store.draft(caller.workspace, bot.id).await.map_err(store_failed("reading the draft"))?;
    let current = current.map_or(0, |d| d.revision);
    if_match(headers, current)?;
    let saved = api.store.save_draft(caller.workspace, bot.id, current, source, &caller.actor()).await;
    let revision = saved.map_err(store_failed("saving the draft"))?;
    if revision.is_none() {
        return Err(stale(&draft_etag(current + 1)));
    }
    view(api, caller, &bot).await
}

/// Checks a bot file as `ferrogram validate` does, without saving anything (viewer).
#[utoipa::path(post, path = "/api/v1/bots/{name}/draft/validate", tag = "drafts", request_body = ValidateRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = Validation)))]
async fn validate_draft(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    body: JsonBody<ValidateRequest>,
) -> Result<Json<Validation>, Problem> {
    validate(&api, &caller, &name, &body.value.source, body.value.format).await.map(Json)
}

/// `source` checked as `ferrogram validate` does (viewer; 404 for another workspace's bot).
pub(crate) async fn validate(
    api: &Api,
    caller: &Caller,
    name: &str,
    source: &str,
    format: Format,
) -> Result<Validation, Problem> {
    caller.require(Role::Viewer)?;
    find(api, caller, name).await?;
    Ok(diagnose(source, format))
}

fn diagnose(source: &str, format: Format) -> Validation {
    match check(source, format, "/source") {
        Ok(warnings) => Validation { valid: true, diagnostics: warnings },
        Err(problem) => Validation { valid: false, diagnostics: problem.errors },
    }
}

/// Publishes the draft (editor; `If-Match` with its ETag): refused with its diagnostics when it
/// has errors, else a new version, and the running bot reloaded on it.
#[utoipa::path(post, path = "/api/v1/bots/{name}/draft/publish", tag = "drafts",
    params(("name" = String, Path), ("If-Match" = String, Header, description = "the draft's ETag")),
    responses((status = 201, body = PublishedDraft, headers(("ETag" = String))),
        (status = 409, description = "The bot has no draft"),
        (status = 412, description = "`If-Match` names an older revision of the draft, or the bot's versions moved on"),
        (status = 428, description = "`If-Match` is missing")))]
async fn publish_draft(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let published = publish(&api, &caller, &name, &headers).await?;
    let tag = HeaderValue::from_str(&etag(published.version.version)).ok();
    let location = HeaderValue::from_str(&format!("/api/v1/bots/{name}/versions/{}", published.version.version)).ok();
    let mut response = (StatusCode::CREATED, Json(published)).into_response();
    for (header, value) in [(header::ETAG, tag), (header::LOCATION, location)] {
        if let Some(value) = value {
            response.headers_mut().insert(header, value);
        }
    }
    Ok(response)
}

/// Publishes the bot's draft (editor) if `headers`' `If-Match` names its revision: 409 without
/// a draft, 422 with its diagnostics when it has errors (nothing changed), else a new version
/// (audited `bot.publish`) and, when the host runs the bot, its reload on it (`bot.reload`).
pub(crate) async fn publish(
    api: &Api,
    caller: &Caller,
    name: &str,
    headers: &HeaderMap,
) -> Result<PublishedDraft, Problem> {
    caller.require(Role::Editor)?;
    let bot = find(api, caller, name).await?;
    let draft = api.store.draft(caller.workspace, bot.id).await.map_err(store_failed("reading the draft"))?;
    let Some(draft) = draft else {
        if_match(headers, 0)?;
        return Err(Problem::conflict(format!("{name} has no draft to publish: save one first")));
    };
    if_match(headers, draft.revision)?;
    let warnings = check(&draft.source, Format::Yaml, "/source")
        .map_err(|problem| Problem { detail: "the draft has errors: nothing was published".into(), ..problem })?;
    let current = api.store.current_version(caller.workspace, bot.id).await.map_err(store_failed("reading the bot"))?;
    let current = current.map_or(0, |v| v.version);
    let saved = api.store.publish_version(caller.workspace, bot.id, current, &draft.source).await;
    let version = saved.map_err(store_failed("saving the version"))?.ok_or_else(|| {
        Problem::new(
            StatusCode::PRECONDITION_FAILED,
            Some("stale-version"),
            "Precondition Failed",
            "the bot got another version while this one was published: publish again",
        )
    })?;
    let detail = json!({"version": version, "format": Format::Yaml, "draft": draft.revision});
    audit(api, caller, "bot.publish", name, detail).await;
    let running = api.bots.status(caller.workspace, name).await.is_ok_and(|s| s.status == Status::Running);
    let status = if running {
        let reloaded = api.bots.reload(caller.workspace, name).await;
        let detail = match &reloaded {
            Ok(status) => json!({"status": status.status.as_str(), "version": status.version}),
            Err(ControlError::Refused(message)) => json!({"error": message}),
            Err(ControlError::UnknownBot) => json!({"error": "unknown to the host"}),
        };
        audit(api, caller, "bot.reload", name, detail).await;
        reloaded.ok().map(|s| StatusView::from(&s))
    } else {
        None
    };
    let view = VersionView { version, created_at: now(), etag: etag(version), current: true };
    Ok(PublishedDraft { version: view, revision: draft.revision, warnings, status })
}

/// Runs the draft (the newest version's file when there is none) in the sandbox for the try-it
/// chat (editor): 422 with its diagnostics when it has errors; 409 when this server runs no drafts.
#[utoipa::path(post, path = "/api/v1/bots/{name}/draft/try", tag = "drafts", request_body = TryRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = TryView),
        (status = 409, description = "This server does not run drafts")))]
async fn try_draft_route(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    body: JsonBody<TryRequest>,
) -> Result<Json<TryView>, Problem> {
    try_draft(&api, &caller, &name, body.value.restart).await.map(Json)
}

/// [`try_draft_route`]'s work: the API's and the code view's.
pub(crate) async fn try_draft(api: &Api, caller: &Caller, name: &str, restart: bool) -> Result<TryView, Problem> {
    caller.require(Role::Editor)?;
    let bot = find(api, caller, name).await?;
    let draft = view(api, caller, &bot).await?;
    check(&draft.source, Format::Yaml, "/source")
        .map_err(|problem| Problem { detail: "the draft has errors: fix them to try it".into(), ..problem })?;
    let run = api.bots.try_draft(caller.workspace, name, &draft.source, restart).await;
    match run {
        Ok(DraftRun { chat_url, bot_id, user_id }) => {
            Ok(TryView { chat_url, bot_id, user_id, revision: draft.revision })
        }
        Err(ControlError::UnknownBot) => Err(Problem::not_found(format!("no bot named {name}"))),
        Err(ControlError::Refused(message)) => Err(Problem::conflict(message)),
    }
}
