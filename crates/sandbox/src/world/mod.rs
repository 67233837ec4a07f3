//! The emulated Telegram: bots, users, chats, messages, files and the update queues.
//! One lock guards it all; every operation is short and never awaits while holding it.
//!
//! This file holds the [`State`] behind the lock and the [`World`] that guards it; the other
//! files each add one part of the state and its operations: `bots` (tokens, settings, update
//! queues, live state), `users`, `groups`, `targets` (which chat an action lands in), `chat_log`
//! (messages), `user_actions`, `files`, `polls`, `queries` and `events` (the stream the control
//! API reads); `objects` builds the Bot API objects.

mod bots;
mod chat_log;
mod events;
mod files;
mod groups;
pub mod objects;
mod polls;
mod queries;
mod targets;
mod user_actions;
mod users;

pub use bots::{Bot, BotLiveState, Webhook, parse_token};
pub use chat_log::{ChatLog, Sender, StoredMessage};
pub use events::{EVENT_KINDS, WorldEvent};
pub use files::StoredFile;
pub use groups::Group;
pub use polls::PollRec;
pub use queries::default_expiry as default_query_expiry;
pub use queries::{CallbackRec, InlineQueryRec};
pub use targets::Target;
pub use users::UserRec;

use crate::flood_limits::Limits;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

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
    pub events: VecDeque<WorldEvent>,
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

impl State {
    /// Forgets the world but keeps the settings and the event sequence, so readers holding an
    /// `after` see the new events; the new epoch tells them the old ones are gone.
    pub fn reset(&mut self) {
        let (limits, strict, last_seq, query_expiry) =
            (self.limits.clone(), self.strict, self.last_seq, self.query_expiry);
        *self = State { limits, strict, last_seq, query_expiry, ..State::default() };
    }
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
