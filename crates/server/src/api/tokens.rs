//! `/api/v1/tokens`: the workspace's API tokens (admin only). A new token's secret is in the
//! creating answer only (a replay of its `Idempotency-Key` has `secret: null`): the store keeps
//! its SHA-256 and its first characters (`prefix`), by which listings show it. Revoking is a
//! DELETE; a revoked token stays listed with its `revoked_at`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferrogram_store::{ApiToken, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::idempotency::{Created, once};
use super::pagination::{self, Page};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// An API token's description (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    /// `admin`, `editor` or `viewer`.
    pub role: String,
    /// The secret's first characters (`fg_` and 6), `null` for tokens older than the API.
    pub prefix: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role.to_string(),
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A new token: its description and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub token: TokenView,
    /// `fg_…`: shown once, it cannot be recovered (`null` in an idempotent replay).
    pub secret: Option<String>,
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// What it is for: 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// `admin`, `editor` or `viewer`.
    #[schema(value_type = String, pattern = "^(admin|editor|viewer)$")]
    pub role: String,
}

/// The token list's filter and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenFilter {
    /// `true`: only revoked ones; `false`: only usable ones; absent: all.
    pub revoked: Option<bool>,
    /// Only the token whose secret starts so (at least `fg_` and 6 characters: the `prefix`
    /// listed), to find a token seen in a log or a secret scanner's report.
    pub prefix: Option<String>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(get_token, revoke_token))
}

/// Whether a token kept as `kept` (its first characters) is the one `wanted` starts: `wanted`
/// may be the whole secret or just the listed prefix.
fn matches_prefix(kept: Option<&str>, wanted: &str) -> bool {
    let length = ferrogram_store::TOKEN_PREFIX_LEN;
    kept.is_some_and(|kept| wanted.len() >= length && wanted.get(..length) == Some(kept))
}

/// A token id from the path; anything else is no such token (404).
fn token_id(text: &str) -> Result<i64, Problem> {
    text.parse().map_err(|_| Problem::not_found(format!("no token {text}")))
}

async fn find(api: &Api, caller: &Caller, id: i64) -> Result<ApiToken, Problem> {
    let tokens = api.store.tokens(caller.workspace).await.map_err(store_failed("reading the tokens"))?;
    tokens.into_iter().find(|t| t.id == id).ok_or_else(|| Problem::not_found(format!("no token {id}")))
}

/// The workspace's tokens, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenFilter),
    responses((status = 200, body = Page<TokenView>)))]
async fn list_tokens(
    State(api): State<Api>,
    caller: Caller,
    Params(filter): Params<TokenFilter>,
) -> Result<Json<Page<TokenView>>, Problem> {
    list(&api, &caller, &filter).await.map(Json)
}

/// The workspace's tokens matching `filter`, oldest first (admin): the API's listing and the
/// dashboard's tokens page.
pub(crate) async fn list(api: &Api, caller: &Caller, filter: &TokenFilter) -> Result<Page<TokenView>, Problem> {
    caller.require(Role::Admin)?;
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::key_of(filter.cursor.as_deref())?.unwrap_or(i64::MIN);
    let tokens = api.store.tokens(caller.workspace).await.map_err(store_failed("reading the tokens"))?;
    let listed = tokens
        .into_iter()
        .filter(|t| t.id > after)
        .filter(|t| filter.revoked.is_none_or(|revoked| revoked == t.revoked_at.is_some()))
        .filter(|t| filter.prefix.as_deref().is_none_or(|wanted| matches_prefix(t.prefix.as_deref(), wanted)));
    Ok(pagination::page(listed, limit, |t| t.id, TokenView::from))
}

/// Creates a token (admin); its secret is in this answer only. Takes `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = TokenRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe creation (24 h)",
            min_length = 1, max_length = 255, pattern = r"^[\t\x20-\x7E]*[\x21-\x7E][\t\x20-\x7E]*$")),
    responses((status = 201, body = NewToken),
        (status = 409, description = "An `Idempotency-Key` whose first request is still being answered")))]
async fn create_token(
    State(api): State<Api>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<TokenRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::Admin)?;
    let request = body.value;
    let act = async {
        let view = issue(&api, &caller, &request).await?;
        let body = serde_json::to_value(&view).map_err(|e| Problem::internal("answering", e))?;
        let mut replay = body.clone();
        replay["secret"] = serde_json::Value::Null;
        let mut created = Created::new(body);
        created.location = Some(format!("/api/v1/tokens/{}", view.token.id));
        created.replay_body = Some(replay);
        Ok(created)
    };
    Ok(once(&api, &caller, &headers, "POST /api/v1/tokens", &body.raw, act).await)
}

/// Issues a token (admin), audited as `token.create`: its secret is in the answer only. The
/// API's creation and the dashboard's. A bad name or role is 422 at `/name` or `/role`.
pub(crate) async fn issue(api: &Api, caller: &Caller, request: &TokenRequest) -> Result<NewToken, Problem> {
    caller.require(Role::Admin)?;
    let name = request.name.trim();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::at("/name", "1 to 100 characters"));
    }
    // An owner is a person (a member, decision 0042), never a token.
    let role = request.role.parse::<Role>().and_then(|role| match role {
        Role::Owner => Err("a token's role is admin, editor or viewer: owner is only a member's".to_owned()),
        role => Ok(role),
    });
    if let Err(message) = &role {
        errors.push(FieldError::at("/role", message.clone()));
    }
    let (Ok(role), true) = (role, errors.is_empty()) else {
        return Err(Problem::invalid("the token is not acceptable", errors));
    };
    let issued = api.store.issue_token(caller.workspace, name, role).await.map_err(store_failed("issuing a token"))?;
    let issued = issued.ok_or_else(|| Problem::not_found("the workspace is gone"))?;
    let token = find(api, caller, issued.id).await?;
    audit(api, caller, "token.create", &issued.id.to_string(), json!({"name": name, "role": role.as_str()})).await;
    Ok(NewToken { token: token.into(), secret: Some(issued.secret) })
}

/// One token (admin).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenView)))]
async fn get_token(State(api): State<Api>, caller: Caller, Path(id): Path<String>) -> Result<Json<TokenView>, Problem> {
    caller.require(Role::Admin)?;
    Ok(Json(find(&api, &caller, token_id(&id)?).await?.into()))
}

/// Revokes a token (admin); revoking a revoked one changes nothing.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204, description = "revoked")))]
async fn revoke_token(State(api): State<Api>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, Problem> {
    revoke(&api, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the token `id` (admin), audited as `token.revoke`; a revoked one is left as it is.
/// The API's revocation and the dashboard's.
pub(crate) async fn revoke(api: &Api, caller: &Caller, id: &str) -> Result<(), Problem> {
    caller.require(Role::Admin)?;
    let token = find(api, caller, token_id(id)?).await?;
    if token.revoked_at.is_none() {
        api.store.revoke_token(caller.workspace, token.id).await.map_err(store_failed("revoking the token"))?;
        audit(api, caller, "token.revoke", &token.id.to_string(), json!({"name": token.name})).await;
    }
    Ok(())
}
