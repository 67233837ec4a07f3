//! The `http` step: a request rendered from the file, made through the engine's guarded HTTP
//! client ([`crate::interpret::http`]), its answer in `result` (and in `save`'s variable). A
//! step naming a `session` (decision 0057) logs in first when the session has no cookies yet,
//! sends the session's cookies, handshake header and basic authentication, logs in again once
//! on a 401 or 403, and makes the call again once with the header a 409 hands out.

use base64::Engine as _;
use ferrogram_schema::HttpSession;
use serde_json::Value;
use tracing::Instrument;

use crate::error::EngineError;
use crate::interpret::http::Prepared;
use crate::interpret::http_session;
use crate::interpret::steps::run::Run;

impl<'a> Run<'a> {
    /// `http`: makes the request; its answer becomes `result`, and the value of `save`'s
    /// variable when it names one.
    pub(super) async fn http_step(&mut self, request: &'a ferrogram_schema::HttpRequest) -> Result<(), EngineError> {
        let result = self.http(request).await?;
        if let Some(target) = &request.save {
            self.before_write(target).await?;
            self.set_var(target, Some(result.to_string()))?;
        }
        self.set_ctx("result", result);
        Ok(())
    }

    /// `http`: renders the request and calls it (through its session, if any); a failure is a
    /// step error naming the host (never a header's, a form field's or a cookie's value).
    async fn http(&mut self, request: &'a ferrogram_schema::HttpRequest) -> Result<Value, EngineError> {
        let method = request.method.as_str();
        let url = self.render_raw(&request.url)?;
        let host = crate::interpret::http::host_or_url(&url);
        let fail = |reason: String| EngineError::Http(format!("http {method} {host}: {reason}"));
        let mut headers = self.render_pairs(&request.headers, "header").map_err(|e| e.into_step(&fail))?;
        let mut query = Vec::with_capacity(request.query.len());
        for (name, source) in &request.query {
            query.push((name.clone(), self.render_raw(source)?));
        }
        let json = request.json.as_ref().map(|body| self.render_json(body)).transpose()?;
        let form = self.render_pairs(&request.form, "form field").map_err(|e| e.into_step(&fail))?;
        let session = match &request.session {
            None => None,
            Some(name) => {
                let session = self.file().http_sessions.get(name);
                let session = session.ok_or_else(|| fail(format!("there is no session `{name}`")))?;
                if let Some(auth) = self.basic_auth(session).map_err(|e| e.into_step(&fail))? {
                    headers.push(auth);
                }
                Some((name.as_str(), session))
            }
        };
        let prepared = Prepared {
            bot_id: self.bot.bot_id,
            method: request.method,
            url: url.clone(),
            headers,
            query,
            json,
            form,
            timeout: std::time::Duration::from_millis(u64::from(
                request.timeout_ms.clamp(1, ferrogram_schema::MAX_HTTP_TIMEOUT_MS),
            )),
            retries: request.retries.min(ferrogram_schema::MAX_HTTP_RETRIES),
        };
        let started = tokio::time::Instant::now();
        let span = crate::traces::step("http", self.bot.bot_id, method, &crate::traces::host_of(&url));
        let called = match session {
            None => self.bot.http.call(prepared).instrument(span.clone()).await.map_err(Failed::Call),
            Some((name, session)) => self.session_call(name, session, prepared).instrument(span.clone()).await,
        };
        match &called {
            Ok(result) => {
                span.record("http.response.status_code", result["status"].as_u64().unwrap_or_default());
            }
            Err(Failed::Call(error)) => crate::traces::failed(&span, error),
            Err(Failed::Engine(error)) => crate::traces::failed(&span, &error.to_string()),
        }
        let result = called.map_err(|e| e.into_step(&fail))?;
        tracing::debug!(
            bot_id = self.bot.bot_id, method, %host,
            status = %result["status"], elapsed = ?started.elapsed(), "http step answered"
        );
        Ok(result)
    }

    /// The call of a step with a session: login first when there are no cookies yet, the
    /// session's cookies and handshake header added, once more after a 409 handing out the
    /// handshake header, once more after a fresh login on a 401 or 403.
    async fn session_call(&mut self, name: &str, session: &'a HttpSession, call: Prepared) -> Result<Value, Failed> {
        let Some(origin) = http_session::origin(&call.url) else {
            return Err(Failed::Call(format!("{:?} is not a URL", call.url)));
        };
        let mut logged_in = false;
        if session.login.is_some() && !self.bot.http_sessions.logged_in(name) {
            self.session_login(name, session, &call).await?;
            logged_in = true;
        }
        let mut handshaken = false;
        loop {
            let mut attempt = call.clone();
            if let Some(cookie) = self.bot.http_sessions.cookie_header(name, &origin) {
                attempt.headers.push(("Cookie".into(), cookie));
            }
            if let (Some(header), Some(value)) = (&session.handshake, self.bot.http_sessions.handshake(name, &origin)) {
                attempt.headers.push((header.clone(), value));
            }
            let response = self.bot.http.open(attempt).await?;
            let status = response.status().as_u16();
            if status == 409 && !handshaken {
                let handed = session.handshake.as_ref().and_then(|header| response.headers().get(header.as_str()));
                if let Some(value) = handed.and_then(|v| v.to_str().ok()) {
                    self.bot.http_sessions.keep_handshake(name, origin.clone(), value.to_owned());
                    handshaken = true;
                    tracing::debug!(bot_id = self.bot.bot_id, session = name, "http session handshake");
                    continue;
                }
            }
            if matches!(status, 401 | 403) && session.login.is_some() && !logged_in {
                tracing::debug!(bot_id = self.bot.bot_id, session = name, status, "http session logs in again");
                self.bot.http_sessions.forget_login(name);
                self.session_login(name, session, &call).await?;
                logged_in = true;
                continue;
            }
            return Ok(self.bot.http.read(response).await?);
        }
    }

