//! Errors in the Bot API's own shape: `{"ok":false,"error_code":N,"description":"…"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer of the bot side. Texts follow the official server's
/// (`spec/official-server-error-strings.tsv`) and TDLib's documented ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), retry_after: None }
    }

    /// `400 Bad Request: <what>`.
    pub fn bad_request(what: impl AsRef<str>) -> Self {
        Self::new(400, format!("Bad Request: {}", what.as_ref()))
    }

    pub fn forbidden(what: impl AsRef<str>) -> Self {
        Self::new(403, format!("Forbidden: {}", what.as_ref()))
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    pub fn invalid_token() -> Self {
        Self::new(401, "Unauthorized: invalid token specified")
    }

    pub fn method_not_found() -> Self {
        Self::new(404, "Not Found: method not found")
    }

    pub fn conflict(what: impl AsRef<str>) -> Self {
        Self::new(409, format!("Conflict: {}", what.as_ref()))
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    pub fn chat_not_found() -> Self {
        Self::bad_request("chat not found")
    }

    pub fn to_json(&self) -> Value {
        let mut body = json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.description)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.to_json())).into_response()
    }
}

pub type ApiResult<T = Value> = Result<T, ApiError>;
