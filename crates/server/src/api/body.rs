//! Request bodies and query strings, read so that every client error is a [`Problem`] with the
//! failing field's place: [`JsonBody`] (400 for malformed JSON, 415 for another media type, 413
//! over the body limit, 422 with the field's JSON pointer for a wrong type, a missing or unknown
//! field) and [`Params`] (400 naming the query parameter).
//!
//! Request types are `#[serde(deny_unknown_fields)]`: a misspelt field is an error, not ignored.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::{FieldError, Problem};

/// The most a request body may hold: a bot file at its largest (`MAX_FILE_BYTES`) with room
/// for its JSON escaping. More is a 413.
pub const BODY_LIMIT: usize = ferrogram_schema::MAX_FILE_BYTES + (1 << 20);

/// A JSON body read as `T`, with its raw bytes (what an `Idempotency-Key` is checked against).
pub struct JsonBody<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let is_json = content_type.is_some_and(|t| {
            let essence = t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        });
        if !is_json {
            let detail = "the body must be JSON: Content-Type: application/json";
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, "Unsupported Media Type", detail));
        }
        let raw = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                let detail = format!("the body is over the limit of {BODY_LIMIT} bytes");
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, None, "Content Too Large", detail)
            } else {
                Problem::bad_request(format!("the body could not be read: {}", rejection.body_text()))
            }
        })?;
        // serde reads a struct from an array too (by position): the API's bodies are objects.
        let first = raw.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(Problem::invalid("the body must be a JSON object", vec![FieldError::at("", "not an object")]));
        }
        let value = parse(&raw)?;
        Ok(JsonBody { value, raw })
    }
}

/// Parses a JSON document as `T`: 400 when it is not JSON, 422 at the failing field otherwise.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = match parsed {
        Ok(value) => value,
        Err(error) => {
            let pointer = pointer_of(error.path());
            let inner = error.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data => {
                    // An unknown field's path already ends with its name.
                    let message = strip_position(&inner.to_string());
                    Problem::invalid("a field of the body is not acceptable", vec![FieldError::at(pointer, message)])
                }
                _ => Problem::bad_request(format!("the body is not valid JSON: {inner}")),
            });
        }
    };
    deserializer.end().map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// A serde path as a JSON pointer (`/scenes/0/name`); the root is the empty pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => pointer.push_str(&format!("/{}", escape(key))),
            Segment::Enum { variant } => pointer.push_str(&format!("/{}", escape(variant))),
            Segment::Unknown => {}
        }
    }
    pointer
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// serde_json's message without its " at line 1 column 20" (the pointer says where).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string read as `T` (a `deny_unknown_fields` struct): 400 naming the parameter.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let message = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text).to_owned();
                let parameter = message
                    .strip_prefix("unknown field `")
                    .or_else(|| message.split_once(": ").map(|(name, _)| name))
                    .and_then(|rest| rest.split('`').next())
                    .unwrap_or_default()
                    .to_owned();
                let errors = vec![FieldError::parameter(parameter, message.clone())];
                Err(Problem::bad_request(format!("the query string is not acceptable: {message}")).with_errors(errors))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        tags: Vec<u32>,
    }

    #[test]
    fn failures_point_at_the_field() {
        let problem = parse::<Sample>(br#"{"name": "a", "tags": [1, "x"]}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].pointer.as_deref(), Some("/tags/1"));
        let problem = parse::<Sample>(br#"{"name": "a", "tags": [], "colour": 1}"#).unwrap_err();
        assert_eq!((problem.status, problem.errors[0].pointer.as_deref()), (422, Some("/colour")));
        let problem = parse::<Sample>(br#"{"tags": []}"#).unwrap_err();
        assert_eq!((problem.status, problem.errors[0].pointer.as_deref()), (422, Some("")));
        assert!(problem.errors[0].detail.contains("missing field `name`"), "{:?}", problem.errors);
        assert_eq!(parse::<Sample>(br#"{"name": "a", "#).unwrap_err().status, 400);
        assert_eq!(parse::<Sample>(br#"{"name": "a", "tags": []} x"#).unwrap_err().status, 400);
    }
}
