//! Typed data collections (`collections:`), the steps that read and write them (`insert`,
//! `update`, `remove`, `query`, `count`, `search`), and outgoing event webhooks (`webhooks:`
//! and the `emit` step). Part of the model: the JSON Schema and docs/schema.md are generated from
//! these types too, so each doc comment is user-facing documentation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A collection: typed records the bot keeps, per user, per chat or for the whole bot:
/// `collections: {subscriptions: {scope: user, fields: {title: string, episode: integer}}}`.
/// Every record also has `id` (a number given by Ferrogram), `created_at` and `updated_at`
/// (unix seconds), which are not declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    /// Whose records they are: each user (`user`), each chat (`chat`: a group shares them) or
    /// the whole bot (`bot`). A step only ever sees the records of its own user or chat.
    pub scope: CollectionScope,
    /// The fields of a record, by name: a type (`title: string`) or a declaration
    /// (`title: {type: string, required: true, max_length: 200}`).
    pub fields: BTreeMap<String, DataField>,
    /// Fields that `where` filters and `order_by` use often: the store keeps an index of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<String>,
    /// Fields the `search` step looks in (typo-tolerant full-text search), most important first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
}

impl Collection {
    /// A record value of `field`, converted to its type ([`coerce`]): a declared field's, or
    /// one of the fields every record has ([`RECORD_FIELDS`]: `id` an integer, `created_at` and
    /// `updated_at` datetimes). `Err` says why, without the collection's name: for a field it
    /// does not have, "no field \"NAME\"".
    pub fn typed(&self, field: &str, value: &Value) -> Result<Value, String> {
        let (kind, max_length) = match self.fields.get(field) {
            Some(declared) => (declared.kind(), declared.max_length()),
            None => match field {
                "id" => (DataType::Integer, None),
                "created_at" | "updated_at" => (DataType::Datetime, None),
                _ => return Err(format!("no field {field:?}")),
            },
        };
        coerce(value, kind, max_length)
    }
}

/// Whose records a collection keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectionScope {
    /// One set of records per user (the user who sent the update).
    User,
    /// One set of records per chat (a group's members share them).
    Chat,
    /// One set of records for the whole bot (every user and job sees them).
    Bot,
}

impl CollectionScope {
    /// `user`, `chat` or `bot`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionScope::User => "user",
            CollectionScope::Chat => "chat",
            CollectionScope::Bot => "bot",
        }
    }
}

/// A field of a collection: its type alone, or a declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DataField {
    Type(DataType),
    Full(DataFieldSpec),
}

impl DataField {
    /// The field's type.
    pub fn kind(&self) -> DataType {
        match self {
            DataField::Type(kind) => *kind,
            DataField::Full(spec) => spec.kind,
        }
    }

    /// Whether every record must have a value for it.
    pub fn required(&self) -> bool {
        matches!(self, DataField::Full(spec) if spec.required)
    }

    /// The value a new record gets when `insert` does not give one.
    pub fn default(&self) -> Option<&Value> {
        match self {
            DataField::Type(_) => None,
            DataField::Full(spec) => spec.default.as_ref(),
        }
    }

    /// The longest text (characters) of a `string` field.
    pub fn max_length(&self) -> Option<u32> {
        match self {
            DataField::Type(_) => None,
            DataField::Full(spec) => spec.max_length,
        }
    }
}

/// A field's declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataFieldSpec {
    /// What the field holds.
    #[serde(rename = "type")]
    pub kind: DataType,
    /// Whether `insert` must give a value (or the field have a `default`).
    #[serde(default)]
    pub required: bool,
    /// The value of a new record that does not give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The longest text, in characters (`string` fields only); a longer value fails the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
}

/// The type of a collection field. Values given to a step are converted to it (the text `"42"`
/// to the integer 42) or fail the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    /// A text.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A moment, as unix seconds (a whole number; an ISO 8601 text is converted).
    Datetime,
    /// A list of values.
    List,
    /// A mapping of names to values.
    Object,
}

impl DataType {
    /// The type's name as written in a bot file.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Number => "number",
            DataType::Boolean => "boolean",
            DataType::Datetime => "datetime",
            DataType::List => "list",
            DataType::Object => "object",
        }
    }
}

