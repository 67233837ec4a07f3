//! Message texts, captions and reply markup: checked and normalised as Telegram does.

use crate::error::{ApiError, ApiResult};
use crate::markup;
use crate::params::Params;
use crate::spec::Spec;
use crate::world::Target;
use serde_json::{Map, Value, json};

pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;
const MAX_CALLBACK_DATA: usize = 64;

/// A text or caption after parse_mode: the plain text and its entities.
#[derive(Debug, PartialEq)]
pub struct Formatted {
    pub text: String,
    pub entities: Vec<Value>,
}

impl Formatted {
    /// Writes `text`/`entities` (or `caption`/`caption_entities`) into a message object.
    pub fn write_to(self, message: &mut Map<String, Value>, text_key: &str, entities_key: &str) {
        message.insert(text_key.into(), Value::String(self.text));
        if !self.entities.is_empty() {
            message.insert(entities_key.into(), Value::Array(self.entities));
        }
    }
}

/// The message text of a send or edit; Telegram refuses an empty or over-long one.
pub fn message_text(p: &Params) -> ApiResult<Formatted> {
    let text = p.str("text").unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let formatted = format(text, p.str("parse_mode"), p.value("entities"))?;
    if formatted.text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if formatted.text.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_request("message is too long"));
    }
    Ok(formatted)
}

/// The optional caption of a media message.
pub fn caption(p: &Params) -> ApiResult<Option<Formatted>> {
    caption_of(p.str("caption").unwrap_or_default(), p.str("parse_mode"), p.value("caption_entities"))
}

