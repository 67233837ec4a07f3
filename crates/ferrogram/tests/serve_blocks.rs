//! Blocking a bot's user through the REST API on a running `serve` (decision 0047): a sandbox
//! user talks to a bot, an editor blocks them, their next message is stored and counted but
//! gets no answer, they are unblocked and answered again — without a restart — and the bot's
//! statistics count it all. Every wait polls with a deadline; "no answer" is checked once the
//! blocked update is known to be committed (counted in the statistics), not after a sleep.

#![cfg(unix)]

mod binary;

use binary::fleet::{DEADLINE, Serve, bot, issue, url};
use binary::request;
use binary::telegram::is;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_gets_no_answer_until_unblocked() {
    let folder = binary::fleet::folder("blocks");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "hello")).unwrap();
    let editor = issue(&url, "ops", "editor");
    let viewer = issue(&url, "eyes", "viewer");
    let serve = Serve::start(&folder, "serve.log");
    serve.status_until(&editor, "echo", is("running")).await;
    let user = serve.user().await;
    assert_eq!(serve.ask("echo", user).await, "hello");

    let block = format!("/api/v1/bots/echo/users/{user}/block");
    let (code, body) = serve.api(Method::POST, &block, Some(&viewer)).await.unwrap();
    assert_eq!(code, 403, "a viewer may not block: {body}");
    let (code, body) = serve.api(Method::POST, &block, Some(&editor)).await.unwrap();
    assert_eq!((code, &body["blocked"]), (200, &json!(true)), "{body}");
    assert!(body["blocked_by"].as_str().is_some_and(|by| by.starts_with("token:")), "{body}");

    // The blocked user's message: stored and counted, no handler, no answer.
    let bot_id = ferrogram_core::sandbox_bot_id("echo") as i64;
    let sent = request(
        &serve.http,
        format!("{}/sandbox/act/command", serve.sandbox),
        Some(json!({"bot_id": bot_id, "user_id": user, "command": "hi"})),
    )
    .await
    .expect("command sent");
    let after = sent["seq"].as_i64().expect("the event's seq");
    let totals = stats_until(&serve, &viewer, |t| t["blocked"] == 1).await;
    assert_eq!((&totals["updates"], &totals["errors"], &totals["active_users"]), (&json!(2), &json!(0), &json!(1)));
    let events =
        format!("{}/sandbox/events?bot_id={bot_id}&chat_id={user}&kind=sent&after={after}&timeout=0", serve.sandbox);
    let events = request(&serve.http, events, None).await.expect("events");
    assert_eq!(events["events"], json!([]), "the bot answered a blocked user");
    let (_, listed) = serve.api(Method::GET, "/api/v1/bots/echo/users?blocked=true", Some(&viewer)).await.unwrap();
    let ids: Vec<&Value> = listed["items"].as_array().unwrap().iter().map(|u| &u["id"]).collect();
    assert_eq!(ids, [&json!(user)]);

    // Unblocked: answered again, with no restart.
    let (code, body) =
        serve.api(Method::POST, &format!("/api/v1/bots/echo/users/{user}/unblock"), Some(&editor)).await.unwrap();
    assert_eq!((code, &body["blocked"]), (200, &json!(false)), "{body}");
    assert_eq!(serve.ask("echo", user).await, "hello");
    let totals = stats_until(&serve, &viewer, |t| t["updates"] == 3).await;
    assert_eq!((&totals["blocked"], &totals["daily_active_users"]), (&json!(1), &json!(1)));
    assert!(totals["latency_p50_ms"].as_u64().is_some(), "{totals}");
    let (_, status) = serve.status(&viewer, "echo").await;
    assert_eq!(status["status"], "running", "never restarted: {status}");
    let (_, log) = serve.api(Method::GET, "/api/v1/audit?action=user.block", Some(&viewer)).await.unwrap();
    assert_eq!(log["items"][0]["target"], json!(format!("echo/{user}")), "{log}");
}

/// Polls the bot's statistics (today) until `done` holds for its totals; returns them.
async fn stats_until(serve: &Serve, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (code, body) = serve.api(Method::GET, "/api/v1/bots/echo/stats", Some(token)).await.unwrap();
        assert_eq!(code, 200, "{body}");
        if done(&body["totals"]) {
            return body["totals"].clone();
        }
        assert!(Instant::now() < deadline, "statistics never got there: {body}\n{}", serve.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
