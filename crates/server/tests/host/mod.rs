//! The host of the server's tests that act on bots (the REST API's, `api.rs`, and the
//! dashboard's): a bot is known when the store has it in the caller's workspace; its state is
//! kept in memory as `serve`'s supervisor reports it (start → running, stop → stopped; a bot
//! named `stubborn` refuses reloads); removal goes through the real store. Two kinds, by
//! constructor: [`Host::new`] checks tokens with getMe against a real sandbox, as the supervisor
//! checks them against `telegram.api_url` (the dashboard's new-bot form); [`Host::with_error`]
//! checks none and reports one error in every status (the API answers it). Drafts are tried as
//! `serve`'s supervisor tries them (decision 0056): a throwaway bot run by a real engine of its
//! own (its store in memory) against the real sandbox, talked to by a new sandbox user at each
//! restart (a host without a sandbox refuses them).

// Not every test file uses every constructor or accessor.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use ferrogram_engine::{BotHandle, BoxFuture, Engine, EngineConfig};
use ferrogram_server::bots::{BotControl, BotError, BotStatus, ControlError, DraftRun, Status, TokenOwner};
use ferrogram_store::Store;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// A draft running: its handle, its sandbox bot id and the sandbox user talking to it.
type DraftOnHost = (BotHandle, u64, i64);

pub struct Host {
    pub store: Arc<Store>,
    /// The Bot API's base URL (a sandbox) where tokens are checked, and the client that asks
    /// it; without one a token is refused, as `BotControl`'s default does.
    bot_api: Option<(String, reqwest::Client)>,
    /// The errors every status reports.
    errors: Vec<BotError>,
    states: Mutex<HashMap<(i64, String), Status>>,
    /// The drafts' engine and runs: (handle, sandbox bot id, sandbox user id).
    drafts: Engine,
    runs: tokio::sync::Mutex<HashMap<(i64, String), DraftOnHost>>,
}

impl Host {
    /// A host checking tokens at `bot_api`, its statuses without errors.
    pub fn new(store: Arc<Store>, bot_api: String) -> Arc<Host> {
        Host::made(store, Some((bot_api, reqwest::Client::new())), Vec::new())
    }

    /// A host that checks no tokens, every status reporting the one error `message` (at 7).
    pub fn with_error(store: Arc<Store>, message: &str) -> Arc<Host> {
        Host::made(store, None, vec![BotError { at: 7, message: message.to_owned() }])
    }

    fn made(store: Arc<Store>, bot_api: Option<(String, reqwest::Client)>, errors: Vec<BotError>) -> Arc<Host> {
        Arc::new(Host {
            store,
            bot_api,
            errors,
            states: Mutex::new(HashMap::new()),
            drafts: Engine::new(EngineConfig::default()),
            runs: tokio::sync::Mutex::default(),
        })
    }

    /// The sandbox's base URL and the client that asks it; drafts need one.
    fn sandbox(&self) -> Result<(&str, &reqwest::Client), ControlError> {
        let (url, http) = self.bot_api.as_ref().ok_or(ControlError::Refused("this host runs no drafts".into()))?;
        Ok((url, http))
    }

    /// A new sandbox user.
    async fn new_user(&self) -> Result<i64, ControlError> {
        let (bot_api, http) = self.sandbox()?;
        let url = format!("{bot_api}/sandbox/users");
        let answer: Value =
            http.post(url).json(&json!({"first_name": "Tester"})).send().await.unwrap().json().await.unwrap();
        answer["id"].as_i64().ok_or_else(|| ControlError::Refused(format!("no user: {answer}")))
    }

