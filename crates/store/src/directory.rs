//! The bots' directories of users and chats (`bot_users`, `bot_chats`) and what the store last
//! wrote to them, so the group commit skips a record that did not change (decision 0020).

use std::collections::HashMap;

use serde_json::Value;

/// What `bot_users` keeps of a Telegram `User`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRecord {
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

/// What `bot_chats` keeps of a Telegram `Chat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChatRecord {
    pub kind: String,
    pub title: Option<String>,
    pub username: Option<String>,
}

fn text(object: &Value, key: &str) -> Option<String> {
    object[key].as_str().map(str::to_owned)
}

impl UserRecord {
    /// The user's id and record, if `user` is a `User` object with an id.
    pub fn from_user(user: &Value) -> Option<(i64, Self)> {
        let id = user["id"].as_i64()?;
        Some((
            id,
            Self {
                first_name: text(user, "first_name").unwrap_or_default(),
                last_name: text(user, "last_name"),
                username: text(user, "username"),
                language_code: text(user, "language_code"),
            },
        ))
    }
}

impl ChatRecord {
    /// The chat's id and record, if `chat` is a `Chat` object with an id.
    pub fn from_chat(chat: &Value) -> Option<(i64, Self)> {
        let id = chat["id"].as_i64()?;
        Some((
            id,
            Self {
                kind: text(chat, "type").unwrap_or_default(),
                title: text(chat, "title"),
                username: text(chat, "username"),
            },
        ))
    }
}

/// Records this store wrote, by `(bot, user or chat id)`, with when (Unix seconds). Bounded: at
/// `capacity` entries it starts over empty, which costs one rewrite of each record seen again.
#[derive(Debug)]
pub(crate) struct Written<R> {
    records: HashMap<(i64, i64), (R, i64)>,
    capacity: usize,
}

impl<R: PartialEq> Written<R> {
    pub fn new(capacity: usize) -> Self {
        Self { records: HashMap::new(), capacity }
    }

    /// Whether `record` is what was written for `key` less than `refresh` seconds before `now`.
    pub fn is_current(&self, key: &(i64, i64), record: &R, now: i64, refresh: i64) -> bool {
        self.records.get(key).is_some_and(|(written, at)| written == record && now.saturating_sub(*at) < refresh)
    }

    pub fn remember(&mut self, key: (i64, i64), record: R, now: i64) {
        if self.records.len() >= self.capacity && !self.records.contains_key(&key) {
            self.records.clear();
        }
        self.records.insert(key, (record, now));
    }

    pub fn clear(&mut self) {
        self.records.clear();
    }
}

/// The last write of each key, in key order: of several writes to one key in a batch the later
/// wins, as if they had been written one after the other.
pub(crate) fn last_per_key<K: Ord, V>(rows: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
    rows.into_iter().collect::<std::collections::BTreeMap<K, V>>().into_iter().collect()
}

/// What a store last wrote to the directories.
#[derive(Debug)]
pub(crate) struct Directory {
    pub users: Written<UserRecord>,
    pub chats: Written<ChatRecord>,
    /// The day each (bot, user) was last written active (`bot_active_users`, decision 0047).
    pub active: Written<i64>,
}

/// Records remembered per table (about 100 bytes each) before starting over.
const CAPACITY: usize = 50_000;

impl Default for Directory {
    fn default() -> Self {
        Self { users: Written::new(CAPACITY), chats: Written::new(CAPACITY), active: Written::new(CAPACITY) }
    }
}
