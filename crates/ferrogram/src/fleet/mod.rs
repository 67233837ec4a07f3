//! `serve`'s fleet: every bot of the store, run from its current version against its target
//! ([`target`]): Telegram with its stored token or the token of its file, or the built-in sandbox.
//!
//! The store is the source of truth, the folder an import (decision 0031): at start-up each
//! bot file of the folder is imported into the `default` workspace ([`import`]: a changed file
//! becomes a new version, an unchanged one adds nothing), then every bot of the store runs
//! from its newest version — a bot added with `ferrogram bot add` while the server was down
//! too. While it runs, the folder is polled ([`watch`]): a saved file that validates becomes a
//! new version and its bot is reloaded (or started, for a new bot); a file with errors is
//! logged with its diagnostics and changes nothing; a removed file stops nothing; the unchanged
//! file of a bot removed with `bot remove` is not imported (decision 0040). Each bot
//! runs under the [`supervisor`]: its status, retries of a failed start, a revoked token, and
//! the operator's `bot start|stop|reload|status` through the listener.

pub(crate) mod drafts;
pub(crate) mod import;
pub(crate) mod secrets;
pub(crate) mod supervisor;
pub(crate) mod target;
pub(crate) mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrogram_store::{BotRecord, BotVersion, RemovedBot, Store, Workspace};

use import::{DEFAULT_WORKSPACE, Outcome};
use supervisor::{Saved, Supervisor};
use watch::{Change, Watched};

/// How many bots [`Fleet::run_all`] starts at once at the start of `serve`.
const STARTS_AT_ONCE: usize = 8;

/// A bot of the store with the version that runs: what `serve` starts and `bot list` prints.
pub(crate) struct StoredBot {
    pub(crate) workspace: Workspace,
    pub(crate) record: BotRecord,
    /// `None` for a bot without a version yet (created elsewhere, e.g. by the dashboard).
    pub(crate) current: Option<BotVersion>,
    /// Whether a token is stored for it, encrypted (`bot add --token`).
    pub(crate) stored_token: bool,
}

impl StoredBot {
    /// What `serve` runs it against ([`target::of`]): Telegram when it has a stored token or its
    /// current version a `bot.token`, else the sandbox, unless its record is a Telegram bot's
    /// (then why not).
    pub(crate) fn target(&self) -> Result<target::Target, String> {
        let source = self.current.as_ref().map(|current| current.source.as_str());
        target::of_source(&self.record.name, self.record.telegram_id, source, self.stored_token)
    }
}

/// Every bot of every workspace, oldest workspace and bot first, with its current version.
pub(crate) async fn stored_bots(store: &Store) -> Result<Vec<StoredBot>, String> {
    let mut listed = Vec::new();
    for workspace in store.workspaces().await.map_err(|e| e.to_string())? {
        for record in store.bots(workspace.id).await.map_err(|e| e.to_string())? {
            let current = store.current_version(workspace.id, record.id).await.map_err(|e| e.to_string())?;
            let stored_token = store
                .has_secret(workspace.id, Some(record.id), ferrogram_store::BOT_TOKEN)
                .await
                .map_err(|e| e.to_string())?;
            listed.push(StoredBot { workspace: workspace.clone(), record, current, stored_token });
        }
    }
    Ok(listed)
}

/// What a removal deleted (`Store::remove_bot`), as the control API answers it and `bot remove`
/// prints it: `{"name", "workspace", "was_running", "telegram_id", "versions", "secrets",
/// "kept_data", "deleted_rows": {"TABLE": N, …}}`.
pub(crate) fn removal_report(
    workspace: &str,
    name: &str,
    was_running: bool,
    removed: &RemovedBot,
) -> serde_json::Value {
    let deleted: serde_json::Map<String, serde_json::Value> =
        removed.rows.iter().map(|(table, rows)| (table.clone(), serde_json::Value::from(*rows))).collect();
    serde_json::json!({
        "name": name,
        "workspace": workspace,
        "was_running": was_running,
        "telegram_id": removed.telegram_id,
        "versions": removed.versions,
        "secrets": removed.secrets,
        "kept_data": removed.kept_data,
        "deleted_rows": deleted,
    })
}

/// The bots `serve` runs and the folder it watches.
pub(crate) struct Fleet {
    store: Arc<Store>,
    watched: Watched,
    /// Runs the bots; set by [`Fleet::supervise`].
    supervisor: Option<Arc<Supervisor>>,
    /// The file of the folder each bot name was last imported from: a second file of the same
    /// name is refused (both would save their versions to one bot in turn).
    owners: BTreeMap<String, PathBuf>,
    /// The bots [`Fleet::restore_all`] found to start, for [`Fleet::run_all`].
    to_start: Vec<String>,
}

