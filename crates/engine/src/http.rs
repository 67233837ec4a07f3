//! The `http` step: calls to HTTP APIs from bots, with retries, a circuit breaker per host and
//! a guard against server-side request forgery (SSRF).
//!
//! **The guard.** A bot file must not reach the machines around the server: loopback, private
//! networks, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, unspecified and
//! reserved addresses are refused — in every spelling, IPv4-mapped and -embedding IPv6 included
//! ([`forbidden`]) — unless [`HttpConfig::allow_private`] lists exactly that host *and* port.
//!
//! The check must hold for the address actually connected to, or DNS rebinding (a name that
//! resolves to a public address when checked and to 127.0.0.1 when connected) walks past it.
//! So the check is inside the connection: the engine's client resolves names with
//! [`GuardedResolver`], which refuses a name that resolves to any forbidden address, and the
//! connector connects to exactly the addresses it returned — there is no second lookup. Pooled
//! connections are reused only for the same host and port, so they were checked when opened.
//! URLs with an IP address skip resolution; [`Http::check_target`] classifies those before
//! sending. This keeps TLS correct (SNI and the certificate name stay the URL's host), which
//! pinning by rewriting the URL to an IP with a `Host` header cannot do for HTTPS.
//!
//! This is why the step does not use [`telegram::http_client`]: the guard lives in the client's
//! resolver, and that client must also follow no redirects and use no proxy (a proxy would
//! connect on our behalf, past the guard). Each [`crate::Engine`] has one such client, pooled,
//! shared by all its bots.
//!
//! A resolver sees only the name, not the port; so a name on the allow-list may resolve to
//! private addresses, and [`Http::check_target`] refuses that name on every port not listed
//! with it.
//!
//! **Redirects** are followed by hand, at most [`MAX_REDIRECTS`], each target checked again;
//! headers are dropped when a redirect leaves the origin (they may carry secrets).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use schema::HttpMethod;
use serde_json::{Value, json};
use telegram::Backoff;
use tokio::time::Instant;

/// Redirects followed at most by one call.
pub const MAX_REDIRECTS: usize = 3;
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
    /// case (`localhost`, `10.0.0.5`, `::1`). Default: none.
    pub allow_private: Vec<(String, u16)>,
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
            max_body: 1 << 20,
            breaker_threshold: 5,
            breaker_open: Duration::from_secs(30),
            retry_base: Duration::from_millis(250),
            retry_cap: Duration::from_secs(5),
        }
    }
}

/// A request as the step rendered it.
#[derive(Debug)]
pub struct Prepared {
    pub method: HttpMethod,
    pub url: String,
    /// Values may hold secrets: they are never logged or put in errors.
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub json: Option<Value>,
    pub timeout: Duration,
    pub retries: u32,
}

