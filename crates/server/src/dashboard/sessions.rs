//! `/account/sessions`: the signed-in person's live sessions (browser, when signed in, last
//! active, expiry), ending one (`POST /account/sessions/revoke`, htmx swaps the list), and
//! "sign out everywhere" (`POST /account/sessions/sign-out-everywhere`: every session of the
//! account, this one included).

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::session::SignedIn;
use super::sign_in::{CsrfForm, signed_out};

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    session: Option<i64>,
}

fn unavailable(error: &ferrogram_store::Error) -> Response {
    tracing::error!(%error, "sessions could not be read or ended");
    (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer; try again").into_response()
}

/// The account's sessions as the templates show them.
async fn listed(dashboard: &Dashboard, signed: &SignedIn) -> Result<Value, ferrogram_store::Error> {
    let access = &signed.credential.access;
    let sessions = dashboard.store.sessions(access.account.id).await?;
    Ok(Value::Array(
        sessions
            .into_iter()
            .map(|s| {
                json!({
                    "id": s.id, "user_agent": s.user_agent, "created_at": s.created_at,
                    "last_seen_at": s.last_seen_at, "expires_at": s.expires_at, "current": s.id == access.session,
                })
            })
            .collect(),
    ))
}

/// `GET /account/sessions`.
pub async fn page(State(dashboard): State<Dashboard>, signed: SignedIn) -> Response {
    match listed(&dashboard, &signed).await {
        Ok(sessions) => dashboard.pages.render(
            StatusCode::OK,
            "sessions.html",
            &signed.frame("/account/sessions"),
            json!({ "sessions": sessions }),
        ),
        Err(error) => unavailable(&error),
    }
}

/// `POST /account/sessions/revoke` (`session`, `csrf`): ends one of the account's sessions;
/// htmx gets the list again, a plain form a 303 back to the page.
pub async fn revoke_one(
    State(dashboard): State<Dashboard>,
    signed: SignedIn,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Some(refused) = signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let Some(session) = form.session else {
        return (StatusCode::BAD_REQUEST, "which session? (the `session` field)").into_response();
    };
    if let Err(error) = dashboard.store.revoke_session(signed.credential.access.account.id, session).await {
        return unavailable(&error);
    }
    if headers.get("hx-request").is_none() {
        return Redirect::to("/account/sessions").into_response();
    }
    match listed(&dashboard, &signed).await {
        Ok(sessions) => dashboard.pages.render(
            StatusCode::OK,
            "sessions_list.html",
            &signed.frame("/account/sessions"),
            json!({ "sessions": sessions }),
        ),
        Err(error) => unavailable(&error),
    }
}

/// `POST /account/sessions/sign-out-everywhere` (`csrf`): ends every session of the account.
pub async fn sign_out_everywhere(
    State(dashboard): State<Dashboard>,
    signed: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    match dashboard.store.revoke_sessions(signed.credential.access.account.id, None).await {
        Ok(_) => signed_out(&dashboard),
        Err(error) => unavailable(&error),
    }
}
