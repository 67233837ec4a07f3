//! Health of the process, for load balancers and orchestrators:
//!
//! | route | answer |
//! |---|---|
//! | `GET /healthz` | 200 `{"status": "ok"}` whenever the process answers |
//! | `GET /readyz` | 200 when every check passes, else 503; the body names each check and why one failed |
//!
//! `/readyz` (under `serve`, which hands the listener its store and supervisor) checks that the
//! database answers, that its schema has every migration this build knows, and that every bot
//! the supervisor knows is running — or stopped by an operator, or failing or unauthorized with
//! a known reason (its last error): a bot still `starting` is not ready yet. Body:
//! `{"ready": bool, "checks": {"database": {"ok", "error"?}, "migrations": {"ok", "pending"?},
//! "bots": {"ok", "starting"?: [names], "unexplained"?: [names], "count"}}}`. Without a store
//! and supervisor (`run --webhook-url`) only `/healthz` is served.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, routing};
use serde_json::{Value, json};

use crate::bots::{Api, Status};

/// `/healthz`, for every listener.
pub(crate) fn liveness() -> axum::Router {
    axum::Router::new().route("/healthz", routing::get(|| async { Json(json!({"status": "ok"})) }))
}

/// `/readyz`, for a listener with a store and a supervisor.
pub(crate) fn readiness(api: Api) -> axum::Router {
    axum::Router::new().route("/readyz", routing::get(ready)).with_state(api)
}

async fn ready(State(api): State<Api>) -> Response {
    let (database, migrations) = match api.store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => (json!({"ok": true}), json!({"ok": true})),
        Ok(pending) => (json!({"ok": true}), json!({"ok": false, "pending": pending})),
        Err(error) => {
            (json!({"ok": false, "error": error.to_string()}), json!({"ok": false, "error": "database unreachable"}))
        }
    };
    let bots = match api.store.workspaces().await {
        Ok(workspaces) => {
            let (mut starting, mut unexplained, mut count) = (Vec::new(), Vec::new(), 0usize);
            for workspace in workspaces {
                for bot in api.bots.list(workspace.id).await {
                    count += 1;
                    match bot.status {
                        Status::Running | Status::Stopped => {}
                        Status::Starting => starting.push(bot.name),
                        Status::Failing | Status::Unauthorized if bot.errors.is_empty() => unexplained.push(bot.name),
                        Status::Failing | Status::Unauthorized => {}
                    }
                }
            }
            let ok = starting.is_empty() && unexplained.is_empty();
            let mut check = json!({"ok": ok, "count": count});
            if !starting.is_empty() {
                check["starting"] = json!(starting);
            }
            if !unexplained.is_empty() {
                check["unexplained"] = json!(unexplained);
            }
            check
        }
        Err(error) => json!({"ok": false, "error": error.to_string()}),
    };
    let ready = [&database, &migrations, &bots].iter().all(|check| check["ok"] == Value::Bool(true));
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({"ready": ready, "checks": {"database": database, "migrations": migrations, "bots": bots}});
    (status, Json(body)).into_response()
}
