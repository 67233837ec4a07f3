//! Who is calling: the [`Caller`] extractor. Two credentials, and the handlers only see the
//! caller's workspace and role:
//!
//! - an API token, `Authorization: Bearer fg_…`, verified by the store (`Store::verify_token`):
//!   its workspace and role;
//! - without an `Authorization` header, the dashboard's session cookie (decision 0042,
//!   `dashboard::session_access`): the signed-in account acts in one of its workspaces with its
//!   role there, the one named by the `X-Workspace` header (its id), or its only one. A method
//!   that may change something (all but GET, HEAD, OPTIONS) also needs the session's CSRF token
//!   in `X-CSRF-Token`, else 403 and nothing is done. A workspace the account is not a member of
//!   is answered as not found (404).
//!
//! Without credentials, or with ones unknown or revoked: 401 (with `WWW-Authenticate: Bearer`).
//! A role that may not act: 403 ([`Caller::require`]). A thing of another workspace is never a
//! 403: every lookup takes [`Caller::workspace`], so it is not found (404).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::Role;

use super::problem::{FieldError, Problem};
use crate::bots::Api;
use crate::dashboard::session::session_cookie;
use crate::dashboard::session_access;

/// The header that names the workspace a session caller acts in.
pub const WORKSPACE_HEADER: &str = "x-workspace";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API token, by its id (never its secret).
    Token(i64),
    /// A dashboard session, by its account's id.
    Session(i64),
}

/// A verified caller: its workspace and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub workspace: i64,
    pub role: Role,
    pub credential: Credential,
}

impl Caller {
    /// `Ok` when the caller's role may do what `needed` may, else a 403 problem.
    pub fn require(&self, needed: Role) -> Result<(), Problem> {
        if self.role.allows(needed) {
            return Ok(());
        }
        Err(Problem::forbidden(format!("the caller's role {} may not do this (it needs {needed})", self.role)))
    }

    /// What the audit log names the caller: `token:ID` or `account:ID`.
    pub fn actor(&self) -> String {
        match self.credential {
            Credential::Token(id) => format!("token:{id}"),
            Credential::Session(id) => format!("account:{id}"),
        }
    }

    /// Whose `Idempotency-Key`s these are: keys are kept per API token; `None` for a session
    /// (the dashboard's forms carry a CSRF token instead, and keys are not kept for it).
    pub fn idempotency_owner(&self) -> Option<i64> {
        match self.credential {
            Credential::Token(id) => Some(id),
            Credential::Session(_) => None,
        }
    }
}

/// A 401 problem that says how to authenticate.
pub struct Unauthorized(Problem);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

impl From<Problem> for Unauthorized {
    fn from(problem: Problem) -> Self {
        Unauthorized(problem)
    }
}

impl FromRequestParts<Api> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            if let Some(cookie) = session_cookie(&parts.headers) {
                return session_caller(parts, api, &cookie).await;
            }
            let detail = "credentials are needed: Authorization: Bearer fg_…, or a dashboard session";
            return Err(Unauthorized(Problem::unauthorized(detail)).into_response());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            let detail = "the Authorization header must be `Bearer fg_…`";
            return Err(Unauthorized(Problem::unauthorized(detail)).into_response());
        };
        match api.store.verify_token(token).await {
            Ok(Some(access)) => Ok(Caller {
                workspace: access.workspace,
                role: access.role,
                credential: Credential::Token(access.token),
            }),
            Ok(None) => Err(Unauthorized(Problem::unauthorized("unknown or revoked API token")).into_response()),
            Err(e) => Err(Problem::internal("verifying the token", e).into_response()),
        }
    }
}

/// The caller of a request that carries the session cookie `cookie` (and no `Authorization`).
async fn session_caller(parts: &Parts, api: &Api, cookie: &str) -> Result<Caller, Response> {
    let csrf = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    let Some(session) = session_access(&api.store, cookie, csrf).await else {
        let detail = "the session has ended or is unknown: sign in again";
        return Err(Unauthorized(Problem::unauthorized(detail)).into_response());
    };
    let safe = matches!(parts.method.as_str(), "GET" | "HEAD" | "OPTIONS");
    if !safe && !session.csrf_verified {
        let error = FieldError::parameter("X-CSRF-Token", "the session's CSRF token is needed for a change");
        return Err(Problem::forbidden("a change by a dashboard session needs its CSRF token")
            .with_errors(vec![error])
            .into_response());
    }
    let named = match parts.headers.get(WORKSPACE_HEADER) {
        None => None,
        Some(value) => match value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()) {
            Some(id) => Some(id),
            None => {
                let error = FieldError::parameter("X-Workspace", "a workspace id");
                return Err(Problem::bad_request("X-Workspace is not a workspace id")
                    .with_errors(vec![error])
                    .into_response());
            }
        },
    };
    let membership = match named {
        Some(id) => session.memberships.iter().find(|m| m.workspace == id),
        None if session.memberships.len() == 1 => session.memberships.first(),
        None if session.memberships.is_empty() => None,
        None => {
            let error = FieldError::parameter("X-Workspace", "the id of one of the account's workspaces");
            return Err(Problem::bad_request("the account belongs to several workspaces: name one in X-Workspace")
                .with_errors(vec![error])
                .into_response());
        }
    };
    let Some(membership) = membership else {
        return Err(Problem::not_found("no such workspace for this account").into_response());
    };
    Ok(Caller {
        workspace: membership.workspace,
        role: membership.role,
        credential: Credential::Session(session.access.account.id),
    })
}
