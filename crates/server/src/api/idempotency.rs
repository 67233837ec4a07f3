//! `Idempotency-Key` on the POSTs that create: the first request with a key runs and its answer
//! (success or 4xx) is kept for 24 hours per credential; a repeat with the same method, path and
//! body gets the same status and body again without acting; the same key with another request
//! is 422; a repeat while the first is still running is 409. A 5xx is not kept: the key can be
//! retried. Without the header, the request simply runs.
//!
//! What is kept is the JSON body as answered, except what a handler marks as shown once (a new
//! token's secret): its replay carries `null` there, as the secret is never stored.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::Idempotency;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::auth::Caller;
use super::problem::{FieldError, PROBLEM_JSON, Problem};
use crate::bots::Api;

/// The header's name.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The longest key accepted.
pub const MAX_KEY: usize = 255;

/// What a creating handler answers: its status, optional ETag and `Location`, its JSON body,
/// and, when some of it is shown once, the body to keep for replays instead.
pub struct Created {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub body: Value,
    pub replay_body: Option<Value>,
}

impl Created {
    pub fn new(body: Value) -> Self {
        Created { status: StatusCode::CREATED, etag: None, location: None, body, replay_body: None }
    }
}

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        answer(Ok(self)).0
    }
}

/// The kept form of an answer.
#[derive(Serialize, Deserialize)]
struct Kept {
    content_type: String,
    etag: Option<String>,
    location: Option<String>,
    body: Value,
}

fn respond(status: StatusCode, kept: &Kept) -> Response {
    let mut response = (status, serde_json::to_vec(&kept.body).unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&kept.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    for (name, value) in [(header::ETAG, &kept.etag), (header::LOCATION, &kept.location)] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}

/// The answer of `act`, once per `Idempotency-Key` (see the module). `request` is the method
/// and path, `raw` the body, which together must match a replayed key's.
pub async fn once<F>(api: &Api, caller: &Caller, headers: &HeaderMap, request: &str, raw: &[u8], act: F) -> Response
where
    F: Future<Output = Result<Created, Problem>>,
{
    let key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str().map(str::trim)) {
        None => return answer(act.await).0,
        Some(Ok(key)) if !key.is_empty() && key.len() <= MAX_KEY => key.to_owned(),
        Some(_) => {
            let error = FieldError::parameter("Idempotency-Key", format!("1 to {MAX_KEY} visible ASCII characters"));
            return Problem::bad_request("the Idempotency-Key header is not acceptable")
                .with_errors(vec![error])
                .into_response();
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(request.as_bytes());
    hasher.update([0]);
    hasher.update(raw);
    let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let Some(owner) = caller.idempotency_owner() else {
        let error = FieldError::parameter("Idempotency-Key", "kept for API tokens only");
        return Problem::bad_request("Idempotency-Key is kept for API tokens, not for dashboard sessions")
            .with_errors(vec![error])
            .into_response();
    };
    match api.store.idempotency_begin(owner, &key, &hash).await {
        Err(e) => return Problem::internal("reading the idempotency key", e).into_response(),
        Ok(Idempotency::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return match serde_json::from_str::<Kept>(&body) {
                Ok(kept) => respond(status, &kept),
                Err(e) => Problem::internal("reading the kept answer", e).into_response(),
            };
        }
        Ok(Idempotency::Mismatch) => {
            let error = FieldError::parameter("Idempotency-Key", "already used for another request");
            return Problem::invalid("this Idempotency-Key was used with another request", vec![error]).into_response();
        }
        Ok(Idempotency::InFlight) => {
            return Problem::conflict("a request with this Idempotency-Key is still being answered").into_response();
        }
        Ok(Idempotency::New) => {}
    }
    let (response, kept, status) = answer(act.await);
    let outcome = if status.is_server_error() {
        api.store.idempotency_abandon(owner, &key).await
    } else {
        let text = serde_json::to_string(&kept).unwrap_or_default();
        api.store.idempotency_finish(owner, &key, status.as_u16(), &text).await
    };
    if let Err(e) = outcome {
        tracing::error!(%e, "API: keeping the idempotency key's answer failed");
    }
    response
}

/// The response, what to keep of it, and its status.
fn answer(result: Result<Created, Problem>) -> (Response, Kept, StatusCode) {
    match result {
        Ok(created) => {
            let shown = Kept {
                content_type: "application/json".into(),
                etag: created.etag,
                location: created.location,
                body: created.body,
            };
            let response = respond(created.status, &shown);
            let kept = match created.replay_body {
                Some(body) => Kept { body, ..shown },
                None => shown,
            };
            (response, kept, created.status)
        }
        Err(problem) => {
            let status = problem.status_code();
            let kept = Kept {
                content_type: PROBLEM_JSON.into(),
                etag: None,
                location: None,
                body: serde_json::to_value(&problem).unwrap_or_default(),
            };
            (problem.into_response(), kept, status)
        }
    }
}
