//! The control API: the user side of the sandbox (docs/sandbox.md).

use crate::App;
use crate::bot_api::text::{MAX_CAPTION, MAX_TEXT};
use crate::bot_api::user_media;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::flood_limits::Limits;
use crate::params::Upload;
use crate::world::objects::{group_chat_json, user_json};
use crate::world::{EVENT_KINDS, Sender, State, Target, UserRec, random_id};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AppState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const MAX_EVENTS_WAIT: u64 = 50;
/// A 1×1 transparent PNG: the photo a user sends when the test gives none.
const TINY_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

/// A control API error: `{"ok":false,"error":"…"}` with a 4xx status.
#[derive(Debug)]
pub struct ControlError(StatusCode, String);

impl From<ApiError> for ControlError {
    fn from(e: ApiError) -> Self {
        let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST);
        let text = e.description.strip_prefix("Bad Request: ").unwrap_or(&e.description).to_string();
        ControlError(status, text)
    }
}

fn bad(text: impl Into<String>) -> ControlError {
    ControlError(StatusCode::BAD_REQUEST, text.into())
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"ok": false, "error": self.1}))).into_response()
    }
}

type Answer = Result<Json<Value>, ControlError>;

/// A query string parsed into `T`, or the control API's error saying what is wrong with it.
fn query<T>(parsed: Result<Query<T>, QueryRejection>) -> Result<T, ControlError> {
    parsed.map(|Query(q)| q).map_err(|e| bad(format!("invalid query: {}", e.body_text())))
}

/// Parses a JSON body into `T`, saying what is wrong when it does not fit.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ControlError> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { &bytes[..] };
    serde_json::from_slice(text).map_err(|e| bad(format!("invalid body: {e}")))
}

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/bots", post(create_bot).get(list_bots))
        .route("/bots/{bot_id}/revoke", post(revoke_token))
        .route("/bots/{bot_id}/faults", post(add_fault).delete(clear_faults).get(list_faults))
        .route("/users", post(create_user).get(list_users))
        .route("/groups", post(create_group).get(list_groups))
        .route("/groups/{chat_id}/join", post(join_group))
        .route("/groups/{chat_id}/leave", post(leave_group))
        .route("/reset", post(reset))
        .route("/limits", get(get_limits).put(put_limits))
        .route("/act/{kind}", post(act))
        .route("/chats/{chat_id}/messages", get(chat_messages))
        .route("/events", get(events))
        .route("/callbacks/{id}", get(callback_answer))
        .route("/inline_queries/{id}", get(inline_answer))
        .route("/polls/{poll_id}", get(poll_state))
        .route("/files/{file_id}", get(file))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBot {
    token: String,
    username: Option<String>,
    first_name: Option<String>,
}

fn bot_summary(bot: &crate::world::Bot) -> Value {
    json!({"id": bot.id, "is_bot": true, "first_name": bot.first_name, "username": bot.username, "token": bot.token,
           "webhook": bot.webhook.as_ref().map(|w| w.url.clone()), "pending_update_count": bot.updates.len()})
}

async fn create_bot(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let new: NewBot = body(&bytes)?;
    Ok(Json(app.world.with(|s| s.create_bot(&new.token, new.username, new.first_name).map(bot_summary))?))
}

async fn list_bots(AppState(app): AppState<Arc<App>>) -> Json<Value> {
    Json(app.world.read(|s| s.bots.values().map(bot_summary).collect()))
}

/// BotFather's /revoke: the bot gets a new token (in the answer), the old one is refused (401).
async fn revoke_token(AppState(app): AppState<Arc<App>>, Path(bot_id): Path<i64>) -> Answer {
    Ok(Json(app.world.with(|s| s.revoke_token(bot_id).map(bot_summary))?))
}

async fn add_fault(AppState(app): AppState<Arc<App>>, Path(bot_id): Path<i64>, bytes: Bytes) -> Answer {
    let fault: Fault = body(&bytes)?;
    fault.validate().map_err(bad)?;
    app.world.with(|s| s.bot_mut(bot_id).map(|bot| bot.runtime.faults.add(fault)))?;
    Ok(Json(json!({"ok": true})))
}

async fn clear_faults(AppState(app): AppState<Arc<App>>, Path(bot_id): Path<i64>) -> Answer {
    app.world.with(|s| s.bot_mut(bot_id).map(|bot| bot.runtime.faults.clear()))?;
    Ok(Json(json!({"ok": true})))
}

