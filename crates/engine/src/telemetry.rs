//! The engine's metrics: what each stage counts, recorded through the `metrics` facade
//! (decisions 0033, 0038); the names are public, for the host that renders them. The engine installs no recorder: the binary does (`serve`), and renders
//! them at `/metrics` (`ferrogram_server::metrics`). With no recorder installed, each call
//! finds the no-op recorder and costs a few nanoseconds (no label is kept, nothing is stored).
//!
//! Every metric of a bot is labelled `bot` with the bot's Telegram id; never a token or a chat
//! id (a label value is a new series each, and chats are unbounded). A host label is a host
//! name (never a URL: its path and query may hold personal data or keys), and at most
//! [`MAX_HOST_LABELS`] of them are kept. The Bot API's own metrics (every request, retries, the
//! flood scheduler's pauses and waits) are recorded by `ferrogram_telegram::telemetry`.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;

/// The Bot API's metrics, recorded by the client and the flood scheduler.
pub use ferrogram_telegram::telemetry::{BOT_API_CALLS, BOT_API_RETRIES, FLOOD_PAUSES, FLOOD_QUEUE_WAIT};

/// Updates stored as new in a bot's inbox (a redelivery is not counted again).
pub const UPDATES_RECEIVED: &str = "ferrogram_updates_received_total";
/// Updates whose handling was committed, by `outcome`: `ok`, `failed` (a step failed: the
/// error reply was sent), `set_aside` (a dead letter: a panic, a spent budget, too many
/// attempts), `blocked` (its user is blocked: no handler ran, decision 0047).
pub const UPDATES_HANDLED: &str = "ferrogram_updates_handled_total";
/// From the dispatcher taking an update to its commit written, in seconds.
pub const HANDLER_DURATION: &str = "ferrogram_handler_duration_seconds";
/// The bot's outbox calls being sent now or held to be retried (a gauge, while the bot runs).
pub const OUTBOX_PENDING: &str = "ferrogram_outbox_pending";
/// The bot's updates stored and handed to the dispatcher but not yet handled: waiting behind
/// their chat's earlier updates or for a free slot, or being handled (a gauge).
pub const INBOX_PENDING: &str = "ferrogram_inbox_pending";
/// Runs of a scheduled job, by `job` (its name in the bot file) and `outcome`: `ok` (its
/// effects committed) or `failed` (a step failed, a panic, a spent budget, or the commit).
pub const JOB_RUNS: &str = "ferrogram_job_runs_total";
/// Requests of the bots' `http`, `feed`, `llm` and `emit` steps, each attempt, by `host` and
/// `outcome`: `ok` (an answer below 400), `client_error` (4xx but 429), `rate_limited` (429),
/// `server_error` (5xx), `error` (no answer: connection, timeout), `refused` (the address rule
/// refused the target) or `circuit_open` (not sent: the host's circuit is open).
pub const HTTP_REQUESTS: &str = "ferrogram_http_requests_total";
/// 1 while a host's circuit breaker is open or half-open (calls to it fail at once, or one
/// probe is let through), 0 once a call to it succeeded again; by `host`, for all bots (the
/// engine keeps one breaker per host).
pub const HTTP_CIRCUIT_OPEN: &str = "ferrogram_http_circuit_open";
/// Tokens of the bots' `llm` steps, by `kind`: `prompt` or `completion`, as the model server
/// reported them (estimated at four characters a token when it reports none, as the step's
/// daily limits count them).
pub const LLM_TOKENS: &str = "ferrogram_llm_tokens_total";

/// The host names kept as label values; calls to further hosts are labelled `other`. Hosts are
/// written in bot files, but a URL can be a template, and each value is a series for good.
pub const MAX_HOST_LABELS: usize = 1000;

/// How an update's handling ended, as [`UPDATES_HANDLED`] labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handling {
    Ok,
    Failed,
    SetAside,
    Blocked,
}

impl Handling {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Handling::Ok => "ok",
            Handling::Failed => "failed",
            Handling::SetAside => "set_aside",
            Handling::Blocked => "blocked",
        }
    }
}

/// A new update stored in the inbox.
pub(crate) fn update_received(bot_id: u64) {
    metrics::counter!(UPDATES_RECEIVED, "bot" => bot_id.to_string()).increment(1);
}

/// An update's handling committed, `took` after the dispatcher took it.
pub(crate) fn update_handled(bot_id: u64, outcome: Handling, took: Duration) {
    let bot = bot_id.to_string();
    metrics::counter!(UPDATES_HANDLED, "bot" => bot.clone(), "outcome" => outcome.label()).increment(1);
    metrics::histogram!(HANDLER_DURATION, "bot" => bot).record(took.as_secs_f64());
}

/// How many of the bot's outbox calls are being sent or held now.
pub(crate) fn outbox_pending(bot_id: u64, calls: usize) {
    metrics::gauge!(OUTBOX_PENDING, "bot" => bot_id.to_string()).set(calls as f64);
}

/// How many of the bot's updates are dispatched and not yet handled.
pub(crate) fn inbox_pending(bot_id: u64, updates: usize) {
    metrics::gauge!(INBOX_PENDING, "bot" => bot_id.to_string()).set(updates as f64);
}

/// A run of the bot's job `job` ended, its effects committed (`ok`) or not.
pub(crate) fn job_run(bot_id: u64, job: &str, ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics::counter!(JOB_RUNS, "bot" => bot_id.to_string(), "job" => job.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// One request of a bot's step to `host` (a host name, no port) and how it ended (an
/// [`HTTP_REQUESTS`] outcome).
pub(crate) fn http_request(bot_id: u64, host: &str, outcome: &'static str) {
    metrics::counter!(HTTP_REQUESTS, "bot" => bot_id.to_string(), "host" => host_label(host), "outcome" => outcome)
        .increment(1);
}

/// The circuit breaker of `host` opened (`true`) or closed again.
pub(crate) fn http_circuit(host: &str, open: bool) {
    metrics::gauge!(HTTP_CIRCUIT_OPEN, "host" => host_label(host)).set(if open { 1.0 } else { 0.0 });
}

/// Tokens an `llm` step used.
pub(crate) fn llm_tokens(bot_id: u64, prompt: u64, completion: u64) {
    let bot = bot_id.to_string();
    metrics::counter!(LLM_TOKENS, "bot" => bot.clone(), "kind" => "prompt").increment(prompt);
    metrics::counter!(LLM_TOKENS, "bot" => bot, "kind" => "completion").increment(completion);
}

/// `host` as a label value: itself while fewer than [`MAX_HOST_LABELS`] hosts were labelled in
/// this process (or it is one of them), else `other`. An empty host is `other` too.
pub(crate) fn host_label(host: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    if host.is_empty() {
        return "other".to_owned();
    }
    let mut seen = SEEN.get_or_init(Mutex::default).lock();
    if seen.contains(host) {
        return host.to_owned();
    }
    if seen.len() >= MAX_HOST_LABELS {
        return "other".to_owned();
    }
    seen.insert(host.to_owned());
    host.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_stop_growing_at_the_cap() {
        // The set is the process's: other tests may have labelled hosts already.
        assert_eq!(host_label(""), "other");
        let first = host_label("api.example.com");
        assert_eq!(first, "api.example.com");
        for i in 0..MAX_HOST_LABELS {
            host_label(&format!("host{i}.example.net"));
        }
        assert_eq!(host_label("one-too-many.example.org"), "other");
        assert_eq!(host_label("api.example.com"), "api.example.com", "a host labelled before keeps its label");
    }
}
