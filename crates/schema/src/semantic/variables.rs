//! Checks of variables: declarations (names, defaults that fit their type), the `set` and
//! `unset` steps and every other target of a write (declared, in a scope), and variables read
//! but never set.

use super::Checker;
use super::util::{is_identifier, json_kind};
use crate::ValueType;
use crate::source::{push_index, push_key};
use crate::suggest;
use std::collections::BTreeMap;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(super) enum Scope {
    User,
    Chat,
    Bot,
}

impl Scope {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Chat => "chat_vars",
            Scope::Bot => "bot",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Chat => "chat",
            Scope::Bot => "bot",
        }
    }

    pub(super) fn from_prefix(prefix: &str) -> Option<Scope> {
        match prefix {
            "user" => Some(Scope::User),
            "chat_vars" => Some(Scope::Chat),
            "bot" => Some(Scope::Bot),
            _ => None,
        }
    }
}

impl<'a> Checker<'a> {
    pub(super) fn check_variables(&mut self) {
        let variables = &self.bot.variables;
        for (scope, table) in
            [(Scope::User, &variables.user), (Scope::Chat, &variables.chat), (Scope::Bot, &variables.bot)]
        {
            for (name, variable) in table {
                let path = push_key(&push_key("variables", scope.section()), name);
                if !is_identifier(name) {
                    self.error_at_key(
                        &path,
                        format!("`{name}` cannot be a variable name"),
                        Some("use letters, digits and `_`, starting with a letter".into()),
                    );
                }
                if let Some(default) = &variable.default {
                    let fits = match variable.kind {
                        ValueType::String => default.is_string(),
                        ValueType::Number => default.is_number(),
                        ValueType::Bool => default.is_boolean(),
                        ValueType::List => default.is_array(),
                        ValueType::Object => default.is_object(),
                    };
                    if !fits && !default.is_null() {
                        let kind = serde_json::to_value(variable.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        self.error(
                            &push_key(&path, "default"),
                            format!("the default is {}, but the variable's type is `{kind}`", json_kind(default)),
                            None,
                        );
                    }
                }
            }
        }
    }

    /// The `set` step: each target a declared variable, each value a template.
    pub(super) fn set_step(&mut self, values: &'a BTreeMap<String, String>, path: &str) {
        for (target, value) in values {
            let target_path = push_key(path, target);
            if let Some((scope, name)) = self.variable_target(target, &target_path) {
                self.job_scope(scope, target, &target_path);
                self.set.insert((scope, name.to_string()));
            }
            self.template(value, &target_path);
        }
    }

    /// The `unset` step: each target a declared variable.
    pub(super) fn unset_step(&mut self, targets: &'a [String], path: &str) {
        for (j, target) in targets.iter().enumerate() {
            let target_path = push_index(path, j);
            if let Some((scope, _)) = self.variable_target(target, &target_path) {
                self.job_scope(scope, target, &target_path);
            }
        }
    }

    /// A `set`/`unset` target: `user.score`, `chat_vars.topic`, `bot.subscribers`.
    pub(super) fn variable_target<'t>(&mut self, target: &'t str, path: &str) -> Option<(Scope, &'t str)> {
        let all = self.declared_names();
        let Some((prefix, name)) = target.split_once('.') else {
            let hint = suggest::did_you_mean(target, all.iter().map(String::as_str))
                .map(|best| format!("did you mean `{best}`?"))
                .unwrap_or_else(|| {
                    format!("write the scope first: `user.{target}`, `chat_vars.{target}` or `bot.{target}`")
                });
            self.error_at_key(path, format!("`{target}` is not a variable"), Some(hint));
            return None;
        };
        let scope = match Scope::from_prefix(prefix) {
            Some(scope) => scope,
            None if prefix == "chat" => {
                // The engine takes `chat.x` for `chat_vars.x`; one spelling reads better.
                self.warning_at_key(
                    path,
                    format!("`{target}` means the chat variable `chat_vars.{name}`"),
                    Some(format!("write `chat_vars.{name}` as templates do; there `chat` is the Telegram chat")),
                );
                Scope::Chat
            }
            None => {
                let hint = suggest::did_you_mean(target, all.iter().map(String::as_str))
                    .map(|best| format!("did you mean `{best}`?"))
                    .unwrap_or_else(|| "variables are `user.…`, `chat_vars.…` or `bot.…`".into());
                self.error_at_key(path, format!("`{target}` is not a variable"), Some(hint));
                return None;
            }
        };
        if self.declared.get(&scope).is_some_and(|d| d.contains(name)) {
            return Some((scope, name));
        }
        self.undeclared(scope, name, path, true);
        None
    }

    pub(super) fn declared_names(&self) -> Vec<String> {
        self.declared
            .iter()
            .flat_map(|(scope, names)| names.iter().map(move |n| format!("{}.{n}", scope.prefix())))
            .collect()
    }

    pub(super) fn undeclared(&mut self, scope: Scope, name: &str, path: &str, at_key: bool) {
        if self.lost("variables") {
            return;
        }
        let declared: Vec<&str> = self.declared.get(&scope).map(|d| d.iter().copied().collect()).unwrap_or_default();
        let hint = suggest::did_you_mean(name, declared.iter().copied())
            .map(|best| format!("did you mean `{}.{best}`?", scope.prefix()))
            .unwrap_or_else(|| format!("declare it under `variables.{}` with its `type`", scope.section()));
        let message = format!("the variable `{}.{name}` is not declared", scope.prefix());
        if at_key {
            self.error_at_key(path, message, Some(hint));
        } else {
            self.error(path, message, Some(hint));
        }
    }

    pub(super) fn check_variables_set(&mut self) {
        let variables = &self.bot.variables;
        for (scope, table) in
            [(Scope::User, &variables.user), (Scope::Chat, &variables.chat), (Scope::Bot, &variables.bot)]
        {
            for (name, variable) in table {
                let key = (scope, name.clone());
                if variable.default.is_none() && self.read.contains(&key) && !self.set.contains(&key) {
                    self.warning_at_key(
                        &push_key(&push_key("variables", scope.section()), name),
                        format!("`{}.{name}` is read but never set, and has no default", scope.prefix()),
                        Some(format!("give it a `default`, or set it: `set: {{{}.{name}: …}}`", scope.prefix())),
                    );
                }
            }
        }
    }
}
