//! `serve`'s supervisor through the built binary: `ferrogram bot start|stop|reload|status`
//! against a running server's listener with an API token (`ferrogram token issue`), the
//! control API's refusals (401 without or with a bad token, 403 for a viewer acting, 404 for an
//! unknown bot) and its audit log; a bot whose stored version no longer validates is `failing`
//! and retried while the others run; a token revoked in the sandbox stops its bot as
//! `unauthorized` while another keeps answering. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use binary::free_port;
use binary::{ferrogram, text};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use binary::{TempFolder, request};
use serde_json::{Value, json};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(30);

/// A fresh folder per test with an empty `bots` folder in it, removed when dropped.
fn folder_with_bots() -> TempFolder {
    let folder = TempFolder::new("supervisor");
    std::fs::create_dir_all(folder.0.join("bots")).unwrap();
    folder
}

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

/// `bot add FILE` into the database, checking it succeeded.
fn add(file: &Path, url: &str) {
    let output = ferrogram(&["bot", "add", file.to_str().unwrap(), "--database", url]);
    assert!(output.status.success(), "bot add failed: {}", text(&output.stderr));
}

/// `token issue NAME --role ROLE`: the secret printed.
fn issue(url: &str, name: &str, role: &str) -> String {
    let output = ferrogram(&["token", "issue", name, "--role", role, "--database", url]);
    assert!(output.status.success(), "token issue failed: {}", text(&output.stderr));
    let secret = text(&output.stdout).trim().to_owned();
    assert!(secret.starts_with("fg_") && !secret.contains('\n'), "{secret}");
    assert!(text(&output.stderr).contains(&format!("({role}) of workspace default")), "{}", text(&output.stderr));
    secret
}

/// The sandbox's port (the model's is the next) and a free port for the listener, apart.
fn ports() -> (u16, u16) {
    let sandbox = loop {
        let port = free_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            break port;
        }
    };
    loop {
        let listen = free_port();
        if listen != sandbox && listen != sandbox + 1 {
            return (sandbox, listen);
        }
    }
}

/// One `serve` process on the test's folder and database.
struct Serve {
    _child: tokio::process::Child,
    log: PathBuf,
    sandbox: String,
    server: String,
    http: reqwest::Client,
}

