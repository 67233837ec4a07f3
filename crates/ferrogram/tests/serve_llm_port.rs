//! `ferrogram serve` lets its bots reach the stand-in language model and nothing else of the
//! process: the model has a port of its own (the sandbox's plus one), the only one allowed to
//! the engine, so a bot file's `http` step cannot call the sandbox's control API (act as any
//! user, reset the world) or other bots' Bot API.
//!
//! One process of the built binary, `ferrogram serve` on a folder with one bot, driven through
//! its sandbox's control API. Every wait has a deadline. The process is killed when dropped;
//! its log is in the test's temporary folder.

#![cfg(unix)]

mod binary;

use binary::free_port_pair;
use std::time::Duration;

use binary::request;
use serde_json::json;
use tokio::time::Instant;

const STARTUP: Duration = Duration::from_secs(30);

/// `/probe` calls the sandbox's control API, `/model` the stand-in model's own port.
fn bot_file(port: u16) -> String {
    let model = port + 1;
    format!(
        r#"
ferrogram: 1
bot: {{name: prober}}
on:
  - command: probe
    do:
      - try:
          do:
            - http: {{url: "http://127.0.0.1:{port}/sandbox/bots", retries: 0}}
            - reply: "control API reached: {{{{ result.status }}}}"
          catch:
            - reply: "control API refused: {{{{ error.kind }}}}: {{{{ error.message }}}}"
  - command: model
    do:
      - try:
          do:
            - http: {{url: "http://127.0.0.1:{model}/llm/v1/models", retries: 0}}
            - reply: "model answered: {{{{ result.status }}}}"
          catch:
            - reply: "model refused: {{{{ error.message }}}}"
"#
    )
}

/// Sends `/command` as `user` and returns the text of the bot's next message.
async fn ask(http: &reqwest::Client, url: &str, bot_id: u64, user: i64, command: &str) -> String {
    let body = json!({"bot_id": bot_id, "user_id": user, "command": command});
    let sent = request(http, format!("{url}/sandbox/act/command"), Some(body)).await.expect("command sent");
    let after = sent["seq"].as_i64().expect("the event's seq");
    let deadline = Instant::now() + STARTUP;
    loop {
        let events = request(
            http,
            format!("{url}/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent&after={after}&timeout=5"),
            None,
        )
        .await
        .expect("events");
        if let Some(text) =
            events["events"].as_array().and_then(|e| e.first()).and_then(|e| e["message"]["text"].as_str())
        {
            return text.to_owned();
        }
        assert!(Instant::now() < deadline, "no answer to /{command}: {events}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_reach_the_stand_in_model_but_not_the_sandbox() {
    let folder = std::env::temp_dir().join(format!("ferrogram-serve-llm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let bots = folder.join("bots");
    std::fs::create_dir_all(&bots).expect("temporary folder");
    let port = free_port_pair();
    std::fs::write(bots.join("prober.yaml"), bot_file(port)).expect("bot file");
    let database = format!("sqlite://{}", folder.join("db").display());
    let state = folder.join("s.json");
    let port_text = port.to_string();
    let bots_path = bots.to_str().expect("UTF-8 path");
    let state_path = state.to_str().expect("UTF-8 path");
    let mut child = binary::spawn(
        &folder,
        "serve.log",
        &[
            "serve",
            "--port",
            &port_text,
            "--bots",
            bots_path,
            "--database",
            &database,
            "--sandbox-state",
            state_path,
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let (http, url) = (ferrogram_telegram::http_client().expect("http client"), format!("http://127.0.0.1:{port}"));

    // The bot is up once the sandbox knows it, under the id its name gives it.
    let bot_id = ferrogram_core::sandbox_bot_id("prober");
    let deadline = Instant::now() + STARTUP;
    loop {
        let bots = request(&http, format!("{url}/sandbox/bots"), None).await.unwrap_or_default();
        if bots.as_array().is_some_and(|bots| bots.iter().any(|bot| bot["id"].as_u64() == Some(bot_id))) {
            break;
        }
        assert!(Instant::now() < deadline, "the bot did not start; see {}", folder.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user = request(&http, format!("{url}/sandbox/users"), Some(json!({"first_name": "Ann"}))).await;
    let user = user.expect("a user")["id"].as_i64().expect("user id");

    let probe = ask(&http, &url, bot_id, user, "probe").await;
    assert!(
        probe.starts_with("control API refused: http: ") && probe.contains("127.0.0.1 is a loopback address"),
        "{probe}; see {}",
        folder.display()
    );
    let model = ask(&http, &url, bot_id, user, "model").await;
    assert_eq!(model, "model answered: 200", "see {}", folder.display());

    // The model's port serves the model and nothing of the sandbox.
    let model_port = format!("http://127.0.0.1:{}", port + 1);
    let status = |path: &'static str| {
        let (http, model_port) = (http.clone(), model_port.clone());
        async move { http.get(format!("{model_port}{path}")).send().await.expect("the model's port answers").status() }
    };
    assert_eq!(status("/llm/v1/models").await, 200);
    assert_eq!(status("/sandbox/bots").await, 404);

    child.kill().await.expect("ferrogram stopped");
    let _ = std::fs::remove_dir_all(&folder);
}
