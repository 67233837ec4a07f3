//! `/w/{workspace}/bots/{name}/broadcasts…`: a bot's broadcasts (decision 0048) — their list
//! with state and progress; the compose form (text, buttons, an audience by variables, now or
//! at a time) with a live preview (htmx posts the form to `…/preview` as it is typed: the text
//! as a sample user gets it, the buttons, how many users the audience holds); a broadcast's
//! page with its progress bar (sent, failed, blocked), which htmx refreshes every second
//! (`…/{id}/progress`) until the broadcast is done or cancelled, and its pause, resume and
//! cancel.
//!
//! Everything is done by the REST API's own functions (`api::broadcasts::{list, create, get,
//! act, preview}`, decision 0049): the role is theirs (viewers see, editors send and act), as
//! are the audit entries and the 404 of another workspace's bot. A refused form (an empty
//! audience, say) is shown again with each error next to its field, nothing made.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::broadcast_form::{ComposeForm, FieldErrors, errors_of};
use super::layout::{Lang, text};
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::broadcasts::{BroadcastFilter, BroadcastView, PreviewView};

/// Broadcasts listed on the page (the newest).
const LISTED: u32 = 50;

/// A form that carries only the session's CSRF token.
#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
}

/// How far a broadcast got, for the progress bar: percentages of its total.
fn progress(b: &BroadcastView) -> Value {
    let p = &b.progress;
    let total = p.total.unwrap_or(0);
    let settled = p.sent + p.failed + p.blocked;
    let finished = b.state == "done" || b.state == "cancelled";
    let percent = |n: i64| if total > 0 { n * 100 / total } else { 0 };
    let done = if total > 0 {
        settled * 100 / total
    } else if b.state == "done" {
        100
    } else {
        0
    };
    json!({
        "total": p.total, "sent": p.sent, "failed": p.failed, "blocked": p.blocked, "pending": p.pending,
        "percent": done,
        "sent_pct": percent(p.sent), "failed_pct": percent(p.failed), "blocked_pct": percent(p.blocked),
        "live": !finished,
    })
}

/// A broadcast as the templates show it.
fn shown(b: &BroadcastView) -> Value {
    let excerpt: String = b.message.text.chars().take(80).collect();
    let conditions: Vec<String> = b.audience.variables.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let can_cancel = ["scheduled", "running", "paused"].contains(&b.state.as_str());
    json!({
        "id": b.id, "state": b.state, "text": b.message.text, "excerpt": excerpt,
        "truncated": b.message.text.chars().count() > 80,
        "parse_mode": b.message.parse_mode, "buttons": b.message.buttons,
        "conditions": conditions,
        "collection": b.audience.collection,
        "scheduled_at": b.scheduled_at, "created_at": b.created_at, "created_by": b.created_by,
        "started_at": b.started_at, "finished_at": b.finished_at, "error": b.error,
        "progress": progress(b),
        "can_pause": b.state == "running", "can_resume": b.state == "paused",
        "can_cancel": can_cancel,
    })
}

