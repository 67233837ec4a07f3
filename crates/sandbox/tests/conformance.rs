//! Conformance: bots written with real third-party Bot API libraries, run against the sandbox.
//!
//! Each test starts a sandbox in-process, spawns one echo bot from `conformance/` (Python:
//! python-telegram-bot, aiogram, pyTelegramBotAPI; JS: grammY, telegraf) pointed at it, and
//! plays a user through the control API:
//!
//! 1. text "hello"            → the bot sends "echo: hello";
//! 2. command /menu           → the bot sends "menu" with one inline button ("Press", "pressed");
//! 3. press that button       → the bot answers the callback query and edits the message to
//!    "pressed by <first name>";
//! 4. SIGTERM                 → the bot exits with status 0;
//! 5. and nothing the library logged on the way is an error (it would mean the sandbox answered
//!    something the real Bot API would not have; libraries often just log and retry).
//!
//! The libraries are installed by `conformance/install.sh` (called by `.ci/run`). A test whose
//! library is missing prints a `SKIPPED conformance …` line and passes, unless
//! `FERROGRAM_REQUIRE_CONFORMANCE=1` is set, in which case it fails.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{conformance_dir, skip_or_fail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// How long a bot may take from spawn to `READY` (Python imports are slow on a busy 2-core box).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one step (user action → expected bot reaction) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a bot may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The user's first name; the bots answer "pressed by <first name>". Not ASCII, so that each
/// library's encoding (query string, urlencoded form, JSON) of the edit is exercised.
const USER_NAME: &str = "Zoë";
/// Text in a bot's output that means a library met an error: Python tracebacks and `ERROR`
/// log records, JS errors (`GrammyError: …`, `TelegramError: …`), HTTP errors that httpx logs.
const ERROR_MARKERS: &[&str] = &[
    "Traceback",
    " ERROR ",
    "Error:",
    "handler failed",
    "Unhandled",
    "409 Conflict",
    "400 Bad Request",
    "404 Not Found",
    "429 Too Many Requests",
    " 500 Internal Server Error",
];

