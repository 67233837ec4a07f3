//! Builders of the Bot API objects the sandbox hands out (User, Chat, Message…).
//! Field names follow `api.json`; the api.json walker test checks every answer.

use super::{Bot, Group, UserRec};
use serde_json::{Map, Value, json};

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub fn user_json(user: &UserRec) -> Value {
    let mut v = json!({"id": user.id, "is_bot": false, "first_name": user.first_name});
    insert_opt(&mut v, "last_name", user.last_name.as_deref());
    insert_opt(&mut v, "username", user.username.as_deref());
    insert_opt(&mut v, "language_code", user.language_code.as_deref());
    v
}

pub fn bot_user_json(bot: &Bot) -> Value {
    json!({"id": bot.id, "is_bot": true, "first_name": bot.first_name, "username": bot.username})
}

/// getMe's answer: the bot's User with the capability flags only getMe returns.
pub fn bot_me_json(bot: &Bot) -> Value {
    let mut me = bot_user_json(bot);
    let extra = json!({
        "can_join_groups": true,
        "can_read_all_group_messages": true,
        "supports_inline_queries": true,
        "can_connect_to_business": false,
        "has_main_web_app": false,
        "supports_guest_queries": false,
        "has_topics_enabled": false,
        "allows_users_to_create_topics": false,
        "can_manage_bots": false,
        "supports_join_request_queries": false,
    });
    merge(&mut me, extra);
    me
}

/// A private chat as the bot sees it: the chat's id is the user's.
pub fn private_chat_json(user: &UserRec) -> Value {
    let mut v = json!({"id": user.id, "type": "private", "first_name": user.first_name});
    insert_opt(&mut v, "last_name", user.last_name.as_deref());
    insert_opt(&mut v, "username", user.username.as_deref());
    v
}

pub fn group_chat_json(group: &Group) -> Value {
    let mut v = json!({"id": group.id, "type": group.kind, "title": group.title});
    insert_opt(&mut v, "username", group.username.as_deref());
    v
}

pub fn insert_opt(target: &mut Value, key: &str, value: Option<&str>) {
    if let (Some(value), Some(map)) = (value, target.as_object_mut()) {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Copies every field of `extra` (an object) into `target` (an object).
pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(map), Value::Object(extra)) = (target.as_object_mut(), extra) {
        map.extend(extra);
    }
}

/// The keys of a message that make up its content (what copyMessage copies).
pub fn content_of(message: &Value) -> Map<String, Value> {
    const NOT_CONTENT: [&str; 12] = [
        "message_id",
        "from",
        "chat",
        "date",
        "edit_date",
        "forward_origin",
        "reply_to_message",
        "media_group_id",
        "sender_chat",
        "is_automatic_forward",
        "author_signature",
        "via_bot",
    ];
    message
        .as_object()
        .map(|m| {
            m.iter().filter(|(k, _)| !NOT_CONTENT.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
        })
        .unwrap_or_default()
}
