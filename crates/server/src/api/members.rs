//! `/api/v1/members`: the people of the caller's workspace (dashboard accounts, decision 0042)
//! and their roles. Any role lists them; an admin changes a member's role, removes a member and
//! invites people (a one-time link that creates an account with the invited role). Anything that
//! makes, unmakes or touches an owner needs an owner: a session of one (API tokens are never
//! owners). A workspace never loses its last owner (409). An account that is not a member of the
//! caller's workspace is not found (404), whether or not it exists elsewhere: members join by
//! invitation, never by being added by id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferrogram_store::{LinkKind, Member, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::pagination::{self, Page};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// How long an invitation link works when the request does not say (72 hours).
const DEFAULT_INVITE_HOURS: u32 = 72;
/// The longest an invitation link may work (30 days).
const MAX_INVITE_HOURS: u32 = 720;

/// A member of the workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// The account's id.
    pub account: i64,
    pub email: String,
    pub display_name: String,
    /// `owner`, `admin`, `editor` or `viewer`.
    pub role: String,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView { account: m.account, email: m.email, display_name: m.display_name, role: m.role.to_string() }
    }
}

/// The member list's page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberFilter {
    /// Only members of this role.
    #[param(pattern = "^(owner|admin|editor|viewer)$")]
    pub role: Option<String>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A member's new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `owner`, `admin`, `editor` or `viewer`.
    #[schema(pattern = "^(owner|admin|editor|viewer)$")]
    pub role: String,
}

/// An invitation to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// The role the new account gets: `owner`, `admin`, `editor` or `viewer`.
    #[schema(pattern = "^(owner|admin|editor|viewer)$")]
    pub role: String,
    /// How many hours the link works: a whole number, 1 to 720 (72). Read as a JSON number, so
    /// that `2.0` is the integer it is in JSON Schema.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 720)]
    pub hours: Option<f64>,
}

/// A one-time invitation link: its secret is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteView {
    pub id: i64,
    /// The link's path on this server (`/invite/SECRET`): it works once.
    pub path: String,
    pub role: String,
    /// Unix seconds.
    pub expires_at: i64,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(invite))
}

fn parse_role(text: &str, pointer: &str) -> Result<Role, Problem> {
    text.parse::<Role>()
        .map_err(|message| Problem::invalid("the role is not acceptable", vec![FieldError::at(pointer, message)]))
}

/// Owners are made, changed and removed by owners only.
fn require_for(caller: &Caller, roles: &[Role]) -> Result<(), Problem> {
    caller.require(Role::Admin)?;
    if roles.contains(&Role::Owner) {
        caller.require(Role::Owner)?;
    }
    Ok(())
}

/// The store's refusal (the last owner) is a conflict, anything else a failure.
fn refused(what: &'static str) -> impl FnOnce(ferrogram_store::Error) -> Problem {
    move |error| match error {
        ferrogram_store::Error::Refused(message) => Problem::conflict(message),
        error => store_failed(what)(error),
    }
}

async fn find(api: &Api, caller: &Caller, text: &str) -> Result<Member, Problem> {
    let account: i64 = text.parse().map_err(|_| Problem::not_found(format!("no member {text}")))?;
    let members = api.store.members(caller.workspace).await.map_err(store_failed("reading the members"))?;
    members.into_iter().find(|m| m.account == account).ok_or_else(|| Problem::not_found(format!("no member {text}")))
}

/// The workspace's members, oldest account first.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(MemberFilter),
    responses((status = 200, body = Page<MemberView>)))]
async fn list_members(
    State(api): State<Api>,
    caller: Caller,
    Params(filter): Params<MemberFilter>,
) -> Result<Json<Page<MemberView>>, Problem> {
    Ok(Json(list(&api, &caller, &filter).await?))
}

/// The caller's workspace's members (any role), oldest account first, a page of them.
pub(crate) async fn list(api: &Api, caller: &Caller, filter: &MemberFilter) -> Result<Page<MemberView>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let after = pagination::key_of(filter.cursor.as_deref())?.unwrap_or(i64::MIN);
    let role = match filter.role.as_deref() {
        Some(text) => Some(text.parse::<Role>().map_err(|message| {
            Problem::bad_request("the role filter is not a role")
                .with_errors(vec![FieldError::parameter("role", message)])
        })?),
        None => None,
    };
    let members = api.store.members(caller.workspace).await.map_err(store_failed("reading the members"))?;
    let listed = members.into_iter().filter(|m| m.account > after).filter(|m| role.is_none_or(|r| m.role == r));
    Ok(pagination::page(listed, limit, |m| m.account, MemberView::from))
}

