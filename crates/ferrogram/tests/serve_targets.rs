//! `serve`'s targets through the built binary: a bot file with `bot.token: ${TEST_TOKEN}` (the
//! variable allowed with `--bot-env`) runs against the Bot API server of `--telegram-api-url`
//! (here a `ferrogram sandbox` process standing in for Telegram), a bot without a token in the
//! built-in sandbox. The Telegram bot answers a user of the external sandbox, is `running`, and
//! its record carries the token's id; a token variable not allowed makes its bot `failing` with
//! the way to allow it; a token the API refuses (revoked) makes its bot `unauthorized` while the
//! sandbox bot keeps answering. A file of the folder that gains a token moves its bot to
//! Telegram (its record takes the token's id); one that drops it is saved but not run. With
//! `--public-url` the Telegram bot receives by webhook on the listener. The token is never
//! logged. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use binary::{ferrogram, text};
use std::time::Duration;

use binary::request;
use binary::telegram::{DEADLINE, ask, is, serve_against, stand_in_telegram, status_until, user};
use serde_json::json;
use tokio::time::Instant;

/// The token the stand-in Telegram accepts (any `ID:secret` works there until revoked).
const TOKEN: &str = "424242:targets-test-secret";
const TOKEN_ID: i64 = 424_242;

use binary::TempFolder as Folder;

/// A fresh folder with a `bots/` folder in it, removed when dropped.
fn folder() -> Folder {
    let folder = Folder::new("targets");
    std::fs::create_dir_all(folder.0.join("bots")).unwrap();
    folder
}

impl Folder {
    fn url(&self) -> String {
        format!("sqlite://{}", self.0.join("fleet.db").display())
    }
}

