//! What a user does to a bot: writes, edits their message, presses an inline button. Each is
//! stored, queued as an update for the bots that see it and recorded as an event.

use super::objects::{now, user_json};
use super::queries::CallbackRec;
use super::{Sender, State, Target};
use crate::error::{ApiError, ApiResult};
use serde_json::{Value, json};

impl State {
    /// A user's message: posted in the chat and queued for the chat's bots. `bot_id` is the bot
    /// the user addresses; its update id is returned with the message, and a `received` event
    /// records the message for it.
    pub fn user_says(
        &mut self,
        bot_id: i64,
        user_id: i64,
        target: Target,
        mut content: Value,
        reply_to: Option<i64>,
    ) -> ApiResult<(Value, Option<i64>)> {
        if let Some(id) = reply_to {
            let replied = self
                .message(target, id)
                .ok_or_else(|| ApiError::bad_request(format!("message {id} not found in this chat")))?;
            let mut replied = replied.message.clone();
            replied.as_object_mut().map(|m| m.remove("reply_to_message"));
            content["reply_to_message"] = replied;
        }
        let message = self.post(target, Sender::User(user_id), content, None);
        let mut update_id = None;
        for bot in self.bots_in(target) {
            let id = self.push_update(bot, "message", message.clone());
            if bot == bot_id {
                update_id = id;
            }
        }
        let detail = update_id.map(|id| json!({ "update_id": id }));
        self.record(bot_id, Some(target.chat_id()), "received", Some(message.clone()), detail);
        Ok((message, update_id))
    }

    /// A user edits the text (or caption) of their own message: stored with its earlier
    /// version and `edit_date`, and queued as an `edited_message` for the chat's bots. `bot_id`
    /// is the bot the user addresses; its update id is returned, and a `received_edit` event
    /// records the new version for it.
    pub fn user_edits(
        &mut self,
        bot_id: i64,
        user_id: i64,
        target: Target,
        message_id: i64,
        text: &str,
    ) -> ApiResult<(Value, Option<i64>)> {
        let stored = self
            .message(target, message_id)
            .ok_or_else(|| ApiError::bad_request(format!("message {message_id} not found in this chat")))?;
        if stored.from_bot.is_some() || stored.message["from"]["id"].as_i64() != Some(user_id) {
            return Err(ApiError::bad_request("message can't be edited"));
        }
        let key = if stored.message.get("text").is_some() {
            "text"
        } else if stored.message.get("caption").is_some() || stored.message.get("photo").is_some() {
            "caption"
        } else {
            return Err(ApiError::bad_request("there is no text in the message to edit"));
        };
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("message text is empty"));
        }
        let length = text.chars().count();
        if key == "caption" && length > crate::bot_api::text::MAX_CAPTION {
            return Err(ApiError::bad_request(format!(
                "caption is {length} characters long; a Telegram user sends at most {}",
                crate::bot_api::text::MAX_CAPTION
            )));
        }
        if stored.message[key] == text {
            return Err(ApiError::bad_request("message is not modified"));
        }
        let log = self.log_mut(target);
        let stored = log.messages.get_mut(&message_id).expect("found above");
        stored.edits.push(stored.message.clone());
        stored.message[key] = json!(text);
        let entities = if key == "text" { "entities" } else { "caption_entities" };
        stored.message.as_object_mut().map(|m| m.remove(entities));
        stored.message["edit_date"] = json!(now());
        let message = stored.message.clone();
        let mut update_id = None;
        for bot in self.bots_in(target) {
            let id = self.push_update(bot, "edited_message", message.clone());
            if bot == bot_id {
                update_id = id;
            }
        }
        let detail = update_id.map(|id| json!({ "update_id": id }));
        self.record(bot_id, Some(target.chat_id()), "received_edit", Some(message.clone()), detail);
        Ok((message, update_id))
    }

    /// A user presses an inline button of `message` (the callback query's `message` as is; the
    /// caller checks it). Queues the callback query for the bot and records a `callback_query`
    /// event; answers the query and its update id.
    pub fn press_button(
        &mut self,
        bot_id: i64,
        user_id: i64,
        target: Target,
        message: Value,
        data: Option<&str>,
    ) -> ApiResult<(Value, Option<i64>)> {
        let id = format!("{}", fastrand::u64(1_000_000_000_000_000..9_000_000_000_000_000));
        let mut query = json!({
            "id": id,
            "from": user_json(self.user(user_id)?),
            "message": message,
            "chat_instance": format!("{}", (bot_id ^ target.chat_id()).unsigned_abs()),
        });
        if let Some(data) = data {
            query["data"] = json!(data);
        }
        let (chat_id, message_id) = (Some(target.chat_id()), message["message_id"].as_i64());
        self.prune_queries();
        self.callbacks.insert(id, CallbackRec { bot_id, chat_id, message_id, answer: None, created: now() });
        let update_id = self.push_update(bot_id, "callback_query", query.clone());
        let detail = json!({"update_id": update_id, "callback_query": query, "date": now()});
        self.record(bot_id, Some(target.chat_id()), "callback_query", None, Some(detail));
        Ok((query, update_id))
    }
}
