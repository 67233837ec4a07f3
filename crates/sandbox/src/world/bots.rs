//! Bots: their tokens (checked as the official server does, created on first use unless the
//! sandbox is strict), their saved settings and update queue, and what each is doing right now
//! (its long poll, webhook deliverer, flood buckets and injected faults), which is not saved.

use super::{ChatLog, State};
use crate::error::{ApiError, ApiResult};
use crate::faults::Faults;
use crate::flood_limits::FloodState;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use tokio::sync::watch;

/// Updates kept per bot that nobody fetched (Telegram keeps them for 24 hours).
const MAX_PENDING_UPDATES: usize = 100_000;

/// The update kinds a bot gets when it never named its `allowed_updates`.
const DEFAULT_EXCLUDED_UPDATES: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

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
pub struct BotLiveState {
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

impl Default for BotLiveState {
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

impl BotLiveState {
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
    pub runtime: BotLiveState,
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
            runtime: BotLiveState::default(),
        }
    }

    pub fn wants(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(allowed) if !allowed.is_empty() => allowed.iter().any(|a| a == kind),
            _ => !DEFAULT_EXCLUDED_UPDATES.contains(&kind),
        }
    }
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

    /// Revokes the bot's token as BotFather's /revoke does: it gets a new one, and every call
    /// with the old one is refused with 401 from now on (a long poll under way is woken).
    pub fn revoke_token(&mut self, id: i64) -> ApiResult<&Bot> {
        let bot = self.bots.get_mut(&id).ok_or_else(|| ApiError::bad_request(format!("bot {id} not found")))?;
        let generation = bot.token.rsplit_once("-r").and_then(|(_, n)| n.parse::<u32>().ok()).unwrap_or(0) + 1;
        bot.token = format!("{id}:revoked-r{generation}");
        bot.runtime.wake();
        Ok(bot)
    }

    pub fn bot(&self, id: i64) -> ApiResult<&Bot> {
        self.bots.get(&id).ok_or_else(|| ApiError::bad_request(format!("bot {id} not found")))
    }

    pub fn bot_mut(&mut self, id: i64) -> ApiResult<&mut Bot> {
        self.bots.get_mut(&id).ok_or_else(|| ApiError::bad_request(format!("bot {id} not found")))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn a_revoked_token_is_refused_and_the_new_one_works() {
        let mut state = State::default();
        state.create_bot("42:old", None, None).unwrap();
        let new = state.revoke_token(42).unwrap().token.clone();
        assert_eq!(state.bot_for_token("42:old").unwrap_err().code, 401);
        assert_eq!(state.bot_for_token(&new).unwrap(), 42);
        assert_ne!(state.revoke_token(42).unwrap().token, new);
        assert_eq!(state.revoke_token(7).unwrap_err().code, 400);
    }

    #[test]
    fn strict_mode_refuses_unknown_bots() {
        let mut state = State { strict: true, ..State::default() };
        assert_eq!(state.bot_for_token("5:x").unwrap_err().code, 401);
        state.create_bot("5:x", None, None).unwrap();
        assert_eq!(state.bot_for_token("5:x").unwrap(), 5);
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