async fn list_faults(AppState(app): AppState<Arc<App>>, Path(bot_id): Path<i64>) -> Answer {
    Ok(Json(app.world.read(|s| s.bot(bot_id).map(|bot| json!(bot.runtime.faults.pending())))?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    #[serde(default)]
    id: i64,
    first_name: String,
    last_name: Option<String>,
    username: Option<String>,
    language_code: Option<String>,
}

async fn create_user(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let new: NewUser = body(&bytes)?;
    let user = UserRec {
        id: new.id,
        first_name: new.first_name,
        last_name: new.last_name,
        username: new.username,
        language_code: new.language_code,
    };
    Ok(Json(app.world.with(|s| s.create_user(user).map(|u| user_json(&u)))?))
}

async fn list_users(AppState(app): AppState<Arc<App>>) -> Json<Value> {
    Json(app.world.read(|s| s.users.values().map(user_json).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    title: String,
    #[serde(rename = "type", default = "group_kind")]
    kind: String,
    #[serde(default)]
    members: Vec<i64>,
    #[serde(default)]
    bots: Vec<i64>,
    username: Option<String>,
}

fn group_kind() -> String {
    "group".into()
}

async fn create_group(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let new: NewGroup = body(&bytes)?;
    if new.username.is_some() && new.kind != "supergroup" {
        return Err(bad("only a supergroup can have a username (a basic group is never public)"));
    }
    let chat = app.world.with(|s| {
        let id = s.create_group(&new.title, &new.kind, &new.members, &new.bots)?;
        let group = s.groups.get_mut(&id).expect("just created");
        group.username = new.username;
        let chat = group_chat_json(group);
        let creator = new.members.first().copied();
        for &bot_id in &new.bots {
            let by = creator.unwrap_or(bot_id);
            if let Some(change) = s.member_updated(chat.clone(), by, bot_id, "left", "administrator") {
                s.push_update(bot_id, "my_chat_member", change);
            }
        }
        // Bots hear of a basic group's creation; a supergroup is never created with a bot in
        // it (Telegram: supergroup_chat_created never reaches a bot), so it has no such update.
        if let (Some(creator), "group") = (creator, new.kind.as_str()) {
            service_message(s, id, Sender::User(creator), json!({ "group_chat_created": true }), None);
        }
        Ok::<_, ApiError>(chat)
    })?;
    Ok(Json(chat))
}

async fn list_groups(AppState(app): AppState<Arc<App>>) -> Json<Value> {
    Json(app.world.read(|s| {
        s.groups
            .values()
            .map(|g| {
                let mut chat = group_chat_json(g);
                chat["members"] = json!(g.members);
                chat
            })
            .collect()
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Member {
    user_id: Option<i64>,
    bot_id: Option<i64>,
}

async fn join_group(AppState(app): AppState<Arc<App>>, Path(chat_id): Path<i64>, bytes: Bytes) -> Answer {
    membership(&app, chat_id, &bytes, true)
}

async fn leave_group(AppState(app): AppState<Arc<App>>, Path(chat_id): Path<i64>, bytes: Bytes) -> Answer {
    membership(&app, chat_id, &bytes, false)
}

/// A user or bot joins or leaves a group: the service message goes to the group's bots.
fn membership(app: &App, chat_id: i64, bytes: &Bytes, join: bool) -> Answer {
    let member: Member = body(bytes)?;
    let id = member.user_id.or(member.bot_id).ok_or_else(|| bad("give user_id or bot_id"))?;
    let message = app.world.with(|s| {
        let (member_json, is_bot) = match (member.user_id, s.bots.get(&id)) {
            (None, Some(bot)) => (crate::world::objects::bot_user_json(bot), true),
            _ => (user_json(s.user(id)?), false),
        };
        let group =
            s.groups.get_mut(&chat_id).ok_or_else(|| ApiError::bad_request(format!("chat {chat_id} not found")))?;
        let was = group.members.get(&id).map(String::as_str);
        if join && matches!(was, Some("member" | "administrator" | "creator")) {
            return Err(ApiError::bad_request("already a member"));
        }
        if !join && !matches!(was, Some("member" | "administrator" | "creator" | "restricted")) {
            return Err(ApiError::bad_request("not a member"));
        }
        let status = if join { "member" } else { "left" };
        let old_status = group.members.insert(id, status.to_string()).unwrap_or_else(|| "left".into());
        let target = Target::Group { chat_id };
        let content = if join {
            json!({"new_chat_members": [member_json], "new_chat_member": member_json})
        } else {
            json!({"left_chat_member": member_json})
        };
        let sender = if is_bot { Sender::Bot(id) } else { Sender::User(id) };
        let chat = s.chat_json(target);
        // A bot that leaves still hears of it.
        let leaving_bot = (is_bot && !join).then_some(id);
        let message = service_message(s, chat_id, sender, content, leaving_bot);
        if is_bot && let Some(change) = s.member_updated(chat, id, id, &old_status, status) {
            s.push_update(id, "my_chat_member", change);
        }
        Ok(message)
    })?;
    Ok(Json(message))
}

/// Posts a service message in a group and hands it to the group's bots (and `also`, a bot that
/// just left), as Telegram does.
fn service_message(s: &mut State, chat_id: i64, sender: Sender, content: Value, also: Option<i64>) -> Value {
    let target = Target::Group { chat_id };
    let message = s.post(target, sender, content, None);
    let mut recipients = s.bots_in(target);
    recipients.extend(also);
    for bot_id in recipients {
        s.push_update(bot_id, "message", message.clone());
        s.record(bot_id, Some(chat_id), "received", Some(message.clone()), None);
    }
    message
}

async fn reset(AppState(app): AppState<Arc<App>>) -> Json<Value> {
    app.world.with(State::reset);
    Json(json!({"ok": true}))
}

async fn get_limits(AppState(app): AppState<Arc<App>>) -> Json<Value> {
    Json(app.world.read(|s| json!(s.limits)))
}

async fn put_limits(AppState(app): AppState<Arc<App>>, bytes: Bytes) -> Answer {
    let limits: Limits = body(&bytes)?;
    limits.validate().map_err(bad)?;
    app.world.with(|s| s.limits = limits.clone());
    Ok(Json(json!(limits)))
}

/// The fields every user action has.
#[derive(Deserialize)]
struct Actor {
    bot_id: i64,
    user_id: i64,
    chat_id: Option<i64>,
}

fn field<'a>(fields: &'a Value, name: &str) -> Result<&'a Value, ControlError> {
    fields.get(name).filter(|v| !v.is_null()).ok_or_else(|| bad(format!("{name} is required")))
}

fn text_field<'a>(fields: &'a Value, name: &str) -> Result<&'a str, ControlError> {
    field(fields, name)?
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("{name} must be a non-empty string")))
}

/// A text a user types, at most `max` characters (counted as the Bot API counts a bot's): a
/// Telegram app splits a longer one before sending, so a bot never receives it.
fn within(text: &str, name: &str, max: usize) -> Result<(), ControlError> {
    let length = text.chars().count();
    if length > max {
        return Err(bad(format!("{name} is {length} characters long; a Telegram user sends at most {max}")));
    }
    Ok(())
}

/// A message text a user types (1 to [`MAX_TEXT`] characters).
fn user_text<'a>(fields: &'a Value, name: &str) -> Result<&'a str, ControlError> {
    let text = text_field(fields, name)?;
    within(text, name, MAX_TEXT)?;
    Ok(text)
}

