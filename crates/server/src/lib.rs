//! Ferrogram's HTTP side: the one listener `serve` (and `run --webhook-url`) binds, and the
//! router its routes are composed into. It carries Telegram's webhooks ([`webhook`],
//! `POST /telegram/{bot_id}`), the bots' bundled Web Apps ([`web_app`], `/webapp/{bot_id}/shop`)
//! and, under `serve`, the REST API ([`api`], `/api/v1…`,
//! authenticated with API tokens, documented at `/api/openapi.json` and `/api/docs`), its
//! health ([`health`]: `/healthz`, and `/readyz` under `serve`), its metrics ([`metrics`]:
//! `/metrics`, under `serve`) and the dashboard ([`dashboard`]: `/`, `/sign-in`,
//! `/setup/{token}`, `/account/…`, a workspace's `/w/{workspace}/…`, under `serve`), each a
//! route module merged in [`router_of`]; with the API, the worker that sends the outgoing event
//! webhooks ([`event_webhooks`]) runs as long as the listener, and under `serve` the runner of
//! the bots' broadcasts ([`broadcasts`]).
//!
//! On the path of an update (docs/architecture.md) it is the socket of the webhook update
//! source: it answers Telegram only after `Engine::webhook_update` stored the update in the
//! receiving stage's inbox, the same stage long polling feeds.

pub mod api;
pub mod bots;
pub mod broadcasts;
pub mod dashboard;
pub mod event_webhooks;
pub mod health;
mod listen;
pub mod metrics;
pub mod web_app;
pub mod webhook;

use std::sync::Arc;

use ferrogram_engine::Engine;

pub use bots::{Api, BotControl, TokenOwner};
pub use listen::{Listening, listen, listen_routes, listen_with};
pub use metrics_exporter_prometheus::PrometheusHandle;

/// Every route of the listener, on one engine: each module gives its routes (with their own
/// limits, e.g. the webhook's body size) and they are merged here. Without an [`Api`] (as
/// under `run --webhook-url`), the webhooks only.
pub fn router(engine: Arc<Engine>) -> axum::Router {
    router_with(engine, None)
}

/// What the listener serves besides the webhooks and `/healthz`: the bots' control API (and
/// `/readyz`) when `api` is given, `/metrics` when `metrics` is (both under `serve`).
#[derive(Clone, Default)]
pub struct Routes {
    pub api: Option<Api>,
    pub metrics: Option<PrometheusHandle>,
    /// The dashboard's pages (sign-in, setup, sessions, home; a workspace's pages when it was
    /// given the API with `Dashboard::with_api`).
    pub dashboard: Option<dashboard::Dashboard>,
}

/// [`router`], with the bots' control API when `api` is given (`serve`).
pub fn router_with(engine: Arc<Engine>, api: Option<Api>) -> axum::Router {
    router_of(engine, Routes { api, ..Routes::default() })
}

/// [`router`], with the optional [`Routes`].
pub fn router_of(engine: Arc<Engine>, routes: Routes) -> axum::Router {
    let mut router = axum::Router::new()
        .merge(webhook::routes().with_state(Arc::clone(&engine)))
        .merge(web_app::routes().with_state(engine))
        .merge(health::liveness());
    if let Some(handle) = routes.metrics {
        router = router.merge(metrics::routes(handle, routes.api.clone()));
    }
    if let Some(dashboard) = routes.dashboard {
        router = router.merge(dashboard::routes(dashboard));
    }
    if let Some(api) = routes.api {
        router = router.merge(health::readiness(api.clone())).merge(api::routes(api));
    }
    router
}
