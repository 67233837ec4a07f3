//! `ferrogram backup now`, `ferrogram backup list` and `ferrogram restore`: backups by hand,
//! with the same configuration as `serve`'s scheduled ones (`backup.*`, `database.url`: the
//! file of `--config` or FERROGRAM_CONFIG, the environment, then these flags).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::backup::{self, Target};
use crate::config::{self, keys, redact};

#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: BackupCommand,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Back the database up to `backup.to` now (SQLite: a consistent snapshot, while `serve`
    /// runs; PostgreSQL: every bot's export), then delete the oldest beyond `backup.keep`.
    Now(Place),
    /// List the backups at `backup.to`, oldest first.
    List(Place),
}

/// Where the configuration, the backups and the database are.
#[derive(clap::Args)]
pub struct Place {
    /// The configuration file (TOML), as `serve`'s: its `backup.*` and `database.url`.
    #[arg(long, value_name = "PATH", env = config::CONFIG_ENV)]
    config: Option<PathBuf>,
    /// A folder or `s3://BUCKET/PREFIX`, instead of `backup.to`.
    #[arg(long, value_name = "TARGET")]
    to: Option<String>,
    /// `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, instead of `database.url`.
    #[arg(long)]
    database: Option<String>,
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["name", "latest"]))]
pub struct RestoreArgs {
    /// The backup, as `ferrogram backup list` names it.
    name: Option<String>,
    /// The newest backup.
    #[arg(long)]
    latest: bool,
    /// Replace a database that has bots (stop `serve` first).
    #[arg(long)]
    force: bool,
    /// The configuration file (TOML), as `serve`'s: its `backup.*` and `database.url`.
    #[arg(long, value_name = "PATH", env = config::CONFIG_ENV)]
    config: Option<PathBuf>,
    /// A folder or `s3://BUCKET/PREFIX` to restore from, instead of `backup.to`.
    #[arg(long, value_name = "TARGET")]
    from: Option<String>,
    /// The database to restore into, instead of `database.url`.
    #[arg(long)]
    database: Option<String>,
}

/// `serve`'s configuration, with `to` and `database` over it.
fn settings(file: Option<&Path>, to: Option<&str>, database: Option<&str>) -> Result<config::Config, String> {
    let mut flags = config::Flags::default();
    if let Some(database) = database {
        flags.set("database.url", keys::Value::Text(database.to_owned()));
    }
    let mut settings = config::load(file, |name| std::env::var(name).ok(), &flags)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?
        .config;
    if let Some(to) = to {
        let (_, key) = keys::find("backup.to").ok_or("no key backup.to")?;
        key.set(&mut settings, keys::Value::Text(to.to_owned())).map_err(|e| format!("--to/--from: {e}"))?;
    }
    Ok(settings)
}

/// The backups' target of `settings`.
pub fn target(settings: &config::Config) -> Result<Target, String> {
    Target::new(
        settings.backup_to.as_deref().unwrap_or_default(),
        settings.backup_s3_endpoint.as_deref(),
        &settings.backup_s3_region,
        |name| std::env::var(name).ok(),
    )
}

/// `ferrogram backup now|list`.
pub async fn backup(args: &BackupArgs) -> Result<(), String> {
    match &args.command {
        BackupCommand::Now(place) => {
            let settings = settings(place.config.as_deref(), place.to.as_deref(), place.database.as_deref())?;
            let target = target(&settings)?;
            // An existing database: a missing SQLite file is an error, not a new empty backup.
            if let Some(file) = backup::sqlite_file(&settings.database_url).filter(|file| !file.exists()) {
                return Err(format!("{}: no such database file", file.display()));
            }
            let options =
                ferrogram_store::Options { migrate: false, tls: settings.database_tls(), ..Default::default() };
            let store = ferrogram_store::Store::open_with(&settings.database_url, &options)
                .await
                .map_err(|e| format!("database {}: {e}", redact(&settings.database_url)))?;
            let taken = backup::take(&store, &settings.database_url, &target).await;
            store.close().await;
            let name = taken?;
            println!("backed up {} to {} as {name}", redact(&settings.database_url), target.describe());
            for deleted in backup::prune(&target, settings.backup_keep as usize).await? {
                println!("deleted {deleted} (backup.keep = {})", settings.backup_keep);
            }
            Ok(())
        }
        BackupCommand::List(place) => {
            let settings = settings(place.config.as_deref(), place.to.as_deref(), place.database.as_deref())?;
            let target = target(&settings)?;
            let names = target.list().await?;
            if names.is_empty() {
                eprintln!("no backups at {}", target.describe());
            }
            names.iter().for_each(|name| println!("{name}"));
            Ok(())
        }
    }
}

/// `ferrogram restore NAME|--latest [--from TARGET] [--database URL] [--force]`.
pub async fn restore(args: &RestoreArgs) -> Result<(), String> {
    let settings = settings(args.config.as_deref(), args.from.as_deref(), args.database.as_deref())?;
    let target = target(&settings)?;
    let name = if args.latest { None } else { args.name.as_deref() };
    let restored = backup::restore(&target, name, &settings.database_url, &settings.database_tls(), args.force).await?;
    println!(
        "restored {} from {} into {}: {} bot(s)",
        restored.name,
        target.describe(),
        redact(&settings.database_url),
        restored.bots
    );
    Ok(())
}
