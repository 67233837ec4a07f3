//! `ferrogram run examples/ai-assistant.yaml --sandbox` answers out of the box: like `serve`,
//! `run --sandbox` starts the stand-in language model on the port after the sandbox's and allows
//! the bot to call it (and nothing else of the process). Against Telegram it does not.
//!
//! One process of the built binary, driven through its sandbox's control API; every wait has a
//! deadline. The process is killed when dropped; its log is in the test's temporary folder.

#![cfg(unix)]

mod binary;

use std::time::Duration;

use binary::{free_port_pair, request, sandbox_said};
use serde_json::{Value, json};
use tokio::time::Instant;

const STARTUP: Duration = Duration::from_secs(30);

/// What the bot said to `user` after `after` until `done` (binary::sandbox_said).
async fn wait_for(
    http: &reqwest::Client,
    url: &str,
    bot_id: i64,
    user: i64,
    after: i64,
    done: impl Fn(&str) -> bool,
) -> String {
    sandbox_said(http, url, (bot_id, user), after, STARTUP, done).await
}

async fn act(http: &reqwest::Client, url: &str, kind: &str, body: Value) -> i64 {
    let answer = request(http, format!("{url}/sandbox/act/{kind}"), Some(body)).await.expect("act");
    answer["seq"].as_i64().expect("the event's seq")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_assistant_answers_under_run_sandbox() {
    let folder = binary::TempFolder::new("run-sandbox-llm");
    let port = free_port_pair();
    let database = format!("sqlite://{}", folder.0.join("bot.db").display());
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/ai-assistant.yaml");
    let port_text = port.to_string();
    let _child =
        binary::spawn(&folder.0, "run.log", &["run", file, "--sandbox", "--port", &port_text, "--database", &database]);
    let (http, url) = (ferrogram_telegram::http_client().expect("http client"), format!("http://127.0.0.1:{port}"));

    let deadline = Instant::now() + STARTUP;
    let bot_id = loop {
        let bots = request(&http, format!("{url}/sandbox/bots"), None).await.unwrap_or_default();
        if let Some(id) = bots.as_array().and_then(|bots| bots.first()).and_then(|bot| bot["id"].as_i64()) {
            break id;
        }
        assert!(Instant::now() < deadline, "the bot did not start; see {}", folder.0.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The sandbox's first user is the file's admin.
    let ann = request(&http, format!("{url}/sandbox/users"), Some(json!({"first_name": "Ann"}))).await.expect("user");
    let ann = ann["id"].as_i64().expect("user id");
    assert_eq!(ann, 1_000_001, "the file's admin is the sandbox's first user");

    // The model's address: the port after the sandbox's, printed by `run`.
    let model = format!("http://127.0.0.1:{}/llm/v1", port + 1);
    let seq =
        act(&http, &url, "command", json!({"bot_id": bot_id, "user_id": ann, "command": "setllm", "payload": model}))
            .await;
    wait_for(&http, &url, bot_id, ann, seq, |t| t == format!("Model server: {model}")).await;
    let note = "Refunds take five business days after the parcel is back.";
    let seq =
        act(&http, &url, "command", json!({"bot_id": bot_id, "user_id": ann, "command": "note", "payload": note}))
            .await;
    wait_for(&http, &url, bot_id, ann, seq, |t| t.starts_with("Noted (#1)")).await;

    let seq =
        act(&http, &url, "text", json!({"bot_id": bot_id, "user_id": ann, "text": "How long do refunds take?"})).await;
    let answer = wait_for(&http, &url, bot_id, ann, seq, |t| {
        assert!(!t.contains("unavailable"), "the model was not reached: {t}");
        t.contains("(turn 1)")
    })
    .await;
    assert_eq!(answer, format!("{note} (turn 1)"));
}
