//! Runs bots described by the schema: the path of an update itself (docs/architecture.md).
//!
//! One folder per stage, each calling only the stages after it:
//! - `receive/`: the two update sources (long polling, webhooks)
//!   and the bot's inbox: an update is stored before it is acknowledged, deduplicated, replayed
//!   after a crash, pruned after a day, and handed on as an `Event` (`update.rs`).
//! - `interpret/`: per-chat queues with chats in parallel (`dispatch.rs`), the interpreter of the
//!   bot file's steps under a step, fuel and time budget per update (`steps/`, the handler
//!   yields its thread regularly so none can stall the others), triggers, guards and templates.
//!   What a run produces is a commit; it sends nothing itself.
//! - `deliver/`: the group commit of a handler's effects with the update's "handled" mark, then
//!   the outbox that delivers each chat's calls in order through the bot's flood scheduler.
//!
//! [`Engine`] (`host/`) hosts one or many bots, added, reloaded and stopped at run time, wires
//! each bot's stages together and drops an idle webhook bot's stages until its next update
//! ([`EngineConfig::idle_after`]); scheduled jobs (`jobs.rs`) start runs by the clock. The
//! stores the stages use are the contracts of `ferrogram-core`.
//!
//! What a user sends is data, never the bot's: a pressed button counts only if the pressed
//! message has it, a scene's `roles` hold on every way in (`interpret/guards.rs`, decision
//! 0023), and values inserted into a message text with a parse mode are escaped for it
//! (`interpret/template/`).

mod bot_env;
mod bot_secrets;
mod caps;
mod clock;
mod commands;
mod deliver;
mod error;
mod host;
mod interpret;
mod jobs;
mod receive;
pub mod telemetry;
pub mod traces;
mod update;
pub mod web_app;

pub use bot_env::{BotEnv, FERROGRAM_PREFIX};
pub use bot_secrets::BotSecrets;
pub use caps::{DEFAULT_RECORD, DEFAULT_TEMPLATE_OUTPUT, DEFAULT_VARIABLE, SizeCaps};
pub use clock::Clock;
pub use deliver::bulk::BulkError;
pub use deliver::commit::DEFAULT_COMMIT_BATCH;
pub use error::EngineError;
pub use ferrogram_core::{
    BoxFuture, ChatState, Commit, DeadLetter, FormProgress, Frame, MemoryStore, Outgoing, PendingSend, Received,
    Resume, Scope, StateStore, StepsAt, StoreError, StoredDeadLetter, StoredUpdate, Tally, TallyOutcome,
};
pub use ferrogram_core::{
    CollectionSpec, CollectionStore, Filter, Hit, MemoryCollections, Op, PSEUDO_FIELDS, Query, Record, apply_query,
    compare_records, compare_values, field_value, filter_matches, record_matches, record_terms, value_kind, value_text,
};
pub use host::{BotHandle, Engine, EngineConfig, Receive};
pub use interpret::budget::{DEFAULT_UPDATE_FUEL, DEFAULT_UPDATE_STEPS, Exhausted};
pub use interpret::http::{HttpConfig, MAX_REDIRECTS};
pub use interpret::steps::records::signature;
pub use interpret::template::text::TextTemplate;
pub use receive::prune::INBOX_KEEP;
pub use receive::webhook::WebhookError;