/// A bot named `name` answering `/hi` with `answer`, with `token` as its `bot.token` if any.
fn bot(name: &str, token: Option<&str>, answer: &str) -> String {
    let token = token.map(|token| format!("  token: \"{token}\"\n")).unwrap_or_default();
    format!("ferrogram: 1\nbot:\n  name: {name}\n{token}on:\n  - command: hi\n    do:\n      - reply: \"{answer}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_with_a_token_runs_against_the_telegram_api_url_and_one_without_in_the_sandbox() {
    let folder = folder();
    let url = folder.url();
    let http = ferrogram_telegram::http_client().expect("http client");
    let (telegram, _telegram) = stand_in_telegram(&folder, &http).await;

    std::fs::write(folder.0.join("bots/tg.yaml"), bot("tg", Some("${TEST_TOKEN}"), "from telegram")).unwrap();
    std::fs::write(folder.0.join("bots/local.yaml"), bot("local", None, "from the sandbox")).unwrap();
    std::fs::write(folder.0.join("bots/hidden.yaml"), bot("hidden", Some("${UNLISTED_TOKEN}"), "never")).unwrap();
    let issued = ferrogram(&["token", "issue", "ops", "--role", "editor", "--database", &url]);
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    let api_token = text(&issued.stdout).trim().to_owned();

    let log_path = folder.0.join("serve.log");
    let (_serve, server, sandbox) =
        serve(&folder, &telegram, TOKEN, false, &[("UNLISTED_TOKEN", "77:unlisted-secret")]);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // The Telegram bot: running, answering a user of the stand-in Telegram.
    let running = status_until(&http, &server, &api_token, "tg", &log_path, is("running")).await;
    assert_eq!(running["version"], 1, "{running}");
    let ann = user(&http, &telegram).await;
    let log_name = log_path.display().to_string();
    assert_eq!(ask(&http, &telegram, TOKEN_ID, ann, &log_name).await, "from telegram");
    // The sandbox bot runs in the built-in sandbox, not in the stand-in Telegram.
    status_until(&http, &server, &api_token, "local", &log_path, is("running")).await;
    let bob = user(&http, &sandbox).await;
    let local_id = ferrogram_core::sandbox_bot_id("local") as i64;
    assert_eq!(ask(&http, &sandbox, local_id, bob, &log_name).await, "from the sandbox");
    let external = request(&http, format!("{telegram}/sandbox/bots"), None).await.expect("bots");
    let ids: Vec<i64> = external.as_array().unwrap().iter().filter_map(|b| b["id"].as_i64()).collect();
    assert_eq!(ids, [TOKEN_ID], "{external}");

    // A token variable not allowed: failing, with the way to allow it.
    let hidden = status_until(&http, &server, &api_token, "hidden", &log_path, |s| {
        s["status"] == "failing" && s["errors"].as_array().is_some_and(|e| !e.is_empty())
    })
    .await;
    let message = hidden["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("UNLISTED_TOKEN") && message.contains("--bot-env UNLISTED_TOKEN"), "{hidden}");

    // The records: the Telegram bot carries its token's id, the sandbox bot its sandbox id.
    let listed = ferrogram(&["bot", "list", "--database", &url]);
    let listed = text(&listed.stdout);
    assert!(listed.lines().any(|l| l.starts_with("default/tg: version 1") && l.ends_with("(Telegram bot 424242)")));
    assert!(listed.lines().any(|l| l.starts_with("default/local: version 1") && !l.contains("Telegram")), "{listed}");

    // The token revoked by the stand-in Telegram: tg is unauthorized, local keeps answering.
    request(&http, format!("{telegram}/sandbox/bots/{TOKEN_ID}/revoke"), Some(json!({}))).await.expect("revoked");
    let refused = status_until(&http, &server, &api_token, "tg", &log_path, is("unauthorized")).await;
    let last = refused["errors"].as_array().and_then(|e| e.last()).cloned().unwrap_or_default();
    assert!(last["message"].as_str().is_some_and(|m| m.contains("refused the token")), "{refused}");
    assert_eq!(ask(&http, &sandbox, local_id, bob, &log_name).await, "from the sandbox");
    // Started again with the refused token: getMe's 401 makes it unauthorized at once.
    let started = ferrogram(&["bot", "start", "tg", "--server", &server, "--token", &api_token]);
    assert!(text(&started.stdout).starts_with("tg: unauthorized since "), "{}", text(&started.stdout));

    let printed = log();
    assert!(!printed.contains("targets-test-secret") && !printed.contains("unlisted-secret"), "{printed}");
}

/// Starts `serve` on `folder` against the stand-in Telegram at `telegram`, with `TEST_TOKEN`
/// allowed and set to `token` and the variables `env` set (not allowed), receiving by webhook
/// on its listener when `webhook`: the child, the listener's URL and the sandbox's.
fn serve(
    folder: &Folder,
    telegram: &str,
    token: &str,
    webhook: bool,
    env: &[(&str, &str)],
) -> (binary::Guarded, String, String) {
    serve_against(folder, &folder.url(), telegram, "serve.log", ("TEST_TOKEN", token), webhook, env)
}

/// Polls `serve`'s log until it has `line`.
async fn logged(log: &std::path::Path, line: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let printed = std::fs::read_to_string(log).unwrap_or_default();
        if printed.contains(line) {
            return;
        }
        assert!(Instant::now() < deadline, "no {line:?} in\n{printed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_gains_a_token_moves_its_bot_to_telegram_and_one_that_drops_it_is_not_moved_back() {
    let folder = folder();
    let url = folder.url();
    let http = ferrogram_telegram::http_client().expect("http client");
    let (telegram, _telegram) = stand_in_telegram(&folder, &http).await;
    let file = folder.0.join("bots/mover.yaml");
    std::fs::write(&file, bot("mover", None, "v1 in the sandbox")).unwrap();
    let issued = ferrogram(&["token", "issue", "ops", "--role", "editor", "--database", &url]);
    let api_token = text(&issued.stdout).trim().to_owned();
    let (_serve, server, sandbox) = serve(&folder, &telegram, "515151:mover-secret", false, &[]);
    let log_path = folder.0.join("serve.log");
    let log_name = log_path.display().to_string();

    status_until(&http, &server, &api_token, "mover", &log_path, is("running")).await;
    let bob = user(&http, &sandbox).await;
    let sandbox_id = ferrogram_core::sandbox_bot_id("mover") as i64;
    assert_eq!(ask(&http, &sandbox, sandbox_id, bob, &log_name).await, "v1 in the sandbox");

    // The file gains a token: saved, and the bot restarted on Telegram under the token's id.
    std::fs::write(&file, bot("mover", Some("${TEST_TOKEN}"), "v2 on telegram")).unwrap();
    let moved =
        status_until(&http, &server, &api_token, "mover", &log_path, |s| s["status"] == "running" && s["version"] == 2)
            .await;
    assert_eq!(moved["errors"], json!([]), "{moved}");
    logged(&log_path, &format!("default/mover: now bot 515151 (was bot {sandbox_id})")).await;
    let ann = user(&http, &telegram).await;
    assert_eq!(ask(&http, &telegram, 515_151, ann, &log_name).await, "v2 on telegram");
    let listed = text(&ferrogram(&["bot", "list", "--database", &url]).stdout);
    assert!(listed.contains("default/mover: version 2") && listed.contains("(Telegram bot 515151)"), "{listed}");

    // The file drops its token: saved, not run; the running version goes on.
    std::fs::write(&file, bot("mover", None, "v3 nowhere")).unwrap();
    logged(&log_path, "mover: version 3; not run: mover is Telegram bot 515151 but its file has no bot.token").await;
    assert_eq!(ask(&http, &telegram, 515_151, ann, &log_name).await, "v2 on telegram");
    let started = ferrogram(&["bot", "reload", "mover", "--server", &server, "--token", &api_token]);
    assert!(!started.status.success());
    assert!(text(&started.stderr).contains("its file has no bot.token"), "{}", text(&started.stderr));
    let listed = text(&ferrogram(&["bot", "list", "--database", &url]).stdout);
    assert!(listed.contains("default/mover: version 3") && listed.contains("(Telegram: not run by serve)"), "{listed}");
    let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(!printed.contains("mover-secret"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_public_url_the_telegram_bot_receives_by_webhook_on_the_listener() {
    let folder = folder();
    let url = folder.url();
    let http = ferrogram_telegram::http_client().expect("http client");
    let (telegram, _telegram) = stand_in_telegram(&folder, &http).await;
    std::fs::write(folder.0.join("bots/hooked.yaml"), bot("hooked", Some("${TEST_TOKEN}"), "by webhook")).unwrap();
    let issued = ferrogram(&["token", "issue", "ops", "--role", "editor", "--database", &url]);
    let api_token = text(&issued.stdout).trim().to_owned();
    let (_serve, server, _sandbox) = serve(&folder, &telegram, "616161:hooked-secret", true, &[]);
    let log_path = folder.0.join("serve.log");

    status_until(&http, &server, &api_token, "hooked", &log_path, is("running")).await;
    // The engine sets the webhook once the bot caught up.
    let webhook = format!("{server}/telegram/616161");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = request(&http, format!("{telegram}/bot616161:hooked-secret/getWebhookInfo"), None).await;
        if info.as_ref().is_ok_and(|info| info["result"]["url"] == webhook.as_str()) {
            break;
        }
        let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(Instant::now() < deadline, "no webhook {webhook}: {info:?}\n{printed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ann = user(&http, &telegram).await;
    assert_eq!(ask(&http, &telegram, 616_161, ann, &log_path.display().to_string()).await, "by webhook");
}
