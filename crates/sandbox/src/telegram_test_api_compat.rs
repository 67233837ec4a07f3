//! The user-side routes of the npm package telegram-test-api (4.x), so tests written for its
//! `TelegramClient` run against this sandbox unchanged (conformance/COMPAT_NOTES.md).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /sendMessage` | a Message-like object: `botToken`, `from`, `chat`, `text`, `entities`? | `{"ok":true,"result":null}` |
//! | `POST /sendCommand` | the same, `entities` holding the `bot_command` | `{"ok":true,"result":null}` |
//! | `POST /sendCallback` | `botToken`, `from`, `message` (`chat`, `message_id`?), `data` | `{"ok":true,"result":null}` |
//! | `POST /getUpdates` | `token`, `chatId` | the bot's messages in that chat not fetched before |
//! | `POST /getUpdatesHistory` | `token` | everything of that bot, oldest first, edits applied |
//!
//! The package's ids are ours: `from.id` names a user, `chat.id` the chat (in a private chat
//! the chat's id is the user's, as in Telegram); users and groups are created on first use.

use crate::App;
use crate::error::ApiError;
use crate::world::{State, Target, UserRec, parse_token};
use axum::body::Bytes;
use axum::extract::State as AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/sendMessage", post(send_message))
        .route("/sendCommand", post(send_message))
        .route("/sendCallback", post(send_callback))
        .route("/getUpdates", post(get_updates))
        .route("/getUpdatesHistory", post(get_updates_history))
}

/// The package answers its errors as `{"message":"…"}`; ours add `"ok":false` and a 4xx status.
#[derive(Debug)]
struct CompatError(StatusCode, String);

impl From<ApiError> for CompatError {
    fn from(e: ApiError) -> Self {
        let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST);
        let text = e.description.strip_prefix("Bad Request: ").unwrap_or(&e.description).to_string();
        CompatError(status, text)
    }
}

impl IntoResponse for CompatError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"ok": false, "message": self.1}))).into_response()
    }
}

fn bad(text: impl Into<String>) -> CompatError {
    CompatError(StatusCode::BAD_REQUEST, text.into())
}

type Answer = Result<Json<Value>, CompatError>;

/// The package's answer to every user action.
fn done() -> Answer {
    Ok(Json(json!({"ok": true, "result": null})))
}

/// A JSON object body (an empty body is `{}`).
fn object(bytes: &Bytes) -> Result<Map<String, Value>, CompatError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad("the body must be a JSON object")),
        Err(e) => Err(bad(format!("invalid JSON body: {e}"))),
    }
}

/// An id given as a number or a numeric string (the package compares ids as strings).
fn id_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn str_of<'a>(object: Option<&'a Value>, key: &str) -> Option<&'a str> {
    object?.get(key)?.as_str().filter(|s| !s.is_empty())
}

fn token_of<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, CompatError> {
    body.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| bad(format!("{key} is required")))
}

/// Makes sure the user `id` exists, creating it from `person` (a User or private Chat object).
fn ensure_user(s: &mut State, id: i64, person: Option<&Value>) -> Result<(), CompatError> {
    if s.users.contains_key(&id) {
        return Ok(());
    }
    if id <= 0 {
        return Err(bad(format!("user id {id} must be positive")));
    }
    let user = UserRec {
        id,
        first_name: str_of(person, "first_name").unwrap_or("TestName").to_string(),
        last_name: str_of(person, "last_name").map(str::to_string),
        username: str_of(person, "username").map(str::to_string),
        language_code: str_of(person, "language_code").map(str::to_string),
    };
    s.create_user(user)?;
    Ok(())
}

/// The bot, user and chat a user action names; creates the bot (unless the sandbox is strict),
/// the user and a group chat on first use.
fn actor(
    s: &mut State,
    token: &str,
    from: Option<&Value>,
    chat: Option<&Value>,
) -> Result<(i64, i64, Target), CompatError> {
    let bot_id = s.bot_for_token(token)?;
    let from_id = id_of(from.and_then(|f| f.get("id")));
    let chat_id = id_of(chat.and_then(|c| c.get("id")));
    match chat.and_then(|c| c.get("type")).and_then(Value::as_str).unwrap_or("private") {
        "private" => {
            // A private chat's id is its user's: when the two differ, the chat names the user.
            let user_id = chat_id.or(from_id).ok_or_else(|| bad("chat.id or from.id is required"))?;
            let person = if from_id == Some(user_id) { from } else { chat };
            ensure_user(s, user_id, person)?;
            Ok((bot_id, user_id, s.target_for_user(bot_id, user_id, None)?))
        }
        kind @ ("group" | "supergroup") => {
            let user_id = from_id.ok_or_else(|| bad("from.id is required in a group"))?;
            let chat_id = chat_id.ok_or_else(|| bad("chat.id is required"))?;
            ensure_user(s, user_id, from)?;
            if let Some(group) = s.groups.get_mut(&chat_id) {
                group.members.entry(user_id).or_insert_with(|| "member".into());
                group.members.entry(bot_id).or_insert_with(|| "administrator".into());
            } else {
                let title = str_of(chat, "title").unwrap_or("Test group");
                s.create_group_with_id(Some(chat_id), title, kind, &[user_id], &[bot_id])?;
            }
            Ok((bot_id, user_id, s.target_for_user(bot_id, user_id, Some(chat_id))?))
        }
        other => Err(bad(format!("chats of type {other:?} are not supported"))),
    }
}

