//! `/api/v1/bots/{name}/collections…`: the collections a bot's newest file declares and their
//! records, across every scope (each record says whose it is: `scope` and `owner`). Filters
//! and ordering read and compare exactly as a bot file's `query` step does (`where` in the same
//! form, values converted to the field's type, [`ferrogram_engine::apply_query`]'s order).
//! Changes are checked against the declaration like a step's: a value of the wrong type is a 422
//! at its JSON pointer and nothing is changed. Viewers read; editors update, delete and import;
//! every change is written to the audit log. An import is all or nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferrogram_engine::{CollectionSpec, CollectionStore, Filter, Op, Query, Record, Scope, SizeCaps, apply_query};
use ferrogram_schema::{BotFile, Collection, CollectionScope, FieldFilter, RECORD_FIELDS};
use ferrogram_store::{BotRecord, Role, ScopedRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::audit;
use super::auth::Caller;
use super::body::{JsonBody, Params};
use super::bots::{data_id, find};
use super::idempotency::{Created, once};
use super::pagination::{self, Page};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// Records one import may create.
pub const MAX_IMPORT: usize = 10_000;

/// A collection as the bot file declares it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionView {
    pub name: String,
    /// `user`, `chat` or `bot`: whose records they are.
    pub scope: String,
    /// Each declared field's type (`string`, `integer`, `number`, `boolean`, `datetime`,
    /// `list`, `object`).
    pub fields: BTreeMap<String, String>,
    /// How many records it holds, in every scope.
    pub records: u64,
}

/// A record, with whose it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: i64,
    /// `user`, `chat` or `bot`.
    pub scope: String,
    /// The user's or chat's id; `null` for the bot scope.
    pub owner: Option<i64>,
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// The record list's filters, order and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordFilter {
    /// A JSON object as a bot file's `where`: `{"status": "active", "episode": {"gt": 3}}`
    /// (`eq`, `ne`, `lt`, `le`, `gt`, `ge`, `in`, `not_in`); values are converted to the field's type.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// `FIELD`, `FIELD asc` or `FIELD desc` (ties by id); by id when absent.
    #[param(pattern = "^[A-Za-z_][A-Za-z0-9_]*( (asc|desc))?$")]
    pub order_by: Option<String>,
    /// Only records of this user or chat (`owner`'s id).
    pub owner: Option<i64>,
    /// Page size, 1 to 200 (50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The export's format.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (an array of records, as listed) or `csv` (`id,scope,owner,created_at,updated_at`,
    /// then the declared fields; text as is, other values as JSON). `json` when absent.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// Records to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// 1 to 10,000; all are created or none is.
    #[schema(min_items = 1, max_items = 10000)]
    pub records: Vec<ImportRow>,
}

/// One record to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    /// The user's or chat's id for a `user` or `chat` collection; absent for a `bot` one.
    pub owner: Option<i64>,
    /// Its fields, by the declaration (required fields must be there, defaults apply).
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(list_collections))
        .routes(routes!(list_records, import_records))
        .routes(routes!(get_record, update_record, delete_record))
        .routes(routes!(export_records))
}

/// A bot's collection: the bot, its data id, the declaration and the store's spec.
struct Target {
    bot: BotRecord,
    data: Option<u64>,
    name: String,
    collection: Collection,
    spec: CollectionSpec,
}

/// The newest file of the bot (404 when it has none that loads).
async fn file_of(api: &Api, workspace: i64, bot: &BotRecord) -> Result<BotFile, Problem> {
    let current = api.store.current_version(workspace, bot.id).await.map_err(store_failed("reading the bot"))?;
    let current = current.ok_or_else(|| Problem::not_found(format!("{} has no version", bot.name)))?;
    let json = current.source.trim_start_matches('\u{feff}').trim_start().starts_with('{');
    let file_name = if json { "bot.json" } else { "bot.yaml" };
    ferrogram_schema::load_str(&current.source, file_name)
        .map_err(|_| Problem::conflict(format!("the newest version of {} does not load", bot.name)))
}

async fn target(api: &Api, caller: &Caller, name: &str, collection: &str) -> Result<Target, Problem> {
    let bot = find(api, caller, name).await?;
    target_of(api, caller.workspace, bot, collection).await
}