/// A caption from its parts (a call's parameters or an album item's fields); none if empty.
pub fn caption_of(text: &str, parse_mode: Option<&str>, entities: Option<&Value>) -> ApiResult<Option<Formatted>> {
    if text.is_empty() {
        return Ok(None);
    }
    let formatted = format(text, parse_mode, entities)?;
    if formatted.text.chars().count() > MAX_CAPTION {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    Ok(Some(formatted))
}

/// Applies parse_mode, or takes explicit entities, or detects the automatic ones.
pub fn format(text: &str, parse_mode: Option<&str>, entities: Option<&Value>) -> ApiResult<Formatted> {
    if let Some(mode) = parse_mode.filter(|m| !m.is_empty()) {
        let (text, entities) = markup::parse(text, mode).map_err(ApiError::bad_request)?;
        return Ok(Formatted { text, entities });
    }
    let entities = match entities {
        Some(Value::Array(list)) => {
            check_entities(list, text)?;
            list.clone()
        }
        Some(_) => return Err(ApiError::bad_request("can't parse entities JSON object")),
        None => markup::detect(text),
    };
    Ok(Formatted { text: text.to_string(), entities })
}

fn check_entities(list: &[Value], text: &str) -> ApiResult<()> {
    let length = markup::utf16_len(text) as i64;
    for entity in list {
        let (Some(kind), Some(offset), Some(len)) =
            (entity["type"].as_str(), entity["offset"].as_i64(), entity["length"].as_i64())
        else {
            return Err(ApiError::bad_request("can't parse MessageEntity: wrong entity"));
        };
        // Both numbers come from the client: an overflowing end is out of bounds too.
        let fits = offset.checked_add(len).is_some_and(|end| end <= length);
        if kind.is_empty() || offset < 0 || len <= 0 || !fits {
            return Err(ApiError::bad_request("can't parse MessageEntity: entity is out of text bounds"));
        }
    }
    Ok(())
}

/// A checked reply markup: an inline keyboard goes into the Message object; a reply
/// keyboard, its removal or a force-reply only changes the user's client.
#[derive(Debug, Clone, PartialEq)]
pub enum Markup {
    Inline(Value),
    Client(Value),
}

impl Markup {
    pub fn inline(&self) -> Option<&Value> {
        match self {
            Markup::Inline(v) => Some(v),
            Markup::Client(_) => None,
        }
    }

    pub fn client(&self) -> Option<&Value> {
        match self {
            Markup::Client(v) => Some(v),
            Markup::Inline(_) => None,
        }
    }
}

/// The reply markup of a call into `target`; an inline keyboard without buttons is no keyboard,
/// as in Telegram (and how an edit removes one).
pub fn reply_markup(p: &Params, target: Target) -> ApiResult<Option<Markup>> {
    let Some(value) = p.value("reply_markup") else { return Ok(None) };
    let markup = check_markup(value)?;
    // A Web App opens only from a private chat with the bot, inline button or keyboard key.
    if matches!(target, Target::Group { .. }) && opens_web_app(&markup) {
        return Err(ApiError::bad_request("BUTTON_TYPE_INVALID"));
    }
    match markup {
        Markup::Inline(keyboard) if keyboard["inline_keyboard"].as_array().is_some_and(Vec::is_empty) => Ok(None),
        markup => Ok(Some(markup)),
    }
}

pub fn check_markup(value: &Value) -> ApiResult<Markup> {
    let Some(object) = value.as_object() else {
        return Err(ApiError::bad_request("object expected as reply markup"));
    };
    if let Some(rows) = object.get("inline_keyboard") {
        let rows = rows_of(rows, "field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")?;
        for button in rows.iter().flatten() {
            check_inline_button(button)?;
        }
        // Telegram drops empty rows.
        let rows: Vec<Value> = rows
            .into_iter()
            .filter(|row| !row.is_empty())
            .map(|row| row.into_iter().map(|b| documented_fields("InlineKeyboardButton", b)).collect())
            .collect();
        return Ok(Markup::Inline(json!({ "inline_keyboard": rows })));
    }
    if let Some(rows) = object.get("keyboard") {
        let rows = rows_of(rows, "field \"keyboard\" must be an Array of Arrays")?;
        let mut normalised = value.clone();
        normalised["keyboard"] = Value::Array(
            rows.into_iter()
                .map(|row| row.into_iter().map(keyboard_button).collect::<ApiResult<Vec<_>>>().map(Value::Array))
                .collect::<ApiResult<Vec<_>>>()?,
        );
        return Ok(Markup::Client(normalised));
    }
    if object.get("remove_keyboard").and_then(Value::as_bool) == Some(true)
        || object.get("force_reply").and_then(Value::as_bool) == Some(true)
    {
        return Ok(Markup::Client(value.clone()));
    }
    Err(ApiError::bad_request("can't parse reply keyboard markup JSON object"))
}

fn opens_web_app(markup: &Markup) -> bool {
    let (Markup::Inline(value) | Markup::Client(value)) = markup;
    let rows = value.get("inline_keyboard").or_else(|| value.get("keyboard")).and_then(Value::as_array);
    rows.into_iter().flatten().filter_map(Value::as_array).flatten().any(|button| button.get("web_app").is_some())
}

fn rows_of(rows: &Value, error: &str) -> ApiResult<Vec<Vec<Value>>> {
    let rows = rows.as_array().ok_or_else(|| ApiError::bad_request(error))?;
    rows.iter().map(|row| row.as_array().cloned().ok_or_else(|| ApiError::bad_request(error))).collect()
}

const INLINE_ACTIONS: [&str; 9] = [
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "pay",
];

fn check_inline_button(button: &Value) -> ApiResult<()> {
    let object = button.as_object().ok_or_else(|| ApiError::bad_request("inlineKeyboardButton must be an Object"))?;
    if object.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ));
    }
    if !INLINE_ACTIONS.iter().any(|action| object.contains_key(*action)) {
        return Err(ApiError::bad_request("text buttons are unallowed in the inline keyboard"));
    }
    if let Some(data) = object.get("callback_data") {
        let length = data.as_str().map(str::len).unwrap_or(0);
        if length == 0 || length > MAX_CALLBACK_DATA {
            return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
        }
    }
    if let Some(url) = object.get("url").and_then(Value::as_str) {
        let known = ["http://", "https://", "tg://"].iter().any(|scheme| url.starts_with(scheme));
        if !known {
            return Err(ApiError::bad_request(format!(
                "inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
            )));
        }
    }
    if let Some(web_app) = object.get("web_app") {
        check_web_app(web_app, "inline keyboard button")?;
    }
    Ok(())
}

/// A WebAppInfo: an object with an `https://` URL, as Telegram requires.
fn check_web_app(web_app: &Value, what: &str) -> ApiResult<()> {
    let Some(url) = web_app.get("url").and_then(Value::as_str) else {
        return Err(ApiError::bad_request(format!("can't parse {what} Web App: field \"url\" must be of type String")));
    };
    let https = url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) && url.len() > 8;
    if !https {
        return Err(ApiError::bad_request(format!(
            "{what} Web App URL '{url}' is invalid: Only HTTPS links are allowed"
        )));
    }
    Ok(())
}

/// Keeps only the fields api.json documents for `type_name`, as Telegram drops the rest
/// (telegraf, for one, sends a `hide` flag on buttons).
fn documented_fields(type_name: &str, value: Value) -> Value {
    let (Value::Object(object), Some(def)) = (value.clone(), Spec::get().types.get(type_name)) else { return value };
    Value::Object(object.into_iter().filter(|(key, _)| def.fields.iter().any(|f| &f.name == key)).collect())
}

