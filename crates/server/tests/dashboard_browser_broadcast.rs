//! A broadcast in a real browser, end to end: `conformance/js/dashboard_broadcast.mjs` drives
//! Chromium (playwright-core) to sign in, open a bot's broadcasts page, compose a broadcast to
//! the users on the pro plan (a templated text, a button), watch the live preview (the text
//! as the first of them gets it, the audience count; an audience that holds nobody said so),
//! send it, and wait on its page until the progress bar (`role=progressbar`) reaches 100 %
//! and stops polling; then in Russian and dark. axe-core runs on each page, and the page must
//! log no console error and no failed request. This test serves the dashboard and the API on a
//! real SQLite store, with a real engine running the bot against the sandbox (where Telegram
//! stands) and the server's broadcast runner — as `serve` runs it, without the binary — and
//! checks that the sandbox's users on the plan received the message once each, with their own
//! name, and the others nothing. Screenshots go to `target/tmp/broadcast-*.png`.
//!
//! Needs Chromium, node, playwright-core and axe-core (`conformance/install.sh`); without them
//! the test prints a `SKIPPED` line and passes, unless `FERROGRAM_REQUIRE_CONFORMANCE=1`.

#[path = "../../sandbox/tests/browser/mod.rs"]
mod browser;
// Only its BotControl is used here (not its `state`).
mod host;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrogram_engine::{Engine, EngineConfig, Scope, StateStore};
use ferrogram_server::broadcasts::{Runner, RunnerConfig};
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Routes};
use ferrogram_store::{Role, Store, hash_password};
use serde_json::{Value, json};

use browser::{cannot_run, chromium};

const EMAIL: &str = "erin@example.org";
const PASSWORD: &str = "a browser-typed password";
const NEWS: &str = "ferrogram: 1\nbot: {name: news}\non:\n  - text: any\n    do:\n      - reply: \"noted\"\n";
const BOT_ID: u64 = 7171;
const WAIT: Duration = Duration::from_secs(30);
/// The whole browser session; only turns a hang into a failure.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

fn conformance_js() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/js")
}

