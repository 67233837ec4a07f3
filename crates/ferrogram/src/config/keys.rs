//! The keys of the configuration, one per setting of [`Config`]: the name in the TOML file
//! (`section.key`), its type, its environment variable and flag, its documentation, and how a
//! value given for it is checked and stored. The loader, `ferrogram config` and
//! docs/configuration.md all read this one table.

use std::time::Duration;

use super::{Config, LogFormat};

/// A value as a file, the environment or a flag gives it, before its key checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(i64),
    Bool(bool),
    List(Vec<String>),
}

/// The TOML type a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Bool,
    List,
}

impl Kind {
    /// The kind's name in messages: "a string", ….
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Integer => "an integer",
            Kind::Bool => "a boolean",
            Kind::List => "an array of strings",
        }
    }

    /// Reads an environment variable's text as this kind: lists are comma-separated.
    pub fn parse(self, text: &str) -> Result<Value, String> {
        match self {
            Kind::Text => Ok(Value::Text(text.to_owned())),
            Kind::Integer => {
                text.trim().parse().map(Value::Integer).map_err(|_| format!("expected an integer, found `{text}`"))
            }
            Kind::Bool => match text.trim() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("expected `true` or `false`, found `{text}`")),
            },
            Kind::List => Ok(Value::List(
                text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect(),
            )),
        }
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Text(_) => Kind::Text,
            Value::Integer(_) => Kind::Integer,
            Value::Bool(_) => Kind::Bool,
            Value::List(_) => Kind::List,
        }
    }

    fn text(self) -> String {
        match self {
            Value::Text(text) => text,
            _ => String::new(),
        }
    }

    fn integer(self) -> i64 {
        match self {
            Value::Integer(n) => n,
            _ => 0,
        }
    }

    fn list(self) -> Vec<String> {
        match self {
            Value::List(items) => items,
            _ => Vec::new(),
        }
    }
}

/// One key of the configuration.
pub struct Key {
    /// `section.key`, as in the TOML file.
    pub name: &'static str,
    pub kind: Kind,
    /// What the value must be, for people: "a duration", "`text` or `json`", …; messages say
    /// "expected" and this.
    pub ty: &'static str,
    /// The environment variable that sets it.
    pub env: &'static str,
    /// The flag of `serve` (and `config`) that sets it, if any.
    pub flag: Option<&'static str>,
    /// Shown masked by `ferrogram config` (a password in a URL).
    pub secret: bool,
    pub doc: &'static str,
    set: fn(&mut Config, Value) -> Result<(), String>,
    get: fn(&Config) -> Value,
}

impl Key {
    /// The section: `sandbox` of `sandbox.port`.
    pub fn section(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(section, _)| section)
    }

    /// The name within its section: `port` of `sandbox.port`.
    pub fn field(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(_, field)| field)
    }

    /// Checks `value` and stores it in `config`; the error says what was expected.
    pub fn set(&self, config: &mut Config, value: Value) -> Result<(), String> {
        if value.kind() != self.kind {
            return Err(format!("expected {}, found {}", self.ty, value.kind().name()));
        }
        (self.set)(config, value)
    }

    /// The key's value in `config`.
    pub fn get(&self, config: &Config) -> Value {
        (self.get)(config)
    }
}