/// The fields every record has without declaring them.
pub const RECORD_FIELDS: &[&str] = &["id", "created_at", "updated_at"];

/// A condition on one field: a value it must equal (`status: active`, or a template
/// `user_id: "{{ from.id }}"`), or comparisons (`episode: {gt: 3, le: 12}`,
/// `status: {in: [new, seen]}`); all must hold.
// Filters are read once per bot load; boxing `Compare` would only cost users of the model a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldFilter {
    Compare(Comparison),
    Equals(Value),
}

/// Comparisons of a field with values (each a value or a template). Several together must all
/// hold: `{ge: 1, lt: 10}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// Equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<Value>,
    /// Not equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ne: Option<Value>,
    /// Less than.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<Value>,
    /// Less than or equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<Value>,
    /// Greater than.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<Value>,
    /// Greater than or equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<Value>,
    /// One of a list's values: a list, or an expression giving one (`"{{ user.ids }}"`).
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Value>,
    /// None of a list's values: a list, or an expression giving one
    /// (`"{{ seen | map(attribute='to') | list }}"`); an empty list excludes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Value>,
}

impl Comparison {
    /// The comparisons given, with their names (`eq`, `ne`, `lt`, `le`, `gt`, `ge`, `in`,
    /// `not_in`).
    pub fn ops(&self) -> Vec<(&'static str, &Value)> {
        [
            ("eq", &self.eq),
            ("ne", &self.ne),
            ("lt", &self.lt),
            ("le", &self.le),
            ("gt", &self.gt),
            ("ge", &self.ge),
            ("in", &self.one_of),
            ("not_in", &self.not_in),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
        .collect()
    }
}

/// `insert`: adds a record. Its result (`result`, and the name given by `as`) is the record,
/// with its `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Insert {
    /// The collection.
    pub collection: String,
    /// The record's fields: values, or templates (a template that is only one `{{ … }}`
    /// keeps the type of what it gives). Fields not given take their `default`.
    pub values: BTreeMap<String, Value>,
    /// A name for the result, readable by the next steps' templates: `as: sub` then
    /// `{{ sub.id }}`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// `update`: changes the given fields of the records that match (one by `id`, or all those
/// `where` selects). Its result is the number of records changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// The collection.
    pub collection: String,
    /// The record's id (a number or a template: `"{{ callback.rest }}"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// Conditions the records must meet, by field.
    #[serde(rename = "where", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FieldFilter>,
    /// The new values, by field (values or templates).
    pub set: BTreeMap<String, Value>,
    /// A name for the result (the number of records changed).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// `remove`: deletes the records that match (one by `id`, or all those `where` selects). Its
/// result is the number of records deleted. (`delete` deletes a Telegram message.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Remove {
    /// The collection.
    pub collection: String,
    /// The record's id (a number or a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// Conditions the records must meet, by field.
    #[serde(rename = "where", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FieldFilter>,
    /// A name for the result (the number of records deleted).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// `query`: reads records. Its result is the list of records (each with its `id`), or with
/// `first: true` the first one (or nothing: `none`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryStep {
    /// The collection.
    pub collection: String,
    /// The record's id (a number or a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// Conditions the records must meet, by field.
    #[serde(rename = "where", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FieldFilter>,
    /// The order: a field, then `asc` (the default) or `desc`: `created_at desc`. Without it,
    /// records come in the order they were inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// The most records returned (1 to 1000; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Records skipped first, for pages (a number or a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Value>,
    /// Only the first record (or `none`) instead of a list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first: bool,
    /// Only records within a distance of a point, nearest first (unless `order_by` says
    /// otherwise), each with its `distance_km`: `near: {lat: "{{ me.lat }}", lon: "{{ me.lon }}",
    /// within_km: 100}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near: Option<Box<Near>>,
    /// A name for the result: `as: subs` then `for_each: {in: subs, …}`.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// `near` of a `query`: the records whose coordinates (two `number` fields, `lat` and `lon`
/// unless `fields` names others) are within `within_km` of a point. The other conditions are
/// checked first, by the store; at most 10,000 of the records they select are measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Near {
    /// The point's latitude, in degrees (a number or a template).
    pub lat: Value,
    /// The point's longitude, in degrees (a number or a template).
    pub lon: Value,
    /// The greatest distance, in kilometres (a number or a template).
    pub within_km: Value,
    /// The record's latitude and longitude fields (default `[lat, lon]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<[String; 2]>,
}

