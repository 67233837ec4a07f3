//! The messages of each chat: the stored log (with earlier versions and the keyboard a message
//! brought), and posting a new message in it.

use super::objects::{self, bot_user_json, now, user_json};
use super::{State, Target};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMessage {
    pub message: Value,
    /// The bot that sent it; `None` for a user's message or a service message.
    pub from_bot: Option<i64>,
    /// Earlier versions, oldest first.
    #[serde(default)]
    pub edits: Vec<Value>,
    #[serde(default)]
    pub deleted: bool,
    /// A reply keyboard, its removal or a force-reply sent with the message: it changes the
    /// user's client and is not part of the Message object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatLog {
    pub last_message_id: i64,
    pub messages: BTreeMap<i64, StoredMessage>,
    pub pinned: Vec<i64>,
    /// Bot id → the newest of its messages a telegram-test-api client fetched from this chat
    /// with the user-side `getUpdates` (crate::telegram_test_api_compat).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_read: BTreeMap<i64, i64>,
}

/// Who posts a message.
#[derive(Debug, Clone, Copy)]
pub enum Sender {
    Bot(i64),
    User(i64),
}

impl State {
    pub fn log(&self, target: Target) -> Option<&ChatLog> {
        match target {
            Target::Private { bot_id, user_id } => self.bots.get(&bot_id)?.private.get(&user_id),
            Target::Group { chat_id } => Some(&self.groups.get(&chat_id)?.log),
        }
    }

    pub fn log_mut(&mut self, target: Target) -> &mut ChatLog {
        match target {
            Target::Private { bot_id, user_id } => {
                self.bots.get_mut(&bot_id).expect("target bot exists").private.entry(user_id).or_default()
            }
            Target::Group { chat_id } => &mut self.groups.get_mut(&chat_id).expect("target group exists").log,
        }
    }

    /// A message as the Bot API shows it, found by id in the target chat.
    pub fn message(&self, target: Target, message_id: i64) -> Option<&StoredMessage> {
        self.log(target)?.messages.get(&message_id).filter(|m| !m.deleted)
    }

    /// Stores a new message in a chat. `content` holds the message's own fields
    /// (text, photo, reply_markup…); the common ones are filled in here.
    pub fn post(&mut self, target: Target, sender: Sender, content: Value, keyboard: Option<Value>) -> Value {
        let from = match sender {
            Sender::Bot(bot_id) => self.bots.get(&bot_id).map(bot_user_json),
            Sender::User(user_id) => self.users.get(&user_id).map(user_json),
        };
        let chat = self.chat_json(target);
        let log = self.log_mut(target);
        log.last_message_id += 1;
        let message_id = log.last_message_id;
        let mut message = json!({"message_id": message_id, "date": now(), "chat": chat});
        if let Some(from) = from {
            message["from"] = from;
        }
        objects::merge(&mut message, content);
        let from_bot = match sender {
            Sender::Bot(id) => Some(id),
            Sender::User(_) => None,
        };
        log.messages.insert(
            message_id,
            StoredMessage { message: message.clone(), from_bot, edits: Vec::new(), deleted: false, keyboard },
        );
        message
    }
}
