//! `/w/{workspace}/bots/{name}/edit`: the code view (decision 0056). The bot's draft in a form
//! that works without script (a textarea; saving, publishing and trying post the form), which
//! `assets/editor.js` turns into a CodeMirror 6 editor (vendored, `assets/codemirror/`) with keys
//! completed from the bot file's JSON Schema (`/assets/bot-schema.json`) and the validator's
//! errors shown inline as one types (the API's `…/draft/validate`, debounced). Beside it, the
//! try-it chat: the sandbox's web chat talking to the draft run as a throwaway bot.
//!
//! Everything acts through the REST API's functions (`api::drafts`): the draft's ETag rides in
//! the form and is sent as `If-Match`, so a save over someone else's is a 412 page that keeps
//! the text typed here and says so; an invalid draft is refused at publishing with its
//! diagnostics, nothing changed.

use std::sync::LazyLock;

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::Dashboard;
use super::layout::text;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::bots::Format;
use crate::api::problem::FieldError;

/// Where the bot file's JSON Schema is served, for the editor's completion.
pub const SCHEMA_PATH: &str = "/assets/bot-schema.json";
/// The editor's script, a module importing [`CODEMIRROR_PATH`].
pub const EDITOR_JS_PATH: &str = "/assets/editor-1.js";
/// The vendored CodeMirror bundle (its version in the path).
pub const CODEMIRROR_PATH: &str = "/assets/codemirror-6.0.2.min.js";

const EDITOR_JS: &str = include_str!("assets/editor.js");
const CODEMIRROR: &str = include_str!("assets/codemirror/codemirror.min.js");
static SCHEMA: LazyLock<String> = LazyLock::new(|| ferrogram_schema::json_schema().to_string());

/// The code view's routes and its assets'.
pub fn routes() -> Router<Dashboard> {
    let script = |body: &'static str| {
        ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], body)
            .into_response()
    };
    Router::new()
        .route("/w/{workspace}/bots/{name}/edit", get(page).post(submit))
        .route(EDITOR_JS_PATH, get(move || async move { script(EDITOR_JS) }))
        .route(CODEMIRROR_PATH, get(move || async move { script(CODEMIRROR) }))
        .route(
            SCHEMA_PATH,
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/schema+json"), (header::CACHE_CONTROL, "no-cache")],
                    SCHEMA.as_str(),
                )
                    .into_response()
            }),
        )
}

/// The form: the file, the draft's ETag it was read at, and which button was pressed.
#[derive(Deserialize)]
pub struct EditForm {
    csrf: Option<String>,
    source: Option<String>,
    etag: Option<String>,
    /// `save`, `publish`, `try` or `restart`.
    action: Option<String>,
}

/// What the page shows besides the draft.
#[derive(Default)]
struct Shown {
    /// The text in the editor when it is not the stored draft's (a refused save keeps it).
    source: Option<String>,
    /// The ETag the form carries when it is not the stored draft's.
    etag: Option<String>,
    notice: Option<String>,
    /// A success to announce.
    done: Option<String>,
    /// Diagnostics to list (a refused publish's).
    errors: Option<Vec<FieldError>>,
    /// The try-it chat's address.
    chat_url: Option<String>,
}

