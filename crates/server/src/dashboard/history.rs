//! `/w/{workspace}/bots/{name}`: a bot's history — its versions with who made each and when,
//! two of them side by side (`?from=&to=`, the newest two by default), and rolling back to one
//! (`POST …/rollback`, editor). The versions are read and rolled back by the REST API's own
//! functions (`api::versions::history`, `api::versions::roll_back`). The rollback form carries
//! the ETag of the newest version the page showed, sent as the API's `If-Match`: when someone
//! published or rolled back meanwhile, nothing changes and the page says so (412), rather than
//! one person silently overwriting the other.
//!
//! Who made a version is read from the audit log (`bot.create`, `bot.publish`, `bot.rollback`
//! name the version they made), accounts shown by their names.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ferrogram_store::AuditQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::layout::text;
use super::side_by_side;
use super::workspace::{InWorkspace, refusal};
use crate::api;

/// Which versions to compare.
#[derive(Deserialize)]
pub struct Compare {
    from: Option<i64>,
    to: Option<i64>,
}

/// The rollback's form.
#[derive(Deserialize)]
pub struct RollbackForm {
    csrf: Option<String>,
    version: Option<i64>,
    /// The newest version's ETag when the page was shown.
    etag: Option<String>,
}

/// Who made each version of `name`, by version number, from the audit log.
async fn authors(at: &InWorkspace, name: &str) -> HashMap<i64, String> {
    let store = &at.api.store;
    let members = store.members(at.caller.workspace).await.unwrap_or_default();
    let mut who = HashMap::new();
    for action in ["bot.create", "bot.publish", "bot.rollback"] {
        let query = AuditQuery {
            action: Some(action.into()),
            actor: None,
            since: None,
            until: None,
            before: None,
            limit: 1000,
        };
        let entries = store.audit_page(at.caller.workspace, &query).await.unwrap_or_default();
        for entry in entries.into_iter().filter(|e| e.target == name) {
            let Some(version) = entry.detail.get("version").and_then(Value::as_i64) else { continue };
            let person = entry
                .actor
                .strip_prefix("account:")
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| members.iter().find(|m| m.account == id))
                .map_or(entry.actor.clone(), |m| m.display_name.clone());
            who.entry(version).or_insert(person);
        }
    }
    who
}

/// The page, with `notice` (a 412's explanation) above it, answered with `status`.
async fn render(
    dashboard: &Dashboard,
    at: &InWorkspace,
    name: &str,
    compare: &Compare,
    status: StatusCode,
    notice: Option<String>,
) -> Response {
    let path = format!("{}/bots/{name}", at.base());
    let versions = match api::versions::history(&at.api, &at.caller, name).await {
        Ok(versions) => versions,
        Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
    };
    let newest = versions.last().map_or(0, |v| v.version);
    let who = authors(at, name).await;
    let listed: Vec<Value> = versions
        .iter()
        .rev()
        .map(|v| {
            json!({
                "version": v.version, "created_at": v.created_at, "current": v.version == newest,
                "who": who.get(&v.version).cloned().unwrap_or_else(|| text(at.signed.prefs.lang, "unknown_who").into()),
            })
        })
        .collect();
    let to = compare.to.unwrap_or(newest);
    let from = compare.from.unwrap_or((to - 1).max(1));
    let diff = if versions.len() > 1 {
        match api::versions::pair(&versions, name, from, Some(to)) {
            Ok((old, new, to)) => Some(json!({ "from": from, "to": to, "rows": side_by_side::rows(old, new) })),
            Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
        }
    } else {
        None
    };
    let mut context = super::bot_nav::bot_context(at, name, "history");
    context["versions"] = Value::Array(listed);
    context["etag"] = json!(api::bots::etag(newest));
    context["diff"] = json!(diff);
    context["notice"] = json!(notice);
    dashboard.pages.render(status, "bot_history.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/bots/{name}?from=&to=` (viewer).
pub async fn page(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Query(compare): Query<Compare>,
) -> Response {
    render(&dashboard, &at, &name, &compare, StatusCode::OK, None).await
}

/// `POST /w/{workspace}/bots/{name}/rollback` (`csrf`, `version`, `etag`; editor): rolls back
/// if the bot is still at the version the page showed, then back to the page.
pub async fn rollback(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<RollbackForm>,
) -> Response {
    let path = format!("{}/bots/{name}", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let Some(version) = form.version else {
        return (StatusCode::BAD_REQUEST, "which version? (the `version` field)").into_response();
    };
    let mut headers = HeaderMap::new();
    if let Some(etag) = form.etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        headers.insert(header::IF_MATCH, etag);
    }
    match api::versions::roll_back(&at.api, &at.caller, &name, &headers, version).await {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(problem) if problem.status == 412 || problem.status == 428 => {
            let newest = match api::versions::history(&at.api, &at.caller, &name).await {
                Ok(versions) => versions.last().map_or(0, |v| v.version),
                Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
            };
            let notice = text(at.signed.prefs.lang, "stale").replace("{version}", &newest.to_string());
            let compare = Compare { from: None, to: None };
            render(&dashboard, &at, &name, &compare, StatusCode::PRECONDITION_FAILED, Some(notice)).await
        }
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}
