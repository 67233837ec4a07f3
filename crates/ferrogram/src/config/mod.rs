//! The configuration of `ferrogram serve`: its settings and their defaults ([`Config`]), the
//! keys that name them in a TOML file, in `FERROGRAM_*` environment variables and in flags
//! ([`keys`]), and where each value came from ([`Source`]).
//!
//! Layering, lowest to highest: the built-in default, the TOML file (`--config PATH` or
//! `FERROGRAM_CONFIG`), the environment, the command line (`load.rs`). `ferrogram config`
//! prints the result ([`print`]); docs/configuration.md is generated from the same keys
//! ([`docs`]). Decision 0030 says why.

pub mod docs;
pub mod keys;
pub mod load;
pub mod print;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use load::{Flags, load};

/// The environment variable naming the configuration file (as `--config`).
pub const CONFIG_ENV: &str = "FERROGRAM_CONFIG";

/// Log format: `text` for people, `json` for log collectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `ferrogram serve` is configured by. Each field is one key of [`keys::KEYS`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `database.url`
    pub database_url: String,
    /// `secrets.key_file`; `None` (the default): beside a SQLite database file, else
    /// `data/secret.key` (`secret_key.rs`).
    pub secrets_key_file: Option<PathBuf>,
    /// `database.tls_mode`; `None`: the URL's `sslmode` (decision 0037).
    pub database_tls_mode: Option<ferrogram_store::TlsMode>,
    /// `database.tls_ca`; `None`: the URL's `sslrootcert`, if any.
    pub database_tls_ca: Option<PathBuf>,
    /// `server.listen`
    pub server_listen: SocketAddr,
    /// `server.public_url`, without a trailing `/`; `None` (the default): the bots poll.
    pub server_public_url: Option<String>,
    /// `telegram.api_url`, without a trailing `/`.
    pub telegram_api_url: String,
    /// `sandbox.port`
    pub sandbox_port: u16,
    /// `sandbox.state`
    pub sandbox_state: PathBuf,
    /// `sandbox.flood_limits`
    pub sandbox_flood_limits: bool,
    /// `bots.folder`
    pub bots_folder: PathBuf,
    /// `bots.env`
    pub bots_env: Vec<String>,
    /// `bots.idle_after`; `None`: `never`.
    pub bots_idle_after: Option<Duration>,
    /// `http.allow_private`
    pub http_allow_private: Vec<(String, u16)>,
    /// `webhooks.deliver`
    pub webhooks_deliver: bool,
    /// `webhooks.keep`
    pub webhooks_keep: Duration,
    /// `inbox.keep`
    pub inbox_keep: Duration,
    /// `polling.timeout`, in whole seconds.
    pub polling_timeout: u32,
    /// `llm.edit_interval`
    pub llm_edit_interval: Duration,
    /// `shutdown.grace`
    pub shutdown_grace: Duration,
    /// `backup.to`: a folder or `s3://BUCKET/PREFIX`; `None` (the default): not set.
    pub backup_to: Option<String>,
    /// `backup.every`; `None` (the default): no scheduled backups.
    pub backup_every: Option<Duration>,
    /// `backup.keep`, at least 1.
    pub backup_keep: u32,
    /// `backup.s3_endpoint`, without a trailing `/`; `None`: AWS's of `backup.s3_region`.
    pub backup_s3_endpoint: Option<String>,
    /// `backup.s3_region`
    pub backup_s3_region: String,
    /// `log.format`
    pub log_format: LogFormat,
    /// `telemetry.otlp_endpoint`: the OTLP/HTTP collector the traces go to; none: no traces.
    pub telemetry_otlp_endpoint: Option<String>,
    /// `telemetry.service_name`: the `service.name` the traces carry.
    pub telemetry_service_name: String,
}

impl Config {
    /// The TLS settings for PostgreSQL besides the URL's.
    pub fn database_tls(&self) -> ferrogram_store::Tls {
        ferrogram_store::Tls { mode: self.database_tls_mode, ca: self.database_tls_ca.clone() }
    }
}

