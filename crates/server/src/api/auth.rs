//! Who is calling: the [`Caller`] extractor. Today the one credential is an API token,
//! `Authorization: Bearer fg_…`, verified by the store (`Store::verify_token`); the dashboard's
//! session cookie (with its CSRF header on unsafe methods) is meant to join as a second
//! [`Credential`] variant, tried when there is no `Authorization` header, without changing the
//! handlers: they only see the caller's workspace and role.
//!
//! Without credentials, or with ones unknown or revoked: 401 (with `WWW-Authenticate: Bearer`).
//! A role that may not act: 403 ([`Caller::require`]). A thing of another workspace is never a
//! 403: every lookup takes [`Caller::workspace`], so it is not found (404).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::Role;

use super::problem::Problem;
use crate::bots::Api;

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An API token, by its id (never its secret).
    Token(i64),
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

    /// What the audit log names the caller: `token:ID`.
    pub fn actor(&self) -> String {
        match self.credential {
            Credential::Token(id) => format!("token:{id}"),
        }
    }

    /// Whose `Idempotency-Key`s these are: keys are kept per credential.
    pub fn idempotency_owner(&self) -> i64 {
        match self.credential {
            Credential::Token(id) => id,
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
            let detail = "credentials are needed: Authorization: Bearer fg_…";
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
