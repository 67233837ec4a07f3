//! Which chat an action lands in: a `chat_id` resolved for a bot (with Telegram's errors) or
//! for a user, the Chat object of that chat, and the bots that see what happens in it.

use super::State;
use super::groups::is_present;
use super::objects::{group_chat_json, private_chat_json};
use crate::error::{ApiError, ApiResult};
use crate::params::ChatRef;
use serde_json::Value;

/// A chat a bot can write to, resolved from a `chat_id`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    Private { bot_id: i64, user_id: i64 },
    Group { chat_id: i64 },
}

impl Target {
    pub fn chat_id(&self) -> i64 {
        match *self {
            Target::Private { user_id, .. } => user_id,
            Target::Group { chat_id } => chat_id,
        }
    }
}

impl State {
    /// Resolves the chat a bot writes to, with Telegram's errors.
    pub fn target_for_bot(&self, bot_id: i64, chat: &ChatRef) -> ApiResult<Target> {
        self.resolve_for_bot(bot_id, chat, true)
    }

    /// Resolves a chat a bot only reads (getChat, getChatMember…): a user who never wrote to
    /// the bot is a chat it does not know, not one it may not write to.
    pub fn chat_for_bot(&self, bot_id: i64, chat: &ChatRef) -> ApiResult<Target> {
        self.resolve_for_bot(bot_id, chat, false)
    }

    fn resolve_for_bot(&self, bot_id: i64, chat: &ChatRef, send: bool) -> ApiResult<Target> {
        let id = match chat {
            ChatRef::Id(id) => *id,
            ChatRef::Username(name) => self.id_for_username(name).ok_or_else(ApiError::chat_not_found)?,
        };
        if let Some(group) = self.groups.get(&id) {
            let kind = &group.kind;
            return match group.members.get(&bot_id).map(String::as_str) {
                Some("kicked") => Err(ApiError::forbidden(format!("bot was kicked from the {kind} chat"))),
                Some("left") | None => Err(ApiError::forbidden(format!("bot is not a member of the {kind} chat"))),
                Some(_) => Ok(Target::Group { chat_id: id }),
            };
        }
        if self.users.contains_key(&id) {
            let bot = self.bot(bot_id)?;
            return if bot.private.contains_key(&id) {
                Ok(Target::Private { bot_id, user_id: id })
            } else if send {
                Err(ApiError::forbidden("bot can't initiate conversation with a user"))
            } else {
                Err(ApiError::chat_not_found())
            };
        }
        Err(ApiError::chat_not_found())
    }

    /// Resolves the chat a user acts in: their private chat with the bot, or a group they are in.
    pub fn target_for_user(&mut self, bot_id: i64, user_id: i64, chat_id: Option<i64>) -> ApiResult<Target> {
        self.user(user_id)?;
        self.bot(bot_id)?;
        match chat_id {
            None => Ok(Target::Private { bot_id, user_id }),
            Some(id) if id == user_id => Ok(Target::Private { bot_id, user_id }),
            Some(id) => {
                let group =
                    self.groups.get(&id).ok_or_else(|| ApiError::bad_request(format!("chat {id} not found")))?;
                if !is_present(group.members.get(&user_id)) {
                    return Err(ApiError::bad_request(format!("user {user_id} is not a member of chat {id}")));
                }
                if !is_present(group.members.get(&bot_id)) {
                    return Err(ApiError::bad_request(format!("bot {bot_id} is not a member of chat {id}")));
                }
                Ok(Target::Group { chat_id: id })
            }
        }
    }

    /// The public chat an `@username` names. Only supergroups (and channels, which the sandbox
    /// has not) are public: a user's username is not a chat id, as in Telegram.
    fn id_for_username(&self, name: &str) -> Option<i64> {
        self.groups
            .values()
            .find(|g| g.kind == "supergroup" && g.username.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|g| g.id)
    }

    /// The Chat object of a target.
    pub fn chat_json(&self, target: Target) -> Value {
        match target {
            Target::Private { user_id, .. } => self.users.get(&user_id).map(private_chat_json).unwrap_or(Value::Null),
            Target::Group { chat_id } => self.groups.get(&chat_id).map(group_chat_json).unwrap_or(Value::Null),
        }
    }

    /// The bots that see what happens in a target chat.
    pub fn bots_in(&self, target: Target) -> Vec<i64> {
        match target {
            Target::Private { bot_id, .. } => vec![bot_id],
            Target::Group { chat_id } => self
                .groups
                .get(&chat_id)
                .map(|g| {
                    g.members
                        .iter()
                        .filter(|(id, status)| self.bots.contains_key(id) && is_present(Some(status)))
                        .map(|(id, _)| *id)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Sender, UserRec};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bot_cannot_start_a_private_chat() {
        let mut state = State::default();
        let bot = state.bot_for_token("9:t").unwrap();
        let user = state
            .create_user(UserRec {
                id: 0,
                first_name: "Ann".into(),
                last_name: None,
                username: None,
                language_code: None,
            })
            .unwrap();
        let err = state.target_for_bot(bot, &ChatRef::Id(user.id)).unwrap_err();
        assert_eq!(err.description, "Forbidden: bot can't initiate conversation with a user");
        assert_eq!(
            state.target_for_bot(bot, &ChatRef::Id(424242)).unwrap_err().description,
            "Bad Request: chat not found"
        );
        let target = state.target_for_user(bot, user.id, None).unwrap();
        state.post(target, Sender::User(user.id), json!({"text": "hi"}), None);
        assert_eq!(state.target_for_bot(bot, &ChatRef::Id(user.id)).unwrap(), target);
    }
}
