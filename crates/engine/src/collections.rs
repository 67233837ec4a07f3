//! Typed data collections that bot files declare, behind [`CollectionStore`] so the same steps
//! run on memory, SQLite and PostgreSQL. Records are JSON objects; the engine checks their
//! types against the declaration before they reach the store.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state::{BoxFuture, Scope, StoreError};

/// One stored record: its id (unique per bot and collection) and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: i64,
    pub fields: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a query compares a field with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The field's value is one of the values of a JSON array.
    In,
    /// The field's value is none of the values of a JSON array.
    NotIn,
}

/// One condition of a query; all conditions must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    pub value: Value,
}

/// Which records of a collection, in which order, how many.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub filters: Vec<Filter>,
    /// Field to sort by and whether descending; by id ascending when absent.
    pub order_by: Option<(String, bool)>,
    pub limit: u32,
    pub offset: u32,
}

/// What a collection looks like to the store: its searchable fields and indexed fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionSpec {
    pub name: String,
    /// Fields the full-text search covers, most important first (earlier fields weigh more).
    pub searchable: Vec<String>,
    /// Fields queries filter or sort by.
    pub indexed: Vec<String>,
}

/// A search result: the record, its relevance (higher is better) and whether every query word
/// matched exactly (after stemming) rather than only as a near match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub record: Record,
    pub score: f64,
    pub exact: bool,
}

