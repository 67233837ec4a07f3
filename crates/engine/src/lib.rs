//! Runs bots described by the schema.
//!
//! [`Engine`] hosts one or many bots. Per bot: a long-polling receiver, a dispatcher that keeps
//! one chat's updates in order and runs different chats in parallel, a step, fuel and time
//! budget per update (a handler yields its thread regularly, so none can stall the others),
//! an error handler that answers the user when a handler fails, and one flood scheduler for
//! every send. What a bot does is interpreted from its [`ferrogram_schema::BotFile`].
//!
//! What a user sends is data, never the bot's: a pressed button counts only if the pressed
//! message has it, a scene's `roles` hold on every way in (the `guards` module, decision 0023),
//! and values inserted into a message text with a parse mode are escaped for it (`template`).

mod bot_env;
mod caps;
mod clock;
mod commands;
mod deliver;
mod error;
mod host;
mod interpret;
mod jobs;
mod receive;
mod update;

pub use bot_env::{BotEnv, FERROGRAM_PREFIX};
pub use caps::{DEFAULT_RECORD, DEFAULT_TEMPLATE_OUTPUT, DEFAULT_VARIABLE, SizeCaps};
pub use clock::Clock;
pub use deliver::commit::DEFAULT_COMMIT_BATCH;
pub use error::EngineError;
pub use ferrogram_core::{
    BoxFuture, ChatState, Commit, DeadLetter, FormProgress, Frame, MemoryStore, Outgoing, PendingSend, Received,
    Resume, Scope, StateStore, StepsAt, StoreError, StoredDeadLetter, StoredUpdate,
};
pub use ferrogram_core::{
    CollectionSpec, CollectionStore, Filter, Hit, MemoryCollections, Op, PSEUDO_FIELDS, Query, Record, apply_query,
    compare_records, compare_values, field_value, filter_matches, record_matches, record_terms, value_kind, value_text,
};
pub use host::{BotHandle, Engine, EngineConfig, Receive};
pub use interpret::budget::{DEFAULT_UPDATE_FUEL, DEFAULT_UPDATE_STEPS, Exhausted};
pub use interpret::http::{HttpConfig, MAX_REDIRECTS};
pub use receive::webhook::WebhookError;
