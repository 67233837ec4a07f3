//! The try-it chat's bots (decision 0056): a bot's draft run as a throwaway bot against `serve`'s
//! sandbox, for the dashboard's code view. Each draft runs in an engine of its own whose store is
//! in memory ([`ferrogram_engine::EngineConfig::default`]'s), under a sandbox id of its own (from
//! `draft:WORKSPACE:NAME`), with none of the bot's stored secrets nor its token: the published
//! bot, its users' data and its Telegram bot are never touched, and nothing of a draft's run
//! outlives `serve`. Trying again reloads the draft's bot with the new file; a restart of the
//! conversation makes a new sandbox user (a new private chat, no state).

use std::collections::HashMap;
use std::sync::Arc;

use ferrogram_engine::{BotHandle, Engine};
use ferrogram_server::bots::{ControlError, DraftRun};

/// One draft running.
struct Run {
    handle: BotHandle,
    bot_id: u64,
    user_id: i64,
}

/// The drafts running, by (workspace, bot name).
pub(crate) struct Drafts {
    engine: Arc<Engine>,
    sandbox_url: String,
    http: reqwest::Client,
    runs: tokio::sync::Mutex<HashMap<(i64, String), Run>>,
}

fn refused(what: impl std::fmt::Display) -> ControlError {
    ControlError::Refused(what.to_string())
}

impl Drafts {
    /// Drafts run on `engine` (one of their own, on an in-memory store) against the sandbox at
    /// `sandbox_url`.
    pub(crate) fn new(engine: Arc<Engine>, sandbox_url: String, http: reqwest::Client) -> Drafts {
        Drafts { engine, sandbox_url, http, runs: tokio::sync::Mutex::default() }
    }

    /// The sandbox's origin, which the web chat is served from.
    pub(crate) fn origin(&self) -> String {
        self.sandbox_url.trim_end_matches('/').to_owned()
    }

    /// Runs `source` as the draft of `workspace`'s bot `name`: reloaded when it runs, started
    /// otherwise; `restart` (or a first run) makes a new sandbox user to talk to it.
    pub(crate) async fn run(
        &self,
        workspace: i64,
        name: &str,
        source: &str,
        restart: bool,
    ) -> Result<DraftRun, ControlError> {
        let file_name = format!("{name}.draft.yaml");
        let mut runs = self.runs.lock().await;
        let key = (workspace, name.to_owned());
        if let Some(run) = runs.get_mut(&key) {
            match self.engine.reload_source(run.handle, source, &file_name).await {
                Ok(()) => {
                    if restart {
                        run.user_id = self.new_user().await?;
                    }
                    return Ok(self.answer(run));
                }
                Err(error) => {
                    // A reload the engine refuses (say, another kind of receiving): start afresh.
                    tracing::info!("{name}: the draft is started again ({error})");
                    if let Some(old) = runs.remove(&key) {
                        let _ = self.engine.stop(old.handle).await;
                    }
                }
            }
        }
        let file = ferrogram_schema::load_str(source, &file_name).map_err(|diagnostics| {
            refused(diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        })?;
        let bot_id = ferrogram_core::sandbox_bot_id(&format!("draft:{workspace}:{name}"));
        // Any well-formed token works in the sandbox; the bot's id is its number.
        let token = format!("{bot_id}:draft");
        self.register(&token, name).await?;
        let handle = self.engine.add_bot(file, &token, &self.sandbox_url).await.map_err(refused)?;
        let user_id = match self.new_user().await {
            Ok(user) => user,
            Err(error) => {
                let _ = self.engine.stop(handle).await;
                return Err(error);
            }
        };
        let run = Run { handle, bot_id, user_id };
        let answer = self.answer(&run);
        runs.insert(key, run);
        Ok(answer)
    }

    fn answer(&self, run: &Run) -> DraftRun {
        let chat_url = format!("{}/?bot={}&user={}&chat={}", self.origin(), run.bot_id, run.user_id, run.user_id);
        DraftRun { chat_url, bot_id: run.bot_id, user_id: run.user_id }
    }

    /// Registers the draft's bot in the sandbox (its control API); it may be there already.
    async fn register(&self, token: &str, name: &str) -> Result<(), ControlError> {
        let username: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let body = serde_json::json!({
            "token": token, "username": format!("{username}_draft_bot"), "first_name": format!("{name} (draft)"),
        });
        let url = format!("{}/sandbox/bots", self.origin());
        let response =
            self.http.post(url).json(&body).send().await.map_err(|e| refused(format!("the sandbox: {e}")))?;
        if response.status().is_success() || response.status() == reqwest::StatusCode::CONFLICT {
            return Ok(());
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(refused(format!("the sandbox refused the draft's bot ({status}): {text}")))
    }

    /// A new sandbox user: a new conversation.
    async fn new_user(&self) -> Result<i64, ControlError> {
        let url = format!("{}/sandbox/users", self.origin());
        let body = serde_json::json!({"first_name": "Tester"});
        let response =
            self.http.post(url).json(&body).send().await.map_err(|e| refused(format!("the sandbox: {e}")))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.map_err(|e| refused(format!("the sandbox: {e}")))?;
        answer["id"].as_i64().ok_or_else(|| refused(format!("the sandbox made no user ({status}): {answer}")))
    }

    /// Stops every draft (`serve` stopping).
    pub(crate) async fn stop_all(&self) {
        let mut runs = self.runs.lock().await;
        for (_, run) in runs.drain() {
            if let Err(error) = self.engine.stop(run.handle).await {
                tracing::warn!("a draft: {error}");
            }
        }
    }
}
