//! Helpers for the bot-side integration tests: a sandbox started in-process, a Bot API
//! client that checks every answer's envelope, the control API, and a webhook receiver.

#![allow(dead_code)]

pub mod hook;
pub mod shape;

use ferrogram_sandbox::{Config, Sandbox, flood_limits::Limits};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// The overall guard of anything a test waits for; it only turns a hang into a failure.
pub const GUARD: Duration = Duration::from_secs(30);

/// The token most tests use, and the id it names.
pub const TOKEN: &str = "1001:test-token";
pub const BOT: i64 = 1001;

/// A 3×2 PNG (only its header matters to the sandbox).
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x03\0\0\0\x02\x08\x06\0\0\0\xb9\xea\xde\x81\0\0\0\x0bIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

/// `conformance/` at the repository root: the third-party libraries and their scripts.
pub fn conformance_dir() -> std::path::PathBuf {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")); // crates/sandbox
    crate_dir.parent().and_then(std::path::Path::parent).unwrap_or(crate_dir).join("conformance")
}

/// A suite whose third-party tools are missing: fails when CI requires them
/// (`FERROGRAM_REQUIRE_CONFORMANCE=1`), else prints a `SKIPPED` line past the harness's output
/// capture, so a skip is visible in every `cargo test` run. The caller then returns.
pub fn skip_or_fail(suite: &str, why: &str) {
    if std::env::var("FERROGRAM_REQUIRE_CONFORMANCE").is_ok_and(|v| v == "1") {
        panic!("{suite}: {why} (FERROGRAM_REQUIRE_CONFORMANCE=1; run conformance/install.sh)");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED {suite}: {why} (run .ci/run or conformance/install.sh)\n");
}

/// Fails the test if `future` does not finish within [`GUARD`].
pub async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A sandbox running in this process and a client for it.
pub struct Env {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub url: String,
}

/// A Bot API answer: the HTTP status and the JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The result of a successful call; panics with the error otherwise.
    pub fn ok(self) -> Value {
        assert_eq!(self.body["ok"], true, "expected success, got {} {}", self.status, self.body);
        assert_eq!(self.status, StatusCode::OK);
        self.body["result"].clone()
    }

    /// The code and description of a failed call, after checking the error envelope.
    pub fn err(self) -> (u16, String) {
        assert_eq!(self.body["ok"], false, "expected an error, got {}", self.body);
        assert_eq!(self.body["error_code"], self.status.as_u16(), "error_code matches the HTTP status: {}", self.body);
        let keys: Vec<&String> = self.body.as_object().expect("an object").keys().collect();
        for key in &keys {
            assert!(["ok", "error_code", "description", "parameters"].contains(&key.as_str()), "unexpected {key}");
        }
        let description = self.body["description"].as_str().expect("a description").to_string();
        (self.status.as_u16(), description)
    }
}

/// Flood limits off: most tests send faster than Telegram allows.
pub fn no_limits() -> Config {
    Config { limits: Limits { enabled: false, ..Limits::default() }, ..Config::default() }
}

/// Flood limits off, and files by URL may come from the local test server at `base`
/// (`http://127.0.0.1:PORT`): private addresses are refused unless allowed.
pub fn allowing(base: &str) -> Config {
    let port = base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a base URL with a port");
    Config { allow_private: vec![("127.0.0.1".into(), port)], ..no_limits() }
}

impl Env {
    /// A sandbox without flood limits.
    pub async fn start() -> Env {
        Env::with(no_limits()).await
    }

    pub async fn with(config: Config) -> Env {
        let config_strict = config.strict;
        let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
        let url = sandbox.url();
        let http = reqwest::Client::builder().timeout(GUARD).build().expect("a client");
        let env = Env { sandbox, http, url };
        if !config_strict {
            // A token creates its bot on first use; the control API needs the bot to exist.
            env.bot("getMe", json!({})).await;
        }
        env
    }

