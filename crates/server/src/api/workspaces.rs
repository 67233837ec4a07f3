//! `/api/v1/workspace`: the caller's workspace (a credential belongs to exactly one). Any role
//! reads it; an admin renames it.

use axum::Json;
use axum::extract::State;
use ferrogram_store::{Role, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::JsonBody;
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// A workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: i64,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<Workspace> for WorkspaceView {
    fn from(w: Workspace) -> Self {
        WorkspaceView { id: w.id, name: w.name, created_at: w.created_at }
    }
}

/// What may change of a workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceChange {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(get_workspace, update_workspace))
}

async fn current(api: &Api, caller: &Caller) -> Result<Workspace, Problem> {
    api.store
        .workspace(caller.workspace)
        .await
        .map_err(store_failed("reading the workspace"))?
        .ok_or_else(|| Problem::not_found("the workspace is gone"))
}

/// The caller's workspace.
#[utoipa::path(get, path = "/api/v1/workspace", tag = "workspace",
    responses((status = 200, body = WorkspaceView)))]
async fn get_workspace(State(api): State<Api>, caller: Caller) -> Result<Json<WorkspaceView>, Problem> {
    Ok(Json(current(&api, &caller).await?.into()))
}

/// Renames the caller's workspace (admin).
#[utoipa::path(patch, path = "/api/v1/workspace", tag = "workspace", request_body = WorkspaceChange,
    responses((status = 200, body = WorkspaceView)))]
async fn update_workspace(
    State(api): State<Api>,
    caller: Caller,
    body: JsonBody<WorkspaceChange>,
) -> Result<Json<WorkspaceView>, Problem> {
    caller.require(Role::Admin)?;
    let name = body.value.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Problem::invalid(
            "the name is not acceptable",
            vec![FieldError::at("/name", "1 to 100 characters")],
        ));
    }
    let before = current(&api, &caller).await?;
    api.store.rename_workspace(caller.workspace, name).await.map_err(store_failed("renaming the workspace"))?;
    audit(&api, &caller, "workspace.update", &before.name, json!({"name": name})).await;
    Ok(Json(current(&api, &caller).await?.into()))
}
