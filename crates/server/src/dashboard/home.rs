//! `GET /`: the home, the signed-in person's workspaces and roles, each linking to its bots.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::Dashboard;
use super::session::SignedIn;

/// `GET /`: signed in, the workspaces; otherwise to the sign-in page.
pub async fn page(State(dashboard): State<Dashboard>, signed: SignedIn) -> Response {
    let workspaces: Vec<_> = signed
        .credential
        .memberships
        .iter()
        .map(|m| json!({ "id": m.workspace, "name": m.workspace_name, "role": m.role.as_str() }))
        .collect();
    dashboard.pages.render(StatusCode::OK, "home.html", &signed.frame("/"), json!({ "workspaces": workspaces }))
}