/// The HTTP side of an engine: the guarded client and the circuit breakers.
pub struct Http {
    client: Result<reqwest::Client, String>,
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

/// Why a target was refused by the guard.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves names for the engine's client and refuses those resolving to a forbidden address,
/// unless the name is on the allow-list (its port is checked by [`Http::check_target`]).
struct GuardedResolver {
    allowed: Arc<Vec<String>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let allowed = self.allowed.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if !allowed && let Some((ip, why)) = addrs.iter().find_map(|a| forbidden(a.ip()).map(|why| (a.ip(), why))) {
                return Err(Box::new(Refused(format!("{host} resolves to {ip}, {why} address"))) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why `ip` may not be called (`a loopback`, `a private`…), or `None` for a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified")
    } else if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_private() {
        Some("a private")
    } else if ip.is_link_local() {
        Some("a link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (CGNAT)")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if a >= 240 {
        Some("a reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96)
    // and 6to4 (2002:AABB:CCDD::/48) reach the IPv4 address; judge that one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if ip.is_unspecified() {
        return Some("an unspecified");
    }
    if ip.is_loopback() {
        return Some("a loopback");
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if segments[..6] == [0; 6] {
        return forbidden_v4(embedded(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return forbidden_v4(embedded(segments[1], segments[2]));
    }
    match segments[0] {
        s if s & 0xfe00 == 0xfc00 => Some("a private (unique local)"),
        s if s & 0xffc0 == 0xfe80 => Some("a link-local"),
        s if s & 0xffc0 == 0xfec0 => Some("a private (site-local)"),
        s if s & 0xff00 == 0xff00 => Some("a multicast"),
        _ => None,
    }
}

/// The host of `url` as the allow-list writes it: lowercase, IPv6 without brackets.
fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// What a step's messages call the target of `url`: its host, or the URL itself when it has
/// none (it does not parse).
pub fn host_or_url(url: &str) -> String {
    Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| url.to_owned())
}

/// Replaces the `${NAME}` written in `source` (a header's template) with the environment
/// variable `NAME` in `rendered` (what the template gave). Only names written in the source are
/// expanded, so a `${…}` coming from user input reads no secret.
pub fn expand_secrets(source: &str, rendered: &str) -> Result<String, String> {
    let mut out = rendered.to_owned();
    let mut rest = source;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        rest = &after[end + 1..];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))?;
        out = out.replace(&format!("${{{name}}}"), &value);
    }
    Ok(out)
}

impl Http {
    pub fn new(config: HttpConfig) -> Http {
        telegram::install_crypto_provider();
        let allowed: Vec<String> = config
            .allow_private
            .iter()
            .map(|(host, _)| host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
            .collect();
        let client = reqwest::Client::builder()
            .user_agent(concat!("ferrogram/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver { allowed: Arc::new(allowed) })
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"));
        Http { client, config, breakers: Mutex::new(HashMap::new()) }
    }

    /// Whether the operator allows `host:port` although it is private.
    fn allowed_ports(&self, host: &str) -> Vec<u16> {
        self.config
            .allow_private
            .iter()
            .filter(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(host))
            .map(|(_, port)| *port)
            .collect()
    }

    /// The checks made before connecting: the scheme, an IP address in the URL, and the port
    /// of an allow-listed host. (Names are checked when resolved: [`GuardedResolver`].)
    fn check_target(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("only http and https URLs can be called, not {}:", url.scheme()));
        }
        let host = host_of(url);
        let port = url.port_or_known_default().unwrap_or(80);
        let ports = self.allowed_ports(&host);
        if !ports.is_empty() && !ports.contains(&port) {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            return Err(format!("refused: {host} is allowed only on port {}", list.join(", ")));
        }
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        // A name is checked when it is resolved; an address here.
        let Ok(ip) = host.parse::<IpAddr>() else { return Ok(()) };
        match forbidden(ip) {
            Some(why) if ports.is_empty() => Err(format!(
                "refused: {host} is {why} address (an operator can allow {host}:{port} with --allow-private-http)"
            )),
            _ => Ok(()),
        }
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
        let mut hops = 0;
        loop {
            let response = self.send(client, &method, &url, &headers, body.as_ref(), &request).await?;
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
            }
            tracing::debug!(from = %host_of(&url), to = %host_of(&next), %status, "HTTP call redirected");
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
        body: Option<&Value>,
        request: &Prepared,
    ) -> Result<reqwest::Response, String> {
        self.check_target(url)?;
        let host = host_of(url);
        let backoff = Backoff {
            max_attempts: request.retries.saturating_add(1),
            base: self.config.retry_base,
            cap: self.config.retry_cap,
            jitter: true,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.admit(&host)?;
            let mut builder = client.request(method.clone(), url.clone()).timeout(request.timeout);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = body {
                builder = builder.json(body);
            }
            let outcome = builder.send().await;
            let (failure, retry_after) = match &outcome {
                Ok(response) if response.status().is_server_error() => {
                    (Some(format!("answered {}", response.status())), None)
                }
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                    (Some(format!("answered {}", response.status())), retry_after(response))
                }
                Ok(_) => (None, None),
                Err(error) => match refusal(error) {
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
            breakers.remove(host);
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
            }
            breaker.open_until = Some(Instant::now() + self.config.breaker_open);
        }
    }
}

/// A 429's `Retry-After` in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The guard's refusal inside a client error, if that is what it is.
fn refusal(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.0.clone());
        }
        source = e.source();
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<&'static str> {
        forbidden(s.parse().expect("an IP"))
    }

