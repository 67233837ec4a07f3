//! `/w/{workspace}/bots/{name}/users`: the users a bot has seen, a page at a time (the API's
//! cursor: never the whole directory), searched by id, name or username and filtered by
//! whether they are blocked; one user's page with their variables and conversation state; and
//! blocking or unblocking them (editor). Read and changed by the REST API's own functions
//! (`api::users::{list, detail, set_blocked}`: role checked, audited as `user.block` and
//! `user.unblock`) after the form's CSRF token is checked.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::bot_nav::{bot_context, segment};
use super::bots::ActionForm;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::users::UserFilter;

/// Users a page.
const PAGE: u32 = 50;

/// The list's search, filter and page.
#[derive(Deserialize)]
pub struct UsersQuery {
    search: Option<String>,
    /// `blocked`, `unblocked`, or anything else for everyone.
    show: Option<String>,
    cursor: Option<String>,
}

/// `GET /w/{workspace}/bots/{name}/users?search=&show=&cursor=` (any role).
pub async fn list(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Query(query): Query<UsersQuery>,
) -> Response {
    let base = format!("{}/bots/{}/users", at.base(), segment(&name));
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let search = given(&query.search);
    let show = given(&query.show).filter(|s| s == "blocked" || s == "unblocked");
    let filter = UserFilter {
        search: search.clone(),
        blocked: show.as_deref().map(|s| s == "blocked"),
        limit: Some(PAGE),
        cursor: given(&query.cursor),
    };
    let page = match api::users::list(&at.api, &at.caller, &name, &filter).await {
        Ok(page) => page,
        Err(problem) => return refusal(&dashboard, &at.signed, &base, &problem),
    };
    let next = page.next_cursor.map(|cursor| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(search) = &search {
            query.append_pair("search", search);
        }
        if let Some(show) = &show {
            query.append_pair("show", show);
        }
        query.append_pair("cursor", &cursor);
        format!("{base}?{}", query.finish())
    });
    let mut context = bot_context(&at, &name, "users");
    context["users"] = json!(page.items);
    context["filter"] = json!({ "search": search, "show": show });
    context["next"] = json!(next);
    context["paged"] = json!(filter.cursor.is_some());
    dashboard.pages.render(StatusCode::OK, "users.html", &at.signed.frame(&base), context)
}

/// `GET /w/{workspace}/bots/{name}/users/{id}` (any role).
pub async fn user(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, id)): Path<(i64, String, String)>,
) -> Response {
    let path = format!("{}/bots/{}/users/{}", at.base(), segment(&name), segment(&id));
    let detail = match api::users::detail(&at.api, &at.caller, &name, &id).await {
        Ok(detail) => detail,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let blocked_by = match detail.user.blocked_by.as_deref() {
        Some(actor) => Some(actor_name(&at, actor).await),
        None => None,
    };
    let variables: Vec<Value> =
        detail.variables.iter().map(|(name, value)| json!({ "name": name, "value": value.to_string() })).collect();
    let mut context = bot_context(&at, &name, "users");
    context["user"] = json!(detail.user);
    context["blocked_by"] = json!(blocked_by);
    context["variables"] = Value::Array(variables);
    context["conversation"] = json!(detail.conversation.map(|c| json!({
        "scene": c.scene,
        "stack": c.stack,
        "form": c.form.map(|f| f.to_string()),
    })));
    dashboard.pages.render(StatusCode::OK, "user.html", &at.signed.frame(&path), context)
}

/// An actor (`account:ID`, `token:ID`) as a member's name when it is one.
async fn actor_name(at: &InWorkspace, actor: &str) -> String {
    let Some(id) = actor.strip_prefix("account:").and_then(|id| id.parse::<i64>().ok()) else {
        return actor.to_owned();
    };
    let members = at.api.store.members(at.caller.workspace).await.unwrap_or_default();
    members.into_iter().find(|m| m.account == id).map_or_else(|| actor.to_owned(), |m| m.display_name)
}

/// Blocks or unblocks through the API's function, then back to the user's page.
async fn set(
    dashboard: &Dashboard,
    at: &InWorkspace,
    name: &str,
    id: &str,
    csrf: Option<&str>,
    blocked: bool,
) -> Response {
    let path = format!("{}/bots/{}/users/{}", at.base(), segment(name), segment(id));
    if let Some(refused) = at.signed.csrf_refusal(dashboard, csrf) {
        return refused;
    }
    match api::users::set_blocked(&at.api, &at.caller, name, id, blocked).await {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(dashboard, &at.signed, &path, &problem),
    }
}

/// `POST /w/{workspace}/bots/{name}/users/{id}/block` (editor).
pub async fn block(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, id)): Path<(i64, String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    set(&dashboard, &at, &name, &id, form.csrf.as_deref(), true).await
}

/// `POST /w/{workspace}/bots/{name}/users/{id}/unblock` (editor).
pub async fn unblock(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, id)): Path<(i64, String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    set(&dashboard, &at, &name, &id, form.csrf.as_deref(), false).await
}
