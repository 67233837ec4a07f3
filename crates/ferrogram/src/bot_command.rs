//! `ferrogram bot`: the bots kept in the store, which `serve` runs. `bot add FILE [--token T]`
//! validates a bot file and saves it as its bot's newest version (the bot created by its
//! `bot.name` when new), with its Telegram token stored encrypted when given (decision 0034);
//! `bot list` prints every bot with its current version and whether a token is stored for it
//! (never the token). `bot start|stop|reload|status` act on the running server
//! (`bot_control.rs`); `bot enable|disable` set in the store whether `serve` runs a bot (what
//! `bot start|stop` record too); `bot remove` deletes a bot and its data, through the server
//! when a token is given, else in the store when no server answers (decision 0040). The
//! changes made here are written to the workspace's audit log as `cli:USER` (`cli_audit.rs`).

use std::path::PathBuf;

use crate::bot_control::{self, Action, Remote};
use crate::fleet::{self, import, target};
use crate::secret_key::{self, KeyFileArg};

#[derive(clap::Args)]
pub(crate) struct BotArgs {
    #[command(subcommand)]
    command: BotCommand,
}

#[derive(clap::Subcommand)]
enum BotCommand {
    /// Validate a bot file and save it in the store: a new bot, or a new version of the bot of
    /// its `bot.name` when its source changed; with `--token`, its Telegram token too, encrypted.
    /// `serve` runs it from the store.
    Add(AddArgs),
    /// Print every bot of the store with its current version, when it was saved, its target and
    /// whether a token is stored for it (never the token).
    List(ListArgs),
    /// Start a bot of the running server (through its listener, with an API token).
    Start(ActArgs),
    /// Stop a bot of the running server; it stays stopped until started.
    Stop(ActArgs),
    /// Run a bot's newest stored version on the running server: reloaded, or started.
    Reload(ActArgs),
    /// Print a bot's status on the running server (`starting`, `running`, `stopped`, `failing`,
    /// `unauthorized`) with its last errors; every bot's without a name.
    Status(StatusArgs),
    /// Let `serve` run a bot again (in the store, for its next start; a running server: `bot
    /// start`). A bot whose token was refused (`unauthorized`) is tried again.
    Enable(FlagArgs),
    /// Keep a bot stopped (in the store: `serve` does not start it; a running server keeps it
    /// running until `bot stop`, which disables it too).
    Disable(FlagArgs),
    /// Remove a bot: its record, every version, its stored token and status, and (unless
    /// --keep-data) all its data: users' and chats' state, variables, jobs, collections, inbox,
    /// outbox, dead letters, subscriptions. Through the running server with --token (it stops the
    /// bot first); else in the store, refused while a server answers at --server.
    Remove(RemoveArgs),
}

