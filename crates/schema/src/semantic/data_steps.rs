//! Checks of the steps that use collections (`insert`, `update`, `remove`, `query`, `count`,
//! `search`) and of `emit`: collections, fields and filters that must exist, literal values that
//! must fit their field's type, `search` on collections with searchable fields, names given with
//! `as`.

use super::Checker;
use super::collections::record_field_type;
use super::util::{is_identifier, json_kind};
use crate::data::{
    Collection, CollectionScope, DataType, FieldFilter, MAX_QUERY_LIMIT, MAX_SEARCH_LIMIT, RECORD_FIELDS, coerce,
};
use crate::source::{push_index, push_key};
use crate::suggest;
use crate::templates::{self, TEMPLATE_FUNCTIONS, TEMPLATE_ROOTS};
use crate::{BotFile, Step};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every name a step of the file gives its result with `as:`.
pub(super) fn locals(bot: &BotFile) -> BTreeSet<String> {
    fn walk(steps: &[Step], out: &mut BTreeSet<String>) {
        for step in steps {
            let name = match step {
                Step::Insert(s) => s.save_as.as_ref(),
                Step::Update(s) => s.save_as.as_ref(),
                Step::Remove(s) => s.save_as.as_ref(),
                Step::Query(s) => s.save_as.as_ref(),
                Step::Count(s) => s.save_as.as_ref(),
                Step::Search(s) => s.save_as.as_ref(),
                Step::Feed(s) => s.save_as.as_ref(),
                Step::Llm(s) => s.save_as.as_ref(),
                Step::If(condition) => {
                    walk(&condition.then, out);
                    walk(&condition.otherwise, out);
                    None
                }
                Step::ForEach(each) => {
                    walk(&each.steps, out);
                    None
                }
                Step::Try(attempt) => {
                    walk(&attempt.steps, out);
                    walk(&attempt.catch, out);
                    None
                }
                _ => None,
            };
            if let Some(name) = name.filter(|n| !TEMPLATE_ROOTS.contains(&n.as_str())) {
                out.insert(name.clone());
            }
        }
    }
    let mut out = BTreeSet::new();
    for handler in bot.on.iter().chain(bot.scenes.values().flat_map(|s| s.on.iter())) {
        walk(&handler.steps, &mut out);
    }
    for scene in bot.scenes.values() {
        walk(&scene.on_enter, &mut out);
        if let Some(form) = &scene.form {
            walk(&form.on_done, &mut out);
            walk(&form.on_cancel, &mut out);
        }
    }
    for job in bot.jobs.values() {
        walk(&job.steps, &mut out);
    }
    out
}

/// A field of a collection as a step sees it: its type and longest text.
#[derive(Clone, Copy)]
struct FieldInfo {
    kind: DataType,
    max_length: Option<u32>,
}

fn is_template(value: &Value) -> bool {
    value.as_str().is_some_and(|s| !templates::is_static(s))
}

