//! Which handler an update runs: the current scene's `on` first, then the global `on`; the
//! first whose trigger matches, whose `when` is true and whose `roles` allow the user.

use ferrogram_schema::{BotFile, ContentKind, Handler};
use serde_json::{Value, json};

use crate::update::{Event, EventKind};

/// What a matching trigger adds to the template context.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Captures {
    /// `match`: the regex match and its groups.
    pub groups: Option<Value>,
    /// `callback.rest`: what follows a `prefix*`.
    pub rest: Option<String>,
}

/// Whether the trigger of `handler` matches `event` (conditions and roles aside).
pub fn matches(handler: &Handler, event: &Event) -> Option<Captures> {
    if let Some(name) = &handler.command {
        return match &event.kind {
            EventKind::Message { command: Some(command), .. } if command.name == *name => Some(Captures::default()),
            _ => None,
        };
    }
    if let Some(pattern) = &handler.text {
        let EventKind::Message { text: Some(text), command, content: None } = &event.kind else {
            return None;
        };
        return match_text(pattern, text, command.is_some());
    }
    if let Some(pattern) = &handler.edited_text {
        let EventKind::Edited { text: Some(text) } = &event.kind else {
            return None;
        };
        return match_text(pattern, text, crate::update::parse_command(text).is_some());
    }
    if let Some(pattern) = &handler.callback {
        let EventKind::Callback { data, .. } = &event.kind else {
            return None;
        };
        return match pattern.strip_suffix('*') {
            Some(prefix) => {
                data.strip_prefix(prefix).map(|rest| Captures { rest: Some(rest.to_owned()), ..Captures::default() })
            }
            None => (data == pattern).then(Captures::default),
        };
    }
    if let Some(kind) = handler.content {
        let matched = match (&event.kind, kind) {
            (EventKind::PollAnswer, ContentKind::PollAnswer) => true,
            (EventKind::Message { content: Some(content), .. }, kind) => *content == kind,
            _ => false,
        };
        return matched.then(Captures::default);
    }
    if handler.inline_query.is_some() {
        return matches!(event.kind, EventKind::InlineQuery { .. }).then(Captures::default);
    }
    None
}

/// `any` (every text but commands), `/regex/` (groups as `match`), or an exact text.
fn match_text(pattern: &str, text: &str, is_command: bool) -> Option<Captures> {
    if pattern == "any" {
        return (!is_command).then(Captures::default);
    }
    if let Some(regex) = ferrogram_schema::regex_trigger(pattern) {
        let regex = match crate::interpret::patterns::compiled(regex) {
            Ok(regex) => regex,
            Err(error) => {
                tracing::warn!(%error, pattern, "invalid text pattern never matches");
                return None;
            }
        };
        let captures = regex.captures(text)?;
        let groups: Vec<Value> =
            captures.iter().map(|g| g.map_or(Value::Null, |g| Value::String(g.as_str().to_owned()))).collect();
        return Some(Captures { groups: Some(json!(groups)), ..Captures::default() });
    }
    (pattern == text).then(Captures::default)
}

/// The roles of a user: those naming them, or `user` when none does.
pub fn roles_of(file: &BotFile, user_id: i64) -> Vec<String> {
    let roles: Vec<String> =
        file.roles.iter().filter(|(_, role)| role.users.contains(&user_id)).map(|(name, _)| name.clone()).collect();
    if roles.is_empty() { vec!["user".to_owned()] } else { roles }
}

/// Whether `handler.roles` lets a user with `roles` run it.
pub fn roles_allow(handler: &Handler, roles: &[String]) -> bool {
    handler.roles.is_empty() || handler.roles.iter().any(|r| roles.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Command;

    fn event(kind: EventKind) -> Event {
        Event {
            update_id: 1,
            kind,
            from: json!({"id": 1}),
            user_id: 1,
            chat_id: 1,
            chat: json!({"id": 1}),
            message: Value::Null,
            language_code: None,
        }
    }

    fn text(t: &str) -> Event {
        event(EventKind::Message { text: Some(t.into()), command: crate::update::parse_command(t), content: None })
    }

    fn handler(yaml: &str) -> Handler {
        let file = ferrogram_schema::load_str(&format!("ferrogram: 1\nbot: {{name: t}}\non:\n  - {yaml}\n"), "t.yaml")
            .expect("valid");
        file.on[0].clone()
    }

    #[test]
    fn text_triggers() {
        assert!(matches(&handler("{text: any, do: []}"), &text("hi")).is_some());
        assert!(matches(&handler("{text: any, do: []}"), &text("/start")).is_none());
        assert!(matches(&handler("{text: hi, do: []}"), &text("hi")).is_some());
        let captures = matches(&handler("{text: '/^(\\d+) (\\w+)$/', do: []}"), &text("12 apples")).expect("matches");
        assert_eq!(captures.groups, Some(json!(["12 apples", "12", "apples"])));
        assert!(matches(&handler("{text: '/^\\d+$/', do: []}"), &text("x")).is_none());
    }

    #[test]
    fn edited_text_triggers_match_only_edits() {
        let edited = |t: &str| event(EventKind::Edited { text: Some(t.into()) });
        assert!(matches(&handler("{edited_text: any, do: []}"), &edited("hi")).is_some());
        assert!(matches(&handler("{edited_text: any, do: []}"), &edited("/start")).is_none());
        assert!(matches(&handler("{edited_text: any, do: []}"), &text("hi")).is_none(), "a new message is no edit");
        assert!(matches(&handler("{text: any, do: []}"), &edited("hi")).is_none(), "an edit is no new message");
        let captures = matches(&handler("{edited_text: '/^(\\d+)$/', do: []}"), &edited("42")).expect("matches");
        assert_eq!(captures.groups, Some(json!(["42", "42"])));
    }

    #[test]
    fn command_and_callback_triggers() {
        let start = event(EventKind::Message {
            text: Some("/start x".into()),
            command: Some(Command { name: "start".into(), payload: "x".into() }),
            content: None,
        });
        assert!(matches(&handler("{command: start, do: []}"), &start).is_some());
        assert!(matches(&handler("{command: help, do: []}"), &start).is_none());
        let press = event(EventKind::Callback { id: "1".into(), data: "like:42".into(), message_id: Some(3) });
        assert_eq!(matches(&handler("{callback: 'like:*', do: []}"), &press).and_then(|c| c.rest), Some("42".into()));
        assert!(matches(&handler("{callback: 'like', do: []}"), &press).is_none());
        assert!(matches(&handler("{callback: 'like:42', do: []}"), &press).is_some());
    }
}