#[derive(clap::Args)]
struct FlagArgs {
    /// The bot's name.
    name: String,
    /// The bot's workspace.
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

#[derive(clap::Args)]
struct RemoveArgs {
    /// The bot's name.
    name: String,
    /// The bot's workspace (in the store; through the server, the token's).
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// Keep the bot's data rows (under its bot id, where a bot of the same id finds them again);
    /// only the record, versions, token and status are deleted.
    #[arg(long)]
    keep_data: bool,
    /// Do not ask: needed when standard input is not a terminal.
    #[arg(long)]
    yes: bool,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (without --token).
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
    #[command(flatten)]
    remote: Remote,
}

#[derive(clap::Args)]
struct ActArgs {
    /// The bot's name.
    name: String,
    #[command(flatten)]
    remote: Remote,
}

#[derive(clap::Args)]
struct StatusArgs {
    /// The bot's name (every bot of the token's workspace when absent).
    name: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

#[derive(clap::Args)]
struct AddArgs {
    /// The bot file (YAML, or JSON by its `.json` extension).
    file: PathBuf,
    /// The bot's Telegram token (`BOT_ID:SECRET`), stored encrypted with the database's secret
    /// key (created beside a SQLite database at first use; see --secret-key-file). `-` reads it
    /// from standard input, which keeps it out of the process list and the shell's history. A
    /// bot with a stored token runs against Telegram under `serve`, with it rather than its
    /// file's `bot.token`.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// The workspace to keep the bot in (created if missing).
    #[arg(long, default_value = import::DEFAULT_WORKSPACE)]
    workspace: String,
    /// `sqlite://PATH` (created if missing) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    key: KeyFileArg,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

#[derive(clap::Args)]
struct ListArgs {
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

/// Runs `ferrogram bot …`.
pub(crate) async fn run(args: &BotArgs) -> Result<(), String> {
    match &args.command {
        BotCommand::Add(args) => add(args).await,
        BotCommand::List(args) => list(args).await,
        BotCommand::Start(args) => bot_control::act(&args.remote, Action::Start, &args.name).await,
        BotCommand::Stop(args) => bot_control::act(&args.remote, Action::Stop, &args.name).await,
        BotCommand::Reload(args) => bot_control::act(&args.remote, Action::Reload, &args.name).await,
        BotCommand::Status(args) => bot_control::status(&args.remote, args.name.as_deref()).await,
        BotCommand::Enable(args) => set_enabled(args, true).await,
        BotCommand::Disable(args) => set_enabled(args, false).await,
        BotCommand::Remove(args) => remove(args).await,
    }
}

/// `bot add FILE [--token T]`: the file's diagnostics as `validate` prints them (on standard
/// error) and nothing saved when it has an error or the token is not one; otherwise what was
/// done, on standard output. The token is never printed.
async fn add(args: &AddArgs) -> Result<(), String> {
    let token = args.token.as_deref().map(read_token).transpose()?;
    let file_name = args.file.display().to_string();
    let source = std::fs::read_to_string(&args.file).map_err(|e| format!("{file_name}: {e}"))?;
    let valid = match import::validate(source, &file_name) {
        Ok(valid) => valid,
        Err(diagnostics) => {
            diagnostics.iter().for_each(|d| eprintln!("{d}"));
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            eprintln!("{}, {}", count(errors, "error"), count(diagnostics.len() - errors, "warning"));
            return Err(format!("{file_name}: not saved"));
        }
    };
    valid.warnings.iter().for_each(|d| eprintln!("{d}"));
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let imported = save(&store, args, &valid, token.as_deref()).await;
    if let Ok(imported) = &imported {
        audit_add(&store, &args.workspace, imported).await;
    }
    store.close().await;
    let imported = imported?;
    if token.is_some() && valid.file.bot.token.is_some() {
        eprintln!("{}: the stored token is used, not the file's bot.token", imported.name);
    }
    println!("{imported}");
    Ok(())
}

/// Writes `bot add` to the workspace's audit log: `bot.add`, the version and what was done (and
/// to the token, never the token).
async fn audit_add(store: &ferrogram_store::Store, workspace: &str, imported: &import::Imported) {
    let Ok(Some(workspace)) = store.workspace_named(workspace).await else { return };
    let outcome = match imported.outcome {
        import::Outcome::Added { .. } => "added",
        import::Outcome::Saved { .. } => "saved",
        import::Outcome::Unchanged { .. } => "unchanged",
    };
    let token = imported.token.map(|token| match token {
        import::TokenOutcome::Stored => "stored",
        import::TokenOutcome::Replaced => "replaced",
        import::TokenOutcome::Unchanged => "unchanged",
    });
    let detail = serde_json::json!({"version": imported.outcome.version(), "outcome": outcome, "token": token});
    crate::cli_audit::write(store, workspace.id, "bot.add", &imported.name, &detail).await;
}

/// `bot enable|disable NAME`: the flag set in the store (and audited); enabling a bot whose
/// token was refused (`unauthorized`) makes its status `stopped`, so the next start of `serve`
/// tries it again.
async fn set_enabled(args: &FlagArgs, enabled: bool) -> Result<(), String> {
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let done = set_enabled_on(&store, args, enabled).await;
    store.close().await;
    println!("{}", done?);
    Ok(())
}

async fn set_enabled_on(store: &ferrogram_store::Store, args: &FlagArgs, enabled: bool) -> Result<String, String> {
    let (workspace, record) = stored_bot(store, &args.workspace, &args.name).await?;
    let failed = |e: ferrogram_store::Error| e.to_string();
    store.set_bot_enabled(workspace, record.id, enabled).await.map_err(failed)?;
    if enabled
        && let Some(mut status) = store.bot_status(workspace, record.id).await.map_err(failed)?
        && status.status == "unauthorized"
    {
        status.status = "stopped".into();
        store.save_bot_status(workspace, record.id, &status).await.map_err(failed)?;
    }
    let action = if enabled { "bot.enable" } else { "bot.disable" };
    let detail = serde_json::json!({"was_enabled": record.enabled});
    crate::cli_audit::write(store, workspace, action, &args.name, &detail).await;
    let name = &args.name;
    Ok(if enabled {
        format!("{name}: enabled: serve starts it at its next start (a running server: `ferrogram bot start {name}`)")
    } else {
        format!(
            "{name}: disabled: serve does not start it (a running server keeps it until `ferrogram bot stop {name}`)"
        )
    })
}

/// The workspace's id and its bot `name`, or why not.
async fn stored_bot(
    store: &ferrogram_store::Store,
    workspace: &str,
    name: &str,
) -> Result<(i64, ferrogram_store::BotRecord), String> {
    let found = store.workspace_named(workspace).await.map_err(|e| e.to_string())?;
    let workspace_id = found.ok_or_else(|| format!("no workspace {workspace}"))?.id;
    let record = store.bot_named(workspace_id, name).await.map_err(|e| e.to_string())?;
    let record = record.ok_or_else(|| format!("no bot named {name} in workspace {workspace}"))?;
    Ok((workspace_id, record))
}

/// `bot remove NAME`: asks first (unless --yes), then through the server when a token is given,
/// else in the store when no server answers at --server.
async fn remove(args: &RemoveArgs) -> Result<(), String> {
    if !args.yes {
        confirm_removal(args)?;
    }
    let removed = if args.remote.has_token() {
        bot_control::remove(&args.remote, &args.name, args.keep_data).await?
    } else {
        if args.remote.answers().await {
            return Err(format!(
                "a server answers at {}: give an admin API token (--token or FERROGRAM_API_TOKEN) so it stops the \
                 bot before removing it, or stop serve first; nothing was removed",
                args.remote.server()
            ));
        }
        let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
        let removed = remove_from_store(&store, args).await;
        store.close().await;
        removed?
    };
    println!("{}", bot_control::describe_removal(&removed));
    Ok(())
}

async fn remove_from_store(store: &ferrogram_store::Store, args: &RemoveArgs) -> Result<serde_json::Value, String> {
    let (workspace, record) = stored_bot(store, &args.workspace, &args.name).await?;
    let removed = store.remove_bot(workspace, record.id, args.keep_data).await.map_err(|e| e.to_string())?;
    let removed = removed.ok_or_else(|| format!("no bot named {} in workspace {}", args.name, args.workspace))?;
    let report = fleet::removal_report(&args.workspace, &args.name, false, &removed);
    crate::cli_audit::write(store, workspace, "bot.remove", &args.name, &report).await;
    Ok(report)
}

/// Says what a removal deletes and asks for the bot's name on a terminal; refuses without one.
fn confirm_removal(args: &RemoveArgs) -> Result<(), String> {
    use std::io::{BufRead, IsTerminal, Write};
    let name = &args.name;
    let data = if args.keep_data {
        "Its data (users' state, collections, inbox, outbox…) is kept under its bot id.".to_owned()
    } else {
        format!(
            "All its data is deleted too: users' and chats' state, variables, jobs, collections, inbox, outbox, \
             dead letters, subscriptions (`ferrogram export {name}` keeps a copy; --keep-data keeps it)."
        )
    };
    if !std::io::stdin().is_terminal() {
        return Err(format!("bot remove {name}: not removed: confirm with --yes (standard input is not a terminal)"));
    }
    eprintln!("This removes the bot {name}: its record, every version, its stored token and its status. {data}");
    eprint!("Type the bot's name to remove it: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("standard input: {e}"))?;
    if line.trim() != name {
        return Err(format!("bot remove {name}: not removed"));
    }
    Ok(())
}

/// Imports `valid` into the store, with `token` when given (the store then needs its key, made
/// at first use).
async fn save(
    store: &ferrogram_store::Store,
    args: &AddArgs,
    valid: &import::Valid,
    token: Option<&str>,
) -> Result<import::Imported, String> {
    let Some(token) = token else { return import::import(store, &args.workspace, valid).await };
    // The token's bot must not be another bot of the store (its record would take the id).
    let id = target::token_id(token).unwrap_or_default();
    let name = &valid.file.bot.name;
    let other = fleet::stored_bots(store).await?.into_iter().find(|bot| {
        bot.record.telegram_id == Some(id) && (bot.workspace.name != args.workspace || bot.record.name != *name)
    });
    if let Some(other) = other {
        return Err(format!(
            "{name}: not saved: the token is Telegram bot {id}'s, which is {}/{} already",
            other.workspace.name, other.record.name
        ));
    }
    let key_file = secret_key::key_file(args.key.path.as_deref(), &args.database);
    let store = secret_key::attach(store.clone(), &key_file, true).await?;
    import::import_with_token(&store, &args.workspace, valid, Some(token)).await
}

/// The token of `--token`: the value, or a line of standard input for `-`; refused (without
/// repeating it) unless it is of the form `BOT_ID:SECRET`.
fn read_token(given: &str) -> Result<String, String> {
    let token = if given == "-" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| format!("--token -: standard input: {e}"))?;
        line.trim().to_owned()
    } else {
        given.trim().to_owned()
    };
    if target::token_id(&token).is_none() {
        return Err("--token: not a bot token (expected BOT_ID:SECRET, as BotFather gives it); nothing saved".into());
    }
    Ok(token)
}

/// `bot list`: one line per bot, `WORKSPACE/NAME: version N, saved YYYY-MM-DD HH:MM:SS UTC`,
/// then its target: nothing for the sandbox, ` (Telegram bot ID)`, with `, token stored` when
/// its token is kept in the store; then `; disabled` for a bot `serve` does not start.
async fn list(args: &ListArgs) -> Result<(), String> {
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let bots = fleet::stored_bots(&store).await;
    store.close().await;
    let bots = bots?;
    if bots.is_empty() {
        println!("no bots");
    }
    for bot in bots {
        let name = format!("{}/{}", bot.workspace.name, bot.record.name);
        let stored = if bot.stored_token { ", token stored" } else { "" };
        let target = match (bot.target(), bot.record.telegram_id) {
            (Ok(target::Target::Sandbox), _) => String::new(),
            (Ok(target::Target::Telegram), Some(id)) => format!(" (Telegram bot {id}{stored})"),
            (Ok(target::Target::Telegram), None) => format!(" (Telegram{stored})"),
            (Err(_), _) => " (Telegram: not run by serve)".to_owned(),
        };
        let target = if bot.record.enabled { target } else { format!("{target}; disabled") };
        match bot.current {
            Some(current) => {
                println!("{name}: version {}, saved {}{target}", current.version, utc(current.created_at))
            }
            None => println!("{name}: no version{target}"),
        }
    }
    Ok(())
}

fn count(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (the proleptic Gregorian calendar).
pub(crate) fn utc(seconds: i64) -> String {
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (of_day / 3_600, of_day % 3_600 / 60, of_day % 60);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_629_323), "2026-12-07 07:42:03 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }
}
