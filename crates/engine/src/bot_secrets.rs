//! A bot's stored secrets (decision 0044): the values its file reads with `${NAME}` before the
//! server's environment ([`crate::BotEnv::expand_with`]).
//!
//! The engine does not know where they come from: its host (`ferrogram serve`) opens them from
//! its store and gives them with the bot ([`crate::Engine::add_bot_with_secrets`]), and again
//! when they change ([`crate::Engine::set_secrets`]). Each value is wiped from memory when
//! dropped, and no value is ever shown: the [`std::fmt::Debug`] form lists the names only.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

/// Secret values by name, for one bot. Empty by default: the bot reads only the environment.
#[derive(Clone, Default)]
pub struct BotSecrets {
    values: BTreeMap<String, Zeroizing<String>>,
}

impl BotSecrets {
    /// Sets (or replaces) the secret `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), Zeroizing::new(value.into()));
    }

    /// The value of the secret `name`, if the bot has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|value| value.as_str())
    }

    /// The names, in order (never the values).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// How many secrets there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl std::fmt::Debug for BotSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for BotSecrets {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut secrets = BotSecrets::default();
        for (name, value) in pairs {
            secrets.insert(name, value);
        }
        secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_never_values() {
        let secrets: BotSecrets = [("SHOP_KEY", "v4lue-never-shown"), ("A", "b")].into_iter().collect();
        let shown = format!("{secrets:?}");
        assert_eq!(shown, r#"{"A", "SHOP_KEY"}"#);
        assert_eq!(secrets.get("SHOP_KEY"), Some("v4lue-never-shown"));
        assert_eq!(secrets.get("shop_key"), None);
        assert_eq!(secrets.len(), 2);
    }
}
