//! Flood control: one send scheduler per bot that paces sends to Telegram's limits.
//!
//! # Budgets
//!
//! Three GCRA budgets ([`Limit`]), defaults from Telegram's bot FAQ, all in [`Config`]:
//! a private chat (id > 0) about 1 message/s with short bursts, a group or channel (id < 0,
//! or an `@username`) 20 messages/min, and the whole bot 30 messages/s. A request's chat is
//! its `chat_id` parameter; a request without one (answerCallbackQuery, setMyCommands) is
//! *bot-scoped*: only the bot budget and bot pauses apply to it.
//!
//! # Priorities
//!
//! * [`Priority::Interactive`] — replies to a user. Sent at once: only its chat's budget
//!   (burst included) and 429 pauses hold it. It is still counted against the chat and bot
//!   budgets.
//! * [`Priority::Bulk`] — notifications, broadcasts. Paced to the steady rate of both the
//!   chat and the bot budget (never their burst allowance), and behind queued interactive
//!   sends: interactive sends are dispatched first, take a chat's queue ahead of its bulk
//!   sends, and their consumption of the bot budget delays bulk sends.
//!
//! Under interactive load that fills the bot budget on its own, that would keep bulk sends
//! back for as long as the load lasts. So a bulk send queued for longer than
//! [`Config::bulk_max_wait`] is *aged*: it goes before the interactive sends of its chat
//! submitted after it, and is paced by a share of the bot budget of its own (the bot's steady
//! rate, counting only aged sends) instead of the budget interactive sends use up. Still only
//! its chat's steady rate applies, never the burst. A backlog with no interactive load around
//! keeps the bot's rate: aged sends count against the bot budget too. The price: while
//! interactive sends alone exceed the bot budget, aged bulk adds up to the bot's steady rate
//! on top, and Telegram's 429s then pause what they name.
//!
//! # Order and concurrency
//!
//! Different chats are sent to concurrently. Within one chat a send starts only after the
//! previous one resolved, so sends of one priority arrive in submission order (interactive
//! sends overtake queued bulk sends of the same chat). Bot-scoped sends run concurrently.
//! At most [`Config::max_in_flight`] requests are on the wire at once, all lanes together;
//! when one finishes, a ready interactive send takes its place first, then aged bulk, then
//! bulk.
//!
//! # 429 "Too Many Requests"
//!
//! Telegram's 429 on a send is about that chat, so a 429 pauses exactly the scope it names:
//!
//! * a chat-scoped request pauses its chat for `retry_after`;
//! * if [`Config::bot_pause_chats`] different chats get a 429 within
//!   [`Config::bot_pause_window`], the bot-wide limit is what was hit: the whole bot pauses
//!   for `retry_after`;
//! * a 429 on a bot-scoped request pauses the whole bot.
//!
//! `retry_after` is the server's word, so it is bounded by [`Config::max_retry_after`]
//! (1 hour by default): a corrupt or hostile answer can neither pause the bot for decades
//! nor overflow the clock.
//!
//! # Retries
//!
//! A 429 is repeated after the pause and is not counted as a failed attempt, up to
//! [`Config::max_rate_limited_retries`] times. Network errors and 5xx are repeated with
//! exponential backoff and full jitter ([`Config::retry`]); the job keeps its place at the head
//! of its chat's queue meanwhile. Any other error (4xx, undecodable answer) fails the
//! submission at once and is reported through its [`SendHandle`].
//!
//! # Ambiguous failures
//!
//! A failure to connect ([`Error::Connect`]) proves Telegram never saw the request; it is
//! always retried. A timeout or a connection lost after the request was written
//! ([`Error::Network`]), or a 5xx (a gateway's 502 or 504 can follow a message that was
//! posted), does not: Telegram may have carried the request out and only its answer was lost. Telegram has no idempotency keys, so for a call that creates a message
//! (send*, copyMessage(s), forwardMessage(s): [`crate::creates_messages`]) there is a choice,
//! [`Config::ambiguous_sends`]:
//!
//! * [`AmbiguousSends::Retry`] (default) — at-least-once. The send is repeated; the user may
//!   get the message twice, but never loses it. The product promises not to lose messages,
//!   and the engine's outbox retries too.
//! * [`AmbiguousSends::Fail`] — at-most-once. The submission fails with the
//!   error (see [`Error::may_have_been_delivered`]); the message arrived once or
//!   not at all, and the caller decides.
//!
//! Other calls (edits, deletes, answers to callbacks) repeat harmlessly and are always retried.
//! Decision note: `docs/decisions/0019-ambiguous-send-retries.md`.
//!
//! # Backpressure
//!
//! Each priority has a bounded queue: [`Scheduler::submit`] waits for room,
//! [`Scheduler::try_submit`] answers [`Error::QueueFull`]. A
//! submission holds its place until it has resolved.
//!
//! # Metrics
//!
//! Besides its own counters ([`Scheduler::metrics`]), the scheduler records through the
//! `metrics` facade ([`crate::telemetry`]): each retry (`ferrogram_bot_api_retries_total`),
//! each 429 pause by scope (`ferrogram_flood_pauses_total`) and how long each submission waited
//! for its first attempt (`ferrogram_flood_queue_wait_seconds`); the requests themselves are
//! counted by the transport ([`Client`]).

