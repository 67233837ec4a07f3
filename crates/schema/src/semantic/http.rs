//! Checks of the `http` step: an absolute URL, header names Ferrogram lets a bot set and no
//! secret written in a header, templates in the query and the JSON or form body, a declared
//! session, the timeout and retries, and a `save` target that can hold the answer.

use super::util::is_http_url;
use super::{Checker, Scope};
use crate::source::push_key;
use crate::templates;
use crate::{HttpRequest, MAX_HTTP_RETRIES, MAX_HTTP_TIMEOUT_MS, ValueType};

impl<'a> Checker<'a> {
    pub(super) fn http(&mut self, request: &'a HttpRequest, path: &str) {
        let url_path = push_key(path, "url");
        self.template(&request.url, &url_path);
        if templates::is_static(&request.url) && !is_http_url(&request.url) {
            self.error(
                &url_path,
                format!("`{}` is not an absolute http(s) URL", request.url),
                Some("write it whole: `https://api.example.com/…`".into()),
            );
        }
        self.headers(&request.headers, &push_key(path, "headers"));
        for (name, value) in &request.query {
            self.template(value, &push_key(&push_key(path, "query"), name));
        }
        if let Some(json) = &request.json {
            self.json_templates(json, &push_key(path, "json"));
        }
        self.form_body(&request.form, request.json.is_some(), &push_key(path, "form"));
        if let Some(name) = &request.session {
            self.session_ref(name, &push_key(path, "session"));
        }
        if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&request.timeout_ms) {
            self.error(
                &push_key(path, "timeout_ms"),
                format!("`timeout_ms` is {}; it can be 1 to {MAX_HTTP_TIMEOUT_MS}", request.timeout_ms),
                None,
            );
        }
        if request.retries > MAX_HTTP_RETRIES {
            self.error(
                &push_key(path, "retries"),
                format!("`retries` is {}; it can be at most {MAX_HTTP_RETRIES}", request.retries),
                None,
            );
        }
        if let Some(target) = &request.save {
            let save_path = push_key(path, "save");
            if let Some((scope, name)) = self.variable_target(target, &save_path) {
                self.set.insert((scope, name.to_string()));
                let variables = &self.bot.variables;
                let table = match scope {
                    Scope::User => &variables.user,
                    Scope::Chat => &variables.chat,
                    Scope::Bot => &variables.bot,
                };
                let kind = table.get(name).map(|v| v.kind);
                if let Some(kind) = kind.filter(|k| *k != ValueType::Object) {
                    let kind = serde_json::to_value(kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    self.error(
                        &save_path,
                        format!("`{target}` is a `{kind}` variable, but an HTTP answer is an object"),
                        Some(format!("declare it with `type: object`; then read `{target}.json`")),
                    );
                }
            }
        }
    }
}

impl<'a> Checker<'a> {
    /// Request headers (of an `http` step or a session's login): names Ferrogram lets a bot
    /// set, template values, no secret written out.
    pub(super) fn headers(&mut self, headers: &'a std::collections::BTreeMap<String, String>, headers_path: &str) {
        for (name, value) in headers {
            let header_path = push_key(headers_path, name);
            if let Some((message, hint)) = bad_header_name(name) {
                self.error_at_key(&header_path, message, hint);
            }
            self.template(value, &header_path);
            if looks_like_literal_secret(name, value) {
                let example = match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} ${{API_TOKEN}}"),
                    None => "${API_TOKEN}".into(),
                };
                self.warning(
                    &header_path,
                    format!("the header `{name}` has a secret written in the file"),
                    Some(format!("use an environment variable: `{name}: \"{example}\"`")),
                );
            }
        }
    }

    /// A form body: template values, no password written out, not with `json` too.
    pub(super) fn form_body(
        &mut self,
        form: &'a std::collections::BTreeMap<String, String>,
        has_json: bool,
        path: &str,
    ) {
        if form.is_empty() {
            return;
        }
        if has_json {
            self.error_at_key(
                path,
                "a request has one body: `form` or `json`, not both".into(),
                Some("keep `form` for an API that reads form fields, `json` for one that reads JSON".into()),
            );
        }
        for (name, value) in form {
            let field_path = push_key(path, name);
            self.template(value, &field_path);
            if looks_like_literal_secret(name, value)
                || (name.to_ascii_lowercase().contains("pass") && is_literal(value) && !value.is_empty())
            {
                self.warning(
                    &field_path,
                    format!("the field `{name}` has a secret written in the file"),
                    Some(format!("use a secret: `{name}: \"${{API_PASSWORD}}\"`, or a bot variable an admin sets")),
                );
            }
        }
    }
}

/// Why `name` cannot be a header a bot sets, with a hint; `None` when it can.
pub(super) fn bad_header_name(name: &str) -> Option<(String, Option<String>)> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
        Some((format!("`{name}` cannot be a header name"), Some("use letters, digits and `-`".into())))
    } else if ["host", "content-length", "transfer-encoding", "connection"]
        .contains(&name.to_ascii_lowercase().as_str())
    {
        Some((format!("the header `{name}` is set by Ferrogram"), None))
    } else {
        None
    }
}

/// A value with no template and no `${NAME}`: written out in the file.
pub(super) fn is_literal(value: &str) -> bool {
    !(value.contains("${") || value.contains("{{") || value.contains("{%"))
}

/// A header value that is a credential written out: `Authorization: Bearer abc…`, an API key.
fn looks_like_literal_secret(name: &str, value: &str) -> bool {
    if !is_literal(value) {
        return false;
    }
    let name = name.to_ascii_lowercase();
    let sensitive = matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie")
        || ["token", "key", "secret", "password", "auth"].iter().any(|word| name.contains(word));
    let secret = value.split_once(' ').map_or(value, |(_, rest)| rest).trim();
    sensitive && secret.len() >= 8
}
