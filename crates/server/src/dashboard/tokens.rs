//! `/w/{workspace}/tokens`: the workspace's API tokens (admin, as in the API): their name,
//! role, prefix, creation, last use and revocation; a new one (`POST …/tokens`), whose secret
//! is shown on the answer's page only, never again; and revoking one (`POST …/tokens/revoke`).
//! Read, issued and revoked by the REST API's own functions (`api::tokens::{list, issue,
//! revoke}`: role checked, audited as `token.create` and `token.revoke`).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::problem::Problem;
use crate::api::tokens::{TokenFilter, TokenRequest};

/// A new token's form.
#[derive(Deserialize)]
pub struct NewTokenForm {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

/// The revocation's form.
#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    token: Option<String>,
}

/// The page with the tokens; `issued` is a new token's secret to show this once, `errors` a
/// refused form's.
async fn render(
    dashboard: &Dashboard,
    at: &InWorkspace,
    status: StatusCode,
    issued: Option<Value>,
    errors: Option<&Problem>,
) -> Response {
    let path = format!("{}/tokens", at.base());
    let filter = TokenFilter { revoked: None, prefix: None, limit: Some(200), cursor: None };
    let page = match api::tokens::list(&at.api, &at.caller, &filter).await {
        Ok(page) => page,
        Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
    };
    let field = |pointer: &str| {
        errors.and_then(|p| p.errors.iter().find(|e| e.pointer.as_deref() == Some(pointer))).map(|e| e.detail.clone())
    };
    let mut context = at.context();
    context["tokens"] = json!(page.items);
    context["issued"] = json!(issued);
    context["errors"] = json!({ "name": field("/name"), "role": field("/role") });
    dashboard.pages.render(status, "tokens.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/tokens` (admin).
pub async fn page(State(dashboard): State<Dashboard>, at: InWorkspace) -> Response {
    render(&dashboard, &at, StatusCode::OK, None, None).await
}

/// `POST /w/{workspace}/tokens` (`csrf`, `name`, `role`; admin): issues a token and shows its
/// secret on this answer only.
pub async fn create(State(dashboard): State<Dashboard>, at: InWorkspace, Form(form): Form<NewTokenForm>) -> Response {
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let request = TokenRequest { name: form.name.unwrap_or_default(), role: form.role.unwrap_or_default() };
    match api::tokens::issue(&at.api, &at.caller, &request).await {
        Ok(issued) => {
            let shown = json!({ "name": issued.token.name, "secret": issued.secret });
            render(&dashboard, &at, StatusCode::CREATED, Some(shown), None).await
        }
        Err(problem) if problem.status == 422 => {
            render(&dashboard, &at, StatusCode::UNPROCESSABLE_ENTITY, None, Some(&problem)).await
        }
        Err(problem) => refusal(&dashboard, &at.signed, &format!("{}/tokens", at.base()), &problem),
    }
}

/// `POST /w/{workspace}/tokens/revoke` (`csrf`, `token`; admin).
pub async fn revoke(State(dashboard): State<Dashboard>, at: InWorkspace, Form(form): Form<RevokeForm>) -> Response {
    let path = format!("{}/tokens", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    match api::tokens::revoke(&at.api, &at.caller, form.token.as_deref().unwrap_or_default()).await {
        Ok(()) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}
