//! The one address rule for every URL the server fetches for a bot: the engine's `http`,
//! `feed` and `llm` steps and event webhooks, and the sandbox's downloads of files a bot sends
//! by URL; and the workspaces' outgoing event webhooks (`crates/server`, decision 0050). Bot files may come from other people (`ferrogram serve`), so what they name must not
//! reach the machines around the server (server-side request forgery, SSRF).
//!
//! On the path of an update (docs/architecture.md) it guards the interpreting stage's way out to
//! other hosts: the `http`, `feed` and `llm` steps' requests go through its rule.
//!
//! **The rule.** Loopback, private, link-local, CGNAT, multicast, unspecified and reserved
//! addresses are refused in every spelling ([`forbidden`]), unless the operator's allow-list
//! names exactly that host *and* port ([`allowed_entry`], `--allow-private-http`).
//!
//! **Where it is checked.** The check must hold for the address actually connected to, or DNS
//! rebinding (a name that resolves to a public address when checked and to 127.0.0.1 when
//! connected) walks past it. So a [`Guard`]'s client ([`Guard::client_builder`]) resolves names
//! with a resolver that refuses a name resolving to any forbidden address, and connects to
//! exactly the addresses it returned — there is no second lookup. URLs with an IP address skip
//! resolution: [`Guard::check_url`] judges those, and must run before each request and each
//! redirect ([`Guard::redirect_policy`] does it for a client that follows redirects). The
//! client uses no proxy (a proxy would connect on our behalf, past the guard). TLS stays
//! correct: SNI and the certificate name are the URL's host.
//!
//! A resolver sees only the name, not the port; so a name on the allow-list may resolve to
//! private addresses, and [`Guard::check_url`] refuses that name on every port not listed with
//! it. What a refusal tells the bot names neither the allow-list nor its ports; the operator's
//! log has them.

mod address;
mod allow;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use address::forbidden;
pub use allow::{allowed_entry, parse_allowed};

/// Redirects a guarded call follows at most.
pub const MAX_REDIRECTS: usize = 3;

/// The rule with one operator's allow-list. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    /// Checked entries, hosts written as [`host_of`] gives them.
    allowed: Arc<Vec<(String, u16)>>,
}

/// Why the guard refused a URL: a sentence for the bot (its log and `errors` handler) that
/// does not reveal the operator's allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Guard {
    /// A guard allowing the private `(host, port)` pairs of `allow_private` (none: every
    /// private address is refused). An entry that is not one host and one port (a wildcard, a
    /// range, the unspecified address, port 0) is an error naming it.
    pub fn new(allow_private: &[(String, u16)]) -> Result<Guard, String> {
        let allowed = allow_private
            .iter()
            .map(|(host, port)| allowed_entry(host, *port).map_err(|e| format!("allow-list entry {host}:{port}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Guard { allowed: Arc::new(allowed) })
    }

    /// The ports the allow-list names for `host` (written as [`host_of`] gives it).
    fn allowed_ports(&self, host: &str) -> Vec<u16> {
        self.allowed.iter().filter(|(h, _)| h == host).map(|(_, port)| *port).collect()
    }

    /// Whether the operator's allow-list names `url`'s host and port (its default port when it
    /// has none): what lets a URL reach a private or loopback address, and plain `http` for an
    /// outgoing event webhook (decision 0050).
    pub fn lists(&self, url: &Url) -> bool {
        let port = url.port_or_known_default().unwrap_or(80);
        self.allowed_ports(&host_of(url)).contains(&port)
    }

    /// The checks made before connecting to `url` (and to each redirect's target): the scheme,
    /// an IP address in the URL, and the port of an allow-listed host. Names are checked when
    /// they are resolved, by the client of [`Guard::client_builder`].
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!("only http and https URLs can be called, not {}:", url.scheme())));
        }
        let host = host_of(url);
        if host.is_empty() {
            return Err(Refused("the URL has no host".into()));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let ports = self.allowed_ports(&host);
        if ports.contains(&port) {
            return Ok(());
        }
        let refused = match host.parse::<IpAddr>() {
            Ok(ip) => match forbidden(ip) {
                None => return Ok(()),
                Some(why) => Refused(format!(
                    "{host} is {why} address (an operator can allow {host}:{port} with --allow-private-http)"
                )),
            },
            // A name not on the list is checked when it resolves; one on the list resolves
            // unchecked, so only its listed ports are open.
            Err(_) if ports.is_empty() => return Ok(()),
            Err(_) => Refused(format!(
                "{host}:{port} is not on the operator's list of private addresses to allow (--allow-private-http)"
            )),
        };
        if !ports.is_empty() {
            // The bot is not told which ports are open; the operator sees it here.
            tracing::warn!(%host, port, allowed_ports = ?ports, "a bot called an allow-listed host on a port not listed with it: refused");
        }
        Err(refused)
    }

    /// A client builder whose names resolve through the guard, that follows no redirects (the
    /// caller follows them, checking each with [`Guard::check_url`], or sets
    /// [`Guard::redirect_policy`]) and uses no proxy. Add timeouts and pool settings to it.
    /// TLS is rustls with ring, as in the rest of the workspace (decision 0003).
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let names = self.allowed.iter().map(|(host, _)| host.clone()).collect();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver { allowed: Arc::new(names) })
    }

    /// Follows at most [`MAX_REDIRECTS`] redirects, each target checked by
    /// [`Guard::check_url`] (its name by the resolver, as for the first request).
    pub fn redirect_policy(&self) -> reqwest::redirect::Policy {
        let guard = self.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        })
    }
}

/// The host of `url` as the allow-list writes it: lowercase, IPv6 without brackets, a name
/// without its final dot (`localhost.` is `localhost` to the resolver, so to the list too).
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// The guard's refusal inside an error's chain of causes (a client error), if that is what
/// made it fail.
pub fn refusal<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e Refused> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = e.source();
    }
    None
}

/// Resolves names for a guarded client and refuses those resolving to a forbidden address,
/// unless the name is on the allow-list (its port is checked by [`Guard::check_url`]).
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

#[cfg(test)]
mod tests;