    #[test]
    fn classifies_ipv4() {
        for (ip, why) in [
            ("127.0.0.1", "a loopback"),
            ("127.255.0.9", "a loopback"),
            ("10.1.2.3", "a private"),
            ("172.16.0.1", "a private"),
            ("172.31.255.255", "a private"),
            ("192.168.1.1", "a private"),
            ("169.254.169.254", "a link-local"),
            ("0.0.0.0", "an unspecified"),
            ("0.1.2.3", "an unspecified"),
            ("100.64.0.1", "a shared (CGNAT)"),
            ("100.127.255.254", "a shared (CGNAT)"),
            ("224.0.0.1", "a multicast"),
            ("255.255.255.255", "a reserved"),
        ] {
            assert_eq!(v4(ip), Some(why), "{ip}");
        }
        for ip in ["8.8.8.8", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "193.0.0.1"] {
            assert_eq!(v4(ip), None, "{ip}");
        }
    }

    #[test]
    fn classifies_ipv6_and_embedded_ipv4() {
        for (ip, why) in [
            ("::1", "a loopback"),
            ("::", "an unspecified"),
            ("fc00::1", "a private (unique local)"),
            ("fd12:3456::1", "a private (unique local)"),
            ("fe80::1", "a link-local"),
            ("febf::1", "a link-local"),
            ("fec0::1", "a private (site-local)"),
            ("ff02::1", "a multicast"),
            ("::ffff:127.0.0.1", "a loopback"),
            ("::ffff:10.0.0.1", "a private"),
            ("::ffff:169.254.169.254", "a link-local"),
            ("::ffff:0:0", "an unspecified"),
            ("::127.0.0.1", "a loopback"),
            ("64:ff9b::a9fe:a9fe", "a link-local"),
            ("2002:c0a8:0101::1", "a private"),
        ] {
            assert_eq!(v4(ip), Some(why), "{ip}");
        }
        for ip in ["2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:0808:0808::1", "fe00::1"] {
            assert_eq!(v4(ip), None, "{ip}");
        }
    }

    #[test]
    fn expands_only_secrets_written_in_the_source() {
        // SAFETY: a name no other test reads or writes.
        unsafe { std::env::set_var("FERROGRAM_HTTP_UNIT_SECRET", "s3cr3t") };
        let source = "Bearer ${FERROGRAM_HTTP_UNIT_SECRET} {{ message.text }}";
        let rendered = "Bearer ${FERROGRAM_HTTP_UNIT_SECRET} ${HOME}";
        assert_eq!(expand_secrets(source, rendered).as_deref(), Ok("Bearer s3cr3t ${HOME}"));
        assert_eq!(
            expand_secrets("${FERROGRAM_HTTP_UNSET_VAR}", "${FERROGRAM_HTTP_UNSET_VAR}"),
            Err("the environment variable FERROGRAM_HTTP_UNSET_VAR is not set".into())
        );
    }

    #[tokio::test]
    async fn targets_are_checked_by_host_and_port() {
        let config =
            HttpConfig { allow_private: vec![("127.0.0.1".into(), 8080), ("::1".into(), 80)], ..Default::default() };
        let http = Http::new(config);
        let check = |url: &str| http.check_target(&Url::parse(url).expect("a URL"));
        assert!(check("http://127.0.0.1:8080/x").is_ok());
        assert!(check("http://[::1]/").is_ok());
        assert_eq!(check("http://127.0.0.1:8081/"), Err("refused: 127.0.0.1 is allowed only on port 8080".into()));
        assert_eq!(
            check("http://10.0.0.1/"),
            Err("refused: 10.0.0.1 is a private address (an operator can allow 10.0.0.1:80 with --allow-private-http)"
                .into())
        );
        // Other spellings of the loopback are the same address to the URL parser.
        assert!(check("http://0x7f.1:9/").is_err());
        assert!(check("http://[::ffff:7f00:1]:8080/").is_err());
        assert!(check("ftp://example.org/").is_err());
        assert!(check("https://example.org/").is_ok());
    }
}