async fn target_of(api: &Api, workspace: i64, bot: BotRecord, collection: &str) -> Result<Target, Problem> {
    let file = file_of(api, workspace, &bot).await?;
    let declared = file.collections.get(collection).cloned();
    let declared =
        declared.ok_or_else(|| Problem::not_found(format!("{} declares no collection {collection}", bot.name)))?;
    let spec = CollectionSpec {
        name: collection.to_owned(),
        searchable: declared.search.clone(),
        indexed: declared.index.clone(),
    };
    Ok(Target { data: data_id(&bot), bot, name: collection.to_owned(), collection: declared, spec })
}

/// The users (and private chats) owning a record of the workspace's `bot`'s `collection` that
/// matches `filter` (a `where` object, as the record list's `?where=`), lowest id first: a
/// broadcast's audience. A collection the newest file does not declare is a 404, a bad `where`
/// a 400 naming `where`; a `bot` collection's records have no owner.
pub(crate) async fn owners_matching(
    api: &Api,
    workspace: i64,
    bot: BotRecord,
    collection: &str,
    filter: Option<&Value>,
) -> Result<Vec<i64>, Problem> {
    let target = target_of(api, workspace, bot, collection).await?;
    let filters = filter.map(|f| target.filters(&f.to_string())).transpose()?.unwrap_or_default();
    let mut owners = std::collections::HashMap::new();
    let records: Vec<Record> = target
        .records(api)
        .await?
        .into_iter()
        .filter_map(|r| match r.scope {
            Scope::User(id) | Scope::Chat(id) if id > 0 => {
                owners.insert(r.record.id, id);
                Some(r.record)
            }
            _ => None,
        })
        .collect();
    let query = Query { filters, order_by: None, limit: u32::MAX, offset: 0 };
    let mut found: Vec<i64> = apply_query(records, &query).iter().filter_map(|r| owners.get(&r.id).copied()).collect();
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

fn scope_parts(scope: Scope) -> (&'static str, Option<i64>) {
    match scope {
        Scope::User(id) => ("user", Some(id)),
        Scope::Chat(id) => ("chat", Some(id)),
        Scope::Bot => ("bot", None),
    }
}

fn view(scope: Scope, record: Record) -> RecordView {
    let (scope, owner) = scope_parts(scope);
    RecordView {
        id: record.id,
        scope: scope.to_owned(),
        owner,
        fields: record.fields,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

impl Target {
    /// A value converted to `field`'s type (declared, or `id`, `created_at`, `updated_at`).
    fn typed(&self, field: &str, value: &Value) -> Result<Value, String> {
        if !self.collection.fields.contains_key(field) && !RECORD_FIELDS.contains(&field) {
            return Err(format!("{} has no field {field:?}", self.name));
        }
        self.collection.typed(field, value)
    }

    /// Fields to write, checked as `insert`'s and `update`'s are; the errors at `pointer/FIELD`.
    fn fields(&self, given: &Map<String, Value>, pointer: &str, errors: &mut Vec<FieldError>) -> Map<String, Value> {
        let mut out = Map::new();
        for (field, value) in given {
            let at = format!("{pointer}/{}", field.replace('~', "~0").replace('/', "~1"));
            if RECORD_FIELDS.contains(&field.as_str()) {
                errors.push(FieldError::at(at, format!("{field} is set by Ferrogram")));
                continue;
            }
            if !self.collection.fields.contains_key(field) {
                errors.push(FieldError::at(at, format!("{} has no field {field:?}", self.name)));
                continue;
            }
            match self.typed(field, value) {
                Ok(Value::Null) if self.collection.fields.get(field).is_some_and(|f| f.required()) => {
                    errors.push(FieldError::at(at, format!("{field} is required")));
                }
                Ok(typed) => {
                    out.insert(field.clone(), typed);
                }
                Err(why) => errors.push(FieldError::at(at, why)),
            }
        }
        out
    }

    /// The scope of a new record of `owner`.
    fn scope_of(&self, owner: Option<i64>) -> Result<Scope, String> {
        match (self.collection.scope, owner) {
            (CollectionScope::Bot, None) => Ok(Scope::Bot),
            (CollectionScope::Bot, Some(_)) => Err("a bot collection's records have no owner".into()),
            (CollectionScope::User, Some(id)) => Ok(Scope::User(id)),
            (CollectionScope::Chat, Some(id)) => Ok(Scope::Chat(id)),
            (scope, None) => Err(format!("the {} id the record belongs to is needed", scope.as_str())),
        }
    }

    async fn records(&self, api: &Api) -> Result<Vec<ScopedRecord>, Problem> {
        let Some(data) = self.data else { return Ok(Vec::new()) };
        api.store.collection_records(data, &self.name).await.map_err(store_failed("reading the records"))
    }

    async fn record(&self, api: &Api, id: &str) -> Result<(u64, ScopedRecord), Problem> {
        let unknown = || Problem::not_found(format!("{} has no record {id}", self.name));
        let data = self.data.ok_or_else(unknown)?;
        let id = id.parse::<i64>().map_err(|_| unknown())?;
        let found = api.store.collection_record(data, &self.name, id).await;
        Ok((data, found.map_err(store_failed("reading the record"))?.ok_or_else(unknown)?))
    }

    /// A `where` object as the store's filters (400 naming the parameter when it is not one).
    fn filters(&self, text: &str) -> Result<Vec<Filter>, Problem> {
        let bad = |why: String| {
            Problem::bad_request(format!("where: {why}")).with_errors(vec![FieldError::parameter("where", why)])
        };
        let parsed: BTreeMap<String, FieldFilter> =
            serde_json::from_str(text).map_err(|e| bad(format!("not a JSON object of conditions: {e}")))?;
        let mut out = Vec::new();
        for (field, filter) in parsed {
            let typed = |value: &Value| self.typed(&field, value).map_err(|why| bad(format!("{field}: {why}")));
            match filter {
                FieldFilter::Equals(value) => {
                    out.push(Filter { field: field.clone(), op: Op::Eq, value: typed(&value)? })
                }
                FieldFilter::Compare(comparison) => {
                    for (name, value) in comparison.ops() {
                        let (op, value) = match name {
                            "in" | "not_in" => {
                                let items =
                                    value.as_array().ok_or_else(|| bad(format!("{field}: `{name}` needs a list")))?;
                                let items = items.iter().map(typed).collect::<Result<Vec<_>, _>>()?;
                                (if name == "in" { Op::In } else { Op::NotIn }, Value::Array(items))
                            }
                            other => {
                                let op = Op::from_name(other)
                                    .ok_or_else(|| bad(format!("{field}: no operator `{other}`")))?;
                                (op, typed(value)?)
                            }
                        };
                        out.push(Filter { field: field.clone(), op, value });
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `FIELD`, `FIELD asc`, `FIELD desc`, of a declared field or `id`, `created_at`, `updated_at`.
fn order_by(target: &Target, order: &str) -> Result<(String, bool), Problem> {
    let bad = |why: String| {
        Problem::bad_request(format!("order_by: {why}")).with_errors(vec![FieldError::parameter("order_by", why)])
    };
    let mut words = order.split_whitespace();
    let field = words.next().ok_or_else(|| bad("empty".into()))?;
    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(bad(format!("{other:?} is not asc or desc"))),
    };
    if words.next().is_some() {
        return Err(bad("FIELD, FIELD asc or FIELD desc".into()));
    }
    if !target.collection.fields.contains_key(field) && !RECORD_FIELDS.contains(&field) {
        return Err(bad(format!("{} has no field {field:?}", target.name)));
    }
    Ok((field.to_owned(), descending))
}

/// The collections the bot's newest file declares, with how many records each holds.
#[utoipa::path(get, path = "/api/v1/bots/{name}/collections", tag = "collections", params(("name" = String, Path)),
    responses((status = 200, body = Vec<CollectionView>)))]
async fn list_collections(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<CollectionView>>, Problem> {
    Ok(Json(collections(&api, &caller, &name).await?))
}

/// The collections the workspace's bot `name`'s newest file declares (any role).
pub(crate) async fn collections(api: &Api, caller: &Caller, name: &str) -> Result<Vec<CollectionView>, Problem> {
    caller.require(Role::Viewer)?;
    let bot = find(api, caller, name).await?;
    let file = file_of(api, caller.workspace, &bot).await?;
    let mut views = Vec::new();
    for (collection, declared) in &file.collections {
        let records = match data_id(&bot) {
            Some(data) => api.store.collection_records(data, collection).await.map_err(store_failed("counting"))?.len(),
            None => 0,
        };
        views.push(CollectionView {
            name: collection.clone(),
            scope: declared.scope.as_str().to_owned(),
            fields: declared.fields.iter().map(|(f, d)| (f.clone(), d.kind().as_str().to_owned())).collect(),
            records: records as u64,
        });
    }
    Ok(views)
}

/// The collection's records, filtered and ordered as a bot file's `query` step does. The cursor
/// counts records already given, so a page continues the same order.
#[utoipa::path(get, path = "/api/v1/bots/{name}/collections/{collection}/records", tag = "collections",
    params(("name" = String, Path), ("collection" = String, Path), RecordFilter),
    responses((status = 200, body = Page<RecordView>)))]
async fn list_records(
    State(api): State<Api>,
    caller: Caller,
    Path((name, collection)): Path<(String, String)>,
    Params(filter): Params<RecordFilter>,
) -> Result<Json<Page<RecordView>>, Problem> {
    Ok(Json(records(&api, &caller, &name, &collection, &filter).await?))
}

/// A page of the records of the workspace's bot `name`'s `collection` (any role), filtered and
/// ordered as the list route's.
pub(crate) async fn records(
    api: &Api,
    caller: &Caller,
    name: &str,
    collection: &str,
    filter: &RecordFilter,
) -> Result<Page<RecordView>, Problem> {
    caller.require(Role::Viewer)?;
    let limit = pagination::limit(filter.limit)?;
    let offset = pagination::key_of(filter.cursor.as_deref())?.unwrap_or(0);
    let offset = u32::try_from(offset).map_err(|_| {
        Problem::bad_request("the cursor is not one this API gave")
            .with_errors(vec![FieldError::parameter("cursor", "use the next_cursor of the previous page")])
    })?;
    let target = target(api, caller, name, collection).await?;
    let filters = filter.filter.as_deref().map(|text| target.filters(text)).transpose()?.unwrap_or_default();
    let order_by = filter.order_by.as_deref().map(|o| order_by(&target, o)).transpose()?;
    let mut scopes = std::collections::HashMap::new();
    let records: Vec<Record> = target
        .records(api)
        .await?
        .into_iter()
        .filter(|r| filter.owner.is_none() || scope_parts(r.scope).1 == filter.owner)
        .map(|r| {
            scopes.insert(r.record.id, r.scope);
            r.record
        })
        .collect();
    let query = Query { filters, order_by, limit: limit + 1, offset };
    let page = apply_query(records, &query);
    let more = page.len() > limit as usize;
    let items: Vec<RecordView> = page
        .into_iter()
        .take(limit as usize)
        .map(|r| view(scopes.get(&r.id).copied().unwrap_or(Scope::Bot), r))
        .collect();
    let next_cursor = more.then(|| pagination::cursor_after(i64::from(offset) + i64::from(limit)));
    Ok(Page { items, next_cursor })
}

/// One record.
#[utoipa::path(get, path = "/api/v1/bots/{name}/collections/{collection}/records/{id}", tag = "collections",
    params(("name" = String, Path), ("collection" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = RecordView)))]
async fn get_record(
    State(api): State<Api>,
    caller: Caller,
    Path((name, collection, id)): Path<(String, String, String)>,
) -> Result<Json<RecordView>, Problem> {
    Ok(Json(record(&api, &caller, &name, &collection, &id).await?))
}

/// The record `id` of the workspace's bot `name`'s `collection` (any role).
pub(crate) async fn record(
    api: &Api,
    caller: &Caller,
    name: &str,
    collection: &str,
    id: &str,
) -> Result<RecordView, Problem> {
    caller.require(Role::Viewer)?;
    let target = target(api, caller, name, collection).await?;
    let (_, found) = target.record(api, id).await?;
    Ok(view(found.scope, found.record))
}

/// Sets fields of a record (editor): the body is an object of declared fields and their new
/// values, converted to the fields' types as an `update` step's; a wrong one is a 422 at its
/// pointer (`/episode`) and nothing is changed. Other fields are kept.
#[utoipa::path(patch, path = "/api/v1/bots/{name}/collections/{collection}/records/{id}", tag = "collections",
    params(("name" = String, Path), ("collection" = String, Path), ("id" = i64, Path)),
    request_body(content = Object, description = "fields to set"),
    responses((status = 200, body = RecordView)))]
async fn update_record(
    State(api): State<Api>,
    caller: Caller,
    Path((name, collection, id)): Path<(String, String, String)>,
    body: JsonBody<Map<String, Value>>,
) -> Result<Json<RecordView>, Problem> {
    Ok(Json(update(&api, &caller, &name, &collection, &id, &body.value).await?))
}

/// Sets `fields` of the record `id` of the workspace's bot `name`'s `collection` (editor),
/// checked as the route's: 422 with each wrong field at its pointer, and nothing changed.
pub(crate) async fn update(
    api: &Api,
    caller: &Caller,
    name: &str,
    collection: &str,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<RecordView, Problem> {
    caller.require(Role::Editor)?;
    let target = target(api, caller, name, collection).await?;
    let (data, found) = target.record(api, id).await?;
    let mut errors = Vec::new();
    let patch = target.fields(fields, "", &mut errors);
    if !errors.is_empty() {
        return Err(Problem::invalid("a field is not acceptable: nothing was changed", errors));
    }
    let mut merged = found.record.fields.clone();
    merged.extend(patch.clone());
    if let Err(e) = SizeCaps::default().check_record(collection, &merged) {
        return Err(Problem::invalid(e.to_string(), vec![FieldError::at("", "the record is too large")]));
    }
    let updated = api.store.update(data, &target.spec, found.scope, found.record.id, patch.clone()).await;
    let updated = updated.map_err(|e| Problem::internal("updating the record", e))?;
    let updated = updated.ok_or_else(|| Problem::not_found(format!("{collection} has no record {id}")))?;
    let detail = json!({"bot": target.bot.name, "collection": collection, "id": updated.id, "fields": patch});
    audit(api, caller, "record.update", &format!("{}/{collection}/{}", target.bot.name, updated.id), detail).await;
    Ok(view(found.scope, updated))
}

/// Deletes a record (editor).
#[utoipa::path(delete, path = "/api/v1/bots/{name}/collections/{collection}/records/{id}", tag = "collections",
    params(("name" = String, Path), ("collection" = String, Path), ("id" = i64, Path)),
    responses((status = 204, description = "deleted")))]
