//! `ferrogram`: one binary for everything.
//!
//! It wires the crates along the path of an update (docs/architecture.md): the store
//! (`ferrogram-store`) under the engine (`ferrogram-engine`), the sandbox or Telegram in front of
//! it, the HTTP listener (`ferrogram-server`: webhooks), and bot files checked by
//! `ferrogram-schema` first. `serve`'s settings come from its configuration (`config/`).

mod backup;
mod backup_command;
mod bot_command;
mod bot_control;
mod cli_audit;
mod config;
mod fleet;
mod secret_key;
mod secrets_command;
mod secrets_values;
mod token_command;
mod traces;
mod user_command;
mod workspace_command;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use config::{DEFAULT_DATABASE, LogFormat, redact};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "ferrogram", version, about = "Telegram bots described as data")]
struct Cli {
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, global = true, default_value = "text", env = "FERROGRAM_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every bot of a folder: those with a token against Telegram, the others in the built-in
    /// sandbox, with its web chat (the default command).
    Serve(ServeArgs),
    /// Start the Telegram Bot API sandbox on its own.
    Sandbox(SandboxArgs),
    /// Run a bot file: against Telegram with its token, or in the built-in sandbox.
    Run(RunArgs),
    /// Check bot files and print every problem as `file:line:column: error: key: message (hint)`.
    /// Fails when a file has an error; warnings alone do not fail.
    Validate(ValidateArgs),
    /// Print the JSON Schema of bot files (for editors), or with `--markdown` their reference.
    Schema(SchemaArgs),
    /// Create or update the database's tables (SQLite or PostgreSQL), then exit.
    Migrate(MigrateArgs),
    /// Print one bot's file versions and all its data as a JSON document (restore with `import`);
    /// its secrets (its stored token, its workspace's secrets) only with `--with-secrets`.
    Export(ExportArgs),
    /// Restore a bot from an `export` document, in one transaction.
    Import(ImportArgs),
    /// Backups to a folder or an S3 bucket (`backup.*` in the configuration): `backup now`
    /// takes one (SQLite: a consistent snapshot while `serve` runs), `backup list` lists them.
    Backup(backup_command::BackupArgs),
    /// Restore a backup (`backup list` names them, `--latest` the newest) into the database.
    Restore(backup_command::RestoreArgs),
    /// List the updates set aside unhandled (dead letters), or retry or discard one.
    DeadLetters(DeadLettersArgs),
    /// Print `serve`'s effective configuration as TOML, each value followed by where it came
    /// from (default, file, environment, flag), or with `--markdown` its reference.
    Config(ConfigArgs),
    /// The bots kept in the store, which `serve` runs: `bot add FILE` saves a bot file (a new
    /// version when it changed), `bot list` prints them.
    Bot(bot_command::BotArgs),
    /// API tokens for the REST API (docs/api.md): `token create --workspace W --role ROLE`
    /// prints a new one, once.
    Token(token_command::TokenArgs),
    /// Workspaces (tenants): `workspace create NAME`, `workspace list`.
    Workspace(workspace_command::WorkspaceArgs),
    /// The dashboard's accounts: `user create EMAIL --workspace W --role R` (the password from
    /// `--password-stdin` or asked without echo), `user list`.
    User(user_command::UserArgs),
    /// Workspace members and their roles: `member add EMAIL --workspace W --role R`, `member
    /// remove EMAIL --workspace W`, `member list --workspace W`.
    Member(user_command::MemberArgs),
    /// The secrets kept encrypted in the database (the bots' stored tokens, the keys bot files
    /// read as `${NAME}`): `secrets set NAME [--bot BOT]` (value on standard input), `secrets
    /// list`, `secrets delete NAME`, `secrets rotate` re-encrypts them all under a new key.
    Secrets(secrets_command::SecretsArgs),
}

#[derive(clap::Args)]
struct ConfigArgs {
    /// Print the reference of the configuration in Markdown (docs/configuration.md).
    #[arg(long)]
    markdown: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

/// `serve`'s flags: each overrides its key of the configuration (`config/keys.rs`), which gives
/// the value of a flag not given; the defaults here are the keys' defaults, for `--help`.
#[derive(clap::Args)]
struct ServeArgs {
    /// The configuration file (TOML): see docs/configuration.md. Environment variables and
    /// flags override it.
    #[arg(long, value_name = "PATH", env = config::CONFIG_ENV)]
    config: Option<PathBuf>,
    /// The sandbox's port: Bot API, control API and web chat. The stand-in language model
    /// listens on the next one (on a free one when this is 0), the only port the bots may call.
    /// Also `sandbox.port` in the configuration file, or FERROGRAM_SANDBOX_PORT.
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// The folder of bot files (`*.yaml`, `*.yml`, `*.json`) imported into the store at start-up and watched: a saved file reloads its bot.
    #[arg(long, default_value = "examples")]
    bots: PathBuf,
    /// Where the bots' conversations and variables are kept.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: DatabaseTls,
    /// Where the sandbox keeps its users, chats and messages across restarts.
    #[arg(long, default_value = "data/sandbox.json")]
    sandbox_state: PathBuf,
    /// The HTTP listener's address: Telegram's webhooks (`POST /telegram/BOT_ID`), and what the
    /// API and dashboard add. Also `server.listen` in the configuration file, or
    /// FERROGRAM_SERVER_LISTEN.
    #[arg(long, value_name = "ADDR", default_value_t = config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The URL that reaches `--listen` from outside: the bots then receive by webhook at
    /// `URL/telegram/BOT_ID` instead of long polling. Also `server.public_url`, or
    /// FERROGRAM_SERVER_PUBLIC_URL.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// The Bot API server the bots with a token (`bot.token`) run against, e.g. a
    /// `ferrogram sandbox` on its own. Also `telegram.api_url`, or FERROGRAM_TELEGRAM_API_URL.
    #[arg(long, value_name = "URL", default_value = ferrogram_telegram::DEFAULT_API_URL)]
    telegram_api_url: String,
    /// The file of the key the secrets kept in the database are encrypted with, created (mode
    /// 0600) at the first start: by default beside a SQLite database (`PATH.key`), else
    /// `data/secret.key`. FERROGRAM_SECRET_KEY, when set, is the key instead. Also
    /// `secrets.key_file`, or FERROGRAM_SECRETS_KEY_FILE.
    #[arg(long, value_name = "PATH")]
    secret_key_file: Option<PathBuf>,
    #[command(flatten)]
    private: PrivateAddresses,
    #[command(flatten)]
    bot_env: BotEnvNames,
}

/// The environment variables bot files may read with `${NAME}`, shared by `serve` and `run`.
/// The rule around the names differs: see [`BotEnvNames::for_serve`] and
/// [`BotEnvNames::for_run`].
#[derive(clap::Args, Clone, Default)]
struct BotEnvNames {
    /// Let bot files read this environment variable with `${NAME}` (repeatable, or a comma
    /// list in FERROGRAM_BOT_ENV): their `http` headers, `llm` keys and webhooks. Under `serve`
    /// bot files read only the variables listed; under `run` any variable except Ferrogram's
    /// own `FERROGRAM_*`, which only when listed.
    #[arg(
        long = "bot-env",
        value_name = "NAME",
        env = "FERROGRAM_BOT_ENV",
        value_delimiter = ',',
        value_parser = ferrogram_engine::BotEnv::parse_name
    )]
    names: Vec<String>,
}