/// The client's entities if they are well-formed and fit the text; else Telegram's own.
fn entities(text: &str, given: Option<&Value>) -> Vec<Value> {
    let length = crate::markup::utf16_len(text) as i64;
    let fits = |e: &Value| {
        let (offset, len) = (e["offset"].as_i64().unwrap_or(-1), e["length"].as_i64().unwrap_or(0));
        let end = offset.checked_add(len);
        e["type"].is_string() && offset >= 0 && len > 0 && end.is_some_and(|end| end <= length)
    };
    match given.and_then(Value::as_array) {
        Some(list) if !list.is_empty() && list.iter().all(fits) => list.clone(),
        _ => crate::markup::detect(text),
    }
}

/// `POST /sendMessage` and `POST /sendCommand`: the user writes `text` to the bot.
async fn send_message(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let body = object(&bytes)?;
    let token = token_of(&body, "botToken")?;
    let text =
        body.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| bad("text is required"))?;
    let mut content = json!({ "text": text });
    let found = entities(text, body.get("entities"));
    if !found.is_empty() {
        content["entities"] = Value::Array(found);
    }
    let reply_to = id_of(body.get("reply_to_message").and_then(|m| m.get("message_id")))
        .or_else(|| id_of(body.get("reply_to_message_id")));
    app.world.with(|s| {
        let (bot_id, user_id, target) = actor(s, token, body.get("from"), body.get("chat"))?;
        // The package replies to anything; a reply to an unknown message is a plain message.
        let reply_to = reply_to.filter(|id| s.message(target, *id).is_some());
        s.user_says(bot_id, user_id, target, content, reply_to)?;
        Ok::<_, CompatError>(())
    })?;
    done()
}

/// `POST /sendCallback`: the user presses a button of the bot's message `message.message_id`.
/// Like the package it takes any `data`; a message the bot did not send in that chat reaches
/// the bot as an InaccessibleMessage (`date` 0).
async fn send_callback(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let body = object(&bytes)?;
    let token = token_of(&body, "botToken")?;
    let given = body.get("message");
    let from = body.get("from").or_else(|| given.and_then(|m| m.get("from")));
    let data = match body.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    app.world.with(|s| {
        let (bot_id, user_id, target) = actor(s, token, from, given.and_then(|m| m.get("chat")))?;
        // A user who presses a button has a chat with the bot, even if the package's test never
        // wrote to it: the bot may answer there.
        s.log_mut(target);
        let message_id = id_of(given.and_then(|m| m.get("message_id")));
        let stored = message_id.and_then(|id| s.message(target, id)).filter(|m| m.from_bot == Some(bot_id));
        let message = match stored {
            Some(stored) => stored.message.clone(),
            None => json!({"chat": s.chat_json(target), "message_id": message_id.unwrap_or(0), "date": 0}),
        };
        s.press_button(bot_id, user_id, target, message, data.as_deref())?;
        Ok::<_, CompatError>(())
    })?;
    done()
}

/// `POST /getUpdates`: the bot's messages in chat `chatId` that no client fetched yet; they
/// count as read from now on.
async fn get_updates(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let body = object(&bytes)?;
    let bot_id = parse_token(token_of(&body, "token")?)?;
    let chat_id = id_of(body.get("chatId")).ok_or_else(|| bad("chatId is required"))?;
    let result = app.world.with(|s| {
        if !s.bots.contains_key(&bot_id) {
            return Vec::new();
        }
        let target = target_of(s, bot_id, chat_id);
        let read = read_up_to(s, bot_id, target);
        let fresh: Vec<Value> = history(s, bot_id)
            .into_iter()
            .filter(|item| item.from_bot && item.chat_id == chat_id && item.message_id > read)
            .map(|mut item| {
                item.value["isRead"] = json!(true);
                item.value
            })
            .collect();
        if let Some(newest) = fresh.iter().filter_map(|v| v["messageId"].as_i64()).max() {
            s.log_mut(target).client_read.insert(bot_id, newest);
        }
        fresh
    });
    Ok(Json(json!({"ok": true, "result": result})))
}