impl<'a> Checker<'a> {
    pub(super) fn data_step(&mut self, step: &'a Step, step_path: &str) {
        match step {
            Step::Insert(insert) => {
                let path = push_key(step_path, "insert");
                self.save_as(insert.save_as.as_deref(), &path);
                let Some(collection) = self.collection_ref(&insert.collection, &path) else {
                    self.values_templates(&insert.values, &push_key(&path, "values"));
                    return;
                };
                let values_path = push_key(&path, "values");
                self.values(&insert.collection, collection, &insert.values, &values_path);
                for (field, declared) in &collection.fields {
                    if declared.required() && declared.default().is_none() && !insert.values.contains_key(field) {
                        self.error(
                            &values_path,
                            format!("`{field}` is required in `{}`, and this record lacks it", insert.collection),
                            Some(format!("add `{field}: …` to `values`, or give the field a `default`")),
                        );
                    }
                }
            }
            Step::Update(update) => {
                let path = push_key(step_path, "update");
                self.save_as(update.save_as.as_deref(), &path);
                self.selects(update.id.as_ref(), update.filter.is_empty(), &path, "update");
                let set_path = push_key(&path, "set");
                if update.set.is_empty() {
                    self.error(&set_path, "`set` gives no field to change".into(), None);
                }
                match self.collection_ref(&update.collection, &path) {
                    Some(collection) => {
                        self.id_value(update.id.as_ref(), &path);
                        self.filters(&update.collection, collection, &update.filter, &path);
                        self.values(&update.collection, collection, &update.set, &set_path);
                    }
                    None => self.values_templates(&update.set, &set_path),
                }
            }
            Step::Remove(remove) => {
                let path = push_key(step_path, "remove");
                self.save_as(remove.save_as.as_deref(), &path);
                self.selects(remove.id.as_ref(), remove.filter.is_empty(), &path, "remove");
                if let Some(collection) = self.collection_ref(&remove.collection, &path) {
                    self.id_value(remove.id.as_ref(), &path);
                    self.filters(&remove.collection, collection, &remove.filter, &path);
                }
            }
            Step::Query(query) => {
                let path = push_key(step_path, "query");
                self.save_as(query.save_as.as_deref(), &path);
                self.limit(query.limit, MAX_QUERY_LIMIT, &path);
                if let Some(offset) = &query.offset {
                    self.whole_number(offset, &push_key(&path, "offset"));
                }
                if let Some(collection) = self.collection_ref(&query.collection, &path) {
                    self.id_value(query.id.as_ref(), &path);
                    self.filters(&query.collection, collection, &query.filter, &path);
                    if let Some(order) = &query.order_by {
                        self.order_by(&query.collection, collection, order, &push_key(&path, "order_by"));
                    }
                    if let Some(near) = &query.near {
                        self.near(&query.collection, collection, near, query.id.is_some(), &push_key(&path, "near"));
                    }
                }
            }
            Step::Count(count) => {
                let path = push_key(step_path, "count");
                self.save_as(count.save_as.as_deref(), &path);
                if let Some(collection) = self.collection_ref(&count.collection, &path) {
                    self.filters(&count.collection, collection, &count.filter, &path);
                }
            }
            Step::Search(search) => {
                let path = push_key(step_path, "search");
                self.save_as(search.save_as.as_deref(), &path);
                self.limit(search.limit, MAX_SEARCH_LIMIT, &path);
                self.template(&search.text, &push_key(&path, "text"));
                if let Some(collection) = self.collection_ref(&search.collection, &path)
                    && collection.search.is_empty()
                {
                    let name = &search.collection;
                    let text_field = collection
                        .fields
                        .iter()
                        .find(|(_, f)| f.kind() == DataType::String)
                        .map(|(n, _)| n.as_str())
                        .unwrap_or("title");
                    self.error(
                        &push_key(&path, "collection"),
                        format!("the collection `{name}` has no `search` fields to search"),
                        Some(format!("declare them: `search: [{text_field}]` under `collections.{name}`")),
                    );
                }
            }
            Step::Emit(emit) => {
                let path = push_key(step_path, "emit");
                let event_path = push_key(&path, "event");
                if emit.event.trim().is_empty() {
                    self.error(&event_path, "the event name is empty".into(), None);
                } else if !self.lost("webhooks")
                    && !self.bot.webhooks.iter().any(|h| h.events.is_empty() || h.events.contains(&emit.event))
                {
                    let hint = if self.bot.webhooks.is_empty() {
                        "add a receiver: `webhooks: [{url: \"https://…\", events: [".to_string() + &emit.event + "]}]`"
                    } else {
                        format!("add `{}` to the `events` of a webhook", emit.event)
                    };
                    self.warning(&event_path, format!("no webhook receives the event `{}`", emit.event), Some(hint));
                }
                if let Some(data) = &emit.data {
                    self.json_templates(data, &push_key(&path, "data"));
                }
            }
            _ => {}
        }
    }