fn number_field(fields: &Value, name: &str) -> Result<f64, ControlError> {
    field(fields, name)?.as_f64().ok_or_else(|| bad(format!("{name} must be a number")))
}

fn decode_base64(fields: &Value, name: &str) -> Result<Option<Vec<u8>>, ControlError> {
    match fields.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => {
            let text = text.split_once("base64,").map_or(text, |(_, data)| data);
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map(Some)
                .map_err(|e| bad(format!("{name}: not base64: {e}")))
        }
    }
}

async fn act(AppState(app): AppState<Arc<App>>, Path(kind): Path<String>, bytes: Bytes) -> Answer {
    let fields: Value = body(&bytes)?;
    let actor: Actor = serde_json::from_value(fields.clone()).map_err(|e| bad(format!("invalid body: {e}")))?;
    let answer = app.world.with(|s| -> Result<Value, ControlError> {
        let target = s.target_for_user(actor.bot_id, actor.user_id, actor.chat_id)?;
        let before = s.last_seq;
        let mut answer = match kind.as_str() {
            "text" => {
                let text = user_text(&fields, "text")?;
                let mut content = json!({"text": text});
                let entities = crate::markup::detect(text);
                if !entities.is_empty() {
                    content["entities"] = json!(entities);
                }
                user_message(s, &actor, target, content, fields.get("reply_to_message_id").and_then(Value::as_i64))
            }
            "command" => {
                let command = text_field(&fields, "command")?.trim_start_matches('/');
                if command.is_empty() || command.contains(char::is_whitespace) {
                    return Err(bad("command must be one word"));
                }
                let payload = fields.get("payload").and_then(Value::as_str).filter(|p| !p.is_empty());
                let text = match payload {
                    Some(payload) => format!("/{command} {payload}"),
                    None => format!("/{command}"),
                };
                within(&text, "the command with its payload", MAX_TEXT)?;
                let length = crate::markup::utf16_len(command) + 1;
                let content = json!({"text": text, "entities": [{"type": "bot_command", "offset": 0, "length": length}]});
                user_message(s, &actor, target, content, None)
            }
            "photo" => {
                let bytes = decode_base64(&fields, "data_base64")?.unwrap_or_else(|| TINY_PNG.to_vec());
                let upload = Upload { file_name: Some("photo.jpg".into()), mime_type: None, bytes: bytes.into() };
                let caption = user_caption(&fields)?;
                let mut content = json!({"photo": user_media(s, "photo", upload)?});
                add_caption(&mut content, caption);
                user_message(s, &actor, target, content, None)
            }
            "document" => {
                let file_name = text_field(&fields, "file_name")?.to_string();
                let bytes = decode_base64(&fields, "data_base64")?.ok_or_else(|| bad("data_base64 is required"))?;
                let mime_type = fields.get("mime_type").and_then(Value::as_str).map(str::to_string);
                let upload = Upload { file_name: Some(file_name), mime_type, bytes: bytes.into() };
                let caption = user_caption(&fields)?;
                let mut content = json!({"document": user_media(s, "document", upload)?});
                add_caption(&mut content, caption);
                user_message(s, &actor, target, content, None)
            }
            "location" => {
                let (latitude, longitude) = (number_field(&fields, "latitude")?, number_field(&fields, "longitude")?);
                if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
                    return Err(bad("latitude must be within ±90 and longitude within ±180"));
                }
                user_message(s, &actor, target, json!({"location": {"latitude": latitude, "longitude": longitude}}), None)
            }
            "contact" => {
                let mut contact = json!({"phone_number": text_field(&fields, "phone_number")?, "first_name": text_field(&fields, "first_name")?, "user_id": actor.user_id});
                if let Some(last) = fields.get("last_name").and_then(Value::as_str) {
                    contact["last_name"] = json!(last);
                }
                user_message(s, &actor, target, json!({ "contact": contact }), None)
            }
            "callback" => callback(s, &actor, target, &fields),
            "web_app_data" => web_app_data(s, &actor, target, &fields),
            "edit" => {
                let message_id =
                    field(&fields, "message_id")?.as_i64().ok_or_else(|| bad("message_id must be a number"))?;
                let text = user_text(&fields, "text")?;
                let (message, update_id) = s.user_edits(actor.bot_id, actor.user_id, target, message_id, text)?;
                Ok(json!({"update_id": update_id, "edited_message": message}))
            }
            "poll_answer" => poll_answer(s, &actor, &fields),
            "inline_query" => inline_query(s, &actor, &fields),
            "chosen_inline_result" => {
                let from = user_json(s.user(actor.user_id)?);
                let result = json!({"result_id": text_field(&fields, "result_id")?, "from": from, "query": fields.get("query").and_then(Value::as_str).unwrap_or_default()});
                let update_id = s.push_update(actor.bot_id, "chosen_inline_result", result.clone());
                let answer = json!({"update_id": update_id, "chosen_inline_result": result});
                s.record(actor.bot_id, None, "chosen_inline_result", None, Some(answer.clone()));
                Ok(answer)
            }
            other => Err(ControlError(StatusCode::NOT_FOUND, format!("unknown action {other}; see docs/sandbox.md"))),
        }?;
        // Every action records one event; its seq lets a caller wait for what follows it.
        debug_assert!(s.last_seq > before, "act/{kind} recorded no event");
        answer["seq"] = json!(s.last_seq);
        Ok(answer)
    })?;
    Ok(Json(answer))
}

