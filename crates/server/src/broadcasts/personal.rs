//! A broadcast's text for each recipient (decision 0055): a text with template syntax
//! (`{{ user.plan }}`, `{{ from.first_name }}`) is compiled once in the environment of the
//! bot's newest file ([`TextTemplate`]) and rendered per recipient with `user` (their variables)
//! and `from` (the user as the bot last saw them: `id`, `first_name`, `last_name`, `username`,
//! `language_code`). A variable the recipient does not have renders as nothing;
//! `| default("…")` names a fallback. A text without template syntax is sent as it is.

use ferrogram_engine::{Scope, TextTemplate};
use ferrogram_store::BotRecord;
use serde_json::{Value, json};

use super::message::Message;
use crate::bots::Api;

/// A broadcast's text, ready to render for each recipient.
pub struct Personal {
    template: TextTemplate,
}

impl Personal {
    /// Compiles `message`'s text in the environment of `bot`'s newest file (a bare one when it
    /// has none that loads). A syntax error is its message.
    pub async fn compile(api: &Api, bot: &BotRecord, message: &Message) -> Result<Personal, String> {
        let file = if TextTemplate::is_template(&message.text) {
            let version = api.store.current_version(bot.workspace, bot.id).await.ok().flatten();
            version.and_then(|v| ferrogram_schema::load_str(&v.source, &bot.name).ok())
        } else {
            None
        };
        let template = TextTemplate::compile(file.as_ref(), &message.text, message.parse_mode.as_deref())
            .map_err(|error| error.to_string())?;
        Ok(Personal { template })
    }

    /// Whether the text differs per recipient.
    pub fn varies(message: &Message) -> bool {
        TextTemplate::is_template(&message.text)
    }

    /// The render context of `user` of the bot whose data id is `data`.
    pub async fn context(api: &Api, data: u64, user: i64) -> Result<Value, ferrogram_store::Error> {
        let variables = api.store.load_vars(data, Scope::User(user)).await?;
        let seen = api.store.bot_user(data, user).await?.unwrap_or_else(|| json!({"id": user}));
        let from = json!({
            "id": user,
            "first_name": seen["first_name"],
            "last_name": seen["last_name"],
            "username": seen["username"],
            "language_code": seen["language_code"],
        });
        Ok(json!({"user": variables, "from": from, "locale": seen["language_code"]}))
    }

    /// The text for the user whose context is `ctx`.
    pub fn render(&self, ctx: &Value) -> Result<String, String> {
        self.template.render(ctx).map_err(|error| error.to_string())
    }
}
