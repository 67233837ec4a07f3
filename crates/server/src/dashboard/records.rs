//! A record of a bot's collection: its form (`GET …/collections/{collection}/records/{id}`;
//! any role reads it, the fields are editable for an editor), saving it (`POST`, editor) and
//! deleting it after a confirmation (`GET`/`POST …/records/{id}/delete`, editor). The form's
//! text is read per the declared type: a `list` or `object` field's as JSON (text that is not
//! is refused here, next to its field, before anything is asked of the API), any other as text
//! that the API converts to the field's type (`update_record`'s rules: a wrong value is a 422
//! at its field and nothing is changed). Saved and deleted by the REST API's own functions
//! (`api::collections::{update, delete}`: role checked, audited as `record.update` and
//! `record.delete`) after the form's CSRF token is checked.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferrogram_store::Role;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Dashboard;
use super::bot_nav::{bot_context, segment};
use super::bots::ActionForm;
use super::layout::text;
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::collections::{CollectionView, RecordView};

/// The prefix of a field's name in the form (so that no field can be taken for `csrf`).
const FIELD: &str = "f.";

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// The record's path, `…/bots/{name}/collections/{collection}/records/{id}`.
fn record_path(at: &InWorkspace, name: &str, collection: &str, id: &str) -> String {
    format!("{}/bots/{}/collections/{}/records/{}", at.base(), segment(name), segment(collection), segment(id))
}

/// A value as the form shows it: text as is, nothing as nothing, the rest as JSON.
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Whether a field of this type is edited as JSON.
fn is_json(kind: &str) -> bool {
    kind == "list" || kind == "object"
}

/// The collection's declaration and the record, through the API's functions.
async fn load(
    at: &InWorkspace,
    name: &str,
    collection: &str,
    id: &str,
) -> Result<(CollectionView, RecordView), api::problem::Problem> {
    let declared =
        api::collections::collections(&at.api, &at.caller, name).await?.into_iter().find(|c| c.name == collection);
    let declared = declared.ok_or_else(|| api::problem::Problem::not_found(format!("no collection {collection}")))?;
    let record = api::collections::record(&at.api, &at.caller, name, collection, id).await?;
    Ok((declared, record))
}

/// The form's page: `values` the fields' texts, `errors` a message by field.
#[allow(clippy::too_many_arguments)]
fn render(
    dashboard: &Dashboard,
    at: &InWorkspace,
    status: StatusCode,
    name: &str,
    declared: &CollectionView,
    record: &RecordView,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
    notice: Option<&str>,
    whole: Option<&str>,
) -> Response {
    let path = record_path(at, name, &declared.name, &record.id.to_string());
    let fields: Vec<Value> = declared
        .fields
        .iter()
        .map(|(field, kind)| {
            json!({ "name": field, "kind": kind, "json": is_json(kind), "value": values.get(field),
                    "error": errors.get(field) })
        })
        .collect();
    let mut context = bot_context(at, name, "collections");
    context["collection"] = json!(declared.name);
    context["table"] = json!(format!("{}/bots/{}/collections/{}", at.base(), segment(name), segment(&declared.name)));
    context["record"] = json!(record);
    context["fields"] = Value::Array(fields);
    context["has_errors"] = json!(!errors.is_empty() || whole.is_some());
    context["whole_error"] = json!(whole);
    context["notice"] = json!(notice);
    context["action"] = json!(path);
    dashboard.pages.render(status, "record.html", &at.signed.frame(&path), context)
}

/// `GET …/collections/{collection}/records/{id}[?saved=1]` (any role).
pub async fn form(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, collection, id)): Path<(i64, String, String, String)>,
    Query(query): Query<SavedQuery>,
) -> Response {
    let (declared, record) = match load(&at, &name, &collection, &id).await {
        Ok(found) => found,
        Err(problem) => return refusal(&dashboard, &at.signed, &record_path(&at, &name, &collection, &id), &problem),
    };
    let values = declared.fields.keys().map(|f| (f.clone(), shown(record.fields.get(f)))).collect();
    let notice = query.saved.is_some().then(|| text(at.signed.prefs.lang, "record_saved"));
    render(&dashboard, &at, StatusCode::OK, &name, &declared, &record, &values, &BTreeMap::new(), notice, None)
}

