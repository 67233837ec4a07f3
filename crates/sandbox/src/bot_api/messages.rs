//! Sending, forwarding, editing and deleting messages.

use super::text::{self, Markup};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::world::objects::{content_of, now};
use crate::world::{PollRec, Sender, State, Target};
use serde_json::{Map, Value, json};

/// Posts a bot's message into the chat `chat_id` names, after the checks every send makes:
/// the chat, the reply markup, the replied message, then the flood limits.
pub(super) fn send(s: &mut State, bot_id: i64, p: &Params, content: Map<String, Value>) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    send_to(s, bot_id, target, p, content)
}

pub(super) fn send_to(
    s: &mut State,
    bot_id: i64,
    target: Target,
    p: &Params,
    mut content: Map<String, Value>,
) -> ApiResult<Value> {
    let markup = text::reply_markup(p, target)?;
    if let Some(replied) = replied_message(s, target, p)? {
        content.insert("reply_to_message".into(), replied);
    }
    admit(s, bot_id, target)?;
    if let Some(inline) = markup.as_ref().and_then(Markup::inline) {
        content.insert("reply_markup".into(), inline.clone());
    }
    let keyboard = markup.as_ref().and_then(Markup::client).cloned();
    let message = s.post(target, Sender::Bot(bot_id), Value::Object(content), keyboard.clone());
    let detail = keyboard.map(|k| json!({ "reply_markup": k }));
    s.record(bot_id, Some(target.chat_id()), "sent", Some(message.clone()), detail);
    Ok(message)
}

/// Counts one send against the bot's flood limits.
pub(super) fn admit(s: &mut State, bot_id: i64, target: Target) -> ApiResult<()> {
    let limits = s.limits.clone();
    let bot = s.bot_mut(bot_id)?;
    let is_group = matches!(target, Target::Group { .. });
    bot.runtime.flood.admit(&limits, target.chat_id(), is_group, tokio::time::Instant::now())
}

/// The message a send replies to, from `reply_parameters` or the older `reply_to_message_id`.
pub(super) fn replied_message(s: &State, target: Target, p: &Params) -> ApiResult<Option<Value>> {
    let (message_id, lenient) = match p.value("reply_parameters") {
        Some(Value::Object(rp)) => {
            (rp.get("message_id").and_then(Value::as_i64), rp.get("allow_sending_without_reply") == Some(&json!(true)))
        }
        Some(_) => return Err(ApiError::bad_request("object expected as reply parameters")),
        None => (p.i64("reply_to_message_id"), p.bool("allow_sending_without_reply")),
    };
    let Some(message_id) = message_id else { return Ok(None) };
    match s.message(target, message_id) {
        Some(stored) => {
            let mut replied = stored.message.clone();
            if let Some(map) = replied.as_object_mut() {
                map.remove("reply_to_message");
            }
            Ok(Some(replied))
        }
        None if lenient => Ok(None),
        None => Err(ApiError::bad_request("message to be replied not found")),
    }
}

pub fn send_message(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let mut content = Map::new();
    text::message_text(p)?.write_to(&mut content, "text", "entities");
    if let Some(options) = p.value("link_preview_options") {
        content.insert("link_preview_options".into(), options.clone());
    }
    send(s, bot_id, p, content)
}

/// Finds a message another call names by `from_chat_id` and `message_id`.
fn source_message(s: &State, bot_id: i64, p: &Params, missing: &str) -> ApiResult<Value> {
    let from = s.target_for_bot(bot_id, &p.chat_ref("from_chat_id")?)?;
    let message_id = p.require_i64("message_id", "message identifier is not specified")?;
    s.message(from, message_id).map(|m| m.message.clone()).ok_or_else(|| ApiError::bad_request(missing))
}