impl Serve {
    fn start(folder: &TempFolder) -> Serve {
        let (port, listen) = ports();
        let (port_text, listen_text) = (port.to_string(), format!("127.0.0.1:{listen}"));
        let bots = folder.0.join("bots");
        let state = folder.0.join("sandbox.json").display().to_string();
        let database = folder.url();
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
        let child = binary::spawn(&folder.0, "serve.log", &args);
        let http = ferrogram_telegram::http_client().expect("http client");
        Serve {
            _child: child,
            log: folder.0.join("serve.log"),
            sandbox: format!("http://127.0.0.1:{port}"),
            server: format!("http://{listen_text}"),
            http,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ferrogram bot ARGS --server … --token TOKEN`.
    fn bot(&self, token: &str, args: &[&str]) -> Output {
        ferrogram(&[&["bot"], args, &["--server", &self.server, "--token", token]].concat())
    }

    /// Polls `GET /api/v1/bots/NAME/status` until `done` holds for its status; returns it.
    async fn status_until(&self, token: &str, name: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let answer = self.api(reqwest::Method::GET, &format!("/api/v1/bots/{name}/status"), Some(token)).await;
            if let Ok((200, status)) = &answer
                && done(status)
            {
                return status.clone();
            }
            assert!(Instant::now() < deadline, "{name}: {answer:?}\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A call to the control API: its status code and JSON body.
    async fn api(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> Result<(u16, Value), String> {
        let mut request = self.http.request(method, format!("{}{path}", self.server));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn user(&self) -> i64 {
        let user = request(&self.http, format!("{}/sandbox/users", self.sandbox), Some(json!({"first_name": "Ann"})));
        user.await.expect("a user")["id"].as_i64().expect("user id")
    }

    /// Sends `/hi` to the bot of `name` as `user`; the text of the bot's answer.
    async fn ask(&self, name: &str, user: i64) -> String {
        let bot_id = ferrogram_core::sandbox_bot_id(name);
        let body = json!({"bot_id": bot_id, "user_id": user, "command": "hi"});
        let sent = request(&self.http, format!("{}/sandbox/act/command", self.sandbox), Some(body)).await;
        let after = sent.expect("command sent")["seq"].as_i64().expect("the event's seq");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let url = format!(
                "{}/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent&after={after}&timeout=5",
                self.sandbox
            );
            let events = request(&self.http, url, None).await.expect("events");
            if let Some(text) =
                events["events"].as_array().and_then(|e| e.first()).and_then(|e| e["message"]["text"].as_str())
            {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "{name} did not answer: {events}\n{}", self.log());
        }
    }
}

fn is(status: &str) -> impl Fn(&Value) -> bool + '_ {
    move |value| value["status"] == status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_start_stop_and_reload_through_the_listener_with_an_api_token() {
    let folder = folder_with_bots();
    let url = folder.url();
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "first")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other", "the other")).unwrap();
    let editor = issue(&url, "ops", "editor");
    let viewer = issue(&url, "watcher", "viewer");
    let serve = Serve::start(&folder);
    let running = serve.status_until(&editor, "echo", is("running")).await;
    assert_eq!(running["name"], "echo");
    assert_eq!(running["version"], 1);
    assert_eq!(running["errors"], json!([]));
    assert!(running["since"].as_i64().is_some_and(|t| t > 1_700_000_000), "{running}");
    let user = serve.user().await;
    assert_eq!(serve.ask("echo", user).await, "first");

    // Refusals: no token, a bad one (401); a viewer acting (403); an unknown bot (404).
    let get = reqwest::Method::GET;
    let (code, body) = serve.api(get.clone(), "/api/v1/bots", None).await.unwrap();
    assert_eq!(code, 401, "{body}");
    assert!(body["detail"].as_str().is_some_and(|e| e.contains("Bearer")), "{body}");
    let (code, _) = serve.api(get.clone(), "/api/v1/bots", Some("fg_not-a-token")).await.unwrap();
    assert_eq!(code, 401);
    let (code, body) = serve.api(reqwest::Method::POST, "/api/v1/bots/echo/stop", Some(&viewer)).await.unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body["detail"].as_str().is_some_and(|e| e.contains("viewer")), "{body}");
    let (code, body) = serve.api(get.clone(), "/api/v1/bots", Some(&viewer)).await.unwrap();
    assert_eq!(code, 200, "{body}");
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(names, ["echo", "other"]);
    let (code, body) = serve.api(get.clone(), "/api/v1/bots/nobody", Some(&viewer)).await.unwrap();
    assert_eq!((code, &body["detail"]), (404, &json!("no bot named nobody")), "{body}");
    let unknown = serve.bot(&editor, &["start", "nobody"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no bot named nobody"), "{}", text(&unknown.stderr));
    let no_token = ferrogram(&["bot", "status", "echo", "--server", &serve.server]);
    assert!(!no_token.status.success());
    assert!(text(&no_token.stderr).contains("an API token is needed"), "{}", text(&no_token.stderr));

    // stop, status, start: the status follows; the other bot never notices.
    let stopped = serve.bot(&editor, &["stop", "echo"]);
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    assert!(text(&stopped.stdout).starts_with("echo: stopped since 20"), "{}", text(&stopped.stdout));
    let status = serve.bot(&viewer, &["status", "echo"]);
    assert!(text(&status.stdout).starts_with("echo: stopped since "), "{}", text(&status.stdout));
    assert_eq!(serve.ask("other", user).await, "the other");
    let started = serve.bot(&editor, &["start", "echo"]);
    assert!(started.status.success(), "{}", text(&started.stderr));
    assert!(text(&started.stdout).starts_with("echo: running since "), "{}", text(&started.stdout));
    assert_eq!(serve.ask("echo", user).await, "first");

    // A version saved from elsewhere runs after `bot reload`.
    let elsewhere = folder.0.join("echo-v2.yaml");
    std::fs::write(&elsewhere, bot("echo", "second")).unwrap();
    add(&elsewhere, &url);
    let reloaded = serve.bot(&editor, &["reload", "echo"]);
    assert!(reloaded.status.success(), "{}", text(&reloaded.stderr));
    assert!(text(&reloaded.stdout).contains("running since") && text(&reloaded.stdout).contains("(version 2)"));
    assert_eq!(serve.ask("echo", user).await, "second");
    let all = serve.bot(&viewer, &["status"]);
    let lines: Vec<String> = text(&all.stdout).lines().map(str::to_owned).collect();
    assert!(lines.len() == 2 && lines[0].starts_with("echo: running") && lines[1].starts_with("other: running"));

    // A bot added with `bot add` while the server runs: stopped until started.
    let later = folder.0.join("later.yaml");
    std::fs::write(&later, bot("later", "added while running")).unwrap();
    add(&later, &url);
    let status = serve.bot(&viewer, &["status", "later"]);
    assert!(text(&status.stdout).starts_with("later: stopped since "), "{}", text(&status.stdout));
    let started = serve.bot(&editor, &["start", "later"]);
    assert!(text(&started.stdout).starts_with("later: running since "), "{}", text(&started.stderr));
    assert_eq!(serve.ask("later", user).await, "added while running");

    // The audit log: each action (not the refused ones, not the reads), by the editor's token,
    // after the two tokens the command line created.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let tokens = store.tokens(workspace.id).await.unwrap();
    let ops = tokens.iter().find(|t| t.name == "ops").unwrap().id;
    let log = store.audit_log(workspace.id, 20).await.unwrap();
    // The command line's changes too (`token create`, `bot add`), as `cli:USER`.
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.target.as_str(), if e.actor.starts_with("cli:") { "cli" } else { &e.actor }))
        .collect();
    let actor = format!("token:{ops}");
    assert_eq!(
        actions,
        [
            ("token.create", "ops", "cli"),
            ("token.create", "watcher", "cli"),
            ("bot.stop", "echo", actor.as_str()),
            ("bot.start", "echo", actor.as_str()),
            ("bot.add", "echo", "cli"),
            ("bot.reload", "echo", actor.as_str()),
            ("bot.add", "later", "cli"),
            ("bot.start", "later", actor.as_str()),
        ]
    );
    assert_eq!(log[3].detail, json!({"version": 2, "outcome": "saved", "token": null}));
    assert_eq!(log[2].detail, json!({"status": "running", "version": 2}));
    assert_eq!(log[0].detail, json!({"status": "running", "version": 1}));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_start_is_retried_and_a_revoked_token_stops_only_its_bot() {
    let folder = folder_with_bots();
    let url = folder.url();
    std::fs::write(folder.0.join("bots/steady.yaml"), bot("steady", "steady here")).unwrap();
    // A bot whose stored version no longer validates (saved behind the validator's back).
    let flaky = folder.0.join("flaky.yaml");
    std::fs::write(&flaky, bot("flaky", "flaky here")).unwrap();
    add(&flaky, &url);
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let record = store.bot_named(workspace.id, "flaky").await.unwrap().unwrap();
    let broken = "ferrogram: 1\nbot:\n  name: flaky\non:\n  - command: hi\n    do:\n      - rply: \"never\"\n";
    store.save_version(workspace.id, record.id, broken).await.unwrap().unwrap();
    store.close().await;
    let token = issue(&url, "ops", "editor");

    let serve = Serve::start(&folder);
    // Failing, with its error, and retried: two attempts seen.
    let failing =
        serve.status_until(&token, "flaky", |s| s["status"] == "failing" && s["attempts"].as_u64() >= Some(2)).await;
    assert_eq!(failing["version"], 2);
    let errors = failing["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{failing}");
    assert!(errors.iter().all(|e| e["message"].as_str().is_some_and(|m| m.contains("rply"))), "{failing}");
    let user = serve.user().await;
    serve.status_until(&token, "steady", is("running")).await;
    assert_eq!(serve.ask("steady", user).await, "steady here");
    let status = serve.bot(&token, &["status", "flaky"]);
    let printed = text(&status.stdout);
    assert!(printed.starts_with("flaky: failing since ") && printed.contains("(version 2), "), "{printed}");
    assert!(printed.contains("rply"), "{printed}");

    // Fixed in the store: the next retry (or a start) runs it.
    add(&flaky, &url);
    let started = serve.bot(&token, &["start", "flaky"]);
    assert!(started.status.success(), "{}\n{}", text(&started.stdout), text(&started.stderr));
    let running = serve.status_until(&token, "flaky", is("running")).await;
    assert_eq!(running["version"], 3);
    assert_eq!(running["attempts"], 0);
    assert_eq!(serve.ask("flaky", user).await, "flaky here");

    // steady's token revoked (BotFather's /revoke): steady stops as unauthorized, flaky answers.
    let steady_id = ferrogram_core::sandbox_bot_id("steady");
    request(&serve.http, format!("{}/sandbox/bots/{steady_id}/revoke", serve.sandbox), Some(json!({})))
        .await
        .expect("revoked");
    let refused = serve.status_until(&token, "steady", is("unauthorized")).await;
    let last = refused["errors"].as_array().and_then(|e| e.last()).cloned().unwrap_or_default();
    assert!(last["message"].as_str().is_some_and(|m| m.contains("refused the token")), "{refused}");
    assert_eq!(serve.ask("flaky", user).await, "flaky here");
    assert_eq!(serve.status_until(&token, "flaky", is("running")).await["status"], "running");
    assert!(serve.log().contains("steady: the Bot API refused its token; stopped"), "{}", serve.log());
}