/// A user's caption, if any (at most [`MAX_CAPTION`] characters): checked before the file is
/// stored, so a refused action keeps nothing.
fn user_caption(fields: &Value) -> Result<Option<&str>, ControlError> {
    let caption = fields.get("caption").and_then(Value::as_str).filter(|c| !c.is_empty());
    if let Some(caption) = caption {
        within(caption, "caption", MAX_CAPTION)?;
    }
    Ok(caption)
}

fn add_caption(content: &mut Value, caption: Option<&str>) {
    if let Some(caption) = caption {
        content["caption"] = json!(caption);
    }
}

/// Posts a user's message and queues it for the bots of the chat.
fn user_message(
    s: &mut State,
    actor: &Actor,
    target: Target,
    content: Value,
    reply_to: Option<i64>,
) -> Result<Value, ControlError> {
    let (message, update_id) = s.user_says(actor.bot_id, actor.user_id, target, content, reply_to)?;
    Ok(json!({"update_id": update_id, "message": message}))
}

/// The user presses an inline button: only a button the message really has.
fn callback(s: &mut State, actor: &Actor, target: Target, fields: &Value) -> Result<Value, ControlError> {
    let message_id = field(fields, "message_id")?.as_i64().ok_or_else(|| bad("message_id must be a number"))?;
    let data = text_field(fields, "data")?;
    let stored =
        s.message(target, message_id).ok_or_else(|| bad(format!("message {message_id} not found in this chat")))?;
    if stored.from_bot != Some(actor.bot_id) {
        return Err(bad(format!("message {message_id} was not sent by bot {}", actor.bot_id)));
    }
    let has_button = stored.message["reply_markup"]["inline_keyboard"]
        .as_array()
        .is_some_and(|rows| rows.iter().filter_map(Value::as_array).flatten().any(|b| b["callback_data"] == data));
    if !has_button {
        return Err(bad(format!("message {message_id} has no button with callback_data {data:?}")));
    }
    let message = stored.message.clone();
    let (query, update_id) = s.press_button(actor.bot_id, actor.user_id, target, message, Some(data))?;
    Ok(json!({"update_id": update_id, "callback_query": query}))
}

