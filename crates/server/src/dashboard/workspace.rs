//! The caller of a workspace's page (`/w/{workspace}/…`): the signed-in person acting in one of
//! their workspaces with their role there, as the REST API's [`Caller`] — so the pages call
//! the API's functions (decision 0049), which check the role, audit, and never see another
//! workspace's things. A workspace the person is not a member of (or a server without bots) is
//! the 404 page, as in the API; a refusal of the API is shown as a page ([`refusal`]).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ferrogram_store::Role;
use serde_json::json;

use super::Dashboard;
use super::session::SignedIn;
use crate::api::auth::{Caller, Credential};
use crate::api::problem::Problem;
use crate::bots::Api;

/// A signed-in person in one of their workspaces.
pub struct InWorkspace {
    pub signed: SignedIn,
    pub caller: Caller,
    pub api: Api,
    pub workspace_name: String,
}

impl InWorkspace {
    /// `/w/{workspace}`.
    pub fn base(&self) -> String {
        format!("/w/{}", self.caller.workspace)
    }

    /// What the page's templates get about the workspace and what the role may do (the server
    /// refuses anyway: the API's functions check the role).
    pub fn context(&self) -> serde_json::Value {
        json!({
            "workspace": { "id": self.caller.workspace, "name": self.workspace_name, "base": self.base() },
            "role": self.caller.role.as_str(),
            "can_edit": self.caller.role.allows(Role::Editor),
            "can_admin": self.caller.role.allows(Role::Admin),
        })
    }
}

/// The workspace id of a `/w/{workspace}/…` path.
fn workspace_of(path: &str) -> Option<i64> {
    path.strip_prefix("/w/")?.split('/').next()?.parse().ok()
}

/// The 404 page.
pub fn not_found(dashboard: &Dashboard, signed: &SignedIn, path: &str) -> Response {
    dashboard.pages.render(
        StatusCode::NOT_FOUND,
        "message.html",
        &signed.frame(path),
        json!({ "title_key": "not_found", "text_key": "not_found_text" }),
    )
}

/// An API refusal as a page with its status: 404 as [`not_found`], 403 as "your role may not",
/// others with the problem's detail.
pub fn refusal(dashboard: &Dashboard, signed: &SignedIn, path: &str, problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        StatusCode::NOT_FOUND => not_found(dashboard, signed, path),
        StatusCode::FORBIDDEN => dashboard.pages.render(
            status,
            "message.html",
            &signed.frame(path),
            json!({ "title_key": "not_allowed", "text": problem.detail }),
        ),
        _ => dashboard.pages.render(
            status,
            "message.html",
            &signed.frame(path),
            json!({ "title_key": "refused", "text": problem.detail }),
        ),
    }
}

impl FromRequestParts<Dashboard> for InWorkspace {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, dashboard: &Dashboard) -> Result<Self, Self::Rejection> {
        let signed = SignedIn::from_request_parts(parts, dashboard).await?;
        let path = parts.uri.path().to_owned();
        let membership = workspace_of(&path)
            .and_then(|id| signed.credential.memberships.iter().find(|m| m.workspace == id))
            .cloned();
        let (Some(membership), Some(api)) = (membership, dashboard.api.clone()) else {
            return Err(not_found(dashboard, &signed, &path).into_response());
        };
        let caller = Caller {
            workspace: membership.workspace,
            role: membership.role,
            credential: Credential::Session(signed.credential.access.account.id),
        };
        Ok(InWorkspace { signed, caller, api, workspace_name: membership.workspace_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_the_first_segment_after_w() {
        assert_eq!(workspace_of("/w/12/bots"), Some(12));
        assert_eq!(workspace_of("/w/12"), Some(12));
        for bad in ["/w/x/bots", "/bots", "/w/", "/w//bots"] {
            assert_eq!(workspace_of(bad), None, "{bad}");
        }
    }
}