/// Records per (bot, collection, scope). A record is only ever visible in the scope it was
/// created in: another user's, chat's or bot's records never come back from any call.
pub trait CollectionStore: Send + Sync + 'static {
    fn create(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        fields: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Record, StoreError>>;
    /// Merges `patch` into the record's fields; `None` if no such record in this scope.
    fn update(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        patch: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    /// `false` if no such record in this scope.
    fn delete(&self, bot: u64, spec: &CollectionSpec, scope: Scope, id: i64)
    -> BoxFuture<'_, Result<bool, StoreError>>;
    fn get(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    fn query(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        query: Query,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>>;
    fn count(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        filters: Vec<Filter>,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Full-text search over the spec's searchable fields: typo-tolerant, stemmed (English and
    /// Russian), best first, at most `limit` hits.
    fn search(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        text: &str,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Hit>, StoreError>>;
}

// ---- Semantics shared by every store ----------------------------------------------------------
//
// The database stores push what they can into SQL and apply the rest with these functions, and
// the memory store uses them for everything, so all stores answer alike.

/// Names that read a record's own columns when the record has no field of that name.
pub const PSEUDO_FIELDS: [&str; 3] = ["id", "created_at", "updated_at"];

/// A field's value for filters and ordering: the record's field, else its `id`, `created_at` or
/// `updated_at`; `None` when absent (which compares as `null`).
pub fn field_value(record: &Record, name: &str) -> Option<Value> {
    if let Some(value) = record.fields.get(name) {
        return Some(value.clone());
    }
    match name {
        "id" => Some(Value::from(record.id)),
        "created_at" => Some(Value::from(record.created_at)),
        "updated_at" => Some(Value::from(record.updated_at)),
        _ => None,
    }
}

/// The rank of a JSON value's type in [`compare_values`]: null (or absent), booleans, numbers,
/// strings, arrays, objects.
pub fn value_kind(value: &Value) -> i64 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// The one order of JSON values every store uses: by type ([`value_kind`]), then booleans
/// `false` first, numbers numerically (as 64-bit floats), strings by code point, arrays and
/// objects by their compact JSON text (code point order).
pub fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    value_kind(a).cmp(&value_kind(b)).then_with(|| match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            serde_json::to_string(a).unwrap_or_default().cmp(&serde_json::to_string(b).unwrap_or_default())
        }
        _ => Ordering::Equal,
    })
}

/// Whether a field's value (`None`: absent, the same as `null`) passes a filter. `eq`/`ne`
/// use [`compare_values`] (so `1` equals `1.0` and an absent field equals `null`); `lt`, `le`,
/// `gt`, `ge` hold only between two booleans, two numbers or two strings; `in` holds when the
/// filter's value is an array with an element equal to the field's.
pub fn filter_matches(filter: &Filter, value: Option<&Value>) -> bool {
    use std::cmp::Ordering;
    let value = value.unwrap_or(&Value::Null);
    let equal = |other: &Value| compare_values(value, other) == Ordering::Equal;
    let ordered = || {
        let kind = value_kind(value);
        (1..=3).contains(&kind) && kind == value_kind(&filter.value)
    };
    match filter.op {
        Op::Eq => equal(&filter.value),
        Op::Ne => !equal(&filter.value),
        Op::Lt => ordered() && compare_values(value, &filter.value) == Ordering::Less,
        Op::Le => ordered() && compare_values(value, &filter.value) != Ordering::Greater,
        Op::Gt => ordered() && compare_values(value, &filter.value) == Ordering::Greater,
        Op::Ge => ordered() && compare_values(value, &filter.value) != Ordering::Less,
        Op::In => filter.value.as_array().is_some_and(|items| items.iter().any(equal)),
        Op::NotIn => !filter.value.as_array().is_some_and(|items| items.iter().any(equal)),
    }
}

/// Whether a record passes every filter.
pub fn record_matches(record: &Record, filters: &[Filter]) -> bool {
    filters.iter().all(|filter| filter_matches(filter, field_value(record, &filter.field).as_ref()))
}

/// The order of a query's answer: by the `order_by` field ([`compare_values`], absent as
/// `null`; reversed when descending), ties (and no `order_by`) by id ascending.
pub fn compare_records(a: &Record, b: &Record, order_by: Option<&(String, bool)>) -> std::cmp::Ordering {
    let by_field = order_by.map_or(std::cmp::Ordering::Equal, |(field, descending)| {
        let (x, y) = (field_value(a, field).unwrap_or(Value::Null), field_value(b, field).unwrap_or(Value::Null));
        let order = compare_values(&x, &y);
        if *descending { order.reverse() } else { order }
    });
    by_field.then_with(|| a.id.cmp(&b.id))
}

/// Filters, orders and pages records as every store does (`limit` 0: no limit).
pub fn apply_query(mut records: Vec<Record>, query: &Query) -> Vec<Record> {
    records.retain(|record| record_matches(record, &query.filters));
    records.sort_by(|a, b| compare_records(a, b, query.order_by.as_ref()));
    let limit = if query.limit == 0 { usize::MAX } else { query.limit as usize };
    records.into_iter().skip(query.offset as usize).take(limit).collect()
}

/// The text a field's value contributes to search: strings as they are, numbers as written,
/// the items of arrays and the values of objects; booleans and `null` contribute nothing.
pub fn value_text(value: &Value) -> String {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            Value::Object(map) => map.values().for_each(|item| collect(item, out)),
            Value::Null | Value::Bool(_) => {}
        }
    }
    let mut out = Vec::new();
    collect(value, &mut out);
    out.join(" ")
}