    /// Logs the session in and keeps the cookies its answer sets; an answer other than 2xx or
    /// one without a cookie is an error saying so (with the start of its text, never a value
    /// that was sent).
    async fn session_login(&mut self, name: &str, session: &'a HttpSession, call: &Prepared) -> Result<(), Failed> {
        let Some(login) = &session.login else { return Ok(()) };
        let fail = |reason: String| Failed::Call(format!("session {name}: login: {reason}"));
        let url = self.render_raw(&login.url)?;
        let origin = http_session::origin(&url).ok_or_else(|| fail(format!("{url:?} is not a URL")))?;
        let mut headers = self.render_pairs(&login.headers, "header").map_err(|e| e.prefixed("session login "))?;
        if let Some(auth) = self.basic_auth(session)? {
            headers.push(auth);
        }
        let json = login.json.as_ref().map(|body| self.render_json(body)).transpose()?;
        let form = self.render_pairs(&login.form, "form field").map_err(|e| e.prefixed("session login "))?;
        let prepared = Prepared {
            bot_id: call.bot_id,
            method: login.method,
            url,
            headers,
            query: Vec::new(),
            json,
            form,
            timeout: std::time::Duration::from_millis(u64::from(
                login.timeout_ms.clamp(1, ferrogram_schema::MAX_HTTP_TIMEOUT_MS),
            )),
            retries: call.retries,
        };
        let response = self.bot.http.open(prepared).await.map_err(fail)?;
        let status = response.status();
        let cookies = http_session::set_cookies(response.headers());
        if status.is_success() && cookies.iter().any(|(_, value)| !value.is_empty()) {
            self.bot.http_sessions.keep_login(name, origin, cookies);
            tracing::debug!(bot_id = self.bot.bot_id, session = name, "http session logged in");
            return Ok(());
        }
        let answer = self.bot.http.read(response).await.map_err(fail)?;
        let text: String = answer["text"].as_str().unwrap_or_default().trim().chars().take(80).collect();
        let said = if text.is_empty() { String::new() } else { format!(" ({text:?})") };
        let what = if status.is_success() { "set no cookie" } else { "was refused" };
        Err(fail(format!("the login {what}: HTTP {}{said}", status.as_u16())))
    }

    /// The session's `Authorization: Basic …` header, when it has `basic_auth`.
    fn basic_auth(&mut self, session: &'a HttpSession) -> Result<Option<(String, String)>, Failed> {
        let Some(auth) = &session.basic_auth else { return Ok(None) };
        let username = self.render_secret(&auth.username).map_err(|e| e.prefixed("basic_auth username: "))?;
        let password = self.render_secret(&auth.password).map_err(|e| e.prefixed("basic_auth password: "))?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Ok(Some(("Authorization".into(), format!("Basic {token}"))))
    }

    /// Names and rendered values (headers, form fields), `${NAME}` expanded in each value.
    fn render_pairs(
        &mut self,
        pairs: &'a std::collections::BTreeMap<String, String>,
        what: &str,
    ) -> Result<Vec<(String, String)>, Failed> {
        let mut rendered = Vec::with_capacity(pairs.len());
        for (name, source) in pairs {
            let value = self.render_secret(source).map_err(|e| e.prefixed(&format!("{what} {name}: ")))?;
            rendered.push((name.clone(), value));
        }
        Ok(rendered)
    }

    /// A template rendered, then its `${NAME}` expanded (the bot's secret or the environment).
    fn render_secret(&mut self, source: &str) -> Result<String, Failed> {
        let rendered = self.render_raw(source)?;
        self.bot.expand(source, &rendered).map_err(Failed::Call)
    }

    /// A JSON body with each string rendered; a string that is only one `{{ … }}` keeps its
    /// value's type (a number stays a number).
    fn render_json(&mut self, value: &Value) -> Result<Value, EngineError> {
        Ok(match value {
            Value::String(source) => match crate::interpret::template::single_expression(source) {
                Some(expr) => self.eval(expr)?,
                None => Value::String(self.render_raw(source)?),
            },
            Value::Array(items) => Value::Array(items.iter().map(|v| self.render_json(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), self.render_json(v)?))).collect::<Result<_, EngineError>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// Why a step's request could not be made: an engine error of its own kind (a template that
/// failed), or a reason of the call, which becomes a step error naming the host.
enum Failed {
    Engine(EngineError),
    Call(String),
}

impl From<EngineError> for Failed {
    fn from(error: EngineError) -> Failed {
        Failed::Engine(error)
    }
}

impl From<String> for Failed {
    fn from(reason: String) -> Failed {
        Failed::Call(reason)
    }
}

impl Failed {
    fn into_step(self, fail: &impl Fn(String) -> EngineError) -> EngineError {
        match self {
            Failed::Engine(error) => error,
            Failed::Call(reason) => fail(reason),
        }
    }

    fn prefixed(self, prefix: &str) -> Failed {
        match self {
            Failed::Call(reason) => Failed::Call(format!("{prefix}{reason}")),
            engine => engine,
        }
    }
}