/// The list and the compose form; `form` and `errors` those of a refused form.
async fn render_list(
    dashboard: &Dashboard,
    at: &InWorkspace,
    name: &str,
    status: StatusCode,
    form: &ComposeForm,
    errors: &FieldErrors,
) -> Response {
    let path = format!("{}/bots/{name}/broadcasts", at.base());
    let filter = BroadcastFilter { state: None, limit: Some(LISTED), cursor: None };
    let page = match api::broadcasts::list(&at.api, &at.caller, name, &filter).await {
        Ok(page) => page,
        Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
    };
    let mut form = form.clone();
    if form.when.is_empty() {
        form.when = "now".into();
    }
    let mut context = super::bot_nav::bot_context(at, name, "broadcasts");
    context["broadcasts"] = Value::Array(page.items.iter().map(shown).collect());
    context["form"] = json!(form);
    context["errors"] = Value::Object(errors.clone());
    context["has_errors"] = json!(!errors.is_empty());
    dashboard.pages.render(status, "broadcasts.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/bots/{name}/broadcasts` (viewer; the form for editors).
pub async fn list(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
) -> Response {
    render_list(&dashboard, &at, &name, StatusCode::OK, &ComposeForm::default(), &FieldErrors::new()).await
}

/// `POST /w/{workspace}/bots/{name}/broadcasts` (the compose form; editor): makes the broadcast
/// and opens its page, or shows the form again with its errors (422), nothing made.
pub async fn create(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<ComposeForm>,
) -> Response {
    let path = format!("{}/bots/{name}/broadcasts", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let request = match form.request() {
        Ok(request) => request,
        Err(errors) => return render_list(&dashboard, &at, &name, unprocessable, &form, &errors).await,
    };
    match api::broadcasts::create(&at.api, &at.caller, &name, &request).await {
        Ok(made) => Redirect::to(&format!("{path}/{}", made.id)).into_response(),
        Err(problem) if problem.status == 422 => {
            let mut errors = errors_of(&problem);
            if let Some(Value::String(why)) = errors.get_mut("variables")
                && problem.detail == "the audience is empty"
            {
                *why = format!("{} {why}", text(at.signed.prefs.lang, "bc_audience_empty"));
            }
            render_list(&dashboard, &at, &name, unprocessable, &form, &errors).await
        }
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}

/// The preview's values for its fragment.
fn preview_context(lang: Lang, preview: &PreviewView) -> Value {
    let who = preview.user.as_ref().map(|u| {
        let first = u["first_name"].as_str().unwrap_or_default();
        match u["last_name"].as_str() {
            Some(last) if !last.is_empty() => format!("{first} {last}"),
            _ => first.to_owned(),
        }
    });
    let count = text(lang, "bc_audience_count").replace("{count}", &preview.audience.to_string());
    json!({
        "audience": preview.audience, "audience_text": count, "who": who,
        "user_id": preview.user.as_ref().map(|u| u["id"].clone()),
        "in_audience": preview.in_audience, "text": preview.text, "personal": preview.personal,
        "parse_mode": preview.parse_mode, "buttons": preview.buttons, "method": preview.method,
    })
}

/// `POST /w/{workspace}/bots/{name}/broadcasts/preview` (the compose form, by htmx; viewer and
/// up): the preview fragment. A form the API would refuse is answered 200 with its errors in
/// the fragment (htmx swaps only successes), so typing is never an error page.
pub async fn preview(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<ComposeForm>,
) -> Response {
    let path = format!("{}/bots/{name}/broadcasts", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let lang = at.signed.prefs.lang;
    let mut context = at.context();
    let errors = match form.preview() {
        Ok(request) => match api::broadcasts::preview(&at.api, &at.caller, &name, &request).await {
            Ok(preview) => {
                context["preview"] = preview_context(lang, &preview);
                FieldErrors::new()
            }
            Err(problem) if problem.status == 422 => errors_of(&problem),
            Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
        },
        Err(errors) => errors,
    };
    // An empty form is no error: there is nothing to preview yet.
    let errors: FieldErrors = if form.text.trim().is_empty() {
        errors.into_iter().filter(|(field, _)| field != "text").collect()
    } else {
        errors
    };
    context["errors"] = Value::Object(errors);
    dashboard.pages.render(StatusCode::OK, "broadcast_preview.html", &at.signed.frame(&path), context)
}

/// The page of broadcast `id`, or its progress fragment when `fragment`.
async fn render_one(dashboard: &Dashboard, at: &InWorkspace, name: &str, id: &str, fragment: bool) -> Response {
    let path = format!("{}/bots/{name}/broadcasts/{id}", at.base());
    let found = match api::broadcasts::get(&at.api, &at.caller, name, id).await {
        Ok(found) => found,
        Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
    };
    let mut context = at.context();
    context["bot"] = json!(name);
    context["b"] = shown(&found);
    if !fragment {
        // Who made it, an account by its name (a token stays `token:ID`).
        let members = at.api.store.members(at.caller.workspace).await.unwrap_or_default();
        let person = (found.created_by.strip_prefix("account:").and_then(|id| id.parse::<i64>().ok()))
            .and_then(|id| members.iter().find(|m| m.account == id));
        if let Some(member) = person {
            context["b"]["created_by"] = json!(member.display_name);
        }
    }
    let template = if fragment { "broadcast_progress.html" } else { "broadcast.html" };
    dashboard.pages.render(StatusCode::OK, template, &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/bots/{name}/broadcasts/{id}` (viewer).
pub async fn page(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, id)): Path<(i64, String, String)>,
) -> Response {
    render_one(&dashboard, &at, &name, &id, false).await
}

/// `GET /w/{workspace}/bots/{name}/broadcasts/{id}/progress` (viewer): the progress fragment
/// htmx polls; once the broadcast is finished the fragment no longer asks to be polled.
pub async fn progress_fragment(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, id)): Path<(i64, String, String)>,
) -> Response {
    render_one(&dashboard, &at, &name, &id, true).await
}

/// `POST /w/{workspace}/bots/{name}/broadcasts/{id}/{pause|resume|cancel}` (editor), then back
/// to the broadcast's page.
pub async fn act(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, id, action)): Path<(i64, String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let path = format!("{}/bots/{name}/broadcasts/{id}", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let to = match action.as_str() {
        "pause" => "paused",
        "resume" => "running",
        "cancel" => "cancelled",
        _ => return super::workspace::not_found(&dashboard, &at.signed, &path),
    };
    match api::broadcasts::act(&at.api, &at.caller, &name, &id, to, &action).await {
        Ok(_) => Redirect::to(&path).into_response(),
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}
