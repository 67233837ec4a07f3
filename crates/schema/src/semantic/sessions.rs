//! Checks of `http_sessions` (decision 0057): each session does something, its login is a
//! request that can run (an absolute URL, one body, valid headers), its handshake names a header
//! a bot may set; and each `http` step's `session` names a declared one.

use super::Checker;
use super::http::{bad_header_name, is_literal};
use super::util::is_http_url;
use crate::source::push_key;
use crate::{MAX_HTTP_TIMEOUT_MS, suggest, templates};

impl<'a> Checker<'a> {
    pub(super) fn check_http_sessions(&mut self) {
        for (name, session) in &self.bot.http_sessions {
            let path = push_key("http_sessions", name);
            if session.login.is_none() && session.handshake.is_none() && session.basic_auth.is_none() {
                self.error_at_key(
                    &path,
                    format!("the session `{name}` does nothing"),
                    Some("give it a `login`, a `handshake` header or `basic_auth`".into()),
                );
            }
            if let Some(login) = &session.login {
                let login_path = push_key(&path, "login");
                let url_path = push_key(&login_path, "url");
                self.template(&login.url, &url_path);
                if templates::is_static(&login.url) && !is_http_url(&login.url) {
                    self.error(
                        &url_path,
                        format!("`{}` is not an absolute http(s) URL", login.url),
                        Some("write it whole: `https://api.example.com/login`".into()),
                    );
                }
                self.headers(&login.headers, &push_key(&login_path, "headers"));
                if let Some(json) = &login.json {
                    self.json_templates(json, &push_key(&login_path, "json"));
                }
                self.form_body(&login.form, login.json.is_some(), &push_key(&login_path, "form"));
                if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&login.timeout_ms) {
                    self.error(
                        &push_key(&login_path, "timeout_ms"),
                        format!("`timeout_ms` is {}; it can be 1 to {MAX_HTTP_TIMEOUT_MS}", login.timeout_ms),
                        None,
                    );
                }
            }
            if let Some(header) = &session.handshake
                && let Some((message, hint)) = bad_header_name(header)
            {
                self.error(&push_key(&path, "handshake"), message, hint);
            }
            if let Some(auth) = &session.basic_auth {
                let auth_path = push_key(&path, "basic_auth");
                self.template(&auth.username, &push_key(&auth_path, "username"));
                self.template(&auth.password, &push_key(&auth_path, "password"));
                if !auth.password.is_empty() && is_literal(&auth.password) {
                    self.warning(
                        &push_key(&auth_path, "password"),
                        "the password is written in the file".into(),
                        Some("use a secret: `password: \"${API_PASSWORD}\"`, or a bot variable an admin sets".into()),
                    );
                }
            }
        }
    }

    /// The `session` of an `http` step: a declared one.
    pub(super) fn session_ref(&mut self, name: &str, path: &str) {
        if self.bot.http_sessions.contains_key(name) || self.lost("http_sessions") {
            return;
        }
        let names: Vec<&str> = self.bot.http_sessions.keys().map(String::as_str).collect();
        let hint = if names.is_empty() {
            Some(format!("declare it: `http_sessions: {{{name}: {{login: {{url: …, form: {{…}}}}}}}}`"))
        } else {
            suggest::did_you_mean(name, names.iter().copied()).map(|best| format!("did you mean `{best}`?")).or_else(
                || suggest::one_of(names.iter().copied()).map(|l| l.replace("expected one of", "the sessions are")),
            )
        };
        self.error(path, format!("unknown session `{name}`"), hint);
    }
}
