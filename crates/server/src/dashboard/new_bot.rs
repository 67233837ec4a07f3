//! `/w/{workspace}/bots/new`: a new bot from scratch (a minimal valid file), from a template
//! (each example bot, described in a sentence) or from an uploaded file (YAML or JSON), with its
//! Telegram token pasted once. The token is checked with getMe at the Bot API the host runs
//! token bots against (`BotControl::check_token`: Telegram, or the sandbox under it), then
//! stored encrypted as the bot's own secret in the same transaction that creates the bot, by
//! the REST API's own creation (`api::bots::create`: the file validated as `ferrogram
//! validate` does, the role checked, audited as `bot.create`). It is never put back in a page.
//! Any error is shown next to its field (a file's with line and column) and nothing is saved.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferrogram_store::Role;
use serde_json::{Value, json};

use super::Dashboard;
use super::layout::{Lang, text};
use super::templates::{TEMPLATES, named, scratch};
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::bots::{BotRequest, Format};
use crate::api::problem::{FieldError, Problem};

/// What the form sent (the token is never sent back).
#[derive(Default)]
struct Submitted {
    csrf: Option<String>,
    name: String,
    origin: String,
    file_name: String,
    file: Vec<u8>,
    token: String,
    start_now: bool,
}

/// The form's field errors, by field.
#[derive(Default)]
struct Errors {
    name: Option<String>,
    origin: Option<String>,
    file: Vec<Value>,
    token: Option<String>,
    general: Option<String>,
}

impl Errors {
    fn any(&self) -> bool {
        self.name.is_some()
            || self.origin.is_some()
            || !self.file.is_empty()
            || self.token.is_some()
            || self.general.is_some()
    }

    fn to_json(&self) -> Value {
        json!({ "name": self.name, "origin": self.origin, "file": self.file, "token": self.token, "general": self.general })
    }

    /// The API's refusal of the creation, on the form's fields.
    fn place(&mut self, lang: Lang, problem: &Problem) {
        if problem.status == 409 {
            self.name = Some(text(lang, "name_taken").to_owned());
            return;
        }
        let mut placed = false;
        for error in &problem.errors {
            match error.pointer.as_deref() {
                Some("/name") => self.name = Some(text(lang, "name_bad").to_owned()),
                Some("/token") => self.token = Some(error.detail.clone()),
                Some("/source") if error.severity.as_deref() != Some("warning") => self.file.push(diagnostic(error)),
                _ => continue,
            }
            placed = true;
        }
        if !placed {
            self.general = Some(problem.detail.clone());
        }
    }
}

/// A file's diagnostic as the form shows it.
fn diagnostic(error: &FieldError) -> Value {
    json!({ "line": error.line, "column": error.column, "key": error.key, "detail": error.detail, "hint": error.hint })
}

fn templates(lang: Lang) -> Value {
    TEMPLATES
        .iter()
        .map(|t| json!({ "name": t.name, "description": if lang == Lang::Ru { t.ru } else { t.en } }))
        .collect()
}

fn render(dashboard: &Dashboard, at: &InWorkspace, status: StatusCode, sent: &Submitted, errors: &Errors) -> Response {
    let path = format!("{}/bots/new", at.base());
    let mut context = at.context();
    context["templates"] = templates(at.signed.prefs.lang);
    context["form"] = json!({ "name": sent.name, "origin": sent.origin, "start_now": sent.start_now });
    context["errors"] = errors.to_json();
    context["has_errors"] = json!(errors.any());
    dashboard.pages.render(status, "bot_new.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/bots/new` (editor).
pub async fn form(State(dashboard): State<Dashboard>, at: InWorkspace) -> Response {
    if let Err(problem) = at.caller.require(Role::Editor) {
        return refusal(&dashboard, &at.signed, &format!("{}/bots/new", at.base()), &problem);
    }
    let sent = Submitted { origin: "template:hello".into(), start_now: true, ..Submitted::default() };
    render(&dashboard, &at, StatusCode::OK, &sent, &Errors::default())
}

/// The multipart form's fields; `None` when it is not one.
async fn read(mut multipart: Multipart) -> Option<Submitted> {
    let mut sent = Submitted::default();
    while let Some(field) = multipart.next_field().await.ok()? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            sent.file_name = field.file_name().unwrap_or_default().to_owned();
            sent.file = field.bytes().await.ok()?.to_vec();
            continue;
        }
        let value = field.text().await.ok()?;
        match name.as_str() {
            "csrf" => sent.csrf = Some(value),
            "name" => sent.name = value.trim().to_owned(),
            "origin" => sent.origin = value,
            "token" => sent.token = value.trim().to_owned(),
            "start_now" => sent.start_now = true,
            _ => {}
        }
    }
    Some(sent)
}