async fn render(dashboard: &Dashboard, at: &InWorkspace, name: &str, status: StatusCode, shown: Shown) -> Response {
    let path = format!("{}/bots/{name}/edit", at.base());
    let draft = match api::drafts::read(&at.api, &at.caller, name).await {
        Ok(draft) => draft,
        Err(problem) => return refusal(dashboard, &at.signed, &path, &problem),
    };
    let source = shown.source.unwrap_or_else(|| draft.source.clone());
    let diagnostics = match shown.errors {
        Some(errors) => errors,
        None => api::drafts::validate(&at.api, &at.caller, name, &source, Format::Yaml)
            .await
            .map(|v| v.diagnostics)
            .unwrap_or_default(),
    };
    let mut context = at.context();
    context["bot"] = json!(name);
    context["source"] = json!(source);
    context["etag"] = json!(shown.etag.unwrap_or(draft.etag));
    context["revision"] = json!(draft.revision);
    context["version"] = json!(draft.version);
    context["published"] = json!(draft.published);
    context["diagnostics"] = json!(diagnostics);
    context["has_errors"] = json!(diagnostics.iter().any(|d| d.severity.as_deref() == Some("error")));
    context["notice"] = json!(shown.notice);
    context["done"] = json!(shown.done);
    context["chat_url"] = json!(shown.chat_url);
    context["can_try"] = json!(at.api.bots.draft_chat_origin().is_some());
    context["editor_js"] = json!(EDITOR_JS_PATH);
    // CodeMirror mounts its styles in a `<style>` element carrying this answer's nonce.
    let nonce = style_nonce();
    context["style_nonce"] = json!(nonce);
    let mut response = dashboard.pages.render(status, "bot_edit.html", &at.signed.frame(&path), context);
    // Chrome's own editing of the editable text (typing over a selection of several lines)
    // writes `style` attributes on the lines, which CodeMirror then redraws: allowed as
    // attributes only (`style-src-attr`); style elements still need the nonce.
    let mut policy = super::layout::CSP
        .replace("style-src 'self';", &format!("style-src 'self' 'nonce-{nonce}'; style-src-attr 'unsafe-inline';"));
    // The try-it chat is the sandbox's page: this page may frame it, and only it.
    if let Some(origin) = at.api.bots.draft_chat_origin() {
        policy.push_str(&format!(" frame-src {origin}"));
    }
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// A fresh nonce for the page's styles: 16 random bytes, base64 (URL-safe, unpadded).
fn style_nonce() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    // Without randomness the nonce is fixed: the editor's styles then still work, unguarded.
    let _ = getrandom::getrandom(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `?saved=N`: the draft was just saved as revision N.
#[derive(Deserialize)]
pub struct Saved {
    saved: Option<i64>,
}

/// `GET /w/{workspace}/bots/{name}/edit?saved=` (viewer; the buttons are an editor's).
pub async fn page(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Query(saved): Query<Saved>,
) -> Response {
    let done = saved.saved.map(|_| text(at.signed.prefs.lang, "draft_saved").to_owned());
    render(&dashboard, &at, &name, StatusCode::OK, Shown { done, ..Shown::default() }).await
}

/// `POST /w/{workspace}/bots/{name}/edit` (`csrf`, `source`, `etag`, `action`; editor): saves
/// the draft from the ETag the page showed, then publishes it, or runs it in the try-it chat.
pub async fn submit(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Form(form): Form<EditForm>,
) -> Response {
    let path = format!("{}/bots/{name}/edit", at.base());
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    let lang = at.signed.prefs.lang;
    let action = form.action.as_deref().unwrap_or("save");
    // A form sends a textarea's lines ended by CR LF (the HTML standard): the file keeps LF.
    let source = form.source.unwrap_or_default().replace("\r\n", "\n");
    let mut headers = HeaderMap::new();
    if let Some(etag) = form.etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        headers.insert(header::IF_MATCH, etag);
    }
    // The text is saved first unless it is the draft already (the draft's ETag is then the same).
    let current = match api::drafts::read(&at.api, &at.caller, &name).await {
        Ok(draft) => draft,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let saved = if current.source == source && current.revision > 0 && form.etag.as_deref() == Some(&current.etag) {
        Ok(current)
    } else {
        api::drafts::save(&at.api, &at.caller, &name, &headers, &source).await
    };
    let saved = match saved {
        Ok(saved) => saved,
        Err(problem) if problem.status == 412 || problem.status == 428 => {
            let shown = Shown {
                notice: Some(text(lang, "draft_conflict").to_owned()),
                source: Some(source),
                etag: form.etag,
                ..Shown::default()
            };
            return render(&dashboard, &at, &name, StatusCode::PRECONDITION_FAILED, shown).await;
        }
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let mut headers = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&saved.etag) {
        headers.insert(header::IF_MATCH, etag);
    }
    match action {
        "publish" => match api::drafts::publish(&at.api, &at.caller, &name, &headers).await {
            Ok(published) => {
                let done = text(lang, "draft_published").replace("{version}", &published.version.version.to_string());
                render(&dashboard, &at, &name, StatusCode::OK, Shown { done: Some(done), ..Shown::default() }).await
            }
            Err(problem) if problem.status == 422 => {
                let shown = Shown {
                    notice: Some(text(lang, "draft_invalid").to_owned()),
                    errors: Some(problem.errors),
                    ..Shown::default()
                };
                render(&dashboard, &at, &name, StatusCode::UNPROCESSABLE_ENTITY, shown).await
            }
            Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
        },
        "try" | "restart" => match api::drafts::try_draft(&at.api, &at.caller, &name, action == "restart").await {
            Ok(run) => {
                let shown = Shown { chat_url: Some(run.chat_url), ..Shown::default() };
                render(&dashboard, &at, &name, StatusCode::OK, shown).await
            }
            Err(problem) if problem.status == 422 => {
                let shown = Shown {
                    notice: Some(text(lang, "draft_invalid_try").to_owned()),
                    errors: Some(problem.errors),
                    ..Shown::default()
                };
                render(&dashboard, &at, &name, StatusCode::UNPROCESSABLE_ENTITY, shown).await
            }
            Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
        },
        _ => Redirect::to(&format!("{path}?saved={}", saved.revision)).into_response(),
    }
}