impl Fleet {
    /// The supervisor the bots run under (it knows the engine, the sandbox and
    /// `server.public_url`).
    pub(crate) fn supervise(&mut self, supervisor: Arc<Supervisor>) {
        self.supervisor = Some(supervisor);
    }

    /// Imports the folder's bot files into the `default` workspace, in name order, printing
    /// the diagnostics of a file with errors (it is not imported; its bot's stored version, if
    /// any, still runs). Fails when the folder cannot be read, or when it has no bot file and
    /// the store no bot to run.
    pub(crate) async fn import_folder(store: Arc<Store>, folder: &Path) -> Result<Fleet, String> {
        let entries = std::fs::read_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        // Watched from before the first read: a file saved meanwhile is a change for the watcher.
        let watched = Watched::new(folder);
        let mut files: Vec<PathBuf> =
            entries.filter_map(|entry| entry.ok().map(|e| e.path())).filter(|path| watch::is_bot_file(path)).collect();
        files.sort();
        if files.is_empty() && !stored_bots(&store).await?.iter().any(|bot| bot.current.is_some()) {
            return Err(format!("{}: no bot files (*.yaml, *.yml, *.json)", folder.display()));
        }
        let mut fleet = Fleet { store, watched, supervisor: None, owners: BTreeMap::new(), to_start: Vec::new() };
        for path in files {
            let file_name = path.display().to_string();
            let source = match std::fs::read_to_string(&path) {
                Ok(source) => source,
                Err(error) => {
                    eprintln!("{file_name}: {error}");
                    eprintln!("{file_name}: not imported");
                    continue;
                }
            };
            let valid = match import::validate(source, &file_name) {
                Ok(valid) => valid,
                Err(diagnostics) => {
                    diagnostics.iter().for_each(|d| eprintln!("{d}"));
                    eprintln!("{file_name}: not imported (its bot's stored version, if any, runs)");
                    continue;
                }
            };
            let name = valid.file.bot.name.clone();
            if let Some(other) = fleet.owners.get(&name) {
                eprintln!("{file_name}: not imported: its bot name is taken by {}", other.display());
                continue;
            }
            if fleet.was_removed(&file_name, &valid).await {
                continue;
            }
            match import::import(&fleet.store, DEFAULT_WORKSPACE, &valid).await {
                Ok(imported) => {
                    tracing::info!(file = %file_name, "{imported}");
                    fleet.owners.insert(name, path);
                }
                Err(error) => eprintln!("{file_name}: not imported: {error}"),
            }
        }
        Ok(fleet)
    }

    /// Supervises every bot of the store that has a version and a target, from its last known
    /// status ([`Supervisor::restore`]), without starting any: called before the listener
    /// answers, so the control API never shows a bot as unknown or in a state it is not in.
    pub(crate) async fn restore_all(&mut self) -> Result<(), String> {
        let supervisor = self.supervisor.clone().ok_or("the fleet runs under a supervisor")?;
        for bot in stored_bots(&self.store).await? {
            let (name, workspace) = (&bot.record.name, &bot.workspace.name);
            if bot.current.is_none() {
                continue;
            }
            if let Err(why) = bot.target() {
                tracing::info!("{workspace}/{name}: not run: {why}");
                continue;
            }
            // A disabled bot, or one whose token was refused, is not started.
            if supervisor.restore(bot.workspace.id, workspace, &bot.record).await {
                self.to_start.push(name.clone());
            }
        }
        Ok(())
    }

    /// Starts the bots [`Fleet::restore_all`] left to start, from their current versions,
    /// [`STARTS_AT_ONCE`] at a time (decision 0052: a start that hangs does not hold up the
    /// others); returns once every start ended. A bot that cannot start is reported and
    /// retried, the others run.
    pub(crate) async fn run_all(&mut self) -> Result<(), String> {
        let supervisor = self.supervisor.clone().ok_or("the fleet runs under a supervisor")?;
        let slots = Arc::new(tokio::sync::Semaphore::new(STARTS_AT_ONCE));
        let mut starts = tokio::task::JoinSet::new();
        for name in std::mem::take(&mut self.to_start) {
            let (supervisor, slots) = (Arc::clone(&supervisor), Arc::clone(&slots));
            starts.spawn(async move {
                let _slot = slots.acquire_owned().await;
                // A failed start is logged by the supervisor (at warn, with its error) and retried.
                let _ = supervisor.start_restored(&name).await;
            });
        }
        while starts.join_next().await.is_some() {}
        Ok(())
    }