/// `POST /getUpdatesHistory`: every message and callback query between the bot and its users,
/// oldest first; edits show in the messages, deleted messages are left out.
async fn get_updates_history(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let body = object(&bytes)?;
    let bot_id = parse_token(token_of(&body, "token")?)?;
    let result: Vec<Value> = app.world.with(|s| {
        if !s.bots.contains_key(&bot_id) {
            return Vec::new();
        }
        history(s, bot_id).into_iter().map(|item| item.value).collect()
    });
    Ok(Json(json!({"ok": true, "result": result})))
}

/// The chat `chat_id` names for a bot: a group, or the private chat with that user.
fn target_of(s: &State, bot_id: i64, chat_id: i64) -> Target {
    if s.groups.contains_key(&chat_id) {
        Target::Group { chat_id }
    } else {
        Target::Private { bot_id, user_id: chat_id }
    }
}

fn read_up_to(s: &State, bot_id: i64, target: Target) -> i64 {
    s.log(target).and_then(|log| log.client_read.get(&bot_id)).copied().unwrap_or(0)
}

/// One entry of the package's storage, as its routes answer it.
struct Item {
    chat_id: i64,
    message_id: i64,
    from_bot: bool,
    value: Value,
}

/// The package's stored updates of a bot, rebuilt from the world's events (`sent`, `received`,
/// `callback_query`) and chat logs, oldest first. `time` is the message's date in ms, made
/// strictly increasing as the package's real clock readings are.
fn history(s: &State, bot_id: i64) -> Vec<Item> {
    let Some(bot) = s.bots.get(&bot_id) else { return Vec::new() };
    let pending = |update_id: &Value| bot.updates.iter().any(|u| &u["update_id"] == update_id);
    let mut items = Vec::new();
    let mut last_time = 0;
    let mut stamp = |date: i64| {
        last_time = (date * 1000).max(last_time + 1);
        last_time
    };
    for event in s.events.iter().filter(|e| e.bot_id == bot_id) {
        let Some(chat_id) = event.chat_id else { continue };
        let target = target_of(s, bot_id, chat_id);
        let detail = event.detail.as_ref().unwrap_or(&Value::Null);
        let (message_id, from_bot, mut value) = match event.kind.as_str() {
            "sent" | "received" => {
                let Some(stored) = event.message_id.and_then(|id| s.message(target, id)) else { continue };
                let message_id = event.message_id.unwrap_or_default();
                let from_bot = event.kind == "sent";
                let mut message = stored.message.clone();
                let mut value = if from_bot {
                    // The package keeps the bot's sendMessage parameters: chat_id, reply_markup
                    // (a reply keyboard too), reply_to_message_id.
                    message["chat_id"] = json!(chat_id);
                    if let Some(keyboard) = stored.keyboard.clone().filter(|_| message.get("reply_markup").is_none()) {
                        message["reply_markup"] = keyboard;
                    }
                    if let Some(replied) = message.pointer("/reply_to_message/message_id").cloned() {
                        message["reply_to_message_id"] = replied;
                    }
                    json!({"updateId": event.seq, "isRead": message_id <= read_up_to(s, bot_id, target)})
                } else {
                    let update_id = detail.get("update_id").cloned().unwrap_or(Value::Null);
                    let mut value = json!({"updateId": update_id, "isRead": !pending(&update_id)});
                    let command = message["entities"]
                        .as_array()
                        .and_then(|list| list.first())
                        .is_some_and(|e| e["type"] == "bot_command" && e["offset"] == 0);
                    if command {
                        value["entities"] = message["entities"].clone();
                    }
                    value
                };
                value["time"] = json!(stamp(message["date"].as_i64().unwrap_or_default()));
                value["message"] = message;
                (message_id, from_bot, value)
            }
            "callback_query" => {
                let query = detail.get("callback_query").cloned().unwrap_or(Value::Null);
                let update_id = detail.get("update_id").cloned().unwrap_or(Value::Null);
                let message_id = query.pointer("/message/message_id").and_then(Value::as_i64).unwrap_or_default();
                let value = json!({
                    "time": stamp(detail.get("date").and_then(Value::as_i64).unwrap_or_default()),
                    "updateId": update_id,
                    "isRead": !pending(&update_id),
                    "callbackQuery": query,
                    "callbackId": query["id"],
                });
                (message_id, false, value)
            }
            _ => continue,
        };
        value["botToken"] = json!(bot.token);
        value["messageId"] = json!(message_id);
        items.push(Item { chat_id, message_id, from_bot, value });
    }
    items
}