/// The file the form asks for, and its format; an error on its field otherwise.
fn source_of(sent: &Submitted, lang: Lang, errors: &mut Errors) -> Option<(String, Format)> {
    match sent.origin.as_str() {
        "scratch" => Some((scratch(&sent.name), Format::Yaml)),
        "upload" => {
            if sent.file.is_empty() {
                errors.origin = Some(text(lang, "file_missing").to_owned());
                return None;
            }
            let Ok(source) = String::from_utf8(sent.file.clone()) else {
                errors.origin = Some(text(lang, "file_not_text").to_owned());
                return None;
            };
            let json = sent.file_name.to_ascii_lowercase().ends_with(".json");
            Some((source, if json { Format::Json } else { Format::Yaml }))
        }
        origin => match origin.strip_prefix("template:").and_then(named) {
            Some(template) => Some((template.source.to_owned(), Format::Yaml)),
            None => {
                errors.origin = Some(text(lang, "pick_template").to_owned());
                None
            }
        },
    }
}

/// `POST /w/{workspace}/bots/new` (multipart: `csrf`, `name`, `origin` = `scratch` |
/// `template:NAME` | `upload`, `file`, `token`, `start_now`): creates the bot, starts it when
/// asked, and goes to the list; with any error, the form again with it (422), nothing saved.
pub async fn submit(State(dashboard): State<Dashboard>, at: InWorkspace, multipart: Multipart) -> Response {
    let path = format!("{}/bots/new", at.base());
    let Some(mut sent) = read(multipart).await else {
        return (StatusCode::BAD_REQUEST, "the form could not be read").into_response();
    };
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, sent.csrf.as_deref()) {
        return refused;
    }
    if let Err(problem) = at.caller.require(Role::Editor) {
        return refusal(&dashboard, &at.signed, &path, &problem);
    }
    let lang = at.signed.prefs.lang;
    let mut errors = Errors::default();
    if sent.name.is_empty()
        && let Some(template) = sent.origin.strip_prefix("template:").and_then(named)
    {
        sent.name = template.name.to_owned();
    }
    let source = source_of(&sent, lang, &mut errors);
    let token = std::mem::take(&mut sent.token);
    if !token.is_empty()
        && let Err(why) = at.api.bots.check_token(&token).await
    {
        errors.token = Some(text(lang, "token_refused").replace("{why}", &why));
    }
    let Some((source, format)) = source.filter(|_| !errors.any()) else {
        return render(&dashboard, &at, StatusCode::UNPROCESSABLE_ENTITY, &sent, &errors);
    };
    let request = BotRequest { name: sent.name.clone(), source, format };
    let token = (!token.is_empty()).then_some(token.as_str());
    if let Err(problem) = api::bots::create(&at.api, &at.caller, &request, token).await {
        if problem.status == 403 {
            return refusal(&dashboard, &at.signed, &path, &problem);
        }
        errors.place(lang, &problem);
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        return render(&dashboard, &at, status, &sent, &errors);
    }
    if sent.start_now
        && let Err(problem) = api::control::act(&at.api, &at.caller, &request.name, "start").await
    {
        tracing::warn!(bot = %request.name, detail = %problem.detail, "a new bot did not start");
    }
    Redirect::to(&format!("{}/bots", at.base())).into_response()
}
