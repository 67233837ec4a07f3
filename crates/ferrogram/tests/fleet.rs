//! Bots live in the store: `ferrogram bot add` and `bot list` on a SQLite file, and `serve`
//! importing its folder, running the store's bots, reloading an edited file, keeping the
//! running version when an edit is broken, starting a new file's bot, and running the same
//! bots again after a restart. Through the built binary; the bots are asked as a user through
//! the sandbox's control API. Every wait polls for what it expects, with a deadline.

#![cfg(unix)]

mod binary;

use binary::free_port_pair;
use binary::{ferrogram, text};
use std::path::{Path, PathBuf};
use std::time::Duration;

use binary::{TempFolder, request};
use serde_json::json;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(30);

impl TempFolder {
    /// The SQLite URL of the folder's `fleet.db`.
    fn url(&self) -> String {
        format!("sqlite://{}", self.0.join("fleet.db").display())
    }
}

/// A bot named `name` answering `/hi` with `answer`.
fn bot(name: &str, answer: &str) -> String {
    format!("ferrogram: 1\nbot:\n  name: {name}\non:\n  - command: hi\n    do:\n      - reply: \"{answer}\"\n")
}

/// `name` with a misspelt step on line 7: an error the validator points at.
fn broken(name: &str) -> String {
    format!("ferrogram: 1\nbot:\n  name: {name}\non:\n  - command: hi\n    do:\n      - rply: \"never\"\n")
}

/// `bot add FILE` into the database: its standard output, after checking it succeeded.
fn add(file: &Path, url: &str) -> String {
    let output = ferrogram(&["bot", "add", file.to_str().unwrap(), "--database", url]);
    assert!(output.status.success(), "bot add failed: {}", text(&output.stderr));
    text(&output.stdout)
}

