//! The engine's trace spans (decision 0039): one `update` span per update, from the dispatcher
//! taking it to its replies delivered, with children for the `handler`, each `http` and `llm`
//! step, the `commit` and each Bot API call (`telegram`). They are ordinary `tracing` spans of
//! target `ferrogram::trace`; the binary exports them over OTLP when an endpoint is configured
//! and calls [`enable`]. Until then every function here returns [`Span::none`]: no span is
//! created, nothing is formatted, and a log line carries no span context (today's cost).
//!
//! **Fields.** The OTel names: `ferrogram.bot_id`, `ferrogram.chat_id`, `ferrogram.update_id`;
//! `http.request.method`, `server.address` (a host name, never a URL: its path and query may
//! hold keys), `http.response.status_code`; `telegram.method` (the method name only: a Bot API
//! URL holds the bot's token), `ferrogram.outcome`, `ferrogram.retries`. A span whose work
//! failed records `error` (a sentence without secrets), which the exporter turns into the
//! span's error status. The root `update` span carries `trace_id`, the trace's id in hex, so
//! that every log line written inside it, in either log format, names its trace.
//!
//! **Parents.** Each span is a child of the span current where it is made; the handler runs in
//! a task of its own and the outbox's paced calls in others, so those futures are instrumented
//! with their span. The `update` span closes when its last handle is dropped: after the outbox
//! delivered (or gave up on) its calls. A call held to be retried later is sent by the held
//! chat's task outside the update's trace. Outside an update (a scheduled job, the outbox
//! redelivered at start) no span is made.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Span;

/// The target of every span here; the exporter keeps spans of targets starting `ferrogram`.
pub const TARGET: &str = "ferrogram::trace";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the spans on for the process: called by the host that installed an exporter.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether a child span is made here: traces are on and an update's span is current. A job's
/// steps and calls, and the calls redelivered at start, belong to no update: no span.
fn in_update() -> bool {
    enabled() && !Span::current().is_none()
}

/// A new random trace id: 32 lowercase hex digits, never all zero (W3C trace context).
pub fn new_trace_id() -> String {
    format!("{:032x}", fastrand::u128(1..))
}

/// The root span of one update of `bot_id` in `chat_id`; a new trace.
pub fn update(bot_id: u64, update_id: i64, chat_id: i64) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        parent: None,
        "update",
        trace_id = %new_trace_id(),
        ferrogram.bot_id = bot_id,
        ferrogram.update_id = update_id,
        ferrogram.chat_id = chat_id,
        ferrogram.outcome = tracing::field::Empty,
        error = tracing::field::Empty,
    )
}

/// The handler's run of the update (the interpreter, under its budgets).
pub fn handler(bot_id: u64, chat_id: i64) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "handler",
        ferrogram.bot_id = bot_id,
        ferrogram.chat_id = chat_id,
        error = tracing::field::Empty,
    )
}

/// Writing the update's effects and "handled" mark (the wait for the group commit included).
pub fn commit(bot_id: u64) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!(target: TARGET, "commit", ferrogram.bot_id = bot_id, error = tracing::field::Empty)
}

/// One Bot API call, `method` only (never its URL: it holds the token). The flood scheduler
/// records `ferrogram.retries` on it; the caller records `ferrogram.outcome` with [`outcome`].
pub fn telegram(bot_id: u64, chat_id: i64, method: &str) -> Span {
    if !in_update() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "telegram",
        telegram.method = method,
        ferrogram.bot_id = bot_id,
        ferrogram.chat_id = chat_id,
        ferrogram.outcome = tracing::field::Empty,
        ferrogram.retries = tracing::field::Empty,
        error = tracing::field::Empty,
    )
}

/// An `http` or `llm` step's request (`name`), to `host` (a host name only).
pub fn step(name: &'static str, bot_id: u64, method: &str, host: &str) -> Span {
    if !in_update() {
        return Span::none();
    }
    match name {
        "llm" => tracing::info_span!(
            target: TARGET,
            "llm",
            ferrogram.bot_id = bot_id,
            http.request.method = method,
            server.address = host,
            http.response.status_code = tracing::field::Empty,
            error = tracing::field::Empty,
        ),
        _ => tracing::info_span!(
            target: TARGET,
            "http",
            ferrogram.bot_id = bot_id,
            http.request.method = method,
            server.address = host,
            http.response.status_code = tracing::field::Empty,
            error = tracing::field::Empty,
        ),
    }
}

/// Records how `span`'s work ended: `outcome`, and `error` when it failed.
pub fn outcome(span: &Span, outcome: &str, error: Option<&dyn std::fmt::Display>) {
    span.record("ferrogram.outcome", outcome);
    if let Some(error) = error {
        span.record("error", tracing::field::display(error));
    }
}

/// Records `error` on `span` (its work failed).
pub fn failed(span: &Span, error: &dyn std::fmt::Display) {
    span.record("error", tracing::field::display(error));
}

/// The host of `url` for a span: its host name, or nothing when it does not parse (never the
/// URL itself).
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url).ok().and_then(|url| url.host_str().map(str::to_owned)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_32_hex_digits_and_hosts_are_only_hosts() {
        let id = new_trace_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
        assert_ne!(id, new_trace_id());
        assert_eq!(host_of("https://api.example.com/v1?key=secret"), "api.example.com");
        assert_eq!(host_of("not a url ?key=secret"), "");
    }
}
