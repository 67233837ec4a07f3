//! The bot's command menu on Telegram: setMyCommands for every locale the bot offers, when a
//! bot starts and when it is reloaded.

use std::time::Duration;

use ferrogram_telegram::Client;
use serde_json::{Value, json};

use crate::interpret::context::Loaded;
use crate::interpret::template::{self, i18n};

/// How often a setMyCommands answered 429 is tried again (after the wait Telegram names).
const RATE_LIMITED_RETRIES: u32 = 3;
/// The longest wait a 429 may impose on it before it is given up with a warning.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// setMyCommands for every locale the bot offers (and without a language for the default),
/// straight through the bot's client: a start-time call outside the flood scheduler, so a bot
/// whose runtime is not built (an idle webhook bot) publishes its menu too. The client retries
/// network errors and 5xx answers; a 429 is waited out here.
pub async fn publish_commands(bot_id: u64, client: &Client, loaded: &Loaded) {
    publish_menus(bot_id, client, command_menus(loaded)).await;
}

/// The parameters of each setMyCommands the bot's file asks for: one per locale it offers, and
/// one without a language for the default; none when it has no commands.
pub fn command_menus(loaded: &Loaded) -> Vec<Value> {
    let file = &loaded.file;
    if file.bot.commands.is_empty() {
        return Vec::new();
    }
    let mut locales: Vec<String> =
        if file.bot.locales.is_empty() { file.texts.keys().cloned().collect() } else { file.bot.locales.clone() };
    if !locales.contains(&file.bot.default_locale) {
        locales.push(file.bot.default_locale.clone());
    }
    let mut menus = Vec::new();
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
        menus.push(params);
    }
    menus
}

/// Sends each of [`command_menus`]' setMyCommands.
pub async fn publish_menus(bot_id: u64, client: &Client, menus: Vec<Value>) {
    for params in menus {
        let mut retries = 0;
        loop {
            let outcome: Result<Value, _> = client.call("setMyCommands", &params).await;
            let Err(error) = outcome else { break };
            match error.retry_after().filter(|wait| *wait <= LONGEST_WAIT) {
                Some(wait) if error.is_rate_limited() && retries < RATE_LIMITED_RETRIES => {
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    let locale = params.get("language_code");
                    tracing::warn!(bot_id, ?locale, %error, "setMyCommands failed");
                    break;
                }
            }
        }
    }
}
