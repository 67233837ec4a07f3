//! Checks of the `bot` settings: its name, a token written in the file, locales listed once,
//! menu commands (written as Telegram accepts them, listed once, each answered by a handler)
//! and the start scene.

use super::Checker;
use crate::source::{push_index, push_key};
use std::collections::HashSet;

impl<'a> Checker<'a> {
    pub(super) fn check_settings(&mut self) {
        let settings = &self.bot.bot;
        if settings.name.trim().is_empty() {
            self.error("bot.name", "the bot's name is empty".into(), None);
        }
        if let Some(token) = &settings.token
            && !token.contains("${")
            && looks_like_token(token)
        {
            self.warning(
                "bot.token",
                "the bot token is written in the file".into(),
                Some("use an environment variable: `token: ${MY_BOT_TOKEN}`".into()),
            );
        }
        if !settings.locales.is_empty() && !settings.locales.contains(&settings.default_locale) {
            self.error(
                "bot.default_locale",
                format!("the default locale `{}` is not in `bot.locales`", settings.default_locale),
                Some(format!("add `{}` to `bot.locales`", settings.default_locale)),
            );
        }
        let mut seen = HashSet::new();
        for (i, locale) in settings.locales.iter().enumerate() {
            if !seen.insert(locale.as_str()) {
                self.error(&push_index("bot.locales", i), format!("`{locale}` is listed twice"), None);
            }
        }
        let mut seen = HashSet::new();
        for (i, spec) in settings.commands.iter().enumerate() {
            let path = push_index("bot.commands", i);
            let command_path = push_key(&path, "command");
            if let Some(stripped) = spec.command.strip_prefix('/') {
                self.error(
                    &command_path,
                    "a command is written without the slash".into(),
                    Some(format!("write `command: {stripped}`")),
                );
            } else if !valid_menu_command(&spec.command) {
                self.error(
                    &command_path,
                    format!("`{}` cannot be a menu command", spec.command),
                    Some("Telegram accepts 1 to 32 lowercase letters, digits and underscores".into()),
                );
            }
            if !seen.insert(spec.command.as_str()) {
                self.error(&command_path, format!("the command `{}` is listed twice", spec.command), None);
            }
            self.text(&spec.description, &push_key(&path, "description"));
        }
        match (&settings.start, self.bot.scenes.is_empty()) {
            (None, false) => {
                let first = self.bot.scenes.keys().next().map(String::as_str).unwrap_or("menu");
                self.error_at_key(
                    "bot.start",
                    "a bot with scenes needs `start`, the scene a new chat starts in".into(),
                    Some(format!("add `start: {first}` under `bot`")),
                );
            }
            (Some(_), true) if self.damage.entry_lost("scenes") => {}
            (Some(start), true) => self.error(
                "bot.start",
                format!("`bot.start` names the scene `{start}`, but the bot has no scenes"),
                Some("add it under `scenes`, or remove `start`".into()),
            ),
            (Some(start), false) => {
                let start = start.clone();
                self.scene_ref(&start, "bot.start");
            }
            (None, true) => {}
        }
    }

    pub(super) fn check_commands_answered(&mut self) {
        for (i, spec) in self.bot.bot.commands.iter().enumerate() {
            // A command that cannot be in the menu is already an error.
            if valid_menu_command(&spec.command) && !self.commands.contains(spec.command.as_str()) {
                self.warning(
                    &push_key(&push_index("bot.commands", i), "command"),
                    format!("no handler answers the menu command `/{}`", spec.command),
                    Some(format!("add a handler with `command: {}`", spec.command)),
                );
            }
        }
    }
}

fn valid_menu_command(command: &str) -> bool {
    (1..=32).contains(&command.len())
        && command.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `123456789:AA…` (digits, a colon, 30 or more characters).
fn looks_like_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && secret.len() >= 30
                && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => false,
    }
}
