//! An update reduced to what handlers look at: who, which chat, and what happened.

use ferrogram_schema::ContentKind;
use serde_json::{Value, json};

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A message: its text (or caption), the command it carries and the kind of its content.
    Message {
        text: Option<String>,
        command: Option<Command>,
        content: Option<ContentKind>,
    },
    /// A pressed inline button.
    Callback {
        id: String,
        data: String,
        message_id: Option<i64>,
    },
    /// A message the user edited: its new text (or caption).
    Edited {
        text: Option<String>,
    },
    InlineQuery {
        id: String,
        query: String,
        offset: String,
    },
    PollAnswer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub name: String,
    pub payload: String,
}

/// One update, decoded for the interpreter.
#[derive(Debug, Clone)]
pub struct Event {
    pub update_id: i64,
    pub kind: Kind,
    /// The Telegram user who acted (JSON as the Bot API sends it).
    pub from: Value,
    pub user_id: i64,
    /// The chat to answer in; for inline queries and poll answers, the user's private chat.
    pub chat_id: i64,
    pub chat: Value,
    /// The message the update carries, or the message whose button was pressed.
    pub message: Value,
    /// The user's Telegram language (`en`, `ru-RU`…), if known.
    pub language_code: Option<String>,
}

impl Event {
    /// Decodes a raw update; `None` for kinds the engine does not handle (chat member changes,
    /// …).
    pub fn from_update(update: &Value) -> Option<Event> {
        let update_id = update.get("update_id")?.as_i64()?;
        if let Some(message) = update.get("message") {
            return Self::from_message(update_id, message);
        }
        if let Some(message) = update.get("edited_message") {
            let mut event = Self::from_message(update_id, message)?;
            if let Kind::Message { text, .. } = event.kind {
                event.kind = Kind::Edited { text };
            }
            return Some(event);
        }
        if let Some(query) = update.get("callback_query") {
            let from = query.get("from")?.clone();
            let message = query.get("message").cloned().unwrap_or(Value::Null);
            let user_id = from.get("id")?.as_i64()?;
            let chat = message.get("chat").cloned().unwrap_or_else(|| json!({"id": user_id, "type": "private"}));
            return Some(Event {
                update_id,
                kind: Kind::Callback {
                    id: query.get("id")?.as_str()?.to_owned(),
                    data: query.get("data").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    message_id: message.get("message_id").and_then(Value::as_i64).filter(|id| *id != 0),
                },
                chat_id: chat.get("id").and_then(Value::as_i64).unwrap_or(user_id),
                language_code: language(&from),
                user_id,
                from,
                chat,
                message,
            });
        }
        if let Some(query) = update.get("inline_query") {
            let from = query.get("from")?.clone();
            let user_id = from.get("id")?.as_i64()?;
            let text = |k: &str| query.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            return Some(Event {
                update_id,
                kind: Kind::InlineQuery { id: text("id"), query: text("query"), offset: text("offset") },
                chat_id: user_id,
                chat: json!({"id": user_id, "type": "private"}),
                language_code: language(&from),
                user_id,
                from,
                message: Value::Null,
            });
        }
        if let Some(answer) = update.get("poll_answer") {
            let from = answer.get("user")?.clone();
            let user_id = from.get("id")?.as_i64()?;
            return Some(Event {
                update_id,
                kind: Kind::PollAnswer,
                chat_id: user_id,
                chat: json!({"id": user_id, "type": "private"}),
                language_code: language(&from),
                user_id,
                from,
                message: answer.clone(),
            });
        }
        None
    }

    fn from_message(update_id: i64, message: &Value) -> Option<Event> {
        let chat = message.get("chat")?.clone();
        let chat_id = chat.get("id")?.as_i64()?;
        let from = message.get("from").cloned().unwrap_or_else(|| json!({"id": chat_id}));
        let user_id = from.get("id").and_then(Value::as_i64).unwrap_or(chat_id);
        let text = message.get("text").or_else(|| message.get("caption")).and_then(Value::as_str).map(str::to_owned);
        let command = message.get("text").and_then(Value::as_str).and_then(parse_command);
        Some(Event {
            update_id,
            kind: Kind::Message { text, command, content: content_kind(message) },
            language_code: language(&from),
            from,
            user_id,
            chat_id,
            chat,
            message: message.clone(),
        })
    }

    /// The message id the update is about (the user's message, or the pressed one).
    pub fn message_id(&self) -> Option<i64> {
        self.message.get("message_id").and_then(Value::as_i64).filter(|id| *id != 0)
    }

    pub fn callback_id(&self) -> Option<&str> {
        match &self.kind {
            Kind::Callback { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Where the update is queued: updates of one key are handled in order.
    pub fn queue_key(&self) -> i64 {
        self.chat_id
    }
}

fn language(from: &Value) -> Option<String> {
    from.get("language_code").and_then(Value::as_str).map(str::to_owned)
}

/// `/name@bot payload` → name and payload.
pub fn parse_command(text: &str) -> Option<Command> {
    let rest = text.strip_prefix('/')?;
    let (head, payload) = match rest.split_once(char::is_whitespace) {
        Some((head, payload)) => (head, payload.trim()),
        None => (rest, ""),
    };
    let name = head.split('@').next().unwrap_or(head);
    if name.is_empty() {
        return None;
    }
    Some(Command { name: name.to_owned(), payload: payload.to_owned() })
}

fn content_kind(message: &Value) -> Option<ContentKind> {
    let has = |k: &str| message.get(k).is_some_and(|v| !v.is_null());
    if has("photo") {
        Some(ContentKind::Photo)
    } else if has("document") {
        Some(ContentKind::Document)
    } else if has("location") {
        Some(ContentKind::Location)
    } else if has("contact") {
        Some(ContentKind::Contact)
    } else if has("new_chat_members") {
        Some(ContentKind::MemberJoined)
    } else if has("left_chat_member") {
        Some(ContentKind::MemberLeft)
    } else if has("web_app_data") {
        Some(ContentKind::WebAppData)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_with_payload_and_bot_name() {
        assert_eq!(parse_command("/start ref42"), Some(Command { name: "start".into(), payload: "ref42".into() }));
        assert_eq!(parse_command("/help@my_bot"), Some(Command { name: "help".into(), payload: String::new() }));
        assert_eq!(parse_command("hello"), None);
        assert_eq!(parse_command("/"), None);
    }
}
