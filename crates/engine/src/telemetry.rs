//! The engine's metrics: what each stage counts, recorded through the `metrics` facade
//! (decision 0033). The engine installs no recorder: the binary does (`serve`), and renders
//! them at `/metrics` (`ferrogram_server::metrics`). With no recorder installed, each call
//! finds the no-op recorder and costs a few nanoseconds (no label is kept, nothing is stored).
//!
//! Every metric is labelled `bot` with the bot's Telegram id; never a token or a chat id (a
//! label value is a new series each, and chats are unbounded).

use std::time::Duration;

/// Updates stored as new in a bot's inbox (a redelivery is not counted again).
pub const UPDATES_RECEIVED: &str = "ferrogram_updates_received_total";
/// Updates whose handling was committed, by `outcome`: `ok`, `failed` (a step failed: the
/// error reply was sent), `set_aside` (a dead letter: a panic, a spent budget, too many
/// attempts).
pub const UPDATES_HANDLED: &str = "ferrogram_updates_handled_total";
/// From the dispatcher taking an update to its commit written, in seconds.
pub const HANDLER_DURATION: &str = "ferrogram_handler_duration_seconds";
/// Bot API calls of the outbox, by `method` and `outcome`: `ok`, `refused`, `retried` (held
/// to be tried again), `error` (failed after it may have reached Telegram, not repeated).
pub const BOT_API_CALLS: &str = "ferrogram_bot_api_calls_total";

/// The bot's outbox calls being sent now or held to be retried (a gauge, while the bot runs).
pub const OUTBOX_PENDING: &str = "ferrogram_outbox_pending";

/// How an update's handling ended, as [`UPDATES_HANDLED`] labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    Ok,
    Failed,
    SetAside,
}

impl Handling {
    pub fn label(self) -> &'static str {
        match self {
            Handling::Ok => "ok",
            Handling::Failed => "failed",
            Handling::SetAside => "set_aside",
        }
    }
}

/// A new update stored in the inbox.
pub fn update_received(bot_id: u64) {
    metrics::counter!(UPDATES_RECEIVED, "bot" => bot_id.to_string()).increment(1);
}

/// An update's handling committed, `took` after the dispatcher took it.
pub fn update_handled(bot_id: u64, outcome: Handling, took: Duration) {
    let bot = bot_id.to_string();
    metrics::counter!(UPDATES_HANDLED, "bot" => bot.clone(), "outcome" => outcome.label()).increment(1);
    metrics::histogram!(HANDLER_DURATION, "bot" => bot).record(took.as_secs_f64());
}

/// One outcome of a Bot API call of the outbox (`ok`, `refused`, `retried` or `error`).
pub fn api_call(bot_id: u64, method: &str, outcome: &'static str) {
    metrics::counter!(BOT_API_CALLS, "bot" => bot_id.to_string(), "method" => method.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// How many of the bot's outbox calls are being sent or held now.
pub fn outbox_pending(bot_id: u64, calls: usize) {
    metrics::gauge!(OUTBOX_PENDING, "bot" => bot_id.to_string()).set(calls as f64);
}