async fn delete_record(
    State(api): State<Api>,
    caller: Caller,
    Path((name, collection, id)): Path<(String, String, String)>,
) -> Result<StatusCode, Problem> {
    delete(&api, &caller, &name, &collection, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the record `id` of the workspace's bot `name`'s `collection` (editor).
pub(crate) async fn delete(api: &Api, caller: &Caller, name: &str, collection: &str, id: &str) -> Result<(), Problem> {
    caller.require(Role::Editor)?;
    let target = target(api, caller, name, collection).await?;
    let (data, found) = target.record(api, id).await?;
    let deleted = api.store.delete(data, &target.spec, found.scope, found.record.id).await;
    if !deleted.map_err(|e| Problem::internal("deleting the record", e))? {
        return Err(Problem::not_found(format!("{collection} has no record {id}")));
    }
    let detail = json!({"bot": target.bot.name, "collection": collection, "id": found.record.id,
        "fields": found.record.fields});
    audit(api, caller, "record.delete", &format!("{}/{collection}/{}", target.bot.name, found.record.id), detail).await;
    Ok(())
}

/// Every record of the collection, by id, as JSON (an array of records) or CSV.
#[utoipa::path(get, path = "/api/v1/bots/{name}/collections/{collection}/export", tag = "collections",
    params(("name" = String, Path), ("collection" = String, Path), ExportQuery),
    responses((status = 200, body = Vec<RecordView>, content_type = "application/json"),
        (status = 200, description = "CSV", content_type = "text/csv")))]
