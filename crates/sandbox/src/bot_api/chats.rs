//! The bot itself, chats and their members, commands, callback and inline answers.

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::world::objects::{bot_me_json, merge};
use crate::world::{State, Target};
use serde_json::{Value, json};

pub fn get_me(s: &mut State, bot_id: i64) -> ApiResult<Value> {
    Ok(bot_me_json(s.bot(bot_id)?))
}

const CHAT_ACTIONS: [&str; 11] = [
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

pub fn send_chat_action(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let action = p
        .str("action")
        .filter(|a| CHAT_ACTIONS.contains(a))
        .ok_or_else(|| ApiError::bad_request("wrong parameter action in request"))?;
    s.record(bot_id, Some(target.chat_id()), "chat_action", None, Some(json!({ "action": action })));
    Ok(Value::Bool(true))
}

pub fn answer_callback_query(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let id =
        p.require_str("callback_query_id", "query is too old and response timeout expired or query ID is invalid")?;
    let invalid = || ApiError::bad_request("query is too old and response timeout expired or query ID is invalid");
    let expired = s.callbacks.get(id).is_none_or(|q| s.query_expired(q.created));
    let query =
        s.callbacks.get_mut(id).filter(|q| q.bot_id == bot_id && q.answer.is_none() && !expired).ok_or_else(invalid)?;
    let mut answer = json!({ "show_alert": p.bool("show_alert") });
    for optional in ["text", "url", "cache_time"] {
        if let Some(v) = p.value(optional) {
            answer[optional] = v.clone();
        }
    }
    if answer["text"].as_str().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
    }
    query.answer = Some(answer.clone());
    let (chat_id, message_id) = (query.chat_id, query.message_id);
    let mut detail = json!({ "callback_query_id": id, "message_id": message_id });
    merge(&mut detail, answer);
    s.record(bot_id, chat_id, "callback_answered", None, Some(detail));
    Ok(Value::Bool(true))
}

pub fn answer_inline_query(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let id =
        p.require_str("inline_query_id", "query is too old and response timeout expired or query ID is invalid")?;
    let results = p
        .value("results")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("expected an Array of inline query results"))?;
    if results.len() > 50 {
        return Err(ApiError::bad_request("too many inline query results specified"));
    }
    for result in results {
        if !result.is_object() {
            return Err(ApiError::bad_request("inline query result must be an object"));
        }
        if result["type"].as_str().is_none() || result["id"].as_str().is_none_or(|i| i.is_empty() || i.len() > 64) {
            return Err(ApiError::bad_request("can't parse inline query result: wrong type or id"));
        }
    }
    let invalid = || ApiError::bad_request("query is too old and response timeout expired or query ID is invalid");
    let expired = s.inline_queries.get(id).is_none_or(|q| s.query_expired(q.created));
    let query = s
        .inline_queries
        .get_mut(id)
        .filter(|q| q.bot_id == bot_id && q.answer.is_none() && !expired)
        .ok_or_else(invalid)?;
    let mut answer = json!({ "results": results });
    for optional in ["next_offset", "cache_time", "is_personal", "button"] {
        if let Some(v) = p.value(optional) {
            answer[optional] = v.clone();
        }
    }
    query.answer = Some(answer.clone());
    let mut detail = json!({ "inline_query_id": id });
    merge(&mut detail, answer);
    s.record(bot_id, None, "inline_answered", None, Some(detail));
    Ok(Value::Bool(true))
}

/// The key under which commands are kept: their scope and language.
fn commands_key(p: &Params) -> ApiResult<String> {
    let scope = match p.value("scope") {
        None => "default".to_string(),
        Some(Value::Object(scope)) => {
            let kind = scope
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("can't parse BotCommandScope: wrong type"))?;
            let chat = scope.get("chat_id").map(|c| format!(":{c}")).unwrap_or_default();
            let user = scope.get("user_id").map(|u| format!(":{u}")).unwrap_or_default();
            format!("{kind}{chat}{user}")
        }
        Some(_) => return Err(ApiError::bad_request("botCommandScope must be an Object")),
    };
    Ok(format!("{scope}|{}", p.str("language_code").unwrap_or_default()))
}

