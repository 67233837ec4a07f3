//! The code view in a real browser (decision 0056): `conformance/js/dashboard_builder.mjs`
//! drives Chromium (through playwright-core) as a signed-in editor through the code view of a
//! bot: CodeMirror with the validator's error inline for a misspelt key, the right key completed
//! from the JSON Schema, the draft tried in the framed web chat of a real sandbox (run by a real
//! engine) and the conversation restarted, then published; axe-core on each state, no console
//! error nor failed request. This test serves the dashboard on a real SQLite store and checks
//! what the clicks made in it: the published version is the file typed, under the account.
//! Screenshots go to `target/tmp/dashboard-builder*.png`.
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
use ferrogram_server::dashboard::Dashboard;
use ferrogram_server::{Api, Routes};
use ferrogram_store::{Role, Store, hash_password};

use browser::{cannot_run, chromium};

const ECHO: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"You said: {{ message.text }}\"\n";
/// What the script types, completion included.
const TYPED: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"Draft says: {{ message.text }}\"";
/// The whole browser session; only turns a hang into a failure.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

fn conformance_js() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/js")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_types_tries_and_publishes_a_draft_in_a_browser() {
    let js = conformance_js();
    if cannot_run("dashboard builder browser test", &js, &["playwright-core", "axe-core"]) {
        return;
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let db = shots.join(format!("dashboard-builder-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = Arc::new(Store::open(&format!("sqlite://{}", db.display())).await.expect("store"));
    let home = store.create_workspace("default").await.unwrap();
    let bot = store.create_bot(home, "echo", None).await.unwrap().unwrap();
    store.publish_version(home, bot, 0, ECHO).await.unwrap().unwrap();
    let hash = hash_password("a long enough password").await.unwrap();
    let account = store.create_account("ed@example.org", "Ed Editor", &hash).await.unwrap().unwrap();
    store.set_member(home, account.id, Role::Editor).await.unwrap();
    let session = store.create_session(account.id, "browser", 3600).await.unwrap().unwrap();

    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
    let host = host::Host::new(Arc::clone(&store), sandbox.url());
    let api = Api { store: Arc::clone(&store), bots: host.clone(), hooks: Default::default() };
    let dashboard = Dashboard::new(Arc::clone(&store), false).with_api(api.clone());
    let routes = Routes { api: Some(api), dashboard: Some(dashboard), ..Routes::default() };
    let listening = ferrogram_server::listen_routes("127.0.0.1:0".parse().unwrap(), engine, routes).await.unwrap();

    let mut command = std::process::Command::new("node");
    command
        .arg("dashboard_builder.mjs")
        .current_dir(&js)
        .env("BASE_URL", format!("http://{}", listening.addr()))
        .env("EDIT_PATH", format!("/w/{home}/bots/echo/edit"))
        .env("SESSION", &session.secret)
        .env("CHROMIUM", chromium().expect("checked above"))
        .env("SHOTS", &shots);
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .expect("the browser script finished in time")
        .unwrap()
        .expect("node runs");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the browser script failed (screenshots in {}):\n{log}", shots.display());
    assert!(log.trim_end().ends_with("ok"), "{log}");

    // What the clicks made: the typed file published as version 2, under the editor's account;
    // the draft is that file.
    let versions = store.versions(home, bot).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[1].source.trim_end(), TYPED);
    let draft = store.draft(home, bot).await.unwrap().expect("the draft");
    assert_eq!(draft.source, versions[1].source);
    assert_eq!(draft.updated_by, format!("account:{}", account.id));
    let log = store.audit_log(home, 20).await.unwrap();
    let publish = log.iter().find(|e| e.action == "bot.publish").expect("the publish audited");
    assert_eq!(
        (publish.actor.as_str(), publish.detail["version"].as_i64()),
        (format!("account:{}", account.id).as_str(), Some(2))
    );
    // The host was asked whether the bot runs (it does not), never to start it.
    assert_eq!(host.state(home, "echo"), Some(Status::Stopped), "trying and publishing did not start the bot");
    for shot in ["builder", "builder-error", "builder-complete", "builder-try", "builder-published"] {
        assert!(shots.join(format!("dashboard-{shot}.png")).exists(), "screenshot {shot}");
    }
    listening.stop();
    sandbox.stop().await.unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
