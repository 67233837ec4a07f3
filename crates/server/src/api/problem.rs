//! Errors of the REST API as `application/problem+json` (RFC 9457): `type`, `title`, `status`,
//! `detail`, and `errors`, one entry per failing field with its place: `pointer` (a JSON pointer
//! into the request body, RFC 6901), or `parameter` (a query parameter or header), and for a bot
//! file's diagnostics its `line`, `column`, `key` and `hint`.
//!
//! Every refusal of the API is a [`Problem`]: handlers return `Result<_, Problem>`, and the
//! extractors (credentials, body, query) turn their rejections into one, so that no client error
//! is answered with a 500 or a bare status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of problems.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `about:blank` when the status says it all, else
    /// `urn:ferrogram:problem:KIND`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind's short summary, the same for every occurrence.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// The failing fields, when the problem is about the request's content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One failing field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// A JSON pointer into the request body (`/source`, `/role`); absent for a parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// A query parameter or header name (`cursor`, `If-Match`); absent for a body field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// What is wrong with it.
    pub detail: String,
    /// In a bot file: the line (from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// In a bot file: the column (from 1, in characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// In a bot file: the path of the offending key (`scenes.menu.on[0].goto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// In a bot file: how to fix it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// In a bot file: `error` or `warning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

impl FieldError {
    /// A body field's error, at `pointer`.
    pub fn at(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { pointer: Some(pointer.into()), parameter: None, ..FieldError::parameter("", detail) }
    }

    /// A query parameter's or header's error.
    pub fn parameter(name: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            pointer: None,
            parameter: Some(name.into()),
            detail: detail.into(),
            line: None,
            column: None,
            key: None,
            hint: None,
            severity: None,
        }
    }
}

impl Problem {
    /// A problem of status `status` and kind `kind` (`None`: `about:blank`).
    pub fn new(status: StatusCode, kind: Option<&str>, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: kind.map_or_else(|| "about:blank".to_owned(), |k| format!("urn:ferrogram:problem:{k}")),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// With these failing fields.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// 400: the request cannot be read (malformed JSON, a bad query string).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, Some("malformed-request"), "Malformed request", detail)
    }

    /// 401: no credentials, or ones unknown or revoked.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, None, "Unauthorized", detail)
    }

    /// 403: the caller's role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, None, "Forbidden", detail)
    }

    /// 404: no such thing in the caller's workspace (also what another workspace's is).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, None, "Not Found", detail)
    }

    /// 409: the request conflicts with the current state (a taken name, a refused action).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT, Some("conflict"), "Conflict", detail)
    }

    /// 422: the request is well-formed JSON but its content is not acceptable.
    pub fn invalid(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, Some("invalid-request"), "Invalid request", detail)
            .with_errors(errors)
    }

    /// 500: the server failed (the store); the detail is logged, not sent.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "API: {what} failed");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, None, "Internal Server Error", format!("{what} failed"))
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status_code(), body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// A store error as a 500 problem (logged with what was being done).
pub(crate) fn store_failed(what: &'static str) -> impl FnOnce(ferrogram_store::Error) -> Problem {
    move |error| Problem::internal(what, error)
}
