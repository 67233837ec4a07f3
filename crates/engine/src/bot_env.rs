//! Which environment variables of the server a bot file may read.
//!
//! A bot file reads the server's environment wherever it writes `${NAME}`: the `http` step's
//! header values, the `llm` step's `key`, event webhooks' `url` and `secret`, and `bot.token`
//! under `ferrogram run`. A bot file may be someone else's (under `serve`), and the server's
//! environment holds its own secrets (`FERROGRAM_DATABASE_URL` and whatever else it was given),
//! so every such read goes through [`BotEnv::expand`], which applies the operator's rule
//! ([`BotEnv`]): one rule, one place. A bot's stored secrets ([`BotSecrets`], under `serve`)
//! come first: [`BotEnv::expand_with`].

use std::collections::BTreeSet;

use crate::bot_secrets::BotSecrets;

/// The prefix of Ferrogram's own configuration variables (`FERROGRAM_DATABASE_URL`, …), which
/// [`BotEnv::AllButFerrogram`] keeps from bot files unless listed.
pub const FERROGRAM_PREFIX: &str = "FERROGRAM_";

/// The operator's rule for the environment variables bot files may read with `${NAME}`.
///
/// The default is [`BotEnv::Only`] with no names: an embedder that does not choose runs bot
/// files that read nothing of its environment, since it cannot know whose files they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BotEnv {
    /// Only these names: for bot files that may come from other people (`ferrogram serve`).
    Only(BTreeSet<String>),
    /// Every variable except Ferrogram's own configuration ([`FERROGRAM_PREFIX`]), which only
    /// when in the set: for a bot file the operator wrote (`ferrogram run FILE`).
    AllButFerrogram(BTreeSet<String>),
}

impl Default for BotEnv {
    fn default() -> Self {
        BotEnv::Only(BTreeSet::new())
    }
}

impl BotEnv {
    /// Whether `name` is a variable name a bot file can write: ASCII letters, digits and `_`.
    /// Anything else in `${…}` is left as written.
    pub fn is_name(name: &str) -> bool {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// Parses one `--bot-env` value: a variable name ([`BotEnv::is_name`]).
    pub fn parse_name(text: &str) -> Result<String, String> {
        let name = text.trim();
        if BotEnv::is_name(name) {
            Ok(name.to_owned())
        } else {
            Err(format!("{text:?} is not an environment variable name (letters, digits and _)"))
        }
    }

    /// Whether the rule lets a bot file read the variable `name`.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            BotEnv::Only(names) => names.contains(name),
            BotEnv::AllButFerrogram(names) => !name.starts_with(FERROGRAM_PREFIX) || names.contains(name),
        }
    }

    /// The value of the variable `name` for a bot file. A name the rule refuses is an error
    /// naming it and the way to allow it (never the other names or the list), and is logged;
    /// an unset one is an error too.
    pub fn read(&self, name: &str) -> Result<String, String> {
        if !self.allows(name) {
            tracing::warn!(variable = name, "a bot file asked for an environment variable it may not read");
            return Err(format!(
                "bot files may not read the environment variable {name} (the operator allows it with \
                 `--bot-env {name}` or FERROGRAM_BOT_ENV)"
            ));
        }
        std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))
    }

    /// Replaces the `${NAME}` written in `source` (the bot file's text) with the variable `NAME`
    /// ([`BotEnv::read`]) in `rendered` (what the template gave; `source` itself when it is not
    /// a template). Only names written in the source are expanded, so a `${…}` coming from user
    /// input reads nothing; the first refused or unset name is the error.
    pub fn expand(&self, source: &str, rendered: &str) -> Result<String, String> {
        self.expand_with(&BotSecrets::default(), source, rendered)
    }

    /// [`BotEnv::expand`] for a bot with stored secrets: a `${NAME}` is the bot's secret `NAME`
    /// when it has one (whatever the rule says: it was given to this bot), else the variable
    /// under the rule. The value is never part of an error.
    pub fn expand_with(&self, secrets: &BotSecrets, source: &str, rendered: &str) -> Result<String, String> {
        let mut out = rendered.to_owned();
        let mut rest = source;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            rest = &after[end + 1..];
            if !BotEnv::is_name(name) {
                continue;
            }
            let placeholder = format!("${{{name}}}");
            match secrets.get(name) {
                Some(value) => out = out.replace(&placeholder, value),
                None => out = out.replace(&placeholder, &self.read(name)?),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn expands_only_names_written_in_the_source() {
        // SAFETY: a name no other test reads or writes.
        unsafe { std::env::set_var("BOT_ENV_UNIT_SECRET", "s3cr3t") };
        let env = BotEnv::Only(names(&["BOT_ENV_UNIT_SECRET", "BOT_ENV_UNIT_UNSET"]));
        let source = "Bearer ${BOT_ENV_UNIT_SECRET} {{ message.text }}";
        let rendered = "Bearer ${BOT_ENV_UNIT_SECRET} ${HOME}";
        assert_eq!(env.expand(source, rendered).as_deref(), Ok("Bearer s3cr3t ${HOME}"));
        assert_eq!(
            env.expand("${BOT_ENV_UNIT_UNSET}", "${BOT_ENV_UNIT_UNSET}"),
            Err("the environment variable BOT_ENV_UNIT_UNSET is not set".into())
        );
    }

    #[test]
    fn refusals_name_the_variable_and_not_the_list() {
        let env = BotEnv::Only(names(&["BOT_ENV_UNIT_LISTED"]));
        let error = env.expand("x ${HOME}", "x ${HOME}").expect_err("refused");
        assert!(error.contains("HOME") && error.contains("--bot-env HOME"), "{error}");
        assert!(!error.contains("BOT_ENV_UNIT_LISTED"), "{error}");
    }

    #[test]
    fn a_bots_secret_comes_before_the_environment() {
        // SAFETY: a name no other test reads or writes.
        unsafe { std::env::set_var("BOT_ENV_UNIT_BOTH", "from-env") };
        let env = BotEnv::Only(names(&["BOT_ENV_UNIT_BOTH"]));
        let secrets: BotSecrets = [("BOT_ENV_UNIT_BOTH", "stored"), ("NOT_ALLOWED", "n")].into_iter().collect();
        let source = "${BOT_ENV_UNIT_BOTH} ${NOT_ALLOWED}";
        assert_eq!(env.expand_with(&secrets, source, source).as_deref(), Ok("stored n"));
        assert!(env.expand(source, source).expect_err("not allowed").contains("NOT_ALLOWED"));
        let error = env.expand_with(&secrets, "${MISSING_ONE}", "${MISSING_ONE}").expect_err("missing");
        assert!(error.contains("MISSING_ONE") && !error.contains("stored"), "{error}");
    }

    #[test]
    fn the_rules() {
        let default = BotEnv::default();
        assert!(!default.allows("HOME") && !default.allows("FERROGRAM_DATABASE_URL"));
        let only = BotEnv::Only(names(&["WEATHER_KEY"]));
        assert!(only.allows("WEATHER_KEY") && !only.allows("HOME") && !only.allows("weather_key"));
        let run = BotEnv::AllButFerrogram(names(&["FERROGRAM_LISTED"]));
        assert!(run.allows("HOME") && run.allows("WEATHER_KEY") && run.allows("FERROGRAM_LISTED"));
        assert!(!run.allows("FERROGRAM_DATABASE_URL") && !run.allows("FERROGRAM_BOT_TOKEN"));
        assert_eq!(BotEnv::parse_name(" A_1 "), Ok("A_1".into()));
        assert!(BotEnv::parse_name("A-B").is_err() && BotEnv::parse_name("").is_err());
    }
}
