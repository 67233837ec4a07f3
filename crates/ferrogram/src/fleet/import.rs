//! One bot file into the store: validated, then saved as its bot's newest version in a
//! workspace, the bot created by its `bot.name` when new. `ferrogram bot add` and `serve`'s
//! folder (at start-up and when a file changes) both go through [`import`], so a file means
//! the same thing whichever way it arrives. `bot add FILE --token T` stores the bot's token with
//! it, encrypted, in the same transaction ([`import_with_token`]).

use ferrogram_schema::{BotFile, Diagnostic};
use ferrogram_store::{BOT_TOKEN, Store};

use super::target::{self, Target};

/// The workspace bots go into when none is named: created by the first import, then reused.
pub(crate) const DEFAULT_WORKSPACE: &str = "default";

/// A bot file that passed validation: the bot, the text saved, and the warnings it had.
pub(crate) struct Valid {
    pub(crate) file: BotFile,
    pub(crate) source: String,
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Checks `source` as a bot file named `file_name` (in diagnostics; `.json` means JSON): every
/// diagnostic, warnings included, when it has an error.
pub(crate) fn validate(source: String, file_name: &str) -> Result<Valid, Vec<Diagnostic>> {
    let checked = ferrogram_schema::check_str(&source, file_name);
    let has_errors = checked.has_errors();
    match checked.bot {
        Some(file) if !has_errors => Ok(Valid { file, source, warnings: checked.diagnostics }),
        _ => Err(checked.diagnostics),
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A new bot, with its first version.
    Added { version: i64 },
    /// A known bot whose source changed: its new version.
    Saved { version: i64 },
    /// The source is the bot's current version already: nothing saved.
    Unchanged { version: i64 },
}

impl Outcome {
    /// The bot's current version after the import.
    pub(crate) fn version(&self) -> i64 {
        match *self {
            Outcome::Added { version } | Outcome::Saved { version } | Outcome::Unchanged { version } => version,
        }
    }
}

/// What an import did with the token given to it ([`import_with_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenOutcome {
    /// The bot had no stored token.
    Stored,
    /// It had another one.
    Replaced,
    /// It had this one.
    Unchanged,
}

/// An import's result: the bot's name, what was done (with the token given, if any), and what
/// `serve` runs it against ([`target::of`]), or why it does not run it.
#[derive(Debug, Clone)]
pub(crate) struct Imported {
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
    pub(crate) token: Option<TokenOutcome>,
    pub(crate) target: Result<Target, String>,
}

/// `added hello (version 1)`, `hello: version 3`, `hello: unchanged`, then `; token stored
/// (encrypted)`, `; token replaced (encrypted)` or `; token unchanged` when one was given.
impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.outcome {
            Outcome::Added { version } => write!(f, "added {} (version {version})", self.name)?,
            Outcome::Saved { version } => write!(f, "{}: version {version}", self.name)?,
            Outcome::Unchanged { .. } => write!(f, "{}: unchanged", self.name)?,
        }
        match self.token {
            None => Ok(()),
            Some(TokenOutcome::Stored) => write!(f, "; token stored (encrypted)"),
            Some(TokenOutcome::Replaced) => write!(f, "; token replaced (encrypted)"),
            Some(TokenOutcome::Unchanged) => write!(f, "; token unchanged"),
        }
    }
}

/// Saves a validated bot file into `workspace` (by name, created if missing), in one
/// transaction: the bot is found by its `bot.name` or created (under the sandbox id its name
/// gives it, the id the engine keeps its state under; with no id yet when it has a token: the
/// supervisor sets the token's when it starts it, [`target`]), and a new
/// version is saved only if the source differs from its current one.
pub(crate) async fn import(store: &Store, workspace: &str, valid: &Valid) -> Result<Imported, String> {
    import_with_token(store, workspace, valid, None).await
}

