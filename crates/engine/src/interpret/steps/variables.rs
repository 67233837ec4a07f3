//! Variables: `set` and `unset`, the scopes a step names (`user.x`, `chat.x` or `chat_vars.x`,
//! `bot.x`), their declared types and defaults, and the bot-wide variables' lock.

use std::sync::Arc;

use ferrogram_schema::ValueType;
use serde_json::{Map, Value, json};

use crate::error::EngineError;
use crate::interpret::context::BotContext;
use crate::interpret::steps::run::Run;
use ferrogram_core::Scope;

impl<'a> Run<'a> {
    /// `set`: renders each value and writes it to its variable.
    pub(super) async fn set(&mut self, values: &std::collections::BTreeMap<String, String>) -> Result<(), EngineError> {
        for (key, template) in values {
            self.before_write(key).await?;
            let raw = self.render(template)?;
            self.set_var(key, Some(raw))?;
        }
        Ok(())
    }

    /// `unset`: returns each variable to its default (or removes an undeclared one).
    pub(super) async fn unset(&mut self, keys: &[String]) -> Result<(), EngineError> {
        for key in keys {
            self.before_write(key).await?;
            self.set_var(key, None)?;
        }
        Ok(())
    }

    /// The value of a variable named as `set` names it (`user.x`, `chat.x` or `chat_vars.x`,
    /// `bot.x`); `null` when unset.
    pub fn var_value(&self, key: &str) -> Result<Value, EngineError> {
        let (scope, name) = VarScope::split(key).map_err(EngineError::Step)?;
        Ok(self.ctx.get(scope.ctx_key()).and_then(|vars| vars.get(name)).cloned().unwrap_or(Value::Null))
    }

    /// Before a step writes `key`: a write to a bot-wide variable takes the bot's variable lock
    /// (held until the commit) and reads the bot's variables afresh, so handlers of different
    /// chats that update the same bot variable (`bot.subscribers + [from.id]`) do it one after
    /// the other instead of losing each other's changes.
    pub async fn before_write(&mut self, key: &str) -> Result<(), EngineError> {
        if !key.starts_with("bot.") || self.bot_vars_lock.is_some() {
            return Ok(());
        }
        self.bot_vars_lock = Some(Arc::clone(&self.bot.bot_vars).lock_owned().await);
        let fresh = self.bot.store.load_vars(self.bot.bot_id, Scope::Bot).await?;
        self.set_ctx("bot", Value::Object(with_defaults(&self.file().variables.bot, fresh)));
        Ok(())
    }

    /// `set`/`unset` of `user.x`, `chat.x` (or `chat_vars.x`) and `bot.x`; `raw` is typed by
    /// the variable's declaration, or guessed when undeclared. Every variable write goes
    /// through here, and a value over [`crate::SizeCaps::variable`] fails it.
    pub fn set_var(&mut self, key: &str, raw: Option<String>) -> Result<(), EngineError> {
        let (var_scope, name) = VarScope::split(key).map_err(|e| EngineError::Step(format!("set: {e}")))?;
        let vars = &self.file().variables;
        let (scope, declared) = match var_scope {
            VarScope::User => (Scope::User(self.event.user_id), vars.user.get(name)),
            VarScope::Chat => (Scope::Chat(self.event.chat_id), vars.chat.get(name)),
            VarScope::Bot => (Scope::Bot, vars.bot.get(name)),
        };
        let ctx_key = var_scope.ctx_key();
        if self.job && scope != Scope::Bot {
            return Err(EngineError::Step(format!("set: a job has no user or chat for {key:?}")));
        }
        let value = match raw {
            Some(raw) => {
                Some(typed(raw, declared.map(|v| v.kind)).map_err(|e| EngineError::Step(format!("{key}: {e}")))?)
            }
            None => None,
        };
        if let Some(value) = &value {
            self.bot.caps.check_variable(key, value)?;
        }
        self.effects.vars.push((scope, name.to_owned(), value.clone()));
        if let Some(Value::Object(map)) = self.ctx.get_mut(ctx_key) {
            match value {
                Some(value) => map.insert(name.to_owned(), value),
                None => match declared {
                    Some(declared) => map.insert(name.to_owned(), initial(declared)),
                    None => map.remove(name),
                },
            };
        }
        self.cache = None;
        Ok(())
    }
}

/// The scope of a variable as a step names it: `user.x`, `chat.x` (or `chat_vars.x`), `bot.x`.
#[derive(Clone, Copy)]
enum VarScope {
    User,
    Chat,
    Bot,
}

