//! SIGTERM ends `ferrogram run` promptly even while hostile handlers spin: the interpreter
//! yields, so the signal is seen and the stop runs, and stopping is bounded by a grace period
//! (a handler still running is dropped at its next yield).
//!
//! One process of the built binary, `ferrogram run hostile.yaml --sandbox`, driven through its
//! sandbox's control API. Every wait has a deadline. The process is killed when dropped; its
//! log is in the test's temporary folder.

#![cfg(unix)]

mod binary;

use binary::free_port;
use std::path::PathBuf;
use std::time::Duration;

use binary::request;
use serde_json::json;
use tokio::process::Command;
use tokio::time::Instant;

const STARTUP: Duration = Duration::from_secs(30);
/// The binary's grace for stopping (10 s) and room for a loaded machine.
const STOPPED_WITHIN: Duration = Duration::from_secs(15);

/// Passes validation (the loops' size is a variable), would run 10⁹ steps.
const HOSTILE: &str = r#"
ferrogram: 1
bot: {name: hostile}
variables:
  bot: {n: {type: number, default: 1000}}
  user: {s: {type: string}}
on:
  - command: spin
    do:
      - for_each: {in: "range(bot.n)", do: [{for_each: {in: "range(bot.n)", do: [{for_each: {in: "range(bot.n)", do: [{set: {user.s: "{{ item }}"}}]}}]}}]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_process_while_hostile_handlers_spin() {
    let folder = std::env::temp_dir().join(format!("ferrogram-shutdown-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("temporary folder");
    let file: PathBuf = folder.join("hostile.yaml");
    std::fs::write(&file, HOSTILE).expect("bot file");
    let port = free_port();
    let database = format!("sqlite://{}", folder.join("bot.db").display());
    let port_text = port.to_string();
    let file_path = file.to_str().expect("UTF-8 path");
    let mut child = binary::spawn(
        &folder,
        "run.log",
        &["run", file_path, "--sandbox", "--port", &port_text, "--database", &database],
    );
    let (http, url) = (ferrogram_telegram::http_client().expect("http client"), format!("http://127.0.0.1:{port}"));

    // The bot is up once the sandbox knows it.
    let deadline = Instant::now() + STARTUP;
    let bot_id = loop {
        let bots = request(&http, format!("{url}/sandbox/bots"), None).await.unwrap_or_default();
        if let Some(id) = bots.as_array().and_then(|bots| bots.first()).and_then(|bot| bot["id"].as_i64()) {
            break id;
        }
        assert!(Instant::now() < deadline, "the bot did not start; see {}", folder.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut users = Vec::new();
    for name in ["Ann", "Bob"] {
        let user = request(&http, format!("{url}/sandbox/users"), Some(json!({"first_name": name}))).await;
        users.push(user.expect("a user")["id"].as_i64().expect("user id"));
    }
    for _ in 0..4 {
        for user in &users {
            let body = json!({"bot_id": bot_id, "user_id": user, "command": "spin"});
            request(&http, format!("{url}/sandbox/act/command"), Some(body)).await.expect("/spin sent");
        }
    }
    // The bot took them (confirmed them with its next getUpdates): its handlers are spinning.
    let deadline = Instant::now() + STARTUP;
    loop {
        let bots = request(&http, format!("{url}/sandbox/bots"), None).await.expect("the sandbox answers");
        if bots[0]["pending_update_count"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the bot did not take its updates: {bots}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let pid = child.id().expect("the process runs").to_string();
    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill runs");
    assert!(kill.success(), "kill -TERM {pid}");
    let status = tokio::time::timeout(STOPPED_WITHIN, child.wait())
        .await
        .unwrap_or_else(|_| panic!("still running {STOPPED_WITHIN:?} after SIGTERM; see {}", folder.display()))
        .expect("the process is reaped");
    eprintln!("stopped {:?} after SIGTERM with {status}", signalled.elapsed());
    assert!(status.success(), "exited with {status}; see {}", folder.join("run.log").display());
    let _ = std::fs::remove_dir_all(&folder);
}
