//! Ferrogram's REST API v1 (`/api/v1`, docs/api.md): one file per resource, each giving its
//! routes as a `utoipa_axum` router so that the OpenAPI document ([`openapi`]) is generated
//! from the same handlers that serve. The conventions live in shared files:
//!
//! - [`auth`]: the caller (`Authorization: Bearer fg_…`, or a dashboard session with its CSRF
//!   token; 401, 403, and 404 across workspaces);
//! - [`problem`]: every error as `application/problem+json` with the failing field's place;
//! - [`body`]: JSON bodies and query strings that never fail with a 500 (400, 413, 415, 422);
//! - [`pagination`]: `?limit=&cursor=` → `{"items", "next_cursor"}`;
//! - [`idempotency`]: `Idempotency-Key` on creating POSTs;
//! - `versions`: `If-Match` with a bot's ETag on the changes of a bot (412, 428).
//!
//! A new resource is a new file with its `routes()`, merged in [`routes`]; it is then in the
//! document, and the tests' every-route checks (401 without credentials) cover it.

pub mod audit;
pub mod auth;
pub mod body;
pub mod bots;
pub mod broadcasts;
pub mod collections;
pub mod control;
pub mod drafts;
pub mod idempotency;
pub mod members;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod secrets;
pub mod stats;
pub mod tokens;
pub mod users;
pub mod versions;
pub mod webhooks;
pub mod workspaces;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::bots::Api;
use problem::Problem;

/// Every route of the API and its document, before the state is given.
fn build() -> (axum::Router<Api>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(openapi::Base::openapi())
        .merge(workspaces::routes())
        .merge(tokens::routes())
        .merge(members::routes())
        .merge(bots::routes())
        .merge(versions::routes())
        // The editor's drafts (decision 0056).
        .merge(drafts::routes())
        .merge(control::routes())
        .merge(audit::routes())
        .merge(users::routes())
        .merge(collections::routes())
        .merge(stats::routes())
        .merge(broadcasts::routes())
        .merge(webhooks::routes())
        .merge(secrets::routes())
        .split_for_parts();
    (router, openapi::finish(doc))
}

/// The API's OpenAPI document, as served at `/api/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    build().1
}

/// The API's routes on `api`, with the document and its docs page; an unknown path under
/// `/api/v1` is a 404 problem and a known path with another method a 405 one.
pub(crate) fn routes(api: Api) -> axum::Router {
    let (router, doc) = build();
    let router = router
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, None, "Method Not Allowed", "this path has no such method")
        })
        .route("/api/v1/{*rest}", routing::any(|| async { Problem::not_found("no such route in this API") }))
        .layer(DefaultBodyLimit::max(body::BODY_LIMIT))
        .with_state(api);
    router.merge(openapi::routes(&doc))
}
