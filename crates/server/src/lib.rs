//! Ferrogram's HTTP side: the one listener `serve` (and `run --webhook-url`) binds, and the
//! router its routes are composed into. For now it carries Telegram's webhooks
//! ([`webhook`], `POST /telegram/{bot_id}`); the REST API, the dashboard and the metrics join
//! it as route modules merged in [`router`].
//!
//! On the path of an update (docs/architecture.md) it is the socket of the webhook update
//! source: it answers Telegram only after `Engine::webhook_update` stored the update in the
//! receiving stage's inbox, the same stage long polling feeds.

mod listen;
pub mod webhook;

use std::sync::Arc;

use ferrogram_engine::Engine;

pub use listen::{Listening, listen};

/// Every route of the listener, on one engine: each module gives its routes (with their own
/// limits, e.g. the webhook's body size) and they are merged here.
pub fn router(engine: Arc<Engine>) -> axum::Router {
    axum::Router::new().merge(webhook::routes()).with_state(engine)
}