/// `POST …/collections/{collection}/records/{id}` (`csrf`, `f.FIELD`…; editor): sets the
/// fields given, then back to the form saying so; a refused field is said next to it (422) and
/// nothing is changed.
pub async fn save(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, collection, id)): Path<(i64, String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let path = record_path(&at, &name, &collection, &id);
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.get("csrf").map(String::as_str)) {
        return refused;
    }
    if let Err(problem) = at.caller.require(Role::Editor) {
        return refusal(&dashboard, &at.signed, &path, &problem);
    }
    let (declared, record) = match load(&at, &name, &collection, &id).await {
        Ok(found) => found,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let lang = at.signed.prefs.lang;
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut patch = Map::new();
    for (field, kind) in &declared.fields {
        let Some(given) = form.get(&format!("{FIELD}{field}")) else { continue };
        values.insert(field.clone(), given.clone());
        let trimmed = given.trim();
        let value = if trimmed.is_empty() {
            Value::Null
        } else if is_json(kind) {
            match serde_json::from_str::<Value>(trimmed) {
                Ok(value) => value,
                Err(error) => {
                    errors.insert(field.clone(), text(lang, "not_json").replace("{why}", &error.to_string()));
                    continue;
                }
            }
        } else {
            Value::String(given.clone())
        };
        patch.insert(field.clone(), value);
    }
    if errors.is_empty() {
        match api::collections::update(&at.api, &at.caller, &name, &collection, &id, &patch).await {
            Ok(_) => return Redirect::to(&format!("{path}?saved=1")).into_response(),
            Err(problem) if problem.status == 422 => {
                for error in &problem.errors {
                    let field = error.pointer.as_deref().unwrap_or("").trim_start_matches('/');
                    let field = field.replace("~1", "/").replace("~0", "~");
                    let at_field = if declared.fields.contains_key(&field) { field } else { String::new() };
                    errors.entry(at_field).or_insert_with(|| error.detail.clone());
                }
                if errors.is_empty() {
                    errors.insert(String::new(), problem.detail.clone());
                }
            }
            Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
        }
    }
    // An error that is no field's (the record as a whole too large) is said above the form.
    let whole = errors.remove("");
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(&dashboard, &at, status, &name, &declared, &record, &values, &errors, None, whole.as_deref())
}

/// `GET …/records/{id}/delete`: the confirmation (editor; 404 for no such record).
pub async fn confirm_delete(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, collection, id)): Path<(i64, String, String, String)>,
) -> Response {
    let path = format!("{}/delete", record_path(&at, &name, &collection, &id));
    if let Err(problem) = at.caller.require(Role::Editor) {
        return refusal(&dashboard, &at.signed, &path, &problem);
    }
    let record = match api::collections::record(&at.api, &at.caller, &name, &collection, &id).await {
        Ok(record) => record,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let mut context = bot_context(&at, &name, "collections");
    context["collection"] = json!(collection);
    context["record"] = json!(record);
    context["fields"] =
        json!(record.fields.iter().map(|(k, v)| json!({"name": k, "value": shown(Some(v))})).collect::<Vec<_>>());
    context["action"] = json!(path);
    context["cancel"] = json!(record_path(&at, &name, &collection, &id));
    dashboard.pages.render(StatusCode::OK, "record_delete.html", &at.signed.frame(&path), context)
}

/// `POST …/records/{id}/delete` (`csrf`; editor): deletes the record, then back to the table.
pub async fn delete(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, collection, id)): Path<(i64, String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let table = format!("{}/bots/{}/collections/{}", at.base(), segment(&name), segment(&collection));
    if let Some(refused) = at.signed.csrf_refusal(&dashboard, form.csrf.as_deref()) {
        return refused;
    }
    match api::collections::delete(&at.api, &at.caller, &name, &collection, &id).await {
        Ok(()) => Redirect::to(&table).into_response(),
        Err(problem) => refusal(&dashboard, &at.signed, &table, &problem),
    }
}