/// Changes a member's role (admin; an owner for anything about owners). 409 when it would leave
/// the workspace without an owner.
#[utoipa::path(put, path = "/api/v1/members/{account}", tag = "members", params(("account" = i64, Path)),
    request_body = RoleChange,
    responses((status = 200, body = MemberView), (status = 409, description = "The workspace's last owner")))]
async fn change_role(
    State(api): State<Api>,
    caller: Caller,
    Path(account): Path<String>,
    body: JsonBody<RoleChange>,
) -> Result<Json<MemberView>, Problem> {
    Ok(Json(set_role(&api, &caller, &account, &body.value.role).await?))
}

/// Gives the member `account` (an id, as text) the role `role` (admin; an owner for anything
/// about owners): 422 at `/role` for no role, 404 for no such member, 409 for the last owner.
pub(crate) async fn set_role(api: &Api, caller: &Caller, account: &str, role: &str) -> Result<MemberView, Problem> {
    caller.require(Role::Admin)?;
    let role = parse_role(role, "/role")?;
    let member = find(api, caller, account).await?;
    require_for(caller, &[member.role, role])?;
    if member.role != role {
        api.store.set_member(caller.workspace, member.account, role).await.map_err(refused("changing the role"))?;
        let detail = json!({"email": member.email, "from": member.role.as_str(), "to": role.as_str()});
        audit(api, caller, "member.role", &member.account.to_string(), detail).await;
    }
    Ok(find(api, caller, account).await?.into())
}

/// Removes a member from the workspace (admin; an owner to remove an owner); the account stays.
/// 409 for the last owner.
#[utoipa::path(delete, path = "/api/v1/members/{account}", tag = "members", params(("account" = i64, Path)),
    responses((status = 204, description = "removed"), (status = 409, description = "The workspace's last owner")))]
async fn remove_member(
    State(api): State<Api>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<StatusCode, Problem> {
    remove(&api, &caller, &account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the member `account` (an id, as text) from the caller's workspace (admin; an owner
/// to remove an owner); the account stays. 404 for no such member, 409 for the last owner.
pub(crate) async fn remove(api: &Api, caller: &Caller, account: &str) -> Result<(), Problem> {
    caller.require(Role::Admin)?;
    let member = find(api, caller, account).await?;
    require_for(caller, &[member.role])?;
    api.store.remove_member(caller.workspace, member.account).await.map_err(refused("removing the member"))?;
    let detail = json!({"email": member.email, "role": member.role.as_str()});
    audit(api, caller, "member.remove", &member.account.to_string(), detail).await;
    Ok(())
}

/// Makes a one-time link that creates an account with `role` in the workspace (admin; an owner
/// to invite an owner). Its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/members/invites", tag = "members", request_body = InviteRequest,
    responses((status = 201, body = InviteView)))]
async fn invite(
    State(api): State<Api>,
    caller: Caller,
    body: JsonBody<InviteRequest>,
) -> Result<(StatusCode, Json<InviteView>), Problem> {
    Ok((StatusCode::CREATED, Json(make_invite(&api, &caller, &body.value).await?)))
}

/// Makes a one-time invitation link into the caller's workspace (admin; an owner to invite an
/// owner): 422 at `/role` or `/hours`. Its secret is in the answer only.
pub(crate) async fn make_invite(api: &Api, caller: &Caller, request: &InviteRequest) -> Result<InviteView, Problem> {
    caller.require(Role::Admin)?;
    let role = parse_role(&request.role, "/role")?;
    let hours = request.hours.unwrap_or(f64::from(DEFAULT_INVITE_HOURS));
    if hours.fract() != 0.0 || !(1.0..=f64::from(MAX_INVITE_HOURS)).contains(&hours) {
        let error = FieldError::at("/hours", format!("a whole number, 1 to {MAX_INVITE_HOURS}"));
        return Err(Problem::invalid("the link's lifetime is out of range", vec![error]));
    }
    // A whole number within 1..=720: exact as an integer.
    let hours = hours as u32;
    require_for(caller, &[role])?;
    let kind = LinkKind::Invite { workspace: caller.workspace, role };
    let link = api.store.create_link(kind, i64::from(hours) * 3600).await.map_err(store_failed("making the link"))?;
    let link = link.ok_or_else(|| Problem::not_found("the workspace is gone"))?;
    let detail = json!({"role": role.as_str(), "hours": hours});
    audit(api, caller, "member.invite", &format!("link:{}", link.id), detail).await;
    Ok(InviteView {
        id: link.id,
        path: format!("/invite/{}", link.secret),
        role: role.as_str().to_owned(),
        expires_at: link.expires_at,
    })
}