impl BotEnvNames {
    /// `serve` runs bot files of other people: they read only the variables listed.
    fn for_serve(&self) -> ferrogram_engine::BotEnv {
        ferrogram_engine::BotEnv::Only(self.names.iter().cloned().collect())
    }

    /// `run FILE` runs the operator's own file: it reads any variable but `FERROGRAM_*`
    /// (the server's own configuration), which only when listed.
    fn for_run(&self) -> ferrogram_engine::BotEnv {
        ferrogram_engine::BotEnv::AllButFerrogram(self.names.iter().cloned().collect())
    }
}

/// TLS to PostgreSQL, for every command that opens the database (`serve` reads the same
/// settings as `database.tls_mode` and `database.tls_ca` from its configuration, which checks
/// them there). Each one given overrides the URL's `sslmode` / `sslrootcert`: see
/// docs/operations.md#tls-to-postgresql. Empty counts as unset, as in the configuration.
#[derive(clap::Args, Clone, Default)]
pub(crate) struct DatabaseTls {
    /// PostgreSQL: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`, as libpq's
    /// `sslmode` (which it overrides). Unset: the URL's, else `verify-full` when a CA is given,
    /// else `prefer`.
    #[arg(long, value_name = "MODE", env = "FERROGRAM_DATABASE_TLS_MODE")]
    database_tls_mode: Option<String>,
    /// PostgreSQL: the CA certificate (a PEM file) the server's certificate must be signed by,
    /// as libpq's `sslrootcert` (which it overrides).
    #[arg(long, value_name = "FILE", env = "FERROGRAM_DATABASE_TLS_CA")]
    database_tls_ca: Option<String>,
}

impl DatabaseTls {
    /// The settings, or what is wrong with the mode.
    pub(crate) fn tls(&self) -> Result<ferrogram_store::Tls, String> {
        let mode = match self.database_tls_mode.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(mode) => Some(
                mode.parse().map_err(|why| format!("--database-tls-mode (or FERROGRAM_DATABASE_TLS_MODE): {why}"))?,
            ),
        };
        let ca = self.database_tls_ca.as_deref().filter(|ca| !ca.trim().is_empty()).map(PathBuf::from);
        Ok(ferrogram_store::Tls { mode, ca })
    }
}

/// The operator's allow-list of private addresses, shared by the engine's `http`, `feed` and
/// `llm` steps and event webhooks and by the sandbox's downloads of files bots send by URL.
#[derive(clap::Args, Clone, Default)]
struct PrivateAddresses {
    /// Let bots reach this private, loopback or link-local host and port (repeatable): their
    /// `http` steps and the files they send by URL, e.g. `--allow-private-http 10.0.0.5:8080`
    /// or `localhost:8000` for test images served locally. One host and one port each:
    /// wildcards and ranges are refused.
    #[arg(long = "allow-private-http", value_name = "HOST:PORT", value_parser = ferrogram_egress::parse_allowed)]
    allow: Vec<(String, u16)>,
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// Bot files: YAML, or JSON by their `.json` extension.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(clap::Args)]
struct SchemaArgs {
    /// Print the reference of bot files in Markdown (docs/schema.md) instead of the JSON Schema.
    #[arg(long)]
    markdown: bool,
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL")]
    database: String,
    #[command(flatten)]
    database_tls: DatabaseTls,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The bot: its id (the Telegram id, or the sandbox id `serve` derives from its name) or its name.
    bot: String,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL")]
    database: String,
    /// Include the bot's secrets (its stored token) and its workspace's in clear, for `import` to
    /// encrypt them again under its database's key: keep such a document as safe as the key.
    #[arg(long)]
    with_secrets: bool,
    #[command(flatten)]
    key: secret_key::KeyFileArg,
    #[command(flatten)]
    database_tls: DatabaseTls,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The export document (`-` for standard input).
    file: PathBuf,
    /// `sqlite://PATH` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL")]
    database: String,
    #[command(flatten)]
    database_tls: DatabaseTls,
    /// Delete the bot's existing data first instead of refusing.
    #[arg(long)]
    replace: bool,
    /// Put the bot's dashboard record in this workspace (by default one of the exported name).
    #[arg(long, value_name = "ID")]
    workspace: Option<i64>,
    #[command(flatten)]
    key: secret_key::KeyFileArg,
}

#[derive(clap::Args)]
struct DeadLettersArgs {
    /// Only this bot's: its id (the Telegram id, or the sandbox id `serve` derives from its
    /// name) or the name of a bot run in the sandbox.
    #[arg(long)]
    bot: Option<String>,
    /// Put this dead letter back in its bot's inbox: the bot handles it again at its next start.
    #[arg(long, value_name = "ID", conflicts_with = "discard")]
    retry: Option<i64>,
    /// Forget this dead letter.
    #[arg(long, value_name = "ID")]
    discard: Option<i64>,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: DatabaseTls,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The bot file (YAML, or JSON by its `.json` extension).
    file: PathBuf,
    /// Run against an in-process sandbox instead of Telegram; no token needed.
    #[arg(long, conflicts_with = "api_url")]
    sandbox: bool,
    /// The Bot API server to run against instead of Telegram's, e.g. a `ferrogram sandbox`
    /// running on its own: `--api-url http://127.0.0.1:8081`.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// The bot's token, instead of the file's `bot.token` (not used with `--sandbox`).
    #[arg(long, env = "FERROGRAM_BOT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The sandbox's port (with `--sandbox`); the stand-in language model listens on the next.
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// Where the bot's conversations and variables are kept.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: DatabaseTls,
    #[command(flatten)]
    private: PrivateAddresses,
    #[command(flatten)]
    bot_env: BotEnvNames,
    /// Receive updates by webhook instead of long polling: the public HTTPS base URL that
    /// reaches `--listen` (the bot's webhook is `URL/telegram/BOT_ID`).
    #[arg(long, value_name = "URL", conflicts_with = "sandbox", requires = "listen")]
    webhook_url: Option<String>,
    /// The address the webhook listener binds, e.g. `0.0.0.0:8443` (behind a TLS proxy).
    #[arg(long, value_name = "ADDR", requires = "webhook_url")]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    traces: TraceArgs,
}

/// `run`'s traces, as `serve`'s `telemetry.*` keys (docs/tracing.md).
#[derive(clap::Args)]
struct TraceArgs {
    /// An OpenTelemetry collector's OTLP/HTTP endpoint (e.g. `http://127.0.0.1:4318`): each
    /// update's trace is exported to it.
    #[arg(long, value_name = "URL", env = "FERROGRAM_TELEMETRY_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// The `service.name` of the traces.
    #[arg(long, value_name = "NAME", env = "FERROGRAM_TELEMETRY_SERVICE_NAME", default_value = config::DEFAULT_SERVICE_NAME)]
    service_name: String,
}

impl TraceArgs {
    /// Where the traces go, checked as `serve` checks `telemetry.otlp_endpoint`.
    fn target(&self) -> Result<Option<traces::Target>, String> {
        let endpoint = match &self.otlp_endpoint {
            Some(text) => config::keys::otlp_endpoint(text).map_err(|error| format!("--otlp-endpoint: {error}"))?,
            None => None,
        };
        Ok(endpoint
            .map(|endpoint| traces::Target { url: traces::traces_url(&endpoint), service: self.service_name.clone() }))
    }
}

#[derive(clap::Args)]
struct SandboxArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 8081, env = "FERROGRAM_SANDBOX_PORT")]
    port: u16,
    /// Address to bind; keep the loopback unless others must reach it.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Keep the sandbox's state in this file across restarts.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Only accept tokens of bots created through the control API.
    #[arg(long)]
    strict: bool,
    /// Turn Telegram's flood limits off.
    #[arg(long)]
    no_flood_limits: bool,
    #[command(flatten)]
    private: PrivateAddresses,
}

