//! The `http` step: a request rendered from the file, made through the engine's guarded HTTP
//! client ([`crate::interpret::http`]), its answer in `result` (and in `save`'s variable).

use serde_json::Value;
use tracing::Instrument;

use crate::error::EngineError;
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

    /// `http`: renders the request and calls it; a failure is a step error naming the host
    /// (never a header's value).
    async fn http(&mut self, request: &'a ferrogram_schema::HttpRequest) -> Result<Value, EngineError> {
        let method = request.method.as_str();
        let url = self.render_raw(&request.url)?;
        let host = crate::interpret::http::host_or_url(&url);
        let fail = |reason: String| EngineError::Http(format!("http {method} {host}: {reason}"));
        let mut headers = Vec::with_capacity(request.headers.len());
        for (name, source) in &request.headers {
            let rendered = self.render_raw(source)?;
            let value = self.bot.expand(source, &rendered).map_err(|e| fail(format!("header {name}: {e}")))?;
            headers.push((name.clone(), value));
        }
        let mut query = Vec::with_capacity(request.query.len());
        for (name, source) in &request.query {
            query.push((name.clone(), self.render_raw(source)?));
        }
        let json = request.json.as_ref().map(|body| self.render_json(body)).transpose()?;
        let prepared = crate::interpret::http::Prepared {
            bot_id: self.bot.bot_id,
            method: request.method,
            url: url.clone(),
            headers,
            query,
            json,
            timeout: std::time::Duration::from_millis(u64::from(
                request.timeout_ms.clamp(1, ferrogram_schema::MAX_HTTP_TIMEOUT_MS),
            )),
            retries: request.retries.min(ferrogram_schema::MAX_HTTP_RETRIES),
        };
        let started = tokio::time::Instant::now();
        let span = crate::traces::step("http", self.bot.bot_id, method, &crate::traces::host_of(&url));
        let called = self.bot.http.call(prepared).instrument(span.clone()).await;
        match &called {
            Ok(result) => {
                span.record("http.response.status_code", result["status"].as_u64().unwrap_or_default());
            }
            Err(error) => crate::traces::failed(&span, error),
        }
        let result = called.map_err(fail)?;
        tracing::debug!(
            bot_id = self.bot.bot_id, method, %host,
            status = %result["status"], elapsed = ?started.elapsed(), "http step answered"
        );
        Ok(result)
    }

    /// A JSON body with each string rendered; a string that is one `{{ … }}` keeps its value's
    /// type (a number stays a number).
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