async fn export_records(
    State(api): State<Api>,
    caller: Caller,
    Path((name, collection)): Path<(String, String)>,
    Params(export): Params<ExportQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::Viewer)?;
    let csv = match export.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Problem::bad_request(format!("format {other:?} is not json or csv"))
                .with_errors(vec![FieldError::parameter("format", "json or csv")]));
        }
    };
    if !csv {
        let target = target(&api, &caller, &name, &collection).await?;
        let records: Vec<RecordView> =
            target.records(&api).await?.into_iter().map(|r| view(r.scope, r.record)).collect();
        return Ok(Json(records).into_response());
    }
    let mut response = export_csv(&api, &caller, &name, &collection).await?.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    Ok(response)
}

/// Every record of the workspace's bot `name`'s `collection` as CSV (any role):
/// `id,scope,owner,created_at,updated_at`, then the declared fields; text as is, other values
/// as JSON.
pub(crate) async fn export_csv(api: &Api, caller: &Caller, name: &str, collection: &str) -> Result<String, Problem> {
    caller.require(Role::Viewer)?;
    let target = target(api, caller, name, collection).await?;
    let records: Vec<RecordView> = target.records(api).await?.into_iter().map(|r| view(r.scope, r.record)).collect();
    let fields: Vec<&String> = target.collection.fields.keys().collect();
    let mut text = String::from("id,scope,owner,created_at,updated_at");
    for field in &fields {
        text.push(',');
        text.push_str(&csv_cell(field));
    }
    text.push_str("\r\n");
    for record in &records {
        let owner = record.owner.map(|o| o.to_string()).unwrap_or_default();
        text.push_str(&format!("{},{},{owner},{},{}", record.id, record.scope, record.created_at, record.updated_at));
        for field in &fields {
            text.push(',');
            match record.fields.get(*field) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => text.push_str(&csv_cell(s)),
                Some(other) => text.push_str(&csv_cell(&other.to_string())),
            }
        }
        text.push_str("\r\n");
    }
    Ok(text)
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