/// [`import`], and `token` (if given) stored as the bot's own secret, encrypted under the
/// store's key, in the same transaction: a bot with a stored token runs against Telegram with
/// it, whatever its file's `bot.token` ([`target`]). The errors never hold the token.
pub(crate) async fn import_with_token(
    store: &Store,
    workspace: &str,
    valid: &Valid,
    token: Option<&str>,
) -> Result<Imported, String> {
    let name = valid.file.bot.name.clone();
    let failed = |e: ferrogram_store::Error| format!("{name}: {e}");
    let mut tx = store.transaction().await.map_err(failed)?;
    let workspace_id = match tx.workspace_named(workspace).await.map_err(failed)? {
        Some(found) => found.id,
        None => tx.create_workspace(workspace).await.map_err(failed)?,
    };
    // A bot that gets a token is created without an id: the supervisor gives it its token's.
    let has_token = valid.file.bot.token.is_some() || token.is_some();
    let (record, current, telegram) = match tx.bot_named(workspace_id, &name).await.map_err(failed)? {
        Some(bot) => {
            let current = tx.current_version(workspace_id, bot.id).await.map_err(failed)?;
            (bot.id, current, bot.telegram_id)
        }
        None => {
            let telegram = if has_token { None } else { Some(ferrogram_core::sandbox_bot_id(&name)) };
            let created = tx.create_bot(workspace_id, &name, telegram).await.map_err(|e| {
                format!("{name}: cannot create the bot (is a bot of this name in another workspace?): {e}")
            })?;
            // Saved again: no longer a removed bot ([`removed_unchanged`]).
            tx.forget_removed(workspace_id, &name).await.map_err(failed)?;
            (created.ok_or_else(|| format!("{name}: no workspace {workspace}"))?, None, telegram)
        }
    };
    let token_outcome = match token {
        None => None,
        Some(token) => {
            let stored = tx.secret(workspace_id, Some(record), BOT_TOKEN).await.map_err(failed)?;
            if stored.as_deref() == Some(token) {
                Some(TokenOutcome::Unchanged)
            } else {
                let put = tx.put_secret(workspace_id, Some(record), BOT_TOKEN, token).await.map_err(failed)?;
                if !put {
                    return Err(format!("{name}: the bot vanished while saving its token"));
                }
                Some(if stored.is_some() { TokenOutcome::Replaced } else { TokenOutcome::Stored })
            }
        }
    };
    let stored_token = token.is_some() || tx.has_secret(workspace_id, Some(record), BOT_TOKEN).await.map_err(failed)?;
    let outcome = match current {
        Some(current) if current.source == valid.source => Outcome::Unchanged { version: current.version },
        had => {
            let version = tx
                .save_version(workspace_id, record, &valid.source)
                .await
                .map_err(failed)?
                .ok_or_else(|| format!("{name}: the bot vanished while saving"))?;
            if had.is_some() { Outcome::Saved { version } } else { Outcome::Added { version } }
        }
    };
    tx.commit().await.map_err(failed)?;
    let target = target::of(&name, telegram, has_token || stored_token);
    Ok(Imported { name, outcome, token: token_outcome, target })
}

/// When the bot of `valid` was removed from `workspace` (`ferrogram bot remove`), if it was and
/// `valid` is exactly its last version: `serve`'s folder does not import such a file (it would
/// bring back a bot an operator removed); a changed file, or `bot add`, does.
pub(crate) async fn removed_unchanged(store: &Store, workspace: &str, valid: &Valid) -> Result<Option<i64>, String> {
    let Some(workspace) = store.workspace_named(workspace).await.map_err(|e| e.to_string())? else { return Ok(None) };
    store.removed_with(workspace.id, &valid.file.bot.name, &valid.source).await.map_err(|e| e.to_string())
}

/// The name a stored version is loaded under: it picks the parser (`.json` for a source that
/// is a JSON object, YAML otherwise) and names the bot in diagnostics.
pub(crate) fn stored_file_name(workspace: &str, bot: &str, version: i64, source: &str) -> String {
    let json = source.trim_start_matches('\u{feff}').trim_start().starts_with('{');
    format!("{workspace}/{bot} version {version}.{}", if json { "json" } else { "yaml" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_print_what_was_done() {
        let imported = |outcome, token| Imported { name: "hello".into(), outcome, token, target: Ok(Target::Sandbox) };
        assert_eq!(imported(Outcome::Added { version: 1 }, None).to_string(), "added hello (version 1)");
        assert_eq!(imported(Outcome::Saved { version: 3 }, None).to_string(), "hello: version 3");
        assert_eq!(imported(Outcome::Unchanged { version: 3 }, None).to_string(), "hello: unchanged");
        let stored = imported(Outcome::Added { version: 1 }, Some(TokenOutcome::Stored)).to_string();
        assert_eq!(stored, "added hello (version 1); token stored (encrypted)");
        let replaced = imported(Outcome::Unchanged { version: 2 }, Some(TokenOutcome::Replaced)).to_string();
        assert_eq!(replaced, "hello: unchanged; token replaced (encrypted)");
        let same = imported(Outcome::Saved { version: 3 }, Some(TokenOutcome::Unchanged)).to_string();
        assert_eq!(same, "hello: version 3; token unchanged");
    }

    #[test]
    fn stored_sources_load_as_json_or_yaml() {
        assert_eq!(stored_file_name("default", "a", 2, "  {\"ferrogram\": 1}"), "default/a version 2.json");
        assert_eq!(stored_file_name("default", "a", 2, "ferrogram: 1"), "default/a version 2.yaml");
    }

    #[test]
    fn validation_keeps_warnings_and_refuses_errors() {
        let valid = validate("ferrogram: 1\nbot: {name: a}\non: []\n".into(), "a.yaml");
        assert!(valid.is_ok());
        let refused =
            validate("ferrogram: 1\nbot: {name: a}\non: [{command: x, do: [{goto: nowhere}]}]\n".into(), "a.yaml");
        let diagnostics = refused.err().expect("refused");
        assert!(diagnostics.iter().any(|d| d.is_error() && d.to_string().starts_with("a.yaml:")), "{diagnostics:?}");
    }
}
