//! A stand-in Telegram for the tests of `serve`'s Telegram bots: a `ferrogram sandbox` process of
//! the test's own (the Bot API server of `--telegram-api-url`), its users, a bot's answer to
//! them, and waiting for a bot's status on `serve`'s control API. Every wait polls with a
//! deadline.

#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{TempFolder, free_port, request, serve_ports};

/// How long each wait lasts at most.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The stand-in Telegram: a `ferrogram sandbox` process of its own in `folder`, up; its URL and
/// its child (killed when dropped).
pub async fn stand_in_telegram(folder: &TempFolder, http: &reqwest::Client) -> (String, super::Guarded) {
    let port = free_port();
    let telegram = format!("http://127.0.0.1:{port}");
    let child = super::spawn(&folder.0, "telegram.log", &["sandbox", "--port", &port.to_string()]);
    up(http, &telegram, &folder.0.join("telegram.log")).await;
    (telegram, child)
}

/// Waits until `url` answers `GET /sandbox/bots`.
pub async fn up(http: &reqwest::Client, url: &str, log: &std::path::Path) {
    let deadline = Instant::now() + DEADLINE;
    while request(http, format!("{url}/sandbox/bots"), None).await.is_err() {
        let printed = std::fs::read_to_string(log).unwrap_or_default();
        assert!(Instant::now() < deadline, "{url} did not start:\n{printed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new user of the sandbox at `url`.
pub async fn user(http: &reqwest::Client, url: &str) -> i64 {
    let user = request(http, format!("{url}/sandbox/users"), Some(json!({"first_name": "Ann"}))).await;
    user.expect("a user")["id"].as_i64().expect("user id")
}

/// Sends `/hi` to bot `bot_id` of the sandbox at `url` as `user`; the text of its answer.
pub async fn ask(http: &reqwest::Client, url: &str, bot_id: i64, user: i64, log: &str) -> String {
    let body = json!({"bot_id": bot_id, "user_id": user, "command": "hi"});
    let sent = request(http, format!("{url}/sandbox/act/command"), Some(body)).await;
    let after = sent.expect("command sent")["seq"].as_i64().expect("the event's seq");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let events = format!("{url}/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent&after={after}&timeout=5");
        let events = request(http, events, None).await.expect("events");
        if let Some(text) =
            events["events"].as_array().and_then(|e| e.first()).and_then(|e| e["message"]["text"].as_str())
        {
            return text.to_owned();
        }
        let printed = std::fs::read_to_string(log).unwrap_or_default();
        assert!(Instant::now() < deadline, "bot {bot_id} did not answer: {events}\n{printed}");
    }
}

/// Polls `GET /api/v1/bots/NAME/status` on `server` until `done` holds for its status; returns it.
pub async fn status_until(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    name: &str,
    log: &std::path::Path,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let answer = http.get(format!("{server}/api/v1/bots/{name}/status")).bearer_auth(token).send().await;
        let status = match answer {
            Ok(response) if response.status().is_success() => response.json::<Value>().await.unwrap_or_default(),
            _ => Value::Null,
        };
        if done(&status) {
            return status;
        }
        let printed = std::fs::read_to_string(log).unwrap_or_default();
        assert!(Instant::now() < deadline, "{name}: {status}\n{printed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a bot's status (as [`status_until`] reads it) is `status`.
pub fn is(status: &str) -> impl Fn(&Value) -> bool + '_ {
    move |value| value["status"] == status
}

/// Starts `serve` in `folder` (its `bots/` imported, its sandbox state there) on `database`,
/// against the stand-in Telegram at `telegram`, its output in `folder/LOG`: the bot-file variable
/// `bot_env` allowed and set, the variables `env` set (not allowed), no other `FERROGRAM_*` of
/// the test's environment, the sandbox's flood limits off, and receiving by webhook on its
/// listener when `webhook`. The child (killed when dropped), the listener's URL and the
/// sandbox's.
pub fn serve_against(
    folder: &TempFolder,
    database: &str,
    telegram: &str,
    log: &str,
    bot_env: (&str, &str),
    webhook: bool,
    env: &[(&str, &str)],
) -> (super::Guarded, String, String) {
    let (port, listen) = serve_ports();
    let (port_text, listen_url) = (port.to_string(), format!("http://127.0.0.1:{listen}"));
    let listen_text = format!("127.0.0.1:{listen}");
    let bots = folder.0.join("bots").display().to_string();
    let state = folder.0.join("sandbox.json").display().to_string();
    let mut args = vec![
        "serve",
        "--port",
        &port_text,
        "--bots",
        &bots,
        "--database",
        database,
        "--sandbox-state",
        &state,
        "--listen",
        &listen_text,
        "--telegram-api-url",
        telegram,
        "--bot-env",
        bot_env.0,
    ];
    if webhook {
        args.extend(["--public-url", &listen_url]);
    }
    let child = super::Run::new(&args)
        .without_ferrogram_env()
        .current_dir(&folder.0)
        .env("FERROGRAM_SANDBOX_FLOOD_LIMITS", "false")
        .env(bot_env.0, bot_env.1)
        .envs(env)
        .spawn(&folder.0.join(log));
    (child, listen_url, format!("http://127.0.0.1:{port}"))
}
