//! A bot's lifecycle under `serve` through the built binary (decision 0040): `bot stop` disables
//! it, so it stays stopped across a restart of `serve` (a changed file in the folder does not
//! start it) until `bot start`; the statuses are kept in the store, so right after a restart an
//! `unauthorized` bot is still `unauthorized`, with its error, and not tried again; `bot remove`
//! of a running bot stops it and deletes it and its data while another keeps answering, and its
//! unchanged file in the folder does not bring it back (a changed one does); a 401 on a send (a
//! webhook bot makes no getUpdates) stops only its bot as `unauthorized`. Every wait polls with a
//! deadline.

#![cfg(unix)]

mod binary;

use std::time::Duration;

use binary::fleet::{DEADLINE, Serve, bot, issue, url};
use binary::telegram::{
    ask as ask_at, is, serve_against, stand_in_telegram, status_until as status_at, user as user_at,
};
use binary::{ferrogram, request, text};
use serde_json::{Value, json};
use tokio::time::Instant;

async fn record(url: &str, name: &str) -> Option<ferrogram_store::BotRecord> {
    let store = ferrogram_store::Store::open(url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let record = store.bot_named(workspace.id, name).await.unwrap();
    store.close().await;
    record
}

/// Rows of `table` under the bot id `bot` (straight from the database file).
async fn rows(url: &str, table: &str, bot: u64) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE bot_id = $1");
    let count: i64 = sqlx::query_scalar(&sql).bind(bot as i64).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_bot_stays_stopped_across_a_restart_until_started() {
    let folder = binary::fleet::folder("lifecycle");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "first")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other", "the other")).unwrap();
    let editor = issue(&url, "ops", "editor");
    let serve = Serve::start(&folder, "serve.log");
    serve.status_until(&editor, "echo", is("running")).await;
    let stopped = serve.bot(&editor, &["stop", "echo"]);
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    let before = serve.status_until(&editor, "echo", is("stopped")).await;
    assert!(!record(&url, "echo").await.unwrap().enabled, "bot stop disables it");
    serve.kill().await;

    // Changed on disk while serve is down: the new version is saved, the bot stays stopped.
    std::fs::write(folder.0.join("bots/echo.yaml"), bot("echo", "second")).unwrap();
    let serve = Serve::start(&folder, "serve-2.log");
    let user = {
        serve.status_until(&editor, "other", is("running")).await;
        serve.user().await
    };
    assert_eq!(serve.ask("other", user).await, "the other");
    let (code, after) = serve.status(&editor, "echo").await;
    assert_eq!((code, &after["status"]), (200, &json!("stopped")), "{after}\n{}", serve.log());
    assert_eq!(after["since"], before["since"], "the stop's time survives the restart: {after}");
    assert!(serve.log().contains("default/echo: disabled, not started"), "{}", serve.log());
    assert!(!record(&url, "echo").await.unwrap().enabled, "the folder import does not enable it");

    let started = serve.bot(&editor, &["start", "echo"]);
    assert!(started.status.success(), "{}\n{}", text(&started.stdout), text(&started.stderr));
    let running = serve.status_until(&editor, "echo", is("running")).await;
    assert_eq!(running["version"], 2, "{running}");
    assert_eq!(serve.ask("echo", user).await, "second");
    assert!(record(&url, "echo").await.unwrap().enabled, "bot start enables it");

    // Without a server: `bot disable` in the store; the next start of serve leaves it stopped.
    serve.kill().await;
    let disabled = ferrogram(&["bot", "disable", "echo", "--database", &url]);
    assert!(disabled.status.success(), "{}", text(&disabled.stderr));
    assert!(text(&disabled.stdout).starts_with("echo: disabled"), "{}", text(&disabled.stdout));
    let listed = text(&ferrogram(&["bot", "list", "--database", &url]).stdout);
    assert!(listed.lines().any(|l| l.starts_with("default/echo: version 2") && l.ends_with("; disabled")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("default/other: ") && !l.contains("disabled")), "{listed}");
    let unknown = ferrogram(&["bot", "disable", "nobody", "--database", &url]);
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("no bot named nobody"));
    let serve = Serve::start(&folder, "serve-3.log");
    serve.status_until(&editor, "other", is("running")).await;
    assert_eq!(serve.status(&editor, "echo").await.1["status"], "stopped");
    serve.kill().await;
    let enabled = ferrogram(&["bot", "enable", "echo", "--database", &url]);
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    let serve = Serve::start(&folder, "serve-4.log");
    serve.status_until(&editor, "echo", is("running")).await;

    // The command line's changes are in the audit log as cli:USER.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let log = store.audit_log(workspace.id, 20).await.unwrap();
    let cli: Vec<(&str, &str)> = log
        .iter()
        .rev()
        .filter(|e| e.actor.starts_with("cli:"))
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(cli, [("token.create", "ops"), ("bot.disable", "echo"), ("bot.enable", "echo")]);
    store.close().await;
    serve.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_bot_stays_so_across_a_restart_with_its_error() {
    let folder = binary::fleet::folder("lifecycle");
    let url = url(&folder);
    std::fs::write(folder.0.join("bots/steady.yaml"), bot("steady", "steady here")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other", "the other")).unwrap();
    let viewer = issue(&url, "eyes", "viewer");
    let serve = Serve::start(&folder, "serve.log");
    serve.status_until(&viewer, "steady", is("running")).await;
    let steady_id = ferrogram_core::sandbox_bot_id("steady");
    request(&serve.http, format!("{}/sandbox/bots/{steady_id}/revoke", serve.sandbox), Some(json!({})))
        .await
        .expect("revoked");
    let refused = serve.status_until(&viewer, "steady", is("unauthorized")).await;
    // A status read answers at once, so it may show the change a moment before the store has
    // it (decision 0052): the restart comes once it is saved.
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let steady = store.bot_named(workspace.id, "steady").await.unwrap().unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let saved = store.bot_status(workspace.id, steady.id).await.unwrap();
        if saved.as_ref().is_some_and(|saved| saved.status == "unauthorized") {
            break;
        }
        assert!(Instant::now() < deadline, "never saved as unauthorized:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
    serve.kill().await;

    let serve = Serve::start(&folder, "serve-2.log");
    // As soon as the API answers, steady is unauthorized, since the same time, with its errors.
    let deadline = Instant::now() + DEADLINE;
    let (code, after) = loop {
        let answer =
            serve.http.get(format!("{}/api/v1/bots/steady/status", serve.server)).bearer_auth(&viewer).send().await;
        if let Ok(answer) = answer {
            break (answer.status().as_u16(), answer.json::<Value>().await.unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "{}", serve.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(code, 200, "{after}");
    assert_eq!(after["status"], "unauthorized", "{after}");
    assert_eq!(after["since"], refused["since"], "{after}");
    assert_eq!(after["errors"], refused["errors"], "{after}");
    serve.status_until(&viewer, "other", is("running")).await;
    let user = serve.user().await;
    assert_eq!(serve.ask("other", user).await, "the other");
    // Not tried again: no start of it in this run's log, its errors unchanged.
    serve.logged("default/steady: not started: its token was refused before").await;
    assert!(!serve.log().contains(&format!("steady: {}/?bot=", serve.sandbox)), "{}", serve.log());
    assert_eq!(serve.status(&viewer, "steady").await.1["errors"], refused["errors"]);
    let printed = text(&serve.bot(&viewer, &["status", "steady"]).stdout);
    assert!(printed.starts_with("steady: unauthorized since ") && printed.contains("refused the token"), "{printed}");
    serve.kill().await;

    // Offline, `bot enable` lets the next start try it again: its status is `stopped` (errors kept).
    let enabled = ferrogram(&["bot", "enable", "steady", "--database", &url]);
    assert!(enabled.status.success(), "{}", text(&enabled.stderr));
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let steady = store.bot_named(workspace.id, "steady").await.unwrap().unwrap();
    let status = store.bot_status(workspace.id, steady.id).await.unwrap().expect("a status");
    assert_eq!(status.status, "stopped");
    assert!(status.errors.last().is_some_and(|(_, message)| message.contains("refused the token")), "{status:?}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_bot_is_removed_with_its_data_and_its_unchanged_file_does_not_bring_it_back() {
    let folder = binary::fleet::folder("lifecycle");
    let url = url(&folder);
    let file = folder.0.join("bots/echo.yaml");
    std::fs::write(&file, bot("echo", "first")).unwrap();
    std::fs::write(folder.0.join("bots/other.yaml"), bot("other", "the other")).unwrap();
    let (admin, editor) = (issue(&url, "root", "admin"), issue(&url, "ops", "editor"));
    let serve = Serve::start(&folder, "serve.log");
    serve.status_until(&editor, "echo", is("running")).await;
    serve.status_until(&editor, "other", is("running")).await;
    let user = serve.user().await;
    assert_eq!(serve.ask("echo", user).await, "first");
    let echo_id = ferrogram_core::sandbox_bot_id("echo");
    assert!(rows(&url, "inbox", echo_id).await > 0, "echo has data");

    // Refused: without --yes off a terminal; without a token while a server answers; by an editor.
    let no_yes = ferrogram(&["bot", "remove", "echo", "--database", &url, "--server", &serve.server]);
    assert!(!no_yes.status.success() && text(&no_yes.stderr).contains("--yes"), "{}", text(&no_yes.stderr));
    let no_token = ferrogram(&["bot", "remove", "echo", "--yes", "--database", &url, "--server", &serve.server]);
    assert!(!no_token.status.success(), "{}", text(&no_token.stdout));
    assert!(text(&no_token.stderr).contains("a server answers at"), "{}", text(&no_token.stderr));
    let by_editor = serve.bot(&editor, &["remove", "echo", "--yes"]);
    assert!(!by_editor.status.success() && text(&by_editor.stderr).contains("admin"), "{}", text(&by_editor.stderr));
    assert_eq!(serve.ask("echo", user).await, "first", "nothing was removed");

    let removed = serve.bot(&admin, &["remove", "echo", "--yes"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let printed = text(&removed.stdout);
    assert!(printed.starts_with("removed default/echo (stopped first): 1 version, "), "{printed}");
    assert!(printed.contains("inbox ") && !printed.contains(" 0 data rows"), "{printed}");
    assert_eq!(serve.status(&editor, "echo").await.0, 404);
    assert!(record(&url, "echo").await.is_none());
    for table in ["inbox", "outbox", "chat_states", "bot_users"] {
        assert_eq!(rows(&url, table, echo_id).await, 0, "{table}");
    }
    assert_eq!(serve.ask("other", user).await, "the other");
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    let workspace = store.workspace_named("default").await.unwrap().unwrap();
    let last = store.audit_log(workspace.id, 1).await.unwrap().remove(0);
    assert_eq!((last.action.as_str(), last.target.as_str()), ("bot.remove", "echo"));
    assert!(last.actor.starts_with("token:") && last.detail["was_running"] == true, "{last:?}");
    store.close().await;

    // The same file touched: not imported again. Changed: a new bot, started.
    let touched = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{touched}\n")).unwrap();
    std::fs::write(&file, touched).unwrap();
    serve.logged("not imported: the bot echo was removed on ").await;
    assert!(record(&url, "echo").await.is_none());
    std::fs::write(&file, bot("echo", "reborn")).unwrap();
    let running = serve.status_until(&editor, "echo", is("running")).await;
    assert_eq!(running["version"], 1, "{running}");
    assert_eq!(serve.ask("echo", user).await, "reborn");
    serve.kill().await;

    // Without a server, in the store (keeping the data), audited as cli:USER.
    let removed =
        ferrogram(&["bot", "remove", "echo", "--yes", "--keep-data", "--database", &url, "--server", &serve_down()]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    assert!(text(&removed.stdout).contains("its data kept"), "{}", text(&removed.stdout));
    assert!(rows(&url, "inbox", echo_id).await > 0, "kept");
    assert!(record(&url, "echo").await.is_none());
}

/// A listener URL where nothing listens.
fn serve_down() -> String {
    format!("http://127.0.0.1:{}", binary::free_port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_on_a_send_stops_only_its_bot_as_unauthorized() {
    const TOKEN: &str = "737373:lifecycle-secret";
    const TOKEN_ID: i64 = 737_373;
    let folder = binary::fleet::folder("lifecycle");
    let url = url(&folder);
    let http = ferrogram_telegram::http_client().expect("http client");
    let (telegram, _telegram) = stand_in_telegram(&folder, &http).await;
    let hooked = "ferrogram: 1\nbot:\n  name: hooked\n  token: \"${TEST_TOKEN}\"\non:\n  - command: hi\n    do:\n      - reply: \"by webhook\"\n";
    std::fs::write(folder.0.join("bots/hooked.yaml"), hooked).unwrap();
    std::fs::write(folder.0.join("bots/local.yaml"), bot("local", "from the sandbox")).unwrap();
    let api_token = issue(&url, "ops", "editor");
    // Receiving by webhook: no getUpdates, so only a send can meet the revoked token.
    let (_serve, server, sandbox) =
        serve_against(&folder, &url, &telegram, "serve.log", ("TEST_TOKEN", TOKEN), true, &[]);
    let log = folder.0.join("serve.log");
    let log_name = log.display().to_string();
    status_at(&http, &server, &api_token, "hooked", &log, is("running")).await;
    status_at(&http, &server, &api_token, "local", &log, is("running")).await;
    let webhook = format!("{server}/telegram/{TOKEN_ID}");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = request(&http, format!("{telegram}/bot{TOKEN}/getWebhookInfo"), None).await;
        if info.as_ref().is_ok_and(|info| info["result"]["url"] == webhook.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "no webhook: {info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ann = user_at(&http, &telegram).await;
    assert_eq!(ask_at(&http, &telegram, TOKEN_ID, ann, &log_name).await, "by webhook");

    request(&http, format!("{telegram}/sandbox/bots/{TOKEN_ID}/revoke"), Some(json!({}))).await.expect("revoked");
    // The update still arrives by webhook; the answer's sendMessage gets the 401.
    let body = json!({"bot_id": TOKEN_ID, "user_id": ann, "command": "hi"});
    request(&http, format!("{telegram}/sandbox/act/command"), Some(body)).await.expect("command sent");
    let refused = status_at(&http, &server, &api_token, "hooked", &log, is("unauthorized")).await;
    let last = refused["errors"].as_array().and_then(|e| e.last()).cloned().unwrap_or_default();
    assert!(last["message"].as_str().is_some_and(|m| m.contains("refused the token")), "{refused}");
    let printed = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(printed.contains("Telegram refused the bot's token: the call stays in the outbox"), "{printed}");
    assert!(!printed.contains("lifecycle-secret"), "{printed}");
    let bob = user_at(&http, &sandbox).await;
    let local_id = ferrogram_core::sandbox_bot_id("local") as i64;
    assert_eq!(ask_at(&http, &sandbox, local_id, bob, &log_name).await, "from the sandbox");
    assert_eq!(status_at(&http, &server, &api_token, "local", &log, is("running")).await["status"], "running");
}
