//! Checks of the `collections` declarations: names, fields (not a record's own, options that fit
//! their type, defaults that fit), and the fields `index` and `search` list (declared; search
//! only in text).

use super::Checker;
use super::util::is_identifier;
use crate::data::{DataField, DataType, RECORD_FIELDS, coerce};
use crate::source::{push_index, push_key};
use crate::suggest;
use std::collections::HashSet;

/// The type of a field every record has.
pub(super) fn record_field_type(name: &str) -> Option<DataType> {
    match name {
        "id" => Some(DataType::Integer),
        "created_at" | "updated_at" => Some(DataType::Datetime),
        _ => None,
    }
}

impl<'a> Checker<'a> {
    pub(super) fn check_collections(&mut self) {
        for (name, collection) in &self.bot.collections {
            let path = push_key("collections", name);
            if !is_identifier(name) {
                self.error_at_key(
                    &path,
                    format!("`{name}` cannot be a collection name"),
                    Some("use letters, digits and `_`, starting with a letter".into()),
                );
            }
            let fields_path = push_key(&path, "fields");
            if collection.fields.is_empty() {
                self.error(&fields_path, "a collection needs at least one field".into(), None);
            }
            for (field, declared) in &collection.fields {
                let field_path = push_key(&fields_path, field);
                if RECORD_FIELDS.contains(&field.as_str()) {
                    self.error_at_key(
                        &field_path,
                        format!("every record has `{field}` already"),
                        Some(format!(
                            "remove it, or name the field otherwise; the record fields are {}",
                            "`id`, `created_at`, `updated_at`"
                        )),
                    );
                    continue;
                }
                if !is_identifier(field) {
                    self.error_at_key(
                        &field_path,
                        format!("`{field}` cannot be a field name"),
                        Some("use letters, digits and `_`, starting with a letter".into()),
                    );
                }
                let DataField::Full(spec) = declared else { continue };
                if spec.max_length.is_some() && spec.kind != DataType::String {
                    self.error_at_key(
                        &push_key(&field_path, "max_length"),
                        format!("`max_length` does not apply to a `{}` field", spec.kind.as_str()),
                        Some("`max_length` is for string fields".into()),
                    );
                }
                if let Some(default) = &spec.default
                    && let Err(why) = coerce(default, spec.kind, spec.max_length)
                {
                    self.error(
                        &push_key(&field_path, "default"),
                        format!("the default does not fit the field's type `{}`: {why}", spec.kind.as_str()),
                        None,
                    );
                }
            }
            let declared: Vec<&str> = collection.fields.keys().map(String::as_str).collect();
            for (list, key) in [(&collection.index, "index"), (&collection.search, "search")] {
                let mut seen = HashSet::new();
                for (i, field) in list.iter().enumerate() {
                    let item_path = push_index(&push_key(&path, key), i);
                    if !seen.insert(field.as_str()) {
                        self.error(&item_path, format!("`{field}` is listed twice"), None);
                        continue;
                    }
                    let kind = match collection.fields.get(field) {
                        Some(declared) => declared.kind(),
                        None if key == "index" && record_field_type(field).is_some() => continue,
                        None => {
                            let hint = suggest::did_you_mean(field, declared.iter().copied())
                                .map(|best| format!("did you mean `{best}`?"))
                                .or_else(|| {
                                    suggest::one_of(declared.iter().copied())
                                        .map(|l| l.replace("expected one of", "the fields are"))
                                });
                            self.error(&item_path, format!("the collection `{name}` has no field `{field}`"), hint);
                            continue;
                        }
                    };
                    if key == "search" && !matches!(kind, DataType::String | DataType::List) {
                        self.error(
                            &item_path,
                            format!("`{field}` is a `{}` field; search looks in text", kind.as_str()),
                            Some("search `string` fields (or lists of texts)".into()),
                        );
                    }
                }
            }
        }
    }
}
