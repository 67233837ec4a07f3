//! A sandbox in-process, an engine running bots against it, and the user side played through
//! the control API. Waiting is on the engine's handled-updates counter and the sandbox's event
//! long poll, never on sleeps.

#![allow(dead_code)]

/// A bot that answers every text with the same text.
pub const ECHO: &str = r#"
ferrogram: 1
bot: {name: echo}
on:
  - text: any
    do:
      - reply: "{{ message.text }}"
"#;

pub mod fixtures;
pub mod memory_attacks;

use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{BotHandle, Engine, EngineConfig, Outgoing};
use ferrogram_telegram::flood::Limit;
use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(15);

/// A reply to `chat` as a handler commits it to the outbox (what a crashed run may leave).
pub fn outbox_reply(chat: i64, text: &str) -> Outgoing {
    Outgoing {
        chat_id: chat,
        method: "sendMessage".into(),
        params: json!({"chat_id": chat, "text": text}),
        bulk: false,
    }
}

/// Engine settings for tests: no flood pacing to wait for.
pub fn test_config() -> EngineConfig {
    let fast = Limit::per_second(1000).with_burst(1000);
    let flood =
        ferrogram_telegram::flood::Config { private_chat: fast, group_chat: fast, bot: fast, ..Default::default() };
    EngineConfig {
        flood,
        poll_timeout: 5,
        update_budget: Duration::from_secs(10),
        // An `llm` answer shows as its placeholder then its final edit, whatever the timing:
        // transcripts stay exact. `tests/llm.rs` sets its own interval to see the streamed edits.
        llm_edit_interval: Duration::from_secs(3600),
        ..EngineConfig::default()
    }
}

pub struct World {
    pub sandbox: ferrogram_sandbox::Sandbox,
    pub http: reqwest::Client,
    /// Shared, so a listener (`ferrogram_server`) can serve it too.
    pub engine: Arc<Engine>,
    next_bot: u64,
}

/// One bot of the world.
#[derive(Clone, Copy)]
pub struct Bot {
    pub handle: BotHandle,
    pub id: u64,
}

impl World {
    /// The sandbox gets the engine's allow-list of private addresses, as under `serve`: a bot
    /// sending a photo by URL from a local test server must list that server.
    pub async fn start(config: EngineConfig) -> World {
        let mut sandbox_config = ferrogram_sandbox::Config::default();
        sandbox_config.limits.enabled = false;
        sandbox_config.allow_private = config.http.allow_private.clone();
        let sandbox = ferrogram_sandbox::Sandbox::start(sandbox_config).await.expect("sandbox starts");
        let http = ferrogram_telegram::http_client().expect("http client");
        World { sandbox, http, engine: Arc::new(Engine::new(config)), next_bot: 7000 }
    }

