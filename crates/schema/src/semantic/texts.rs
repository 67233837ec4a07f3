//! Checks of texts, templates and expressions: `texts` tables and per-locale texts for locales
//! the bot offers, `@key` and `t("key")` references to texts that exist, templates and
//! conditions that compile, and the names they read (declared variables, `error` only where it
//! is set, known roots and functions).

use super::{Checker, Scope};
use crate::Text;
use crate::source::{push_index, push_key};
use crate::suggest;
use crate::templates::{self, TEMPLATE_FUNCTIONS, TEMPLATE_ROOTS, Uses};
use std::collections::{BTreeSet, HashSet};

/// The key of a text that is exactly `@key`.
pub fn text_key(text: &str) -> Option<&str> {
    let key = text.strip_prefix('@')?;
    (!key.is_empty() && !key.chars().any(char::is_whitespace)).then_some(key)
}

impl<'a> Checker<'a> {
    pub(super) fn check_texts(&mut self) {
        let bot = self.bot;
        let default = bot.bot.default_locale.as_str();
        let default_keys: BTreeSet<&str> =
            bot.texts.get(default).map(|t| t.keys().map(String::as_str).collect()).unwrap_or_default();
        for (locale, table) in &bot.texts {
            let path = push_key("texts", locale);
            if !self.locales.contains(locale.as_str()) && !self.locales_lost() {
                let hint = suggest::did_you_mean(locale, self.locales.iter().copied())
                    .map(|best| format!("did you mean `{best}`?"))
                    .or_else(|| Some(format!("add `{locale}` to `bot.locales`")));
                self.error_at_key(&path, format!("the locale `{locale}` is not offered by the bot"), hint);
            }
            for (key, text) in table {
                self.text_string(text, &push_key(&path, key));
            }
            if locale != default && !default_keys.is_empty() {
                let missing: Vec<&str> = default_keys.iter().copied().filter(|k| !table.contains_key(*k)).collect();
                if !missing.is_empty() {
                    let list: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
                    self.warning_at_key(
                        &path,
                        format!("texts for `{locale}` lack {}", list.join(", ")),
                        Some(format!("users with `{locale}` see the `{default}` text instead")),
                    );
                }
            }
        }
    }

    pub(super) fn text(&mut self, text: &'a Text, path: &str) {
        match text {
            Text::One(s) => self.text_string(s, path),
            Text::PerLocale(per_locale) => {
                let default = self.bot.bot.default_locale.as_str();
                if !per_locale.contains_key(default) && !self.locales_lost() {
                    self.error(
                        path,
                        format!("no text for the default locale `{default}`"),
                        Some(format!("add `{default}: …`; users of other languages see it")),
                    );
                }
                for (locale, s) in per_locale {
                    let locale_path = push_key(path, locale);
                    if !self.locales.contains(locale.as_str()) && !self.locales_lost() {
                        let hint = suggest::did_you_mean(locale, self.locales.iter().copied())
                            .map(|best| format!("did you mean `{best}`?"))
                            .unwrap_or_else(|| format!("add `{locale}` to `bot.locales`"));
                        self.error_at_key(
                            &locale_path,
                            format!("the locale `{locale}` is not offered by the bot"),
                            Some(hint),
                        );
                    }
                    self.text_string(s, &locale_path);
                }
            }
        }
    }

    /// A text: `@key`, or a template.
    pub(super) fn text_string(&mut self, text: &'a str, path: &str) {
        match text_key(text) {
            Some(key) => self.text_key_ref(key, path, false),
            None => self.template(text, path),
        }
    }

    fn text_key_ref(&mut self, key: &str, path: &str, in_template: bool) {
        let default = self.bot.bot.default_locale.as_str();
        let table = self.bot.texts.get(default);
        if table.is_some_and(|t| t.contains_key(key)) || self.lost("texts") || self.lost("bot.default_locale") {
            return;
        }
        let shown = if in_template { format!("t(\"{key}\")") } else { format!("@{key}") };
        let hint = match table {
            Some(table) => suggest::did_you_mean(key, table.keys().map(String::as_str))
                .map(|best| format!("did you mean `{best}`?"))
                .unwrap_or_else(|| format!("add `{key}: …` under `texts.{default}`")),
            None => format!("add it: `texts: {{{default}: {{{key}: …}}}}`"),
        };
        self.error(path, format!("`{shown}`: there is no text `{key}` in `texts.{default}`"), Some(hint));
    }

    pub(super) fn template(&mut self, source: &'a str, path: &str) {
        match templates::template(&self.env, source) {
            Ok(uses) => self.uses(uses, path),
            Err(e) => self.error(path, format!("invalid template: {}", e.0), None),
        }
    }

    pub(super) fn expression(&mut self, source: &'a str, path: &str) {
        match templates::expression(&self.env, source) {
            Ok(uses) => self.uses(uses, path),
            Err(e) => self.error(path, format!("invalid expression: {}", e.0), None),
        }
    }

    fn uses(&mut self, uses: Uses, path: &str) {
        for key in &uses.text_keys {
            self.text_key_ref(key, path, true);
        }
        let mut reported = HashSet::new();
        for read in &uses.reads {
            let mut parts = read.split('.');
            let root = parts.next().unwrap_or_default();
            if let Some(scope) = Scope::from_prefix(root) {
                let Some(name) = parts.next() else { continue };
                if self.declared.get(&scope).is_some_and(|d| d.contains(name)) {
                    self.read.insert((scope, name.to_string()));
                } else if reported.insert(read.clone()) {
                    self.undeclared(scope, name, path, false);
                }
                continue;
            }
            if root == "error" && self.in_catch == 0 {
                if reported.insert(root.to_string()) {
                    self.error(
                        path,
                        "`error` is only set in the `catch` steps of a `try` and in the `errors` reply".into(),
                        Some("read it in `try: {do: […], catch: […]}`".into()),
                    );
                }
                continue;
            }
            if TEMPLATE_ROOTS.contains(&root) || TEMPLATE_FUNCTIONS.contains(&root) || self.locals.contains(root) {
                continue;
            }
            if reported.insert(root.to_string()) {
                let known = TEMPLATE_ROOTS
                    .iter()
                    .chain(TEMPLATE_FUNCTIONS)
                    .copied()
                    .chain(self.locals.iter().map(String::as_str));
                let hint =
                    suggest::did_you_mean(root, known).map(|best| format!("did you mean `{best}`?")).or_else(|| {
                        let candidates = self.declared_names();
                        suggest::did_you_mean(root, candidates.iter().map(String::as_str))
                            .map(|best| format!("did you mean `{best}`?"))
                    });
                let hint = hint.or_else(|| Some(format!("templates read {}", TEMPLATE_ROOTS.join(", "))));
                self.error(path, format!("unknown name `{root}` in a template"), hint);
            }
        }
    }

    /// The strings of a JSON body, each a template.
    pub(super) fn json_templates(&mut self, value: &'a serde_json::Value, path: &str) {
        match value {
            serde_json::Value::String(s) => self.template(s, path),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_templates(item, &push_index(path, i));
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    self.json_templates(item, &push_key(path, key));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::text_key;

    #[test]
    fn text_keys() {
        assert_eq!(text_key("@welcome"), Some("welcome"));
        assert_eq!(text_key("@ hi"), None);
        assert_eq!(text_key("@"), None);
    }
}
