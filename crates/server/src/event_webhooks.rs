//! Outgoing event webhooks, the sending side (decision 0050): the worker that POSTs the store's
//! queued deliveries ([`EventWebhooks::spawn`], started with the API's listener), signs them,
//! retries them with exponential backoff and logs each attempt; and the check of a
//! subscription's URL ([`EventWebhooks::check_url`]).
//!
//! Every request goes through the one egress rule (decision 0025): a client from
//! [`ferrogram_egress::Guard::client_builder`] with the operator's allow-list
//! (`http.allow_private`), following no redirect, the URL checked before each attempt. A
//! refusal of the rule is final.
//!
//! **Signature.** Each request carries `X-Ferrogram-Webhook-Signature: t=<unix seconds>,
//! sha256=<hex>`, the hex being the HMAC-SHA256, keyed with the subscription's secret (the whole
//! `whsec_…` text, as bytes), of `<t>.<body>`: the timestamp, a dot and the raw body. The
//! function is the bot `emit` webhooks' ([`ferrogram_engine::signature`]); the timestamp is
//! signed too so that a receiver can refuse a replayed request (docs/api.md). Also sent:
//! `X-Ferrogram-Event` (the type), `X-Ferrogram-Event-Id` (the same for a redelivery: the
//! receiver's deduplication key) and `X-Ferrogram-Delivery`.
//!
//! **Outcome.** A 2xx delivers. No answer (a refused connection, a timeout), 408, 429 and 5xx
//! are retried after `first_retry`, doubling each time up to `max_retry`, until `max_attempts`
//! attempts were made; any other answer (another 4xx, a redirect) is final. A 429 or 503 with
//! `Retry-After` (seconds, or an HTTP date) is retried after what it asks instead, at least a
//! second and at most `max_retry` ([`Settings::retry_wait`]).
//!
//! **Retention.** The worker also forgets the deliveries that ended (delivered or failed) more
//! than `keep` ago, with their attempts (`webhooks.keep`), every `prune_every`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ferrogram_egress::Guard;
use ferrogram_store::{AttemptOutcome, DeliveryState, DueDelivery, Store, WebhookAttempt};
use reqwest::Url;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// The signature's header.
pub const SIGNATURE_HEADER: &str = "X-Ferrogram-Webhook-Signature";
/// The longest URL a subscription may have.
pub const MAX_URL: usize = 2048;
/// How many deliveries one worker sends at once.
const BATCH: u32 = 16;

/// How deliveries are attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Attempts before a delivery is failed (the first included).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; doubled after each next one.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// How often the worker looks for due deliveries queued by another process (those queued
    /// by this one wake it at once).
    pub poll: Duration,
    /// Whether this process sends at all (`webhooks.deliver`): without, events are only queued.
    pub deliver: bool,
    /// How long a delivered or failed delivery stays in the log (`webhooks.keep`).
    pub keep: Duration,
    /// How often the worker forgets the deliveries older than `keep`.
    pub prune_every: Duration,
}

impl Default for Settings {
    /// 8 attempts over about an hour: 30 s, 1, 2, 4, 8, 16, 32 minutes apart.
    fn default() -> Self {
        Settings {
            max_attempts: 8,
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            deliver: true,
            keep: KEEP,
            prune_every: Duration::from_secs(3600),
        }
    }
}

impl Settings {
    /// The wait after the `attempt`th failed attempt (from 1), in whole seconds.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self.first_retry.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        whole_seconds(doubled.min(self.max_retry))
    }

    /// The wait after the `attempt`th failed attempt, answered `status` (`None`: no answer)
    /// with `retry_after` (the header's value, if any), at `now`: for a 429 or a 503, the
    /// `Retry-After` it asks (delay-seconds or an HTTP date), at least a second and at most
    /// `max_retry`; otherwise, or when the header does not parse, the [`Settings::backoff`].
    pub fn retry_wait(
        &self,
        attempt: u32,
        status: Option<u16>,
        retry_after: Option<&str>,
        now: SystemTime,
    ) -> Duration {
        let asked = match (status, retry_after) {
            (Some(429 | 503), Some(value)) => parse_retry_after(value, now),
            _ => None,
        };
        match asked {
            Some(asked) => {
                whole_seconds(asked.clamp(Duration::from_secs(1), self.max_retry.max(Duration::from_secs(1))))
            }
            None => self.backoff(attempt),
        }
    }
}

/// How long a delivered or failed delivery stays in the log by default: 30 days.
pub const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// `Retry-After`'s wait: delay-seconds, or an HTTP date (a past one is no wait); `None` when it
/// is neither (RFC 9110, 10.2.3).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `wait` rounded up to whole seconds (the queue's times are Unix seconds).
fn whole_seconds(wait: Duration) -> Duration {
    Duration::from_secs(wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0)))
}

/// The API's side of the event webhooks: the egress rule, the settings, and the worker's bell.
/// Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct EventWebhooks {
    guard: Guard,
    settings: Settings,
    wake: Arc<Notify>,
}

