//! `ferrogram secrets set|list|delete`: the integration keys and signing secrets bot files read
//! with `${NAME}` under `serve` (decision 0044), kept encrypted in the database like the bots'
//! tokens (decision 0034). A secret is the workspace's (every bot of it reads it) or one bot's
//! (`--bot`, which wins over the workspace's of the same name). The value comes from standard
//! input, never a flag (flags are seen in `ps` and shell histories), and is never printed or
//! written to the audit log: `list` shows names, scopes, key ids and times.

use std::io::{IsTerminal, Read};

use ferrogram_store::{BOT_TOKEN, Store};

use crate::fleet::import::DEFAULT_WORKSPACE;
use crate::secret_key::{self, KeyFileArg};

/// Where a secret is kept: the database, its workspace and maybe its bot.
#[derive(clap::Args)]
pub(crate) struct Place {
    /// The secret's bot (its name): a secret only this bot reads, before the workspace's.
    #[arg(long, value_name = "BOT")]
    bot: Option<String>,
    /// The workspace.
    #[arg(long, default_value = DEFAULT_WORKSPACE)]
    workspace: String,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

#[derive(clap::Args)]
pub(crate) struct SetArgs {
    /// The name bot files write as `${NAME}`: letters, digits and `_`.
    name: String,
    #[command(flatten)]
    place: Place,
    #[command(flatten)]
    key: KeyFileArg,
}

#[derive(clap::Args)]
pub(crate) struct DeleteArgs {
    /// The secret's name.
    name: String,
    #[command(flatten)]
    place: Place,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    /// The workspace.
    #[arg(long, default_value = DEFAULT_WORKSPACE)]
    workspace: String,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "FERROGRAM_DATABASE_URL", default_value = crate::DEFAULT_DATABASE)]
    database: String,
    #[command(flatten)]
    database_tls: crate::DatabaseTls,
}

/// `secrets set NAME [--bot BOT]`: the value is all of standard input (not a terminal), less
/// one final line ending.
pub(crate) async fn set(args: &SetArgs) -> Result<(), String> {
    check_name(&args.name)?;
    let value = read_value()?;
    let store = crate::open_store(&args.place.database, &args.place.database_tls.tls()?).await?;
    let done = set_in(&store, args, &value).await;
    store.close().await;
    println!("{}", done?);
    Ok(())
}

async fn set_in(store: &Store, args: &SetArgs, value: &str) -> Result<String, String> {
    let (workspace, bot) = owner(store, &args.place).await?;
    let key_file = secret_key::key_file(args.key.path.as_deref(), &args.place.database);
    let keyed = secret_key::attach(store.clone(), &key_file, true).await?;
    let existed = store.has_secret(workspace, bot, &args.name).await.map_err(|e| e.to_string())?;
    let put = keyed.put_secret(workspace, bot, &args.name, value).await.map_err(|e| format!("not saved: {e}"))?;
    if !put {
        return Err("the workspace or bot is gone; nothing saved".to_owned());
    }
    let scope = scope(&args.place);
    let detail =
        serde_json::json!({"name": args.name, "scope": scope, "replaced": existed, "key_id": keyed.secret_key_id()});
    crate::cli_audit::write(store, workspace, "secrets.set", &args.name, &detail).await;
    let verb = if existed { "replaced" } else { "saved" };
    Ok(format!(
        "{verb} secret {} of {scope}, encrypted; a running serve reads it at the bot's next start or reload",
        args.name
    ))
}

/// `secrets delete NAME [--bot BOT]`.
pub(crate) async fn delete(args: &DeleteArgs) -> Result<(), String> {
    let store = crate::open_store(&args.place.database, &args.place.database_tls.tls()?).await?;
    let done = delete_in(&store, args).await;
    store.close().await;
    println!("{}", done?);
    Ok(())
}

