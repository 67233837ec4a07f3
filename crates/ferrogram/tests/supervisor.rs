//! `serve`'s supervisor through the built binary: `ferrogram bot start|stop|reload|status`
//! against a running server's listener with an API token (`ferrogram token issue`), the
//! control API's refusals (401 without or with a bad token, 403 for a viewer acting, 404 for an
//! unknown bot) and its audit log; a bot whose stored version no longer validates is `failing`
//! and retried while the others run; a token revoked in the sandbox stops its bot as
//! `unauthorized` while another keeps answering. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use binary::fleet::{Serve, add, bot, issue, url};
use binary::telegram::is;
use binary::{ferrogram, request, text};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_start_stop_and_reload_through_the_listener_with_an_api_token() {
    let folder = binary::fleet::folder("supervisor");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "first")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other", "the other")).unwrap();
    let editor = issue(&url, "ops", "editor");
    let viewer = issue(&url, "watcher", "viewer");
    let serve = Serve::start(&folder, "serve.log");
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
    let folder = binary::fleet::folder("supervisor");
    let url = url(&folder);
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

    let serve = Serve::start(&folder, "serve.log");
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
