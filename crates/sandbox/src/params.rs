//! Bot API parameters from the query string, an urlencoded or multipart form, or a JSON
//! body, converted to JSON values by the types that `api.json` gives each parameter.

use crate::error::{ApiError, ApiResult};
use crate::spec::{Field, Method};
use axum::body::Bytes;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A file part of a multipart request.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub bytes: Bytes,
}

/// The converted parameters of one call.
#[derive(Debug, Default)]
pub struct Params {
    values: Map<String, Value>,
    uploads: HashMap<String, Upload>,
}

/// A chat named by a call: its id, or a public `@username`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatRef {
    Id(i64),
    Username(String),
}

impl Params {
    pub fn from_values(values: Map<String, Value>) -> Self {
        Self { values, uploads: HashMap::new() }
    }

    /// Adds one raw parameter, converted by the method's declared types.
    pub fn insert(&mut self, method: Option<&Method>, name: String, raw: Value) -> ApiResult<()> {
        let value = match method.and_then(|m| m.field(&name)) {
            Some(field) => convert(field, raw)?,
            None => raw,
        };
        self.values.insert(name, value);
        Ok(())
    }

    pub fn insert_upload(&mut self, name: String, upload: Upload) {
        self.uploads.insert(name, upload);
    }

    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn f64(&self, name: &str) -> Option<f64> {
        match self.value(name)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.value(name), Some(Value::Bool(true)))
    }

    pub fn upload(&self, name: &str) -> Option<&Upload> {
        self.uploads.get(name)
    }

    /// The `chat_id` parameter, with the server's errors for a missing or malformed one.
    pub fn chat_id(&self) -> ApiResult<ChatRef> {
        self.chat_ref("chat_id")
    }

    pub fn chat_ref(&self, name: &str) -> ApiResult<ChatRef> {
        match self.value(name) {
            None => Err(ApiError::bad_request(format!("{name} is empty"))),
            Some(Value::Number(n)) => n.as_i64().map(ChatRef::Id).ok_or_else(ApiError::chat_not_found),
            Some(Value::String(s)) if s.starts_with('@') && s.len() > 1 => Ok(ChatRef::Username(s[1..].to_string())),
            Some(Value::String(s)) if s.is_empty() => Err(ApiError::bad_request(format!("{name} is empty"))),
            Some(Value::String(s)) => s.trim().parse().map(ChatRef::Id).map_err(|_| ApiError::chat_not_found()),
            Some(_) => Err(ApiError::chat_not_found()),
        }
    }

    /// A required integer such as `message_id`.
    pub fn require_i64(&self, name: &str, missing: &str) -> ApiResult<i64> {
        match self.value(name) {
            None => Err(ApiError::bad_request(missing)),
            Some(_) => self.i64(name).ok_or_else(|| ApiError::bad_request(format!("invalid {name} specified"))),
        }
    }

    pub fn require_str(&self, name: &str, missing: &str) -> ApiResult<&str> {
        self.str(name).filter(|s| !s.is_empty()).ok_or_else(|| ApiError::bad_request(missing))
    }
}

const SCALARS: [&str; 5] = ["Integer", "Float", "Boolean", "String", "InputFile"];

/// Converts a raw value (a form's string, or any JSON value) to the field's declared type.
/// Lenient where Telegram is lenient: numbers in strings, `1`/`0` for booleans.
fn convert(field: &Field, raw: Value) -> ApiResult<Value> {
    let types = &field.types;
    let accepts = |t: &str| types.iter().any(|declared| declared == t);
    let structured = types.iter().any(|t| !SCALARS.contains(&t.as_str()));
    match raw {
        Value::String(s) => {
            if accepts("Integer")
                && let Ok(n) = s.trim().parse::<i64>()
            {
                return Ok(Value::from(n));
            }
            if accepts("Float")
                && let Ok(n) = s.trim().parse::<f64>()
            {
                return Ok(serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null));
            }
            if accepts("Boolean") {
                match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => return Ok(Value::Bool(true)),
                    "false" | "0" | "" => return Ok(Value::Bool(false)),
                    _ => {}
                }
            }
            if structured && !accepts("String") && !accepts("InputFile") {
                if s.is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&s)
                    .map_err(|_| ApiError::bad_request(format!("can't parse {} JSON object", official_name(field))));
            }
            if accepts("Integer") && !accepts("String") {
                return Err(ApiError::bad_request(format!("parameter \"{}\" must be a Number", field.name)));
            }
            Ok(Value::String(s))
        }
        Value::Number(n) if types.len() == 1 && accepts("String") => Ok(Value::String(n.to_string())),
        // The official server reads every value as text, so a JSON 1 is true like a form's "1".
        Value::Number(n) if types.len() == 1 && accepts("Boolean") => Ok(Value::Bool(n.as_i64() == Some(1))),
        other => Ok(other),
    }
}

/// How the official server names a parameter in its "can't parse … JSON object" errors.
fn official_name(field: &Field) -> String {
    match field.name.as_str() {
        "reply_markup" => "reply keyboard markup".into(),
        "correct_option_ids" => "correct option identifiers".into(),
        "custom_emoji_ids" => "custom emoji identifiers".into(),
        name => name.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    fn params(method: &str, pairs: &[(&str, Value)]) -> ApiResult<Params> {
        let spec = Spec::get();
        let mut params = Params::default();
        for (name, value) in pairs {
            params.insert(spec.method(method), name.to_string(), value.clone())?;
        }
        Ok(params)
    }

    #[test]
    fn form_strings_become_declared_types() {
        let p = params(
            "sendMessage",
            &[
                ("chat_id", "42".into()),
                ("text", "007".into()),
                ("disable_notification", "true".into()),
                ("reply_markup", r#"{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}"#.into()),
            ],
        )
        .unwrap();
        assert_eq!(p.value("chat_id"), Some(&Value::from(42)));
        assert_eq!(p.str("text"), Some("007"), "a String field keeps leading zeros");
        assert!(p.bool("disable_notification"));
        let json_one = params("sendMessage", &[("disable_notification", 1.into())]).unwrap();
        assert!(json_one.bool("disable_notification"), "a JSON 1 is true");
        assert_eq!(p.value("reply_markup").unwrap()["inline_keyboard"][0][0]["text"], "a");
    }

    #[test]
    fn username_chat_ids_stay_strings() {
        let p = params("sendMessage", &[("chat_id", "@channel".into())]).unwrap();
        assert_eq!(p.chat_id().unwrap(), ChatRef::Username("channel".into()));
        let empty = params("sendMessage", &[]).unwrap();
        assert_eq!(empty.chat_id().unwrap_err().description, "Bad Request: chat_id is empty");
    }

    #[test]
    fn broken_json_object_is_a_bad_request() {
        let err = params("sendMessage", &[("reply_markup", "{not json".into())]).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(err.description, "Bad Request: can't parse reply keyboard markup JSON object");
    }

    #[test]
    fn method_names_are_case_insensitive() {
        assert_eq!(Spec::get().method("SENDmessage").unwrap().name, "sendMessage");
        assert!(Spec::get().method("sendNothing").is_none());
    }
}
