//! `serve`'s fleet: every bot of the store, run against the sandbox from its current version.
//!
//! The store is the source of truth, the folder an import (decision 0031): at start-up each
//! bot file of the folder is imported into the `default` workspace ([`import`]: a changed file
//! becomes a new version, an unchanged one adds nothing), then every bot of the store runs
//! from its newest version — a bot added with `ferrogram bot add` while the server was down
//! too. While it runs, the folder is polled ([`watch`]): a saved file that validates becomes a
//! new version and its bot is reloaded (or started, for a new bot); a file with errors is
//! logged with its diagnostics and changes nothing; a removed file stops nothing.

pub(crate) mod import;
pub(crate) mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrogram_engine::{BotHandle, Engine};
use ferrogram_sandbox::Sandbox;
use ferrogram_store::{BotRecord, BotVersion, Store, Workspace};

use import::{DEFAULT_WORKSPACE, Outcome};
use watch::{Change, Watched};

/// A bot of the store with the version that runs: what `serve` starts and `bot list` prints.
pub(crate) struct StoredBot {
    pub(crate) workspace: Workspace,
    pub(crate) record: BotRecord,
    /// `None` for a bot without a version yet (created elsewhere, e.g. by the dashboard).
    pub(crate) current: Option<BotVersion>,
}

impl StoredBot {
    /// Whether `serve` runs it against the sandbox: its record carries the sandbox id its name
    /// gives it (what `bot add` and the folder import create). Other bots target Telegram with
    /// a token, which `serve` does not run yet.
    pub(crate) fn targets_sandbox(&self) -> bool {
        self.record.telegram_id == Some(ferrogram_core::sandbox_bot_id(&self.record.name))
    }
}

/// Every bot of every workspace, oldest workspace and bot first, with its current version.
pub(crate) async fn stored_bots(store: &Store) -> Result<Vec<StoredBot>, String> {
    let mut listed = Vec::new();
    for workspace in store.workspaces().await.map_err(|e| e.to_string())? {
        for record in store.bots(workspace.id).await.map_err(|e| e.to_string())? {
            let current = store.current_version(workspace.id, record.id).await.map_err(|e| e.to_string())?;
            listed.push(StoredBot { workspace: workspace.clone(), record, current });
        }
    }
    Ok(listed)
}

/// A bot running in the engine: which version of it.
struct Running {
    handle: BotHandle,
    version: i64,
}

/// The bots `serve` runs and the folder it watches.
pub(crate) struct Fleet {
    store: Arc<Store>,
    watched: Watched,
    /// Running bots by their sandbox id.
    running: BTreeMap<u64, Running>,
    /// The file of the folder each bot name was last imported from: a second file of the same
    /// name is refused (both would save their versions to one bot in turn).
    owners: BTreeMap<String, PathBuf>,
    /// `server.public_url`: bots receive by webhook under it, else by long polling.
    public_url: Option<String>,
}

impl Fleet {
    /// Has the bots started from now on receive by webhook under `public_url`
    /// (`{public_url}/telegram/{bot_id}`), or by long polling when it is `None`.
    pub(crate) fn receive_at(&mut self, public_url: Option<String>) {
        self.public_url = public_url;
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
        let mut fleet = Fleet { store, watched, running: BTreeMap::new(), owners: BTreeMap::new(), public_url: None };
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

    /// Starts every bot of the store that targets the sandbox, from its current version.
    pub(crate) async fn run_all(&mut self, engine: &Engine, sandbox: &Sandbox) -> Result<(), String> {
        for bot in stored_bots(&self.store).await? {
            let (name, workspace) = (&bot.record.name, &bot.workspace.name);
            let Some(current) = &bot.current else { continue };
            if !bot.targets_sandbox() {
                tracing::info!("{workspace}/{name}: not run: it targets Telegram, which serve does not run yet");
                continue;
            }
            let file_name = import::stored_file_name(workspace, name, current.version, &current.source);
            let file = match ferrogram_schema::load_str(&current.source, &file_name) {
                Ok(file) => file,
                Err(diagnostics) => {
                    diagnostics.iter().for_each(|d| eprintln!("{d}"));
                    eprintln!("{workspace}/{name}: not started");
                    continue;
                }
            };
            let bot_id = ferrogram_core::sandbox_bot_id(name);
            match crate::add_sandbox_bot_with(engine, sandbox, file, bot_id, self.public_url.as_deref()).await {
                Ok(handle) => {
                    self.running.insert(bot_id, Running { handle, version: current.version });
                }
                Err(error) => eprintln!("{workspace}/{name}: not started: {error}"),
            }
        }
        Ok(())
    }

    /// Polls the folder every [`watch::POLL_EVERY`] and applies what changed; never returns
    /// (`serve` drops it when stopping).
    pub(crate) async fn watch(&mut self, engine: &Engine, sandbox: &Sandbox) {
        let mut ticks = tokio::time::interval(watch::POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for change in self.watched.poll() {
                match change {
                    Change::Written(path) => self.written(&path, engine, sandbox).await,
                    Change::Removed(path) => self.removed(&path),
                }
            }
        }
    }

    /// A file saved in the folder: imported, then its bot reloaded or started.
    async fn written(&mut self, path: &Path, engine: &Engine, sandbox: &Sandbox) {
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
        let imported = match import::import(&self.store, DEFAULT_WORKSPACE, &valid).await {
            Ok(imported) => imported,
            Err(error) => return tracing::warn!("{file_name}: not saved: {error}"),
        };
        self.owners.retain(|_, owner| owner != path);
        self.owners.insert(name.clone(), path.to_path_buf());
        let version = imported.outcome.version();
        if !imported.sandbox {
            return tracing::info!("{file_name}: {imported}; it targets Telegram, which serve does not run yet");
        }
        let bot_id = ferrogram_core::sandbox_bot_id(&name);
        match self.running.get_mut(&bot_id) {
            Some(running) if running.version == version => tracing::debug!("{file_name}: {imported}"),
            Some(running) => match engine.reload_source(running.handle, &valid.source, &file_name).await {
                Ok(()) => {
                    running.version = version;
                    tracing::info!("{file_name}: {name} version {version} saved and reloaded");
                }
                Err(error) => tracing::warn!("{file_name}: {name} version {version} saved but not reloaded: {error}"),
            },
            None => match crate::add_sandbox_bot_with(engine, sandbox, valid.file, bot_id, self.public_url.as_deref())
                .await
            {
                Ok(handle) => {
                    self.running.insert(bot_id, Running { handle, version });
                    let started = if imported.outcome == (Outcome::Added { version }) { "added" } else { "saved" };
                    tracing::info!("{file_name}: {name} version {version} {started} and started");
                }
                Err(error) => tracing::warn!("{file_name}: {name} version {version} saved but not started: {error}"),
            },
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
    pub(crate) async fn stop(self, engine: &Engine) {
        for running in self.running.into_values() {
            if let Err(error) = engine.stop(running.handle).await {
                eprintln!("ferrogram: {error}");
            }
        }
    }
}
