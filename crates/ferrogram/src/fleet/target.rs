//! What a stored bot runs against under `serve`: Telegram (or the Bot API server of
//! `telegram.api_url`) with the token of its file's `bot.token`, or the built-in sandbox when its
//! file has none.
//!
//! The target follows the bot's current version; its record's `telegram` id (the id the engine
//! keeps its state under) follows the target when the supervisor starts it: the sandbox id of
//! its name for the sandbox, the number before the token's colon for Telegram. So a file that
//! gains a token moves its bot to Telegram at its next start (its record then carries the
//! token's id; the state kept under the sandbox id stays there), and a new token of another bot
//! moves it to that bot's id. A record that carries a Telegram id while its file has no token
//! (made for Telegram elsewhere, or a file that dropped its token) is not run: `serve` cannot
//! reach that bot without its token, and moving it back to the sandbox silently would hide its
//! Telegram state. The token itself is never stored in the database by this (only the file's
//! text, where `${NAME}` keeps it in the environment) nor logged.

use ferrogram_engine::BotEnv;
use ferrogram_schema::BotFile;

/// The API a bot runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The built-in sandbox, under the sandbox id of its name.
    Sandbox,
    /// Telegram, with the token of the file's `bot.token`.
    Telegram,
}

/// The target of a bot whose record carries `telegram` and whose current version has (or not)
/// a `bot.token`, or why `serve` does not run it.
pub(crate) fn of(name: &str, telegram: Option<u64>, has_token: bool) -> Result<Target, String> {
    if has_token {
        return Ok(Target::Telegram);
    }
    match telegram {
        None => Ok(Target::Sandbox),
        Some(id) if id == ferrogram_core::sandbox_bot_id(name) => Ok(Target::Sandbox),
        Some(id) => Err(format!(
            "{name} is Telegram bot {id} but its file has no bot.token: serve runs a Telegram bot with \
             the token of its file (`bot.token: ${{MY_BOT_TOKEN}}`)"
        )),
    }
}

/// The target of a stored version's text (`source`), for listings: Telegram when it has a
/// `bot.token`. A version that does not load is taken as it would run without one.
pub(crate) fn of_source(name: &str, telegram: Option<u64>, source: Option<&str>) -> Result<Target, String> {
    let has_token = source.is_some_and(|source| {
        let file_name = super::import::stored_file_name("", name, 0, source);
        ferrogram_schema::load_str(source, &file_name).is_ok_and(|file| file.bot.token.is_some())
    });
    of(name, telegram, has_token)
}

/// The token of `file`'s `bot.token` with its `${NAME}` read under `env` (serve's allow-list),
/// and its bot id, the number before the colon. The errors name the variable or the form, never
/// the token.
pub(crate) fn token(file: &BotFile, env: &BotEnv) -> Result<(String, u64), String> {
    let written = file.bot.token.as_deref().ok_or("the bot file has no bot.token")?;
    let token = env.expand(written, written).map_err(|e| format!("bot.token: {e}"))?;
    let id = token_id(&token).ok_or("bot.token is not of the form BOT_ID:SECRET")?;
    Ok((token, id))
}

/// The bot id of a token `BOT_ID:SECRET`: the number before the colon.
pub(crate) fn token_id(token: &str) -> Option<u64> {
    let (id, secret) = token.trim().split_once(':')?;
    if secret.is_empty() {
        return None;
    }
    id.parse().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_targets_telegram_else_the_sandbox_unless_the_record_is_telegram() {
        let sandbox = ferrogram_core::sandbox_bot_id("hello");
        assert_eq!(of("hello", Some(sandbox), false), Ok(Target::Sandbox));
        assert_eq!(of("hello", None, false), Ok(Target::Sandbox));
        assert_eq!(of("hello", Some(sandbox), true), Ok(Target::Telegram));
        assert_eq!(of("hello", Some(42), true), Ok(Target::Telegram));
        assert_eq!(of("hello", None, true), Ok(Target::Telegram));
        let refused = of("hello", Some(42), false).unwrap_err();
        assert!(refused.contains("Telegram bot 42") && refused.contains("no bot.token"), "{refused}");
    }

    #[test]
    fn listings_read_the_token_from_the_stored_source() {
        let with = "ferrogram: 1\nbot: {name: hello, token: \"${T}\"}\non: []\n";
        let without = "ferrogram: 1\nbot: {name: hello}\non: []\n";
        assert_eq!(of_source("hello", Some(42), Some(with)), Ok(Target::Telegram));
        assert!(of_source("hello", Some(42), Some(without)).is_err());
        assert!(of_source("hello", Some(42), None).is_err());
        assert_eq!(of_source("hello", None, Some("not: [a bot")), Ok(Target::Sandbox));
    }

    #[test]
    fn the_bot_id_is_the_number_before_the_colon() {
        assert_eq!(token_id("123456:ABC-def"), Some(123_456));
        for bad in ["123456", "abc:def", ":def", "123:", "0:x", "-5:x"] {
            assert_eq!(token_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_token_is_read_under_the_allow_list_and_never_in_errors() {
        let file = |token: &str| {
            let source = format!("ferrogram: 1\nbot: {{name: hello, token: \"{token}\"}}\non: []\n");
            ferrogram_schema::load_str(&source, "hello.yaml").expect("loads")
        };
        let none = BotEnv::Only(Default::default());
        let refused = token(&file("${FERROGRAM_TARGETS_TEST_TOKEN}"), &none).unwrap_err();
        assert!(refused.contains("FERROGRAM_TARGETS_TEST_TOKEN") && refused.contains("--bot-env"), "{refused}");
        assert_eq!(token(&file("77:literal"), &none), Ok(("77:literal".to_owned(), 77)));
        let malformed = token(&file("secret-without-id"), &none).unwrap_err();
        assert!(!malformed.contains("secret-without-id"), "{malformed}");
    }
}
