//! One `ferrogram serve` process of the built binary on a test's folder: a bots folder, a
//! SQLite database file and the sandbox's state file, all kept across restarts; each start on
//! fresh ports (the sandbox's and the stand-in model's after it), the HTTP listener on a free
//! one. Shared by the tests that stop, kill and load `serve` (`serve_crash.rs`,
//! `serve_shutdown.rs`, `serve_isolation.rs`); not every test uses every helper.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Guarded, Run, request};

pub const STARTUP: Duration = Duration::from_secs(30);

pub use super::free_port_pair;

/// A fresh temporary folder with a `bots` folder in it.
pub fn scratch(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("ferrogram-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(folder.join("bots")).expect("temporary folder");
    folder
}

pub struct Serve {
    pub child: Guarded,
    pub log: PathBuf,
    pub url: String,
    pub http: reqwest::Client,
}

impl Serve {
    /// Starts `serve` on `folder` (`bots/`, `serve.db`, `sandbox.json`), its output in
    /// `folder/log`, with `extra` flags and `env` variables (e.g. `FERROGRAM_SHUTDOWN_GRACE`).
    pub fn start(folder: &Path, log: &str, extra: &[&str], env: &[(&str, &str)]) -> Serve {
        let port = free_port_pair();
        let port_text = port.to_string();
        let bots = folder.join("bots").display().to_string();
        let database = database_url(folder);
        let state = folder.join("sandbox.json").display().to_string();
        let mut args = vec!["serve", "--port", &port_text, "--bots", &bots, "--database", &database];
        args.extend(["--sandbox-state", &state, "--listen", "127.0.0.1:0"]);
        args.extend(extra);
        let child = Run::new(&args)
            .env_remove("FERROGRAM_DATABASE_URL")
            .env("FERROGRAM_SANDBOX_FLOOD_LIMITS", "false")
            .envs(env)
            .current_dir(folder)
            .spawn(&folder.join(log));
        let http = ferrogram_telegram::http_client().expect("http client");
        Serve { child, log: folder.join(log), url: format!("http://127.0.0.1:{port}"), http }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        request(&self.http, format!("{}{path}", self.url), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        request(&self.http, format!("{}{path}", self.url), Some(body)).await
    }

    /// Waits until the sandbox knows every bot of `names` (each made its first Bot API call).
    pub async fn running(&mut self, names: &[&str]) -> Vec<i64> {
        let ids: Vec<i64> = names.iter().map(|name| ferrogram_core::sandbox_bot_id(name) as i64).collect();
        let deadline = Instant::now() + STARTUP;
        loop {
            let bots = self.get("/sandbox/bots").await.unwrap_or_default();
            let known = |id: &i64| bots.as_array().is_some_and(|bots| bots.iter().any(|bot| bot["id"] == *id));
            if ids.iter().all(known) {
                return ids;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("serve exited with {status}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "{names:?} did not all start:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new sandbox user.
    pub async fn user(&self, name: &str) -> i64 {
        let user = self.post("/sandbox/users", json!({"first_name": name})).await.expect("a user");
        user["id"].as_i64().expect("user id")
    }

    /// `user` sends `text` to `bot`: the event's seq.
    pub async fn send(&self, bot: i64, user: i64, text: &str) -> Result<u64, String> {
        let sent = self.post("/sandbox/act/text", json!({"bot_id": bot, "user_id": user, "text": text})).await?;
        Ok(sent["seq"].as_u64().unwrap_or_default())
    }

    /// Acts as `user` on `bot` (`kind` and `body` as the sandbox's `/sandbox/act/KIND` takes
    /// them) and returns the text of the bot's next message in the chat.
    pub async fn act(&self, bot: i64, user: i64, kind: &str, mut body: Value) -> String {
        body["bot_id"] = json!(bot);
        body["user_id"] = json!(user);
        let acted = self.post(&format!("/sandbox/act/{kind}"), body).await.expect("acted");
        let after = acted["seq"].as_u64().expect("the event's seq");
        let deadline = Instant::now() + STARTUP;
        loop {
            let path = format!("/sandbox/events?bot_id={bot}&chat_id={user}&kind=sent&after={after}&timeout=5");
            let events = self.get(&path).await.expect("events");
            if let Some(text) = events["events"][0]["message"]["text"].as_str() {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "no answer; log:\n{}", self.log());
        }
    }

    /// The listener's address (`http://HOST:PORT`), once `serve` logged it.
    pub async fn listening(&self) -> String {
        let deadline = Instant::now() + STARTUP;
        loop {
            let log = self.log();
            if let Some(url) = log.lines().find_map(|line| line.strip_prefix("Listening on ")) {
                return url.trim().to_owned();
            }
            assert!(Instant::now() < deadline, "serve did not listen; log:\n{log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The updates the sandbox holds for `bot` that it has not confirmed.
    pub async fn pending(&self, bot: i64) -> Option<u64> {
        let bots = self.get("/sandbox/bots").await.ok()?;
        bots.as_array()?.iter().find(|b| b["id"] == bot)?["pending_update_count"].as_u64()
    }

    /// The process id, for `kill`.
    pub fn pid(&self) -> String {
        self.child.id().expect("serve runs").to_string()
    }

    /// Sends `signal` (`TERM`, `KILL`) with `kill`.
    pub async fn signal(&self, signal: &str) {
        let pid = self.pid();
        let status = tokio::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().await;
        assert!(status.expect("kill runs").success(), "kill -{signal} {pid}");
    }
}

/// The test's SQLite database.
pub fn database_url(folder: &Path) -> String {
    format!("sqlite://{}", folder.join("serve.db").display())
}
