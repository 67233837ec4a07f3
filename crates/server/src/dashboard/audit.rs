//! `/w/{workspace}/audit`: the workspace's audit log, newest first, filtered by action and
//! actor, 50 a page (`?cursor=` for the next), read by the REST API's own function
//! (`api::audit::entries`; any role). Accounts are shown by their names.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::audit::AuditFilter;

/// The page's filters.
#[derive(Deserialize)]
pub struct AuditPage {
    action: Option<String>,
    actor: Option<String>,
    cursor: Option<String>,
}

/// `GET /w/{workspace}/audit?action=&actor=&cursor=`.
pub async fn page(State(dashboard): State<Dashboard>, at: InWorkspace, Query(query): Query<AuditPage>) -> Response {
    let path = format!("{}/audit", at.base());
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let filter = AuditFilter {
        action: given(&query.action),
        actor: given(&query.actor),
        since: None,
        until: None,
        limit: Some(50),
        cursor: given(&query.cursor),
    };
    let page = match api::audit::entries(&at.api, &at.caller, &filter).await {
        Ok(page) => page,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let members = at.api.store.members(at.caller.workspace).await.unwrap_or_default();
    let entries: Vec<Value> = page
        .items
        .into_iter()
        .map(|e| {
            let who = e
                .actor
                .strip_prefix("account:")
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| members.iter().find(|m| m.account == id))
                .map(|m| m.display_name.clone());
            json!({ "at": e.at, "actor": e.actor, "who": who, "action": e.action, "target": e.target,
                    "detail": if e.detail.is_null() { String::new() } else { e.detail.to_string() } })
        })
        .collect();
    let next = page.next_cursor.map(|cursor| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [("action", &filter.action), ("actor", &filter.actor)] {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        query.append_pair("cursor", &cursor);
        format!("{path}?{}", query.finish())
    });
    let mut context = at.context();
    context["entries"] = Value::Array(entries);
    context["filter"] = json!({ "action": filter.action, "actor": filter.actor });
    context["next"] = json!(next);
    dashboard.pages.render(StatusCode::OK, "audit.html", &at.signed.frame(&path), context)
}