/// The search terms of a record: per searchable field (by its index in `spec.searchable`) that
/// has any, its terms. Stores keep these and feed them to [`search::rank`].
/// A field listed twice counts at its first place.
pub fn record_terms(spec: &CollectionSpec, fields: &Map<String, Value>) -> Vec<(usize, search::FieldTerms)> {
    spec.searchable
        .iter()
        .enumerate()
        .filter(|(index, name)| !spec.searchable[..*index].contains(name))
        .filter_map(|(index, name)| {
            let terms = search::field_terms(&value_text(fields.get(name)?));
            (terms.len > 0).then_some((index, terms))
        })
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Collections in memory: for the sandbox, tests and runs without a database. Same semantics
/// as the database stores (the same filter, order and search functions).
#[derive(Debug, Default)]
pub struct MemoryCollections {
    inner: parking_lot::Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    /// The last id given out per (bot, collection): ids are never reused.
    last_ids: std::collections::HashMap<(u64, String), i64>,
    records: std::collections::HashMap<(u64, String, Scope), std::collections::BTreeMap<i64, Record>>,
}

impl MemoryCollections {
    pub fn new() -> Self {
        Self::default()
    }

    fn search_now(&self, bot: u64, spec: &CollectionSpec, scope: Scope, text: &str, limit: u32) -> Vec<Hit> {
        let inner = self.inner.lock();
        let Some(records) = inner.records.get(&(bot, spec.name.clone(), scope)) else { return Vec::new() };
        let mut corpus =
            search::Corpus { records: records.len() as u64, field_lengths: vec![0; spec.searchable.len()] };
        let mut all = Vec::new();
        let mut vocabulary = std::collections::BTreeSet::new();
        for record in records.values() {
            for (field, terms) in record_terms(spec, &record.fields) {
                corpus.field_lengths[field] += u64::from(terms.len);
                for (term, frequency) in terms.frequencies {
                    vocabulary.insert(term.clone());
                    all.push(search::Posting { record: record.id, field, term, frequency, field_len: terms.len });
                }
            }
        }
        let Some(plan) = search::Plan::new(text, vocabulary.iter().map(String::as_str)) else { return Vec::new() };
        all.retain(|p| plan.terms.contains(&p.term));
        let ranked = plan.rank(&corpus, &all, limit as usize);
        ranked
            .into_iter()
            .filter_map(|r| Some(Hit { record: records.get(&r.record)?.clone(), score: r.score, exact: r.exact }))
            .collect()
    }
}

impl CollectionStore for MemoryCollections {
    fn create(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        fields: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Record, StoreError>> {
        let mut inner = self.inner.lock();
        let last_id = inner.last_ids.entry((bot, spec.name.clone())).or_default();
        *last_id += 1;
        let at = now();
        let record = Record { id: *last_id, fields, created_at: at, updated_at: at };
        inner.records.entry((bot, spec.name.clone(), scope)).or_default().insert(record.id, record.clone());
        Box::pin(async move { Ok(record) })
    }

    fn update(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        patch: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        let mut inner = self.inner.lock();
        let record = inner.records.get_mut(&(bot, spec.name.clone(), scope)).and_then(|records| records.get_mut(&id));
        let updated = record.map(|record| {
            record.fields.extend(patch);
            record.updated_at = now();
            record.clone()
        });
        Box::pin(async move { Ok(updated) })
    }

    fn delete(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inner = self.inner.lock();
        let removed = inner
            .records
            .get_mut(&(bot, spec.name.clone(), scope))
            .is_some_and(|records| records.remove(&id).is_some());
        Box::pin(async move { Ok(removed) })
    }

    fn get(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        let inner = self.inner.lock();
        let record = inner.records.get(&(bot, spec.name.clone(), scope)).and_then(|records| records.get(&id)).cloned();
        Box::pin(async move { Ok(record) })
    }

    fn query(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        query: Query,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        let inner = self.inner.lock();
        let all: Vec<Record> = inner
            .records
            .get(&(bot, spec.name.clone(), scope))
            .map(|records| records.values().cloned().collect())
            .unwrap_or_default();
        drop(inner);
        Box::pin(async move { Ok(apply_query(all, &query)) })
    }

    fn count(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        filters: Vec<Filter>,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        let inner = self.inner.lock();
        let count = inner
            .records
            .get(&(bot, spec.name.clone(), scope))
            .map_or(0, |records| records.values().filter(|r| record_matches(r, &filters)).count() as u64);
        Box::pin(async move { Ok(count) })
    }

    fn search(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        text: &str,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Hit>, StoreError>> {
        let hits = self.search_now(bot, spec, scope, text, limit);
        Box::pin(async move { Ok(hits) })
    }
}
