//! A broadcast's message: text, inline buttons (a link or a callback each) and an optional
//! photo or document (by URL or Telegram `file_id`), checked with the failing field's JSON
//! pointer, and the one Bot API call it becomes for a chat (`sendMessage`, `sendPhoto` or
//! `sendDocument`, the text as the caption).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::api::problem::FieldError;

/// Telegram's longest message text.
pub const MAX_TEXT: usize = 4096;
/// Telegram's longest caption (the text of a message with media).
pub const MAX_CAPTION: usize = 1024;
/// Telegram's longest `callback_data`, in bytes.
pub const MAX_CALLBACK: usize = 64;
/// Buttons one message may carry (Telegram's inline keyboard limit).
pub const MAX_BUTTONS: usize = 100;

/// What is sent to each recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// 1 to 4096 characters; 1 to 1024 with `media` (it is the caption).
    #[schema(min_length = 1, max_length = 4096)]
    pub text: String,
    /// `HTML` or `MarkdownV2`; plain text when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(HTML|MarkdownV2)$")]
    pub parse_mode: Option<String>,
    /// Rows of inline buttons under the message (100 at most in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<Button>>,
    /// A photo or document sent with the text as its caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
}

/// An inline button: exactly one of `url` and `callback_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub text: String,
    /// An `http://`, `https://` or `tg://` link the button opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What the bot gets back when it is pressed (1 to 64 bytes): the bot file's `callback`
    /// trigger answers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
}

/// A photo or a document: exactly one of `url` and `file_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// `photo` or `document`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(photo|document)$")]
    pub kind: String,
    /// An `http(s)://` URL Telegram fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file Telegram already has (a `file_id` the bot received or sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

fn is_link(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|scheme| {
        url.strip_prefix(scheme).is_some_and(|rest| rest.len() > 1 && !rest.contains(char::is_whitespace))
    })
}

impl Message {
    /// What is wrong with it, each at its JSON pointer under `at` (empty when it is acceptable).
    pub fn problems(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let limit = if self.media.is_some() { MAX_CAPTION } else { MAX_TEXT };
        let chars = self.text.chars().count();
        if self.text.trim().is_empty() || chars > limit {
            let what = if self.media.is_some() { "a caption" } else { "a text" };
            errors.push(FieldError::at(
                format!("{at}/text"),
                format!("{what} of 1 to {limit} characters ({chars} given)"),
            ));
        }
        if let Some(mode) = &self.parse_mode
            && mode != "HTML"
            && mode != "MarkdownV2"
        {
            errors.push(FieldError::at(format!("{at}/parse_mode"), format!("`{mode}`: HTML or MarkdownV2")));
        }
        let count: usize = self.buttons.iter().map(Vec::len).sum();
        if count > MAX_BUTTONS {
            errors.push(FieldError::at(format!("{at}/buttons"), format!("{count} buttons: {MAX_BUTTONS} at most")));
        }
        for (r, row) in self.buttons.iter().enumerate() {
            if row.is_empty() {
                errors.push(FieldError::at(format!("{at}/buttons/{r}"), "a row has at least one button"));
            }
            for (b, button) in row.iter().enumerate() {
                let here = format!("{at}/buttons/{r}/{b}");
                let chars = button.text.chars().count();
                if button.text.trim().is_empty() || chars > 64 {
                    errors.push(FieldError::at(format!("{here}/text"), "1 to 64 characters"));
                }
                match (&button.url, &button.callback_data) {
                    (Some(url), None) if !is_link(url, &["http://", "https://", "tg://"]) => {
                        errors.push(FieldError::at(format!("{here}/url"), "an http://, https:// or tg:// link"));
                    }
                    (None, Some(data)) if data.is_empty() || data.len() > MAX_CALLBACK => {
                        errors.push(FieldError::at(format!("{here}/callback_data"), "1 to 64 bytes"));
                    }
                    (Some(_), None) | (None, Some(_)) => {}
                    _ => errors.push(FieldError::at(here, "exactly one of url and callback_data")),
                }
            }
        }
        if let Some(media) = &self.media {
            if media.kind != "photo" && media.kind != "document" {
                errors.push(FieldError::at(format!("{at}/media/type"), format!("`{}`: photo or document", media.kind)));
            }
            match (&media.url, &media.file_id) {
                (Some(url), None) if !is_link(url, &["http://", "https://"]) => {
                    errors.push(FieldError::at(format!("{at}/media/url"), "an http:// or https:// URL"));
                }
                (None, Some(id)) if id.trim().is_empty() || id.len() > 1024 => {
                    errors.push(FieldError::at(format!("{at}/media/file_id"), "1 to 1024 characters"));
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => errors.push(FieldError::at(format!("{at}/media"), "exactly one of url and file_id")),
            }
        }
        errors
    }

    /// The Bot API method and parameters that send it to `chat`.
    pub fn call(&self, chat: i64) -> (&'static str, Value) {
        self.call_as(chat, &self.text)
    }

    /// [`Message::call`] with `text` (the message's, rendered for the recipient) as the text or
    /// caption.
    pub fn call_as(&self, chat: i64, text: &str) -> (&'static str, Value) {
        let mut params = Map::new();
        params.insert("chat_id".into(), json!(chat));
        let method = match &self.media {
            None => {
                params.insert("text".into(), json!(text));
                "sendMessage"
            }
            Some(media) => {
                let file = media.url.as_ref().or(media.file_id.as_ref()).cloned().unwrap_or_default();
                params.insert("caption".into(), json!(text));
                if media.kind == "document" {
                    params.insert("document".into(), json!(file));
                    "sendDocument"
                } else {
                    params.insert("photo".into(), json!(file));
                    "sendPhoto"
                }
            }
        };
        if let Some(mode) = &self.parse_mode {
            params.insert("parse_mode".into(), json!(mode));
        }
        if !self.buttons.is_empty() {
            let rows: Vec<Vec<Value>> = self
                .buttons
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|b| match (&b.url, &b.callback_data) {
                            (Some(url), _) => json!({"text": b.text, "url": url}),
                            (None, data) => json!({"text": b.text, "callback_data": data}),
                        })
                        .collect()
                })
                .collect();
            params.insert("reply_markup".into(), json!({"inline_keyboard": rows}));
        }
        (method, Value::Object(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(value: Value) -> Message {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_message_becomes_one_call() {
        let plain = message(json!({"text": "hi", "buttons": [[{"text": "Go", "url": "https://x.org"},
            {"text": "Yes", "callback_data": "yes"}]]}));
        assert!(plain.problems("").is_empty());
        let (method, params) = plain.call(7);
        assert_eq!(method, "sendMessage");
        assert_eq!(params["reply_markup"]["inline_keyboard"][0][1], json!({"text": "Yes", "callback_data": "yes"}));
        let photo = message(json!({"text": "look", "media": {"type": "photo", "file_id": "AgAD"}}));
        let (method, params) = photo.call(7);
        assert_eq!((method, &params["photo"], &params["caption"]), ("sendPhoto", &json!("AgAD"), &json!("look")));
    }

    #[test]
    fn each_problem_is_at_its_place() {
        let bad = message(json!({"text": "x".repeat(1025), "parse_mode": "BBCode",
            "buttons": [[{"text": "a"}], []], "media": {"type": "video", "url": "ftp://x"}}));
        let places: Vec<String> = bad.problems("/message").into_iter().filter_map(|e| e.pointer).collect();
        assert_eq!(
            places,
            [
                "/message/text",
                "/message/parse_mode",
                "/message/buttons/0/0",
                "/message/buttons/1",
                "/message/media/type",
                "/message/media/url"
            ]
        );
    }
}