/// Installs the logs, and with an OTLP `traces` target the trace exporter (returned, to be
/// flushed at the end).
fn init_logs(format: LogFormat, traces: Option<traces::Target>) -> Option<traces::Exporter> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if traces.is_some() {
        // The engine's spans whatever the log level: exported, and their `trace_id` in the logs.
        if let Ok(directive) = format!("{}=info", ferrogram_engine::traces::TARGET).parse() {
            filter = filter.add_directive(directive);
        }
    }
    // Standard error: standard output carries what a command prints (an export, a JSON Schema).
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
    };
    let (otlp, exporter) = match traces {
        Some(target) => {
            let (layer, spans, dropped) = traces::layer();
            (Some(layer), Some((target, spans, dropped)))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(logs).with(otlp).with(filter).init();
    exporter.map(|(target, spans, dropped)| traces::start(target, spans, dropped))
}

/// How long the spans still queued at the end may take to export.
const TRACES_FLUSH: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    // Commands whose output is the point: no log lines mixed into it.
    match &cli.command {
        Some(Command::Validate(args)) => return validate(&args.files),
        Some(Command::Schema(args)) => return print_schema(args.markdown),
        Some(Command::Config(args)) => return print_config(args, &matches),
        _ => {}
    }
    // `serve`'s configuration, all of it checked before anything starts.
    let settings = match &cli.command {
        Some(Command::Serve(args)) => Some(serve_config(args, &matches)),
        None => {
            // `serve` with its defaults, its environment variables (FERROGRAM_CONFIG,
            // FERROGRAM_BOT_ENV, …) read as for `ferrogram serve`.
            match Cli::try_parse_from(["ferrogram", "serve"]).map(|defaults| defaults.command) {
                Ok(Some(Command::Serve(defaults))) => Some(serve_config(&defaults, &matches)),
                Ok(_) => return exit_code(Err("the default command is serve".into())),
                Err(error) => return exit_code(Err(error.to_string())),
            }
        }
        _ => None,
    };
    let settings = match settings.transpose() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let grace = settings.as_ref().map_or(config::SHUTDOWN_GRACE, |settings| settings.shutdown_grace);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return exit_code(Err(format!("starting the runtime: {error}"))),
    };
    let result = runtime.block_on(run(cli, settings));
    // Dropping the runtime would wait for every task to reach a yield; a task that never does
    // must not keep the process alive after a stop signal.
    runtime.shutdown_timeout(grace);
    exit_code(result)
}

/// `settings` is `serve`'s configuration, for `serve` and the default command.
async fn run(cli: Cli, settings: Option<config::Config>) -> Result<(), String> {
    // Commands whose output is the point: no log lines mixed into it.
    match &cli.command {
        Some(Command::Export(args)) => return export(args).await,
        Some(Command::DeadLetters(args)) => return dead_letters(args).await,
        Some(Command::Bot(args)) => return bot_command::run(args).await,
        Some(Command::Token(args)) => return token_command::run(args).await,
        Some(Command::Workspace(args)) => return workspace_command::run(args).await,
        Some(Command::User(args)) => return user_command::run_user(args).await,
        Some(Command::Member(args)) => return user_command::run_member(args).await,
        Some(Command::Secrets(args)) => return secrets_command::run(args).await,
        Some(Command::Backup(args)) => return backup_command::backup(args).await,
        Some(Command::Restore(args)) => return backup_command::restore(args).await,
        _ => {}
    }
    let format = settings.as_ref().map_or(cli.log_format, |settings| settings.log_format);
    let target = match (&cli.command, &settings) {
        (Some(Command::Run(args)), _) => args.traces.target()?,
        (Some(Command::Serve(_)) | None, Some(settings)) => settings.telemetry_otlp_endpoint.as_ref().map(|endpoint| {
            traces::Target { url: traces::traces_url(endpoint), service: settings.telemetry_service_name.clone() }
        }),
        _ => None,
    };
    let exporter = init_logs(format, target);
    let result = run_command(cli, settings).await;
    if let Some(exporter) = exporter {
        exporter.shutdown(TRACES_FLUSH).await;
    }
    result
}

