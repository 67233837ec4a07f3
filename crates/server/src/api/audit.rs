//! `/api/v1/audit`: the workspace's audit log, newest first, filterable by action, actor and
//! time, paginated by cursor. Any role reads it; [`audit`] is how every mutating route writes it.

use axum::Json;
use axum::extract::State;
use ferrogram_store::{AuditEntry, AuditQuery, Role};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::body::Params;
use super::pagination::{self, Page};
use super::problem::{Problem, store_failed};
use crate::bots::Api;

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// Who: `token:ID`.
    pub actor: String,
    /// What: `bot.create`, `bot.publish`, `token.revoke`…
    pub action: String,
    /// To what: a bot's name, a token's id…
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: Value,
    /// Unix seconds.
    pub at: i64,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView { id: e.id, actor: e.actor, action: e.action, target: e.target, detail: e.detail, at: e.at }
    }
}

/// The audit log's filters and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this action (`bot.publish`).
    pub action: Option<String>,
    /// Only this actor (`token:3`).
    pub actor: Option<String>,
    /// From this Unix time (inclusive).
    pub since: Option<i64>,
    /// Before this Unix time.
    pub until: Option<i64>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Appends to the caller's workspace's audit log, which queues the entry as an event for the
/// workspace's webhooks, and wakes their worker; a failure is logged (the action is done).
pub(super) async fn audit(api: &Api, caller: &Caller, action: &str, target: &str, detail: Value) {
    match api.store.audit(caller.workspace, &caller.actor(), action, target, &detail).await {
        Ok(_) => api.hooks.wake(),
        Err(e) => tracing::error!(%e, action, target, "API: writing the audit log failed"),
    }
}

/// The workspace's audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditFilter),
    responses((status = 200, body = Page<AuditView>)))]
async fn list_audit(
    State(api): State<Api>,
    caller: Caller,
    Params(filter): Params<AuditFilter>,
) -> Result<Json<Page<AuditView>>, Problem> {
    entries(&api, &caller, &filter).await.map(Json)
}

/// A page of the workspace's audit log matching `filter`, newest first (viewer): the API's
/// listing and the dashboard's audit page.
pub(crate) async fn entries(api: &Api, caller: &Caller, filter: &AuditFilter) -> Result<Page<AuditView>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let query = AuditQuery {
        action: filter.action.clone(),
        actor: filter.actor.clone(),
        since: filter.since,
        until: filter.until,
        before: pagination::key_of(filter.cursor.as_deref())?,
        limit: limit + 1,
    };
    let entries =
        api.store.audit_page(caller.workspace, &query).await.map_err(store_failed("reading the audit log"))?;
    Ok(pagination::page(entries, limit, |e| e.id, AuditView::from))
}
