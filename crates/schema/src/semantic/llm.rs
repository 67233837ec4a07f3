//! Checks of the `llm` step: its URL, the variables it keeps (memory, usage) and its limits.

use super::util::is_http_url;
use super::{Checker, Scope};
use crate::MAX_HTTP_RETRIES;
use crate::llm::{Llm, MAX_LLM_TIMEOUT_MS, MAX_LLM_TURNS};
use crate::source::{push_index, push_key};
use crate::templates;

impl<'a> Checker<'a> {
    pub(super) fn llm(&mut self, llm: &'a Llm, path: &str) {
        let url_path = push_key(path, "url");
        self.template(&llm.url, &url_path);
        if templates::is_static(&llm.url) && !is_http_url(&llm.url) {
            self.error(
                &url_path,
                format!("`{}` is not an absolute http(s) URL", llm.url),
                Some("the API's base URL, without `/chat/completions`: `https://api.openai.com/v1`".into()),
            );
        }
        if let Some(key) = &llm.key {
            self.template(key, &push_key(path, "key"));
        }
        self.template(&llm.model, &push_key(path, "model"));
        if let Some(system) = &llm.system {
            self.text(system, &push_key(path, "system"));
        }
        if let Some(prompt) = &llm.prompt {
            self.template(prompt, &push_key(path, "prompt"));
        }
        if let Some(placeholder) = &llm.placeholder {
            self.text(placeholder, &push_key(path, "placeholder"));
        }
        if llm.reply && self.in_job {
            self.error(
                path,
                "a job has no chat for the answer".into(),
                Some("add `reply: false` and send `result.text` with `notify`".into()),
            );
        }
        if let Some(memory) = &llm.memory {
            self.kept_variable(memory, &push_key(path, "memory"), "memory");
        }
        let limits_path = push_key(path, "limits");
        for (i, limit) in llm.limits.iter().enumerate() {
            let limit_path = push_index(&limits_path, i);
            self.kept_variable(&limit.usage, &push_key(&limit_path, "usage"), "usage");
            if limit.daily_tokens == 0 {
                self.error(
                    &push_key(&limit_path, "daily_tokens"),
                    "`daily_tokens` is 0: the model could never be asked".into(),
                    Some("give a positive budget, or remove the limit".into()),
                );
            }
        }
        if !(1..=MAX_LLM_TURNS).contains(&llm.turns) {
            self.error(
                &push_key(path, "turns"),
                format!("`turns` is {}; it can be 1 to {MAX_LLM_TURNS}", llm.turns),
                None,
            );
        }
        if let Some(temperature) = llm.temperature
            && !(0.0..=2.0).contains(&temperature)
        {
            self.error(
                &push_key(path, "temperature"),
                format!("`temperature` is {temperature}; it can be 0 to 2"),
                None,
            );
        }
        if llm.max_tokens == Some(0) {
            self.error(&push_key(path, "max_tokens"), "`max_tokens` is 0: the answer would be empty".into(), None);
        }
        if !(1..=MAX_LLM_TIMEOUT_MS).contains(&llm.timeout_ms) {
            self.error(
                &push_key(path, "timeout_ms"),
                format!("`timeout_ms` is {}; it can be 1 to {MAX_LLM_TIMEOUT_MS}", llm.timeout_ms),
                None,
            );
        }
        if llm.retries > MAX_HTTP_RETRIES {
            self.error(
                &push_key(path, "retries"),
                format!("`retries` is {}; it can be at most {MAX_HTTP_RETRIES}", llm.retries),
                None,
            );
        }
        self.save_as(llm.save_as.as_deref(), path);
    }

    /// A variable the step reads and writes (`memory`, a limit's `usage`): declared, and one a
    /// job can write when the step is in a job.
    fn kept_variable(&mut self, target: &'a str, path: &str, what: &str) {
        if let Some((scope, name)) = self.variable_target(target, path) {
            if what == "memory" && scope == Scope::Bot {
                self.error_at_key(
                    path,
                    format!("`{target}` would share one conversation between every user"),
                    Some(format!("keep it per user or per chat: `user.{name}` or `chat_vars.{name}`")),
                );
            }
            self.job_scope(scope, target, path);
            self.set.insert((scope, name.to_string()));
        }
    }
}