    /// The declaration of a collection a step names, or an error.
    fn collection_ref(&mut self, name: &str, step_path: &str) -> Option<&'a Collection> {
        let path = push_key(step_path, "collection");
        let Some(collection) = self.bot.collections.get(name) else {
            if !self.lost("collections") {
                let names: Vec<&str> = self.bot.collections.keys().map(String::as_str).collect();
                let hint = if names.is_empty() {
                    Some(format!("declare it: `collections: {{{name}: {{scope: user, fields: {{…}}}}}}`"))
                } else {
                    suggest::did_you_mean(name, names.iter().copied())
                        .map(|best| format!("did you mean `{best}`?"))
                        .or_else(|| {
                            suggest::one_of(names.iter().copied())
                                .map(|l| l.replace("expected one of", "the collections are"))
                        })
                };
                self.error(&path, format!("unknown collection `{name}`"), hint);
            }
            return None;
        };
        if self.in_job && collection.scope != CollectionScope::Bot {
            let whose = collection.scope.as_str();
            self.error_at_key(
                &path,
                format!("a job has no {whose} for the per-{whose} collection `{name}`"),
                Some("jobs use collections with `scope: bot`".into()),
            );
        }
        Some(collection)
    }

    /// A field of a collection, or an error naming the step's purpose.
    fn field(&mut self, collection_name: &str, collection: &Collection, field: &str, path: &str) -> Option<FieldInfo> {
        if let Some(declared) = collection.fields.get(field) {
            return Some(FieldInfo { kind: declared.kind(), max_length: declared.max_length() });
        }
        if let Some(kind) = record_field_type(field) {
            return Some(FieldInfo { kind, max_length: None });
        }
        if !self.lost(&push_key("collections", collection_name)) {
            let names: Vec<&str> =
                collection.fields.keys().map(String::as_str).chain(RECORD_FIELDS.iter().copied()).collect();
            let hint = suggest::did_you_mean(field, names.iter().copied())
                .map(|best| format!("did you mean `{best}`?"))
                .unwrap_or_else(|| format!("declare it under `collections.{collection_name}.fields`"));
            self.error_at_key(path, format!("the collection `{collection_name}` has no field `{field}`"), Some(hint));
        }
        None
    }

    /// The values of `insert` or the `set` of `update`.
    fn values(&mut self, name: &str, collection: &Collection, values: &'a BTreeMap<String, Value>, path: &str) {
        for (field, value) in values {
            let field_path = push_key(path, field);
            if RECORD_FIELDS.contains(&field.as_str()) {
                self.error_at_key(&field_path, format!("`{field}` is set by Ferrogram"), None);
                continue;
            }
            match self.field(name, collection, field, &field_path) {
                Some(info) => self.literal(field, info, value, &field_path),
                None => self.json_templates(value, &field_path),
            }
        }
    }

    fn values_templates(&mut self, values: &'a BTreeMap<String, Value>, path: &str) {
        for (field, value) in values {
            self.json_templates(value, &push_key(path, field));
        }
    }

    /// A value given for a field: its templates, or (written out) whether it fits the type.
    fn literal(&mut self, field: &str, info: FieldInfo, value: &'a Value, path: &str) {
        self.json_templates(value, path);
        if is_template(value) {
            return;
        }
        if let Err(why) = coerce(value, info.kind, info.max_length) {
            self.error(path, format!("`{field}` is of type `{}`, but {why}", info.kind.as_str()), None);
        }
    }

    fn filters(
        &mut self,
        name: &str,
        collection: &Collection,
        filters: &'a BTreeMap<String, FieldFilter>,
        step_path: &str,
    ) {
        let where_path = push_key(step_path, "where");
        for (field, filter) in filters {
            let field_path = push_key(&where_path, field);
            let info = self.field(name, collection, field, &field_path);
            match filter {
                FieldFilter::Equals(value) => {
                    if let (Value::Object(map), Some(info)) = (value, info)
                        && info.kind != DataType::Object
                        && map.len() == 1
                    {
                        let (op, _) = map.iter().next().expect("one key");
                        let ops = ["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"];
                        self.error_at_key(
                            &push_key(&field_path, op),
                            format!("unknown comparison `{op}`"),
                            suggest::hint(op, ops),
                        );
                        continue;
                    }
                    match info {
                        Some(info) => self.literal(field, info, value, &field_path),
                        None => self.json_templates(value, &field_path),
                    }
                }
                FieldFilter::Compare(comparison) => {
                    let ops = comparison.ops();
                    if ops.is_empty() {
                        self.error(
                            &field_path,
                            "this comparison compares nothing".into(),
                            Some("write `{eq: …}`, `{gt: …}`…, or the value itself".into()),
                        );
                    }
                    for (op, value) in ops {
                        let op_path = push_key(&field_path, op);
                        let Some(info) = info else {
                            self.json_templates(value, &op_path);
                            continue;
                        };
                        let ordered = matches!(op, "lt" | "le" | "gt" | "ge");
                        if ordered && matches!(info.kind, DataType::Boolean | DataType::List | DataType::Object) {
                            self.error_at_key(
                                &op_path,
                                format!("`{op}` compares order, and a `{}` field has none", info.kind.as_str()),
                                Some("use `eq`, `ne` or `in`".into()),
                            );
                            continue;
                        }
                        if !matches!(op, "in" | "not_in") {
                            self.literal(field, info, value, &op_path);
                            continue;
                        }
                        match value {
                            Value::Array(items) => {
                                for (i, item) in items.iter().enumerate() {
                                    self.literal(field, info, item, &push_index(&op_path, i));
                                }
                            }
                            _ if is_template(value) => self.json_templates(value, &op_path),
                            other => self.error(
                                &op_path,
                                format!("`{op}` takes a list, got {}", json_kind(other)),
                                Some(format!("write `{op}: [a, b]`, or a template giving a list")),
                            ),
                        }
                    }
                }
            }
        }
    }

    /// `near` of a `query`: its point and distance are numbers (or templates), and the
    /// coordinate fields are declared numbers.
    fn near(&mut self, name: &str, collection: &Collection, near: &'a crate::Near, by_id: bool, path: &str) {
        if by_id {
            self.error_at_key(path, "`near` does not apply to a query by `id`".into(), None);
        }
        let number = FieldInfo { kind: DataType::Number, max_length: None };
        for (key, value) in [("lat", &near.lat), ("lon", &near.lon), ("within_km", &near.within_km)] {
            self.literal(key, number, value, &push_key(path, key));
        }
        let (lat, lon) = near.field_names();
        for (i, field) in [lat, lon].into_iter().enumerate() {
            let field_path = match near.fields {
                Some(_) => push_index(&push_key(path, "fields"), i),
                None => path.to_owned(),
            };
            let Some(info) = self.field(name, collection, field, &field_path) else {
                continue;
            };
            if !matches!(info.kind, DataType::Number | DataType::Integer) {
                self.error(
                    &field_path,
                    format!("`near` reads `{field}` as a coordinate, and it is of type `{}`", info.kind.as_str()),
                    Some(format!("declare `{field}: number` under `collections.{name}.fields`")),
                );
            }
        }
    }

    fn order_by(&mut self, name: &str, collection: &Collection, order: &str, path: &str) {
        let words: Vec<&str> = order.split_whitespace().collect();
        let (field, direction) = match words.as_slice() {
            [field] => (*field, None),
            [field, direction] => (*field, Some(*direction)),
            _ => {
                self.error(
                    path,
                    format!("`{order}` is not an order"),
                    Some("write a field, then `asc` or `desc`: `created_at desc`".into()),
                );
                return;
            }
        };
        if let Some(direction) = direction
            && !direction.eq_ignore_ascii_case("asc")
            && !direction.eq_ignore_ascii_case("desc")
        {
            self.error(path, format!("`{direction}` is not a direction"), suggest::hint(direction, ["asc", "desc"]));
        }
        self.field(name, collection, field, path);
    }

    pub(super) fn save_as(&mut self, name: Option<&str>, step_path: &str) {
        let Some(name) = name else { return };
        let path = push_key(step_path, "as");
        if !is_identifier(name) {
            self.error(
                &path,
                format!("`{name}` cannot be a name for templates"),
                Some("use letters, digits and `_`, starting with a letter".into()),
            );
        } else if TEMPLATE_ROOTS.contains(&name) || TEMPLATE_FUNCTIONS.contains(&name) {
            self.error(
                &path,
                format!("`{name}` is already a name templates read"),
                Some(format!("pick another name, like `{name}_records`")),
            );
        }
    }

    /// `update` and `remove` need `id` or `where`: a step that changes every record is a bug
    /// more often than not.
    fn selects(&mut self, id: Option<&Value>, no_filter: bool, path: &str, kind: &str) {
        if id.is_none() && no_filter {
            self.error(
                path,
                format!("`{kind}` needs `id` or `where` to say which records"),
                Some("`id: \"{{ item.id }}\"`, or `where: {field: value}`".into()),
            );
        }
    }

    fn id_value(&mut self, id: Option<&'a Value>, step_path: &str) {
        if let Some(id) = id {
            self.whole_number(id, &push_key(step_path, "id"));
        }
    }

    fn whole_number(&mut self, value: &'a Value, path: &str) {
        self.json_templates(value, path);
        if !is_template(value) && coerce(value, DataType::Integer, None).map_or(true, |v| v.is_null()) {
            self.error(path, format!("expected a whole number or a template, got {}", json_kind(value)), None);
        }
    }

    fn limit(&mut self, limit: Option<u32>, max: u32, step_path: &str) {
        if let Some(limit) = limit
            && !(1..=max).contains(&limit)
        {
            self.error(&push_key(step_path, "limit"), format!("`limit` is {limit}; it can be 1 to {max}"), None);
        }
    }
}
