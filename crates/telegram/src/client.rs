//! The Bot API client: a cheap handle per bot over one process-wide connection pool.
//!
//! A server hosting thousands of bots must not open a pool per bot, so [`Client::new`] shares
//! the pool from [`http_client`]; a different pool can be given to the builder. The client
//! retries network errors and 5xx answers itself (with [`Backoff`]); it hands 429 answers back
//! to the caller, because what a 429 should pause — one chat or the whole bot — is the flood
//! scheduler's decision ([`crate::flood`]). Telegram has no idempotency keys: a send that timed
//! out may have been delivered, so a retry can, rarely, duplicate it — the price of not losing it.
//! [`AmbiguousSends::Fail`] trades that for at-most-once delivery.
//!
//! Every answer is read up to a size limit ([`ClientBuilder::max_answer_bytes`]); files are
//! streamed to a writer ([`Client::download_to`]) up to their own limit and time limit.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::Error;
use crate::backoff::Backoff;
use crate::upload::{Request, Upload};

/// Telegram's Bot API server.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_LONG_POLL_EXTRA: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const POOL_MAX_IDLE_PER_HOST: usize = 64;
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// How much of a non-Bot-API error body is kept in an error description.
const MAX_ERROR_BODY: usize = 200;
/// Any answer but getUpdates' stays well below this.
const DEFAULT_MAX_ANSWER_BYTES: u64 = 4 << 20;
/// getUpdates answers up to 100 updates, each a message of up to 4096 characters with its
/// entities and the message it replies to: a busy group's batch can pass the general limit,
/// and failing it would stall the bot on the same batch, so it gets this floor.
const MIN_UPDATES_ANSWER_BYTES: u64 = 64 << 20;
/// The Bot API's getFile limit; a local Bot API server serves up to 2 GB.
const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 20 << 20;
const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Sent with every request, also through an HTTP client given to the builder.
pub const USER_AGENT: &str = concat!("ferrogram/", env!("CARGO_PKG_VERSION"));

/// What to do when a call that creates a message ([`creates_messages`]) fails without an
/// answer after it may have reached Telegram (a timeout, a dropped connection). Telegram has
/// no idempotency keys, so no choice gives exactly-once delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AmbiguousSends {
    /// Send it again: the message arrives at least once, rarely twice. The default, because a
    /// lost message is worse than a duplicate one.
    #[default]
    Retry,
    /// Report the failure ([`Error::Network`]): the message arrives at most once, and the caller
    /// learns it may have been lost.
    Fail,
}

impl AmbiguousSends {
    /// Whether a call of `method` that failed with `err` may be repeated under this policy
    /// (other conditions of retrying aside).
    pub fn allows_retry(self, method: &str, err: &Error) -> bool {
        self == AmbiguousSends::Retry || !err.may_have_been_delivered() || !creates_messages(method)
    }
}

/// Whether repeating a call of `method` posts a message again: the send methods (except
/// sendChatAction), copyMessage(s) and forwardMessage(s). Method names ignore letter case.
pub fn creates_messages(method: &str) -> bool {
    let method = method.to_ascii_lowercase();
    (method.starts_with("send") && method != "sendchataction")
        || matches!(method.as_str(), "copymessage" | "copymessages" | "forwardmessage" | "forwardmessages")
}

static HTTP_CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

/// Installs rustls' ring provider as the process default, once; reqwest is built without a
/// provider of its own. A provider installed earlier by someone else is kept.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The process-wide pooled HTTP client: built on first use, then shared (clones share the
/// pool). Fails only if the TLS backend cannot be initialised.
pub fn http_client() -> Result<reqwest::Client, Error> {
    if let Some(client) = HTTP_CLIENT.get() {
        return Ok(client.clone());
    }
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .tcp_keepalive(TCP_KEEPALIVE)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::InvalidRequest(format!("cannot build the HTTP client: {e}")))?;
    Ok(HTTP_CLIENT.get_or_init(|| client).clone())
}

/// A Bot API client for one bot. Cloning is cheap and clones share everything.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_url: String,
    token: String,
    /// The number before the token's colon: the `bot` label of the metrics.
    bot_id: u64,
    request_timeout: Duration,
    long_poll_extra: Duration,
    retry: Backoff,
    ambiguous_sends: AmbiguousSends,
    max_answer_bytes: u64,
    max_download_bytes: u64,
    download_timeout: Duration,
}

