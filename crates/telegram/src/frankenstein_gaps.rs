//! Known gaps between frankenstein's types and what Bot API servers send.
//!
//! frankenstein 0.52 requires `can_send_welcome_messages` in `ChatMemberAdministrator` and
//! `ChatAdministratorRights`, a field Bot API 10.1 does not define, so real answers lack it:
//! getChatMember on an administrator, and every `my_chat_member` update that promotes the bot,
//! would fail to decode. A right that is not mentioned is a right not granted, so the field is
//! filled in as `false`. Applied only after a decode has failed, so correct data pays nothing.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Present in both administrator shapes and nowhere else.
const ADMIN_MARKER: &str = "can_manage_chat";
const MISSING_RIGHTS: &[&str] = &["can_send_welcome_messages"];

/// Decodes `value`, retrying once on a patched copy if the first attempt fails. The error
/// returned is the one about the original data.
pub(crate) fn decode<R: DeserializeOwned>(value: &Value) -> Result<R, serde_json::Error> {
    let first = match R::deserialize(value) {
        Ok(decoded) => return Ok(decoded),
        Err(err) => err,
    };
    let mut patched = value.clone();
    if patch(&mut patched)
        && let Ok(decoded) = R::deserialize(&patched)
    {
        return Ok(decoded);
    }
    Err(first)
}

/// Fills the known gaps anywhere in `value`; true if anything changed.
fn patch(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            if map.contains_key(ADMIN_MARKER) {
                for right in MISSING_RIGHTS {
                    if !map.contains_key(*right) {
                        map.insert((*right).to_owned(), Value::Bool(false));
                        changed = true;
                    }
                }
            }
            for child in map.values_mut() {
                changed |= patch(child);
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| patch(item) | changed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frankenstein::types::ChatMember;
    use frankenstein::updates::{Update, UpdateContent};
    use serde_json::json;

    fn admin() -> Value {
        json!({
            "status": "administrator",
            "user": {"id": 1, "is_bot": true, "first_name": "Bot"},
            "can_be_edited": false, "is_anonymous": false, "can_manage_chat": true,
            "can_delete_messages": true, "can_manage_video_chats": false,
            "can_restrict_members": true, "can_promote_members": false, "can_change_info": false,
            "can_invite_users": true
        })
    }

    #[test]
    fn administrator_without_the_extra_right_decodes() {
        assert!(serde_json::from_value::<ChatMember>(admin()).is_err(), "frankenstein fixed it");
        match decode::<ChatMember>(&admin()).expect("patched") {
            ChatMember::Administrator(a) => {
                assert!(a.can_delete_messages);
                assert!(!a.can_send_welcome_messages);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bot_promotion_update_decodes() {
        let update = json!({
            "update_id": 9,
            "my_chat_member": {
                "chat": {"id": -100, "type": "supergroup", "title": "Club"},
                "from": {"id": 2, "is_bot": false, "first_name": "Ann"},
                "date": 1,
                "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": true, "first_name": "Bot"}},
                "new_chat_member": admin()
            }
        });
        let decoded: Update = decode(&update).expect("patched");
        assert!(matches!(decoded.content, UpdateContent::MyChatMember(_)));
    }

    #[test]
    fn other_errors_are_reported_on_the_original_data() {
        let err = decode::<ChatMember>(&json!({"status": "member"})).unwrap_err();
        assert!(err.to_string().contains("user"), "{err}");
    }
}
