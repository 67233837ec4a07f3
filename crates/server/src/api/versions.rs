//! `/api/v1/bots/{name}/versions…`: a bot's file history. Publishing a new version and rolling
//! back both change what the bot's next start or reload runs, so both take `If-Match` with the
//! newest version's ETag (`"vN"`, from `GET /api/v1/bots/{name}`): without it 428, with another
//! one 412, and two editors cannot overwrite each other silently (the store saves only if the
//! newest is still that one). History is never rewritten: a rollback saves a new version with
//! the old file. Publishing does not restart the bot: `reload` does (`control.rs`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::{BotVersion, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::bots::{Format, check, etag, find, newest};
use super::idempotency::{Created, once};
use super::pagination::{self, Page, PageQuery};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// One version, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub created_at: i64,
    pub etag: String,
    /// Whether it is the newest (what a start or reload runs).
    pub current: bool,
}

/// One version with its file.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: VersionView,
    pub source: String,
}

/// A new version to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The bot file.
    pub source: String,
    /// How `source` is written (`yaml` when absent).
    #[serde(default)]
    pub format: Format,
}

/// A published version, with the file's warnings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    #[serde(flatten)]
    pub version: VersionView,
    pub warnings: Vec<FieldError>,
}

/// What to roll back to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose file becomes the newest again (422 when the bot has no such version).
    #[schema(minimum = 1)]
    pub version: i64,
}

/// The two versions to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    pub from: i64,
    /// The newest when absent.
    pub to: Option<i64>,
}

/// A unified diff of two versions' files.
#[derive(Debug, Serialize, ToSchema)]
pub struct Diff {
    pub from: i64,
    pub to: i64,
    /// `--- vFROM` / `+++ vTO` and its hunks; empty when the files are the same.
    pub diff: String,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_versions, publish_version))
        .routes(routes!(get_version))
        .routes(routes!(diff_versions))
        .routes(routes!(rollback))
}

fn version_view(v: &BotVersion, newest: i64) -> VersionView {
    VersionView { version: v.version, created_at: v.created_at, etag: etag(v.version), current: v.version == newest }
}

/// Checks `If-Match` against the newest version: 428 without it, 412 with another one.
fn if_match(headers: &HeaderMap, newest: i64) -> Result<(), Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        let error = FieldError::parameter("If-Match", format!("send the bot's ETag: {}", etag(newest)));
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            None,
            "Precondition Required",
            "changing a bot needs If-Match with its newest version's ETag",
        )
        .with_errors(vec![error]));
    };
    let wanted = etag(newest);
    let matches = value.to_str().is_ok_and(|v| v.split(',').map(str::trim).any(|t| t == wanted || t == "*"));
    if matches {
        return Ok(());
    }
    let error = FieldError::parameter("If-Match", format!("the newest version's ETag is {wanted}"));
    Err(Problem::new(
        StatusCode::PRECONDITION_FAILED,
        Some("stale-version"),
        "Precondition Failed",
        "the bot changed since that ETag: read it again and reapply the change",
    )
    .with_errors(vec![error]))
}

fn moved_on() -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        Some("stale-version"),
        "Precondition Failed",
        "the bot changed while this request was answered: read it again and reapply the change",
    )
}

/// The bot's versions, oldest first.
#[utoipa::path(get, path = "/api/v1/bots/{name}/versions", tag = "versions",
    params(("name" = String, Path), PageQuery),
    responses((status = 200, body = Page<VersionView>)))]
async fn list_versions(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<VersionView>>, Problem> {
    let limit = pagination::limit(page.limit)?;
    let after = pagination::key_of(page.cursor.as_deref())?.unwrap_or(i64::MIN);
    let versions = history(&api, &caller, &name).await?;
    let newest = versions.last().map_or(0, |v| v.version);
    let listed = versions.into_iter().filter(|v| v.version > after);
    Ok(Json(pagination::page(listed, limit, |v| v.version, |v| version_view(&v, newest))))
}

/// The bot's versions with their files, oldest first (viewer; 404 for a bot of another
/// workspace): what the API's listing and diff and the dashboard's history read.
pub(crate) async fn history(api: &Api, caller: &Caller, name: &str) -> Result<Vec<BotVersion>, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(api, caller, name).await?;
    api.store.versions(caller.workspace, bot.id).await.map_err(store_failed("reading the versions"))
}

/// The files of versions `from` and `to` (the newest when `None`) of `versions`, with `to`'s
/// number; 404 for a version the bot does not have.
pub(crate) fn pair<'a>(
    versions: &'a [BotVersion],
    name: &str,
    from: i64,
    to: Option<i64>,
) -> Result<(&'a str, &'a str, i64), Problem> {
    let to = to.unwrap_or_else(|| versions.last().map_or(0, |v| v.version));
    let source = |n: i64| {
        versions
            .iter()
            .find(|v| v.version == n)
            .map(|v| v.source.as_str())
            .ok_or_else(|| Problem::not_found(format!("no version {n} of {name}")))
    };
    Ok((source(from)?, source(to)?, to))
}

/// One version with its file.
#[utoipa::path(get, path = "/api/v1/bots/{name}/versions/{version}", tag = "versions",
    params(("name" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = VersionDetail)))]
