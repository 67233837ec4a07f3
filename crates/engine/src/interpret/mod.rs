//! Interpreting: what an update (or a job's schedule) makes the bot do.
//!
//! The [`dispatch`] queues keep one chat's updates in order and run chats in parallel; each
//! update runs the bot file's handler through the [`steps`] interpreter (its `Run`, the control
//! flow and one file per family of steps), under the per-update [`budget`]; [`triggers`] pick
//! the handler, [`guards`] refuse what a user may not do, [`template`] renders the texts. What a
//! run produces is a `Handled` commit, handed to the delivering stage (`crate::deliver`); the
//! interpreter never sends a message itself.

pub mod budget;
pub mod context;
pub mod dispatch;
pub mod geo;
pub mod guards;
pub mod http;
pub mod http_session;
pub mod limits;
pub mod patterns;
pub mod profanity;
pub mod steps;
pub mod template;
pub mod triggers;