mod bucket;
mod scheduler;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

pub use self::bucket::Limit;
pub use self::scheduler::{Scheduler, SendHandle};
use crate::backoff::Backoff;
use crate::client::Client;
use crate::upload::Request;
use crate::{AmbiguousSends, Error};

/// How urgent a send is; see the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    Interactive,
    Bulk,
}

/// A boxed, sendable future, the return type of [`Transport::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one request once. The scheduler owns pacing and retries; the transport must not
/// retry on its own. [`Client`] is the real one; tests use fakes.
pub trait Transport: Send + Sync + 'static {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Value, Error>>;

    /// The bot it sends for: the `bot` label of the scheduler's metrics ([`crate::telemetry`]).
    fn bot_id(&self) -> u64;
}

impl Transport for Client {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Value, Error>> {
        Box::pin(self.execute_once(request))
    }

    fn bot_id(&self) -> u64 {
        Client::bot_id(self)
    }
}

/// Scheduler settings. The defaults follow Telegram's published limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Budget of each private chat. Default 1/s, burst 3.
    pub private_chat: Limit,
    /// Budget of each group, supergroup or channel. Default 20/min, burst 3.
    pub group_chat: Limit,
    /// Budget of the whole bot. Default 30/s, burst 30.
    pub bot: Limit,
    /// Bulk submissions queued or in flight at most. Default 10 000.
    pub bulk_capacity: usize,
    /// Interactive submissions queued or in flight at most. Default 10 000.
    pub interactive_capacity: usize,
    /// Retries of network errors and 5xx.
    pub retry: Backoff,
    /// 429 answers a submission may get before it fails. Default 10.
    pub max_rate_limited_retries: u32,
    /// The pause after a 429 that names no `retry_after`. Default 1 s.
    pub default_retry_after: Duration,
    /// Distinct chats with a 429 within [`Config::bot_pause_window`] that pause the whole
    /// bot. Default 3.
    pub bot_pause_chats: usize,
    /// Default 1 s.
    pub bot_pause_window: Duration,
    /// The longest pause a 429 can cause: a larger `retry_after` (a broken proxy, a corrupt
    /// answer) is cut to this. Default 1 hour.
    pub max_retry_after: Duration,
    /// Whether a message-creating send that failed without an answer after it may have reached
    /// Telegram is sent again (at-least-once, the default) or fails (at-most-once); see
    /// [Ambiguous failures](self#ambiguous-failures).
    pub ambiguous_sends: AmbiguousSends,
    /// Requests on the wire at most, all lanes together (0 counts as 1). Default 100.
    pub max_in_flight: usize,
    /// A bulk send queued for longer than this is ordered like an interactive one (still
    /// paced to its chat's steady rate), so interactive load cannot starve it. Default 30 s.
    pub bulk_max_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            private_chat: Limit::per_second(1).with_burst(3),
            group_chat: Limit::per_minute(20).with_burst(3),
            bot: Limit::per_second(30).with_burst(30),
            bulk_capacity: 10_000,
            interactive_capacity: 10_000,
            retry: Backoff::default(),
            max_rate_limited_retries: 10,
            default_retry_after: Duration::from_secs(1),
            bot_pause_chats: 3,
            bot_pause_window: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(3600),
            ambiguous_sends: AmbiguousSends::Retry,
            max_in_flight: 100,
            bulk_max_wait: Duration::from_secs(30),
        }
    }
}

/// Live counters of one scheduler.
#[derive(Debug, Default)]
pub struct Metrics {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    rate_limited: AtomicU64,
    queued: AtomicU64,
    in_flight: AtomicU64,
}

/// A copy of [`Metrics`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Requests that succeeded.
    pub sent: u64,
    /// Submissions that failed for good.
    pub failed: u64,
    /// Requests sent again after a 429, a network error or a 5xx.
    pub retried: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Submissions waiting to be sent (new or awaiting a retry).
    pub queued: u64,
    /// Requests on the wire.
    pub in_flight: u64,
}

impl Metrics {
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// Queue depth: submissions not yet on the wire.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            sent: self.sent(),
            failed: self.failed(),
            retried: self.retried(),
            rate_limited: self.rate_limited(),
            queued: self.queued(),
            in_flight: self.in_flight(),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }
}