    pub fn url(&self) -> String {
        self.sandbox.url()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.url())).json(&body).send().await.expect("request");
        let status = response.status();
        let value: Value = response.json().await.expect("JSON answer");
        assert!(status.is_success(), "POST {path} {body} -> {status} {value}");
        value
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.url())).send().await.expect("request");
        response.json().await.expect("JSON answer")
    }

    /// Creates the bot in the sandbox and runs `yaml` in the engine.
    pub async fn bot(&mut self, yaml: &str) -> Bot {
        let file = ferrogram_schema::load_str(yaml, "test.yaml").expect("valid bot file");
        self.bot_file(file).await
    }

    pub async fn bot_file(&mut self, file: ferrogram_schema::BotFile) -> Bot {
        let (id, token) = self.register_bot().await;
        self.run_bot(file, id, &token).await
    }

    /// Creates a bot in the sandbox without running it: its id and token.
    pub async fn register_bot(&mut self) -> (u64, String) {
        self.next_bot += 1;
        let token = format!("{}:secret", self.next_bot);
        self.post("/sandbox/bots", json!({"token": token})).await;
        (self.next_bot, token)
    }

    /// Runs a bot created with [`World::register_bot`].
    pub async fn run_bot(&self, file: ferrogram_schema::BotFile, id: u64, token: &str) -> Bot {
        let handle = self.engine.add_bot(file, token, &self.url()).await.expect("bot starts");
        Bot { handle, id }
    }

    pub async fn user(&self, first_name: &str, language: &str) -> i64 {
        let user = self.post("/sandbox/users", json!({"first_name": first_name, "language_code": language})).await;
        user["id"].as_i64().expect("user id")
    }

    /// Acts as `user` and waits until the engine handled `count` updates of the bot in total.
    pub async fn act(&self, bot: Bot, kind: &str, user: i64, mut body: Value) -> Value {
        body["bot_id"] = json!(bot.id);
        body["user_id"] = json!(user);
        self.post(&format!("/sandbox/act/{kind}"), body).await
    }

    pub async fn wait_handled(&self, bot: Bot, count: u64) {
        let mut handled = self.engine.handled(bot.handle).expect("bot runs");
        tokio::time::timeout(WAIT, handled.wait_for(|n| *n >= count))
            .await
            .unwrap_or_else(|_| panic!("the engine did not handle {count} updates in time"))
            .expect("bot runs");
    }

    /// The bot's actions in `chat` after `after` (waiting up to `timeout` s for the first).
    pub async fn events(&self, bot: Bot, chat: i64, after: u64, timeout: u64) -> (Vec<Value>, u64) {
        let answer = self
            .get(&format!("/sandbox/events?bot_id={}&chat_id={chat}&after={after}&timeout={timeout}", bot.id))
            .await;
        let events = answer["events"].as_array().cloned().unwrap_or_default();
        let last = answer["last"].as_u64().unwrap_or(after);
        (events, last.max(after))
    }

    /// Presses a button with any `data` on message `message_id` of `chat` (a group when
    /// negative), as a modified client could: the sandbox's compat route takes any data, where
    /// the control API only presses real buttons.
    pub async fn forge_press(&self, bot: Bot, user: i64, chat: i64, message_id: i64, data: &str) {
        let chat_json = if chat < 0 { json!({"id": chat, "type": "group"}) } else { json!({"id": chat}) };
        let body = json!({
            "botToken": format!("{}:secret", bot.id), "from": {"id": user, "first_name": "Forger"},
            "message": {"chat": chat_json, "message_id": message_id}, "data": data,
        });
        self.post("/sendCallback", body).await;
    }

    /// The bot's events of `kind` in `chat` after `after`, waiting until there are `count`.
    pub async fn wait_kind(&self, bot: Bot, chat: i64, after: u64, kind: &str, count: usize) -> (Vec<Value>, u64) {
        let mut found = Vec::new();
        let mut last = after;
        let deadline = tokio::time::Instant::now() + WAIT;
        while found.len() < count {
            assert!(tokio::time::Instant::now() < deadline, "only {found:?} of kind {kind}, wanted {count}");
            let (events, seq) = self.events(bot, chat, last, 5).await;
            last = seq;
            found.extend(events.into_iter().filter(|e| e["kind"] == kind));
        }
        (found, last)
    }

    /// Texts the bot sent in `chat` after `after`, waiting until there are `count` of them.
    pub async fn wait_sent(&self, bot: Bot, chat: i64, after: u64, count: usize) -> (Vec<String>, u64) {
        let mut texts = Vec::new();
        let mut last = after;
        let deadline = tokio::time::Instant::now() + WAIT;
        while texts.len() < count {
            assert!(tokio::time::Instant::now() < deadline, "only {texts:?} sent, wanted {count}");
            let (events, seq) = self.events(bot, chat, last, 5).await;
            last = seq;
            for event in events.iter().filter(|e| e["kind"] == "sent") {
                texts.push(event["message"]["text"].as_str().unwrap_or_default().to_owned());
            }
        }
        (texts, last)
    }
}
