//! `/invite/{token}`: a one-time invite link (`ferrogram member invite`) creates an account with
//! the link's role in its workspace. The form is setup's; the account, its membership, the
//! audit entry and the link's use commit together, then the new member is signed in. An email
//! that has an account already is refused (sign in with it instead) and the link stays unused.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferrogram_store::{LinkKind, Role, Store, hash_password};
use serde_json::{Value, json};

use super::Dashboard;
use super::layout::{Prefs, text};
use super::session::{forbidden, form_token_matches};
use super::setup::{SetupForm, form_page, invalid, problem, unavailable};

/// The workspace's name and the role of a usable invite.
async fn usable(store: &Store, token: &str) -> Result<Option<(String, Role)>, ferrogram_store::Error> {
    let Some(link) = store.link(token).await? else { return Ok(None) };
    let LinkKind::Invite { workspace, role } = link.kind else { return Ok(None) };
    Ok(store.workspace(workspace).await?.map(|w| (w.name, role)))
}

fn fields(workspace: &str, role: Role, extra: Value) -> Value {
    let mut fields = json!({ "title_key": "invite_title", "intro_key": "invite_intro", "workspace": workspace, "role": role.as_str() });
    if let (Value::Object(fields), Value::Object(extra)) = (&mut fields, extra) {
        fields.extend(extra);
    }
    fields
}

/// `GET /invite/{token}`: the form, or 404 for a link that cannot be used.
pub async fn form(State(dashboard): State<Dashboard>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    match usable(&dashboard.store, &token).await {
        Ok(Some((workspace, role))) => {
            let path = format!("/invite/{token}");
            form_page(&dashboard, &headers, &path, StatusCode::OK, fields(&workspace, role, json!({})))
        }
        Ok(None) => invalid(&dashboard, Prefs::of(&headers)),
        Err(error) => unavailable(&error),
    }
}

/// `POST /invite/{token}`: creates the account with the link's role and signs it in (303 to
/// `/`); 400 with the form again when a field is wrong or the email has an account; 404 once
/// the link cannot be used; 403 without the form's token.
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
    let (workspace, role) = match usable(&dashboard.store, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid(&dashboard, prefs),
        Err(error) => return unavailable(&error),
    };
    let path = format!("/invite/{token}");
    let again = |message: &str| {
        let extra = json!({ "email": form.email, "name": form.name, "error": message });
        form_page(&dashboard, &headers, &path, StatusCode::BAD_REQUEST, fields(&workspace, role, extra))
    };
    if let Some(key) = problem(&form) {
        return again(text(prefs.lang, key));
    }
    let hash = match hash_password(&form.password).await {
        Ok(hash) => hash,
        Err(error) => return again(&error.to_string()),
    };
    match join(&dashboard.store, &token, &form, &hash).await {
        Ok(Joined::Account(account)) => super::sign_in::start_session(&dashboard, &headers, account, "/").await,
        Ok(Joined::EmailTaken) => again(text(prefs.lang, "email_taken")),
        Ok(Joined::LinkGone) => invalid(&dashboard, prefs),
        Err(error) => again(&error.to_string()),
    }
}

enum Joined {
    Account(i64),
    EmailTaken,
    LinkGone,
}

/// In one transaction: uses the link, creates the account and gives it the link's role.
async fn join(
    store: &Store,
    token: &str,
    form: &SetupForm,
    hash: &ferrogram_store::PasswordHash,
) -> Result<Joined, ferrogram_store::Error> {
    let mut tx = store.transaction().await?;
    let Some(LinkKind::Invite { workspace, role }) = tx.use_link(token).await?.map(|l| l.kind) else {
        tx.rollback().await?;
        return Ok(Joined::LinkGone);
    };
    let Some(account) = tx.create_account(&form.email, &form.name, hash).await? else {
        tx.rollback().await?;
        return Ok(Joined::EmailTaken);
    };
    if !tx.set_member(workspace, account.id, role).await? {
        tx.rollback().await?;
        return Ok(Joined::LinkGone);
    }
    let actor = format!("account:{}", account.id);
    tx.audit(workspace, &actor, "member.join", &actor, &json!({ "email": account.email, "role": role.as_str() }))
        .await?;
    tx.commit().await?;
    Ok(Joined::Account(account.id))
}
