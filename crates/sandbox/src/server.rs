//! The HTTP front: bot-side paths, file downloads, the control API and the web chat.

use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, Upload};
use crate::spec::{Method, Spec};
use crate::{bot_api, control};
use axum::Router;
use axum::body::Body;
use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Telegram takes uploads up to 50 MB; a little more leaves room for the form around them.
const MAX_BODY: usize = 52 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(include_str!("../assets/chat.html")) }))
        .route("/assets/{name}", get(asset))
        .nest("/sandbox", control::router())
        .nest("/llm", crate::stand_in_llm::router())
        .merge(crate::telegram_test_api_compat::router())
        .fallback(bot_side)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, mime) = match name.as_str() {
        "chat.js" => (include_str!("../assets/chat.js"), "text/javascript; charset=utf-8"),
        "chat.css" => (include_str!("../assets/chat.css"), "text/css; charset=utf-8"),
        "icon.svg" => (include_str!("../assets/icon.svg"), "image/svg+xml"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `/bot<token>/<method>` and `/file/bot<token>/<path>`; anything else is Telegram's bare 404.
async fn bot_side(State(app): State<Arc<App>>, request: Request) -> Response {
    let path = percent_decode(request.uri().path());
    if let Some(rest) = path.strip_prefix("/file/bot") {
        return match rest.split_once('/') {
            Some((token, file_path)) => download(&app, token, file_path),
            None => ApiError::new(404, "Not Found").into_response(),
        };
    }
    let Some((token, method)) = path.strip_prefix("/bot").and_then(|rest| rest.split_once('/')) else {
        return ApiError::new(404, "Not Found").into_response();
    };
    let (token, method) = (token.to_string(), method.trim_end_matches('/').to_string());
    // A malformed token is refused before its parameters are read, as the official server does.
    if let Err(error) = crate::world::parse_token(&token) {
        return error.into_response();
    }
    let params = match read_params(Spec::get().method(&method), request).await {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    match bot_api::call_and_fault(&app, &token, &method, params).await {
        (_, true) => dropped_answer(),
        (Ok(result), false) => ok_json(result),
        (Err(error), false) => {
            tracing::debug!(%method, %error, "bot call failed");
            error.into_response()
        }
    }
}

/// A response whose body fails before its first byte: the server closes the connection without
/// sending anything, as when an answer is lost on the way back.
fn dropped_answer() -> Response {
    let body = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::other("answer dropped by a fault"))
    });
    Response::new(Body::from_stream(body))
}

fn ok_json(result: Value) -> Response {
    let body = serde_json::to_vec(&json!({"ok": true, "result": result})).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn download(app: &App, token: &str, file_path: &str) -> Response {
    let file = app.world.with(|s| {
        s.bot_for_token(token)?;
        s.file_by_path(file_path)
            .map(|f| (f.bytes.clone(), f.mime_type.clone()))
            .ok_or_else(|| ApiError::new(404, "Not Found"))
    });
    match file {
        Ok((bytes, mime)) => {
            let mime = mime.unwrap_or_else(|| "application/octet-stream".into());
            ([(header::CONTENT_TYPE, mime)], Body::from(bytes)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Collects a call's parameters: the query string first, then the body (JSON, urlencoded or
/// multipart), each converted by the method's declared types.
async fn read_params(method: Option<&Method>, request: Request) -> ApiResult<Params> {
    let mut params = Params::default();
    if let Some(query) = request.uri().query() {
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            params.insert(method, name.into_owned(), Value::String(value.into_owned()))?;
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("can't parse multipart form: {e}")))?;
        while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(e, "parse"))? {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let mime_type = field.content_type().map(str::to_string);
            let bytes = field.bytes().await.map_err(|e| multipart_error(e, "read"))?;
            match file_name {
                Some(file_name) => params.insert_upload(name, Upload { file_name: Some(file_name), mime_type, bytes }),
                None => params.insert(method, name, Value::String(String::from_utf8_lossy(&bytes).into_owned()))?,
            }
        }
        return Ok(params);
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY).await.map_err(|_| too_large())?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let object: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("can't parse JSON object"))?;
        for (name, value) in object {
            params.insert(method, name, value)?;
        }
    } else {
        for (name, value) in form_urlencoded::parse(&body) {
            params.insert(method, name.into_owned(), Value::String(value.into_owned()))?;
        }
    }
    Ok(params)
}

/// A body over [`MAX_BODY`], as the official server answers it.
fn too_large() -> ApiError {
    ApiError::new(413, "Request Entity Too Large")
}

/// A broken multipart form is a bad request; one over the size limit is too large, as any body.
fn multipart_error(error: MultipartError, doing: &str) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => ApiError::bad_request(format!("can't {doing} multipart form: {error}")),
    }
}

/// Decodes `%3A` and friends in a request path (some clients escape the token's colon).
fn percent_decode(path: &str) -> String {
    if !path.contains('%') {
        return path.to_string();
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn escaped_token_colons_are_decoded() {
        assert_eq!(percent_decode("/bot1%3Aab/getMe"), "/bot1:ab/getMe");
        assert_eq!(percent_decode("/bot1:ab/getMe%"), "/bot1:ab/getMe%");
        assert_eq!(percent_decode("/x%zz"), "/x%zz");
    }
}
