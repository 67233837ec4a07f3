//! `/w/{workspace}/bots/{name}/collections`: the collections a bot's newest file declares
//! (with their scope, fields and how many records each holds), one collection as a table a
//! page at a time (the API's cursor) filtered by `field = value` (the value read as the
//! field's type, as a bot file's `where`) and sorted by any field, ascending or descending,
//! and its export as CSV. Read by the REST API's own functions (`api::collections::{collections,
//! records, export_csv}`; any role). A record's edit and removal: [`super::records`].

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::bot_nav::{bot_context, segment};
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::collections::RecordFilter;

/// Records a page.
const PAGE: u32 = 50;

/// The table's filter, order and page.
#[derive(Deserialize)]
pub struct TableQuery {
    field: Option<String>,
    value: Option<String>,
    /// `FIELD asc` or `FIELD desc`.
    order_by: Option<String>,
    cursor: Option<String>,
}

/// `GET /w/{workspace}/bots/{name}/collections` (any role).
pub async fn list(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
) -> Response {
    let path = format!("{}/bots/{}/collections", at.base(), segment(&name));
    let collections = match api::collections::collections(&at.api, &at.caller, &name).await {
        Ok(collections) => collections,
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let mut context = bot_context(&at, &name, "collections");
    context["collections"] = json!(collections);
    dashboard.pages.render(StatusCode::OK, "collections.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/bots/{name}/collections/{collection}?field=&value=&order_by=&cursor=`
/// (any role). A filter or order the API refuses is shown above the table (400), not a page
/// of its own.
pub async fn table(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, collection)): Path<(i64, String, String)>,
    Query(query): Query<TableQuery>,
) -> Response {
    let path = format!("{}/bots/{}/collections/{}", at.base(), segment(&name), segment(&collection));
    let declared = match api::collections::collections(&at.api, &at.caller, &name).await {
        Ok(all) => all.into_iter().find(|c| c.name == collection),
        Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
    };
    let Some(declared) = declared else {
        return super::workspace::not_found(&dashboard, &at.signed, &path);
    };
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let field = given(&query.field);
    let value = query.value.clone().unwrap_or_default();
    let order_by = given(&query.order_by);
    let filter = RecordFilter {
        // `{"FIELD": "VALUE"}`: the API converts the text to the field's type.
        filter: field.as_ref().map(|f| json!({ f.as_str(): value.as_str() }).to_string()),
        order_by: order_by.clone(),
        owner: None,
        limit: Some(PAGE),
        cursor: given(&query.cursor),
    };
    let (status, records, next, error) =
        match api::collections::records(&at.api, &at.caller, &name, &collection, &filter).await {
            Ok(page) => (StatusCode::OK, page.items, page.next_cursor, None),
            Err(problem) if problem.status == 400 => {
                let why = problem.errors.first().map_or(problem.detail.clone(), |e| e.detail.clone());
                (StatusCode::BAD_REQUEST, Vec::new(), None, Some(why))
            }
            Err(problem) => return refusal(&dashboard, &at.signed, &path, &problem),
        };
    let link = |order: Option<&str>, cursor: Option<&str>| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(field) = &field {
            query.append_pair("field", field).append_pair("value", &value);
        }
        if let Some(order) = order {
            query.append_pair("order_by", order);
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        let query = query.finish();
        if query.is_empty() { path.clone() } else { format!("{path}?{query}") }
    };
    // Each column's header sorts by it, ascending, or descending when it is sorted ascending.
    let (sorted, descending) = match order_by.as_deref().map(|o| o.split_whitespace().collect::<Vec<_>>()) {
        Some(words) if !words.is_empty() => {
            (Some(words[0].to_owned()), words.get(1).is_some_and(|w| w.eq_ignore_ascii_case("desc")))
        }
        _ => (None, false),
    };
    let columns: Vec<Value> = ["id"]
        .into_iter()
        .map(str::to_owned)
        .chain(declared.fields.keys().cloned())
        .chain(["updated_at".to_owned()])
        .map(|column| {
            let here = sorted.as_deref() == Some(column.as_str());
            let next_order = if here && !descending { format!("{column} desc") } else { format!("{column} asc") };
            json!({
                "name": column,
                "sort": if here { Some(if descending { "descending" } else { "ascending" }) } else { None },
                "href": link(Some(&next_order), None),
            })
        })
        .collect();
    let rows: Vec<Value> = records
        .iter()
        .map(|r| {
            let cells: Vec<String> = declared
                .fields
                .keys()
                .map(|f| match r.fields.get(f) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect();
            json!({ "id": r.id, "scope": r.scope, "owner": r.owner, "cells": cells, "updated_at": r.updated_at })
        })
        .collect();
    let mut context = bot_context(&at, &name, "collections");
    context["collection"] = json!(declared);
    context["columns"] = Value::Array(columns);
    context["rows"] = Value::Array(rows);
    context["filter"] = json!({ "field": field, "value": value, "order_by": order_by });
    context["error"] = json!(error);
    context["next"] = json!(next.map(|cursor| link(order_by.as_deref(), Some(&cursor))));
    context["paged"] = json!(filter.cursor.is_some());
    context["first"] = json!(link(order_by.as_deref(), None));
    context["export"] = json!(format!("{path}/export.csv"));
    context["path"] = json!(path);
    dashboard.pages.render(status, "collection.html", &at.signed.frame(&path), context)
}

/// `GET /w/{workspace}/bots/{name}/collections/{collection}/export.csv` (any role): every
/// record as the API's CSV export, as a download.
pub async fn export(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name, collection)): Path<(i64, String, String)>,
) -> Response {
    let path = format!("{}/bots/{}/collections/{}", at.base(), segment(&name), segment(&collection));
    match api::collections::export_csv(&at.api, &at.caller, &name, &collection).await {
        Ok(text) => {
            let mut response = text.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            // The names are `A-Z a-z 0-9 _ - .` for a bot; a collection's are identifiers.
            let file: String = format!("{name}-{collection}.csv")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(problem) => refusal(&dashboard, &at.signed, &path, &problem),
    }
}