pub fn set_my_commands(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let commands = p
        .value("commands")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("expected an Array of BotCommand"))?;
    if commands.len() > 100 {
        return Err(ApiError::bad_request("too many commands specified"));
    }
    for command in commands {
        let name = command["command"].as_str().unwrap_or_default();
        let description = command["description"].as_str().unwrap_or_default();
        let valid_name = (1..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&description.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    let key = commands_key(p)?;
    let commands = Value::Array(
        commands.iter().map(|c| json!({"command": c["command"], "description": c["description"]})).collect(),
    );
    s.bot_mut(bot_id)?.commands.insert(key, commands);
    Ok(Value::Bool(true))
}

pub fn get_my_commands(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let key = commands_key(p)?;
    Ok(s.bot(bot_id)?.commands.get(&key).cloned().unwrap_or_else(|| json!([])))
}

pub fn delete_my_commands(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let key = commands_key(p)?;
    s.bot_mut(bot_id)?.commands.remove(&key);
    Ok(Value::Bool(true))
}

/// getChat's ChatFullInfo: the Chat plus the fields Bot API 10 makes required.
pub fn get_chat(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.chat_for_bot(bot_id, &p.chat_id()?)?;
    let mut info = s.chat_json(target);
    merge(
        &mut info,
        json!({
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {"unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false, "gifts_from_channels": false},
        }),
    );
    if let Some(pinned) = s.log(target).and_then(|log| log.pinned.last()).and_then(|id| s.message(target, *id)) {
        info["pinned_message"] = pinned.message.clone();
    }
    Ok(info)
}

pub fn get_chat_member(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.chat_for_bot(bot_id, &p.chat_id()?)?;
    let user_id = p.require_i64("user_id", "user identifier is not specified")?;
    if !s.users.contains_key(&user_id) && !s.bots.contains_key(&user_id) {
        return Err(ApiError::bad_request("user not found"));
    }
    let status = match target {
        Target::Private { user_id: owner, .. } if user_id == owner || user_id == bot_id => "member".to_string(),
        Target::Private { .. } => "left".to_string(),
        Target::Group { chat_id } => s.groups[&chat_id].members.get(&user_id).cloned().unwrap_or_else(|| "left".into()),
    };
    s.member_json(user_id, &status).ok_or_else(|| ApiError::bad_request("user not found"))
}

pub fn get_chat_member_count(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    Ok(json!(match s.chat_for_bot(bot_id, &p.chat_id()?)? {
        Target::Private { .. } => 2,
        Target::Group { chat_id } => s.groups[&chat_id].members.values().filter(|st| is_member(st)).count(),
    }))
}

fn is_member(status: &str) -> bool {
    matches!(status, "creator" | "administrator" | "member" | "restricted")
}

pub fn get_chat_administrators(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    match s.chat_for_bot(bot_id, &p.chat_id()?)? {
        Target::Private { .. } => Err(ApiError::bad_request("there are no administrators in the private chat")),
        Target::Group { chat_id } => Ok(Value::Array(
            s.groups[&chat_id]
                .members
                .iter()
                .filter(|(_, st)| *st == "creator" || *st == "administrator")
                .filter_map(|(id, st)| s.member_json(*id, st))
                .collect(),
        )),
    }
}

pub fn leave_chat(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    match s.target_for_bot(bot_id, &p.chat_id()?)? {
        Target::Private { .. } => Err(ApiError::bad_request("chat member status can't be changed in private chats")),
        Target::Group { chat_id } => {
            s.groups.get_mut(&chat_id).expect("resolved").members.insert(bot_id, "left".into());
            s.record(bot_id, Some(chat_id), "left", None, None);
            Ok(Value::Bool(true))
        }
    }
}

pub fn pin_chat_message(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let message_id = p.require_i64("message_id", "message identifier is not specified")?;
    s.message(target, message_id).ok_or_else(|| ApiError::bad_request("message to pin not found"))?;
    let log = s.log_mut(target);
    log.pinned.retain(|id| *id != message_id);
    log.pinned.push(message_id);
    s.record(bot_id, Some(target.chat_id()), "pinned", None, Some(json!({ "message_id": message_id })));
    Ok(Value::Bool(true))
}

pub fn unpin_chat_message(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let log = s.log_mut(target);
    let message_id = match p.i64("message_id") {
        Some(id) => id,
        None => *log.pinned.last().ok_or_else(|| ApiError::bad_request("message to unpin not found"))?,
    };
    if !log.pinned.contains(&message_id) {
        return Err(ApiError::bad_request("message to unpin not found"));
    }
    log.pinned.retain(|id| *id != message_id);
    s.record(bot_id, Some(target.chat_id()), "unpinned", None, Some(json!({ "message_id": message_id })));
    Ok(Value::Bool(true))
}

pub fn unpin_all_chat_messages(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    s.log_mut(target).pinned.clear();
    s.record(bot_id, Some(target.chat_id()), "unpinned", None, Some(json!({ "all": true })));
    Ok(Value::Bool(true))
}
