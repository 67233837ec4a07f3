//! Checks of a scene's `form`: its fields (names, options that fit their type, choices,
//! patterns, bounds), the user variables it stores into, its cancel command and its steps.

use super::util::{is_identifier, regex_error};
use super::{Checker, Scope};
use crate::source::{push_index, push_key};
use crate::{FieldType, Form, FormStore};
use std::collections::HashSet;

impl<'a> Checker<'a> {
    pub(super) fn form(&mut self, form: &'a Form, path: &str, scene: &'a str) {
        let fields_path = push_key(path, "fields");
        if form.fields.is_empty() {
            self.error(&fields_path, "a form needs at least one field".into(), None);
        }
        let mut names = HashSet::new();
        for (i, field) in form.fields.iter().enumerate() {
            let field_path = push_index(&fields_path, i);
            let name_path = push_key(&field_path, "name");
            if !is_identifier(&field.name) {
                self.error(
                    &name_path,
                    format!("`{}` cannot be a field name", field.name),
                    Some(
                        "use letters, digits and `_`, starting with a letter (it is `form.<name>` in templates)".into(),
                    ),
                );
            }
            if !names.insert(field.name.as_str()) {
                self.error(&name_path, format!("the field `{}` is asked twice", field.name), None);
            }
            self.text(&field.ask, &push_key(&field_path, "ask"));
            if let Some(invalid) = &field.invalid {
                self.text(invalid, &push_key(&field_path, "invalid"));
            }
            let kind = field.kind;
            let kind_name =
                serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            // Options that only some types take.
            let misplaced = [
                ("choices", !field.choices.is_empty(), kind == FieldType::Choice, "choice"),
                ("pattern", field.pattern.is_some(), kind == FieldType::Regex, "regex"),
                ("min", field.min.is_some(), kind == FieldType::Number, "number"),
                ("max", field.max.is_some(), kind == FieldType::Number, "number"),
                (
                    "min_length",
                    field.min_length.is_some(),
                    matches!(kind, FieldType::Text | FieldType::Regex),
                    "text and regex",
                ),
                (
                    "max_length",
                    field.max_length.is_some(),
                    matches!(kind, FieldType::Text | FieldType::Regex),
                    "text and regex",
                ),
                ("clean", field.clean, matches!(kind, FieldType::Text | FieldType::Regex), "text and regex"),
            ];
            for (option, present, allowed, for_types) in misplaced {
                if present && !allowed {
                    self.error_at_key(
                        &push_key(&field_path, option),
                        format!("`{option}` does not apply to a `{kind_name}` field"),
                        Some(format!("`{option}` is for {for_types} fields")),
                    );
                }
            }
            if kind == FieldType::Choice && field.choices.is_empty() {
                self.error(
                    &field_path,
                    format!("the choice field `{}` has no `choices`", field.name),
                    Some("add `choices: [yes, no]`".into()),
                );
            }
            if kind == FieldType::Choice {
                let mut seen = HashSet::new();
                for (j, choice) in field.choices.iter().enumerate() {
                    let choice_path = push_index(&push_key(&field_path, "choices"), j);
                    if !seen.insert(choice.as_str()) {
                        self.error(&choice_path, format!("the choice `{choice}` is listed twice"), None);
                    }
                    self.text_string(choice, &choice_path);
                }
            }
            if kind == FieldType::Regex {
                match &field.pattern {
                    None => self.error(
                        &field_path,
                        format!("the regex field `{}` has no `pattern`", field.name),
                        Some("add `pattern: '^[0-9]{5}$'`".into()),
                    ),
                    Some(pattern) => {
                        if let Err(e) = regex::Regex::new(pattern) {
                            self.error(
                                &push_key(&field_path, "pattern"),
                                format!("invalid regular expression: {}", regex_error(&e)),
                                None,
                            );
                        }
                    }
                }
            }
            if let (Some(min), Some(max)) = (field.min, field.max)
                && min > max
            {
                self.error(&push_key(&field_path, "min"), format!("`min` ({min}) is more than `max` ({max})"), None);
            }
            if let (Some(min), Some(max)) = (field.min_length, field.max_length)
                && min > max
            {
                self.error(
                    &push_key(&field_path, "min_length"),
                    format!("`min_length` ({min}) is more than `max_length` ({max})"),
                    None,
                );
            }
            if form.store == FormStore::User {
                if self.declared.get(&Scope::User).is_some_and(|d| d.contains(field.name.as_str())) {
                    self.set.insert((Scope::User, field.name.clone()));
                } else if !self.lost("variables") {
                    self.error(
                        &name_path,
                        format!("the form stores `{0}` as `user.{0}`, which is not declared", field.name),
                        Some(format!("declare it: `variables: {{user: {{{}: {{type: …}}}}}}`", field.name)),
                    );
                }
            }
        }
        if let Some(cancel) = &form.cancel
            && cancel.trim().is_empty()
        {
            self.error(&push_key(path, "cancel"), "`cancel` is empty".into(), None);
        }
        // A form's cancel text (`/cancel` unless it says otherwise) answers that command.
        let cancel = form.cancel.as_deref().unwrap_or("/cancel");
        if let Some(command) = cancel.strip_prefix('/') {
            let command = command.split([' ', '@']).next().unwrap_or_default();
            self.commands.insert(command);
        }
        self.steps(&form.on_done, &push_key(path, "on_done"), Some(scene));
        self.steps(&form.on_cancel, &push_key(path, "on_cancel"), Some(scene));
    }
}
