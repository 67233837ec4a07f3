//! What a stored bot runs against under `serve`: Telegram (or the Bot API server of
//! `telegram.api_url`) with its token, or the built-in sandbox when it has none. Its token is the
//! one stored for it, encrypted (`ferrogram bot add FILE --token T`, decision 0034), else its
//! file's `bot.token`: the stored token wins when it has both, as `run --token` wins over the
//! file's.
//!
//! The target follows the bot's current version; its record's `telegram` id (the id the engine
//! keeps its state under) follows the target when the supervisor starts it: the sandbox id of
//! its name for the sandbox, the number before the token's colon for Telegram. So a file that
//! gains a token moves its bot to Telegram at its next start (its record then carries the
//! token's id; the state kept under the sandbox id stays there), and a new token of another bot
//! moves it to that bot's id. A record that carries a Telegram id while its file has no token
//! (made for Telegram elsewhere, or a file that dropped its token) is not run: `serve` cannot
//! reach that bot without its token, and moving it back to the sandbox silently would hide its
//! Telegram state. A token is never logged nor put in an error; in the database it is either the
//! encrypted stored one or the file's text (where `${NAME}` keeps it in the environment).

use ferrogram_engine::BotEnv;
use ferrogram_schema::BotFile;
use ferrogram_store::{BOT_TOKEN, BotRecord, Store};

/// The API a bot runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The built-in sandbox, under the sandbox id of its name.
    Sandbox,
    /// Telegram, with the bot's stored token or its file's `bot.token`.
    Telegram,
}

/// The target of a bot whose record carries `telegram` and that has (or not) a token — a stored
/// one or its current version's `bot.token` —, or why `serve` does not run it.
pub(crate) fn of(name: &str, telegram: Option<u64>, has_token: bool) -> Result<Target, String> {
    if has_token {
        return Ok(Target::Telegram);
    }
    match telegram {
        None => Ok(Target::Sandbox),
        Some(id) if id == ferrogram_core::sandbox_bot_id(name) => Ok(Target::Sandbox),
        Some(id) => Err(format!(
            "{name} is Telegram bot {id} but its file has no bot.token and no token is stored for it: serve \
             runs a Telegram bot with the token of its file (`bot.token: ${{MY_BOT_TOKEN}}`) or one stored \
             with `ferrogram bot add FILE --token T`"
        )),
    }
}

/// The target of a stored version's text (`source`), for listings: Telegram when the bot has a
/// `stored` token or the version a `bot.token`. A version that does not load is taken as it
/// would run without one.
pub(crate) fn of_source(
    name: &str,
    telegram: Option<u64>,
    source: Option<&str>,
    stored: bool,
) -> Result<Target, String> {
    let has_token = stored
        || source.is_some_and(|source| {
            let file_name = super::import::stored_file_name("", name, 0, source);
            ferrogram_schema::load_str(source, &file_name).is_ok_and(|file| file.bot.token.is_some())
        });
    of(name, telegram, has_token)
}

/// [`of_source`] for a bot of the store, whether it has a stored token asked of `store` (no key
/// needed).
pub(crate) async fn of_record(store: &Store, record: &BotRecord, source: Option<&str>) -> Result<Target, String> {
    let stored = store.has_secret(record.workspace, Some(record.id), BOT_TOKEN).await.map_err(|e| e.to_string())?;
    of_source(&record.name, record.telegram_id, source, stored)
}

/// The bot's stored token, opened with the store's key; `None` when none is stored. The error
/// says why it cannot be read (no key, another key, altered), never the token.
pub(crate) async fn stored_token(store: &Store, workspace: i64, bot: i64) -> Result<Option<String>, String> {
    store.secret(workspace, Some(bot), BOT_TOKEN).await.map_err(|error| match error {
        ferrogram_store::Error::WrongSecretKey { .. } => {
            format!("its stored token: {error} (was the key rotated since serve started? restart it)")
        }
        error => format!("its stored token: {error}"),
    })
}

/// The token the bot runs with on Telegram and its bot id, the number before the colon: its
/// `stored` token when it has one, else its file's `bot.token` with its `${NAME}` read under `env`
/// (serve's allow-list). The errors name the variable or the form, never the token.
pub(crate) fn token(file: &BotFile, stored: Option<&str>, env: &BotEnv) -> Result<(String, u64), String> {
    if let Some(stored) = stored {
        let id = token_id(stored).ok_or("its stored token is not of the form BOT_ID:SECRET")?;
        return Ok((stored.to_owned(), id));
    }
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
        assert!(refused.contains("bot add FILE --token"), "{refused}");
    }

    #[test]
    fn listings_read_the_token_from_the_stored_source() {
        let with = "ferrogram: 1\nbot: {name: hello, token: \"${T}\"}\non: []\n";
        let without = "ferrogram: 1\nbot: {name: hello}\non: []\n";
        assert_eq!(of_source("hello", Some(42), Some(with), false), Ok(Target::Telegram));
        assert!(of_source("hello", Some(42), Some(without), false).is_err());
        assert!(of_source("hello", Some(42), None, false).is_err());
        assert_eq!(of_source("hello", None, Some("not: [a bot"), false), Ok(Target::Sandbox));
        // A stored token: Telegram, whatever the file.
        assert_eq!(of_source("hello", Some(42), Some(without), true), Ok(Target::Telegram));
        assert_eq!(of_source("hello", None, None, true), Ok(Target::Telegram));
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
        let refused = token(&file("${FERROGRAM_TARGETS_TEST_TOKEN}"), None, &none).unwrap_err();
        assert!(refused.contains("FERROGRAM_TARGETS_TEST_TOKEN") && refused.contains("--bot-env"), "{refused}");
        assert_eq!(token(&file("77:literal"), None, &none), Ok(("77:literal".to_owned(), 77)));
        let malformed = token(&file("secret-without-id"), None, &none).unwrap_err();
        assert!(!malformed.contains("secret-without-id"), "{malformed}");
    }

    #[test]
    fn a_stored_token_wins_over_the_file_and_is_never_in_errors() {
        let source = "ferrogram: 1\nbot: {name: hello, token: \"${NOT_ALLOWED}\"}\non: []\n";
        let file = ferrogram_schema::load_str(source, "hello.yaml").expect("loads");
        let none = BotEnv::Only(Default::default());
        // The file's variable is not even read (it is not allowed).
        assert_eq!(token(&file, Some("88:stored"), &none), Ok(("88:stored".to_owned(), 88)));
        let malformed = token(&file, Some("stored-without-id"), &none).unwrap_err();
        assert!(malformed.contains("stored token") && !malformed.contains("stored-without-id"), "{malformed}");
    }
}
