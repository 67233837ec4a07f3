//! Checks of handlers: one trigger each, commands written as Telegram accepts them, text
//! triggers' regular expressions, `when` conditions, `roles`, then their steps.

use super::Checker;
use super::util::regex_error;
use crate::Handler;
use crate::source::{push_index, push_key};

/// The regular expression of a text trigger written `/…/`.
pub fn regex_trigger(text: &str) -> Option<&str> {
    text.strip_prefix('/')?.strip_suffix('/').filter(|pattern| !pattern.is_empty())
}

impl<'a> Checker<'a> {
    pub(super) fn handler(&mut self, handler: &'a Handler, path: &str, scene: Option<&'a str>) {
        let triggers: Vec<&str> = [
            handler.command.as_ref().map(|_| "command"),
            handler.text.as_ref().map(|_| "text"),
            handler.edited_text.as_ref().map(|_| "edited_text"),
            handler.callback.as_ref().map(|_| "callback"),
            handler.content.as_ref().map(|_| "content"),
            handler.inline_query.as_ref().map(|_| "inline_query"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match triggers.as_slice() {
            [] => self.error(
                path,
                "a handler needs a trigger".into(),
                Some("add one of `command`, `text`, `edited_text`, `callback`, `content`, `inline_query`".into()),
            ),
            [_] => {}
            [first, rest @ ..] => {
                for other in rest {
                    self.error_at_key(
                        &push_key(path, other),
                        format!("a handler has one trigger, but this one has `{first}` and `{other}`"),
                        Some("split it into two handlers".into()),
                    );
                }
            }
        }
        if let Some(command) = &handler.command {
            let command_path = push_key(path, "command");
            if let Some(stripped) = command.strip_prefix('/') {
                self.error(
                    &command_path,
                    "a command is written without the slash".into(),
                    Some(format!("write `command: {stripped}`")),
                );
            } else if command.is_empty()
                || command.len() > 64
                || !command.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                self.error(
                    &command_path,
                    format!("`{command}` cannot be a command"),
                    Some("use letters, digits and `_`".into()),
                );
            }
            self.commands.insert(command.as_str());
        }
        for (key, text) in [("text", &handler.text), ("edited_text", &handler.edited_text)] {
            let Some(text) = text else { continue };
            let text_path = push_key(path, key);
            if let Some(pattern) = regex_trigger(text) {
                if let Err(e) = regex::Regex::new(pattern) {
                    self.error(&text_path, format!("invalid regular expression: {}", regex_error(&e)), None);
                }
            } else if text.len() > 2
                && text.starts_with('/')
                && let Some(end) = text.rfind('/')
                && end > 0
                && text[end + 1..].chars().all(|c| c.is_ascii_alphabetic())
            {
                self.warning(
                    &text_path,
                    format!("`{text}` is matched as exact text, not as a regular expression with flags"),
                    Some(format!("put flags inside: `/(?{}){}/`", &text[end + 1..], &text[1..end])),
                );
            }
        }
        if let Some(when) = &handler.when {
            self.expression(when, &push_key(path, "when"));
        }
        for (i, role) in handler.roles.iter().enumerate() {
            self.role_ref(role, &push_index(&push_key(path, "roles"), i));
        }
        let outer = std::mem::replace(&mut self.handler_roles, &handler.roles);
        self.steps(&handler.steps, &push_key(path, "do"), scene);
        self.handler_roles = outer;
    }
}

#[cfg(test)]
mod tests {
    use super::regex_trigger;

    #[test]
    fn regex_triggers() {
        assert_eq!(regex_trigger("/^\\d+$/"), Some("^\\d+$"));
        assert_eq!(regex_trigger("//"), None);
        assert_eq!(regex_trigger("/start"), None);
    }
}