pub fn forward_message(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let source = source_message(s, bot_id, p, "message to forward not found")?;
    let mut content = content_of(&source);
    content.remove("reply_markup");
    // A forward of a forward keeps the first origin.
    let origin = match (source.get("forward_origin"), source.get("from")) {
        (Some(origin), _) => origin.clone(),
        (None, Some(user)) => json!({"type": "user", "date": source["date"], "sender_user": user}),
        (None, None) => json!({"type": "chat", "date": source["date"], "sender_chat": source["chat"]}),
    };
    content.insert("forward_origin".into(), origin);
    send(s, bot_id, p, content)
}

pub fn copy_message(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let source = source_message(s, bot_id, p, "message to copy not found")?;
    if source.get("poll").is_some_and(|poll| poll["type"] == "quiz") {
        return Err(ApiError::bad_request("message can't be copied"));
    }
    let mut content = content_of(&source);
    content.remove("reply_markup");
    // A new caption replaces a media message's; Telegram ignores it for a text, poll, dice…
    if has_caption_media(&content)
        && let Some(caption) = text::caption(p)?
    {
        content.remove("caption_entities");
        caption.write_to(&mut content, "caption", "caption_entities");
    }
    // A copied poll is a new poll: its own id, no votes, open.
    let message = match content.remove("poll") {
        Some(mut poll) => {
            poll["id"] = json!(new_poll_id());
            poll["total_voter_count"] = json!(0);
            poll["is_closed"] = json!(false);
            for option in poll["options"].as_array_mut().into_iter().flatten() {
                option["voter_count"] = json!(0);
            }
            post_poll(s, bot_id, p, poll, content)?
        }
        None => send(s, bot_id, p, content)?,
    };
    Ok(json!({ "message_id": message["message_id"] }))
}

fn coordinates(p: &Params) -> ApiResult<Map<String, Value>> {
    let latitude = p.f64("latitude").ok_or_else(|| ApiError::bad_request("latitude is empty"))?;
    let longitude = p.f64("longitude").ok_or_else(|| ApiError::bad_request("longitude is empty"))?;
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(ApiError::bad_request("wrong location specified"));
    }
    let mut location =
        Map::from_iter([("latitude".to_string(), json!(latitude)), ("longitude".to_string(), json!(longitude))]);
    for optional in ["horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"] {
        if let Some(v) = p.value(optional) {
            location.insert(optional.into(), v.clone());
        }
    }
    Ok(location)
}

pub fn send_location(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let location = coordinates(p)?;
    send(s, bot_id, p, Map::from_iter([("location".to_string(), Value::Object(location))]))
}

pub fn send_venue(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let location = Value::Object(coordinates(p)?);
    let title = p.require_str("title", "venue title is empty")?;
    let address = p.require_str("address", "venue address is empty")?;
    let venue = json!({"location": location, "title": title, "address": address});
    send(s, bot_id, p, Map::from_iter([("venue".to_string(), venue), ("location".to_string(), location)]))
}

pub fn send_contact(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let phone_number = p.require_str("phone_number", "phone number is empty")?;
    let first_name = p.require_str("first_name", "first name is empty")?;
    let mut contact = json!({"phone_number": phone_number, "first_name": first_name});
    for optional in ["last_name", "vcard"] {
        if let Some(v) = p.str(optional) {
            contact[optional] = json!(v);
        }
    }
    send(s, bot_id, p, Map::from_iter([("contact".to_string(), contact)]))
}

const MIN_POLL_OPTIONS: usize = 2;
const MAX_POLL_OPTIONS: usize = 12;