/// Settings of a [`Client`]; start with [`Client::builder`].
#[must_use]
pub struct ClientBuilder {
    token: String,
    api_url: String,
    request_timeout: Duration,
    long_poll_extra: Duration,
    http: Option<reqwest::Client>,
    retry: Backoff,
    ambiguous_sends: AmbiguousSends,
    max_answer_bytes: u64,
    max_download_bytes: u64,
    download_timeout: Duration,
}

impl ClientBuilder {
    /// The Bot API server, e.g. the sandbox's `http://127.0.0.1:PORT`. Default
    /// [`DEFAULT_API_URL`].
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// Time limit of one HTTP exchange (connect, send, answer). Default 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Added to getUpdates' own `timeout` so a long poll is not cut short. Default 10 s.
    pub fn long_poll_extra(mut self, extra: Duration) -> Self {
        self.long_poll_extra = extra;
        self
    }

    /// Use this HTTP client (and its pool) instead of the process-wide one.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Retries of network errors and 5xx answers. Default [`Backoff::default`].
    pub fn retry(mut self, retry: Backoff) -> Self {
        self.retry = retry;
        self
    }

    /// Whether [`Client::call`] repeats a message-creating call that may have been delivered.
    /// Default [`AmbiguousSends::Retry`].
    pub fn ambiguous_sends(mut self, policy: AmbiguousSends) -> Self {
        self.ambiguous_sends = policy;
        self
    }

    /// The largest Bot API answer read; a larger one fails with [`Error::TooLarge`]. Default
    /// 4 MB; getUpdates answers are read up to at least 64 MB (a stuck batch would stop the bot).
    pub fn max_answer_bytes(mut self, limit: u64) -> Self {
        self.max_answer_bytes = limit;
        self
    }

    /// The largest file downloaded. Default 20 MB, the Bot API's getFile limit; a local Bot
    /// API server serves files up to 2 GB.
    pub fn max_download_bytes(mut self, limit: u64) -> Self {
        self.max_download_bytes = limit;
        self
    }

    /// Time limit of one download, from the request to the last byte. Default 5 min.
    pub fn download_timeout(mut self, timeout: Duration) -> Self {
        self.download_timeout = timeout;
        self
    }

    /// Checks the token and URL and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        if !is_well_formed_token(&self.token) {
            return Err(Error::InvalidRequest("malformed bot token: expected <bot id>:<secret>".into()));
        }
        let api_url = self.api_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&api_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(Error::InvalidRequest(format!("API URL must be an http(s) URL, not {api_url:?}")));
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => http_client()?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_url,
                bot_id: self.token.split_once(':').and_then(|(id, _)| id.parse().ok()).unwrap_or_default(),
                token: self.token,
                request_timeout: self.request_timeout,
                long_poll_extra: self.long_poll_extra,
                retry: self.retry,
                ambiguous_sends: self.ambiguous_sends,
                max_answer_bytes: self.max_answer_bytes,
                max_download_bytes: self.max_download_bytes,
                download_timeout: self.download_timeout,
            }),
        })
    }
}

