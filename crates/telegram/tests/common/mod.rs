//! A sandbox per test, a client pointed at it, and the sandbox's control API (the user side,
//! docs/sandbox.md).

#![allow(dead_code)] // each test file uses a different part of the harness

use std::time::Duration;

use ferrogram_sandbox::Sandbox;
use ferrogram_telegram::{Backoff, Client, ClientBuilder};
use frankenstein::methods::SendMessageParams;
use frankenstein::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use reqwest::Method;
use serde_json::{Value, json};

pub const BOT_ID: i64 = 4242;
pub const TOKEN: &str = "4242:sandbox-Secret_token";
pub const BOT_USERNAME: &str = "ferrogram_test_bot";

/// The 1×1 PNG the tests upload (a complete, valid image).
pub const DOT_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// An inline keyboard of one callback button.
pub fn keyboard(label: &str, data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::builder()
        .inline_keyboard(vec![vec![InlineKeyboardButton::builder().text(label).callback_data(data).build()]])
        .build()
}

/// sendMessage parameters for a plain text.
pub fn text(chat: i64, text: &str) -> SendMessageParams {
    SendMessageParams::builder().chat_id(chat).text(text).build()
}

/// Retries quick enough for tests.
pub fn fast_retry() -> Backoff {
    Backoff { max_attempts: 4, base: Duration::from_millis(20), cap: Duration::from_millis(200), jitter: true }
}

pub struct World {
    pub sandbox: Sandbox,
    pub client: Client,
    base: String,
    control: reqwest::Client,
}

impl World {
    /// A sandbox with its flood limits off (tests that want them turn them on), the test bot,
    /// and a client for it.
    pub async fn start() -> World {
        World::start_with(|builder| builder).await
    }

    pub async fn start_with(configure: impl FnOnce(ClientBuilder) -> ClientBuilder) -> World {
        let sandbox = Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox starts");
        let base = sandbox.url();
        let builder = Client::builder(TOKEN).api_url(base.clone()).retry(fast_retry());
        let client = configure(builder).build().expect("client builds");
        ferrogram_telegram::install_crypto_provider();
        let control = reqwest::Client::builder().build().expect("control HTTP client");
        let world = World { sandbox, client, base, control };
        world.post("/sandbox/bots", json!({"token": TOKEN, "username": BOT_USERNAME, "first_name": "Ferro"})).await;
        world.set_limits(json!({"enabled": false})).await;
        world
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.control.request(method.clone(), format!("{}{}", self.base, path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn set_limits(&self, limits: Value) {
        self.call(Method::PUT, "/sandbox/limits", Some(limits)).await;
    }

    /// Injects faults into the test bot's next matching calls.
    pub async fn fault(&self, fault: Value) {
        self.post(&format!("/sandbox/bots/{BOT_ID}/faults"), fault).await;
    }

    /// A new user who has started the bot; the private chat's id is the user's id.
    pub async fn user(&self, first_name: &str) -> i64 {
        let user = self.post("/sandbox/users", json!({"first_name": first_name})).await;
        let id = user["id"].as_i64().expect("user id");
        self.act("command", id, json!({"command": "start"})).await;
        id
    }

    /// A supergroup with `members` and the bot.
    pub async fn group(&self, title: &str, members: &[i64]) -> i64 {
        let chat = self
            .post(
                "/sandbox/groups",
                json!({"title": title, "type": "supergroup", "members": members, "bots": [BOT_ID]}),
            )
            .await;
        chat["id"].as_i64().expect("group id")
    }

    /// Acts as `user`; `extra` holds the kind's own fields.
    pub async fn act(&self, kind: &str, user: i64, extra: Value) -> Value {
        let mut body = json!({"bot_id": BOT_ID, "user_id": user});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        self.post(&format!("/sandbox/act/{kind}"), body).await
    }

    /// The sequence number of the bot's latest event.
    pub async fn last_seq(&self) -> i64 {
        let answer = self.get(&format!("/sandbox/events?bot_id={BOT_ID}")).await;
        answer["last"].as_i64().unwrap_or(0)
    }

    /// The bot's events in `chat` after `after`, waiting up to 5 s for the first.
    pub async fn events(&self, chat: i64, after: i64) -> Vec<Value> {
        let answer = self.get(&format!("/sandbox/events?bot_id={BOT_ID}&chat_id={chat}&after={after}&timeout=5")).await;
        answer["events"].as_array().cloned().unwrap_or_default()
    }

    /// The first event of `kind` in `chat` after `after`.
    pub async fn next_event(&self, chat: i64, after: i64, kind: &str) -> Value {
        let mut after = after;
        loop {
            let events = self.events(chat, after).await;
            assert!(!events.is_empty(), "no {kind} event in chat {chat} after {after}");
            for event in &events {
                if event["kind"] == kind {
                    return event.clone();
                }
                after = after.max(event["seq"].as_i64().unwrap_or(after));
            }
        }
    }

    /// Every event of `kind` in `chat` after `after` that has already happened.
    pub async fn events_of_kind(&self, chat: i64, after: i64, kind: &str) -> Vec<Value> {
        let answer = self.get(&format!("/sandbox/events?bot_id={BOT_ID}&chat_id={chat}&after={after}")).await;
        let events = answer["events"].as_array().cloned().unwrap_or_default();
        events.into_iter().filter(|e| e["kind"] == kind).collect()
    }

    /// The chat's history as the bot sees it.
    pub async fn history(&self, chat: i64) -> Vec<Value> {
        let answer = self.get(&format!("/sandbox/chats/{chat}/messages?bot_id={BOT_ID}")).await;
        answer.as_array().cloned().unwrap_or_default()
    }

    /// Texts the bot sent to `chat`, in order.
    pub async fn bot_texts(&self, chat: i64) -> Vec<String> {
        self.history(chat)
            .await
            .into_iter()
            .filter(|m| m["from_bot"] == true)
            .filter_map(|m| m["message"]["text"].as_str().map(str::to_owned))
            .collect()
    }
}
