//! Stored secrets read by bot files under `serve` (decision 0044), through the built binary: a
//! bot's `http` step sends `Authorization: Bearer ${SHOP_KEY}` to an HTTP server of the test,
//! which checks the value; `SHOP_KEY` is stored with `ferrogram secrets set` (standard input),
//! not in the environment. The workspace's value first; then the bot's own, which wins, after
//! `bot reload`. A name neither stored nor allowed fails the step with the existing error. The
//! values never appear in serve's log, `bot list`, `secrets list`, `export` (without
//! `--with-secrets`) or `/metrics`. Every wait polls with a deadline.

#![cfg(unix)]

mod binary;

use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use binary::serve::{Serve, database_url, scratch};
use binary::{ferrogram, text};
use serde_json::json;
use tokio::time::Instant;

const WORKSPACE_VALUE: &str = "ws-value-7Qx3-never-shown";
const BOT_VALUE: &str = "bot-value-9Kz1-never-shown";

/// A server answering `GET /check` with who the `Authorization` header is (`workspace`, `bot`,
/// else 401 `nobody`), recording every value it was sent: its port and the record.
async fn checking_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/check",
        axum::routing::get(move |headers: HeaderMap| {
            let record = Arc::clone(&record);
            async move {
                let sent = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                record.lock().unwrap().push(sent.clone());
                let who = if sent == format!("Bearer {WORKSPACE_VALUE}") {
                    "workspace"
                } else if sent == format!("Bearer {BOT_VALUE}") {
                    "bot"
                } else {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"who": "nobody"})));
                };
                (StatusCode::OK, axum::Json(json!({"who": who})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

fn shop_bot(port: u16) -> String {
    format!(
        r#"ferrogram: 1
bot:
  name: shop
on:
  - command: key
    do:
      - try:
          do:
            - http:
                url: "http://127.0.0.1:{port}/check"
                retries: 0
                headers:
                  Authorization: "Bearer ${{SHOP_KEY}}"
            - reply: "server said {{{{ result.json.who }}}}"
          catch:
            - reply: "failed: {{{{ error.message }}}}"
  - command: missing
    do:
      - try:
          do:
            - http:
                url: "http://127.0.0.1:{port}/check"
                retries: 0
                headers:
                  Authorization: "Bearer ${{MISSING_KEY}}"
            - reply: "server said {{{{ result.json.who }}}}"
          catch:
            - reply: "failed: {{{{ error.message }}}}"
"#
    )
}

/// `ferrogram ARGS` with `input` on standard input.
fn with_input(args: &[&str], input: &str) -> Output {
    binary::Run::new(args)
        .env_remove("FERROGRAM_DATABASE_URL")
        .env_remove("FERROGRAM_SECRET_KEY")
        .env_remove("FERROGRAM_API_TOKEN")
        .input(input)
        .output()
}

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "{}{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

/// The bot's sent texts, once one starts with `prefix`: that one.
async fn reply_starting(serve: &Serve, bot: i64, prefix: &str, skip: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = serve.get(&format!("/sandbox/events?bot_id={bot}&kind=sent&timeout=1")).await.unwrap_or_default();
        let texts: Vec<String> = events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"]["text"].as_str().map(str::to_owned))
            .collect();
        if let Some(found) = texts.iter().skip(skip).find(|t| t.starts_with(prefix)) {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "no reply {prefix:?} (replies {texts:?}):\n{}", serve.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_secrets_are_read_by_bot_files_and_never_shown() {
    let folder = scratch("serve-secrets");
    let url = database_url(&folder);
    let (port, seen) = checking_server().await;
    let file = folder.join("bots/shop.yaml");
    std::fs::write(&file, shop_bot(port)).expect("bot file");
    succeeded(&ferrogram(&["bot", "add", &file.display().to_string(), "--database", &url]));

    // `secrets set`: the value from standard input; an empty one and a bad name are refused.
    let empty = with_input(&["secrets", "set", "SHOP_KEY", "--database", &url], "\n");
    assert!(!empty.status.success() && text(&empty.stderr).contains("empty"), "{}", text(&empty.stderr));
    let bad = with_input(&["secrets", "set", "SHOP-KEY", "--database", &url], "x");
    assert!(!bad.status.success() && text(&bad.stderr).contains("not a secret name"), "{}", text(&bad.stderr));
    let saved = succeeded(&with_input(&["secrets", "set", "SHOP_KEY", "--database", &url], WORKSPACE_VALUE));
    assert!(saved.starts_with("saved secret SHOP_KEY of workspace default"), "{saved}");
    let unknown = with_input(&["secrets", "set", "SHOP_KEY", "--bot", "nobody", "--database", &url], "x");
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("no bot named nobody"));

    let token = succeeded(&ferrogram(&["token", "create", "ops", "--role", "editor", "--database", &url]));
    let token = token.trim().to_owned();
    let allow = format!("127.0.0.1:{port}");
    // SHOP_KEY is not in serve's environment, nor allowed: only the store has it.
    let mut serve = Serve::start(&folder, "serve.log", &["--allow-private-http", &allow], &[]);
    let bot = serve.running(&["shop"]).await[0];
    let listener = serve.listening().await;
    let ann = serve.user("Ann").await;

    // The workspace's secret.
    serve.send(bot, ann, "/key").await.expect("sent");
    assert_eq!(reply_starting(&serve, bot, "server said", 0).await, "server said workspace");

    // The bot's own wins once the bot reloads.
    let own = succeeded(&with_input(&["secrets", "set", "SHOP_KEY", "--bot", "shop", "--database", &url], BOT_VALUE));
    assert!(own.starts_with("saved secret SHOP_KEY of bot shop of workspace default"), "{own}");
    succeeded(&ferrogram(&["bot", "reload", "shop", "--server", &listener, "--token", &token]));
    serve.send(bot, ann, "/key").await.expect("sent");
    assert_eq!(reply_starting(&serve, bot, "server said b", 0).await, "server said bot");

    // A name neither stored nor allowed: the existing error, naming it.
    serve.send(bot, ann, "/missing").await.expect("sent");
    let failed = reply_starting(&serve, bot, "failed:", 0).await;
    assert!(failed.contains("MISSING_KEY") && failed.contains("--bot-env MISSING_KEY"), "{failed}");

    let sent: Vec<String> = seen.lock().unwrap().clone();
    assert_eq!(sent, [format!("Bearer {WORKSPACE_VALUE}"), format!("Bearer {BOT_VALUE}")], "only two calls reached it");

    // Never shown: not in the listing, the export, the metrics, the log.
    let listed = succeeded(&ferrogram(&["secrets", "list", "--database", &url]));
    assert!(listed.lines().any(|l| l.starts_with("workspace default SHOP_KEY: key ")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("bot shop SHOP_KEY: key ")), "{listed}");
    let bots = succeeded(&ferrogram(&["bot", "list", "--database", &url]));
    let export = succeeded(&ferrogram(&["export", "shop", "--database", &url]));
    let with_secrets = succeeded(&ferrogram(&["export", "shop", "--with-secrets", "--database", &url]));
    assert!(with_secrets.contains(BOT_VALUE), "the flag exports the bot's secrets");
    let metrics = serve.http.get(format!("{listener}/metrics")).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("metrics text");
    assert!(metrics.contains("ferrogram_http_requests_total"), "{metrics}");
    let log = serve.log();
    for (what, shown) in [
        ("secrets list", &listed),
        ("bot list", &bots),
        ("export", &export),
        ("metrics", &metrics),
        ("serve's log", &log),
    ] {
        for value in [WORKSPACE_VALUE, BOT_VALUE] {
            assert!(!shown.contains(value), "{what} shows a secret:\n{shown}");
        }
    }

    // `secrets delete`: the bot's goes, the workspace's is read again after a reload.
    succeeded(&ferrogram(&["secrets", "delete", "SHOP_KEY", "--bot", "shop", "--database", &url]));
    let again = ferrogram(&["secrets", "delete", "SHOP_KEY", "--bot", "shop", "--database", &url]);
    assert!(!again.status.success() && text(&again.stderr).contains("no secret SHOP_KEY"));
    succeeded(&ferrogram(&["bot", "reload", "shop", "--server", &listener, "--token", &token]));
    serve.send(bot, ann, "/key").await.expect("sent");
    let replies = 3;
    assert_eq!(reply_starting(&serve, bot, "server said w", replies).await, "server said workspace");
    let _ = serve.child.kill().await;
    let _ = std::fs::remove_dir_all(&folder);
}
