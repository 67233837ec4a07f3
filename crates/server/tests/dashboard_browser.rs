//! The dashboard in a real browser: `conformance/js/dashboard_user.mjs` drives Chromium
//! (through playwright-core) through the setup link, sign-out, sign-in, the sessions page, a
//! new bot from a template with its token (checked against a real sandbox), the bots list
//! (running, then stopped), the bot's history, the Russian interface and the dark theme,
//! running axe-core on each page; this test serves the dashboard on a real SQLite store and
//! checks what the clicks made in it.
//! Screenshots go to `target/tmp/dashboard-*.png`.
//!
//! Needs Chromium (`apt-get install chromium`, or `CHROMIUM=/path`), node, playwright-core and
//! axe-core (`conformance/install.sh` installs them). Without them the test prints a `SKIPPED`
//! line and passes, unless `FERROGRAM_REQUIRE_CONFORMANCE=1` is set, as in CI.

#[path = "../../sandbox/tests/browser/mod.rs"]
mod browser;
mod host;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::bots::Status;
use ferrogram_server::dashboard::{self, Dashboard};
use ferrogram_server::{Api, Routes};
use ferrogram_store::{BOT_TOKEN, Role, SecretKey, Store};

use browser::{cannot_run, chromium};

const EMAIL: &str = "olga@example.org";
const PASSWORD: &str = "a browser-typed password";
const TOKEN: &str = "7002:browser-pasted-token";
/// The whole browser session; only turns a hang into a failure.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

fn conformance_js() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/js")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_up_signs_out_and_in_in_a_browser() {
    let js = conformance_js();
    if cannot_run("dashboard browser test", &js, &["playwright-core", "axe-core"]) {
        return;
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let db = shots.join(format!("dashboard-browser-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = Store::open(&format!("sqlite://{}", db.display())).await.expect("store");
    let store = Arc::new(store.with_secret_key(SecretKey::generate().unwrap()));
    let secret = dashboard::first_start_link(&store).await.unwrap().expect("a setup link");
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
    let host = host::Host::new(Arc::clone(&store), sandbox.url());
    let api = Api { store: Arc::clone(&store), bots: host.clone(), hooks: Default::default() };
    let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
    let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
    let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();

    let mut command = std::process::Command::new("node");
    command
        .arg("dashboard_user.mjs")
        .current_dir(&js)
        .env("BASE_URL", format!("http://{}", listening.addr()))
        .env("SETUP_PATH", format!("/setup/{secret}"))
        .env("CHROMIUM", chromium().expect("checked above"))
        .env("SHOTS", &shots)
        .env("EMAIL", EMAIL)
        .env("PASSWORD", PASSWORD)
        .env("BOT_TOKEN", TOKEN);
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .expect("the browser script finished in time")
        .unwrap()
        .expect("node runs");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser script failed (screenshots in {}):\n{log}", shots.display());
    assert!(log.trim_end().ends_with("ok"), "{log}");

    // What the clicks made: one owner of the default workspace, the setup session signed out
    // and the sign-in's alive.
    let accounts = store.accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!((accounts[0].email.as_str(), accounts[0].display_name.as_str()), (EMAIL, "Olga Owner"));
    let memberships = store.memberships(accounts[0].id).await.unwrap();
    assert_eq!(
        memberships.iter().map(|m| (m.workspace_name.as_str(), m.role)).collect::<Vec<_>>(),
        [("default", Role::Owner)]
    );
    let sessions = store.sessions(accounts[0].id).await.unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].user_agent.contains("Chrome"), "{}", sessions[0].user_agent);
    // The bot the clicks made: from the template, its token stored sealed, stopped; each
    // action in the audit log under the owner's account.
    let workspace = memberships[0].workspace;
    let bot = store.bot_named(workspace, "shop").await.unwrap().expect("the bot made in the browser");
    let source = store.current_version(workspace, bot.id).await.unwrap().unwrap().source;
    assert!(source.contains("name: menu-form"), "{source}");
    assert_eq!(store.secret(workspace, Some(bot.id), BOT_TOKEN).await.unwrap().as_deref(), Some(TOKEN));
    assert_eq!(host.state(workspace, "shop"), Some(Status::Stopped));
    let actor = format!("account:{}", accounts[0].id);
    let log = store.audit_log(workspace, 20).await.unwrap();
    let done: Vec<_> = log.iter().rev().filter(|e| e.actor == actor).map(|e| e.action.as_str()).collect();
    assert_eq!(done, ["account.setup", "bot.create", "bot.start", "bot.stop"]);
    for shot in [
        "setup",
        "home",
        "sessions",
        "sign-in",
        "new-bot",
        "bots",
        "bots-stopped",
        "history",
        "home-ru-dark",
        "bots-ru-dark",
    ] {
        assert!(shots.join(format!("dashboard-{shot}.png")).exists(), "screenshot {shot}");
    }
    listening.stop();
    sandbox.stop().await.unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
