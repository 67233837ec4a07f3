//! Polls a bot sent: registered for votes, and closed once their `close_date` has passed.
//! Nothing runs on a timer: due polls are closed when the world is next used for a Bot API
//! call or a vote, which is before anyone can see them open.

use super::State;
use super::objects::now;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

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

impl State {
    /// Registers a poll a bot sent so users can vote in it, and its `close_date` if it has one.
    pub fn add_poll(&mut self, record: PollRec) {
        let id = record.poll["id"].as_str().unwrap_or_default().to_string();
        if let Some(close_date) = record.poll["close_date"].as_i64().filter(|_| record.poll["is_closed"] != true) {
            self.poll_deadlines.insert((close_date, id.clone()));
        }
        self.polls.insert(id, record);
    }

    /// Closes the open polls whose `close_date` has passed; true if there were any.
    pub fn close_due_polls(&mut self) -> bool {
        let now = now();
        let mut closed = false;
        while self.poll_deadlines.first().is_some_and(|(close_date, _)| *close_date <= now) {
            if let Some((_, id)) = self.poll_deadlines.pop_first() {
                closed |= self.close_poll(&id).is_some();
            }
        }
        closed
    }

    /// Closes an open poll: in its record and its message, with a `poll` update for the bot
    /// that sent it (bots get updates of the polls they sent). None if it is unknown or closed.
    fn close_poll(&mut self, poll_id: &str) -> Option<Value> {
        let record = self.polls.get_mut(poll_id).filter(|r| r.poll["is_closed"] != true)?;
        record.poll["is_closed"] = json!(true);
        let (bot_id, chat_id, message_id, poll) =
            (record.bot_id, record.chat_id, record.message_id, record.poll.clone());
        let log = match self.groups.get_mut(&chat_id) {
            Some(group) => Some(&mut group.log),
            None => self.bots.get_mut(&bot_id).and_then(|bot| bot.private.get_mut(&chat_id)),
        };
        if let Some(stored) = log.and_then(|log| log.messages.get_mut(&message_id)) {
            stored.message["poll"] = poll.clone();
        }
        self.push_update(bot_id, "poll", poll.clone());
        Some(poll)
    }
}