impl Near {
    /// The record's latitude and longitude fields.
    pub fn field_names(&self) -> (&str, &str) {
        match &self.fields {
            Some([lat, lon]) => (lat, lon),
            None => ("lat", "lon"),
        }
    }
}

/// `count`: the number of records that match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Count {
    /// The collection.
    pub collection: String,
    /// Conditions the records must meet, by field.
    #[serde(rename = "where", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, FieldFilter>,
    /// A name for the result (a number).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// `search`: full-text search in the collection's `search` fields, tolerant of typos, best
/// first. Its result is a list of hits: `{id, record, score, exact}` (`exact`: every word
/// matched without a typo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The collection (it must declare `search` fields).
    pub collection: String,
    /// What to look for (a template): `"{{ command.payload }}"`.
    pub text: String,
    /// The most hits returned (1 to 100; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// A name for the result (the list of hits).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

/// The default `limit` of `query`.
pub const DEFAULT_QUERY_LIMIT: u32 = 100;
/// The largest `limit` of `query`.
pub const MAX_QUERY_LIMIT: u32 = 1000;
/// The default `limit` of `search`.
pub const DEFAULT_SEARCH_LIMIT: u32 = 10;
/// The largest `limit` of `search`.
pub const MAX_SEARCH_LIMIT: u32 = 100;

/// A receiver of the events the bot `emit`s: each event is POSTed to it as JSON
/// `{event, bot, chat_id, user_id, data, at}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The URL (`http://` or `https://`), or `${ENV_VAR}` parts the server's environment fills
    /// in (a webhook whose variable is unset, or not one the operator lets bot files read with
    /// `--bot-env`, is skipped, with a log line). Private, loopback and
    /// link-local addresses are refused unless the operator allows that host and port, as for
    /// the `http` step.
    pub url: String,
    /// The events it receives; all of them when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// A secret, usually `${ENV_VAR}` (read as in `url`): each request then has the header
    /// `X-Ferrogram-Signature: sha256=<hex>`, the HMAC-SHA256 of the body with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `emit`: sends an event to the `webhooks` that receive it, without waiting for them (failed
/// deliveries are retried, then logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Emit {
    /// The event's name: `subscribed`.
    pub event: String,
    /// The event's data (any value; each string in it is a template, and a string that is only
    /// one `{{ … }}` keeps the type of what it gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The header that carries an event's signature.
pub const SIGNATURE_HEADER: &str = "X-Ferrogram-Signature";

/// Converts a value given to a collection step to the field's type: the text `"42"` to the
/// integer 42, `"true"` to `true`, an ISO 8601 date to unix seconds… `null` stays `null` (no
/// value). The error says why, in words.
pub fn coerce(value: &Value, kind: DataType, max_length: Option<u32>) -> Result<Value, String> {
    let shown = || {
        let text = value.to_string();
        if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
    };
    let fail = || format!("{} is not {}", shown(), article(kind));
    if value.is_null() {
        return Ok(Value::Null);
    }
    let text = value.as_str().map(str::trim);
    let out = match kind {
        DataType::String => match value {
            Value::String(s) => Value::String(s.clone()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            _ => return Err(fail()),
        },
        DataType::Integer => {
            let n = match value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
                Value::String(_) => text.and_then(|t| {
                    t.parse::<i64>().ok().or_else(|| {
                        t.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64)
                    })
                }),
                _ => None,
            };
            Value::from(n.ok_or_else(fail)?)
        }
        DataType::Number => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(_) => text.and_then(|t| t.parse::<f64>().ok()),
                _ => None,
            };
            let n = n.filter(|n| n.is_finite()).ok_or_else(fail)?;
            if n.fract() == 0.0 && n.abs() < 9e15 { Value::from(n as i64) } else { Value::from(n) }
        }
        DataType::Boolean => match value {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(_) => match text.map(str::to_ascii_lowercase).as_deref() {
                Some("true") => Value::Bool(true),
                Some("false") => Value::Bool(false),
                _ => return Err(fail()),
            },
            _ => return Err(fail()),
        },
        DataType::Datetime => {
            let n = match value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
                Value::String(_) => text.and_then(|t| t.parse::<i64>().ok().or_else(|| parse_iso8601(t))),
                _ => None,
            };
            Value::from(n.ok_or_else(fail)?)
        }
        DataType::List => match value {
            Value::Array(items) => Value::Array(items.clone()),
            Value::String(_) => match text.map(serde_json::from_str::<Value>) {
                Some(Ok(Value::Array(items))) => Value::Array(items),
                _ => return Err(fail()),
            },
            _ => return Err(fail()),
        },
        DataType::Object => match value {
            Value::Object(map) => Value::Object(map.clone()),
            Value::String(_) => match text.map(serde_json::from_str::<Value>) {
                Some(Ok(Value::Object(map))) => Value::Object(map),
                _ => return Err(fail()),
            },
            _ => return Err(fail()),
        },
    };
    if let (Some(max), Value::String(s)) = (max_length, &out) {
        let length = s.chars().count();
        if length > max as usize {
            return Err(format!("the text is {length} characters long; at most {max} fit"));
        }
    }
    Ok(out)
}