/// The user sends data from a Web App opened by a `web_app` key of the bot's reply keyboard
/// (Telegram.WebApp.sendData): only in a private chat, only from a key the user's keyboard has,
/// at most 4096 bytes.
fn web_app_data(s: &mut State, actor: &Actor, target: Target, fields: &Value) -> Result<Value, ControlError> {
    let data = text_field(fields, "data")?;
    let button_text = text_field(fields, "button_text")?;
    if !matches!(target, Target::Private { .. }) {
        return Err(bad("Web Apps of reply keyboards send data only in private chats"));
    }
    if data.is_empty() || data.len() > MAX_WEB_APP_DATA {
        return Err(bad(format!("data must be 1 to {MAX_WEB_APP_DATA} bytes")));
    }
    // The user's keyboard is the one the bot's latest message with a reply markup left.
    let keyboard = s.log(target).and_then(|log| {
        log.messages.values().rev().filter(|m| m.from_bot == Some(actor.bot_id)).find_map(|m| m.keyboard.clone())
    });
    let has_key = keyboard.as_ref().and_then(|k| k["keyboard"].as_array()).is_some_and(|rows| {
        rows.iter()
            .filter_map(Value::as_array)
            .flatten()
            .any(|key| key["text"] == button_text && key["web_app"]["url"].is_string())
    });
    if !has_key {
        return Err(bad(format!("the user's keyboard has no Web App key {button_text:?}")));
    }
    let content = json!({"web_app_data": {"data": data, "button_text": button_text}});
    user_message(s, actor, target, content, None)
}

/// What Telegram.WebApp.sendData accepts.
const MAX_WEB_APP_DATA: usize = 4096;