#[test]
fn bot_add_saves_a_version_only_when_the_file_changed_and_refuses_a_bad_file() {
    let folder = TempFolder::new("fleet");
    let url = folder.url();
    let file = folder.0.join("greeter.yaml");
    std::fs::write(&file, bot("greeter", "hello")).unwrap();
    assert_eq!(add(&file, &url), "added greeter (version 1)\n");
    assert_eq!(add(&file, &url), "greeter: unchanged\n");
    std::fs::write(&file, bot("greeter", "hello again")).unwrap();
    assert_eq!(add(&file, &url), "greeter: version 2\n");

    // A file with an error: its diagnostics as `validate` prints them, a failure, nothing saved.
    std::fs::write(&file, broken("greeter")).unwrap();
    let refused = ferrogram(&["bot", "add", file.to_str().unwrap(), "--database", &url]);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    let diagnostic = format!("{}:7:9: error: ", file.display());
    assert!(stderr.contains(&diagnostic) && stderr.contains("rply"), "{stderr}");
    assert!(stderr.contains("1 error, 0 warnings") && stderr.contains("not saved"), "{stderr}");
    assert_eq!(text(&refused.stdout), "");
    let validate = ferrogram(&["validate", file.to_str().unwrap()]);
    let first_line = text(&validate.stdout).lines().next().unwrap_or_default().to_owned();
    assert!(stderr.lines().any(|line| line == first_line), "as validate prints it: {first_line}\n{stderr}");

    // Another workspace, by name.
    let other = folder.0.join("other.json");
    std::fs::write(&other, r#"{"ferrogram": 1, "bot": {"name": "other"}, "on": []}"#).unwrap();
    let output = ferrogram(&["bot", "add", other.to_str().unwrap(), "--workspace", "team", "--database", &url]);
    assert_eq!(text(&output.stdout), "added other (version 1)\n", "{}", text(&output.stderr));

    let list = ferrogram(&["bot", "list", "--database", &url]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listed = text(&list.stdout);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with("default/greeter: version 2, saved 20") && lines[0].ends_with(" UTC"), "{listed}");
    assert!(lines[1].starts_with("team/other: version 1, saved "), "{listed}");

    let empty = ferrogram(&["bot", "list", "--database", &format!("sqlite://{}", folder.0.join("e.db").display())]);
    assert_eq!(text(&empty.stdout), "no bots\n");
}

/// One `serve` process on the test's folder and database.
struct Serve {
    child: binary::Guarded,
    log: PathBuf,
    url: String,
    http: reqwest::Client,
}

impl Serve {
    fn start(folder: &TempFolder, log: &str) -> Serve {
        let port = free_port_pair();
        let (port_text, bots, state) =
            (port.to_string(), folder.0.join("bots"), folder.0.join("sandbox.json").display().to_string());
        let database = folder.url();
        let args = ["serve", "--port", &port_text, "--bots", bots.to_str().unwrap(), "--database", &database];
        let child = binary::spawn(
            &folder.0,
            log,
            &[&args[..], &["--sandbox-state", &state, "--listen", "127.0.0.1:0"]].concat(),
        );
        let http = ferrogram_telegram::http_client().expect("http client");
        Serve { child, log: folder.0.join(log), url: format!("http://127.0.0.1:{port}"), http }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line holding every one of `parts`; returns that line.
    async fn logged(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|line| parts.iter().all(|part| line.contains(part))) {
                return line.to_owned();
            }
            assert!(Instant::now() < deadline, "no log line with {parts:?}:\n{log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the sandbox knows the bot of `name` (its bot is running).
    async fn running(&self, name: &str) -> u64 {
        let bot_id = ferrogram_core::sandbox_bot_id(name);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let bots = request(&self.http, format!("{}/sandbox/bots", self.url), None).await.unwrap_or_default();
            if bots.as_array().is_some_and(|bots| bots.iter().any(|bot| bot["id"].as_u64() == Some(bot_id))) {
                return bot_id;
            }
            assert!(Instant::now() < deadline, "{name} did not start:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn user(&self) -> i64 {
        let user = request(&self.http, format!("{}/sandbox/users", self.url), Some(json!({"first_name": "Ann"})));
        user.await.expect("a user")["id"].as_i64().expect("user id")
    }

    /// Sends `/hi` to the bot of `name` as `user`; the text of the bot's answer.
    async fn ask(&self, name: &str, user: i64) -> String {
        let bot_id = self.running(name).await;
        let body = json!({"bot_id": bot_id, "user_id": user, "command": "hi"});
        let sent = request(&self.http, format!("{}/sandbox/act/command", self.url), Some(body)).await;
        let after = sent.expect("command sent")["seq"].as_i64().expect("the event's seq");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let events = request(
                &self.http,
                format!("{}/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent&after={after}&timeout=5", self.url),
                None,
            )
            .await
            .expect("events");
            if let Some(text) =
                events["events"].as_array().and_then(|e| e.first()).and_then(|e| e["message"]["text"].as_str())
            {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "{name} did not answer: {events}\n{}", self.log());
        }
    }

    /// SIGTERM, then waits for the process to end.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let status = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill runs");
        assert!(status.success());
        let ended = tokio::time::timeout(DEADLINE, self.child.wait()).await;
        assert!(ended.is_ok(), "serve did not stop:\n{}", self.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_store_reloads_edited_files_and_keeps_bots_across_restarts() {
    let folder = TempFolder::new("fleet");
    let bots = folder.0.join("bots");
    std::fs::create_dir_all(&bots).unwrap();
    let echo = bots.join("echo.yaml");
    std::fs::write(&echo, bot("echo", "first answer")).unwrap();

    let serve = Serve::start(&folder, "first.log");
    let user = serve.user_when_up("echo").await;
    assert_eq!(serve.ask("echo", user).await, "first answer");
    serve.logged(&["INFO", "added echo (version 1)"]).await;

    // An edit that validates: version 2, reloaded; the next update runs it.
    std::fs::write(&echo, bot("echo", "the second answer")).unwrap();
    serve.logged(&["INFO", "echo version 2 saved and reloaded"]).await;
    assert_eq!(serve.ask("echo", user).await, "the second answer");

    // A broken edit: its diagnostics logged as warnings, nothing saved, version 2 answers.
    std::fs::write(&echo, broken("echo")).unwrap();
    let diagnostic = serve.logged(&["WARN", &format!("{}:7:9: error: ", echo.display())]).await;
    assert!(diagnostic.contains("rply"), "{diagnostic}");
    serve.logged(&["WARN", "echo.yaml: not saved; the running version goes on"]).await;
    assert_eq!(serve.ask("echo", user).await, "the second answer");

    // A second file naming a bot another file of the folder has: refused, nothing saved.
    std::fs::write(bots.join("copy.yaml"), bot("echo", "an impostor")).unwrap();
    serve.logged(&["WARN", "copy.yaml: not saved: its bot name echo is taken by", "echo.yaml"]).await;
    assert_eq!(serve.ask("echo", user).await, "the second answer");
    std::fs::remove_file(bots.join("copy.yaml")).unwrap();

    // A new file starts a new bot.
    let newcomer = bots.join("newcomer.yml");
    std::fs::write(&newcomer, bot("newcomer", "I am new")).unwrap();
    assert_eq!(serve.ask("newcomer", user).await, "I am new");
    serve.logged(&["INFO", "newcomer version 1 added and started"]).await;

    // A removed file stops nothing.
    std::fs::remove_file(&newcomer).unwrap();
    serve.logged(&["INFO", "newcomer.yml: removed; the bot newcomer stays in the store and keeps running"]).await;
    assert_eq!(serve.ask("newcomer", user).await, "I am new");
    serve.stop().await;

    // While the server is down: a bot added from elsewhere (JSON, as stored text).
    let elsewhere = folder.0.join("later.json");
    let later = json!({"ferrogram": 1, "bot": {"name": "later"}, "on": [{"command": "hi", "do": [{"reply": "added while down"}]}]});
    std::fs::write(&elsewhere, serde_json::to_string_pretty(&later).unwrap()).unwrap();
    assert_eq!(add(&elsewhere, &folder.url()), "added later (version 1)\n");

    // Again on the same database: the store's bots run — echo at version 2 (its file is still
    // broken, so it is not imported), newcomer without its file, and the one added meanwhile.
    let serve = Serve::start(&folder, "second.log");
    assert_eq!(serve.ask("echo", user).await, "the second answer");
    assert_eq!(serve.ask("newcomer", user).await, "I am new");
    assert_eq!(serve.ask("later", user).await, "added while down");
    let log = serve.log();
    assert!(log.contains(&format!("{}: not imported", echo.display())), "{log}");
    serve.stop().await;

    let list = ferrogram(&["bot", "list", "--database", &folder.url()]);
    let listed = text(&list.stdout);
    let versions: Vec<&str> = listed.lines().map(|line| line.split(", saved").next().unwrap_or(line)).collect();
    assert_eq!(versions, ["default/echo: version 2", "default/newcomer: version 1", "default/later: version 1"]);
}

impl Serve {
    /// Waits for the bot of `name` to run, then makes a user.
    async fn user_when_up(&self, name: &str) -> i64 {
        self.running(name).await;
        self.user().await
    }
}
