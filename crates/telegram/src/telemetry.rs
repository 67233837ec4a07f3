//! The Bot API's metrics: every request on the wire, the retries and the flood scheduler's
//! pauses and queue waits, recorded through the `metrics` facade (decisions 0033 and 0038).
//! The crate installs no recorder: with none installed (a library user, a test) each call finds
//! the no-op recorder and costs a few nanoseconds.
//!
//! Counting here, at the last hop, is what makes the count whole and single: every Bot API call
//! of a bot — the outbox's, getUpdates, setWebhook, setMyCommands, getMe, getFile, a `dice`
//! step's — goes through [`crate::Client`] once per attempt, whoever made it.
//!
//! Labels: `bot` is the bot's id (the number before the token's colon; never the token),
//! `method` a Bot API method name, the others one of a few fixed words. Never a chat id.

use std::time::Duration;

use crate::Error;
use crate::flood::Priority;

/// Each request that reached the wire, by `method` and `outcome`: `ok`; `refused` (Telegram
/// answered an error other than 429: 400, 403, 409, …); `rate_limited` (a 429); `error` (no
/// usable answer: a connection failed or dropped, a timeout, a 5xx, an unreadable answer).
pub const BOT_API_CALLS: &str = "ferrogram_bot_api_calls_total";
/// A call sent again after an attempt failed, by `method` and `reason` (`rate_limited` after
/// a 429, `error` after a network error or a 5xx): by the client, the flood scheduler or the
/// engine's outbox (a held chat's call). Each counted retry is one more request.
pub const BOT_API_RETRIES: &str = "ferrogram_bot_api_retries_total";
/// A 429 pausing a `scope` of the bot's sends: `chat` (the chat the 429 named) or `bot` (a
/// bot-scoped request's 429, or 429s on several chats at once).
pub const FLOOD_PAUSES: &str = "ferrogram_flood_pauses_total";
/// From a send's submission to the flood scheduler to its first attempt going on the wire, in
/// seconds, by `priority` (`interactive`, `bulk`): the pacing, 429 pauses and queue ahead of it.
pub const FLOOD_QUEUE_WAIT: &str = "ferrogram_flood_queue_wait_seconds";

/// The longest `method` label kept as given; the Bot API's longest method name is 35 letters.
const MAX_METHOD_LABEL: usize = 64;

/// `method` as a label: a method name is letters and digits; anything else (only a caller
/// passing garbage could) is `other`, so a label cannot grow the series without bound.
pub fn method_label(method: &str) -> String {
    if !method.is_empty() && method.len() <= MAX_METHOD_LABEL && method.bytes().all(|b| b.is_ascii_alphanumeric()) {
        method.to_owned()
    } else {
        "other".to_owned()
    }
}

/// What [`BOT_API_CALLS`] calls the outcome of one request; `None` when nothing reached the
/// wire (a request refused before it was sent, a closed or full scheduler, a download's writer
/// failing).
pub fn outcome_label<T>(outcome: &Result<T, Error>) -> Option<&'static str> {
    match outcome {
        Ok(_) => Some("ok"),
        Err(Error::InvalidRequest(_) | Error::QueueFull | Error::Closed | Error::Write(_)) => None,
        Err(error) if error.is_rate_limited() => Some("rate_limited"),
        Err(Error::Api { code, .. }) if *code < 500 => Some("refused"),
        Err(_) => Some("error"),
    }
}

/// What [`BOT_API_RETRIES`] calls the failure a retry follows.
pub fn retry_reason(error: &Error) -> &'static str {
    if error.is_rate_limited() { "rate_limited" } else { "error" }
}

/// Counts one request of `method` by the bot `bot_id` and how it ended.
pub fn api_call<T>(bot_id: u64, method: &str, outcome: &Result<T, Error>) {
    if let Some(label) = outcome_label(outcome) {
        metrics::counter!(BOT_API_CALLS, "bot" => bot_id.to_string(), "method" => method_label(method), "outcome" => label)
            .increment(1);
    }
}

/// Counts a call of `method` that is sent again after it failed with `error`.
pub fn api_retry(bot_id: u64, method: &str, error: &Error) {
    let reason = retry_reason(error);
    metrics::counter!(BOT_API_RETRIES, "bot" => bot_id.to_string(), "method" => method_label(method), "reason" => reason)
        .increment(1);
}

/// Counts a 429 pause of the bot's chat (`bot_wide: false`) or of the whole bot.
pub fn flood_pause(bot_id: u64, bot_wide: bool) {
    let scope = if bot_wide { "bot" } else { "chat" };
    metrics::counter!(FLOOD_PAUSES, "bot" => bot_id.to_string(), "scope" => scope).increment(1);
}

/// Records how long a send of `priority` waited in the scheduler before its first attempt.
pub fn flood_queue_wait(bot_id: u64, priority: Priority, waited: Duration) {
    let priority = match priority {
        Priority::Interactive => "interactive",
        Priority::Bulk => "bulk",
    };
    metrics::histogram!(FLOOD_QUEUE_WAIT, "bot" => bot_id.to_string(), "priority" => priority)
        .record(waited.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        Error::Api { code, description: "x".into(), retry_after: None, migrate_to_chat_id: None }
    }

    #[test]
    fn outcomes_are_a_few_words_and_only_for_requests_on_the_wire() {
        assert_eq!(outcome_label::<()>(&Ok(())), Some("ok"));
        assert_eq!(outcome_label::<()>(&Err(api(429))), Some("rate_limited"));
        assert_eq!(outcome_label::<()>(&Err(api(400))), Some("refused"));
        assert_eq!(outcome_label::<()>(&Err(api(403))), Some("refused"));
        assert_eq!(outcome_label::<()>(&Err(api(502))), Some("error"));
        assert_eq!(outcome_label::<()>(&Err(Error::network("reset"))), Some("error"));
        assert_eq!(outcome_label::<()>(&Err(Error::connect("refused"))), Some("error"));
        assert_eq!(outcome_label::<()>(&Err(Error::TooLarge { what: "the answer", limit: 1 })), Some("error"));
        assert_eq!(outcome_label::<()>(&Err(Error::InvalidRequest("bad".into()))), None);
        assert_eq!(outcome_label::<()>(&Err(Error::Closed)), None);
        assert_eq!(outcome_label::<()>(&Err(Error::QueueFull)), None);
        assert_eq!(retry_reason(&api(429)), "rate_limited");
        assert_eq!(retry_reason(&api(503)), "error");
    }

    #[test]
    fn method_labels_are_method_names_or_other() {
        assert_eq!(method_label("sendMessage"), "sendMessage");
        assert_eq!(method_label("getUpdates"), "getUpdates");
        assert_eq!(method_label(""), "other");
        assert_eq!(method_label("send/Message"), "other");
        assert_eq!(method_label("123:secret-token"), "other", "never a token-like string");
        assert_eq!(method_label(&"a".repeat(65)), "other");
    }
}