/// Every key, in the order `ferrogram config` and docs/configuration.md show them.
pub static KEYS: &[Key] = &[
    Key {
        name: "database.url",
        kind: Kind::Text,
        ty: "a database URL: `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`",
        env: "FERROGRAM_DATABASE_URL",
        flag: Some("--database"),
        secret: true,
        doc: "Where the bots' conversations, variables, inbox and outbox are kept. A SQLite file's \
              folder is created at start. `ferrogram config` shows a password masked.",
        set: |config, value| {
            config.database_url = database_url(value.text())?;
            Ok(())
        },
        get: |config| Value::Text(config.database_url.clone()),
    },
    Key {
        name: "database.tls_mode",
        kind: Kind::Text,
        ty: "`disable`, `prefer`, `require`, `verify-ca` or `verify-full`, or `\"\"` for the URL's",
        env: "FERROGRAM_DATABASE_TLS_MODE",
        flag: Some("--database-tls-mode"),
        secret: false,
        doc: "PostgreSQL: how the connection uses TLS, as libpq's `sslmode`, which it overrides. \
              Empty (the default): the URL's `sslmode`, else `verify-full` when a CA is given \
              (`database.tls_ca` or the URL's `sslrootcert`), else `prefer` (TLS when the server \
              offers it, its certificate unchecked). `require` encrypts without checking the \
              certificate; `verify-full` also checks that it is signed by the CA and names the \
              host: use it for a server across a network. See \
              [TLS to PostgreSQL](operations.md#tls-to-postgresql).",
        set: |config, value| {
            let text = value.text();
            config.database_tls_mode = match text.trim() {
                "" => None,
                mode => Some(mode.parse()?),
            };
            Ok(())
        },
        get: |config| Value::Text(config.database_tls_mode.map(|mode| mode.as_str().to_owned()).unwrap_or_default()),
    },
    Key {
        name: "database.tls_ca",
        kind: Kind::Text,
        ty: "a path to a PEM file, or `\"\"` for the URL's",
        env: "FERROGRAM_DATABASE_TLS_CA",
        flag: Some("--database-tls-ca"),
        secret: false,
        doc: "PostgreSQL: the CA certificate (PEM, one or more) the server's certificate must be \
              signed by, as libpq's `sslrootcert`, which it overrides. Read at start (a missing or \
              unreadable file, or one without a certificate, stops it) and at each new \
              connection. It is trusted beside the system's CAs.",
        set: |config, value| {
            let text = value.text();
            config.database_tls_ca = if text.trim().is_empty() { None } else { Some(text.into()) };
            Ok(())
        },
        get: |config| {
            Value::Text(config.database_tls_ca.as_ref().map(|path| path.display().to_string()).unwrap_or_default())
        },
    },
    Key {
        name: "secrets.key_file",
        kind: Kind::Text,
        ty: "a path, or `\"\"` for the default",
        env: "FERROGRAM_SECRETS_KEY_FILE",
        flag: Some("--secret-key-file"),
        secret: false,
        doc: "The file of the key the secrets kept in the database are encrypted with (the bots' \
              tokens stored with `ferrogram bot add FILE --token T`; XChaCha20-Poly1305): 32 \
              random bytes in base64, created with mode 0600 at the first start when it is missing \
              and the database holds no secret yet. The start is refused when others may read or \
              write the file, or when the database's secrets were encrypted with another key. \
              Empty (the default): beside a SQLite database file, `PATH.key` \
              (`data/ferrogram.db.key`), else (PostgreSQL) `data/secret.key`. When \
              `FERROGRAM_SECRET_KEY` is set (64 hex digits or base64 of 32 bytes) it is the key and \
              no file is read. Back the key up apart from the database; see the \
              [operations guide](operations.md#secrets-at-rest).",
        set: |config, value| {
            let text = value.text();
            config.secrets_key_file = if text.trim().is_empty() { None } else { Some(text.into()) };
            Ok(())
        },
        get: |config| {
            Value::Text(config.secrets_key_file.as_ref().map(|path| path.display().to_string()).unwrap_or_default())
        },
    },
    Key {
        name: "server.listen",
        kind: Kind::Text,
        ty: "an address, `IP:PORT` (port 0 for a free one)",
        env: "FERROGRAM_SERVER_LISTEN",
        flag: Some("--listen"),
        secret: false,
        doc: "The one HTTP listener of `serve`: Telegram's webhooks at `POST /telegram/BOT_ID` (and \
              what the API and dashboard add). It is bound at start whether or not a bot receives \
              by webhook; an address in use stops the start. Keep the loopback behind a \
              TLS-terminating proxy, or bind `0.0.0.0:PORT` for others to reach it.",
        set: |config, value| {
            let text = value.text();
            config.server_listen = text
                .trim()
                .parse()
                .map_err(|_| format!("expected an address such as `127.0.0.1:8080` or `[::1]:8080`, found `{text}`"))?;
            Ok(())
        },
        get: |config| Value::Text(config.server_listen.to_string()),
    },
    Key {
        name: "server.public_url",
        kind: Kind::Text,
        ty: "an `https://` or `http://` base URL, or `\"\"` for none",
        env: "FERROGRAM_SERVER_PUBLIC_URL",
        flag: Some("--public-url"),
        secret: false,
        doc: "The URL that reaches `server.listen` from outside (through the proxy, if any). When it \
              is set the bots receive their updates by webhook, each at `URL/telegram/BOT_ID` with a \
              fresh secret token, instead of long polling; empty (the default), they poll. Telegram \
              itself calls only HTTPS on ports 443, 80, 88 and 8443; the built-in sandbox calls any. \
              A bot's `web_app` path (`/shop`) opens the page Ferrogram serves under it \
              (`URL/webapp/BOT_ID/shop`); empty, under `http://` and `server.listen`, which only this \
              machine's browser and the sandbox's web chat reach.",
        set: |config, value| {
            config.server_public_url = public_url(&value.text())?;
            Ok(())
        },
        get: |config| Value::Text(config.server_public_url.clone().unwrap_or_default()),
    },
    Key {
        name: "telegram.api_url",
        kind: Kind::Text,
        ty: "an `https://` or `http://` base URL",
        env: "FERROGRAM_TELEGRAM_API_URL",
        flag: Some("--telegram-api-url"),
        secret: false,
        doc: "The Bot API server the bots with a token (`bot.token` in their file) run against: \
              Telegram's, or a local Bot API server, or a `ferrogram sandbox` running on its own \
              (for tests). The bots without a token run in the built-in sandbox.",
        set: |config, value| {
            let text = value.text();
            config.telegram_api_url =
                public_url(&text)?.ok_or_else(|| format!("expected an `https://` or `http://` URL, found `{text}`"))?;
            Ok(())
        },
        get: |config| Value::Text(config.telegram_api_url.clone()),
    },
    Key {
        name: "sandbox.port",
        kind: Kind::Integer,
        ty: "a port, 0–65535 (0 for a free one)",
        env: "FERROGRAM_SANDBOX_PORT",
        flag: Some("--port"),
        secret: false,
        doc: "The sandbox's port on the loopback: Bot API, control API and web chat. The stand-in \
              language model listens on the next one (on a free one when this is 0), the only port \
              the bots may call.",
        set: |config, value| {
            let port = value.integer();
            config.sandbox_port =
                u16::try_from(port).map_err(|_| format!("expected a port (0–65535), found {port}"))?;
            Ok(())
        },
        get: |config| Value::Integer(config.sandbox_port.into()),
    },
    Key {
        name: "sandbox.state",
        kind: Kind::Text,
        ty: "a path",
        env: "FERROGRAM_SANDBOX_STATE",
        flag: Some("--sandbox-state"),
        secret: false,
        doc: "Where the sandbox keeps its users, chats and messages across restarts.",
        set: |config, value| {
            config.sandbox_state = path(value.text())?.into();
            Ok(())
        },
        get: |config| Value::Text(config.sandbox_state.display().to_string()),
    },
    Key {
        name: "sandbox.flood_limits",
        kind: Kind::Bool,
        ty: "`true` or `false`",
        env: "FERROGRAM_SANDBOX_FLOOD_LIMITS",
        flag: None,
        secret: false,
        doc: "Whether the sandbox holds bots to Telegram's flood limits (answering 429 with \
              `retry_after`), as `ferrogram sandbox` does unless `--no-flood-limits`.",
        set: |config, value| {
            config.sandbox_flood_limits = value == Value::Bool(true);
            Ok(())
        },
        get: |config| Value::Bool(config.sandbox_flood_limits),
    },
    Key {
        name: "bots.folder",
        kind: Kind::Text,
        ty: "a path",
        env: "FERROGRAM_BOTS_FOLDER",
        flag: Some("--bots"),
        secret: false,
        doc: "The folder of bot files (`*.yaml`, `*.yml`, `*.json`) imported into the store at start-up and watched: a saved file reloads its bot.",
        set: |config, value| {
            config.bots_folder = path(value.text())?.into();
            Ok(())
        },
        get: |config| Value::Text(config.bots_folder.display().to_string()),
    },
    Key {
        name: "bots.env",
        kind: Kind::List,
        ty: "a list of environment variable names",
        // The name it had before the configuration file, kept.
        env: "FERROGRAM_BOT_ENV",
        flag: Some("--bot-env"),
        secret: false,
        doc: "The environment variables bot files may read with `${NAME}` (their `http` headers, \
              `llm` keys and webhooks); bot files read no other.",
        set: |config, value| {
            config.bots_env =
                value.list().iter().map(|name| ferrogram_engine::BotEnv::parse_name(name)).collect::<Result<_, _>>()?;
            // The key of the secrets at rest is never given to bot files.
            let keys = [crate::secret_key::KEY_ENV, crate::secret_key::NEW_KEY_ENV];
            if let Some(name) = config.bots_env.iter().find(|name| keys.contains(&name.as_str())) {
                return Err(format!("{name} is the key of the secrets kept in the database: bot files never read it"));
            }
            Ok(())
        },
        get: |config| Value::List(config.bots_env.clone()),
    },
    Key {
        name: "bots.idle_after",
        kind: Kind::Text,
        ty: "a duration, or `never`",
        env: "FERROGRAM_BOTS_IDLE_AFTER",
        flag: None,
        secret: false,
        doc: "How long a bot receiving by webhook stays built after its last update: then only its \
              route and file are kept, and its next update builds it again (a few milliseconds). \
              Bots that poll, or run jobs, stay built. `never` keeps every bot built.",
        set: |config, value| {
            let text = value.text();
            config.bots_idle_after = if text == "never" {
                None
            } else {
                let after = duration(&text)?;
                if after.is_zero() {
                    return Err("expected a duration longer than 0, or `never`".into());
                }
                Some(after)
            };
            Ok(())
        },
        get: |config| Value::Text(config.bots_idle_after.map_or_else(|| "never".to_owned(), show_duration)),
    },
    Key {
        name: "http.allow_private",
        kind: Kind::List,
        ty: "a list of `HOST:PORT` entries",
        env: "FERROGRAM_HTTP_ALLOW_PRIVATE",
        flag: Some("--allow-private-http"),
        secret: false,
        doc: "Private, loopback or link-local hosts and ports the bots may reach anyway: their \
              `http`, `feed` and `llm` steps, webhooks and the files they send by URL; and the \
              workspaces' event webhooks (`/api/v1/webhooks`, where an entry also allows plain \
              `http`). One host and one port each (`10.0.0.5:8080`, `localhost:8000`): wildcards \
              and ranges are refused.",
        set: |config, value| {
            config.http_allow_private =
                value.list().iter().map(|entry| ferrogram_egress::parse_allowed(entry)).collect::<Result<_, _>>()?;
            Ok(())
        },
        get: |config| {
            Value::List(config.http_allow_private.iter().map(|(host, port)| host_port(host, *port)).collect())
        },
    },
    Key {
        name: "webhooks.deliver",
        kind: Kind::Bool,
        ty: "`true` or `false`",
        env: "FERROGRAM_WEBHOOKS_DELIVER",
        flag: None,
        secret: false,
        doc: "Whether this `serve` sends the workspaces' outgoing event webhooks (`/api/v1/webhooks`). \
              With `false` the events are still queued in the database, and sent by a `serve` that \
              delivers (another process on the same PostgreSQL, or this one started again with \
              `true`). They go out through the bots' egress rule: `http.allow_private` is the only \
              way to a private or loopback address.",
        set: |config, value| {
            config.webhooks_deliver = value == Value::Bool(true);
            Ok(())
        },
        get: |config| Value::Bool(config.webhooks_deliver),
    },
    Key {
        name: "webhooks.keep",
        kind: Kind::Text,
        ty: "a duration",
        env: "FERROGRAM_WEBHOOKS_KEEP",
        flag: None,
        secret: false,
        doc: "How long an event webhook's delivery stays in its log (`/api/v1/webhooks/ID/deliveries`) \
              once it was delivered or failed: older ones are forgotten with their attempts (checked \
              every hour by the `serve` that delivers). Pending deliveries are kept whatever their age.",
        set: |config, value| {
            config.webhooks_keep = duration(&value.text())?;
            if config.webhooks_keep.is_zero() {
                return Err("expected a duration longer than 0".into());
            }
            Ok(())
        },
        get: |config| Value::Text(show_duration(config.webhooks_keep)),
    },
    Key {
        name: "inbox.keep",
        kind: Kind::Text,
        ty: "a duration",
        env: "FERROGRAM_INBOX_KEEP",
        flag: None,
        secret: false,
        doc: "How long a handled update stays in the inbox, so that Telegram delivering it again is \
              recognised and not handled twice; older ones are pruned (every 30 s).",
        set: |config, value| {
            config.inbox_keep = duration(&value.text())?;
            if config.inbox_keep.is_zero() {
                return Err("expected a duration longer than 0".into());
            }
            Ok(())
        },
        get: |config| Value::Text(show_duration(config.inbox_keep)),
    },
    Key {
        name: "polling.timeout",
        kind: Kind::Text,
        ty: "a duration in whole seconds",
        env: "FERROGRAM_POLLING_TIMEOUT",
        flag: None,
        secret: false,
        doc: "How long each bot's long poll (getUpdates) waits for updates before asking again.",
        set: |config, value| {
            let timeout = duration(&value.text())?;
            if timeout.subsec_nanos() != 0 || timeout.is_zero() {
                return Err(format!("expected whole seconds, at least 1s, found `{}`", show_duration(timeout)));
            }
            config.polling_timeout =
                u32::try_from(timeout.as_secs()).map_err(|_| "expected a shorter duration".to_owned())?;
            Ok(())
        },
        get: |config| Value::Text(show_duration(Duration::from_secs(config.polling_timeout.into()))),
    },
    Key {
        name: "llm.edit_interval",
        kind: Kind::Text,
        ty: "a duration",
        env: "FERROGRAM_LLM_EDIT_INTERVAL",
        flag: None,
        secret: false,
        doc: "The shortest time between two edits of an `llm` answer being streamed into a chat \
              (Telegram slows down bots that edit one message more often).",
        set: |config, value| {
            config.llm_edit_interval = duration(&value.text())?;
            Ok(())
        },
        get: |config| Value::Text(show_duration(config.llm_edit_interval)),
    },
    Key {
        name: "shutdown.grace",
        kind: Kind::Text,
        ty: "a duration",
        env: "FERROGRAM_SHUTDOWN_GRACE",
        flag: None,
        secret: false,
        doc: "How long stopping may take after Ctrl-C or SIGTERM before the process exits without \
              waiting further: the bots stop taking updates at once, the handlers running get three \
              quarters of it to finish and deliver their replies, the rest is for the sandbox to \
              save its state and the database to close. What was not committed is replayed at the \
              next start.",
        set: |config, value| {
            config.shutdown_grace = duration(&value.text())?;
            Ok(())
        },
        get: |config| Value::Text(show_duration(config.shutdown_grace)),
    },
    Key {
        name: "backup.to",
        kind: Kind::Text,
        ty: "a folder path or `s3://BUCKET/PREFIX`, or `\"\"` for none",
        env: "FERROGRAM_BACKUP_TO",
        flag: None,
        secret: false,
        doc: "Where backups go (`serve`'s scheduled ones, `ferrogram backup now`) and where \
              `ferrogram restore` looks: a folder, created if missing, or a bucket of an \
              S3-compatible object store (path-style requests to `backup.s3_endpoint`, signed with \
              `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from the environment). See \
              docs/operations.md.",
        set: |config, value| {
            let text = value.text();
            config.backup_to = match text.trim() {
                "" => None,
                to if to.contains("://") && !to.starts_with("s3://") => {
                    return Err(format!("expected a folder or `s3://BUCKET/PREFIX`, found `{text}`"));
                }
                to => Some(to.to_owned()),
            };
            Ok(())
        },
        get: |config| Value::Text(config.backup_to.clone().unwrap_or_default()),
    },
    Key {
        name: "backup.every",
        kind: Kind::Text,
        ty: "a duration, or `\"\"` for none",
        env: "FERROGRAM_BACKUP_EVERY",
        flag: None,
        secret: false,
        doc: "How often `serve` backs the database up to `backup.to`; empty (the default): never. \
              The first is due a period after the newest backup already there (at once if there \
              is none), so restarts do not postpone backups. A failed backup is logged with its cause and \
              tried again at the next period; serving goes on.",
        set: |config, value| {
            let text = value.text();
            config.backup_every = match text.trim() {
                "" => None,
                every => {
                    let every = duration(every)?;
                    if every < Duration::from_secs(1) {
                        return Err(format!("expected at least 1s, found `{text}`"));
                    }
                    Some(every)
                }
            };
            Ok(())
        },
        get: |config| Value::Text(config.backup_every.map(show_duration).unwrap_or_default()),
    },
    Key {
        name: "backup.keep",
        kind: Kind::Integer,
        ty: "a count, at least 1",
        env: "FERROGRAM_BACKUP_KEEP",
        flag: None,
        secret: false,
        doc: "How many backups `backup.to` keeps: after each backup (scheduled or `backup now`) the oldest beyond \
              this many are deleted. Only files or objects named as Ferrogram names backups \
              (`ferrogram-YYYYMMDDTHHMMSS.mmmZ.sqlite` or `.json`) are counted or deleted.",
        set: |config, value| {
            let keep = value.integer();
            config.backup_keep = u32::try_from(keep)
                .ok()
                .filter(|keep| *keep >= 1)
                .ok_or_else(|| format!("expected a count of at least 1, found {keep}"))?;
            Ok(())
        },
        get: |config| Value::Integer(config.backup_keep.into()),
    },
    Key {
        name: "backup.s3_endpoint",
        kind: Kind::Text,
        ty: "an `https://` or `http://` base URL, or `\"\"` for AWS",
        env: "FERROGRAM_BACKUP_S3_ENDPOINT",
        flag: None,
        secret: false,
        doc: "The S3-compatible object store `s3://` backups go to, e.g. `https://minio.example.com:9000`; \
              empty (the default): AWS's endpoint of `backup.s3_region`.",
        set: |config, value| {
            let text = value.text();
            config.backup_s3_endpoint = public_url(&text)?;
            if config
                .backup_s3_endpoint
                .as_deref()
                .is_some_and(|url| url.split("://").nth(1).is_some_and(|rest| rest.contains('/')))
            {
                return Err(format!("expected `http(s)://HOST[:PORT]` without a path, found `{text}`"));
            }
            Ok(())
        },
        get: |config| Value::Text(config.backup_s3_endpoint.clone().unwrap_or_default()),
    },
    Key {
        name: "backup.s3_region",
        kind: Kind::Text,
        ty: "a region name",
        env: "FERROGRAM_BACKUP_S3_REGION",
        flag: None,
        secret: false,
        doc: "The region S3 requests are signed for (most S3-compatible stores accept `us-east-1`).",
        set: |config, value| {
            let text = value.text();
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '-';
            if text.is_empty() || !text.chars().all(valid) {
                return Err(format!("expected a region such as `us-east-1`, found `{text}`"));
            }
            config.backup_s3_region = text;
            Ok(())
        },
        get: |config| Value::Text(config.backup_s3_region.clone()),
    },
    Key {
        name: "log.format",
        kind: Kind::Text,
        ty: "`text` or `json`",
        env: "FERROGRAM_LOG_FORMAT",
        flag: Some("--log-format"),
        secret: false,
        doc: "Logs on standard error: `text` for people, `json` (one object per line) for log \
              collectors. The level is set with `RUST_LOG`.",
        set: |config, value| {
            config.log_format = match value.text().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => return Err(format!("expected `text` or `json`, found `{other}`")),
            };
            Ok(())
        },
        get: |config| {
            Value::Text(match config.log_format {
                LogFormat::Text => "text".into(),
                LogFormat::Json => "json".into(),
            })
        },
    },
    Key {
        name: "telemetry.otlp_endpoint",
        kind: Kind::Text,
        ty: "an `http://` or `https://` base URL, or `\"\"` for none",
        env: "FERROGRAM_TELEMETRY_OTLP_ENDPOINT",
        flag: None,
        secret: false,
        doc: "An OpenTelemetry collector's OTLP/HTTP endpoint, such as `http://127.0.0.1:4318` \
              (Jaeger, Grafana Tempo and the OpenTelemetry Collector listen there): each update's \
              trace (its handler, `http` and `llm` steps, commit and Bot API calls) is sent to \
              `URL/v1/traces` as OTLP JSON, in batches, and log lines written while an update is \
              handled carry its `trace_id`. Empty (the default): no traces, at no cost. A \
              collector that is down or slow never holds up a bot: the spans are dropped and \
              counted. See [Traces](tracing.md).",
        set: |config, value| {
            config.telemetry_otlp_endpoint = otlp_endpoint(&value.text())?;
            Ok(())
        },
        get: |config| Value::Text(config.telemetry_otlp_endpoint.clone().unwrap_or_default()),
    },
    Key {
        name: "telemetry.service_name",
        kind: Kind::Text,
        ty: "a name",
        env: "FERROGRAM_TELEMETRY_SERVICE_NAME",
        flag: None,
        secret: false,
        doc: "The `service.name` the traces carry, which a collector's UI lists them under: \
              name each process apart when several export to one collector.",
        set: |config, value| {
            let text = value.text();
            let name = text.trim();
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                return Err(format!("expected a name of 1 to 128 characters, found `{text}`"));
            }
            config.telemetry_service_name = name.to_owned();
            Ok(())
        },
        get: |config| Value::Text(config.telemetry_service_name.clone()),
    },
];

