//! "Nothing lost" across a crash: `ferrogram run` is killed with SIGKILL while updates flow,
//! restarted on the same database, and every user message still gets its reply.
//!
//! Two processes of the built binary: a `ferrogram sandbox` that outlives the bot, and
//! `ferrogram run examples/hello.yaml --api-url …` against it. Readiness is waited for through
//! the sandbox's control API (its port answering, then the bot appearing after its first Bot API
//! call), and replies through its event long poll; every wait has a deadline, none is a sleep
//! that hopes. Children are
//! killed when dropped. Their logs are in the test's temporary folder.

#![cfg(unix)]

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

#[path = "binary/mod.rs"]
mod binary;

use binary::Guarded;
const TOKEN: &str = "4242:crash-test";
const BOT_ID: i64 = 4242;
/// Users chatting at once. The bot paces each private chat to about one message a second
/// (Telegram's limit), so more chats make the run shorter: 10 chats × 20 messages ≈ 20 s.
const USERS: usize = 10;
const MESSAGES: usize = 200;
/// Replies seen before the bot is killed: past the chats' first bursts (3 replies each at
/// once), long before the end.
const KILL_AFTER: usize = 60;
/// The signal `kill -9` sends; the same number on every Unix.
const SIGKILL: i32 = 9;
const STARTUP: Duration = Duration::from_secs(30);
const ALL_REPLIED: Duration = Duration::from_secs(90);

/// The most replies that can be sent twice. A handler's replies are committed with its update
/// (the outbox) and delivered after; a reply is repeated only when it was being delivered at the
/// crash (sent, not yet deleted from the outbox), and the next start delivers it again. Replies
/// of one chat are delivered one after another, so at most one per chat is in flight: with 10
/// chats, 10. An update whose handler ran at the crash committed nothing and is handled again
/// without a repeat, and a redelivery of a stored update is dropped by the inbox.
const MAX_DUPLICATES: usize = USERS;

struct Sandbox {
    _child: Guarded,
    url: String,
    http: reqwest::Client,
}

impl Sandbox {
    async fn get(&self, path: &str) -> Result<Value, String> {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET {path}: {}", response.status()));
        }
        response.json().await.map_err(|e| e.to_string())
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.url)).json(&body).send().await.expect("request");
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON answer");
        assert!(status.is_success(), "POST {path} {body} -> {status} {answer}");
        answer
    }

    async fn bot_known(&self) -> bool {
        let bots = self.get("/sandbox/bots").await.unwrap_or_default();
        bots.as_array().is_some_and(|bots| bots.iter().any(|bot| bot["id"] == BOT_ID))
    }
}

