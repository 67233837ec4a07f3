//! `/w/{workspace}/members`: the workspace's members and their roles (any role reads), and for
//! an admin: changing a member's role, removing a member, and inviting someone (a one-time link,
//! the same the shell's `ferrogram member invite` makes, taken at `/invite/{token}`: its path is
//! shown on the answer's page only). Anything about owners needs an owner, and the last owner
//! stays: the API's rules, since every read and change is the REST API's own function
//! (`api::members::{list, set_role, remove, make_invite}`: audited as `member.role`,
//! `member.remove`, `member.invite`), after the form's CSRF token is checked.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::bots::ActionForm;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::members::{InviteRequest, MemberFilter};
use crate::api::problem::Problem;

/// A role change's form.
#[derive(Deserialize)]
pub struct RoleForm {
    csrf: Option<String>,
    role: Option<String>,
}

/// An invitation's form.
#[derive(Deserialize)]
pub struct InviteForm {
    csrf: Option<String>,
    role: Option<String>,
    hours: Option<String>,
}

/// The page; `invited` a new link to show this once, `errors` a refused invitation's.
async fn render(
    dashboard: &Dashboard,
    at: &InWorkspace,
    headers: &HeaderMap,
    status: StatusCode,
    invited: Option<Value>,
    errors: Option<&Problem>,
) -> Response {
    let path = format!("{}/members", at.base());
    let mut members = Vec::new();
    let mut cursor = None;
    // Members are few (people, not bot users); the API pages them by 200.
    loop {
        let filter = MemberFilter { role: None, limit: Some(200), cursor: cursor.take() };
        match api::members::list(&at.api, &at.caller, &filter).await {
            Ok(page) => {
                members.extend(page.items);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
        }
    }
    let me = at.signed.credential.access.account.id;
    let field = |pointer: &str| {
        errors.and_then(|p| p.errors.iter().find(|e| e.pointer.as_deref() == Some(pointer))).map(|e| e.detail.clone())
    };
    let invited = invited.map(|mut link| {
        // The whole link to send, on the host this page was asked on.
        if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            let scheme = if dashboard.secure_cookies { "https" } else { "http" };
            link["url"] = json!(format!("{scheme}://{host}{}", link["path"].as_str().unwrap_or_default()));
        } else {
            link["url"] = link["path"].clone();
        }
        link
    });
    let mut context = at.context();
    context["members"] = json!(
        members
            .iter()
            .map(|m| json!({ "account": m.account, "email": m.email, "name": m.display_name, "role": m.role,
                         "me": m.account == me }))
            .collect::<Vec<_>>()
    );
    context["roles"] = json!(["viewer", "editor", "admin", "owner"]);
    context["can_own"] = json!(at.caller.role == ferrogram_store::Role::Owner);
    context["invited"] = json!(invited);
    context["errors"] = json!({ "role": field("/role"), "hours": field("/hours"),
        "other": errors.filter(|p| p.errors.is_empty()).map(|p| p.detail.clone()) });
    dashboard.pages.render(status, "members.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/members` (any role).
pub async fn page(State(dashboard): State<Dashboard>, at: InWorkspace, headers: HeaderMap) -> Response {
    render(&dashboard, &at, &headers, StatusCode::OK, None, None).await
}

/// `POST /w/{workspace}/members/{account}/role` (`csrf`, `role`; admin, owner for owners).
pub async fn set_role(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, account)): Path<(i64, String)>,
    Form(form): Form<RoleForm>,
) -> Response {
    let path = format!("{}/members", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    match api::members::set_role(&at.api, &at.caller, &account, form.role.as_deref().unwrap_or_default()).await {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}

/// `POST /w/{workspace}/members/{account}/remove` (`csrf`; admin, owner for owners).
pub async fn remove(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, account)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let path = format!("{}/members", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    match api::members::remove(&at.api, &at.caller, &account).await {
        Ok(()) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}

/// `POST /w/{workspace}/members/invite` (`csrf`, `role`, `hours`; admin, owner to invite an
/// owner): makes the link and shows it on this answer only (201); a refused field next to it.
pub async fn invite(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let hours = form.hours.as_deref().map(str::trim).filter(|h| !h.is_empty());
    let hours = match hours.map(str::parse::<f64>) {
        None => None,
        Some(Ok(hours)) if hours.is_finite() => Some(hours),
        // Not a number: the API's own refusal of an hour count out of range, at `/hours`.
        Some(_) => Some(0.0),
    };
    let request = InviteRequest { role: form.role.unwrap_or_default(), hours };
    match api::members::make_invite(&at.api, &at.caller, &request).await {
        Ok(link) => {
            let shown = json!({ "path": link.path, "role": link.role, "expires_at": link.expires_at });
            render(&dashboard, &at, &headers, StatusCode::CREATED, Some(shown), None).await
        }
        Err(problem) if problem.status == 422 => {
            render(&dashboard, &at, &headers, StatusCode::UNPROCESSABLE_ENTITY, None, Some(&problem)).await
        }
        Err(problem) => refusal(&dashboard, &at.signed, &format!("{}/members", at.base()), &problem),
    }
}