/// Creates records (editor), all or none: every row is checked first (owner, declared fields,
/// types, required fields; defaults applied), and any error is a 422 listing each failing
/// row's field (`/records/3/fields/episode`) with nothing created. Takes `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/bots/{name}/collections/{collection}/records", tag = "collections",
    params(("name" = String, Path), ("collection" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "repeat-safe creation (24 h)",
            min_length = 1, max_length = 255, pattern = r"^[\t\x20-\x7E]*[\x21-\x7E][\t\x20-\x7E]*$")),
    request_body = ImportRequest,
    responses((status = 201, body = Vec<RecordView>)))]
async fn import_records(
    State(api): State<Api>,
    caller: Caller,
    Path((name, collection)): Path<(String, String)>,
    headers: HeaderMap,
    body: JsonBody<ImportRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::Editor)?;
    let act = async {
        let target = target(&api, &caller, &name, &collection).await?;
        let rows = &body.value.records;
        if rows.len() > MAX_IMPORT {
            return Err(Problem::invalid(
                format!("at most {MAX_IMPORT} records at once"),
                vec![FieldError::at("/records", format!("{} records", rows.len()))],
            ));
        }
        let data = target.data.ok_or_else(|| {
            Problem::conflict(format!("{name} has not run yet: its data has no bot id to be kept under"))
        })?;
        let mut errors = Vec::new();
        let mut checked = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let at = format!("/records/{index}");
            let scope =
                target.scope_of(row.owner).map_err(|why| errors.push(FieldError::at(format!("{at}/owner"), why)));
            let mut fields = target.fields(&row.fields, &format!("{at}/fields"), &mut errors);
            for (field, declared) in &target.collection.fields {
                if !fields.contains_key(field)
                    && let Some(default) = declared.default()
                {
                    fields.insert(field.clone(), default.clone());
                }
                if declared.required()
                    && fields.get(field).is_none_or(Value::is_null)
                    && !row.fields.contains_key(field)
                {
                    errors.push(FieldError::at(format!("{at}/fields/{field}"), format!("{field} is required")));
                }
            }
            if SizeCaps::default().check_record(&collection, &fields).is_err() {
                errors.push(FieldError::at(format!("{at}/fields"), "the record is too large"));
            }
            if let Ok(scope) = scope {
                checked.push((scope, fields));
            }
        }
        if !errors.is_empty() {
            return Err(Problem::invalid("some records are not acceptable: none was created", errors));
        }
        let created = api.store.import_records(data, &target.spec, checked.clone()).await;
        let created = created.map_err(store_failed("creating the records"))?;
        let views: Vec<RecordView> =
            created.into_iter().zip(checked).map(|(record, (scope, _))| view(scope, record)).collect();
        let ids: Vec<i64> = views.iter().map(|v| v.id).collect();
        let detail = json!({"bot": name, "collection": collection, "created": ids.len(), "ids": ids});
        audit(&api, &caller, "records.import", &format!("{name}/{collection}"), detail).await;
        let body = serde_json::to_value(&views).map_err(|e| Problem::internal("answering", e))?;
        Ok(Created::new(body))
    };
    let key = format!("POST /api/v1/bots/{name}/collections/{collection}/records");
    Ok(once(&api, &caller, &headers, &key, &body.raw, act).await)
}