/// The key named `section.field`, with its index in [`KEYS`].
pub fn find(name: &str) -> Option<(usize, &'static Key)> {
    KEYS.iter().enumerate().find(|(_, key)| key.name == name)
}

/// The sections, in the order of [`KEYS`].
pub fn sections() -> Vec<&'static str> {
    let mut sections: Vec<&'static str> = Vec::new();
    for key in KEYS {
        if !sections.contains(&key.section()) {
            sections.push(key.section());
        }
    }
    sections
}

/// `host:port`, with an IPv6 host in brackets (as `--allow-private-http` reads it).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn database_url(url: String) -> Result<String, String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(url)
    } else {
        Err(format!(
            "expected `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, found `{}`",
            super::redact(&url)
        ))
    }
}

/// A public base URL: `http(s)://HOST[:PORT][/PATH]`, without a query, a fragment or a
/// trailing `/` (the bots' paths are appended to it); empty for none.
fn public_url(text: &str) -> Result<Option<String>, String> {
    let url = text.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(None);
    }
    let expected =
        || format!("expected an `https://` or `http://` URL such as `https://bots.example.com`, found `{text}`");
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(expected)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || url.contains(['?', '#']) || url.contains(char::is_whitespace) {
        return Err(expected());
    }
    Ok(Some(url.to_owned()))
}

