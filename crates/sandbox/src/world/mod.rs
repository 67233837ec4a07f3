//! The emulated Telegram: bots, users, chats, messages, files and the update queues.
//! One lock guards it all; every operation is short and never awaits while holding it.

pub mod objects;
mod polls;
mod queries;
pub use queries::default_expiry as default_query_expiry;

use crate::error::{ApiError, ApiResult};
use crate::flood::{Faults, FloodState, Limits};
use crate::params::ChatRef;
use objects::{bot_user_json, group_chat_json, now, private_chat_json, user_json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Events kept for the control API's readers; older ones are dropped first.
const MAX_EVENTS: usize = 200_000;
/// Updates kept per bot that nobody fetched (Telegram keeps them for 24 hours).
const MAX_PENDING_UPDATES: usize = 100_000;

/// The update kinds a bot gets when it never named its `allowed_updates`.
const DEFAULT_EXCLUDED_UPDATES: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRec {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

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
    /// with the user-side `getUpdates` (crate::compat).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub client_read: BTreeMap<i64, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: i64,
    /// `group` or `supergroup`.
    pub kind: String,
    pub title: String,
    pub username: Option<String>,
    /// Member id (user or bot) → status (`creator`, `administrator`, `member`, `left`, `kicked`).
    #[serde(default)]
    pub members: BTreeMap<i64, String>,
    #[serde(default)]
    pub log: ChatLog,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    pub ip_address: Option<String>,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
}

/// setWebhook's default.
fn default_max_connections() -> u32 {
    40
}

/// What a bot is doing right now; not saved with the state.
#[derive(Debug)]
pub struct BotRuntime {
    /// Bumped on every new update, getUpdates call and webhook change: long polls and the
    /// webhook deliverer wait on it.
    pub wake: watch::Sender<u64>,
    /// The number of the newest getUpdates call; an older waiting one answers 409.
    pub poll_generation: u64,
    pub faults: Faults,
    pub flood: FloodState,
    /// A webhook deliverer task runs for this bot.
    pub delivering: bool,
}

impl Default for BotRuntime {
    fn default() -> Self {
        Self {
            wake: watch::channel(0).0,
            poll_generation: 0,
            faults: Faults::default(),
            flood: FloodState::default(),
            delivering: false,
        }
    }
}

impl BotRuntime {
    pub fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Bot {
    pub id: i64,
    pub token: String,
    pub username: String,
    pub first_name: String,
    #[serde(default)]
    pub updates: VecDeque<Value>,
    #[serde(default = "first_update_id")]
    pub next_update_id: i64,
    pub allowed_updates: Option<Vec<String>>,
    pub webhook: Option<Webhook>,
    /// `scope|language` → the commands published with setMyCommands.
    #[serde(default)]
    pub commands: BTreeMap<String, Value>,
    /// Private chats with users, by user id.
    #[serde(default)]
    pub private: BTreeMap<i64, ChatLog>,
    #[serde(skip)]
    pub runtime: BotRuntime,
}

fn first_update_id() -> i64 {
    1
}

impl Bot {
    fn new(id: i64, token: String, username: Option<String>, first_name: Option<String>) -> Self {
        Self {
            id,
            token,
            username: username.unwrap_or_else(|| format!("bot{id}_bot")),
            first_name: first_name.unwrap_or_else(|| format!("Bot {id}")),
            updates: VecDeque::new(),
            next_update_id: first_update_id(),
            allowed_updates: None,
            webhook: None,
            commands: BTreeMap::new(),
            private: BTreeMap::new(),
            runtime: BotRuntime::default(),
        }
    }

    pub fn wants(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(allowed) if !allowed.is_empty() => allowed.iter().any(|a| a == kind),
            _ => !DEFAULT_EXCLUDED_UPDATES.contains(&kind),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredFile {
    pub file_unique_id: String,
    pub file_path: String,
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    #[serde(with = "crate::persist::base64_bytes")]
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollRec {
    pub poll: Value,
    pub bot_id: i64,
    pub chat_id: i64,
    pub message_id: i64,
    /// User id → chosen option ids.
    #[serde(default)]
    pub votes: BTreeMap<i64, Vec<i64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackRec {
    pub bot_id: i64,
    /// The chat and message of the pressed button, when the message is accessible.
    #[serde(default)]
    pub chat_id: Option<i64>,
    #[serde(default)]
    pub message_id: Option<i64>,
    pub answer: Option<Value>,
    /// When the user pressed the button (Unix time): the query expires after `query_expiry`.
    #[serde(default = "now")]
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InlineQueryRec {
    pub bot_id: i64,
    pub answer: Option<Value>,
    #[serde(default = "now")]
    pub created: i64,
}

/// The kinds of [`Event`]s (docs/sandbox.md lists what each carries); the events API refuses
/// a filter naming another.
pub const EVENT_KINDS: [&str; 15] = [
    "sent",
    "edited",
    "deleted",
    "chat_action",
    "callback_answered",
    "inline_answered",
    "pinned",
    "unpinned",
    "left",
    "received",
    "received_edit",
    "callback_query",
    "poll_answer",
    "inline_query",
    "chosen_inline_result",
];

/// Something a bot did, or a user did to it, as the control API reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub bot_id: i64,
    pub chat_id: Option<i64>,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

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

/// Fields added later must leave older state files readable: each missing one takes its
/// value from `State::default()`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub bots: BTreeMap<i64, Bot>,
    pub users: BTreeMap<i64, UserRec>,
    pub groups: BTreeMap<i64, Group>,
    pub files: HashMap<String, StoredFile>,
    /// file_path → file_id, for downloads.
    pub file_paths: HashMap<String, String>,
    pub polls: HashMap<String, PollRec>,
    pub callbacks: HashMap<String, CallbackRec>,
    pub inline_queries: HashMap<String, InlineQueryRec>,
    /// Open polls with a `close_date`, by that date: they close once it has passed.
    #[serde(default)]
    pub poll_deadlines: BTreeSet<(i64, String)>,
    /// How long a callback or inline query can be answered; older ones are forgotten.
    #[serde(skip, default = "default_query_expiry")]
    pub query_expiry: Duration,
    pub events: VecDeque<Event>,
    /// The newest event's `seq`; it keeps growing across resets.
    pub last_seq: u64,
    /// Tells event readers that the events they know are gone: a new random number on every
    /// start and reset (not saved).
    #[serde(skip)]
    pub epoch: u64,
    pub next_user_id: i64,
    pub next_group_id: i64,
    pub next_file_number: u64,
    pub limits: Limits,
    /// Refuse tokens of bots not created through the control API.
    pub strict: bool,
}

impl Default for State {
    fn default() -> Self {
        Self {
            bots: BTreeMap::new(),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            files: HashMap::new(),
            file_paths: HashMap::new(),
            polls: HashMap::new(),
            callbacks: HashMap::new(),
            inline_queries: HashMap::new(),
            poll_deadlines: BTreeSet::new(),
            query_expiry: default_query_expiry(),
            events: VecDeque::new(),
            last_seq: 0,
            epoch: new_epoch(),
            next_user_id: 1_000_001,
            next_group_id: 1,
            next_file_number: 1,
            limits: Limits::default(),
            strict: false,
        }
    }
}

/// A random epoch, exact as a JavaScript number.
fn new_epoch() -> u64 {
    fastrand::u64(1..1 << 53)
}

/// A random identifier of `len` URL-safe characters, like Telegram's file and query ids.
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

/// Splits a token `<id>:<secret>` and checks its form as the official server does.
pub fn parse_token(token: &str) -> ApiResult<i64> {
    let (id, secret) = token.split_once(':').ok_or_else(ApiError::invalid_token)?;
    let well_formed = !id.is_empty()
        && !id.starts_with('0')
        && token.len() <= 80
        && !secret.is_empty()
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let id: i64 = id.parse().ok().filter(|_| well_formed).ok_or_else(ApiError::invalid_token)?;
    if id <= 0 || id >= 1 << 53 {
        return Err(ApiError::invalid_token());
    }
    Ok(id)
}

impl State {
    /// The bot a token names; created on first use unless the sandbox is strict.
    pub fn bot_for_token(&mut self, token: &str) -> ApiResult<i64> {
        let id = parse_token(token)?;
        match self.bots.get(&id) {
            Some(bot) if bot.token == token => Ok(id),
            Some(_) => Err(ApiError::unauthorized()),
            None if self.strict => Err(ApiError::unauthorized()),
            None => {
                self.bots.insert(id, Bot::new(id, token.to_string(), None, None));
                Ok(id)
            }
        }
    }

    pub fn create_bot(&mut self, token: &str, username: Option<String>, first_name: Option<String>) -> ApiResult<&Bot> {
        let id = parse_token(token)?;
        if self.bots.get(&id).is_some_and(|bot| bot.token != token) {
            return Err(ApiError::bad_request("a bot with this id exists with another token"));
        }
        let bot = self.bots.entry(id).or_insert_with(|| Bot::new(id, token.to_string(), None, None));
        if let Some(username) = username {
            bot.username = username;
        }
        if let Some(first_name) = first_name {
            bot.first_name = first_name;
        }
        Ok(bot)
    }

    pub fn bot(&self, id: i64) -> ApiResult<&Bot> {
        self.bots.get(&id).ok_or_else(|| ApiError::bad_request(format!("bot {id} not found")))
    }

    pub fn bot_mut(&mut self, id: i64) -> ApiResult<&mut Bot> {
        self.bots.get_mut(&id).ok_or_else(|| ApiError::bad_request(format!("bot {id} not found")))
    }

    pub fn user(&self, id: i64) -> ApiResult<&UserRec> {
        self.users.get(&id).ok_or_else(|| ApiError::bad_request(format!("user {id} not found")))
    }

    pub fn create_user(&mut self, mut user: UserRec) -> ApiResult<UserRec> {
        if user.first_name.trim().is_empty() {
            return Err(ApiError::bad_request("first_name is empty"));
        }
        if user.id == 0 {
            while self.users.contains_key(&self.next_user_id) || self.bots.contains_key(&self.next_user_id) {
                self.next_user_id += 1;
            }
            user.id = self.next_user_id;
            self.next_user_id += 1;
        } else if user.id < 0 || self.users.contains_key(&user.id) || self.bots.contains_key(&user.id) {
            return Err(ApiError::bad_request(format!("user id {} is taken or invalid", user.id)));
        }
        self.users.insert(user.id, user.clone());
        Ok(user)
    }

    pub fn create_group(&mut self, title: &str, kind: &str, members: &[i64], bots: &[i64]) -> ApiResult<i64> {
        self.create_group_with_id(None, title, kind, members, bots)
    }

    /// Creates a group; `id` (negative, unused) is its chat id, or one is picked. The first
    /// member is its creator, the bots are administrators.
    pub fn create_group_with_id(
        &mut self,
        id: Option<i64>,
        title: &str,
        kind: &str,
        members: &[i64],
        bots: &[i64],
    ) -> ApiResult<i64> {
        if title.trim().is_empty() {
            return Err(ApiError::bad_request("title is empty"));
        }
        if kind != "group" && kind != "supergroup" {
            return Err(ApiError::bad_request("type must be \"group\" or \"supergroup\""));
        }
        for id in members {
            self.user(*id)?;
        }
        for id in bots {
            self.bot(*id)?;
        }
        let id = match id {
            Some(id) if id >= 0 || self.groups.contains_key(&id) => {
                return Err(ApiError::bad_request(format!("group chat id {id} is taken or not negative")));
            }
            Some(id) => id,
            None => {
                let number = self.next_group_id;
                self.next_group_id += 1;
                if kind == "supergroup" { -1_000_000_000_000 - number } else { -number }
            }
        };
        let mut group_members = BTreeMap::new();
        for (i, id) in members.iter().enumerate() {
            group_members.insert(*id, if i == 0 { "creator" } else { "member" }.to_string());
        }
        for id in bots {
            group_members.insert(*id, "administrator".to_string());
        }
        let group = Group {
            id,
            kind: kind.to_string(),
            title: title.to_string(),
            username: None,
            members: group_members,
            log: ChatLog::default(),
        };
        self.groups.insert(id, group);
        Ok(id)
    }

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

    /// The Chat object of a target.
    pub fn chat_json(&self, target: Target) -> Value {
        match target {
            Target::Private { user_id, .. } => self.users.get(&user_id).map(private_chat_json).unwrap_or(Value::Null),
            Target::Group { chat_id } => self.groups.get(&chat_id).map(group_chat_json).unwrap_or(Value::Null),
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

    /// Queues an update of `kind` for a bot and wakes its long poll or webhook.
    /// Returns `None` when the bot's `allowed_updates` excludes the kind.
    pub fn push_update(&mut self, bot_id: i64, kind: &str, payload: Value) -> Option<i64> {
        let bot = self.bots.get_mut(&bot_id)?;
        if !bot.wants(kind) {
            return None;
        }
        let update_id = bot.next_update_id;
        bot.next_update_id += 1;
        let mut update = json!({ "update_id": update_id });
        update[kind] = payload;
        if bot.updates.len() >= MAX_PENDING_UPDATES {
            bot.updates.pop_front();
        }
        bot.updates.push_back(update);
        bot.runtime.wake();
        Some(update_id)
    }

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

    /// Records what a bot did, for the control API's readers.
    pub fn record(
        &mut self,
        bot_id: i64,
        chat_id: Option<i64>,
        kind: &str,
        message: Option<Value>,
        detail: Option<Value>,
    ) -> Event {
        debug_assert!(EVENT_KINDS.contains(&kind), "event kind {kind} is missing from EVENT_KINDS");
        self.last_seq += 1;
        let message_id = message
            .as_ref()
            .and_then(|m| m["message_id"].as_i64())
            .or_else(|| detail.as_ref().and_then(|d| d["message_id"].as_i64()));
        let event = Event { seq: self.last_seq, bot_id, chat_id, kind: kind.to_string(), message, message_id, detail };
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event.clone());
        event
    }

    /// Forgets the world but keeps the settings and the event sequence, so readers holding an
    /// `after` see the new events; the new epoch tells them the old ones are gone.
    pub fn reset(&mut self) {
        let (limits, strict, last_seq, query_expiry) =
            (self.limits.clone(), self.strict, self.last_seq, self.query_expiry);
        *self = State { limits, strict, last_seq, query_expiry, ..State::default() };
    }

    /// The events after `after`, of one bot, chat or some kinds when those are given.
    pub fn events_after(
        &self,
        after: u64,
        bot_id: Option<i64>,
        chat_id: Option<i64>,
        kinds: Option<&[String]>,
    ) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.seq <= after);
        self.events
            .range(start..)
            .filter(|e| bot_id.is_none_or(|id| e.bot_id == id) && chat_id.is_none_or(|id| e.chat_id == Some(id)))
            .filter(|e| kinds.is_none_or(|kinds| kinds.contains(&e.kind)))
            .cloned()
            .collect()
    }

    /// The ChatMember object of one member, in the variant its status calls for.
    pub fn member_json(&self, user_id: i64, status: &str) -> Option<Value> {
        let user = match self.bots.get(&user_id) {
            Some(bot) => bot_user_json(bot),
            None => user_json(self.users.get(&user_id)?),
        };
        Some(match status {
            "creator" => json!({"status": "creator", "user": user, "is_anonymous": false}),
            "administrator" => json!({
                "status": "administrator", "user": user, "can_be_edited": false, "is_anonymous": false,
                "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": true,
                "can_restrict_members": true, "can_promote_members": false, "can_change_info": true,
                "can_invite_users": true, "can_post_stories": false, "can_edit_stories": false,
                "can_delete_stories": false, "can_pin_messages": true,
            }),
            "kicked" => json!({"status": "kicked", "user": user, "until_date": 0}),
            other => json!({"status": other, "user": user}),
        })
    }

    /// A ChatMemberUpdated: `member_id` went from `old` to `new` status, changed by `by`.
    pub fn member_updated(&self, chat: Value, by: i64, member_id: i64, old: &str, new: &str) -> Option<Value> {
        let from = match self.bots.get(&by) {
            Some(bot) => bot_user_json(bot),
            None => user_json(self.users.get(&by)?),
        };
        Some(json!({
            "chat": chat,
            "from": from,
            "date": now(),
            "old_chat_member": self.member_json(member_id, old)?,
            "new_chat_member": self.member_json(member_id, new)?,
        }))
    }

    /// Stores file bytes and returns the new file's id.
    pub fn store_file(
        &mut self,
        folder: &str,
        file_name: Option<String>,
        mime_type: Option<String>,
        bytes: Vec<u8>,
    ) -> String {
        let number = self.next_file_number;
        self.next_file_number += 1;
        let extension = file_name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, ext)| ext.to_string())
            .unwrap_or_else(|| default_extension(folder).to_string());
        let file_id = format!("{}{}", random_id(24), number);
        let file = StoredFile {
            file_unique_id: format!("AQAD{}", random_id(12)),
            file_path: format!("{folder}/file_{number}.{extension}"),
            file_name,
            mime_type,
            bytes,
        };
        self.file_paths.insert(file.file_path.clone(), file_id.clone());
        self.files.insert(file_id.clone(), file);
        file_id
    }

    pub fn forget_file(&mut self, file_id: &str) {
        if let Some(file) = self.files.remove(file_id) {
            self.file_paths.remove(&file.file_path);
        }
    }

    pub fn file_by_path(&self, path: &str) -> Option<&StoredFile> {
        self.files.get(self.file_paths.get(path)?)
    }
}

fn default_extension(folder: &str) -> &'static str {
    match folder {
        "photos" => "jpg",
        "videos" => "mp4",
        "voice" => "oga",
        "music" => "mp3",
        "animations" => "mp4",
        _ => "bin",
    }
}

fn is_present(status: Option<&String>) -> bool {
    matches!(status.map(String::as_str), Some("creator" | "administrator" | "member" | "restricted"))
}

/// Who posts a message.
#[derive(Debug, Clone, Copy)]
pub enum Sender {
    Bot(i64),
    User(i64),
}

/// The sandbox's world, shared by the bot side, the control API and the webhook deliverers.
pub struct World {
    state: parking_lot::Mutex<State>,
    events: watch::Sender<u64>,
    /// Counts the calls that may have changed the state, for the periodic save.
    changes: AtomicU64,
}

impl World {
    pub fn new(state: State) -> Self {
        let last = state.last_seq;
        Self { state: parking_lot::Mutex::new(state), events: watch::channel(last).0, changes: AtomicU64::new(0) }
    }

    /// Runs `f` with the state locked; wakes event readers if it recorded events or reset the
    /// world.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.with_changes(|s| (f(s), true))
    }

    /// Like [`World::with`] for calls that usually change nothing that is saved (a long poll
    /// that confirms nothing): `f` tells whether it did, so an idle bot causes no saves.
    pub fn with_changes<R>(&self, f: impl FnOnce(&mut State) -> (R, bool)) -> R {
        let mut state = self.state.lock();
        let before = (state.last_seq, state.epoch);
        let (result, changed) = f(&mut state);
        let after = (state.last_seq, state.epoch);
        if changed || after != before {
            self.changes.fetch_add(1, Ordering::Relaxed);
        }
        drop(state);
        if after != before {
            self.events.send_replace(after.0);
        }
        result
    }

    /// Runs `f` with the state locked for reading only (it does not count as a change).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock())
    }

    /// Grows with every call that may have changed the state.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    pub fn subscribe_events(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_like_the_official_server() {
        assert_eq!(parse_token("123:abc-DEF_9").unwrap(), 123);
        for bad in ["", "123", "0123:abc", "abc:def", "123:", "-5:abc", "123:a/b", &format!("1:{}", "a".repeat(80))] {
            assert_eq!(parse_token(bad).unwrap_err().code, 401, "{bad}");
        }
    }

    #[test]
    fn a_token_with_a_known_id_but_another_secret_is_refused() {
        let mut state = State::default();
        assert_eq!(state.bot_for_token("77:first").unwrap(), 77);
        assert_eq!(state.bot_for_token("77:second").unwrap_err().description, "Unauthorized");
    }

    #[test]
    fn strict_mode_refuses_unknown_bots() {
        let mut state = State { strict: true, ..State::default() };
        assert_eq!(state.bot_for_token("5:x").unwrap_err().code, 401);
        state.create_bot("5:x", None, None).unwrap();
        assert_eq!(state.bot_for_token("5:x").unwrap(), 5);
    }

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

    #[test]
    fn allowed_updates_filter_what_is_queued() {
        let mut state = State::default();
        let bot = state.bot_for_token("9:t").unwrap();
        assert!(state.push_update(bot, "message_reaction", json!({})).is_none(), "excluded by default");
        state.bot_mut(bot).unwrap().allowed_updates = Some(vec!["callback_query".into()]);
        assert!(state.push_update(bot, "message", json!({})).is_none());
        assert_eq!(state.push_update(bot, "callback_query", json!({})), Some(1));
    }
}
