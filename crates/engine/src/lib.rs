//! Runs bots described by the schema.
//!
//! [`Engine`] hosts one or many bots. Per bot: a long-polling receiver, a dispatcher that keeps
//! one chat's updates in order and runs different chats in parallel, a time budget per update,
//! an error handler that answers the user when a handler fails, and one flood scheduler for
//! every send. What a bot does is interpreted from its [`schema::BotFile`].

mod collections;
mod dispatch;
mod error;
mod event;
mod forms;
mod http;
mod i18n;
mod jobs;
mod limits;
mod runtime;
mod state;
mod steps;
mod template;
mod triggers;

pub use collections::{CollectionSpec, CollectionStore, Filter, Hit, Op, Query, Record};
pub use error::EngineError;
pub use http::{HttpConfig, MAX_REDIRECTS, forbidden as forbidden_address};
pub use runtime::{BotHandle, Engine, EngineConfig};
pub use state::{BoxFuture, ChatState, FormProgress, MemoryStore, Scope, StateStore, StoreError, StoredUpdate};