/// An OTLP/HTTP endpoint: a base URL as [`public_url`] reads it; empty for none.
pub fn otlp_endpoint(text: &str) -> Result<Option<String>, String> {
    public_url(text)
        .map_err(|_| format!("expected an `http://` or `https://` URL such as `http://127.0.0.1:4318`, found `{text}`"))
}

fn path(text: String) -> Result<String, String> {
    if text.trim().is_empty() { Err("expected a path, found an empty string".into()) } else { Ok(text) }
}

/// The units of a duration, largest first: `24h`, `10m`, `30s`, `500ms` (and `1d`).
const UNITS: [(&str, u64); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];

/// Reads `30s`, `10m`, `24h`, `500ms`, `1d`: a whole number and one unit.
pub fn duration(text: &str) -> Result<Duration, String> {
    let expected = || format!("expected a duration such as `500ms`, `30s`, `10m` or `24h`, found `{text}`");
    let trimmed = text.trim();
    let digits = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let number: u64 = number.parse().map_err(|_| expected())?;
    let (_, millis) = UNITS.iter().find(|(name, _)| *name == unit.trim()).ok_or_else(expected)?;
    number.checked_mul(*millis).map(Duration::from_millis).ok_or_else(expected)
}

/// A duration as [`duration`] reads it, in the largest unit that divides it (hours at most).
pub fn show_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    for (unit, size) in &UNITS[1..] {
        let size = u128::from(*size);
        if millis.is_multiple_of(size) && (millis > 0 || *unit == "s") {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_show_alike() {
        assert_eq!(duration("24h"), Ok(Duration::from_secs(24 * 3600)));
        assert_eq!(duration("1d"), Ok(Duration::from_secs(24 * 3600)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration(" 30s "), Ok(Duration::from_secs(30)));
        assert!(duration("30").is_err() && duration("s").is_err() && duration("1.5h").is_err());
        assert!(duration("-1s").is_err() && duration("99999999999999999999h").is_err());
        for text in ["24h", "90m", "10s", "1500ms", "0s"] {
            assert_eq!(show_duration(duration(text).expect("a duration")), text);
        }
    }

    #[test]
    fn environment_variables_are_named_after_their_keys() {
        for key in KEYS {
            let derived = format!("FERROGRAM_{}_{}", key.section(), key.field()).to_uppercase();
            // `bots.env` keeps the name it had before the configuration file.
            if key.name != "bots.env" {
                assert_eq!(key.env, derived, "{}", key.name);
            }
        }
        assert_eq!(find("bots.env").map(|(_, key)| key.env), Some("FERROGRAM_BOT_ENV"));
    }

    #[test]
    fn every_key_takes_back_what_it_shows() {
        let config = Config {
            database_tls_mode: Some(ferrogram_store::TlsMode::VerifyFull),
            database_tls_ca: Some("/etc/ferrogram/db-ca.pem".into()),
            server_listen: "[::1]:0".parse().unwrap(),
            server_public_url: Some("https://bots.example.com/ferrogram".into()),
            http_allow_private: vec![("::1".into(), 9000), ("localhost".into(), 80)],
            bots_env: vec!["WEATHER_KEY".into()],
            backup_to: Some("s3://backups/ferrogram".into()),
            backup_every: Some(Duration::from_secs(6 * 3600)),
            backup_keep: 3,
            backup_s3_endpoint: Some("http://127.0.0.1:9000".into()),
            secrets_key_file: Some("/etc/ferrogram/secret.key".into()),
            telemetry_otlp_endpoint: Some("http://127.0.0.1:4318".into()),
            telemetry_service_name: "bots-eu".into(),
            ..Config::default()
        };
        for key in KEYS {
            let mut copy = Config::default();
            key.set(&mut copy, key.get(&config)).expect(key.name);
            assert_eq!(key.get(&copy), key.get(&config), "{}", key.name);
        }
        assert_eq!(Config::default().inbox_keep, ferrogram_engine::INBOX_KEEP);
    }

    #[test]
    fn the_secret_key_is_never_given_to_bot_files() {
        let (_, key) = find("bots.env").expect("bots.env");
        let mut config = Config::default();
        for name in ["FERROGRAM_SECRET_KEY", "FERROGRAM_NEW_SECRET_KEY"] {
            let refused = key.set(&mut config, Value::List(vec!["WEATHER_KEY".into(), name.into()])).unwrap_err();
            assert!(refused.starts_with(name) && refused.contains("never read it"), "{refused}");
        }
        let (_, file) = find("secrets.key_file").expect("secrets.key_file");
        file.set(&mut config, Value::Text(String::new())).unwrap();
        assert_eq!(config.secrets_key_file, None);
    }

    #[test]
    fn a_public_url_is_http_or_https_without_a_trailing_slash() {
        assert_eq!(public_url(""), Ok(None));
        assert_eq!(public_url("https://bots.example.com/"), Ok(Some("https://bots.example.com".into())));
        assert_eq!(public_url("http://127.0.0.1:8080"), Ok(Some("http://127.0.0.1:8080".into())));
        for bad in ["bots.example.com", "ftp://x", "https://", "https://a.b/?q=1", "https://u@a.b", "https://a b"] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
        assert_eq!(otlp_endpoint("http://127.0.0.1:4318/"), Ok(Some("http://127.0.0.1:4318".into())));
        assert_eq!(otlp_endpoint(""), Ok(None));
        assert!(otlp_endpoint("127.0.0.1:4318").is_err_and(|error| error.contains("http://127.0.0.1:4318")));
    }
}