#[derive(Clone, Copy)]
enum Runtime {
    /// `conformance/python/<script>`, run by the venv's interpreter; `module` must import.
    Python { module: &'static str },
    /// `conformance/js/<script>`, run by `node` in `conformance/js`; `package` must be installed.
    Node { package: &'static str },
}

#[derive(Clone, Copy)]
struct Library {
    name: &'static str,
    token: &'static str,
    script: &'static str,
    runtime: Runtime,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_telegram_bot() {
    run(Library {
        name: "python-telegram-bot",
        token: "100001:conformance-ptb",
        script: "ptb_bot.py",
        runtime: Runtime::Python { module: "telegram" },
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiogram() {
    run(Library {
        name: "aiogram",
        token: "100002:conformance-aiogram",
        script: "aiogram_bot.py",
        runtime: Runtime::Python { module: "aiogram" },
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_telegram_bot_api() {
    run(Library {
        name: "pyTelegramBotAPI",
        token: "100003:conformance-telebot",
        script: "telebot_bot.py",
        runtime: Runtime::Python { module: "telebot" },
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grammy() {
    run(Library {
        name: "grammY",
        token: "100004:conformance-grammy",
        script: "grammy_bot.js",
        runtime: Runtime::Node { package: "grammy" },
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegraf() {
    run(Library {
        name: "telegraf",
        token: "100005:conformance-telegraf",
        script: "telegraf_bot.js",
        runtime: Runtime::Node { package: "telegraf" },
    })
    .await;
}

// ---------------------------------------------------------------------------------------------

fn python_interpreter() -> PathBuf {
    let venv = conformance_dir().join(".venv/bin/python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

/// Either a command ready to spawn the bot, or why the library is not installed.
async fn bot_command(lib: &Library) -> Result<Command, String> {
    match lib.runtime {
        Runtime::Python { module } => {
            let python = python_interpreter();
            let probe = Command::new(&python)
                .args(["-c", &format!("import {module}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            match probe {
                Ok(s) if s.success() => {}
                Ok(_) => {
                    return Err(format!("Python module `{module}` does not import with {}", python.display()));
                }
                Err(e) => return Err(format!("cannot run {}: {e}", python.display())),
            }
            let mut cmd = Command::new(python);
            cmd.arg(lib.script)
                .current_dir(conformance_dir().join("python"))
                .env("PYTHONUNBUFFERED", "1")
                .env("PYTHONDONTWRITEBYTECODE", "1");
            Ok(cmd)
        }
        Runtime::Node { package } => {
            let js = conformance_dir().join("js");
            if !js.join("node_modules").join(package).join("package.json").exists() {
                return Err(format!("{}/node_modules/{package} is missing", js.display()));
            }
            match Command::new("node")
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
            {
                Ok(s) if s.success() => {}
                Ok(s) => return Err(format!("`node --version` failed: {s}")),
                Err(e) => return Err(format!("cannot run node: {e}")),
            }
            let mut cmd = Command::new("node");
            // The libraries' own debug logs (the `debug` package), shown when a test fails.
            cmd.arg(lib.script).current_dir(js).env("DEBUG", "grammy*,telegraf:*");
            Ok(cmd)
        }
    }
}

/// Everything the bot printed, kept for failure messages.
#[derive(Clone, Default)]
struct Output(Arc<std::sync::Mutex<Vec<String>>>);

impl Output {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn dump(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

struct Harness {
    lib: Library,
    http: reqwest::Client,
    url: String,
    output: Output,
}

impl Harness {
    #[track_caller]
    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!(
            "conformance {}: {what}\n----- bot output (stdout/stderr) -----\n{}\n-----",
            self.lib.name,
            self.output.dump()
        );
    }

    /// Calls the control API; answers the decoded JSON (an `{"ok":true,"result":…}` envelope,
    /// if the sandbox uses one, is unwrapped).
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        let mut request =
            self.http.request(method.clone(), format!("{}{path}", self.url)).timeout(Duration::from_secs(60));
        if let Some(body) = body {
            request = request.json(body);
        }
        let shown = body.map(|b| format!(" {b}")).unwrap_or_default();
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => self.fail(format!("{method} {path}{shown}: {e}")),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            self.fail(format!("{method} {path}{shown} answered {status}: {text}"));
        }
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| self.fail(format!("{method} {path}{shown} answered non-JSON ({e}): {text}")));
        match value {
            Value::Object(ref o) if o.get("ok") == Some(&Value::Bool(true)) && o.contains_key("result") => {
                o["result"].clone()
            }
            v => v,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(&body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// Reads `/sandbox/events` of one bot (and one chat, if given) with long polls, keeping every
/// event it has seen so that waits for several events can be met in any order.
struct Events {
    bot_id: i64,
    chat_id: Option<i64>,
    after: u64,
    seen: Vec<Value>,
}

impl Events {
    /// Waits (long-polling, never sleeping) until an event matches `want`; answers it.
    async fn wait_for(&mut self, h: &Harness, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(found) = self.seen.iter().find(|e| want(e)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen = serde_json::to_string_pretty(&self.seen).unwrap_or_default();
                let chat = self.chat_id.map(|c| format!(" in chat {c}")).unwrap_or_default();
                h.fail(format!("no {what} within {STEP_TIMEOUT:?}; events{chat} so far: {seen}"));
            }
            let timeout = left.as_secs().clamp(1, 20);
            let chat = self.chat_id.map(|c| format!("&chat_id={c}")).unwrap_or_default();
            let answer = h
                .get(&format!("/sandbox/events?bot_id={}{chat}&after={}&timeout={timeout}", self.bot_id, self.after))
                .await;
            let Some(events) = answer.get("events").and_then(Value::as_array) else {
                h.fail(format!("GET /sandbox/events answered no `events` array: {answer}"));
            };
            for event in events {
                if let Some(seq) = event.get("seq").and_then(Value::as_u64) {
                    self.after = self.after.max(seq);
                }
                self.seen.push(event.clone());
            }
            if let Some(last) = answer.get("last").and_then(Value::as_u64) {
                self.after = self.after.max(last);
            }
        }
    }
}

fn kind(event: &Value) -> &str {
    event.get("kind").and_then(Value::as_str).unwrap_or_default()
}

fn text(event: &Value) -> &str {
    event.pointer("/message/text").and_then(Value::as_str).unwrap_or_default()
}

/// Spawns the bot with piped output; resolves the returned receiver on its `READY` line. The
/// tasks that read the output end when the bot closes it.
fn spawn(h: &Harness, mut cmd: Command, url: &str) -> (Child, oneshot::Receiver<()>, [tokio::task::JoinHandle<()>; 2]) {
    cmd.env("BOT_TOKEN", h.lib.token)
        .env("SANDBOX_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| h.fail(format!("cannot spawn the bot: {e}")));

    let (ready_tx, ready_rx) = oneshot::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    let out = h.output.clone();
    let read_stdout = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == "READY"
                && let Some(tx) = ready.take()
            {
                let _ = tx.send(());
            }
            out.push(format!("[stdout] {line}"));
        }
    });
    let stderr = child.stderr.take().expect("piped stderr");
    let out = h.output.clone();
    let read_stderr = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            out.push(format!("[stderr] {line}"));
        }
    });
    (child, ready_rx, [read_stdout, read_stderr])
}

async fn run(lib: Library) {
    let cmd = match bot_command(&lib).await {
        Ok(cmd) => cmd,
        Err(why) => return skip_or_fail(&format!("conformance {}", lib.name), &why),
    };

    // reqwest is built with `rustls-no-provider`: a process-wide provider must exist.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let sb = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.unwrap();
    let url = sb.url().to_string().trim_end_matches('/').to_owned();
    let h = Harness {
        lib,
        http: reqwest::Client::builder().no_proxy().build().expect("reqwest client"),
        url: url.clone(),
        output: Output::default(),
    };
    let bot_id: i64 = lib.token.split(':').next().unwrap().parse().unwrap();

    // The world: the bot (registered up front, so the user's first message never races the
    // bot's first getMe) and one user.
    h.post("/sandbox/bots", json!({ "token": lib.token })).await;
    let user = h.post("/sandbox/users", json!({ "first_name": USER_NAME })).await;
    let Some(user_id) = user.get("id").and_then(Value::as_i64) else {
        h.fail(format!("POST /sandbox/users answered no `id`: {user}"));
    };

    let (mut child, ready, readers) = spawn(&h, cmd, &url);
    tokio::select! {
        r = ready => if r.is_err() {
            let status = child.wait().await;
            h.fail(format!("the bot closed its stdout without printing READY (exit: {status:?})"));
        },
        status = child.wait() => h.fail(format!("the bot exited before READY: {status:?}")),
        () = tokio::time::sleep(READY_TIMEOUT) => h.fail(format!("no READY within {READY_TIMEOUT:?}")),
    }

    // 1. Echo.
    let sent = h.post("/sandbox/act/text", json!({ "bot_id": bot_id, "user_id": user_id, "text": "hello" })).await;
    let chat_id = sent.pointer("/message/chat/id").and_then(Value::as_i64).unwrap_or(user_id);
    let mut events = Events { bot_id, chat_id: Some(chat_id), after: 0, seen: Vec::new() };
    let echo = events
        .wait_for(&h, "`sent` event with text \"echo: hello\"", |e| kind(e) == "sent" && text(e) == "echo: hello")
        .await;
    if echo.pointer("/message/from/id").and_then(Value::as_i64) != Some(bot_id) {
        h.fail(format!("the echo was not sent by the bot: {echo}"));
    }

    // 2. /menu → a message with an inline keyboard.
    h.post("/sandbox/act/command", json!({ "bot_id": bot_id, "user_id": user_id, "command": "menu" })).await;
    let menu = events
        .wait_for(&h, "`sent` event with text \"menu\" and an inline keyboard", |e| {
            kind(e) == "sent" && text(e) == "menu" && e.pointer("/message/reply_markup/inline_keyboard").is_some()
        })
        .await;
    let button = menu.pointer("/message/reply_markup/inline_keyboard/0/0");
    if button.and_then(|b| b.get("text")).and_then(Value::as_str) != Some("Press")
        || button.and_then(|b| b.get("callback_data")).and_then(Value::as_str) != Some("pressed")
    {
        h.fail(format!("the menu's first button is not (\"Press\", \"pressed\"): {menu}"));
    }
    let Some(message_id) =
        menu.pointer("/message/message_id").or_else(|| menu.get("message_id")).and_then(Value::as_i64)
    else {
        h.fail(format!("the menu event carries no message_id: {menu}"));
    };

    // 3. Press the button → answerCallbackQuery and an edit.
    let pressed = h
        .post(
            "/sandbox/act/callback",
            json!({ "bot_id": bot_id, "user_id": user_id, "message_id": message_id, "data": "pressed" }),
        )
        .await;
    let expected = format!("pressed by {USER_NAME}");
    let edited = events
        .wait_for(&h, &format!("`edited` event with text {expected:?}"), |e| kind(e) == "edited" && text(e) == expected)
        .await;
    if let Some(id) = edited.pointer("/message/message_id").or_else(|| edited.get("message_id"))
        && id.as_i64() != Some(message_id)
    {
        h.fail(format!("the bot edited another message than the menu ({message_id}): {edited}"));
    }
    let Some(query_id) = pressed.pointer("/callback_query/id").and_then(Value::as_str) else {
        h.fail(format!("POST /sandbox/act/callback answered no callback_query.id: {pressed}"));
    };
    // Read without the chat filter: the sandbox records `callback_answered` with no chat_id.
    let mut bot_events = Events { bot_id, chat_id: None, after: 0, seen: Vec::new() };
    bot_events
        .wait_for(&h, "`callback_answered` event", |e| {
            kind(e) == "callback_answered"
                && e.pointer("/detail/callback_query_id").and_then(Value::as_str) == Some(query_id)
        })
        .await;
    let state = h.get(&format!("/sandbox/callbacks/{query_id}")).await;
    if state.get("answered") != Some(&Value::Bool(true)) {
        h.fail(format!("GET /sandbox/callbacks/{query_id} says not answered: {state}"));
    }
    let history = h.get(&format!("/sandbox/chats/{chat_id}/messages?bot_id={bot_id}")).await;
    let menu_now = history.as_array().and_then(|entries| {
        entries.iter().find(|m| m.pointer("/message/message_id").and_then(Value::as_i64) == Some(message_id))
    });
    // `message` is the message as it is now; `edits` holds its earlier versions.
    let shows_edit = menu_now.and_then(|m| m.pointer("/message/text")).and_then(Value::as_str)
        == Some(expected.as_str())
        && menu_now.and_then(|m| m.get("edits")).and_then(Value::as_array).is_some_and(|e| !e.is_empty());
    if !shows_edit {
        h.fail(format!("chat history does not show message {message_id} as {expected:?}, edited once: {history}"));
    }

    // 4. SIGTERM → a clean exit.
    let pid = child.id().expect("the bot is running");
    // The shell's builtin `kill`: no libc binding needed, and no dependence on procps.
    let killed = std::process::Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status();
    if !killed.as_ref().is_ok_and(|s| s.success()) {
        h.fail(format!("cannot send SIGTERM to {pid}: {killed:?}"));
    }
    match tokio::time::timeout(EXIT_TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(status) => h.fail(format!("the bot did not exit cleanly on SIGTERM: {status:?}")),
        Err(_) => h.fail(format!("the bot did not exit within {EXIT_TIMEOUT:?} of SIGTERM")),
    }
    // Take in what the bot printed while stopping.
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    }

    // The libraries retry or swallow many errors; any they logged means the sandbox answered
    // something a real server would not have (a 409 to the offset sync at shutdown, say).
    let log = h.output.dump();
    if let Some(line) = log.lines().find(|l| ERROR_MARKERS.iter().any(|m| l.contains(m))) {
        h.fail(format!("the bot logged an error: {line}"));
    }
    println!("conformance {}: ok\n{log}", h.lib.name);
    if let Err(e) = sb.stop().await {
        panic!("stopping the sandbox: {e}");
    }
}