/// A reply keyboard button is a string or an object with `text`; both become objects.
fn keyboard_button(button: Value) -> ApiResult<Value> {
    match button {
        Value::String(text) => Ok(json!({ "text": text })),
        Value::Object(ref o) if o.get("text").and_then(Value::as_str).is_some() => {
            if let Some(web_app) = o.get("web_app") {
                check_web_app(web_app, "keyboard button")?;
            }
            Ok(documented_fields("KeyboardButton", button))
        }
        _ => Err(ApiError::bad_request("keyboardButton must be a String or an Object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keyboards_need_an_action_per_button() {
        let markup = json!({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]});
        assert!(matches!(check_markup(&markup).unwrap(), Markup::Inline(_)));
        let bare = json!({"inline_keyboard": [[{"text": "Go"}]]});
        assert_eq!(
            check_markup(&bare).unwrap_err().description,
            "Bad Request: text buttons are unallowed in the inline keyboard"
        );
        let flat = json!({"inline_keyboard": [{"text": "Go", "callback_data": "go"}]});
        assert!(check_markup(&flat).unwrap_err().description.contains("Array of Arrays"));
        let extra = json!({"inline_keyboard": [[{"text": "Go", "callback_data": "go", "hide": false}]]});
        let Markup::Inline(kept) = check_markup(&extra).unwrap() else { panic!("inline") };
        assert_eq!(
            kept["inline_keyboard"][0][0],
            json!({"text": "Go", "callback_data": "go"}),
            "undocumented fields dropped"
        );
        let long = json!({"inline_keyboard": [[{"text": "Go", "callback_data": "x".repeat(65)}]]});
        assert_eq!(check_markup(&long).unwrap_err().description, "Bad Request: BUTTON_DATA_INVALID");
    }

    #[test]
    fn reply_keyboard_buttons_become_objects() {
        let markup = check_markup(&json!({"keyboard": [["Yes", {"text": "No"}]], "one_time_keyboard": true})).unwrap();
        let client = markup.client().unwrap();
        assert_eq!(client["keyboard"][0][0], json!({"text": "Yes"}));
        assert_eq!(client["one_time_keyboard"], true);
    }

    #[test]
    fn web_apps_open_only_https_urls() {
        let inline =
            |url: &str| check_markup(&json!({"inline_keyboard": [[{"text": "Shop", "web_app": {"url": url}}]]}));
        assert!(inline("https://shop.example/app").is_ok());
        let error = inline("http://shop.example").unwrap_err();
        assert_eq!(
            error.description,
            "Bad Request: inline keyboard button Web App URL 'http://shop.example' is invalid: Only HTTPS links are allowed"
        );
        let key = |web_app: Value| check_markup(&json!({"keyboard": [[{"text": "Order", "web_app": web_app}]]}));
        let markup = key(json!({"url": "https://shop.example"})).unwrap();
        assert_eq!(markup.client().unwrap()["keyboard"][0][0]["web_app"]["url"], "https://shop.example");
        assert!(key(json!({"url": "ftp://shop.example"})).is_err());
        assert!(key(json!("https://shop.example")).is_err(), "a WebAppInfo is an object");
    }

    #[test]
    fn texts_are_checked_for_emptiness_and_length() {
        let empty = Params::from_values(Map::from_iter([("text".to_string(), json!("  "))]));
        assert_eq!(message_text(&empty).unwrap_err().description, "Bad Request: message text is empty");
        let long = Params::from_values(Map::from_iter([("text".to_string(), json!("я".repeat(4097)))]));
        assert_eq!(message_text(&long).unwrap_err().description, "Bad Request: message is too long");
        let max = Params::from_values(Map::from_iter([("text".to_string(), json!("я".repeat(4096)))]));
        assert!(message_text(&max).is_ok());
    }

    #[test]
    fn explicit_entities_must_fit_the_text() {
        assert!(format("hello", None, Some(&json!([{"type": "bold", "offset": 0, "length": 5}]))).is_ok());
        let out = format("hello", None, Some(&json!([{"type": "bold", "offset": 3, "length": 5}])));
        assert!(out.unwrap_err().description.contains("out of text bounds"));
        let huge = json!([{"type": "bold", "offset": i64::MAX, "length": 1}]);
        assert!(format("hello", None, Some(&huge)).unwrap_err().description.contains("out of text bounds"));
    }
}
