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
    /// `http.allow_private`
    pub http_allow_private: Vec<(String, u16)>,
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
}

/// The embedded default database: a SQLite file in the `data/` folder of the working directory.
pub const DEFAULT_DATABASE: &str = "sqlite://data/ferrogram.db";

/// The HTTP listener's address (Telegram's webhooks; the API and dashboard join it): the
/// loopback, for a TLS-terminating proxy in front.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// How long stopping may take after Ctrl-C or SIGTERM (bots stopping, the sandbox saving its
/// state, then the runtime's tasks ending) before the process exits without waiting further.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl Default for Config {
    fn default() -> Self {
        let engine = ferrogram_engine::EngineConfig::default();
        Config {
            database_url: DEFAULT_DATABASE.to_owned(),
            server_listen: DEFAULT_LISTEN,
            server_public_url: None,
            telegram_api_url: ferrogram_telegram::DEFAULT_API_URL.to_owned(),
            sandbox_port: 8081,
            sandbox_state: PathBuf::from("data/sandbox.json"),
            sandbox_flood_limits: true,
            bots_folder: PathBuf::from("examples"),
            bots_env: Vec::new(),
            http_allow_private: Vec::new(),
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
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
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
    }
}
