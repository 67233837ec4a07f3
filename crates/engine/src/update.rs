//! An update reduced to what handlers look at: who, which chat, and what happened.
//!
//! [`Event::from_update`] reads the update's JSON as the receiving stage parsed it (once, from a
//! getUpdates batch, a webhook body or an inbox row), with no typed decode in between: `from`,
//! `chat` and `message` hold every field Telegram sent, including ones newer than any type
//! library. An update that is not an event says why ([`NotAnEvent`]).

use ferrogram_schema::ContentKind;
use serde_json::{Value, json};

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
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
    pub kind: EventKind,
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

/// Why an update is not an [`Event`]. What it carries names fields, never their values (they
/// may hold personal data), so it can be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnEvent {
    /// A kind the engine does not handle: chat member changes, channel posts, a poll answer by
    /// a chat rather than a user, kinds newer than the engine, …
    KindNotHandled,
    /// A kind the engine handles, without a field it needs: that field's path
    /// (`message.chat.id`, `callback_query.from.id`, …).
    Malformed(&'static str),
}

impl Event {
    /// Reads an update's JSON as the receiving stage parsed it. A `null` field counts as absent,
    /// as the Bot API omits a field it has no value for.
    pub fn from_update(update: &Value) -> Result<Event, NotAnEvent> {
        use NotAnEvent::{KindNotHandled, Malformed};
        let update_id = field(update, "update_id").and_then(Value::as_i64).ok_or(Malformed("update_id"))?;
        if let Some(message) = field(update, "message") {
            return Self::from_message(update_id, message).ok_or(Malformed("message.chat.id"));
        }
        if let Some(message) = field(update, "edited_message") {
            let mut event = Self::from_message(update_id, message).ok_or(Malformed("edited_message.chat.id"))?;
            if let EventKind::Message { text, .. } = event.kind {
                event.kind = EventKind::Edited { text };
            }
            return Ok(event);
        }
        if let Some(query) = field(update, "callback_query") {
            let from = field(query, "from").ok_or(Malformed("callback_query.from"))?.clone();
            let message = field(query, "message").cloned().unwrap_or(Value::Null);
            let user_id = from.get("id").and_then(Value::as_i64).ok_or(Malformed("callback_query.from.id"))?;
            let chat = field(&message, "chat").cloned().unwrap_or_else(|| json!({"id": user_id, "type": "private"}));
            let id = field(query, "id").and_then(Value::as_str).ok_or(Malformed("callback_query.id"))?;
            return Ok(Event {
                update_id,
                kind: EventKind::Callback {
                    id: id.to_owned(),
                    data: field(query, "data").and_then(Value::as_str).unwrap_or_default().to_owned(),
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
        if let Some(query) = field(update, "inline_query") {
            let from = field(query, "from").ok_or(Malformed("inline_query.from"))?.clone();
            let user_id = from.get("id").and_then(Value::as_i64).ok_or(Malformed("inline_query.from.id"))?;
            let text = |k: &str| field(query, k).and_then(Value::as_str).unwrap_or_default().to_owned();
            return Ok(Event {
                update_id,
                kind: EventKind::InlineQuery { id: text("id"), query: text("query"), offset: text("offset") },
                chat_id: user_id,
                chat: json!({"id": user_id, "type": "private"}),
                language_code: language(&from),
                user_id,
                from,
                message: Value::Null,
            });
        }
        if let Some(answer) = field(update, "poll_answer") {
            // Without a `user` the vote is a chat's (`voter_chat`, an anonymous administrator):
            // not handled.
            let from = field(answer, "user").ok_or(KindNotHandled)?.clone();
            let user_id = from.get("id").and_then(Value::as_i64).ok_or(Malformed("poll_answer.user.id"))?;
            return Ok(Event {
                update_id,
                kind: EventKind::PollAnswer,
                chat_id: user_id,
                chat: json!({"id": user_id, "type": "private"}),
                language_code: language(&from),
                user_id,
                from,
                message: answer.clone(),
            });
        }
        Err(KindNotHandled)
    }

    /// `None` without a usable `chat.id`.
    fn from_message(update_id: i64, message: &Value) -> Option<Event> {
        let chat = field(message, "chat")?.clone();
        let chat_id = chat.get("id")?.as_i64()?;
        let from = field(message, "from").cloned().unwrap_or_else(|| json!({"id": chat_id}));
        let user_id = from.get("id").and_then(Value::as_i64).unwrap_or(chat_id);
        let text =
            field(message, "text").or_else(|| field(message, "caption")).and_then(Value::as_str).map(str::to_owned);
        let command = field(message, "text").and_then(Value::as_str).and_then(parse_command);
        Some(Event {
            update_id,
            kind: EventKind::Message { text, command, content: content_kind(message) },
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
            EventKind::Callback { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Where the update is queued: updates of one key are handled in order.
    pub fn queue_key(&self) -> i64 {
        self.chat_id
    }
}

/// `value[key]`, unless it is absent or `null`.
fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|v| !v.is_null())
}

/// The kind of a raw update: its key other than `update_id` (`message`, `chat_member`, …), for
/// logs.
pub fn kind_of(update: &Value) -> Option<&str> {
    update.as_object()?.keys().map(String::as_str).find(|key| *key != "update_id")
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

    fn user() -> Value {
        json!({"id": 42, "is_bot": false, "first_name": "Ann", "language_code": "ru"})
    }

    fn message(extra: Value) -> Value {
        let mut message = json!({
            "message_id": 7,
            "from": user(),
            "chat": {"id": 42, "type": "private", "first_name": "Ann"},
            "date": 1_700_000_000,
        });
        message.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        message
    }

    /// Updates of every handled kind, as the Bot API sends them.
    fn handled_updates() -> Vec<Value> {
        let keyboard = json!({"inline_keyboard": [[{"text": "Like", "callback_data": "like:1"}]]});
        vec![
            json!({"update_id": 1, "message": message(json!({"text": "/start ref42", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}))}),
            json!({"update_id": 2, "message": message(json!({"photo": [{"file_id": "p", "file_unique_id": "u", "width": 90, "height": 90}], "caption": "a cat"}))}),
            json!({"update_id": 3, "message": message(json!({"location": {"latitude": 55.75, "longitude": 37.62}}))}),
            json!({"update_id": 4, "message": {"message_id": 8, "date": 1, "chat": {"id": -100, "type": "group", "title": "Tea"}, "new_chat_members": [user()]}}),
            json!({"update_id": 5, "edited_message": message(json!({"text": "hello again", "edit_date": 1_700_000_100}))}),
            json!({"update_id": 6, "callback_query": {"id": "c1", "from": user(), "chat_instance": "i", "data": "like:1", "message": message(json!({"text": "a post", "reply_markup": keyboard}))}}),
            json!({"update_id": 7, "callback_query": {"id": "c2", "from": user(), "chat_instance": "i", "data": "x", "message": {"chat": {"id": 42, "type": "private"}, "message_id": 3, "date": 0}}}),
            json!({"update_id": 8, "inline_query": {"id": "q", "from": user(), "query": "cats", "offset": "", "chat_type": "sender"}}),
            json!({"update_id": 9, "poll_answer": {"poll_id": "p", "user": user(), "option_ids": [1], "option_persistent_ids": ["1"]}}),
        ]
    }

    /// The raw JSON reads as the typed round trip the receiving stage used to make (JSON →
    /// frankenstein `Update` → JSON) read: the same event, and `from`, `chat` and `message`
    /// with the same fields (that round trip keeps every field of these updates).
    #[test]
    fn the_raw_update_reads_as_its_typed_round_trip() {
        use ferrogram_telegram::frankenstein::updates::Update;
        for raw in handled_updates() {
            let typed: Update = serde_json::from_value(raw.clone()).expect("frankenstein decodes it");
            let round_trip = serde_json::to_value(&typed).unwrap();
            let (event, before) = (Event::from_update(&raw).unwrap(), Event::from_update(&round_trip).unwrap());
            assert_eq!(event.update_id, before.update_id);
            assert_eq!(event.kind, before.kind, "{raw}");
            assert_eq!((event.user_id, event.chat_id), (before.user_id, before.chat_id), "{raw}");
            assert_eq!(event.language_code, before.language_code);
            assert_eq!((&event.from, &event.chat, &event.message), (&before.from, &before.chat, &before.message));
        }
    }

    #[test]
    fn handled_kinds_read_from_the_raw_update() {
        let events: Vec<_> = handled_updates().iter().map(|raw| Event::from_update(raw).unwrap()).collect();
        let start = Command { name: "start".into(), payload: "ref42".into() };
        assert_eq!(
            events[0].kind,
            EventKind::Message { text: Some("/start ref42".into()), command: Some(start), content: None }
        );
        assert_eq!(events[0].language_code.as_deref(), Some("ru"));
        assert_eq!(
            events[1].kind,
            EventKind::Message { text: Some("a cat".into()), command: None, content: Some(ContentKind::Photo) }
        );
        assert_eq!((events[3].chat_id, events[3].user_id), (-100, -100), "no sender: the chat");
        assert_eq!(events[4].kind, EventKind::Edited { text: Some("hello again".into()) });
        assert_eq!(events[5].kind, EventKind::Callback { id: "c1".into(), data: "like:1".into(), message_id: Some(7) });
        assert_eq!(events[6].message_id(), Some(3), "an inaccessible message (date 0) still names itself");
        assert_eq!(
            events[7].kind,
            EventKind::InlineQuery { id: "q".into(), query: "cats".into(), offset: String::new() }
        );
        assert_eq!((events[8].kind.clone(), events[8].chat_id), (EventKind::PollAnswer, 42));
    }

    /// Every field Telegram sent reaches the templates, also those no type library knows yet.
    #[test]
    fn fields_newer_than_the_types_are_kept() {
        let raw = json!({"update_id": 1, "message": message(json!({"text": "hi", "holographic": {"depth": 3}}))});
        let event = Event::from_update(&raw).unwrap();
        assert_eq!(event.message["holographic"]["depth"], 3);
    }

    #[test]
    fn a_null_field_counts_as_absent() {
        let raw = json!({"update_id": 1, "message": message(json!({"text": null, "caption": "a cat", "from": null}))});
        let event = Event::from_update(&raw).unwrap();
        assert_eq!(event.kind, EventKind::Message { text: Some("a cat".into()), command: None, content: None });
        assert_eq!(event.from, json!({"id": 42}), "the chat stands in for a missing sender");
        let raw =
            json!({"update_id": 2, "message": null, "callback_query": {"id": "c", "from": user(), "message": null}});
        assert!(matches!(Event::from_update(&raw).unwrap().kind, EventKind::Callback { message_id: None, .. }));
    }

    #[test]
    fn kinds_not_handled_and_malformed_updates_are_told_apart() {
        let not_handled = [
            json!({"update_id": 1, "chat_member": {"chat": {"id": -1, "type": "group"}}}),
            json!({"update_id": 2, "channel_post": message(json!({"text": "news"}))}),
            json!({"update_id": 3, "holographic_call": {"id": "x"}}),
            json!({"update_id": 4, "poll_answer": {"poll_id": "p", "voter_chat": {"id": -1, "type": "group"}, "option_ids": [0]}}),
        ];
        for raw in not_handled {
            assert_eq!(Event::from_update(&raw).unwrap_err(), NotAnEvent::KindNotHandled, "{raw}");
        }
        let mut no_chat = message(json!({"text": "hi"}));
        no_chat.as_object_mut().unwrap().remove("chat");
        let malformed = [
            (json!({"update_id": 1, "message": no_chat}), "message.chat.id"),
            (json!({"update_id": 2, "message": message(json!({"chat": {"id": "42"}}))}), "message.chat.id"),
            (json!({"update_id": 3, "edited_message": "hi"}), "edited_message.chat.id"),
            (json!({"update_id": 4, "callback_query": {"id": "c"}}), "callback_query.from"),
            (
                json!({"update_id": 5, "callback_query": {"id": "c", "from": {"first_name": "Ann"}}}),
                "callback_query.from.id",
            ),
            (json!({"update_id": 6, "callback_query": {"from": user()}}), "callback_query.id"),
            (json!({"update_id": 7, "inline_query": {"id": "q", "from": {}}}), "inline_query.from.id"),
            (json!({"update_id": 8, "poll_answer": {"user": {"id": "42"}}}), "poll_answer.user.id"),
            (json!({"message": message(json!({"text": "hi"}))}), "update_id"),
        ];
        for (raw, missing) in malformed {
            assert_eq!(Event::from_update(&raw).unwrap_err(), NotAnEvent::Malformed(missing), "{raw}");
        }
    }

    #[test]
    fn the_kind_of_an_update_is_its_other_key() {
        assert_eq!(kind_of(&json!({"update_id": 1, "chat_member": {}})), Some("chat_member"));
        assert_eq!(kind_of(&json!({"update_id": 1})), None);
        assert_eq!(kind_of(&json!([1])), None);
    }
}
