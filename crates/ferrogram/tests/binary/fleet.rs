//! `serve` hosting a fleet from a test's folder, driven as an operator would: a `bots/` folder
//! and a SQLite `fleet.db` in a [`TempFolder`], API tokens made by the command line, one
//! [`Serve`] process (the sandbox built in) per start, and its bots asked and watched through the
//! sandbox and the REST API. Shared by `supervisor.rs` and `lifecycle.rs`; not every test uses
//! every helper. Every wait polls with a deadline.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::telegram::{ask, status_until, user};
use super::{TempFolder, ferrogram, serve_ports, text};

pub const DEADLINE: Duration = Duration::from_secs(30);

/// A fresh folder of `kind` with an empty `bots/`, removed when dropped.
pub fn folder(kind: &str) -> TempFolder {
    let folder = TempFolder::new(kind);
    std::fs::create_dir_all(folder.0.join("bots")).unwrap();
    folder
}

/// The SQLite URL of the folder's `fleet.db`.
pub fn url(folder: &TempFolder) -> String {
    format!("sqlite://{}", folder.0.join("fleet.db").display())
}

/// A bot named `name` answering `/hi` with `answer`.
pub fn bot(name: &str, answer: &str) -> String {
    format!("ferrogram: 1\nbot:\n  name: {name}\non:\n  - command: hi\n    do:\n      - reply: \"{answer}\"\n")
}

/// `bot add FILE` into the database, checking it succeeded.
pub fn add(file: &Path, url: &str) {
    let output = ferrogram(&["bot", "add", file.to_str().unwrap(), "--database", url]);
    assert!(output.status.success(), "bot add failed: {}", text(&output.stderr));
}

/// `token issue NAME --role ROLE` in the workspace `default`: the secret printed (checked to be
/// one line starting `fg_`).
pub fn issue(url: &str, name: &str, role: &str) -> String {
    let output = super::Run::new(&["token", "issue", name, "--role", role, "--database", url])
        .env_remove("FERROGRAM_DATABASE_URL")
        .secret_stdout()
        .output();
    assert!(output.status.success(), "token issue failed: {}", text(&output.stderr));
    let secret = text(&output.stdout).trim().to_owned();
    assert!(secret.starts_with("fg_") && !secret.contains('\n'), "{secret}");
    assert!(text(&output.stderr).contains(&format!("({role}) of workspace default")), "{}", text(&output.stderr));
    secret
}

/// One `serve` process on the folder's `bots/` and database, the sandbox built in, on fresh
/// ports; killed when dropped.
pub struct Serve {
    child: super::Guarded,
    log: PathBuf,
    pub sandbox: String,
    pub server: String,
    pub http: reqwest::Client,
}

impl Serve {
    /// Starts `serve`, its output in `folder/LOG`.
    pub fn start(folder: &TempFolder, log: &str) -> Serve {
        let (port, listen) = serve_ports();
        let (port_text, listen_text) = (port.to_string(), format!("127.0.0.1:{listen}"));
        let bots = folder.0.join("bots");
        let state = folder.0.join("sandbox.json").display().to_string();
        let database = url(folder);
        let args = [
            "serve",
            "--port",
            &port_text,
            "--bots",
            bots.to_str().unwrap(),
            "--database",
            &database,
            "--sandbox-state",
            &state,
            "--listen",
            &listen_text,
        ];
        Serve {
            child: super::spawn(&folder.0, log, &args),
            log: folder.0.join(log),
            sandbox: format!("http://127.0.0.1:{port}"),
            server: format!("http://{listen_text}"),
            http: ferrogram_telegram::http_client().expect("http client"),
        }
    }

    /// Kills the process (as a crash would) and waits for its end.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("serve killed");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ferrogram bot ARGS --server … --token TOKEN`.
    pub fn bot(&self, token: &str, args: &[&str]) -> Output {
        ferrogram(&[&["bot"], args, &["--server", &self.server, "--token", token]].concat())
    }

    /// Polls the bot's status until `done` holds for it; returns it.
    pub async fn status_until(&self, token: &str, name: &str, done: impl Fn(&Value) -> bool) -> Value {
        status_until(&self.http, &self.server, token, name, &self.log, done).await
    }

    /// The bot's status code and body on the REST API.
    pub async fn status(&self, token: &str, name: &str) -> (u16, Value) {
        self.api(reqwest::Method::GET, &format!("/api/v1/bots/{name}/status"), Some(token)).await.expect("answered")
    }

    /// A call to the REST API: its status code and JSON body (`Null` when none).
    pub async fn api(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> Result<(u16, Value), String> {
        let mut request = self.http.request(method, format!("{}{path}", self.server));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// A new user of the built-in sandbox.
    pub async fn user(&self) -> i64 {
        user(&self.http, &self.sandbox).await
    }

    /// Sends `/hi` to the sandbox bot of `name` as `user`; the text of its answer.
    pub async fn ask(&self, name: &str, user: i64) -> String {
        let id = ferrogram_core::sandbox_bot_id(name) as i64;
        ask(&self.http, &self.sandbox, id, user, &self.log.display().to_string()).await
    }

    /// Polls the log until it has `line`.
    pub async fn logged(&self, line: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.log().contains(line) {
            assert!(Instant::now() < deadline, "no {line:?} in\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
