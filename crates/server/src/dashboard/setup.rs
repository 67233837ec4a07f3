//! `/setup/{token}`: the one-time link `serve` prints at its first start (no account yet)
//! creates the owner's account. The form asks the email, a name and the password twice; the
//! account, its ownership of every workspace (of a first `default` one when there is none) and
//! the link's use commit together, then the owner is signed in. The link then answers 404, as
//! does any link once an account exists.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrogram_store::{LinkKind, Role, Store, hash_password, password_problem};
use serde::Deserialize;
use serde_json::{Value, json};

use super::layout::{Frame, Prefs, text};
use super::session::{forbidden, form_token, form_token_matches};
use super::{Dashboard, FIRST_WORKSPACE};

/// The fields of the setup and invite forms.
#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) password: String,
    #[serde(default)]
    pub(super) password_again: String,
    pub(super) form_token: Option<String>,
}

/// Whether `token` is an unused, unexpired setup link and there is no account yet.
async fn usable(store: &Store, token: &str) -> Result<bool, ferrogram_store::Error> {
    let link = store.link(token).await?;
    Ok(matches!(link, Some(l) if l.kind == LinkKind::Setup) && store.account_count().await? == 0)
}

/// The 404 page of a link that cannot be used.
pub(super) fn invalid(dashboard: &Dashboard, prefs: Prefs) -> Response {
    let frame = Frame { prefs, path: "/", person: None };
    dashboard.pages.render(
        StatusCode::NOT_FOUND,
        "message.html",
        &frame,
        json!({ "title_key": "link_invalid", "text_key": "link_invalid_text" }),
    )
}

pub(super) fn unavailable(error: &ferrogram_store::Error) -> Response {
    tracing::error!(%error, "the setup link could not be checked");
    (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer; try again").into_response()
}

fn page(dashboard: &Dashboard, headers: &HeaderMap, token: &str, status: StatusCode, fields: Value) -> Response {
    form_page(dashboard, headers, &format!("/setup/{token}"), status, fields)
}

/// The account form (setup's, or an invite's with its `title_key`, `intro_key`, `workspace`
/// and `role` in `fields`) posting to `path`.
pub(super) fn form_page(
    dashboard: &Dashboard,
    headers: &HeaderMap,
    path: &str,
    status: StatusCode,
    fields: Value,
) -> Response {
    let prefs = Prefs::of(headers);
    let (form_token, set) = form_token(headers, dashboard.secure_cookies);
    let frame = Frame { prefs, path, person: None };
    let mut page = json!({ "form_token": form_token });
    if let (Value::Object(page), Value::Object(fields)) = (&mut page, fields) {
        page.extend(fields);
    }
    let mut response = dashboard.pages.render(status, "setup.html", &frame, page);
    if let Some(set) = set {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// `GET /setup/{token}`: the form, or 404 for a link that cannot be used.
pub async fn form(State(dashboard): State<Dashboard>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    match usable(&dashboard.store, &token).await {
        Ok(true) => page(&dashboard, &headers, &token, StatusCode::OK, json!({})),
        Ok(false) => invalid(&dashboard, Prefs::of(&headers)),
        Err(error) => unavailable(&error),
    }
}

/// What is wrong with the form, as a text key, if anything (the store checks again).
pub(super) fn problem(form: &SetupForm) -> Option<&'static str> {
    let email = form.email.trim();
    let parts: Vec<&str> = email.split('@').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) || email.chars().any(char::is_whitespace) {
        return Some("email_invalid");
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Some("name_invalid");
    }
    if form.password != form.password_again {
        return Some("passwords_differ");
    }
    match password_problem(&form.password) {
        Some(_) if form.password.len() > ferrogram_store::MAX_PASSWORD_BYTES => Some("password_long"),
        Some(_) => Some("password_short"),
        None => None,
    }
}

/// `POST /setup/{token}`: creates the owner and signs them in (303 to `/`); 400 with the form
/// again (email and name kept) when a field is wrong; 404 once the link cannot be used; 403
/// without the form's token. Nothing is created unless everything is.
pub async fn submit(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Response {
    let prefs = Prefs::of(&headers);
    if !form_token_matches(&headers, form.form_token.as_deref()) {
        return forbidden(&dashboard, prefs);
    }
    match usable(&dashboard.store, &token).await {
        Ok(true) => {}
        Ok(false) => return invalid(&dashboard, prefs),
        Err(error) => return unavailable(&error),
    }
    if let Some(key) = problem(&form) {
        let fields = json!({ "email": form.email, "name": form.name, "error": text(prefs.lang, key) });
        return page(&dashboard, &headers, &token, StatusCode::BAD_REQUEST, fields);
    }
    let hash = match hash_password(&form.password).await {
        Ok(hash) => hash,
        Err(error) => {
            let fields = json!({ "email": form.email, "name": form.name, "error": error.to_string() });
            return page(&dashboard, &headers, &token, StatusCode::BAD_REQUEST, fields);
        }
    };
    match create_owner(&dashboard.store, &token, &form, &hash).await {
        Ok(Some(account)) => super::sign_in::start_session(&dashboard, &headers, account, "/").await,
        Ok(None) => invalid(&dashboard, prefs),
        Err(error) => {
            let fields = json!({ "email": form.email, "name": form.name, "error": error.to_string() });
            page(&dashboard, &headers, &token, StatusCode::BAD_REQUEST, fields)
        }
    }
}

/// In one transaction: uses the link, creates the account and makes it owner of every
/// workspace. `None` (nothing done) when the link was used meanwhile or an account appeared.
async fn create_owner(
    store: &Store,
    token: &str,
    form: &SetupForm,
    hash: &ferrogram_store::PasswordHash,
) -> Result<Option<i64>, ferrogram_store::Error> {
    let mut tx = store.transaction().await?;
    let link = tx.use_link(token).await?;
    if !matches!(link, Some(l) if l.kind == LinkKind::Setup) || tx.account_count().await? != 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let Some(account) = tx.create_account(&form.email, &form.name, hash).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    let mut workspaces: Vec<i64> = tx.workspaces().await?.into_iter().map(|w| w.id).collect();
    if workspaces.is_empty() {
        workspaces.push(tx.create_workspace(FIRST_WORKSPACE).await?);
    }
    let actor = format!("account:{}", account.id);
    for workspace in workspaces {
        tx.set_member(workspace, account.id, Role::Owner).await?;
        tx.audit(workspace, &actor, "account.setup", &actor, &json!({ "email": account.email, "role": "owner" }))
            .await?;
    }
    tx.commit().await?;
    Ok(Some(account.id))
}