    /// Polls the folder every [`watch::POLL_EVERY`] and applies what changed; never returns
    /// (`serve` drops it when stopping).
    pub(crate) async fn watch(&mut self) {
        let mut ticks = tokio::time::interval(watch::POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for change in self.watched.poll() {
                match change {
                    Change::Written(path) => self.written(&path).await,
                    Change::Removed(path) => self.removed(&path),
                }
            }
        }
    }

    /// A file saved in the folder: imported, then its bot reloaded or started.
    async fn written(&mut self, path: &Path) {
        let file_name = path.display().to_string();
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(error) => return tracing::warn!("{file_name}: cannot read it: {error}"),
        };
        let valid = match import::validate(source, &file_name) {
            Ok(valid) => valid,
            Err(diagnostics) => {
                for diagnostic in &diagnostics {
                    tracing::warn!("{diagnostic}");
                }
                return tracing::warn!("{file_name}: not saved; the running version goes on");
            }
        };
        for warning in &valid.warnings {
            tracing::warn!("{warning}");
        }
        let name = valid.file.bot.name.clone();
        if let Some(other) = self.owners.get(&name).filter(|other| *other != path && other.exists()) {
            return tracing::warn!("{file_name}: not saved: its bot name {name} is taken by {}", other.display());
        }
        if self.was_removed(&file_name, &valid).await {
            return;
        }
        let imported = match import::import(&self.store, DEFAULT_WORKSPACE, &valid).await {
            Ok(imported) => imported,
            Err(error) => return tracing::warn!("{file_name}: not saved: {error}"),
        };
        self.owners.retain(|_, owner| owner != path);
        self.owners.insert(name.clone(), path.to_path_buf());
        let version = imported.outcome.version();
        if let Err(why) = &imported.target {
            return tracing::info!("{file_name}: {imported}; not run: {why}");
        }
        let Some(supervisor) = self.supervisor.clone() else { return };
        let workspace = match self.store.workspace_named(DEFAULT_WORKSPACE).await {
            Ok(Some(workspace)) => workspace,
            Ok(None) => return tracing::warn!("{file_name}: saved, but its workspace is gone"),
            Err(error) => return tracing::warn!("{file_name}: saved, but not started: {error}"),
        };
        match supervisor.saved(workspace.id, &workspace.name, &name, version, &valid.source, &file_name).await {
            Saved::Unchanged => tracing::debug!("{file_name}: {imported}"),
            Saved::Reloaded => tracing::info!("{file_name}: {name} version {version} saved and reloaded"),
            Saved::NotReloaded(error) => {
                tracing::warn!("{file_name}: {name} version {version} saved but not reloaded: {error}")
            }
            Saved::Started => {
                let started = if imported.outcome == (Outcome::Added { version }) { "added" } else { "saved" };
                tracing::info!("{file_name}: {name} version {version} {started} and started");
            }
            Saved::NotStarted(error) => {
                tracing::warn!("{file_name}: {name} version {version} saved but not started: {error}")
            }
            Saved::Stopped => tracing::info!(
                "{file_name}: {name} version {version} saved; the bot is stopped (`ferrogram bot start {name}`)"
            ),
        }
    }

    /// Whether the file `file_name` (`valid`) is the last version of a bot removed with `bot
    /// remove`: then it is not imported (logged), so a removed bot does not come back from an
    /// unchanged file, at start-up or when the file is touched. A check that fails lets it in.
    async fn was_removed(&self, file_name: &str, valid: &import::Valid) -> bool {
        match import::removed_unchanged(&self.store, DEFAULT_WORKSPACE, valid).await {
            Ok(Some(at)) => {
                let name = &valid.file.bot.name;
                tracing::info!(
                    "{file_name}: not imported: the bot {name} was removed on {} (`ferrogram bot remove`) and the \
                     file has not changed since; edit it or `ferrogram bot add` it to bring the bot back",
                    crate::bot_command::utc(at)
                );
                true
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!("{file_name}: whether its bot was removed is unknown ({error}); imported");
                false
            }
        }
    }

    /// A file gone from the folder: its bot stays in the store and keeps running.
    fn removed(&mut self, path: &Path) {
        let names: Vec<String> =
            self.owners.iter().filter(|(_, owner)| *owner == path).map(|(name, _)| name.clone()).collect();
        self.owners.retain(|_, owner| owner != path);
        let bot = names.first().map_or_else(|| "its bot".to_owned(), |name| format!("the bot {name}"));
        tracing::info!(
            "{}: removed; {bot} stays in the store and keeps running (see `ferrogram bot list`)",
            path.display()
        );
    }

    /// Stops every running bot.
    pub(crate) async fn stop(self) {
        if let Some(supervisor) = self.supervisor {
            supervisor.stop_all().await;
        }
    }
}