    async fn run_draft(
        &self,
        workspace: i64,
        name: &str,
        source: &str,
        restart: bool,
    ) -> Result<DraftRun, ControlError> {
        let (bot_api, http) = self.sandbox()?;
        self.store.bot_named(workspace, name).await.unwrap().ok_or(ControlError::UnknownBot)?;
        let refused = |e: String| ControlError::Refused(e);
        let mut runs = self.runs.lock().await;
        let key = (workspace, name.to_owned());
        if let Some((handle, _, user)) = runs.get_mut(&key) {
            self.drafts.reload_source(*handle, source, "draft.yaml").await.map_err(|e| refused(e.to_string()))?;
            if restart {
                *user = self.new_user().await?;
            }
        } else {
            let file = ferrogram_schema::load_str(source, "draft.yaml").map_err(|e| refused(format!("{e:?}")))?;
            let bot_id = ferrogram_core::sandbox_bot_id(&format!("draft:{workspace}:{name}"));
            let token = format!("{bot_id}:draft");
            let url = format!("{bot_api}/sandbox/bots");
            http.post(url).json(&json!({"token": token})).send().await.unwrap().error_for_status().unwrap();
            let handle = self.drafts.add_bot(file, &token, bot_api).await.map_err(|e| refused(e.to_string()))?;
            runs.insert(key.clone(), (handle, bot_id, self.new_user().await?));
        }
        let (_, bot_id, user_id) = runs[&key];
        let chat_url = format!("{bot_api}/?bot={bot_id}&user={user_id}&chat={user_id}");
        Ok(DraftRun { chat_url, bot_id, user_id })
    }

    /// The bot's state, after setting it to `set`; `UnknownBot` when the store has no such bot.
    async fn report(&self, workspace: i64, name: &str, set: Option<Status>) -> Result<BotStatus, ControlError> {
        let known = self.store.bot_named(workspace, name).await.map_err(|e| ControlError::Refused(e.to_string()))?;
        let bot = known.ok_or(ControlError::UnknownBot)?;
        let version = self.store.current_version(workspace, bot.id).await.unwrap().map(|v| v.version);
        let mut states = self.states.lock();
        let status = states.entry((workspace, name.to_owned())).or_insert(Status::Stopped);
        if let Some(set) = set {
            *status = set;
        }
        Ok(BotStatus {
            name: name.into(),
            status: *status,
            since: 5,
            version,
            errors: self.errors.clone(),
            attempts: 0,
            asleep: false,
        })
    }

    /// The state the host holds for the bot, if any.
    pub fn state(&self, workspace: i64, name: &str) -> Option<Status> {
        self.states.lock().get(&(workspace, name.to_owned())).copied()
    }
}

impl BotControl for Host {
    fn list(&self, workspace: i64) -> BoxFuture<'_, Vec<BotStatus>> {
        Box::pin(async move {
            let mut listed = Vec::new();
            for bot in self.store.bots(workspace).await.unwrap() {
                listed.push(self.report(workspace, &bot.name, None).await.unwrap());
            }
            listed
        })
    }
    fn status<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.report(workspace, name, None))
    }
    fn start<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.report(workspace, name, Some(Status::Running)))
    }
    fn stop<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.report(workspace, name, Some(Status::Stopped)))
    }
    fn reload<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move {
            let status = self.report(workspace, name, None).await?;
            if name == "stubborn" {
                return Err(ControlError::Refused(format!(
                    "version {:?} not reloaded: no start scene",
                    status.version
                )));
            }
            self.report(workspace, name, Some(Status::Running)).await
        })
    }
    /// As the supervisor: stopped, then removed from the store.
    fn remove<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Value, ControlError>> {
        Box::pin(async move {
            self.report(workspace, name, Some(Status::Stopped)).await?;
            let bot = self.store.bot_named(workspace, name).await.unwrap().ok_or(ControlError::UnknownBot)?;
            let removed = self.store.remove_bot(workspace, bot.id, keep_data).await.unwrap();
            let removed = removed.ok_or(ControlError::UnknownBot)?;
            self.states.lock().remove(&(workspace, name.to_owned()));
            Ok(json!({"name": name, "versions": removed.versions, "kept_data": removed.kept_data}))
        })
    }
    fn check_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenOwner, String>> {
        Box::pin(async move {
            let (bot_api, http) = self.bot_api.as_ref().ok_or("this server does not check tokens")?;
            let url = format!("{bot_api}/bot{token}/getMe");
            let answer: Value =
                http.get(url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
            if answer["ok"] != true {
                return Err(answer["description"].as_str().unwrap_or("refused").to_owned());
            }
            let id = answer["result"]["id"].as_u64().ok_or("no id")?;
            Ok(TokenOwner { id, username: answer["result"]["username"].as_str().unwrap_or_default().to_owned() })
        })
    }
    fn try_draft<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        source: &'a str,
        restart: bool,
    ) -> BoxFuture<'a, Result<DraftRun, ControlError>> {
        Box::pin(self.run_draft(workspace, name, source, restart))
    }
    fn draft_chat_origin(&self) -> Option<String> {
        self.bot_api.as_ref().map(|(url, _)| url.clone())
    }
}