fn spawn(args: &[&str], folder: &Path, log: &str) -> Guarded {
    binary::spawn(folder, log, args)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

async fn start_sandbox(folder: &Path) -> Sandbox {
    let port = free_port().to_string();
    let child = spawn(&["sandbox", "--port", &port, "--no-flood-limits"], folder, "sandbox.log");
    let sandbox = Sandbox {
        _child: child,
        url: format!("http://127.0.0.1:{port}"),
        http: ferrogram_telegram::http_client().expect("http client"),
    };
    let deadline = Instant::now() + STARTUP;
    while sandbox.get("/sandbox/bots").await.is_err() {
        assert!(Instant::now() < deadline, "the sandbox did not answer on port {port}; see {}", folder.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sandbox
}

/// Starts the bot on the test's database.
fn spawn_bot(sandbox: &Sandbox, folder: &Path, log: &str) -> Guarded {
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.yaml");
    let database = format!("sqlite://{}", folder.join("bot.db").display());
    let hello = hello.to_str().expect("UTF-8 path");
    let args = ["run", hello, "--api-url", &sandbox.url, "--token", TOKEN, "--database", &database];
    spawn(&args, folder, log)
}

/// Fails if the bot process has exited.
fn assert_running(bot: &mut Guarded, folder: &Path, log: &str) {
    if let Ok(Some(status)) = bot.try_wait() {
        panic!("the bot exited with {status}; see {}", folder.join(log).display());
    }
}

/// The bot's replies: how many times each text was sent, read from the event long poll.
struct Replies {
    counts: HashMap<String, usize>,
    after: u64,
}

impl Replies {
    /// Reads the events after the last ones read, waiting up to 5 s for the first.
    async fn read(&mut self, sandbox: &Sandbox) {
        let path = format!("/sandbox/events?bot_id={BOT_ID}&after={}&timeout=5", self.after);
        let answer = sandbox.get(&path).await.expect("events");
        for event in answer["events"].as_array().into_iter().flatten().filter(|e| e["kind"] == "sent") {
            let text = event["message"]["text"].as_str().unwrap_or_default();
            *self.counts.entry(text.to_owned()).or_default() += 1;
        }
        self.after = answer["last"].as_u64().unwrap_or(self.after).max(self.after);
    }

    fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

fn scratch_folder() -> PathBuf {
    let folder = std::env::temp_dir().join(format!("ferrogram-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("temporary folder");
    folder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_killed_mid_stream_loses_no_update() {
    let folder = scratch_folder();
    let sandbox = start_sandbox(&folder).await;
    // The sandbox creates a bot at its first Bot API call: then the bot is up.
    let mut bot = spawn_bot(&sandbox, &folder, "bot-1.log");
    let deadline = Instant::now() + STARTUP;
    while !sandbox.bot_known().await {
        assert_running(&mut bot, &folder, "bot-1.log");
        assert!(Instant::now() < deadline, "the bot made no Bot API call; see {}", folder.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut users = Vec::new();
    for n in 0..USERS {
        let user = sandbox.post("/sandbox/users", json!({"first_name": format!("user{n}")})).await;
        users.push(user["id"].as_i64().expect("user id"));
    }
    // Every user sends their share at once with the others; one user's messages in order.
    let texts: Vec<String> = (0..MESSAGES).map(|n| format!("message {n} from user {}", n % USERS)).collect();
    let sandbox = std::sync::Arc::new(sandbox);
    let mut senders = JoinSet::new();
    for (index, user) in users.iter().copied().enumerate() {
        let sandbox = std::sync::Arc::clone(&sandbox);
        let mine: Vec<String> = texts.iter().skip(index).step_by(USERS).cloned().collect();
        senders.spawn(async move {
            for text in mine {
                sandbox.post("/sandbox/act/text", json!({"bot_id": BOT_ID, "user_id": user, "text": text})).await;
            }
        });
    }

    let mut replies = Replies { counts: HashMap::new(), after: 0 };
    let deadline = Instant::now() + ALL_REPLIED;
    while replies.total() < KILL_AFTER {
        assert!(Instant::now() < deadline, "only {} replies before the crash", replies.total());
        replies.read(&sandbox).await;
    }
    // tokio's start_kill is SIGKILL on Unix: no shutdown code runs, nothing is confirmed.
    bot.start_kill().expect("kill");
    let status = bot.wait().await.expect("the killed bot is reaped");
    assert_eq!(status.signal(), Some(SIGKILL), "the bot died of SIGKILL: {status}");
    let at_crash = replies.total();
    assert!(at_crash < MESSAGES, "the bot answered everything before it was killed ({at_crash})");
    eprintln!("killed the bot after {at_crash} replies");

    // Same database; no readiness to wait for: the replies below are the proof it runs.
    let mut bot = spawn_bot(&sandbox, &folder, "bot-2.log");
    while let Some(sent) = senders.join_next().await {
        sent.expect("the user side sent its messages");
    }
    let expected: Vec<String> = texts.iter().map(|text| format!("You said: {text}")).collect();
    loop {
        let missing = expected.iter().filter(|reply| !replies.counts.contains_key(*reply)).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {MESSAGES} messages got no reply; logs in {}",
            folder.display()
        );
        assert_running(&mut bot, &folder, "bot-2.log");
        replies.read(&sandbox).await;
    }

    let strays: Vec<&String> = replies.counts.keys().filter(|text| !expected.contains(text)).collect();
    assert!(strays.is_empty(), "replies to nothing that was sent: {strays:?}");
    let duplicates: Vec<(&String, usize)> =
        replies.counts.iter().filter(|(_, n)| **n > 1).map(|(text, n)| (text, *n)).collect();
    let repeated: usize = duplicates.iter().map(|(_, n)| n - 1).sum();
    eprintln!(
        "{MESSAGES} messages, {} replies, {repeated} repeated (bound {MAX_DUPLICATES}): {duplicates:?}",
        replies.total()
    );
    assert!(repeated <= MAX_DUPLICATES, "{repeated} replies repeated, more than {MAX_DUPLICATES} could be in flight");
    drop((bot, sandbox));
    let _ = std::fs::remove_dir_all(&folder);
}
