//! The comparison behind `compare`: Ferrogram beside teloxide, aiogram and grammY, in one run
//! against one in-process sandbox. Scenarios (one file each under `scenarios/`):
//!
//! 1. rig limit: the sandbox's own capacity with a null client ([`capacity`](crate::capacity));
//! 2. echo: users in closed loops at several loads; latency from the user's act to the bot's
//!    reply, seen on the sandbox's event stream (`GET /sandbox/events`, one long poll for all);
//! 3. open-loop echo: updates arrive on a fixed schedule at several offered rates, latency from
//!    each update's scheduled time (no coordinated omission);
//! 4. bulk: one notification to many subscribers under the sandbox's flood limits scaled up,
//!    every Bot API call of the bot passing through a counting proxy ([`proxy`](crate::proxy));
//! 5. stateful menu: users walk three scenes with inline buttons and fill in a form whose
//!    answers each framework writes as a row of its database (peers: state in Redis, rows in
//!    PostgreSQL; Ferrogram: both in its store, on PostgreSQL and on SQLite); rows counted after;
//! 6. many bots: N echo bots in one process per framework, in webhook mode; start-up, resident
//!    memory and idle CPU.
//!
//! teloxide runs twice where it can: plain (`Dispatcher` over `Bot`, its capacity) and over
//! `Throttle<Bot>` (its production setup). Every bot is its own process, pointed at the
//! sandbox's URL ([`launch`]); its CPU time and memory come from /proc
//! ([`procfs`](crate::procfs)). [`results`] writes RESULTS.md; [`quick`] is `--quick`'s short
//! run and its comparison with the committed reports.

pub mod framework;
pub mod launch;
pub mod options;
pub mod quick;
pub mod results;
pub mod scenarios;
pub mod users;

pub use framework::Fw;
pub use options::Args;

use std::path::PathBuf;

/// A subscriber's id is `SUB_FIRST + i`: far above the sandbox's own user ids.
pub const SUB_FIRST: i64 = 50_000_000;
/// Telegram's flood limit of a bot: messages a second.
pub const TELEGRAM_BOT_RATE: u32 = 30;

/// What every scenario works with: the options, the sandbox's URL, one HTTP client and the work
/// folder (logs, databases, generated bot files).
#[derive(Clone)]
pub struct Ctx {
    pub args: Args,
    pub url: String,
    pub http: reqwest::Client,
    pub work: PathBuf,
}

/// A line of progress on stderr.
pub fn say(text: &str) {
    eprintln!("compare: {text}");
}