/// The embedded default database: a SQLite file in the `data/` folder of the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://data/ferrogram.db";

/// The HTTP listener's address (Telegram's webhooks; the API and dashboard join it): the
/// loopback, for a TLS-terminating proxy in front.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// How long stopping may take after Ctrl-C or SIGTERM (bots stopping, the sandbox saving its
/// state, then the runtime's tasks ending) before the process exits without waiting further.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The `service.name` of the traces (`telemetry.service_name`).
pub const DEFAULT_SERVICE_NAME: &str = "ferrogram";

/// How long an idle webhook bot stays built (`bots.idle_after`).
pub const BOTS_IDLE_AFTER: Duration = Duration::from_secs(600);

impl Default for Config {
    fn default() -> Self {
        let engine = ferrogram_engine::EngineConfig::default();
        Config {
            database_url: DEFAULT_DATABASE.to_owned(),
            secrets_key_file: None,
            database_tls_mode: None,
            database_tls_ca: None,
            server_listen: DEFAULT_LISTEN,
            server_public_url: None,
            telegram_api_url: ferrogram_telegram::DEFAULT_API_URL.to_owned(),
            sandbox_port: 8081,
            sandbox_state: PathBuf::from("data/sandbox.json"),
            sandbox_flood_limits: true,
            bots_folder: PathBuf::from("examples"),
            bots_env: Vec::new(),
            bots_idle_after: Some(BOTS_IDLE_AFTER),
            http_allow_private: Vec::new(),
            webhooks_deliver: true,
            webhooks_keep: ferrogram_server::event_webhooks::KEEP,
            inbox_keep: engine.inbox_keep,
            polling_timeout: engine.poll_timeout,
            llm_edit_interval: engine.llm_edit_interval,
            shutdown_grace: SHUTDOWN_GRACE,
            backup_to: None,
            backup_every: None,
            backup_keep: 7,
            backup_s3_endpoint: None,
            backup_s3_region: "us-east-1".to_owned(),
            log_format: LogFormat::Text,
            telemetry_otlp_endpoint: None,
            telemetry_service_name: DEFAULT_SERVICE_NAME.to_owned(),
        }
    }
}

/// A database URL without its password (`USER:PASSWORD@` or a `password=` parameter), for
/// messages.
pub fn redact(url: &str) -> String {
    // The query starts at the first `?` after the credentials (a password may hold one).
    let after_credentials = url.rfind('@').map_or(0, |at| at + 1);
    let (url, query) = match url[after_credentials..].find('?') {
        Some(start) => (&url[..after_credentials + start], Some(&url[after_credentials + start + 1..])),
        None => (url, None),
    };
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    };
    if let Some(query) = query {
        let masked: Vec<&str> = query
            .split('&')
            .map(|pair| if pair.split('=').next() == Some("password") { "password=***" } else { pair })
            .collect();
        out.push('?');
        out.push_str(&masked.join("&"));
    }
    out
}

/// Where a key's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    /// The configuration file, at this line.
    File {
        path: String,
        line: usize,
    },
    /// This environment variable.
    Env(&'static str),
    /// This command-line flag.
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File { path, line } => write!(f, "file {path}:{line}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// The effective configuration and, per key (in the order of [`keys::KEYS`]), its source.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub sources: Vec<Source>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://bob:s3cret@db:5432/app"), "postgres://bob:***@db:5432/app");
        assert_eq!(redact("sqlite://data/ferrogram.db"), "sqlite://data/ferrogram.db");
        assert_eq!(
            redact("postgres://bob@db/app?sslmode=verify-full&password=s3cret&sslrootcert=ca.pem"),
            "postgres://bob:***@db/app?sslmode=verify-full&password=***&sslrootcert=ca.pem"
        );
        assert_eq!(redact("postgres://bob:p@s?s@db/app?password"), "postgres://bob:***@db/app?password=***");
    }
}
