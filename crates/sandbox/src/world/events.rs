//! The sandbox's event stream: what bots did, and what users did to them, in order, for the
//! control API's readers (`GET /sandbox/events`).

use super::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Events kept for the control API's readers; older ones are dropped first.
const MAX_EVENTS: usize = 200_000;

/// The kinds of [`WorldEvent`]s (docs/sandbox.md lists what each carries); the events API
/// refuses a filter naming another.
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
pub struct WorldEvent {
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

impl State {
    /// Records what a bot did, for the control API's readers.
    pub fn record(
        &mut self,
        bot_id: i64,
        chat_id: Option<i64>,
        kind: &str,
        message: Option<Value>,
        detail: Option<Value>,
    ) -> WorldEvent {
        debug_assert!(EVENT_KINDS.contains(&kind), "event kind {kind} is missing from EVENT_KINDS");
        self.last_seq += 1;
        let message_id = message
            .as_ref()
            .and_then(|m| m["message_id"].as_i64())
            .or_else(|| detail.as_ref().and_then(|d| d["message_id"].as_i64()));
        let event =
            WorldEvent { seq: self.last_seq, bot_id, chat_id, kind: kind.to_string(), message, message_id, detail };
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event.clone());
        event
    }

    /// The events after `after`, of one bot, chat or some kinds when those are given.
    pub fn events_after(
        &self,
        after: u64,
        bot_id: Option<i64>,
        chat_id: Option<i64>,
        kinds: Option<&[String]>,
    ) -> Vec<WorldEvent> {
        let start = self.events.partition_point(|e| e.seq <= after);
        self.events
            .range(start..)
            .filter(|e| bot_id.is_none_or(|id| e.bot_id == id) && chat_id.is_none_or(|id| e.chat_id == Some(id)))
            .filter(|e| kinds.is_none_or(|kinds| kinds.contains(&e.kind)))
            .cloned()
            .collect()
    }
}
