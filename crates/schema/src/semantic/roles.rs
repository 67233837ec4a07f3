//! Checks of roles and limits: roles named in `limits.exempt`, handlers and scenes must be
//! declared, the `limits` reply is a text, and a scene guarded by roles is not the start scene;
//! a warning for an open scene that only role-limited handlers lead to.

use super::Checker;
use crate::Scene;
use crate::source::{push_index, push_key};
use crate::suggest;
use std::collections::BTreeSet;

/// The role every user has.
pub const DEFAULT_ROLE: &str = "user";

impl<'a> Checker<'a> {
    pub(super) fn check_roles_and_limits(&mut self) {
        if let Some(limits) = &self.bot.limits {
            for (i, role) in limits.exempt.iter().enumerate() {
                self.role_ref(role, &push_index("limits.exempt", i));
            }
            if let Some(reply) = &limits.reply {
                self.text(reply, "limits.reply");
            }
        }
    }

    /// A scene's `roles`: known roles, and none on the start scene (every new chat is put
    /// there without entering it, so its guard could not hold).
    pub(super) fn scene_roles(&mut self, name: &str, scene: &Scene, path: &str) {
        let roles_path = push_key(path, "roles");
        for (i, role) in scene.roles.iter().enumerate() {
            self.role_ref(role, &push_index(&roles_path, i));
        }
        if !scene.roles.is_empty() && self.bot.bot.start.as_deref() == Some(name) {
            self.error(
                &roles_path,
                format!("`{name}` is the start scene, where every new chat begins: it cannot be limited to roles"),
                Some("start in an open scene and `goto` this one from there".into()),
            );
        }
    }

    pub(super) fn role_ref(&mut self, role: &str, path: &str) {
        if role == DEFAULT_ROLE || self.bot.roles.contains_key(role) || self.lost("roles") {
            return;
        }
        let names: Vec<&str> = self.bot.roles.keys().map(String::as_str).chain(std::iter::once(DEFAULT_ROLE)).collect();
        let hint = suggest::did_you_mean(role, names.iter().copied())
            .map(|best| format!("did you mean `{best}`?"))
            .unwrap_or_else(|| format!("declare it under `roles:` with its users: `{role}: {{users: [123456789]}}`"));
        self.error(path, format!("unknown role `{role}`"), Some(hint));
    }

    /// A scene without `roles` that only role-limited handlers lead to: the limit does not
    /// hold once the chat is there (a group's other members, a `goto` button they see).
    pub(super) fn check_scene_guards(&mut self) {
        for (name, scene) in &self.bot.scenes {
            if !scene.roles.is_empty() || self.bot.bot.start.as_deref() == Some(name.as_str()) {
                continue;
            }
            let entries: Vec<&[String]> =
                self.entries.iter().filter(|(to, _)| *to == name.as_str()).map(|(_, roles)| *roles).collect();
            if entries.is_empty() || entries.iter().any(|roles| roles.is_empty()) {
                continue;
            }
            let roles: BTreeSet<&str> = entries.iter().flat_map(|roles| roles.iter().map(String::as_str)).collect();
            let roles = roles.into_iter().collect::<Vec<_>>().join(", ");
            self.warning_at_key(
                &push_key("scenes", name),
                format!(
                    "only handlers limited to roles lead to the scene `{name}`, but the scene itself is open: \
                     anyone who sees its `goto` buttons, or shares the chat, acts in it"
                ),
                Some(format!("add `roles: [{roles}]` to the scene")),
            );
        }
    }
}
