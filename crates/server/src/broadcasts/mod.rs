//! Broadcasts (decision 0048, docs/api.md): a message a workspace sends to a bot's users, kept
//! in the store with each recipient's progress. [`message`] is what is sent (checked, and the
//! Bot API call it becomes), [`personal`] its text for each recipient (a template rendered with
//! their variables), [`audience`] whom to (resolved when it starts), [`runner`] the task
//! that sends them through the bots' flood schedulers as bulk; the REST resource is
//! `crate::api::broadcasts`.

pub mod audience;
pub mod message;
pub mod personal;
pub mod runner;

pub use runner::{Runner, RunnerConfig};