/// The user votes in a poll (an empty option list takes the vote back).
fn poll_answer(s: &mut State, actor: &Actor, fields: &Value) -> Result<Value, ControlError> {
    let poll_id = text_field(fields, "poll_id")?.to_string();
    let options: Vec<i64> = serde_json::from_value(field(fields, "option_ids")?.clone())
        .map_err(|_| bad("option_ids must be a list of numbers"))?;
    let user = user_json(s.user(actor.user_id)?);
    s.close_due_polls();
    let record = s.polls.get_mut(&poll_id).ok_or_else(|| bad(format!("poll {poll_id} not found")))?;
    let poll = &mut record.poll;
    let count = poll["options"].as_array().map_or(0, Vec::len) as i64;
    if poll["is_closed"] == true {
        return Err(bad("the poll is closed"));
    }
    if options.iter().any(|o| *o < 0 || *o >= count) {
        return Err(bad(format!("option ids must be between 0 and {}", count - 1)));
    }
    if options.len() > 1 && poll["allows_multiple_answers"] != true {
        return Err(bad("this poll takes one answer"));
    }
    let previous = record.votes.get(&actor.user_id).cloned().unwrap_or_default();
    if !previous.is_empty() && poll["type"] == "quiz" {
        return Err(bad("a quiz answer can't be changed"));
    }
    for (old, delta) in previous.iter().map(|o| (o, -1)).chain(options.iter().map(|o| (o, 1))) {
        let counter = &mut poll["options"][*old as usize]["voter_count"];
        *counter = json!(counter.as_i64().unwrap_or(0) + delta);
    }
    if options.is_empty() {
        record.votes.remove(&actor.user_id);
    } else {
        record.votes.insert(actor.user_id, options.clone());
    }
    poll["total_voter_count"] = json!(record.votes.len());
    let (bot_id, chat_id, message_id, poll) = (record.bot_id, record.chat_id, record.message_id, poll.clone());
    let target = if chat_id < 0 { Target::Group { chat_id } } else { Target::Private { bot_id, user_id: chat_id } };
    if let Some(stored) = s.log_mut(target).messages.get_mut(&message_id) {
        stored.message["poll"] = poll.clone();
    }
    s.push_update(bot_id, "poll", poll.clone());
    let answer = json!({
        "poll_id": poll_id,
        "user": user,
        "option_ids": options,
        "option_persistent_ids": options.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
    });
    let update_id =
        if poll["is_anonymous"] == false { s.push_update(bot_id, "poll_answer", answer.clone()) } else { None };
    let answer = json!({"update_id": update_id, "poll_answer": answer, "poll": poll});
    s.record(bot_id, Some(chat_id), "poll_answer", None, Some(answer.clone()));
    Ok(answer)
}

fn inline_query(s: &mut State, actor: &Actor, fields: &Value) -> Result<Value, ControlError> {
    let query_text = fields.get("query").and_then(Value::as_str).unwrap_or_default();
    if query_text.chars().count() > 256 {
        return Err(bad("query must be at most 256 characters"));
    }
    let id = random_id(19);
    let query = json!({
        "id": id,
        "from": user_json(s.user(actor.user_id)?),
        "query": query_text,
        "offset": fields.get("offset").and_then(Value::as_str).unwrap_or_default(),
        "chat_type": "sender",
    });
    s.add_inline_query(id, actor.bot_id);
    let update_id = s.push_update(actor.bot_id, "inline_query", query.clone());
    let answer = json!({"update_id": update_id, "inline_query": query});
    s.record(actor.bot_id, None, "inline_query", None, Some(answer.clone()));
    Ok(answer)
}

#[derive(Deserialize)]
struct ChatQuery {
    bot_id: i64,
}

async fn chat_messages(
    AppState(app): AppState<Arc<App>>,
    Path(chat_id): Path<i64>,
    q: Result<Query<ChatQuery>, QueryRejection>,
) -> Answer {
    let q = query(q)?;
    let messages = app.world.read(|s| {
        let target = if s.groups.contains_key(&chat_id) { Target::Group { chat_id } } else { Target::Private { bot_id: q.bot_id, user_id: chat_id } };
        s.bot(q.bot_id)?;
        let Some(log) = s.log(target) else { return Ok(json!([])) };
        Ok::<_, ApiError>(Value::Array(
            log.messages
                .values()
                .map(|m| {
                    let mut entry = json!({"message": m.message, "from_bot": m.from_bot.is_some(), "edits": m.edits, "deleted": m.deleted});
                    if let Some(keyboard) = &m.keyboard {
                        entry["reply_markup"] = keyboard.clone();
                    }
                    entry
                })
                .collect(),
        ))
    })?;
    Ok(Json(messages))
}