/// The sandbox's control API.
async fn control(http: &reqwest::Client, base: &str, path: &str, body: Option<Value>) -> Value {
    let request = match body {
        Some(body) => http.post(format!("{base}{path}")).json(&body),
        None => http.get(format!("{base}{path}")),
    };
    let response = request.send().await.expect("sandbox answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_is_composed_previewed_and_sent_in_a_browser() {
    let js = conformance_js();
    if cannot_run("broadcast browser test", &js, &["playwright-core", "axe-core"]) {
        return;
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let db = shots.join(format!("broadcast-browser-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = Arc::new(Store::open(&format!("sqlite://{}", db.display())).await.expect("store"));
    let mut sandbox_config = ferrogram_sandbox::Config::default();
    sandbox_config.limits.enabled = false;
    let sandbox = ferrogram_sandbox::Sandbox::start(sandbox_config).await.expect("sandbox");
    let sandbox_url = sandbox.url();
    let http = reqwest::Client::new();
    let token = format!("{BOT_ID}:broadcast-browser-token");
    control(&http, &sandbox_url, "/sandbox/bots", Some(json!({"token": token}))).await;

    let workspace = store.create_workspace("shop").await.unwrap();
    let hash = hash_password(PASSWORD).await.unwrap();
    let account = store.create_account(EMAIL, "Erin Editor", &hash).await.unwrap().unwrap();
    store.set_member(workspace, account.id, Role::Editor).await.unwrap();
    let bot = store.create_bot(workspace, "news", Some(BOT_ID)).await.unwrap().unwrap();
    store.save_version(workspace, bot, NEWS).await.unwrap();

    // The bot runs in a real engine against the sandbox; four users write to it.
    let state: Arc<dyn StateStore> = store.clone();
    let engine = Arc::new(Engine::new(EngineConfig { store: state, ..EngineConfig::default() }));
    let file = ferrogram_schema::load_str(NEWS, "news.yaml").expect("valid bot file");
    let running = engine.add_bot(file, &token, &sandbox_url).await.expect("bot starts");
    let mut handled = engine.handled(running).unwrap();
    let mut users = Vec::new();
    for (n, name) in ["Ann", "Bob", "Cid", "Dee"].into_iter().enumerate() {
        let user = control(&http, &sandbox_url, "/sandbox/users", Some(json!({"first_name": name}))).await;
        let user = user["id"].as_i64().unwrap();
        let said = json!({"bot_id": BOT_ID, "user_id": user, "text": "hi"});
        control(&http, &sandbox_url, "/sandbox/act/text", Some(said)).await;
        tokio::time::timeout(WAIT, handled.wait_for(|h| *h > n as u64)).await.unwrap().unwrap();
        users.push((user, name));
    }
    let deadline = Instant::now() + WAIT;
    while store.bot_users_page(BOT_ID, None, None, i64::MIN, 10).await.unwrap().len() < 4 {
        assert!(Instant::now() < deadline, "the engine did not remember the users");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ann, Bob and Cid are on the pro plan; Dee is not.
    for (user, name) in &users {
        let plan = if *name == "Dee" { "free" } else { "pro" };
        store.set_var(BOT_ID, Scope::User(*user), "plan", Some(&json!(plan))).await.unwrap();
    }

    let host = host::Host::new(Arc::clone(&store), sandbox_url.clone());
    let api = Api { store: Arc::clone(&store), bots: host, hooks: Default::default() };
    // Each send takes a second, one recipient a batch: the broadcast's page opens while it is
    // still sending, so the page must poll its progress to see it reach 100 %.
    let delay = json!({"count": 3, "delay_ms": 1000, "methods": ["sendMessage"]});
    control(&http, &sandbox_url, &format!("/sandbox/bots/{BOT_ID}/faults"), Some(delay)).await;
    // The runner `serve` starts beside the listener, here without the binary.
    let config = RunnerConfig { batch: 1, ..RunnerConfig::default() };
    let runner = Runner::start(api.clone(), Arc::clone(&engine), config);
    let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
    let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
    let listening =
        ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine), routes).await.unwrap();

    let mut command = std::process::Command::new("node");
    command
        .arg("dashboard_broadcast.mjs")
        .current_dir(&js)
        .env("BASE_URL", format!("http://{}", listening.addr()))
        .env("WORKSPACE", workspace.to_string())
        .env("CHROMIUM", chromium().expect("checked above"))
        .env("SHOTS", &shots)
        .env("EMAIL", EMAIL)
        .env("PASSWORD", PASSWORD);
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .expect("the browser script finished in time")
        .unwrap()
        .expect("node runs");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser script failed (screenshots in {}):\n{log}", shots.display());
    assert!(log.trim_end().ends_with("ok"), "{log}");

    // What the clicks made: one broadcast, done, to the three on the plan, audited as theirs.
    let made = store.broadcasts_page(workspace, bot, None, i64::MAX, 10).await.unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!((made[0].state.as_str(), made[0].total, made[0].sent), ("done", Some(3), 3), "{made:?}");
    let audit = store.audit_log(workspace, 10).await.unwrap();
    let actor = format!("account:{}", account.id);
    assert!(audit.iter().any(|e| e.action == "broadcast.create" && e.actor == actor), "{audit:?}");
    // What the sandbox's users received: their own greeting once, with its button; Dee nothing.
    for (user, name) in &users {
        let messages =
            control(&http, &sandbox_url, &format!("/sandbox/chats/{user}/messages?bot_id={BOT_ID}"), None).await;
        let got: Vec<&Value> = messages
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["from_bot"] == true && m["message"]["text"] != "noted")
            .collect();
        if *name == "Dee" {
            assert!(got.is_empty(), "Dee is not on the plan: {got:?}");
            continue;
        }
        assert_eq!(got.len(), 1, "{name} got it once: {got:?}");
        assert_eq!(got[0]["message"]["text"], format!("Hello {name}, welcome to pro!"), "{got:?}");
        let button = &got[0]["message"]["reply_markup"]["inline_keyboard"][0][0];
        assert_eq!(
            (button["text"].as_str(), button["url"].as_str()),
            (Some("Open the shop"), Some("https://shop.example/"))
        );
    }
    for shot in ["compose", "preview-empty", "progress-done", "broadcast-ru-dark", "list-ru-dark"] {
        assert!(shots.join(format!("broadcast-{shot}.png")).exists(), "screenshot {shot}");
    }
    runner.stop().await;
    listening.stop();
    sandbox.stop().await.unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