/// Runs the commands that log.
async fn run_command(cli: Cli, settings: Option<config::Config>) -> Result<(), String> {
    match (cli.command, settings) {
        (Some(Command::Sandbox(args)), _) => run_sandbox(args).await,
        (Some(Command::Run(args)), _) => run_bot(args).await,
        (
            Some(
                Command::Validate(_)
                | Command::Schema(_)
                | Command::Export(_)
                | Command::DeadLetters(_)
                | Command::Config(_)
                | Command::Bot(_)
                | Command::Token(_)
                | Command::Workspace(_)
                | Command::User(_)
                | Command::Member(_)
                | Command::Secrets(_)
                | Command::Backup(_)
                | Command::Restore(_),
            ),
            _,
        ) => Ok(()),
        (Some(Command::Migrate(args)), _) => migrate(&args.database, &args.database_tls).await,
        (Some(Command::Import(args)), _) => import(args).await,
        (Some(Command::Serve(_)) | None, Some(settings)) => serve(settings).await,
        (Some(Command::Serve(_)) | None, None) => Err("serve without its configuration".into()),
    }
}

/// `serve`'s configuration: the defaults, the file of `--config` or FERROGRAM_CONFIG, the
/// environment, then the flags given on the command line. Its problems are printed, and the
/// exit code to end with returned.
fn serve_config(args: &ServeArgs, matches: &ArgMatches) -> Result<config::Config, ExitCode> {
    load_config(args, matches).map(|loaded| loaded.config)
}

fn load_config(args: &ServeArgs, matches: &ArgMatches) -> Result<config::Loaded, ExitCode> {
    let flags = serve_flags(args, matches);
    config::load(args.config.as_deref(), |name| std::env::var(name).ok(), &flags).map_err(|problems| {
        problems.iter().for_each(|problem| eprintln!("{problem}"));
        let count = problems.len();
        eprintln!("ferrogram: {count} configuration error{}; nothing started", if count == 1 { "" } else { "s" });
        ExitCode::FAILURE
    })
}

/// The flags of `serve` (or `config`) given on the command line, as configuration values:
/// those clap filled from a default or an environment variable are left to the configuration,
/// which reads the same variables.
fn serve_flags(args: &ServeArgs, matches: &ArgMatches) -> config::Flags {
    use config::keys::{Value, host_port};
    let sub = matches.subcommand().map(|(_, sub)| sub);
    let given = |id: &str| {
        [Some(matches), sub].into_iter().flatten().any(|m| {
            m.try_get_raw(id).is_ok_and(|raw| raw.is_some()) && m.value_source(id) == Some(ValueSource::CommandLine)
        })
    };
    let path = |path: &PathBuf| Value::Text(path.display().to_string());
    let mut flags = config::Flags::default();
    if given("port") {
        flags.set("sandbox.port", Value::Integer(args.port.into()));
    }
    if given("bots") {
        flags.set("bots.folder", path(&args.bots));
    }
    if given("database") {
        flags.set("database.url", Value::Text(args.database.clone()));
    }
    if let Some(mode) = args.database_tls.database_tls_mode.as_ref().filter(|_| given("database_tls_mode")) {
        flags.set("database.tls_mode", Value::Text(mode.clone()));
    }
    if let Some(ca) = args.database_tls.database_tls_ca.as_ref().filter(|_| given("database_tls_ca")) {
        flags.set("database.tls_ca", Value::Text(ca.clone()));
    }
    if given("sandbox_state") {
        flags.set("sandbox.state", path(&args.sandbox_state));
    }
    if given("listen") {
        flags.set("server.listen", Value::Text(args.listen.to_string()));
    }
    if let Some(url) = args.public_url.as_ref().filter(|_| given("public_url")) {
        flags.set("server.public_url", Value::Text(url.clone()));
    }
    if given("telegram_api_url") {
        flags.set("telegram.api_url", Value::Text(args.telegram_api_url.clone()));
    }
    if let Some(file) = args.secret_key_file.as_ref().filter(|_| given("secret_key_file")) {
        flags.set("secrets.key_file", path(file));
    }
    if given("allow") {
        let entries = args.private.allow.iter().map(|(host, port)| host_port(host, *port)).collect();
        flags.set("http.allow_private", Value::List(entries));
    }
    if given("names") {
        flags.set("bots.env", Value::List(args.bot_env.names.clone()));
    }
    if given("log_format") {
        let format = matches.get_one::<LogFormat>("log_format").copied().unwrap_or(LogFormat::Text);
        flags.set("log.format", Value::Text(if format == LogFormat::Json { "json" } else { "text" }.into()));
    }
    flags
}