#[derive(Deserialize)]
struct EventsQuery {
    bot_id: Option<i64>,
    chat_id: Option<i64>,
    #[serde(default)]
    after: u64,
    #[serde(default)]
    timeout: u64,
    /// Comma-separated event kinds; all kinds when absent.
    kind: Option<String>,
    /// The epoch the caller knows: another one answers at once (the world was reset).
    epoch: Option<u64>,
}

/// The kinds of an events filter, each one an event kind.
fn event_kinds(filter: &str) -> Result<Vec<String>, ControlError> {
    filter
        .split(',')
        .map(str::trim)
        .map(|kind| {
            if EVENT_KINDS.contains(&kind) {
                Ok(kind.to_string())
            } else {
                Err(bad(format!("unknown event kind {kind:?}; the kinds are {}", EVENT_KINDS.join(", "))))
            }
        })
        .collect()
}

/// Bot events after a sequence number; waits up to `timeout` seconds for the first. A reset
/// of the world (a new epoch) ends the wait at once.
async fn events(AppState(app): AppState<Arc<App>>, q: Result<Query<EventsQuery>, QueryRejection>) -> Answer {
    let q = query(q)?;
    let kinds = q.kind.as_deref().map(event_kinds).transpose()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.timeout.min(MAX_EVENTS_WAIT));
    let mut changes = app.world.subscribe_events();
    let mut known_epoch = q.epoch;
    loop {
        changes.borrow_and_update();
        let (events, last, epoch) =
            app.world.read(|s| (s.events_after(q.after, q.bot_id, q.chat_id, kinds.as_deref()), s.last_seq, s.epoch));
        let reset = *known_epoch.get_or_insert(epoch) != epoch;
        if !events.is_empty() || reset || tokio::time::Instant::now() >= deadline {
            return Ok(Json(json!({"events": events, "last": last, "epoch": epoch})));
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return Ok(Json(json!({"events": [], "last": last, "epoch": epoch}))) },
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn callback_answer(AppState(app): AppState<Arc<App>>, Path(id): Path<String>) -> Answer {
    let record = app
        .world
        .read(|s| s.callbacks.get(&id).cloned())
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("callback query {id} not found")))?;
    let mut answer = json!({"answered": record.answer.is_some()});
    if let Some(given) = record.answer {
        crate::world::objects::merge(&mut answer, given);
    }
    Ok(Json(answer))
}

/// A poll as it stands and who chose what (user side: anonymous polls too, so the web chat
/// shows a user their own vote).
async fn poll_state(AppState(app): AppState<Arc<App>>, Path(poll_id): Path<String>) -> Answer {
    let (poll, votes) = app
        .world
        .with(|s| {
            s.close_due_polls();
            s.polls.get(&poll_id).map(|r| (r.poll.clone(), r.votes.clone()))
        })
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("poll {poll_id} not found")))?;
    let votes: serde_json::Map<String, Value> =
        votes.into_iter().map(|(user, ids)| (user.to_string(), json!(ids))).collect();
    Ok(Json(json!({"poll": poll, "votes": votes})))
}

async fn inline_answer(AppState(app): AppState<Arc<App>>, Path(id): Path<String>) -> Answer {
    let record = app
        .world
        .read(|s| s.inline_queries.get(&id).cloned())
        .ok_or_else(|| ControlError(StatusCode::NOT_FOUND, format!("inline query {id} not found")))?;
    let mut answer = json!({"answered": record.answer.is_some(), "results": []});
    if let Some(given) = record.answer {
        crate::world::objects::merge(&mut answer, given);
    }
    Ok(Json(answer))
}

/// A stored file's bytes, for the user side (the web chat shows photos with it).
async fn file(AppState(app): AppState<Arc<App>>, Path(file_id): Path<String>) -> Response {
    let found = app.world.read(|s| s.files.get(&file_id).map(|f| (f.bytes.clone(), f.mime_type.clone())));
    match found {
        Some((bytes, mime)) => {
            let mime = mime.unwrap_or_else(|| "application/octet-stream".into());
            ([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response()
        }
        None => ControlError(StatusCode::NOT_FOUND, format!("file {file_id} not found")).into_response(),
    }
}