async fn delete_in(store: &Store, args: &DeleteArgs) -> Result<String, String> {
    if args.name == BOT_TOKEN && args.place.bot.is_some() {
        return Err(format!("`{BOT_TOKEN}` is the bot's token: `bot add --token` replaces it; nothing deleted"));
    }
    let (workspace, bot) = owner(store, &args.place).await?;
    let scope = scope(&args.place);
    if !store.delete_secret(workspace, bot, &args.name).await.map_err(|e| e.to_string())? {
        return Err(format!("no secret {} of {scope}; nothing deleted", args.name));
    }
    let detail = serde_json::json!({"name": args.name, "scope": scope});
    crate::cli_audit::write(store, workspace, "secrets.delete", &args.name, &detail).await;
    Ok(format!("deleted secret {} of {scope}; a running serve forgets it at the bot's next start or reload", args.name))
}

/// `secrets list`: one line per secret of the workspace, `SCOPE NAME: key KEY_ID, set … UTC`
/// (its bots' tokens included); never a value.
pub(crate) async fn list(args: &ListArgs) -> Result<(), String> {
    let store = crate::open_store(&args.database, &args.database_tls.tls()?).await?;
    let listed = list_in(&store, &args.workspace).await;
    store.close().await;
    let lines = listed?;
    if lines.is_empty() {
        println!("no secrets in workspace {}", args.workspace);
    }
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

async fn list_in(store: &Store, workspace: &str) -> Result<Vec<String>, String> {
    let failed = |e: ferrogram_store::Error| e.to_string();
    let found = store.workspace_named(workspace).await.map_err(failed)?;
    let id = found.ok_or_else(|| format!("no workspace {workspace}"))?.id;
    let bots = store.bots(id).await.map_err(failed)?;
    let secrets = store.secrets(id).await.map_err(failed)?;
    Ok(secrets
        .into_iter()
        .map(|secret| {
            let scope = match secret.bot {
                None => format!("workspace {workspace}"),
                Some(bot) => match bots.iter().find(|record| record.id == bot) {
                    Some(record) => format!("bot {}", record.name),
                    None => format!("bot #{bot}"),
                },
            };
            format!(
                "{scope} {}: key {}, set {}",
                secret.name,
                secret.key_id,
                crate::bot_command::utc(secret.updated_at)
            )
        })
        .collect())
}

/// The workspace's id and, with `--bot`, the bot's; or why not.
async fn owner(store: &Store, place: &Place) -> Result<(i64, Option<i64>), String> {
    let found = store.workspace_named(&place.workspace).await.map_err(|e| e.to_string())?;
    let workspace = found.ok_or_else(|| format!("no workspace {}; nothing changed", place.workspace))?.id;
    let Some(name) = &place.bot else { return Ok((workspace, None)) };
    let record = store.bot_named(workspace, name).await.map_err(|e| e.to_string())?;
    let record =
        record.ok_or_else(|| format!("no bot named {name} in workspace {}; nothing changed", place.workspace))?;
    Ok((workspace, Some(record.id)))
}

/// `bot NAME of workspace W` or `workspace W`, for messages and the audit log.
fn scope(place: &Place) -> String {
    match &place.bot {
        Some(bot) => format!("bot {bot} of workspace {}", place.workspace),
        None => format!("workspace {}", place.workspace),
    }
}

/// A name bot files can write as `${NAME}`, and not the bots' token's: the API's rule.
fn check_name(name: &str) -> Result<(), String> {
    ferrogram_server::api::secrets::check_name(name).map_err(|message| format!("{message}; nothing saved"))
}

/// The value: all of standard input, one final line ending dropped; refused when empty or when
/// standard input is a terminal (type it into a pipe: `printf %s "$KEY" | ferrogram secrets set …`).
fn read_value() -> Result<String, String> {
    let mut input = std::io::stdin();
    if input.is_terminal() {
        return Err("give the value on standard input (e.g. `printf %s \"$VALUE\" | ferrogram secrets set NAME`), \
                    not on a terminal; nothing saved"
            .to_owned());
    }
    let mut value = String::new();
    input.read_to_string(&mut value).map_err(|e| format!("standard input: {e}; nothing saved"))?;
    let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value).to_owned();
    if value.trim().is_empty() {
        return Err("the value is empty (standard input had nothing); nothing saved".to_owned());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_bot_files_can_read() {
        assert!(check_name("SHOP_KEY").is_ok() && check_name("a1").is_ok());
        assert!(check_name("token").is_err() && check_name("A-B").is_err() && check_name("").is_err());
        assert!(check_name(&"A".repeat(65)).is_err());
    }
}