fn article(kind: DataType) -> &'static str {
    match kind {
        DataType::String => "a text",
        DataType::Integer => "a whole number",
        DataType::Number => "a number",
        DataType::Boolean => "true or false",
        DataType::Datetime => "a date and time (unix seconds or ISO 8601)",
        DataType::List => "a list",
        DataType::Object => "a mapping",
    }
}

/// `2024-05-01`, `2024-05-01T10:30`, `2024-05-01T10:30:00Z`, `2024-05-01 10:30:00+03:00` as unix
/// seconds (no offset: UTC).
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let (date, rest) = text.split_at(text.len().min(10));
    let mut parts = date.split('-');
    let (year, month, day) = (number(parts.next()?)?, number(parts.next()?)?, number(parts.next()?)?);
    if parts.next().is_some() || date.len() != 10 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    let rest = rest.strip_prefix(['T', 't', ' ']).unwrap_or(rest);
    if rest.is_empty() {
        return Some(seconds);
    }
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let mut fields = time.split(':');
    let hour = number(fields.next()?)?;
    let minute = number(fields.next()?)?;
    let second = match fields.next() {
        Some(s) => number(s.split('.').next()?)?,
        None => 0,
    };
    if fields.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    seconds += hour * 3600 + minute * 60 + second;
    match zone {
        "" | "Z" | "z" => {}
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':').unwrap_or((zone.get(1..3)?, zone.get(3..).unwrap_or("00")));
            seconds -= sign * (number(h)? * 3600 + number(m)? * 60);
        }
    }
    Some(seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_coerced_to_field_types() {
        assert_eq!(coerce(&json!("42"), DataType::Integer, None), Ok(json!(42)));
        assert_eq!(coerce(&json!(3.0), DataType::Integer, None), Ok(json!(3)));
        assert!(coerce(&json!("4.5"), DataType::Integer, None).is_err());
        assert!(coerce(&json!("abc"), DataType::Number, None).is_err());
        assert_eq!(coerce(&json!("2.5"), DataType::Number, None), Ok(json!(2.5)));
        assert_eq!(coerce(&json!(7), DataType::String, None), Ok(json!("7")));
        assert_eq!(coerce(&json!("True"), DataType::Boolean, None), Ok(json!(true)));
        assert_eq!(coerce(&json!("[1,2]"), DataType::List, None), Ok(json!([1, 2])));
        assert!(coerce(&json!([1]), DataType::Object, None).is_err());
        assert!(coerce(&json!("abcdef"), DataType::String, Some(3)).is_err());
        assert_eq!(coerce(&json!("2024-01-01"), DataType::Datetime, None), Ok(json!(1_704_067_200)));
        assert_eq!(coerce(&json!("2024-01-01T01:00:00+01:00"), DataType::Datetime, None), Ok(json!(1_704_067_200)));
        assert_eq!(coerce(&json!("1970-01-02T00:00Z"), DataType::Datetime, None), Ok(json!(86_400)));
        assert!(coerce(&json!("yesterday"), DataType::Datetime, None).is_err());
        assert_eq!(coerce(&Value::Null, DataType::Integer, None), Ok(Value::Null));
    }
}
