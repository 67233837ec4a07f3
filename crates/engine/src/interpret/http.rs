//! The `http` step: calls to HTTP APIs from bots, with retries, a circuit breaker per host and
//! the guard against server-side request forgery (SSRF).
//!
//! **The guard** is the one address rule of [`egress`] (loopback, private, link-local… refused
//! in every spelling unless [`HttpConfig::allow_private`] lists exactly that host *and* port),
//! the same the sandbox applies to the files a bot sends by URL. It lives in the client: names
//! resolve through the guard and the connection uses exactly the checked addresses (no DNS
//! rebinding), and [`Http::check_target`] judges URLs with an IP address before each request.
//! This is why the step does not use [`ferrogram_telegram::http_client`]: this client must also follow
//! no redirects and use no proxy. Each [`crate::Engine`] has one such client, pooled, shared by
//! all its bots (its `feed` and `llm` steps and event webhooks included). Pooled connections
//! are reused only for the same host and port, so they were checked when opened.
//!
//! **Redirects** are followed by hand, at most [`MAX_REDIRECTS`], each target checked again;
//! headers are dropped when a redirect leaves the origin (they may carry secrets).
//!
//! **Metrics**: each attempt is counted by the bot, the target's host name and how it ended
//! (`ferrogram_http_requests_total`), and each breaker opening and closing is a gauge by host
//! (`ferrogram_http_circuit_open`); see [`crate::telemetry`].

use std::collections::HashMap;
use std::time::Duration;

use ferrogram_schema::HttpMethod;
use ferrogram_telegram::Backoff;
use parking_lot::Mutex;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::bot_env::BotEnv;

pub use ferrogram_egress::MAX_REDIRECTS;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const POOL_MAX_IDLE_PER_HOST: usize = 16;
/// Hosts whose breaker state is kept; beyond it, closed breakers are forgotten.
const MAX_BREAKERS: usize = 10_000;

/// How bots call HTTP APIs.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `(host, port)` pairs that may be called although they are (or resolve to) private,
    /// loopback or link-local addresses. The host is compared as written in the URL, without
    /// case (`localhost`, `10.0.0.5`, `::1`). Each names one host and one port: an entry with a
    /// wildcard or a range ([`ferrogram_egress::allowed_entry`]) makes every call fail with the reason.
    /// Default: none.
    pub allow_private: Vec<(String, u16)>,
    /// The environment variables bot files may read with `${NAME}` (headers, `llm` keys,
    /// webhooks). Default [`BotEnv::default`]: none.
    pub bot_env: BotEnv,
    /// Largest answer body kept, in bytes; a larger answer fails the step. Default 1 MiB.
    pub max_body: usize,
    /// Failures in a row (network errors, timeouts, 5xx, 429) after which a host's circuit
    /// opens. Default 5.
    pub breaker_threshold: u32,
    /// How long an open circuit fails calls at once, before one probe call may try again.
    /// Default 30 s.
    pub breaker_open: Duration,
    /// The wait before the first retry grows from this (random, up to twice as long each
    /// retry). Default 250 ms.
    pub retry_base: Duration,
    /// The longest wait between retries (also for a 429's `Retry-After`). Default 5 s.
    pub retry_cap: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            allow_private: Vec::new(),
            bot_env: BotEnv::default(),
            max_body: 1 << 20,
            breaker_threshold: 5,
            breaker_open: Duration::from_secs(30),
            retry_base: Duration::from_millis(250),
            retry_cap: Duration::from_secs(5),
        }
    }
}

