//! A host for the dashboard's tests: the bots' states kept in memory as `serve`'s supervisor
//! reports them (start → running, stop → stopped), removal through the real store, and tokens
//! checked with getMe against a real sandbox, as the supervisor checks them against
//! `telegram.api_url`.

use std::collections::HashMap;
use std::sync::Arc;

use ferrogram_engine::BoxFuture;
use ferrogram_server::bots::{BotControl, BotStatus, ControlError, Status, TokenOwner};
use ferrogram_store::Store;
use parking_lot::Mutex;
use serde_json::{Value, json};

pub struct Host {
    pub store: Arc<Store>,
    /// The sandbox's base URL: where tokens are checked.
    pub bot_api: String,
    pub states: Mutex<HashMap<(i64, String), Status>>,
    http: reqwest::Client,
}

impl Host {
    pub fn new(store: Arc<Store>, bot_api: String) -> Arc<Host> {
        Arc::new(Host { store, bot_api, states: Mutex::new(HashMap::new()), http: reqwest::Client::new() })
    }

    /// The bot's state, after setting it to `set`; `UnknownBot` when the store has no such bot.
    async fn report(&self, workspace: i64, name: &str, set: Option<Status>) -> Result<BotStatus, ControlError> {
        let bot = self.store.bot_named(workspace, name).await.unwrap().ok_or(ControlError::UnknownBot)?;
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
            errors: vec![],
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
        Box::pin(self.report(workspace, name, Some(Status::Running)))
    }
    fn remove<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Value, ControlError>> {
        Box::pin(async move {
            let bot = self.store.bot_named(workspace, name).await.unwrap().ok_or(ControlError::UnknownBot)?;
            let removed = self.store.remove_bot(workspace, bot.id, keep_data).await.unwrap();
            let removed = removed.ok_or(ControlError::UnknownBot)?;
            self.states.lock().remove(&(workspace, name.to_owned()));
            Ok(json!({"name": name, "versions": removed.versions, "kept_data": removed.kept_data}))
        })
    }
    fn check_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<TokenOwner, String>> {
        Box::pin(async move {
            let url = format!("{}/bot{token}/getMe", self.bot_api);
            let answer: Value =
                self.http.get(url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
            if answer["ok"] != true {
                return Err(answer["description"].as_str().unwrap_or("refused").to_owned());
            }
            let id = answer["result"]["id"].as_u64().ok_or("no id")?;
            Ok(TokenOwner { id, username: answer["result"]["username"].as_str().unwrap_or_default().to_owned() })
        })
    }
}