    pub fn bot_url(&self, token: &str, method: &str) -> String {
        format!("{}/bot{token}/{method}", self.url)
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap_or_default().to_string());
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        assert_eq!(content_type.as_deref(), Some("application/json"), "{text}");
        Answer { status, body }
    }

    /// Any request to the bot side.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        Env::answer(request.send().await.expect("the sandbox answers")).await
    }

    /// A call with a JSON body.
    pub async fn raw(&self, token: &str, method: &str, params: Value) -> Answer {
        self.send(self.http.post(self.bot_url(token, method)).json(&params)).await
    }

    pub async fn call(&self, token: &str, method: &str, params: Value) -> Value {
        self.raw(token, method, params).await.ok()
    }

    pub async fn fail(&self, token: &str, method: &str, params: Value) -> (u16, String) {
        self.raw(token, method, params).await.err()
    }

    /// A call with a JSON body as the default bot.
    pub async fn bot(&self, method: &str, params: Value) -> Value {
        self.call(TOKEN, method, params).await
    }

    pub async fn bot_fail(&self, method: &str, params: Value) -> (u16, String) {
        self.fail(TOKEN, method, params).await
    }

    /// A control API call that must succeed.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}/sandbox{path}", self.url)).json(&body).send().await.expect("answer");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert!(status.is_success(), "POST {path} failed: {status} {body}");
        body
    }

    /// A control API call that must fail: its status and error text.
    pub async fn post_fail(&self, path: &str, body: Value) -> (u16, String) {
        let response = self.http.post(format!("{}/sandbox{path}", self.url)).json(&body).send().await.expect("answer");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert!(!status.is_success(), "POST {path} should fail: {body}");
        assert_eq!(body["ok"], false);
        (status.as_u16(), body["error"].as_str().unwrap_or_default().to_string())
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}/sandbox{path}", self.url)).send().await.expect("answer");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert!(status.is_success(), "GET {path} failed: {status} {body}");
        body
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        let response = self.http.put(format!("{}/sandbox{path}", self.url)).json(&body).send().await.expect("answer");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert!(status.is_success(), "PUT {path} failed: {status} {body}");
        body
    }

    /// Creates a user and returns their id.
    pub async fn user(&self, first_name: &str) -> i64 {
        let user = self.post("/users", json!({ "first_name": first_name })).await;
        user["id"].as_i64().expect("a user id")
    }

    /// A user acts (`/sandbox/act/<kind>`) towards the default bot.
    pub async fn act(&self, kind: &str, user_id: i64, fields: Value) -> Value {
        self.act_for(BOT, kind, user_id, fields).await
    }

    pub async fn act_for(&self, bot_id: i64, kind: &str, user_id: i64, mut fields: Value) -> Value {
        fields["bot_id"] = json!(bot_id);
        fields["user_id"] = json!(user_id);
        self.post(&format!("/act/{kind}"), fields).await
    }

    /// A user writes to the default bot in their private chat; returns the Message.
    pub async fn say(&self, user_id: i64, text: &str) -> Value {
        self.act("text", user_id, json!({ "text": text })).await["message"].clone()
    }

    /// The pending updates of the default bot, without waiting.
    pub async fn updates(&self, params: Value) -> Vec<Value> {
        self.call(TOKEN, "getUpdates", params).await.as_array().expect("an array").clone()
    }

    /// Confirms every pending update of a bot.
    pub async fn drain(&self, token: &str) {
        let pending = self.call(token, "getUpdates", json!({})).await;
        if let Some(last) = pending.as_array().and_then(|u| u.last()) {
            let offset = last["update_id"].as_i64().unwrap() + 1;
            self.call(token, "getUpdates", json!({ "offset": offset })).await;
        }
    }

    /// Waits (the control API's long poll) for the next events after `after`.
    pub async fn events(&self, query: &str, after: u64) -> (Vec<Value>, u64) {
        let body = guard("events", self.get(&format!("/events?{query}&after={after}&timeout=20"))).await;
        let events = body["events"].as_array().cloned().unwrap_or_default();
        (events, body["last"].as_u64().unwrap_or(after))
    }

    /// The sequence number of the newest event, to wait for later ones.
    pub async fn last_event(&self) -> u64 {
        self.get("/events?timeout=0&after=18446744073709551615").await["last"].as_u64().unwrap()
    }

    /// A chat's history as the default bot sees it.
    pub async fn history(&self, chat_id: i64) -> Vec<Value> {
        self.get(&format!("/chats/{chat_id}/messages?bot_id={BOT}")).await.as_array().cloned().unwrap()
    }
}

/// The update ids of a getUpdates answer.
pub fn ids(updates: &[Value]) -> Vec<i64> {
    updates.iter().map(|u| u["update_id"].as_i64().expect("update_id")).collect()
}