/// A request as the step rendered it.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The bot making it: the `bot` label of its metrics.
    pub bot_id: u64,
    pub method: HttpMethod,
    pub url: String,
    /// Values may hold secrets: they are never logged or put in errors.
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub json: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`), sent when `json` is `None`; values
    /// may hold secrets.
    pub form: Vec<(String, String)>,
    pub timeout: Duration,
    pub retries: u32,
}

/// The HTTP side of an engine: the guarded client and the circuit breakers.
pub struct Http {
    client: Result<reqwest::Client, String>,
    guard: ferrogram_egress::Guard,
    config: HttpConfig,
    breakers: Mutex<HashMap<String, Breaker>>,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// When the half-open probe started (one at a time).
    probe: Option<Instant>,
}

/// What a step's messages call the target of `url`: its host, or the URL itself when it has
/// none (it does not parse).
pub fn host_or_url(url: &str) -> String {
    Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| url.to_owned())
}

impl Http {
    pub fn new(config: HttpConfig) -> Http {
        ferrogram_telegram::install_crypto_provider();
        let guard = ferrogram_egress::Guard::new(&config.allow_private);
        let client = guard.as_ref().map_err(Clone::clone).and_then(|guard| {
            guard
                .client_builder()
                .user_agent(concat!("ferrogram/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(CONNECT_TIMEOUT)
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
                .tcp_nodelay(true)
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        });
        Http { client, guard: guard.unwrap_or_default(), config, breakers: Mutex::new(HashMap::new()) }
    }

    /// The checks made before connecting ([`ferrogram_egress::Guard::check_url`]); names are checked
    /// when the client resolves them.
    fn check_target(&self, url: &Url) -> Result<(), String> {
        self.guard.check_url(url).map_err(|refused| format!("refused: {refused}"))
    }

    /// Runs the request: redirects, retries, breaker, guard; the answer as
    /// `{status, ok, json, text}`. The error is a sentence without secrets.
    pub async fn call(&self, request: Prepared) -> Result<Value, String> {
        let response = self.open(request).await?;
        self.read(response).await
    }

    /// Runs the request like [`Http::call`] but hands over the answer with its body unread, for
    /// a caller that reads it as it comes (a streamed answer). [`Http::max_body`] still applies.
    pub async fn open(&self, mut request: Prepared) -> Result<reqwest::Response, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let mut url = Url::parse(&request.url).map_err(|e| format!("{:?} is not a URL: {e}", request.url))?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let mut method = match request.method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Delete => Method::DELETE,
        };
        let mut headers = Vec::with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))?;
            let mut value =
                HeaderValue::from_str(value).map_err(|_| format!("the header {name} has an invalid value"))?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let mut body = request.json.take();
        let mut form = std::mem::take(&mut request.form);
        let mut hops = 0;
        loop {
            let payload = match (&body, form.is_empty()) {
                (Some(json), _) => Payload::Json(json),
                (None, false) => Payload::Form(&form),
                (None, true) => Payload::None,
            };
            let response = self.send(client, &method, &url, &headers, payload, &request).await?;
            let status = response.status();
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let Some(location) = location.filter(|_| redirect) else {
                return Ok(response);
            };
            if hops == MAX_REDIRECTS {
                return Err(format!("more than {MAX_REDIRECTS} redirects"));
            }
            hops += 1;
            let next = url.join(location).map_err(|e| format!("redirected to a bad URL: {e}"))?;
            if next.origin() != url.origin() {
                headers.clear();
            }
            let keeps_method = matches!(status, StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT);
            if !keeps_method && method != Method::HEAD {
                method = Method::GET;
                body = None;
                form.clear();
            }
            tracing::debug!(from = %ferrogram_egress::host_of(&url), to = %ferrogram_egress::host_of(&next), %status, "HTTP call redirected");
            url = next;
        }
    }

    /// One request with its retries, through the host's circuit breaker.
    async fn send(
        &self,
        client: &reqwest::Client,
        method: &Method,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
        payload: Payload<'_>,
        request: &Prepared,
    ) -> Result<reqwest::Response, String> {
        let host = ferrogram_egress::host_of(url);
        let count = |outcome| crate::telemetry::http_request(request.bot_id, &host, outcome);
        if let Err(refused) = self.check_target(url) {
            count("refused");
            return Err(refused);
        }
        let backoff = Backoff {
            max_attempts: request.retries.saturating_add(1),
            base: self.config.retry_base,
            cap: self.config.retry_cap,
            jitter: true,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            if let Err(open) = self.admit(&host) {
                count("circuit_open");
                return Err(open);
            }
            let mut builder = client.request(method.clone(), url.clone()).timeout(request.timeout);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder = match payload {
                Payload::Json(body) => builder.json(body),
                Payload::Form(form) => builder.form(form),
                Payload::None => builder,
            };
            let outcome = builder.send().await;
            count(outcome_label(&outcome));
            let (failure, retry_after) = match &outcome {
                Ok(response) if response.status().is_server_error() => {
                    (Some(format!("answered {}", response.status())), None)
                }
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    (Some(format!("answered {}", response.status())), retry_after(response))
                }
                Ok(_) => (None, None),
                Err(error) => match ferrogram_egress::refusal(error) {
                    Some(refused) => return Err(format!("refused: {refused}")),
                    None => (Some(describe(error, request.timeout)), None),
                },
            };
            let Some(reason) = failure else {
                self.record(&host, true);
                return outcome.map_err(|e| describe(&e, request.timeout));
            };
            self.record(&host, false);
            if !backoff.allows_retry(attempts) {
                tracing::warn!(%host, attempts, %reason, "HTTP call failed");
                return match outcome {
                    // The last answer is the result (`ok: false`); the bot can look at it.
                    Ok(response) => Ok(response),
                    Err(_) => Err(format!("{reason} (after {attempts} attempts)")),
                };
            }
            let delay = retry_after.map_or_else(|| backoff.delay(attempts), |d| d.min(self.config.retry_cap));
            tracing::debug!(%host, attempts, %reason, ?delay, "HTTP call failed, retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// The largest answer body a step keeps, in bytes.
    pub fn max_body(&self) -> usize {
        self.config.max_body
    }

    /// The operator's rule for the environment variables bot files read with `${NAME}`:
    /// every expansion of a bot file's `${NAME}` goes through its [`BotEnv::expand`].
    pub fn bot_env(&self) -> &BotEnv {
        &self.config.bot_env
    }

    /// Reads the body (bounded) and makes the step's result.
    pub async fn read(&self, mut response: reqwest::Response) -> Result<Value, String> {
        let status = response.status();
        let too_large = || format!("the answer is larger than {} bytes", self.config.max_body);
        if response.content_length().is_some_and(|n| n > self.config.max_body as u64) {
            return Err(too_large());
        }
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|t| t.to_str().ok())
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .is_some_and(|t| t == "application/json" || t.ends_with("+json"));
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the answer: {}", chain(&e)))? {
            if bytes.len() + chunk.len() > self.config.max_body {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let parsed = if is_json { serde_json::from_slice(&bytes).unwrap_or(Value::Null) } else { Value::Null };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(json!({"status": status.as_u16(), "ok": status.is_success(), "json": parsed, "text": text}))
    }

    /// Fails fast while the host's circuit is open; lets one probe through once it half-opens.
    fn admit(&self, host: &str) -> Result<(), String> {
        let now = Instant::now();
        let mut breakers = self.breakers.lock();
        let Some(breaker) = breakers.get_mut(host) else { return Ok(()) };
        match breaker.open_until {
            None => Ok(()),
            Some(until) if now < until => Err(format!(
                "circuit open: {host} failed {} times in a row; calls resume in {} s",
                breaker.failures,
                (until - now).as_secs().max(1)
            )),
            Some(_) => match breaker.probe {
                // A probe lost (its handler cut off) does not block the host for ever.
                Some(started) if now < started + self.config.breaker_open => {
                    Err(format!("circuit half-open: {host} is being probed after failing"))
                }
                _ => {
                    breaker.probe = Some(now);
                    Ok(())
                }
            },
        }
    }

    fn record(&self, host: &str, ok: bool) {
        let mut breakers = self.breakers.lock();
        if ok {
            if breakers.remove(host).is_some_and(|breaker| breaker.open_until.is_some()) {
                tracing::info!(%host, "HTTP circuit closed");
                crate::telemetry::http_circuit(host, false);
            }
            return;
        }
        if breakers.len() >= MAX_BREAKERS && !breakers.contains_key(host) {
            breakers.retain(|_, b| b.open_until.is_some());
        }
        let breaker = breakers.entry(host.to_owned()).or_default();
        breaker.failures = breaker.failures.saturating_add(1);
        breaker.probe = None;
        if breaker.failures >= self.config.breaker_threshold.max(1) {
            if breaker.open_until.is_none() {
                tracing::warn!(%host, failures = breaker.failures, "HTTP circuit opened");
                crate::telemetry::http_circuit(host, true);
            }
            breaker.open_until = Some(Instant::now() + self.config.breaker_open);
        }
    }
}

/// The body of one request: JSON, form fields or none.
#[derive(Clone, Copy)]
enum Payload<'a> {
    None,
    Json(&'a Value),
    Form(&'a [(String, String)]),
}

/// What `ferrogram_http_requests_total` calls the outcome of one attempt that was sent.
fn outcome_label(outcome: &Result<reqwest::Response, reqwest::Error>) -> &'static str {
    match outcome {
        Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        Ok(response) if response.status().is_server_error() => "server_error",
        Ok(response) if response.status().is_client_error() => "client_error",
        Ok(_) => "ok",
        Err(error) if ferrogram_egress::refusal(error).is_some() => "refused",
        Err(_) => "error",
    }
}

/// A 429's `Retry-After` in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An error in words, with its causes, without the URL (its query may be private).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    chain(error)
}

fn chain(error: &reqwest::Error) -> String {
    let mut words = error.to_string();
    if let Some(url) = error.url() {
        words = words.replace(&format!(" ({url})"), "").replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        words.push_str(": ");
        words.push_str(&e.to_string());
        source = e.source();
    }
    words
}