pub fn send_poll(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let question = p.require_str("question", "poll question must be non-empty")?;
    if question.chars().count() > 300 {
        return Err(ApiError::bad_request("poll question length must not exceed 300"));
    }
    let options = poll_options(p)?;
    let kind = p.str("type").unwrap_or("regular");
    if kind != "regular" && kind != "quiz" {
        return Err(ApiError::bad_request("unsupported poll type specified"));
    }
    let correct = correct_options(p, options.len())?;
    if kind == "quiz" && correct.is_empty() {
        return Err(ApiError::bad_request("quiz poll must have a correct option"));
    }
    let poll_id = new_poll_id();
    let is_anonymous = p.value("is_anonymous").is_none_or(|v| v == &Value::Bool(true));
    let mut poll = json!({
        "id": poll_id,
        "question": question,
        "options": options.iter().enumerate().map(|(i, text)| json!({"persistent_id": i.to_string(), "text": text, "voter_count": 0})).collect::<Vec<_>>(),
        "total_voter_count": 0,
        "is_closed": p.bool("is_closed"),
        "is_anonymous": is_anonymous,
        "type": kind,
        "allows_multiple_answers": kind == "regular" && p.bool("allows_multiple_answers"),
        "allows_revoting": p.bool("allows_revoting"),
        "members_only": p.bool("members_only"),
    });
    if kind == "quiz" {
        poll["correct_option_ids"] = json!(correct);
    }
    for optional in ["explanation", "open_period", "close_date", "description"] {
        if let Some(v) = p.value(optional) {
            poll[optional] = v.clone();
        }
    }
    // A poll open for a period closes at a date, which Telegram's Poll shows too.
    if let Some(period) = p.i64("open_period") {
        poll["close_date"] = json!(now().saturating_add(period));
    }
    post_poll(s, bot_id, p, poll, Map::new())
}

/// Sends a poll message and registers the poll so users can vote in it.
fn post_poll(s: &mut State, bot_id: i64, p: &Params, poll: Value, mut content: Map<String, Value>) -> ApiResult<Value> {
    content.insert("poll".into(), poll.clone());
    let message = send(s, bot_id, p, content)?;
    let chat_id = message["chat"]["id"].as_i64().unwrap_or_default();
    let message_id = message["message_id"].as_i64().unwrap_or_default();
    s.add_poll(PollRec { poll, bot_id, chat_id, message_id, votes: Default::default() });
    Ok(message)
}

fn new_poll_id() -> String {
    fastrand::u64(1_000_000_000_000..u64::MAX / 2).to_string()
}

/// Options as Bot API 10 gives them (InputPollOption objects) or as older clients do (strings).
fn poll_options(p: &Params) -> ApiResult<Vec<String>> {
    let list = p
        .value("options")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("expected an Array of String as options"))?;
    let options = list
        .iter()
        .map(|option| match option {
            Value::String(text) => Some(text.clone()),
            Value::Object(o) => o.get("text").and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::bad_request("expected an option to be of type String"))?;
    if options.len() < MIN_POLL_OPTIONS {
        return Err(ApiError::bad_request("poll must have at least 2 option"));
    }
    if options.len() > MAX_POLL_OPTIONS {
        return Err(ApiError::bad_request("poll can't have more than 12 options"));
    }
    if options.iter().any(|o| o.trim().is_empty()) {
        return Err(ApiError::bad_request("poll options must be non-empty"));
    }
    if options.iter().any(|o| o.chars().count() > 100) {
        return Err(ApiError::bad_request("poll options length must not exceed 100"));
    }
    Ok(options)
}

fn correct_options(p: &Params, count: usize) -> ApiResult<Vec<i64>> {
    let ids: Vec<i64> = match (p.value("correct_option_ids"), p.i64("correct_option_id")) {
        (Some(Value::Array(ids)), _) => ids
            .iter()
            .map(Value::as_i64)
            .collect::<Option<_>>()
            .ok_or_else(|| ApiError::bad_request("correct option identifier must be of type Number"))?,
        (Some(_), _) => return Err(ApiError::bad_request("expected an Array of correct option identifiers")),
        (None, Some(id)) => vec![id],
        (None, None) => vec![],
    };
    if ids.iter().any(|id| *id < 0 || *id as usize >= count) {
        return Err(ApiError::bad_request("invalid correct option identifier specified"));
    }
    Ok(ids)
}