async fn get_version(
    State(api): State<Api>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<VersionDetail>, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(&api, &caller, &name).await?;
    let versions = api.store.versions(caller.workspace, bot.id).await.map_err(store_failed("reading the versions"))?;
    let newest = versions.last().map_or(0, |v| v.version);
    let found = version.parse::<i64>().ok().and_then(|n| versions.into_iter().find(|v| v.version == n));
    let found = found.ok_or_else(|| Problem::not_found(format!("no version {version} of {name}")))?;
    Ok(Json(VersionDetail { version: version_view(&found, newest), source: found.source }))
}

/// Publishes a new version (editor): its file is checked as at creation (422 with its
/// diagnostics, nothing saved). Needs `If-Match`; takes `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/bots/{name}/versions", tag = "versions", request_body = PublishRequest,
    params(("name" = String, Path),
        ("If-Match" = String, Header, description = "the newest version's ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "repeat-safe creation (24 h)",
            min_length = 1, max_length = 255, pattern = r"^[\t\x20-\x7E]*[\x21-\x7E][\t\x20-\x7E]*$")),
    responses((status = 201, body = Published, headers(("ETag" = String))),
        (status = 409, description = "An `Idempotency-Key` whose first request is still being answered"),
        (status = 412, description = "`If-Match` names an older version"),
        (status = 428, description = "`If-Match` is missing")))]
async fn publish_version(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: JsonBody<PublishRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::Editor)?;
    let request = &body.value;
    let act = async {
        let bot = find(&api, &caller, &name).await?;
        let current = newest(&api, &caller, &bot).await?;
        if_match(&headers, current)?;
        let warnings = check(&request.source, request.format, "/source")?;
        let saved = api.store.publish_version(caller.workspace, bot.id, current, &request.source).await;
        let version = saved.map_err(store_failed("saving the version"))?.ok_or_else(moved_on)?;
        audit(&api, &caller, "bot.publish", &name, json!({"version": version, "format": request.format})).await;
        let view = VersionView { version, created_at: now(), etag: etag(version), current: true };
        let published = Published { version: view, warnings };
        let mut created =
            Created::new(serde_json::to_value(&published).map_err(|e| Problem::internal("answering", e))?);
        created.etag = Some(etag(version));
        created.location = Some(format!("/api/v1/bots/{name}/versions/{version}"));
        Ok(created)
    };
    let request_line = format!("POST /api/v1/bots/{name}/versions");
    Ok(once(&api, &caller, &headers, &request_line, &body.raw, act).await)
}

/// Unix seconds now (also the broadcasts').
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A unified diff of two versions' files.
#[utoipa::path(get, path = "/api/v1/bots/{name}/diff", tag = "versions",
    params(("name" = String, Path), DiffQuery),
    responses((status = 200, body = Diff)))]
async fn diff_versions(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(query): Params<DiffQuery>,
) -> Result<Json<Diff>, Problem> {
    let versions = history(&api, &caller, &name).await?;
    let (old, new, to) = pair(&versions, &name, query.from, query.to)?;
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("v{}", query.from), &format!("v{to}"))
        .to_string();
    let diff = if old == new { String::new() } else { diff };
    Ok(Json(Diff { from: query.from, to, diff }))
}

/// Rolls back (editor): saves a new version with the file of `version`. Needs `If-Match`.
#[utoipa::path(post, path = "/api/v1/bots/{name}/rollback", tag = "versions", request_body = RollbackRequest,
    params(("name" = String, Path), ("If-Match" = String, Header, description = "the newest version's ETag")),
    responses((status = 201, body = VersionView, headers(("ETag" = String))),
        (status = 412, description = "`If-Match` names an older version"),
        (status = 428, description = "`If-Match` is missing")))]
async fn rollback(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: JsonBody<RollbackRequest>,
) -> Result<Response, Problem> {
    let view = roll_back(&api, &caller, &name, &headers, body.value.version).await?;
    let version = view.version;
    let mut created = Created::new(serde_json::to_value(&view).map_err(|e| Problem::internal("answering", e))?);
    created.etag = Some(etag(version));
    created.location = Some(format!("/api/v1/bots/{name}/versions/{version}"));
    Ok(created.into_response())
}

/// Rolls the bot back to version `target` (editor) if `headers`' `If-Match` names its newest
/// version (428 without, 412 with another, or when it moves on meanwhile), audited as
/// `bot.rollback`: the API's rollback and the dashboard's.
pub(crate) async fn roll_back(
    api: &Api,
    caller: &Caller,
    name: &str,
    headers: &HeaderMap,
    target: i64,
) -> Result<VersionView, Problem> {
    caller.require(Role::Editor)?;
    let bot = find(api, caller, name).await?;
    // A version number the document refuses is the body's fault, whatever the ETag.
    if target < 1 {
        let error = FieldError::at("/version", "a version number is 1 or more");
        return Err(Problem::invalid("no such version to roll back to", vec![error]));
    }
    let current = newest(api, caller, &bot).await?;
    if_match(headers, current)?;
    let versions = api.store.versions(caller.workspace, bot.id).await.map_err(store_failed("reading the versions"))?;
    if !versions.iter().any(|v| v.version == target) {
        let error = FieldError::at("/version", format!("{name} has no version {target}"));
        return Err(Problem::invalid("no such version to roll back to", vec![error]));
    }
    let saved = api.store.rollback_version_if(caller.workspace, bot.id, current, target).await;
    let version = saved.map_err(store_failed("rolling back"))?.ok_or_else(moved_on)?;
    audit(api, caller, "bot.rollback", name, json!({"to": target, "version": version})).await;
    Ok(VersionView { version, created_at: now(), etag: etag(version), current: true })
}
