//! The run-it pages in a real browser: `conformance/js/dashboard_run.mjs` drives Chromium
//! (through playwright-core) through signing in, a bot's users (a search, a block), a
//! collection (a filter, a sort, a record edited: a bad value refused next to its field, then
//! saved), the bot's charts, the workspace's members and its overview in Russian and dark,
//! running axe-core on each page; this test serves the dashboard on a real SQLite store with
//! the bot and its data (users, records, statistics committed as the engine commits them) and
//! checks what the clicks changed in it. Screenshots go to `target/tmp/dashboard-run-*.png`.
//!
//! Needs what `dashboard_browser.rs` needs (Chromium, node, playwright-core, axe-core:
//! `conformance/install.sh`); without them it prints a `SKIPPED` line and passes, unless
//! `FERROGRAM_REQUIRE_CONFORMANCE=1` is set, as in CI.

#[path = "../../sandbox/tests/browser/mod.rs"]
mod browser;
mod host;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{
    CollectionSpec, CollectionStore, Commit, Engine, EngineConfig, Scope, StateStore, Tally, TallyOutcome,
};
use ferrogram_server::bots::Status;
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Routes};
use ferrogram_store::{Role, Store, hash_password};
use serde_json::json;

use browser::{cannot_run, chromium};

const EMAIL: &str = "olga@example.org";
const PASSWORD: &str = "a browser-typed password";
const SHOP: &str = "ferrogram: 1\nbot: {name: shop}\ncollections:\n  orders:\n    scope: user\n    fields:\n      title: {type: string, required: true}\n      qty: integer\n      tags: list\non:\n  - text: any\n    do:\n      - reply: \"hi\"\n";
const SHOP_ID: u64 = 7003;
/// The whole browser session; only turns a hang into a failure.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

fn conformance_js() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/js")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_searches_blocks_edits_and_reads_charts_in_a_browser() {
    let js = conformance_js();
    if cannot_run("dashboard run browser test", &js, &["playwright-core", "axe-core"]) {
        return;
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let db = shots.join(format!("dashboard-run-browser-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = Arc::new(Store::open(&format!("sqlite://{}", db.display())).await.expect("store"));
    let home = store.create_workspace("home").await.unwrap();
    let hash = hash_password(PASSWORD).await.unwrap();
    let owner = store.create_account(EMAIL, "Olga Owner", &hash).await.unwrap().unwrap();
    store.set_member(home, owner.id, Role::Owner).await.unwrap();
    let viewer = store.create_account("vi@example.org", "Vic Viewer", &hash).await.unwrap().unwrap();
    store.set_member(home, viewer.id, Role::Viewer).await.unwrap();
    let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
    let host = host::Host::new(Arc::clone(&store), sandbox.url());
    let api = Api { store: Arc::clone(&store), bots: host.clone(), hooks: Default::default() };
    let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
    let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();
    let base = format!("http://{}", listening.addr());

    // The bot, made through the new-bot form, as if `serve` had run it, with its data.
    let session = store.create_session(owner.id, "setup", 600).await.unwrap().unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", session.csrf.clone())
        .text("name", "shop")
        .text("origin", "upload")
        .part("file", reqwest::multipart::Part::bytes(SHOP.as_bytes().to_vec()).file_name("shop.yaml"));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let made = http
        .post(format!("{base}/w/{home}/bots/new"))
        .header("cookie", format!("fg_session={}", session.secret))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 303);
    let bot = store.bot_named(home, "shop").await.unwrap().unwrap();
    assert_eq!(host.state(home, "shop"), Some(Status::Stopped), "made, not started");
    assert!(store.set_bot_telegram(home, bot.id, Some(SHOP_ID)).await.unwrap());
    for user in [
        json!({"id": 11, "first_name": "Ann", "username": "ann_l"}),
        json!({"id": 22, "first_name": "Bob", "username": "bobby"}),
        json!({"id": 33, "first_name": "Chloé"}),
    ] {
        store.remember_user(SHOP_ID, &user).await.unwrap();
    }
    store.set_var(SHOP_ID, Scope::User(22), "score", Some(&json!(7))).await.unwrap();
    let orders = CollectionSpec { name: "orders".into(), searchable: vec![], indexed: vec![] };
    for (user, title, qty) in [(11, "tea", 3), (11, "cake", 1), (22, "milk", 2), (33, "jam", 12)] {
        let fields = json!({"title": title, "qty": qty}).as_object().unwrap().clone();
        store.create(SHOP_ID, &orders, Scope::User(user), fields).await.unwrap();
    }
    let today = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 / 86_400;
    let mut update = 0;
    let mut commits = Vec::new();
    for day in (today - 9)..=today {
        for user in [11, 22, 33].into_iter().take((day % 3 + 1) as usize) {
            update += 1;
            let outcome = if update % 5 == 0 { TallyOutcome::Error } else { TallyOutcome::Ok };
            let tally =
                Tally { at: day * 86_400 + 3_600, user_id: Some(user), outcome, latency_ms: Some(20 * update as u64) };
            commits.push(Commit { bot: SHOP_ID, handled: Some(update), tally: Some(tally), ..Commit::default() });
        }
    }
    StateStore::commit(&*store, &commits).await.unwrap();

    let mut command = std::process::Command::new("node");
    command
        .arg("dashboard_run.mjs")
        .current_dir(&js)
        .env("BASE_URL", &base)
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

    // What the clicks changed: Bob blocked by the owner, the tea order's qty 7 (the refused
    // "many" changed nothing), each in the audit log under the owner's account.
    assert_eq!(store.blocked_user_ids(SHOP_ID).await.unwrap(), [22]);
    let records = store.collection_records(SHOP_ID, "orders").await.unwrap();
    let tea = records.iter().find(|r| r.record.fields["title"] == json!("tea")).unwrap();
    assert_eq!(tea.record.fields["qty"], json!(7));
    let actor = format!("account:{}", owner.id);
    let log = store.audit_log(home, 50).await.unwrap();
    let done: Vec<_> = log.iter().rev().filter(|e| e.actor == actor).map(|e| e.action.as_str()).collect();
    assert_eq!(done, ["bot.create", "user.block", "record.update"]);
    for shot in [
        "users",
        "user-blocked",
        "collection",
        "record-refused",
        "record-saved",
        "charts",
        "members",
        "overview-ru-dark",
    ] {
        assert!(shots.join(format!("dashboard-run-{shot}.png")).exists(), "screenshot {shot}");
    }
    listening.stop();
    sandbox.stop().await.unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