impl EventWebhooks {
    /// With the operator's allow-list of private `(host, port)`s (`http.allow_private`): an
    /// entry that is not one host and one port is an error naming it.
    pub fn new(allow_private: &[(String, u16)], settings: Settings) -> Result<EventWebhooks, String> {
        Ok(EventWebhooks { guard: Guard::new(allow_private)?, settings, wake: Arc::default() })
    }

    /// Tells the worker something was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether `text` may be a subscription's URL: absolute, at most [`MAX_URL`] bytes, `https`
    /// (or `http` to a host and port on the operator's allow-list), no credentials nor
    /// fragment, and not refused by the egress rule. The error says why.
    pub fn check_url(&self, text: &str) -> Result<Url, String> {
        if text.len() > MAX_URL {
            return Err(format!("at most {MAX_URL} bytes"));
        }
        let url = Url::parse(text).map_err(|e| format!("not an absolute URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.guard.lists(&url) => {}
            "http" => {
                return Err("use https: plain http only reaches a host and port the operator allows \
                            (http.allow_private)"
                    .into());
            }
            other => return Err(format!("only https URLs receive events, not {other}:")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("no user name or password in the URL: the signature authenticates the server".into());
        }
        if url.fragment().is_some() {
            return Err("no #fragment: it is never sent".into());
        }
        self.guard.check_url(&url).map_err(|refused| refused.0)?;
        Ok(url)
    }

    /// Starts the worker on `store`, unless this process does not deliver
    /// ([`Settings::deliver`]); it runs until the handle is aborted.
    pub fn spawn(&self, store: Arc<Store>) -> Option<JoinHandle<()>> {
        if !self.settings.deliver {
            tracing::info!("event webhooks: not delivered by this process (webhooks.deliver = false)");
            return None;
        }
        let this = self.clone();
        Some(tokio::spawn(async move { this.run(store).await }))
    }

    async fn run(self, store: Arc<Store>) {
        let client = match self.guard.client_builder().timeout(self.settings.timeout).build() {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "event webhooks: no HTTP client: nothing will be delivered");
                return;
            }
        };
        // A claim outlives the longest attempt, so no other worker takes it meanwhile.
        let lease = i64::try_from(self.settings.timeout.as_secs()).unwrap_or(60) + 30;
        let mut pruned: Option<Instant> = None;
        loop {
            if pruned.is_none_or(|at| at.elapsed() >= self.settings.prune_every) {
                pruned = Some(Instant::now());
                let keep = i64::try_from(self.settings.keep.as_secs()).unwrap_or(i64::MAX / 2);
                match store.prune_webhook_deliveries(unix_now().saturating_sub(keep)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(pruned = n, "event webhooks: old deliveries forgotten"),
                    Err(error) => tracing::warn!(%error, "event webhooks: pruning the log failed"),
                }
            }
            let claimed = match store.claim_webhook_deliveries(lease, BATCH).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "event webhooks: reading the queue failed");
                    Vec::new()
                }
            };
            if !claimed.is_empty() {
                let mut sending = JoinSet::new();
                for due in claimed {
                    let (this, store, client) = (self.clone(), Arc::clone(&store), client.clone());
                    sending.spawn(async move { this.attempt(&store, &client, due).await });
                }
                while sending.join_next().await.is_some() {}
                continue;
            }
            let wait = match store.next_webhook_due().await {
                Ok(Some(at)) => Duration::from_secs(u64::try_from(at - unix_now()).unwrap_or(0)),
                _ => self.settings.poll,
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait.min(self.settings.poll)) => {}
            }
        }
    }

    /// Makes one attempt at a claimed delivery and logs it.
    async fn attempt(&self, store: &Store, client: &reqwest::Client, due: DueDelivery) {
        let at = unix_now();
        let started = Instant::now();
        let (status_code, error, retry, retry_after) = match self.send(store, client, &due, at).await {
            Ok((code, _)) if (200..300).contains(&code) => (Some(code), None, false, None),
            Ok((code, retry_after)) => {
                let retry = code == 408 || code == 429 || code >= 500;
                (Some(code), Some(format!("answered {code}")), retry, retry_after)
            }
            Err(Failure { message, retry }) => (None, Some(message), retry, None),
        };
        let done = due.attempts + 1;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (state, retry_at) = match (error.is_none(), retry && done < self.settings.max_attempts) {
            (true, _) => (DeliveryState::Delivered, None),
            (false, true) => {
                let wait = self.settings.retry_wait(done, status_code, retry_after.as_deref(), SystemTime::now());
                let wait = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX / 2);
                (DeliveryState::Pending, Some(unix_now() + wait))
            }
            (false, false) => (DeliveryState::Failed, None),
        };
        let error = match (&error, state, retry) {
            (Some(error), DeliveryState::Failed, true) => Some(format!("{error}; gave up after {done} attempts")),
            _ => error,
        };
        tracing::debug!(
            delivery = due.id,
            webhook = due.webhook,
            ?status_code,
            ?error,
            state = state.as_str(),
            "event webhook attempt"
        );
        let outcome =
            AttemptOutcome { attempt: WebhookAttempt { at, status_code, duration_ms, error }, state, retry_at };
        if let Err(error) = store.finish_webhook_attempt(due.id, &outcome).await {
            // The lease ends and the delivery is attempted again: at least once, never lost.
            tracing::warn!(%error, delivery = due.id, "event webhooks: logging an attempt failed");
        }
    }

    /// POSTs the delivery's event: the status answered with its `Retry-After`, or why there was
    /// no answer.
    async fn send(
        &self,
        store: &Store,
        client: &reqwest::Client,
        due: &DueDelivery,
        at: i64,
    ) -> Result<(u16, Option<String>), Failure> {
        let url = Url::parse(&due.url).map_err(|e| Failure::last(format!("the URL does not parse: {e}")))?;
        self.guard
            .check_url(&url)
            .map_err(|refused| Failure::last(format!("refused by the egress rule: {refused}")))?;
        let secret = match store.webhook_secret(due.workspace, due.webhook).await {
            Ok(Some(secret)) => secret,
            Ok(None) => return Err(Failure::last("the subscription has no signing secret".into())),
            Err(error) => return Err(Failure::again(format!("reading the signing secret: {error}"))),
        };
        let signed = ferrogram_engine::signature(secret.as_bytes(), format!("{at}.{}", due.payload).as_bytes());
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::USER_AGENT, concat!("Ferrogram-Webhooks/", env!("CARGO_PKG_VERSION")))
            .header("X-Ferrogram-Event", &due.event_type)
            .header("X-Ferrogram-Event-Id", due.event.to_string())
            .header("X-Ferrogram-Delivery", due.id.to_string())
            .header(SIGNATURE_HEADER, format!("t={at},{signed}"))
            .body(due.payload.clone())
            .send()
            .await;
        match response {
            Ok(response) => {
                let retry_after = response.headers().get(reqwest::header::RETRY_AFTER);
                let retry_after = retry_after.and_then(|v| v.to_str().ok()).map(str::to_owned);
                Ok((response.status().as_u16(), retry_after))
            }
            Err(error) if ferrogram_egress::refusal(&error).is_some() => {
                Err(Failure::last(format!("refused by the egress rule: {}", describe(&error))))
            }
            Err(error) if error.is_timeout() => {
                Err(Failure::again(format!("no answer in {} s", self.settings.timeout.as_secs_f32())))
            }
            Err(error) => Err(Failure::again(describe(&error))),
        }
    }
}

