//! HTTP sessions: how the `http` step stays logged in to an API (a login whose cookies later
//! calls send, a handshake header the API hands out, basic authentication), declared once under
//! `http_sessions` and named by each call with `session:` (decision 0057).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::HttpMethod;

/// What the `http` calls naming this session share, kept per bot in memory (never stored,
/// never logged): the cookies of its `login`, the header of its `handshake`, its `basic_auth`.
/// Set at least one of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSession {
    /// A request that logs in, made before the session's first call and again (once per call)
    /// when a call is answered 401 or 403. The cookies its answer sets (`Set-Cookie`) are sent
    /// with the session's calls to the login's origin (scheme, host and port), and only there.
    /// A login answered other than 2xx, or whose answer sets no cookie, fails the step (as a
    /// network error does: `try` catches it, with `error.kind` `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<SessionLogin>,
    /// A header the API hands out in a 409 answer and wants on every call (Transmission's
    /// `X-Transmission-Session-Id`): a call answered 409 with this header is made again, once,
    /// with it, and the session's later calls to that origin send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<String>,
    /// HTTP basic authentication, sent with each of the session's calls and its login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
}

/// A session's login request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionLogin {
    /// The login URL (a template): `"{{ bot.qbit_url }}/api/v2/auth/login"`. Only `http://` and
    /// `https://`.
    pub url: String,
    /// The HTTP method.
    #[serde(default = "default_login_method")]
    pub method: HttpMethod,
    /// Request headers, as the `http` step's (templates; `${NAME}` is a secret).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A form body (`application/x-www-form-urlencoded`), by field; values are templates, and
    /// `${NAME}` in one is a secret, as in headers: `{username: admin, password: "${QBIT_PASSWORD}"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub form: BTreeMap<String, String>,
    /// A JSON body instead of a form (each string in it is a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// Time limit of the login, in milliseconds (1 to 60000).
    #[serde(default = "default_login_timeout")]
    pub timeout_ms: u32,
}

/// HTTP basic authentication (`Authorization: Basic …`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name (a template; `${NAME}` is a secret).
    pub username: String,
    /// The password (a template; `${NAME}` is a secret): `"${TRANSMISSION_PASSWORD}"`.
    pub password: String,
}

fn default_login_method() -> HttpMethod {
    HttpMethod::Post
}

fn default_login_timeout() -> u32 {
    crate::model::DEFAULT_HTTP_TIMEOUT_MS
}
