//! `/w/{workspace}/bots`: the workspace's bots with their status, last error and updates in the
//! last 24 hours (a sparkline from the inbox's hourly counts), and their start, stop and delete
//! (a confirmation page first). Every action calls the REST API's own function
//! (`api::control::act`, `api::bots::remove`: role checked, audited as the API's) after the
//! form's CSRF token is checked; a refusal is shown as a page with the API's status.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::layout::text;
use super::sparkline;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::bots::BotFilter;

/// The hours the sparkline covers.
const HOURS: u32 = 24;

/// A form that carries only the session's CSRF token.
#[derive(Deserialize)]
pub struct ActionForm {
    pub csrf: Option<String>,
}

/// The delete confirmation's form.
#[derive(Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
    keep_data: Option<String>,
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `GET /w/{workspace}/bots`.
pub async fn list(State(dashboard): State<Dashboard>, at: InWorkspace) -> Response {
    let path = format!("{}/bots", at.base());
    let filter = BotFilter { name: None, status: None, limit: Some(200), cursor: None };
    let page = match api::bots::list(&at.api, &at.caller, &filter).await {
        Ok(page) => page,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    // The id each bot's updates are kept under (its data id), for the inbox's counts.
    let records = at.api.store.bots(at.caller.workspace).await.unwrap_or_default();
    let since = (now() / 3600 - i64::from(HOURS) + 1) * 3600;
    let lang = at.signed.prefs.lang;
    let mut bots = Vec::new();
    for bot in page.items {
        let data = records.iter().find(|r| r.id == bot.id).and_then(api::bots::data_id);
        let counts = match data {
            Some(id) => at.api.store.inbox_hourly(id, since, HOURS).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "the bots page could not count a bot's updates");
                vec![0; HOURS as usize]
            }),
            None => vec![0; HOURS as usize],
        };
        let total: i64 = counts.iter().sum();
        let label = text(lang, "updates_label").replace("{count}", &total.to_string());
        let status = bot.status.as_ref();
        bots.push(json!({
            "name": bot.name,
            "version": bot.version,
            "status": status.map_or("none", |s| s.status.as_str()),
            "asleep": status.is_some_and(|s| s.asleep),
            "last_error": status.and_then(|s| s.errors.last()).map(|e| json!({"at": e.at, "message": e.message})),
            "total": total,
            "sparkline": sparkline::svg(&counts, &label),
        }));
    }
    let mut context = at.context();
    context["bots"] = Value::Array(bots);
    dashboard.pages.render(StatusCode::OK, "bots.html", &at.signed.frame(&path), context)
}

/// Runs `action` on the bot through the API's function, then back to the list.
async fn act(dashboard: &Dashboard, at: &InWorkspace, name: &str, csrf: Option<&str>, action: &str) -> Response {
    let path = format!("{}/bots", at.base());
    if let Some(refused) = at.signed.csrf_refusal(dashboard, csrf) {
        return refused;
    }
    match api::control::act(&at.api, &at.caller, name, action).await {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(dashboard, &at.signed, &path, &problem),
    }
}

/// `POST /w/{workspace}/bots/{name}/start` (editor).
pub async fn start(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(&dashboard, &at, &name, form.csrf.as_deref(), "start").await
}

/// `POST /w/{workspace}/bots/{name}/stop` (editor).
pub async fn stop(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(&dashboard, &at, &name, form.csrf.as_deref(), "stop").await
}

/// `GET /w/{workspace}/bots/{name}/delete`: the confirmation (admin; 404 for no such bot).
pub async fn confirm_delete(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
) -> Response {
    let path = format!("{}/bots/{name}/delete", at.base());
    if let Err(problem) = at.caller.require(ferrogram_store::Role::Admin) {
        return refusal(&dashboard, &at.signed, &path, &problem);
    }
    if let Err(problem) = api::bots::find(&at.api, &at.caller, &name).await {
        return refusal(&dashboard, &at.signed, &path, &problem);
    }
    let mut context = at.context();
    context["bot"] = json!(name);
    dashboard.pages.render(StatusCode::OK, "bot_delete.html", &at.signed.frame(&path), context)
}

/// `POST /w/{workspace}/bots/{name}/delete` (`csrf`, `keep_data`): removes the bot through the
/// API's function (admin), then back to the list.
pub async fn delete(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let path = format!("{}/bots", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    match api::bots::remove(&at.api, &at.caller, &name, form.keep_data.is_some()).await {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}