/// `<digits>:<secret>`, with only characters that are safe in a URL path segment.
fn is_well_formed_token(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !secret.is_empty()
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Debug for Client {
    /// Never prints the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.inner.api_url)
            .field("bot_id", &self.bot_id())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `token` against Telegram with default settings and the shared pool.
    pub fn new(token: impl Into<String>) -> Result<Client, Error> {
        Client::builder(token).build()
    }

    pub fn builder(token: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            token: token.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            long_poll_extra: DEFAULT_LONG_POLL_EXTRA,
            http: None,
            retry: Backoff::default(),
            ambiguous_sends: AmbiguousSends::default(),
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            download_timeout: DEFAULT_DOWNLOAD_TIMEOUT,
        }
    }

    /// The bot's id: the number before the colon of its token.
    pub fn bot_id(&self) -> u64 {
        self.inner.bot_id
    }

    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// `{api}/bot{token}/{method}`. Contains the token: never log it.
    pub fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{}", self.inner.api_url, self.inner.token, method)
    }

    /// `{api}/file/bot{token}/{file_path}`. Contains the token: never log it.
    pub fn file_url(&self, file_path: &str) -> String {
        format!("{}/file/bot{}/{}", self.inner.api_url, self.inner.token, file_path.trim_start_matches('/'))
    }

    /// Calls `method` with `params` as JSON, retrying network errors and 5xx.
    pub async fn call<P, R>(&self, method: &str, params: &P) -> Result<R, Error>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let request = Request::new(method, params)?;
        let value = self.execute(&request).await?;
        decode(method, value)
    }

    /// Calls `method` as a multipart form carrying `uploads`, which `params` refers to with
    /// [`Upload::attach`]. Without uploads this is [`Client::call`].
    pub async fn call_with_uploads<P, R>(&self, method: &str, params: &P, uploads: &[Upload]) -> Result<R, Error>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let request = Request::with_uploads(method, params, uploads.to_vec())?;
        let value = self.execute(&request).await?;
        decode(method, value)
    }

    /// Sends `request`, retrying network errors and 5xx as configured (and as
    /// [`ClientBuilder::ambiguous_sends`] allows); returns the raw `result`.
    pub async fn execute(&self, request: &Request) -> Result<Value, Error> {
        let policy = self.inner.ambiguous_sends;
        self.retrying(request.method(), |err| policy.allows_retry(request.method(), err), || self.execute_once(request))
            .await
    }

    /// Sends `request` once, without retries; the flood scheduler retries on its own terms.
    /// Every request that reaches the wire is counted here, once
    /// (`ferrogram_bot_api_calls_total`, [`crate::telemetry`]).
    pub async fn execute_once(&self, request: &Request) -> Result<Value, Error> {
        let outcome = self.exchange(request).await;
        crate::telemetry::api_call(self.bot_id(), request.method(), &outcome);
        outcome
    }

    /// One HTTP exchange of `request`: its answer's `result`, or the error.
    async fn exchange(&self, request: &Request) -> Result<Value, Error> {
        let builder = self.inner.http.post(self.method_url(request.method())).timeout(self.timeout_for(request));
        let builder = if request.uploads().is_empty() {
            builder.json(request.params())
        } else {
            builder.multipart(request.multipart()?)
        };
        let response =
            builder.header(reqwest::header::USER_AGENT, USER_AGENT).send().await.map_err(Error::from_reqwest)?;
        let status = response.status().as_u16();
        let limit = if request.method().eq_ignore_ascii_case("getUpdates") {
            self.inner.max_answer_bytes.max(MIN_UPDATES_ANSWER_BYTES)
        } else {
            self.inner.max_answer_bytes
        };
        let body = read_answer(response, limit).await?;
        parse_answer(request.method(), status, &body)
    }

    /// Downloads a file by the `file_path` of getFile into memory, up to
    /// [`ClientBuilder::max_download_bytes`], retrying network errors and 5xx.
    pub async fn download_file(&self, file_path: &str) -> Result<Bytes, Error> {
        self.retrying(
            "downloadFile",
            |_| true,
            || async {
                let mut body = Vec::new();
                self.download_once(file_path, &mut body).await?;
                Ok(Bytes::from(body))
            },
        )
        .await
    }

    /// Streams a file by the `file_path` of getFile into `writer`; returns the bytes written.
    /// Fails with [`Error::TooLarge`] past [`ClientBuilder::max_download_bytes`] (at once when
    /// the server announces the size) and after [`ClientBuilder::download_timeout`]. Failures
    /// before the first byte are retried; once bytes were written the error is returned, as
    /// only the caller knows what to do with the part in `writer`.
    pub async fn download_to<W>(&self, file_path: &str, writer: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let response = self.retrying("downloadFile", |_| true, || self.download_response(file_path)).await?;
        copy_body(response, writer, self.inner.max_download_bytes, "the file").await
    }

    async fn download_once<W>(&self, file_path: &str, writer: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let response = self.download_response(file_path).await?;
        copy_body(response, writer, self.inner.max_download_bytes, "the file").await
    }

    /// Asks for a file; a successful response's body is still to be read. Counted as a call of
    /// `downloadFile` (its answer's start: the body's own failures are the caller's).
    async fn download_response(&self, file_path: &str) -> Result<reqwest::Response, Error> {
        let outcome = self.file_answer(file_path).await;
        crate::telemetry::api_call(self.bot_id(), "downloadFile", &outcome);
        outcome
    }

    async fn file_answer(&self, file_path: &str) -> Result<reqwest::Response, Error> {
        let response = self
            .inner
            .http
            .get(self.file_url(file_path))
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .timeout(self.inner.download_timeout)
            .send()
            .await
            .map_err(Error::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = read_answer(response, self.inner.max_answer_bytes).await?;
        match parse_answer("downloadFile", status.as_u16(), &body) {
            Err(err) => Err(err),
            Ok(_) => Err(http_error(status.as_u16(), &body)),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out. Failures that
    /// are transient and that `may_retry` accepts are retried with [`Backoff`].
    async fn retrying<T, F>(
        &self,
        method: &str,
        may_retry: impl Fn(&Error) -> bool,
        mut attempt: impl FnMut() -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let retry = &self.inner.retry;
        let mut failures = 1;
        loop {
            match attempt().await {
                Err(err) if is_transient(&err) && may_retry(&err) && retry.allows_retry(failures) => {
                    crate::telemetry::api_retry(self.bot_id(), method, &err);
                    let delay = retry.delay(failures);
                    tracing::debug!(
                        bot_id = self.bot_id(),
                        method,
                        attempt = failures,
                        ?delay,
                        error = %err,
                        "Bot API call failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    failures += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// A long poll must outlive its own `timeout` parameter.
    fn timeout_for(&self, request: &Request) -> Duration {
        let base = self.inner.request_timeout;
        if !request.method().eq_ignore_ascii_case("getUpdates") {
            return base;
        }
        let poll = request.params().get("timeout").and_then(Value::as_u64).unwrap_or(0);
        base.max(Duration::from_secs(poll).saturating_add(self.inner.long_poll_extra))
    }
}

/// Reads an answer's body, up to `limit` bytes.
async fn read_answer(response: reqwest::Response, limit: u64) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    copy_body(response, &mut body, limit, "the Bot API answer").await?;
    Ok(body)
}

/// Streams a response's body into `writer`, refusing more than `limit` bytes: at once when the
/// server announces a larger size, else as soon as the limit is passed.
async fn copy_body<W>(
    mut response: reqwest::Response,
    writer: &mut W,
    limit: u64,
    what: &'static str,
) -> Result<u64, Error>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let too_large = || Error::TooLarge { what, limit };
    if response.content_length().is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(Error::from_reqwest)? {
        written = written.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if written > limit {
            return Err(too_large());
        }
        writer.write_all(&chunk).await.map_err(Error::Write)?;
    }
    writer.flush().await.map_err(Error::Write)?;
    Ok(written)
}

/// Retried inside the client: everything retryable except 429, which the caller schedules.
fn is_transient(err: &Error) -> bool {
    err.is_retryable() && !err.is_rate_limited()
}

pub(crate) fn decode<R: DeserializeOwned>(method: &str, value: Value) -> Result<R, Error> {
    crate::frankenstein_gaps::decode(&value).map_err(|source| Error::Decode { method: method.to_owned(), source })
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    parameters: Option<AnswerParameters>,
}

#[derive(Deserialize)]
struct AnswerParameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

/// Turns an HTTP answer into the method's `result` or an [`Error`].
pub(crate) fn parse_answer(method: &str, status: u16, body: &[u8]) -> Result<Value, Error> {
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(_) if !(200..300).contains(&status) => return Err(http_error(status, body)),
        Err(source) => {
            return Err(Error::Decode { method: method.to_owned(), source });
        }
    };
    if answer.ok {
        return answer.result.ok_or_else(|| Error::Decode {
            method: method.to_owned(),
            source: serde::de::Error::missing_field("result"),
        });
    }
    let code = answer.error_code.and_then(|c| u16::try_from(c).ok()).unwrap_or(status);
    let parameters = answer.parameters;
    Err(Error::Api {
        code,
        description: answer.description.unwrap_or_else(|| format!("error {code} without description")),
        retry_after: parameters.as_ref().and_then(|p| p.retry_after),
        migrate_to_chat_id: parameters.and_then(|p| p.migrate_to_chat_id),
    })
}

/// An HTTP error whose body is not a Bot API answer (a proxy's 502 page, say).
fn http_error(status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(MAX_ERROR_BODY).collect();
    let description = if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") };
    Error::Api { code: status, description, retry_after: None, migrate_to_chat_id: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ok_answer_yields_result() {
        let v = parse_answer("getMe", 200, br#"{"ok":true,"result":{"id":1}}"#).unwrap();
        assert_eq!(v, json!({"id": 1}));
    }

    #[test]
    fn error_answer_keeps_parameters() {
        let body = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
        match parse_answer("sendMessage", 429, body).unwrap_err() {
            Error::Api { code, description, retry_after, migrate_to_chat_id } => {
                assert_eq!(code, 429);
                assert!(description.starts_with("Too Many Requests"));
                assert_eq!(retry_after, Some(7));
                assert_eq!(migrate_to_chat_id, None);
            }
            other => panic!("unexpected {other:?}"),
        }
        let body = br#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#;
        let err = parse_answer("sendMessage", 400, body).unwrap_err();
        assert!(matches!(err, Error::Api { migrate_to_chat_id: Some(-1001234), .. }));
        assert!(!err.is_retryable());
    }

    #[test]
    fn non_json_error_body_becomes_http_error() {
        let err = parse_answer("sendMessage", 502, b"<html>Bad Gateway</html>").unwrap_err();
        assert_eq!(err.code(), Some(502));
        assert!(err.is_retryable());
        assert!(err.to_string().contains("Bad Gateway"));
    }

    #[test]
    fn garbage_success_body_is_a_decode_error() {
        let err = parse_answer("getMe", 200, b"not json").unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
        let err = parse_answer("getMe", 200, br#"{"ok":true}"#).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }

    #[test]
    fn token_is_checked_and_never_printed() {
        assert!(matches!(Client::new("not a token"), Err(Error::InvalidRequest(_))));
        assert!(Client::new("123:abc/def").is_err());
        let client = Client::builder("123:SECRET-token_x").api_url("http://127.0.0.1:1/").build().unwrap();
        assert_eq!(client.bot_id(), 123);
        assert_eq!(client.method_url("getMe"), "http://127.0.0.1:1/bot123:SECRET-token_x/getMe");
        assert_eq!(client.file_url("/photos/a.jpg"), "http://127.0.0.1:1/file/bot123:SECRET-token_x/photos/a.jpg");
        assert!(!format!("{client:?}").contains("SECRET"));
    }

    #[test]
    fn bad_api_url_is_refused() {
        let err = Client::builder("1:a").api_url("ftp://x").build().unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)));
    }

    #[test]
    fn long_poll_timeout_is_extended() {
        let client = Client::builder("1:a")
            .request_timeout(Duration::from_secs(5))
            .long_poll_extra(Duration::from_secs(3))
            .build()
            .unwrap();
        let poll = Request::new("getUpdates", &json!({"timeout": 50})).unwrap();
        assert_eq!(client.timeout_for(&poll), Duration::from_secs(53));
        let short = Request::new("getUpdates", &json!({"timeout": 0})).unwrap();
        assert_eq!(client.timeout_for(&short), Duration::from_secs(5));
        let send = Request::new("sendMessage", &json!({"timeout": 50})).unwrap();
        assert_eq!(client.timeout_for(&send), Duration::from_secs(5));
        let absurd = Request::new("getUpdates", &json!({"timeout": u64::MAX})).unwrap();
        assert_eq!(client.timeout_for(&absurd), Duration::MAX, "saturates instead of overflowing");
    }

    #[test]
    fn only_message_creating_calls_are_held_back_after_a_lost_answer() {
        for method in ["sendMessage", "SENDPHOTO", "sendMediaGroup", "copyMessages", "forwardMessage"] {
            assert!(creates_messages(method), "{method}");
        }
        for method in ["sendChatAction", "editMessageText", "getMe", "answerCallbackQuery", "copyText"] {
            assert!(!creates_messages(method), "{method}");
        }
        let lost = Error::network("timed out");
        let refused = Error::connect("refused");
        assert!(!AmbiguousSends::Fail.allows_retry("sendMessage", &lost));
        assert!(AmbiguousSends::Fail.allows_retry("sendMessage", &refused));
        assert!(AmbiguousSends::Fail.allows_retry("editMessageText", &lost));
        assert!(AmbiguousSends::Retry.allows_retry("sendMessage", &lost));
    }
}
