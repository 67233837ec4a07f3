//! The one definition of how records are filtered, ordered and searched. The memory store
//! applies these functions to everything; the database stores push what they can into SQL and
//! apply the rest with them, and the store suite checks their SQL against these functions on
//! both backends (`crates/store/tests/comparison.rs`).

use serde_json::{Map, Value};

use crate::collection_store::{CollectionSpec, Filter, Op, Query, Record};

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
/// has any, its terms. Stores keep these and feed them to [`ferrogram_search::rank`].
/// A field listed twice counts at its first place.
pub fn record_terms(spec: &CollectionSpec, fields: &Map<String, Value>) -> Vec<(usize, ferrogram_search::FieldTerms)> {
    spec.searchable
        .iter()
        .enumerate()
        .filter(|(index, name)| !spec.searchable[..*index].contains(name))
        .filter_map(|(index, name)| {
            let terms = ferrogram_search::field_terms(&value_text(fields.get(name)?));
            (terms.len > 0).then_some((index, terms))
        })
        .collect()
}
