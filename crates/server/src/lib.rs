//! Ferrogram's HTTP side, served next to the engine: for now the webhook receiver that
//! Telegram POSTs updates to.
//!
//! On the path of an update (docs/architecture.md) it is the socket of the webhook update
//! source: it answers Telegram only after `Engine::webhook_update` stored the update in the
//! receiving stage's inbox.

pub mod webhook;
