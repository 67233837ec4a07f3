//! `GET /sign-in` (the form), `POST /sign-in` (email and password: a new session and its
//! cookie) and `POST /sign-out` (ends this session). Failed sign-ins are limited per account
//! and per client address ([`super::rate_limit`]); an unknown email costs the same argon2 work
//! and gets the same answer as a wrong password.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::Dashboard;
use super::layout::{Frame, Prefs, local_path, text};
use super::session::{SignedIn, forbidden, form_token, form_token_matches, session_cookie, session_set_cookie};

/// The client's address as the listener saw it (behind a reverse proxy: the proxy's).
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0)))
    }
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    form_token: Option<String>,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

/// The sign-in form, `error` above it, the email kept.
fn page(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    status: StatusCode,
    next: Option<&str>,
    email: &str,
    error: Option<&str>,
) -> Response {
    let prefs = Prefs::of(headers);
    let (token, set) = form_token(headers, dashboard.secure_cookies);
    let frame = Frame { prefs, path: "/sign-in", person: None };
    let next = next.map(|n| local_path(Some(n))).filter(|n| n != "/");
    let mut response = dashboard.pages.render(
        status,
        "sign_in.html",
        &frame,
        json!({ "form_token": token, "email": email, "error": error, "next": next }),
    );
    if let Some(set) = set {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// `GET /sign-in`.
pub async fn form(State(dashboard): State<Dashboard>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    page(&dashboard, &headers, StatusCode::OK, next.next.as_deref(), "", None)
}

/// `POST /sign-in`: 303 to `next` (or `/`) with the session cookie; 401 with the form again on a
/// wrong email or password; 429 with `Retry-After` past the limit of failures; 403 without the
/// form's token.
pub async fn submit(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    Query(next): Query<Next>,
    Form(form): Form<SignInForm>,
) -> Response {
    let prefs = Prefs::of(&headers);
    if !form_token_matches(&headers, form.form_token.as_deref()) {
        return forbidden(&dashboard, prefs);
    }
    let account_key = format!("account:{}", form.email.trim().to_lowercase());
    let keys = [account_key.clone(), format!("ip:{}", addr.map_or_else(|| "unknown".into(), |a| a.ip().to_string()))];
    if let Some(wait) = dashboard.limiter.retry_after(&keys) {
        let minutes = wait.as_secs().div_ceil(60).to_string();
        let message = text(prefs.lang, "too_many").replace("{minutes}", &minutes);
        let mut response = page(
            &dashboard,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            next.next.as_deref(),
            &form.email,
            Some(&message),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return response;
    }
    let account = match dashboard.store.verify_password(&form.email, &form.password).await {
        Ok(account) => account,
        Err(error) => {
            tracing::error!(%error, "a sign-in could not be checked");
            return (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer; try again").into_response();
        }
    };
    let Some(account) = account else {
        dashboard.limiter.failed(&keys);
        let message = text(prefs.lang, "wrong_credentials");
        return page(&dashboard, &headers, StatusCode::UNAUTHORIZED, next.next.as_deref(), &form.email, Some(message));
    };
    dashboard.limiter.succeeded(&account_key);
    start_session(&dashboard, &headers, account.id, &local_path(next.next.as_deref())).await
}

/// Opens a session for `account` and answers 303 to `to` with its cookie. A session the
/// browser still had is ended first: signing in always gets a new secret (no fixation).
pub async fn start_session(dashboard: &Dashboard, headers: &HeaderMap, account: i64, to: &str) -> Response {
    if let Some(old) = session_cookie(headers) {
        let lifetime = i64::try_from(super::SESSION_IDLE.as_secs()).unwrap_or(i64::MAX);
        if let Ok(Some(access)) = dashboard.store.session(&old, lifetime).await {
            let _ = dashboard.store.revoke_session(access.account.id, access.session).await;
        }
    }
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let lifetime = i64::try_from(super::SESSION_IDLE.as_secs()).unwrap_or(i64::MAX);
    match dashboard.store.create_session(account, agent, lifetime).await {
        Ok(Some(session)) => {
            let mut response = Redirect::to(to).into_response();
            let cookie =
                session_set_cookie(&session.secret, ferrogram_store::SESSION_MAX_AGE, dashboard.secure_cookies);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Ok(None) => (StatusCode::FORBIDDEN, "this account is disabled").into_response(),
        Err(error) => {
            tracing::error!(%error, "a session could not be opened");
            (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer; try again").into_response()
        }
    }
}

/// An answer that clears the session cookie and goes to the sign-in page.
pub fn signed_out(dashboard: &Dashboard) -> Response {
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().append(header::SET_COOKIE, session_set_cookie("", 0, dashboard.secure_cookies));
    response
}

/// `POST /sign-out` (with the CSRF token): ends this session.
pub async fn sign_out(State(dashboard): State<Dashboard>, signed: SignedIn, Form(form): Form<CsrfForm>) -> Response {
    if let Some(refused) = signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let access = &signed.credential.access;
    if let Err(error) = dashboard.store.revoke_session(access.account.id, access.session).await {
        tracing::error!(%error, "a session could not be ended");
        return (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer; try again").into_response();
    }
    signed_out(&dashboard)
}