impl VarScope {
    /// Splits `scope.name`.
    fn split(key: &str) -> Result<(VarScope, &str), String> {
        let (scope, name) = key.split_once('.').ok_or_else(|| format!("{key:?} is not scope.name"))?;
        let scope = match scope {
            "user" => VarScope::User,
            "chat" | "chat_vars" => VarScope::Chat,
            "bot" => VarScope::Bot,
            other => return Err(format!("unknown scope {other:?} in {key:?}")),
        };
        Ok((scope, name))
    }

    /// Where templates read the scope's variables.
    fn ctx_key(self) -> &'static str {
        match self {
            VarScope::User => "user",
            VarScope::Chat => "chat_vars",
            VarScope::Bot => "bot",
        }
    }
}

/// A scope's variables: the declared ones with their defaults, overlaid with what is stored. A
/// scope the file declares no variable in is not read: nothing can be written to it, and a
/// read of one of its variables does not pass the checks (decision 0018).
pub(super) async fn scope_vars(
    bot: &BotContext,
    declared: &std::collections::BTreeMap<String, ferrogram_schema::Variable>,
    scope: Scope,
) -> Result<Map<String, Value>, EngineError> {
    if declared.is_empty() {
        return Ok(Map::new());
    }
    Ok(with_defaults(declared, bot.store.load_vars(bot.bot_id, scope).await?))
}

/// Declared variables with their defaults (or their type's empty value), overlaid with what
/// is stored.
pub(super) fn with_defaults(
    declared: &std::collections::BTreeMap<String, ferrogram_schema::Variable>,
    stored: Map<String, Value>,
) -> Map<String, Value> {
    let mut vars: Map<String, Value> = declared.iter().map(|(name, var)| (name.clone(), initial(var))).collect();
    vars.extend(stored);
    vars
}

fn initial(var: &ferrogram_schema::Variable) -> Value {
    var.default.clone().unwrap_or(match var.kind {
        ValueType::String => json!(""),
        ValueType::Number => json!(0),
        ValueType::Bool => json!(false),
        ValueType::List => json!([]),
        ValueType::Object => json!({}),
    })
}

/// A rendered value, typed: as declared, or a number, `true`/`false` or JSON when it reads as one.
pub fn typed(raw: String, declared: Option<ValueType>) -> Result<Value, String> {
    let trimmed = raw.trim();
    let number = || -> Option<Value> {
        let n: f64 = trimmed.parse().ok().filter(|n: &f64| n.is_finite())?;
        Some(number_value(n))
    };
    match declared {
        Some(ValueType::String) => Ok(Value::String(raw)),
        Some(ValueType::Number) => number().ok_or_else(|| format!("{raw:?} is not a number")),
        Some(ValueType::Bool) => match trimmed {
            "true" | "True" => Ok(json!(true)),
            "false" | "False" | "" => Ok(json!(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        Some(ValueType::List) => match serde_json::from_str(trimmed) {
            Ok(Value::Array(list)) => Ok(Value::Array(list)),
            _ => Err(format!("{raw:?} is not a JSON list")),
        },
        Some(ValueType::Object) => match serde_json::from_str(trimmed) {
            Ok(Value::Object(map)) => Ok(Value::Object(map)),
            _ => Err(format!("{raw:?} is not a JSON object")),
        },
        None => Ok(match trimmed {
            "true" | "True" => json!(true),
            "false" | "False" => json!(false),
            _ if trimmed.starts_with(['[', '{']) => serde_json::from_str(trimmed).unwrap_or(Value::String(raw)),
            _ => number().unwrap_or(Value::String(raw)),
        }),
    }
}

/// Whole numbers as integers, so `{{ user.score }}` prints `3`, not `3.0`.
pub fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 { json!(n as i64) } else { json!(n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed() {
        assert_eq!(typed("3".into(), None), Ok(json!(3)));
        assert_eq!(typed("2.5".into(), None), Ok(json!(2.5)));
        assert_eq!(typed("true".into(), None), Ok(json!(true)));
        assert_eq!(typed("[1, 2]".into(), None), Ok(json!([1, 2])));
        assert_eq!(typed("Ann".into(), None), Ok(json!("Ann")));
        assert_eq!(typed("42".into(), Some(ValueType::String)), Ok(json!("42")));
        assert!(typed("x".into(), Some(ValueType::Number)).is_err());
        assert_eq!(typed("[\"a\"]".into(), Some(ValueType::List)), Ok(json!(["a"])));
    }
}