pub fn stop_poll(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let message_id = p.require_i64("message_id", "message identifier is not specified")?;
    let markup = text::reply_markup(p, target)?;
    let stored =
        s.message(target, message_id).ok_or_else(|| ApiError::bad_request("message with poll to stop not found"))?;
    if stored.from_bot != Some(bot_id) {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    let poll_id = stored.message["poll"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("message with poll to stop not found"))?;
    let record =
        s.polls.get_mut(&poll_id).ok_or_else(|| ApiError::bad_request("message with poll to stop not found"))?;
    if record.poll["is_closed"] == true {
        return Err(ApiError::bad_request("poll has already been closed"));
    }
    record.poll["is_closed"] = json!(true);
    let poll = record.poll.clone();
    replace_message(s, bot_id, target, message_id, |message| {
        message["poll"] = poll.clone();
        if let Some(inline) = markup.as_ref().and_then(Markup::inline) {
            message["reply_markup"] = inline.clone();
        }
    });
    // Bots get updates of the polls they sent, a stopped one too.
    s.push_update(bot_id, "poll", poll.clone());
    Ok(poll)
}

/// Dice emojis and the highest value each can roll.
const DICE: [(&str, i64); 6] = [("🎲", 6), ("🎯", 6), ("🎳", 6), ("🏀", 5), ("⚽", 5), ("🎰", 64)];

pub fn send_dice(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let emoji = p.str("emoji").unwrap_or("🎲");
    let max = DICE
        .iter()
        .find(|(e, _)| *e == emoji)
        .map(|(_, max)| *max)
        .ok_or_else(|| ApiError::bad_request("invalid dice emoji specified"))?;
    let dice = json!({"emoji": emoji, "value": fastrand::i64(1..=max)});
    send(s, bot_id, p, Map::from_iter([("dice".to_string(), dice)]))
}

/// The bot's own message that an edit names, with Telegram's errors.
fn editable(s: &State, bot_id: i64, p: &Params) -> ApiResult<(Target, i64, Value)> {
    if p.value("inline_message_id").is_some() {
        return Err(ApiError::bad_request("message to edit not found"));
    }
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let message_id = p.require_i64("message_id", "message identifier is not specified")?;
    let stored = s.message(target, message_id).ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if stored.from_bot != Some(bot_id) {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    Ok((target, message_id, stored.message.clone()))
}

/// The new inline keyboard of an edit: an edit without one removes the old one.
fn edit_markup(p: &Params, target: Target) -> ApiResult<Option<Value>> {
    match text::reply_markup(p, target)? {
        None => Ok(None),
        Some(Markup::Inline(v)) => Ok(Some(v)),
        Some(Markup::Client(_)) => Err(ApiError::bad_request("inline keyboard expected")),
    }
}

fn not_modified() -> ApiError {
    ApiError::bad_request(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
    )
}

/// Applies an edit to a stored message: keeps the old version, sets edit_date, records it.
fn replace_message(
    s: &mut State,
    bot_id: i64,
    target: Target,
    message_id: i64,
    change: impl FnOnce(&mut Value),
) -> Value {
    let log = s.log_mut(target);
    let stored = log.messages.get_mut(&message_id).expect("checked by the caller");
    stored.edits.push(stored.message.clone());
    change(&mut stored.message);
    stored.message["edit_date"] = json!(now());
    let message = stored.message.clone();
    s.record(bot_id, Some(target.chat_id()), "edited", Some(message.clone()), None);
    message
}

fn set_or_remove(message: &mut Value, key: &str, value: Option<Value>) {
    if let Some(map) = message.as_object_mut() {
        match value {
            Some(value) => map.insert(key.to_string(), value),
            None => map.remove(key),
        };
    }
}

pub fn edit_text(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let (target, message_id, current) = editable(s, bot_id, p)?;
    if current.get("text").is_none() {
        return Err(ApiError::bad_request("there is no text in the message to edit"));
    }
    let formatted = text::message_text(p)?;
    let edit = Edit {
        text_key: "text",
        entities_key: "entities",
        formatted: Some(formatted),
        markup: edit_markup(p, target)?,
    };
    edit.apply(s, bot_id, target, message_id, &current)
}

/// The kinds of media a message can carry a caption with.
const CAPTIONED_MEDIA: [&str; 6] = ["photo", "video", "animation", "audio", "document", "voice"];

fn has_caption_media(content: &Map<String, Value>) -> bool {
    CAPTIONED_MEDIA.iter().any(|kind| content.contains_key(*kind))
}

pub fn edit_caption(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let (target, message_id, current) = editable(s, bot_id, p)?;
    if !current.as_object().is_some_and(has_caption_media) {
        return Err(ApiError::bad_request("there is no caption in the message to edit"));
    }
    let edit = Edit {
        text_key: "caption",
        entities_key: "caption_entities",
        formatted: text::caption(p)?,
        markup: edit_markup(p, target)?,
    };
    edit.apply(s, bot_id, target, message_id, &current)
}

/// A new text or caption (with its entities) and inline keyboard for a message.
struct Edit {
    text_key: &'static str,
    entities_key: &'static str,
    formatted: Option<text::Formatted>,
    markup: Option<Value>,
}

impl Edit {
    /// Applies the edit, refusing one that changes nothing, as Telegram does.
    fn apply(self, s: &mut State, bot_id: i64, target: Target, message_id: i64, current: &Value) -> ApiResult<Value> {
        let (text, entities) = match self.formatted {
            Some(f) => (Some(json!(f.text)), (!f.entities.is_empty()).then_some(Value::Array(f.entities))),
            None => (None, None),
        };
        if current.get(self.text_key) == text.as_ref()
            && current.get(self.entities_key) == entities.as_ref()
            && current.get("reply_markup") == self.markup.as_ref()
        {
            return Err(not_modified());
        }
        Ok(replace_message(s, bot_id, target, message_id, |message| {
            set_or_remove(message, self.text_key, text);
            set_or_remove(message, self.entities_key, entities);
            set_or_remove(message, "reply_markup", self.markup);
        }))
    }
}

pub fn edit_reply_markup(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let (target, message_id, current) = editable(s, bot_id, p)?;
    let markup = edit_markup(p, target)?;
    if current.get("reply_markup") == markup.as_ref() {
        return Err(not_modified());
    }
    Ok(replace_message(s, bot_id, target, message_id, |message| set_or_remove(message, "reply_markup", markup)))
}

/// Deletes one message if the bot may: its own anywhere, any in a private chat, any in a
/// group where it is an administrator.
fn delete_one(s: &mut State, bot_id: i64, target: Target, message_id: i64) -> ApiResult<()> {
    let stored = s.message(target, message_id).ok_or_else(|| ApiError::bad_request("message to delete not found"))?;
    let allowed = stored.from_bot == Some(bot_id)
        || match target {
            Target::Private { .. } => true,
            Target::Group { chat_id } => {
                s.groups[&chat_id].members.get(&bot_id).is_some_and(|st| st == "administrator" || st == "creator")
            }
        };
    if !allowed {
        return Err(ApiError::bad_request("message can't be deleted"));
    }
    if let Some(stored) = s.log_mut(target).messages.get_mut(&message_id) {
        stored.deleted = true;
    }
    s.record(bot_id, Some(target.chat_id()), "deleted", None, Some(json!({ "message_id": message_id })));
    Ok(())
}

pub fn delete_message(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let message_id = p.require_i64("message_id", "message identifier is not specified")?;
    delete_one(s, bot_id, target, message_id)?;
    Ok(Value::Bool(true))
}

pub fn delete_messages(s: &mut State, bot_id: i64, p: &Params) -> ApiResult<Value> {
    let target = s.target_for_bot(bot_id, &p.chat_id()?)?;
    let ids = match p.value("message_ids") {
        None => return Err(ApiError::bad_request("message identifiers are not specified")),
        Some(Value::Array(ids)) => ids,
        Some(_) => return Err(ApiError::bad_request("expected an Array of message identifiers")),
    };
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request("too many message identifiers specified"));
    }
    let ids = ids
        .iter()
        .map(Value::as_i64)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::bad_request("message identifier must be a Number"))?;
    // Telegram skips the messages it cannot find or delete.
    for id in ids {
        let _skipped = delete_one(s, bot_id, target, id);
    }
    Ok(Value::Bool(true))
}