/// An attempt without an answer: why, and whether to try again.
struct Failure {
    message: String,
    retry: bool,
}

impl Failure {
    fn again(message: String) -> Failure {
        Failure { message, retry: true }
    }
    fn last(message: String) -> Failure {
        Failure { message, retry: false }
    }
}

/// An error with its causes, `a: b: c` (a cause already in the text is not repeated).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = Settings::default();
        let waits: Vec<u64> = (1..=8).map(|n| settings.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600]);
        let quick = Settings { first_retry: Duration::from_millis(300), ..Settings::default() };
        assert_eq!(quick.backoff(1), Duration::from_secs(1), "rounded up to whole seconds");
    }

    #[test]
    fn retry_after_replaces_the_backoff_for_429_and_503_only() {
        let settings = Settings { max_retry: Duration::from_secs(600), ..Settings::default() };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = |status: Option<u16>, header: Option<&str>| settings.retry_wait(2, status, header, now).as_secs();
        assert_eq!(wait(Some(429), Some("120")), 120);
        assert_eq!(wait(Some(503), Some(" 7 ")), 7);
        assert_eq!(wait(Some(503), Some("86400")), 600, "capped at max_retry");
        assert_eq!(wait(Some(429), Some("0")), 1, "at least a second");
        let in_90_s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(wait(Some(429), Some(in_90_s.as_str())), 90, "an HTTP date");
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(wait(Some(503), Some(past.as_str())), 1);
        // The backoff otherwise: another status, no header, one that does not parse.
        assert_eq!(wait(Some(500), Some("120")), 60);
        assert_eq!(wait(Some(429), None), 60);
        assert_eq!(wait(Some(429), Some("soon")), 60);
        assert_eq!(wait(Some(429), Some("-5")), 60);
        assert_eq!(wait(None, Some("120")), 60);
    }

    #[test]
    fn urls_are_https_or_allowed_http() {
        let hooks = EventWebhooks::new(&[("127.0.0.1".into(), 9000)], Settings::default()).unwrap();
        assert!(hooks.check_url("https://example.com/hook").is_ok());
        assert!(hooks.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(hooks.check_url("http://example.com/hook").unwrap_err().contains("use https"));
        assert!(hooks.check_url("https://127.0.0.1:9001/").unwrap_err().contains("loopback"));
        assert!(hooks.check_url("https://10.0.0.1/").unwrap_err().contains("private"));
        assert!(hooks.check_url("ftp://example.com/").unwrap_err().contains("only https"));
        assert!(hooks.check_url("https://u:p@example.com/").unwrap_err().contains("password"));
        assert!(hooks.check_url("/relative").unwrap_err().contains("absolute"));
    }
}