/// `ferrogram config [--config PATH] [serve's flags] [--markdown]`.
fn print_config(args: &ConfigArgs, matches: &ArgMatches) -> ExitCode {
    if args.markdown {
        print!("{}", config::docs::markdown());
        return ExitCode::SUCCESS;
    }
    match load_config(&args.serve, matches) {
        Ok(loaded) => {
            print!("{}", config::print::effective(&loaded, args.serve.config.as_deref()));
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ferrogram: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `ferrogram validate FILE...`: every diagnostic of every file; fails on any error.
fn validate(files: &[PathBuf]) -> ExitCode {
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in files {
        let checked = ferrogram_schema::check(file);
        if checked.diagnostics.is_empty() {
            println!("{}: ok", file.display());
        }
        for diagnostic in &checked.diagnostics {
            println!("{diagnostic}");
            if diagnostic.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
    }
    if errors + warnings > 0 {
        let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        eprintln!("{}, {}", count(errors, "error"), count(warnings, "warning"));
    }
    if errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// `ferrogram schema [--markdown]`.
fn print_schema(markdown: bool) -> ExitCode {
    if markdown {
        print!("{}", ferrogram_schema::reference_markdown());
        return ExitCode::SUCCESS;
    }
    match serde_json::to_string_pretty(&ferrogram_schema::json_schema()) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ferrogram: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `ferrogram migrate --database URL`: applies pending migrations and says which.
async fn migrate(url: &str, tls: &DatabaseTls) -> Result<(), String> {
    let store = connect_store(url, tls).await?;
    let applied = store.migrate().await.map_err(|e| e.to_string())?;
    store.close().await;
    if applied.is_empty() {
        println!("database schema is up to date");
    } else {
        let versions: Vec<String> = applied.iter().map(ToString::to_string).collect();
        println!("applied migrations: {}", versions.join(", "));
    }
    Ok(())
}

/// `ferrogram export BOT --database URL [--with-secrets]`: the bot's export document on standard
/// output, its secrets in it only when asked for.
async fn export(args: &ExportArgs) -> Result<(), String> {
    let store = connect_store(&args.database, &args.database_tls).await?;
    let document = if args.with_secrets {
        let key_file = secret_key::key_file(args.key.path.as_deref(), &args.database);
        match secret_key::attach(store.clone(), &key_file, false).await {
            Ok(keyed) => keyed.export_bot_with_secrets(&args.bot).await.map_err(|e| e.to_string()),
            Err(why) => Err(format!("--with-secrets: {why}")),
        }
    } else {
        store.export_bot(&args.bot).await.map_err(|e| e.to_string())
    };
    store.close().await;
    let text = serde_json::to_string_pretty(&document?).map_err(|e| e.to_string())?;
    println!("{text}");
    if args.with_secrets {
        eprintln!("ferrogram: the export holds the bot's secrets in clear: keep it as safe as the secret key");
    }
    Ok(())
}

/// `ferrogram import FILE --database URL [--replace]`: restores an export in one transaction.
async fn import(args: ImportArgs) -> Result<(), String> {
    let text = read_import(&args.file)?;
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", args.file.display()))?;
    let store = open_store(&args.database, &args.database_tls.tls()?).await?;
    // The key seals the export's secrets (made at first use when it brings some) and opens a
    // replaced record's to keep them; an import that needs neither does without it.
    let brings_secrets = document.get("secrets").and_then(serde_json::Value::as_array).is_some_and(|s| !s.is_empty());
    let key_file = secret_key::key_file(args.key.path.as_deref(), &args.database);
    let (keyed, why) = match secret_key::attach(store.clone(), &key_file, brings_secrets).await {
        Ok(keyed) => (keyed, None),
        Err(why) => (store.clone(), Some(why)),
    };
    let options = ferrogram_store::ImportOptions { replace: args.replace, workspace: args.workspace };
    let summary = keyed.import_bot(&document, options).await.map_err(|error| match (error, why) {
        (ferrogram_store::Error::NoSecretKey, Some(why)) => format!("the import needs the secret key: {why}"),
        (error, _) => error.to_string(),
    });
    store.close().await;
    let summary = summary?;
    let rows: usize = summary.rows.iter().map(|(_, n)| n).sum();
    let verb = if summary.replaced { "replaced" } else { "imported" };
    let secrets = match summary.secrets {
        0 => String::new(),
        1 => ", 1 secret".to_owned(),
        n => format!(", {n} secrets"),
    };
    let shared = match summary.workspace_secrets {
        0 => String::new(),
        1 => ", 1 workspace secret".to_owned(),
        n => format!(", {n} workspace secrets"),
    };
    println!("{verb} bot {}: {rows} rows, {} versions{secrets}{shared}", summary.bot, summary.versions);
    Ok(())
}

/// Largest export document `import` reads, in bytes (1 GiB); reading stops one byte past it.
const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// The export document at `path` (`-`: standard input), refused past [`MAX_IMPORT_BYTES`].
fn read_import(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let (name, reader): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
        ("standard input".into(), Box::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        (path.display().to_string(), Box::new(file))
    };
    let mut text = String::new();
    reader.take(MAX_IMPORT_BYTES + 1).read_to_string(&mut text).map_err(|e| format!("{name}: {e}"))?;
    if text.len() as u64 > MAX_IMPORT_BYTES {
        return Err(format!("{name}: larger than {} GiB (the import size cap)", MAX_IMPORT_BYTES >> 30));
    }
    Ok(text)
}

/// How many dead letters `ferrogram dead-letters` lists at most.
const DEAD_LETTERS_LISTED: u32 = 1000;

/// `ferrogram dead-letters [--bot BOT] [--retry ID | --discard ID]`: one line per dead letter
/// (`ID bot=… chat=… update=… attempts=… failed_at=… reason`, then the update's JSON indented),
/// or what was retried or discarded.
async fn dead_letters(args: &DeadLettersArgs) -> Result<(), String> {
    let store = connect_store(&args.database, &args.database_tls).await?;
    let outcome = dead_letters_on(&store, args).await;
    store.close().await;
    outcome
}

async fn dead_letters_on(store: &ferrogram_store::Store, args: &DeadLettersArgs) -> Result<(), String> {
    if let Some(id) = args.retry {
        let letter = store.dead_letter_retry(id).await.map_err(|e| e.to_string())?;
        println!(
            "dead letter {id} (update {} of bot {}) is back in the inbox: the bot handles it at its next start",
            letter.letter.update_id, letter.bot
        );
        return Ok(());
    }
    if let Some(id) = args.discard {
        if !store.dead_letter_discard(id).await.map_err(|e| e.to_string())? {
            return Err(format!("no dead letter {id}"));
        }
        println!("dead letter {id} discarded");
        return Ok(());
    }
    // A name is a sandbox bot's (its id derives from the name).
    let bot = args.bot.as_deref().map(|bot| bot.parse::<u64>().unwrap_or_else(|_| ferrogram_core::sandbox_bot_id(bot)));
    let letters = store.dead_letters(bot, DEAD_LETTERS_LISTED).await.map_err(|e| e.to_string())?;
    if letters.is_empty() {
        println!("no dead letters");
    }
    for stored in letters {
        let letter = &stored.letter;
        let chat = letter.chat_id.map_or_else(|| "-".to_owned(), |chat| chat.to_string());
        println!(
            "{} bot={} chat={chat} update={} attempts={} failed_at={} {}",
            stored.id, stored.bot, letter.update_id, letter.attempts, stored.failed_at, letter.reason
        );
        println!("    {}", letter.raw);
    }
    Ok(())
}

async fn run_sandbox(args: SandboxArgs) -> Result<(), String> {
    let mut shutdown = Shutdown::listen()?;
    let mut config = ferrogram_sandbox::Config {
        addr: SocketAddr::new(args.host, args.port),
        strict: args.strict,
        state_file: args.state,
        allow_private: args.private.allow,
        ..Default::default()
    };
    config.limits.enabled = !args.no_flood_limits;
    let sandbox = ferrogram_sandbox::Sandbox::start(config).await.map_err(|e| e.to_string())?;
    println!("Ferrogram sandbox: Bot API at {url}/bot<token>/<method>, web chat at {url}/", url = sandbox.url());
    shutdown.wait().await?;
    println!("stopping");
    within_grace(config::SHUTDOWN_GRACE, sandbox.stop()).await
}

/// `ferrogram run`: loads the bot file and runs it until Ctrl-C or SIGTERM, against Telegram
/// (or the Bot API server of `--api-url`) or an in-process sandbox.
async fn run_bot(args: RunArgs) -> Result<(), String> {
    let mut shutdown = Shutdown::listen()?;
    let file = ferrogram_schema::load(&args.file)
        .map_err(|diagnostics| diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    let bot_env = args.bot_env.for_run();
    let mut http = ferrogram_engine::HttpConfig {
        allow_private: args.private.allow.clone(),
        bot_env: bot_env.clone(),
        ..Default::default()
    };
    // In the sandbox, the stand-in model answers as under `serve` (never against Telegram).
    let llm_server = if args.sandbox { Some(start_stand_in_llm(args.port, &mut http).await?) } else { None };
    let store = Arc::new(open_store(&args.database, &args.database_tls.tls()?).await?);
    // Closed last on shutdown, once the handlers and deliveries wrote what they had.
    let database = Arc::clone(&store);
    let engine = Arc::new(ferrogram_engine::Engine::new(ferrogram_engine::EngineConfig {
        store: store.clone(),
        collections: store,
        http,
        ..Default::default()
    }));
    let (handle, sandbox) = if args.sandbox {
        let sandbox = start_local_sandbox(args.port, None, &args.private.allow, true).await?;
        let bot_id = ferrogram_core::sandbox_bot_id(&file.bot.name);
        let handle = add_sandbox_bot(&engine, &sandbox, file, bot_id).await?;
        (handle, Some(sandbox))
    } else {
        let token = match args.token {
            Some(token) => token,
            None => {
                let token =
                    file.bot.token.as_deref().ok_or("bot.token or --token is needed to run against Telegram")?;
                bot_env.expand(token, token).map_err(|e| format!("bot.token: {e}"))?
            }
        };
        let api_url = args.api_url.as_deref().unwrap_or(ferrogram_telegram::DEFAULT_API_URL);
        let receive = match (&args.webhook_url, args.listen) {
            (Some(base), Some(addr)) => {
                let listening = ferrogram_server::listen(addr, Arc::clone(&engine)).await?;
                let bot_id: u64 = token
                    .split_once(':')
                    .and_then(|(id, _)| id.parse().ok())
                    .ok_or("the bot token is not of the form BOT_ID:SECRET")?;
                let url = format!("{}{}", base.trim_end_matches('/'), ferrogram_server::webhook::path(bot_id));
                println!("Receiving updates at {url} (listening on {})", listening.addr());
                ferrogram_engine::Receive::Webhook { url, secret: ferrogram_server::webhook::new_secret()? }
            }
            _ => ferrogram_engine::Receive::Polling,
        };
        let handle = engine.add_bot_with(file, &token, api_url, receive).await.map_err(|e| e.to_string())?;
        match &args.api_url {
            Some(url) => println!("Running bot {} against {url}", handle.bot_id()),
            None => println!("Running bot {} against Telegram", handle.bot_id()),
        }
        (handle, None)
    };
    shutdown.wait().await?;
    println!("stopping");
    // As under `serve`: intake stops at once, the handlers running get three quarters of the
    // grace to finish, commit and deliver (to the sandbox too, stopped after them), then the
    // database is closed.
    let grace = config::SHUTDOWN_GRACE;
    let handlers_until = tokio::time::Instant::now() + grace - grace / 4;
    within_grace(grace, async {
        engine.stop(handle).await.map_err(|e| e.to_string())?;
        drain_until(&engine, handlers_until, grace - grace / 4).await;
        if let Some(sandbox) = sandbox {
            sandbox.stop().await?;
        }
        if let Some(server) = llm_server {
            server.abort();
        }
        database.close().await;
        Ok(())
    })
    .await
}

/// The sandbox of `run --sandbox` and `serve`, on the loopback; the files bots send by URL are
/// fetched under the same allow-list as their `http` steps.
async fn start_local_sandbox(
    port: u16,
    state_file: Option<PathBuf>,
    allow_private: &[(String, u16)],
    flood_limits: bool,
) -> Result<ferrogram_sandbox::Sandbox, String> {
    if let Some(folder) = state_file.as_deref().and_then(std::path::Path::parent) {
        create_folder(folder)?;
    }
    let mut config = ferrogram_sandbox::Config {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        state_file,
        allow_private: allow_private.to_vec(),
        ..Default::default()
    };
    config.limits.enabled = flood_limits;
    ferrogram_sandbox::Sandbox::start(config).await.map_err(|e| e.to_string())
}

/// Opens (and migrates) a database, PostgreSQL with `tls` besides the URL's own settings; for
/// a SQLite file, its folder is created first. The error names the URL without its password.
pub(crate) async fn open_store(url: &str, tls: &ferrogram_store::Tls) -> Result<ferrogram_store::Store, String> {
    if let Some(path) = url.strip_prefix("sqlite://").filter(|p| !p.starts_with(':')) {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(folder) = std::path::Path::new(path).parent() {
            create_folder(folder)?;
        }
    }
    let options = ferrogram_store::Options { tls: tls.clone(), ..Default::default() };
    ferrogram_store::Store::open_with(url, &options).await.map_err(|e| format!("database {}: {e}", redact(url)))
}

/// Opens a database without touching its schema (`migrate`, `export`, `dead-letters`).
async fn connect_store(url: &str, tls: &DatabaseTls) -> Result<ferrogram_store::Store, String> {
    let options = ferrogram_store::Options { migrate: false, tls: tls.tls()?, ..Default::default() };
    ferrogram_store::Store::open_with(url, &options).await.map_err(|e| format!("database {}: {e}", redact(url)))
}

fn create_folder(folder: &std::path::Path) -> Result<(), String> {
    if folder.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display()))
}

/// Registers a bot in the sandbox under the file's name and starts it in the engine, long
/// polling; prints where to chat with it (`run --sandbox`; `serve`'s bots start under its
/// supervisor, `fleet/supervisor.rs`).
async fn add_sandbox_bot(
    engine: &ferrogram_engine::Engine,
    sandbox: &ferrogram_sandbox::Sandbox,
    file: ferrogram_schema::BotFile,
    bot_id: u64,
) -> Result<ferrogram_engine::BotHandle, String> {
    // Any well-formed token works in the sandbox; the bot's id is its number.
    let token = format!("{bot_id}:sandbox");
    let name = file.bot.name.clone();
    let username: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    sandbox
        .world()
        .with(|s| s.create_bot(&token, Some(format!("{username}_bot")), Some(name.clone())).map(|_| ()))
        .map_err(|e| e.to_string())?;
    let handle = engine.add_bot(file, &token, &sandbox.url()).await.map_err(|e| e.to_string())?;
    println!("{name}: {}/?bot={}", sandbox.url(), handle.bot_id());
    Ok(handle)
}

/// `ferrogram serve`: the sandbox, every bot of the store running against it (the folder's
/// files imported first, then watched: `fleet/`), and the web chat. A file with errors is
/// reported and not imported; the other bots run.
async fn serve(settings: config::Config) -> Result<(), String> {
    let mut shutdown = Shutdown::listen()?;
    // Scheduled backups' target checked (and S3's credentials found) before anything starts.
    let backups = match (settings.backup_every, &settings.backup_to) {
        (None, _) => None,
        (Some(_), None) => return Err("backup.every is set but backup.to is not: say where backups go".into()),
        (Some(every), Some(_)) => Some((every, backup_command::target(&settings)?)),
    };
    // The one metrics recorder of the process, before anything records (`/metrics`).
    let metrics = ferrogram_server::metrics::install()?;
    // The secrets' key (decision 0034), created at the first start; a wrong one stops the start.
    let key_file = secret_key::key_file(settings.secrets_key_file.as_deref(), &settings.database_url);
    let store = Arc::new(
        secret_key::attach(open_store(&settings.database_url, &settings.database_tls()).await?, &key_file, true)
            .await?,
    );
    // Closed last on shutdown, once the handlers and deliveries wrote what they had.
    let database = Arc::clone(&store);
    let mut fleet = fleet::Fleet::import_folder(Arc::clone(&store), &settings.bots_folder).await?;
    let mut config =
        ferrogram_engine::EngineConfig { store: store.clone(), collections: store.clone(), ..Default::default() };
    config.inbox_keep = settings.inbox_keep;
    config.poll_timeout = settings.polling_timeout;
    config.llm_edit_interval = settings.llm_edit_interval;
    config.idle_after = settings.bots_idle_after;
    let sandbox = start_local_sandbox(
        settings.sandbox_port,
        Some(settings.sandbox_state.clone()),
        &settings.http_allow_private,
        settings.sandbox_flood_limits,
    )
    .await?;
    println!("Ferrogram sandbox: Bot API at {url}/bot<token>/<method>, web chat at {url}/", url = sandbox.url());
    config.http.allow_private = settings.http_allow_private.clone();
    let llm_server = start_stand_in_llm(settings.sandbox_port, &mut config.http).await?;
    config.http.bot_env = BotEnvNames { names: settings.bots_env.clone() }.for_serve();
    // Web App paths resolve under the public URL, or, without one, under the listener itself
    // (the sandbox's web chat and this machine's browser reach it), so the examples' `/shop`
    // works in the default `serve`.
    config.public_url =
        settings.server_public_url.clone().or_else(|| Some(format!("http://{}", settings.server_listen)));
    // The dashboard's try-it chat runs drafts on an engine of their own, its store in memory
    // (decision 0056): the published bots' data is never theirs. Same egress rule.
    let drafts_engine = Arc::new(ferrogram_engine::Engine::new(ferrogram_engine::EngineConfig {
        http: config.http.clone(),
        llm_edit_interval: config.llm_edit_interval,
        poll_timeout: config.poll_timeout,
        public_url: config.public_url.clone(),
        ..Default::default()
    }));
    let engine = Arc::new(ferrogram_engine::Engine::new(config));
    // The one HTTP listener (Telegram's webhooks, the API, /metrics; the dashboard joins it),
    // bound whether or not a bot receives by webhook: an address in use stops the start.
    // The bots run under a supervisor, which the listener's control API (`/api/v1/bots`,
    // authenticated with the store's API tokens) acts on.
    let supervisor = fleet::supervisor::Supervisor::new(
        Arc::clone(&store),
        Arc::clone(&engine),
        sandbox.url(),
        settings.telegram_api_url.clone(),
        settings.server_public_url.clone(),
        BotEnvNames { names: settings.bots_env.clone() }.for_serve(),
        drafts_engine,
    )?;
    // Outgoing event webhooks (decision 0050) go out through the bots' egress rule: the same
    // allow-list of private addresses, nothing else.
    let hooks = ferrogram_server::event_webhooks::EventWebhooks::new(
        &settings.http_allow_private,
        ferrogram_server::event_webhooks::Settings {
            deliver: settings.webhooks_deliver,
            keep: settings.webhooks_keep,
            ..ferrogram_server::event_webhooks::Settings::default()
        },
    )?;
    let api = ferrogram_server::Api { store: Arc::clone(&store), bots: supervisor.clone(), hooks };
    // The dashboard (decisions 0042, 0049): its cookies are `Secure` behind https; its pages act
    // on the bots through the API's functions.
    let secure_cookies = settings.server_public_url.as_deref().is_some_and(|url| url.starts_with("https://"));
    let dashboard =
        ferrogram_server::dashboard::Dashboard::new(Arc::clone(&store), secure_cookies).with_api(api.clone());
    // Every bot's last known status (decision 0040) before the API answers; started after.
    fleet.supervise(supervisor);
    fleet.restore_all().await?;
    // Broadcasts (decision 0048) are sent by one runner in this process, through the bots'
    // flood schedulers as bulk.
    let broadcasts = ferrogram_server::broadcasts::Runner::start(
        api.clone(),
        Arc::clone(&engine),
        ferrogram_server::broadcasts::RunnerConfig::default(),
    );
    let routes = ferrogram_server::Routes { api: Some(api), metrics: Some(metrics), dashboard: Some(dashboard) };
    let listening = ferrogram_server::listen_routes(settings.server_listen, Arc::clone(&engine), routes).await?;
    println!("Listening on http://{}", listening.addr());
    let site = match settings.server_public_url.as_deref() {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", listening.addr()),
    };
    // No account yet (the first start): a one-time link that creates the owner, on standard
    // output only (never in the logs).
    match ferrogram_server::dashboard::first_start_link(&store).await {
        Ok(Some(secret)) => println!(
            "No account yet: create the owner's account at {site}/setup/{secret} (works once, for 24 hours; \
             or run `ferrogram user create`)"
        ),
        Ok(None) => println!("Dashboard: {site}/"),
        Err(error) => return Err(format!("the dashboard's setup link: {error}")),
    }
    fleet.run_all().await?;
    let backups = backups.map(|(every, target)| {
        println!("Backing up every {} to {}", config::keys::show_duration(every), target.describe());
        backup::schedule::spawn(backup::schedule::Schedule {
            store: Arc::clone(&store),
            url: settings.database_url.clone(),
            target,
            every,
            keep: settings.backup_keep as usize,
        })
    });
    tokio::select! {
        stopped = shutdown.wait() => stopped?,
        () = fleet.watch() => {}
    }
    println!("stopping");
    // Intake stops at once; the handlers running get three quarters of the grace to finish,
    // commit and deliver; the rest is for the sandbox to save its state and the database to
    // close. A handler still running then is cut at its next yield (its update, uncommitted,
    // is handled again at the next start) and the process still exits 0.
    let grace = settings.shutdown_grace;
    let handlers_until = tokio::time::Instant::now() + grace - grace / 4;
    // A backup under way is abandoned rather than holding up the stop: it leaves at most a
    // hidden `.NAME.partial` file, which is never listed, restored or counted.
    if let Some(backups) = backups {
        backups.abort();
    }
    within_grace(grace, async {
        // The batch being sent is recorded first; the rest goes at the next start.
        broadcasts.stop().await;
        fleet.stop().await;
        drain_until(&engine, handlers_until, grace - grace / 4).await;
        listening.stop();
        llm_server.abort();
        sandbox.stop().await?;
        database.close().await;
        Ok(())
    })
    .await
}

/// Starts the stand-in model (what ai-assistant asks) of `serve` and `run --sandbox` on a port
/// of its own, [`llm_port`], and allows the bots' `http` and `llm` steps to reach it: the only
/// port of this process they may call, since the sandbox's would give them its control API and
/// every bot's Bot API.
async fn start_stand_in_llm(
    sandbox_port: u16,
    http: &mut ferrogram_engine::HttpConfig,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let (addr, server) =
        ferrogram_sandbox::stand_in_llm::serve(SocketAddr::from(([127, 0, 0, 1], llm_port(sandbox_port))))
            .await
            .map_err(|e| format!("stand-in language model: cannot listen: {e}"))?;
    println!("Stand-in language model: http://{addr}/llm/v1");
    http.allow_private.push((addr.ip().to_string(), addr.port()));
    Ok(server)
}

/// The stand-in model's port under `serve` and `run --sandbox`: the one after the sandbox's,
/// or a free one when the sandbox's is 0 (or the last).
fn llm_port(sandbox_port: u16) -> u16 {
    if sandbox_port == 0 { 0 } else { sandbox_port.checked_add(1).unwrap_or(0) }
}

/// Lets the handlers of the bots stopped so far finish, commit and deliver until `until`
/// (`allowed` after the stop signal: `serve` and `run` give them three quarters of the grace).
/// A handler still running then is cut at its next yield (its update, uncommitted, is handled
/// again at the next start); that is logged, not an error.
async fn drain_until(engine: &ferrogram_engine::Engine, until: tokio::time::Instant, allowed: Duration) {
    if tokio::time::timeout_at(until, engine.drain()).await.is_err() {
        tracing::warn!(
            "handlers still running after {allowed:?} are cut: their updates are handled again at the next start"
        );
    }
}

/// Runs the stopping `steps` for at most `grace` (`shutdown.grace`, by default
/// [`config::SHUTDOWN_GRACE`]): a stop signal ends the process in bounded time whatever is still
/// running (what was not committed is replayed at the next start).
async fn within_grace(
    grace: Duration,
    steps: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    match tokio::time::timeout(grace, steps).await {
        Ok(result) => result,
        Err(_) => Err(format!("stopping took longer than {grace:?}; exiting without waiting further")),
    }
}

/// Ctrl-C or, on Unix, SIGTERM (what service managers send), listened for from when it is made:
/// on Unix a signal that arrives while the command is still starting is kept (instead of the
/// default action killing the process mid-start) and ends [`Shutdown::wait`] at once, so the
/// command stops as gracefully as it would have later.
struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn listen() -> Result<Shutdown, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
            let interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
            Ok(Shutdown { term, interrupt })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Waits for one of them.
    async fn wait(&mut self) -> Result<(), String> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.interrupt.recv() => {}
            }
            Ok(())
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_stand_in_model_listens_after_the_sandbox_or_on_a_free_port() {
        assert_eq!(llm_port(8081), 8082);
        assert_eq!(llm_port(0), 0);
        assert_eq!(llm_port(u16::MAX), 0);
    }

    #[test]
    fn serve_flags_show_the_configuration_defaults_in_help() {
        let Ok(Cli { command: Some(Command::Serve(serve)), .. }) = Cli::try_parse_from(["ferrogram", "serve"]) else {
            panic!("parsed");
        };
        let defaults = config::Config::default();
        assert_eq!(serve.port, defaults.sandbox_port);
        assert_eq!(serve.bots, defaults.bots_folder);
        assert_eq!(serve.sandbox_state, defaults.sandbox_state);
        assert_eq!(serve.listen, defaults.server_listen);
        assert_eq!(serve.telegram_api_url, defaults.telegram_api_url);
        if std::env::var_os("FERROGRAM_DATABASE_URL").is_none() {
            assert_eq!(serve.database, defaults.database_url);
        }
    }

    #[test]
    fn allow_private_http_takes_one_host_and_port_each() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|cli| cli.command);
        let Ok(Some(Command::Run(run))) = parse(&[
            "ferrogram",
            "run",
            "bot.yaml",
            "--allow-private-http",
            "[::1]:9000",
            "--allow-private-http",
            "LocalHost:80",
        ]) else {
            panic!("parsed");
        };
        assert_eq!(run.private.allow, [("::1".to_owned(), 9000), ("localhost".to_owned(), 80)]);
        for (command, entry) in
            [("run", "*:80"), ("serve", "0.0.0.0/0:80"), ("sandbox", "0.0.0.0:80"), ("run", "h:port")]
        {
            let mut args = vec!["ferrogram", command];
            if command == "run" {
                args.push("bot.yaml");
            }
            let error = parse(&[&args[..], &["--allow-private-http", entry]].concat()).err().expect("refused");
            assert!(
                error.to_string().contains(&format!("invalid value '{entry}' for '--allow-private-http")),
                "{error}"
            );
        }
    }

    #[test]
    fn bot_env_names_are_repeatable_on_serve_and_run() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|cli| cli.command);
        let Ok(Some(Command::Run(run))) =
            parse(&["ferrogram", "run", "bot.yaml", "--bot-env", "WEATHER_KEY", "--bot-env", "FERROGRAM_X,B_2"])
        else {
            panic!("parsed");
        };
        assert_eq!(run.bot_env.names, ["WEATHER_KEY", "FERROGRAM_X", "B_2"]);
        let rule = run.bot_env.for_run();
        assert!(rule.allows("HOME") && rule.allows("FERROGRAM_X") && !rule.allows("FERROGRAM_DATABASE_URL"));
        let Ok(Some(Command::Serve(serve))) = parse(&["ferrogram", "serve", "--bot-env", "WEATHER_KEY"]) else {
            panic!("parsed");
        };
        let rule = serve.bot_env.for_serve();
        assert!(rule.allows("WEATHER_KEY") && !rule.allows("HOME") && !rule.allows("FERROGRAM_DATABASE_URL"));
        let error = parse(&["ferrogram", "serve", "--bot-env", "NOT-A-NAME"]).err().expect("refused");
        assert!(error.to_string().contains("invalid value 'NOT-A-NAME' for '--bot-env"), "{error}");
    }
}
