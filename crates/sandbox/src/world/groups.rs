//! Groups and supergroups: their creation, their members and the ChatMember objects that
//! describe them.

use super::objects::{bot_user_json, now, user_json};
use super::{ChatLog, State};
use crate::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: i64,
    /// `group` or `supergroup`.
    pub kind: String,
    pub title: String,
    pub username: Option<String>,
    /// Member id (user or bot) → status (`creator`, `administrator`, `member`, `left`, `kicked`).
    #[serde(default)]
    pub members: BTreeMap<i64, String>,
    #[serde(default)]
    pub log: ChatLog,
}

impl State {
    pub fn create_group(&mut self, title: &str, kind: &str, members: &[i64], bots: &[i64]) -> ApiResult<i64> {
        self.create_group_with_id(None, title, kind, members, bots)
    }

    /// Creates a group; `id` (negative, unused) is its chat id, or one is picked. The first
    /// member is its creator, the bots are administrators.
    pub fn create_group_with_id(
        &mut self,
        id: Option<i64>,
        title: &str,
        kind: &str,
        members: &[i64],
        bots: &[i64],
    ) -> ApiResult<i64> {
        if title.trim().is_empty() {
            return Err(ApiError::bad_request("title is empty"));
        }
        if kind != "group" && kind != "supergroup" {
            return Err(ApiError::bad_request("type must be \"group\" or \"supergroup\""));
        }
        for id in members {
            self.user(*id)?;
        }
        for id in bots {
            self.bot(*id)?;
        }
        let id = match id {
            Some(id) if id >= 0 || self.groups.contains_key(&id) => {
                return Err(ApiError::bad_request(format!("group chat id {id} is taken or not negative")));
            }
            Some(id) => id,
            None => {
                let number = self.next_group_id;
                self.next_group_id += 1;
                if kind == "supergroup" { -1_000_000_000_000 - number } else { -number }
            }
        };
        let mut group_members = BTreeMap::new();
        for (i, id) in members.iter().enumerate() {
            group_members.insert(*id, if i == 0 { "creator" } else { "member" }.to_string());
        }
        for id in bots {
            group_members.insert(*id, "administrator".to_string());
        }
        let group = Group {
            id,
            kind: kind.to_string(),
            title: title.to_string(),
            username: None,
            members: group_members,
            log: ChatLog::default(),
        };
        self.groups.insert(id, group);
        Ok(id)
    }

    /// The ChatMember object of one member, in the variant its status calls for.
    pub fn member_json(&self, user_id: i64, status: &str) -> Option<Value> {
        let user = match self.bots.get(&user_id) {
            Some(bot) => bot_user_json(bot),
            None => user_json(self.users.get(&user_id)?),
        };
        Some(match status {
            "creator" => json!({"status": "creator", "user": user, "is_anonymous": false}),
            "administrator" => json!({
                "status": "administrator", "user": user, "can_be_edited": false, "is_anonymous": false,
                "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": true,
                "can_restrict_members": true, "can_promote_members": false, "can_change_info": true,
                "can_invite_users": true, "can_post_stories": false, "can_edit_stories": false,
                "can_delete_stories": false, "can_pin_messages": true,
            }),
            "kicked" => json!({"status": "kicked", "user": user, "until_date": 0}),
            other => json!({"status": other, "user": user}),
        })
    }

    /// A ChatMemberUpdated: `member_id` went from `old` to `new` status, changed by `by`.
    pub fn member_updated(&self, chat: Value, by: i64, member_id: i64, old: &str, new: &str) -> Option<Value> {
        let from = match self.bots.get(&by) {
            Some(bot) => bot_user_json(bot),
            None => user_json(self.users.get(&by)?),
        };
        Some(json!({
            "chat": chat,
            "from": from,
            "date": now(),
            "old_chat_member": self.member_json(member_id, old)?,
            "new_chat_member": self.member_json(member_id, new)?,
        }))
    }
}

/// Whether a member status means the member is in the group.
pub(super) fn is_present(status: Option<&String>) -> bool {
    matches!(status.map(String::as_str), Some("creator" | "administrator" | "member" | "restricted"))
}
