//! The bot's command menu on Telegram: setMyCommands for every locale the bot offers, when a
//! bot starts and when it is reloaded.

use ferrogram_telegram::flood::Priority;
use serde_json::{Value, json};

use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::template::{self, i18n};

/// setMyCommands for every locale the bot offers (and without a language for the default).
pub async fn publish_commands(bot: &BotContext, loaded: &Loaded) {
    let file = &loaded.file;
    if file.bot.commands.is_empty() {
        return;
    }
    let mut locales: Vec<String> =
        if file.bot.locales.is_empty() { file.texts.keys().cloned().collect() } else { file.bot.locales.clone() };
    if !locales.contains(&file.bot.default_locale) {
        locales.push(file.bot.default_locale.clone());
    }
    for locale in locales.iter().map(Some).chain([None]) {
        let locale_name = locale.cloned().unwrap_or_else(|| file.bot.default_locale.clone());
        let ctx = template::to_jinja(json!({"locale": locale_name}));
        let commands: Vec<Value> = file
            .bot
            .commands
            .iter()
            .map(|c| {
                let source = i18n::source(file, &c.description, &locale_name);
                let description = loaded.templates.render(source, &ctx).unwrap_or_else(|_| source.to_owned());
                json!({"command": c.command, "description": description})
            })
            .collect();
        let mut params = json!({"commands": commands});
        if let Some(locale) = locale {
            params["language_code"] = json!(locale);
        }
        let outcome: Result<Value, _> = bot.scheduler.call(Priority::Interactive, "setMyCommands", &params).await;
        if let Err(error) = outcome {
            tracing::warn!(bot_id = bot.bot_id, ?locale, %error, "setMyCommands failed");
        }
    }
}
