//! What a user may not do, whatever they send: press a button the pressed message does not
//! have, and enter or act in a scene their roles do not allow (decision 0023).
//!
//! A callback query's `data` is chosen by the user's client, so the engine's own data
//! (`__goto:`, `__page:`, `__form:`) and a bot's (`like:42`) could be forged. Telegram, though,
//! delivers the pressed message itself, with its current inline keyboard, and that the user
//! cannot change: a press counts only when that keyboard has a button with exactly its data.
//! A forged press, or one of a button since edited away or of a message too old or deleted to
//! be delivered, is answered with [`Refusal::Button`] and changes nothing.

use ferrogram_schema::Scene;
use serde_json::Value;

use crate::update::{Event, EventKind};

/// Why an update was refused, in words for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A pressed button the message does not have (forged or stale).
    Button,
    /// A scene the user's roles do not allow.
    Scene,
}

impl Refusal {
    /// What the user is told (English unless Russian, as forms' reasons).
    pub fn text(self, locale: &str) -> &'static str {
        match (self, locale.starts_with("ru")) {
            (Refusal::Button, false) => "This button is no longer valid.",
            (Refusal::Button, true) => "Эта кнопка больше не действует.",
            (Refusal::Scene, false) => "Sorry, this is not available to you.",
            (Refusal::Scene, true) => "Извините, это вам недоступно.",
        }
    }
}

/// Whether a callback query's data is that of a button of the pressed message, as Telegram
/// delivered it; true for updates that are not callback queries.
pub fn press_is_genuine(event: &Event) -> bool {
    let EventKind::Callback { data, .. } = &event.kind else {
        return true;
    };
    keyboard_has(&event.message, data)
}

/// Whether `message`'s inline keyboard has a button with callback data `data`.
fn keyboard_has(message: &Value, data: &str) -> bool {
    let rows = message.pointer("/reply_markup/inline_keyboard").and_then(Value::as_array);
    rows.into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .any(|button| button.get("callback_data").and_then(Value::as_str) == Some(data))
}

/// Whether a user with `roles` may enter `scene` and act in it.
pub fn scene_allows(scene: &Scene, roles: &[String]) -> bool {
    scene.roles.is_empty() || scene.roles.iter().any(|role| roles.contains(role))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_button_of_the_message_counts() {
        let message = json!({"reply_markup": {"inline_keyboard": [
            [{"text": "Go", "callback_data": "__goto:menu"}],
            [{"text": "Site", "url": "https://example.com"}, {"text": "Like", "callback_data": "like:1"}],
        ]}});
        assert!(keyboard_has(&message, "__goto:menu"));
        assert!(keyboard_has(&message, "like:1"));
        assert!(!keyboard_has(&message, "__goto:admin"));
        assert!(!keyboard_has(&message, "like:2"));
        assert!(!keyboard_has(&message, "Site"));
        // An inaccessible message (deleted, or too old to deliver) has no keyboard.
        assert!(!keyboard_has(&json!({"chat": {"id": 1}, "message_id": 5, "date": 0}), "__goto:menu"));
        assert!(!keyboard_has(&Value::Null, ""));
    }

    #[test]
    fn scene_roles() {
        let open = Scene::default();
        let guarded = Scene { roles: vec!["admins".into()], ..Scene::default() };
        let user = vec!["user".to_owned()];
        assert!(scene_allows(&open, &user));
        assert!(!scene_allows(&guarded, &user));
        assert!(scene_allows(&guarded, &["admins".to_owned()]));
    }
}
