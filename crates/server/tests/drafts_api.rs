//! A bot's draft through the REST API (decision 0056), over real HTTP on a real SQLite store,
//! with a stand-in host that records reloads: reading the draft (the newest version's file
//! before the first save), saving it with `If-Match` (428 without, 412 for a stale one, the
//! other editor's text kept), validating any file (line, column, key, hint) without saving,
//! publishing (an invalid draft refused with its diagnostics and nothing changed; a valid one a
//! new version, audited, the running bot reloaded), the roles, another workspace (404), and
//! trying a draft on a host that runs none (409).

use std::sync::Arc;

use ferrogram_engine::{BoxFuture, Engine, EngineConfig};
use ferrogram_server::bots::{Api, BotControl, BotStatus, ControlError, Status};
use ferrogram_store::{Role, Store};
use parking_lot::Mutex;
use serde_json::{Value, json};

const ECHO: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"You said: {{ message.text }}\"\n";
const ECHO_2: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"Echo: {{ message.text }}\"\n";
/// A misspelt key on line 6.
const BROKEN: &str = "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - replyy: \"hi\"\n";

/// Every bot of the store runs; reloads are recorded (workspace, name).
struct Host {
    store: Arc<Store>,
    reloads: Mutex<Vec<(i64, String)>>,
}

impl Host {
    async fn report(&self, workspace: i64, name: &str) -> Result<BotStatus, ControlError> {
        let bot = self.store.bot_named(workspace, name).await.unwrap().ok_or(ControlError::UnknownBot)?;
        let version = self.store.current_version(workspace, bot.id).await.unwrap().map(|v| v.version);
        let status = if name == "idle" { Status::Stopped } else { Status::Running };
        Ok(BotStatus { name: name.into(), status, since: 1, version, errors: vec![], attempts: 0, asleep: false })
    }
}

impl BotControl for Host {
    fn list(&self, _workspace: i64) -> BoxFuture<'_, Vec<BotStatus>> {
        Box::pin(async { Vec::new() })
    }
    fn status<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.report(workspace, name))
    }
    fn start<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.report(workspace, name))
    }
    fn stop<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(self.report(workspace, name))
    }
    fn reload<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        self.reloads.lock().push((workspace, name.to_owned()));
        Box::pin(self.report(workspace, name))
    }
}

struct Env {
    base: String,
    http: reqwest::Client,
    store: Arc<Store>,
    host: Arc<Host>,
    home: i64,
    editor: String,
    viewer: String,
    stranger: String,
    _listening: ferrogram_server::Listening,
    _db: std::path::PathBuf,
}

struct Answer {
    status: u16,
    etag: Option<String>,
    body: Value,
}

impl Env {
    async fn new() -> Env {
        let db = std::env::temp_dir().join(format!("ferrogram-drafts-api-{}.db", fastrand::u64(..)));
        let store = Arc::new(Store::open(&format!("sqlite://{}", db.display())).await.unwrap());
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let editor = store.issue_token(home, "ops", Role::Editor).await.unwrap().unwrap().secret;
        let viewer = store.issue_token(home, "eyes", Role::Viewer).await.unwrap().unwrap().secret;
        let stranger = store.issue_token(away, "other", Role::Admin).await.unwrap().unwrap().secret;
        for name in ["echo", "idle"] {
            let bot = store.create_bot(home, name, None).await.unwrap().unwrap();
            store.publish_version(home, bot, 0, ECHO).await.unwrap().unwrap();
        }
        let host = Arc::new(Host { store: Arc::clone(&store), reloads: Mutex::new(Vec::new()) });
        let api = Api { store: Arc::clone(&store), bots: host.clone(), hooks: Default::default() };
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let listening = ferrogram_server::listen_with("127.0.0.1:0".parse().unwrap(), engine, Some(api)).await.unwrap();
        Env {
            base: format!("http://{}", listening.addr()),
            http: reqwest::Client::new(),
            store,
            host,
            home,
            editor,
            viewer,
            stranger,
            _listening: listening,
            _db: db,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.unwrap();
        assert!(status < 500, "{status} {text}");
        Answer { status, etag, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(reqwest::Method::GET, path, token, None, None).await
    }

    async fn put_draft(&self, name: &str, source: &str, if_match: Option<&str>) -> Answer {
        let path = format!("/api/v1/bots/{name}/draft");
        self.send(reqwest::Method::PUT, &path, &self.editor, Some(json!({"source": source})), if_match).await
    }

    async fn publish(&self, name: &str, token: &str, if_match: Option<&str>) -> Answer {
        let path = format!("/api/v1/bots/{name}/draft/publish");
        self.send(reqwest::Method::POST, &path, token, None, if_match).await
    }

    async fn sources(&self, name: &str) -> Vec<String> {
        let bot = self.store.bot_named(self.home, name).await.unwrap().unwrap();
        self.store.versions(self.home, bot.id).await.unwrap().into_iter().map(|v| v.source).collect()
    }

    async fn actions(&self) -> Vec<String> {
        let log = self.store.audit_log(self.home, 50).await.unwrap();
        log.iter().rev().map(|e| format!("{} {}", e.action, e.target)).collect()
    }
}

#[tokio::test]
async fn a_draft_is_read_saved_with_if_match_and_two_editors_are_told() {
    let env = Env::new().await;
    let fresh = env.get("/api/v1/bots/echo/draft", &env.viewer).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(fresh.etag.as_deref(), Some("\"d0\""));
    assert_eq!(fresh.body["source"], ECHO, "before any save, the newest version's file");
    assert_eq!((fresh.body["revision"].as_i64(), fresh.body["published"].as_bool()), (Some(0), Some(true)));
    assert_eq!(fresh.body["version"], 1);

    let missing = env.put_draft("echo", BROKEN, None).await;
    assert_eq!(missing.status, 428, "{}", missing.body);
    assert_eq!(missing.body["errors"][0]["parameter"], "If-Match");
    // An invalid file is saved as it is: it is a draft.
    let first = env.put_draft("echo", BROKEN, Some("\"d0\"")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.etag.as_deref(), Some("\"d1\""));
    assert_eq!((first.body["source"].as_str(), first.body["published"].as_bool()), (Some(BROKEN), Some(false)));
    assert!(first.body["updated_by"].as_str().is_some_and(|who| who.starts_with("token:")), "{}", first.body);

    // Two editors read d1; the second save is told, and the first one's text is kept.
    let one = env.put_draft("echo", ECHO_2, Some("\"d1\"")).await;
    assert_eq!((one.status, one.etag.as_deref()), (200, Some("\"d2\"")));
    let two = env.put_draft("echo", "ferrogram: 1\n", Some("\"d1\"")).await;
    assert_eq!(two.status, 412, "{}", two.body);
    assert_eq!(two.body["type"], "urn:ferrogram:problem:stale-draft");
    let now = env.get("/api/v1/bots/echo/draft", &env.viewer).await;
    assert_eq!((now.body["source"].as_str(), now.body["revision"].as_i64()), (Some(ECHO_2), Some(2)));

    // Roles and workspaces: a viewer may not save, another workspace sees no such bot.
    let path = "/api/v1/bots/echo/draft";
    let viewer = env.send(reqwest::Method::PUT, path, &env.viewer, Some(json!({"source": "x"})), Some("\"d2\"")).await;
    assert_eq!(viewer.status, 403);
    assert_eq!(env.get(path, &env.stranger).await.status, 404);
    let stranger =
        env.send(reqwest::Method::PUT, path, &env.stranger, Some(json!({"source": "x"})), Some("\"d2\"")).await;
    assert_eq!(stranger.status, 404);
    let unknown = env.send(reqwest::Method::PUT, path, &env.editor, Some(json!({"sauce": "x"})), Some("\"d2\"")).await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(env.get(path, &env.viewer).await.body["source"], ECHO_2, "nothing changed by the refusals");
    assert_eq!(env.sources("echo").await, [ECHO], "saving drafts publishes nothing");
}

#[tokio::test]
async fn validate_gives_the_diagnostics_of_any_file_and_saves_nothing() {
    let env = Env::new().await;
    let path = "/api/v1/bots/echo/draft/validate";
    let bad = env.send(reqwest::Method::POST, path, &env.viewer, Some(json!({"source": BROKEN})), None).await;
    assert_eq!(bad.status, 200, "{}", bad.body);
    assert_eq!(bad.body["valid"], false);
    let first = &bad.body["diagnostics"][0];
    assert_eq!((first["line"].as_u64(), first["severity"].as_str()), (Some(6), Some("error")), "{first}");
    assert!(first["column"].as_u64().is_some_and(|c| c > 0), "{first}");
    assert!(first["key"].as_str().is_some_and(|k| k.contains("replyy")), "{first}");
    assert!(first["hint"].as_str().is_some_and(|h| h.contains("reply")), "{first}");
    let good = env.send(reqwest::Method::POST, path, &env.viewer, Some(json!({"source": ECHO_2})), None).await;
    assert_eq!((good.status, good.body["valid"].as_bool()), (200, Some(true)), "{}", good.body);
    let yaml = env.send(reqwest::Method::POST, path, &env.viewer, Some(json!({"source": ": ["})), None).await;
    assert_eq!(yaml.body["valid"], false, "not YAML: {}", yaml.body);
    assert!(yaml.body["diagnostics"][0]["line"].as_u64().is_some(), "{}", yaml.body);
    let stranger = env.send(reqwest::Method::POST, path, &env.stranger, Some(json!({"source": ECHO})), None).await;
    assert_eq!(stranger.status, 404);
    let bot = env.store.bot_named(env.home, "echo").await.unwrap().unwrap();
    assert_eq!(env.store.draft(env.home, bot.id).await.unwrap(), None, "validating saves no draft");
}

#[tokio::test]
async fn publishing_refuses_an_invalid_draft_and_reloads_the_running_bot_on_a_valid_one() {
    let env = Env::new().await;
    let none = env.publish("echo", &env.editor, Some("\"d0\"")).await;
    assert_eq!(none.status, 409, "no draft yet: {}", none.body);

    env.put_draft("echo", BROKEN, Some("\"d0\"")).await;
    let without = env.publish("echo", &env.editor, None).await;
    assert_eq!(without.status, 428);
    let refused = env.publish("echo", &env.editor, Some("\"d1\"")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["type"], "urn:ferrogram:problem:invalid-bot-file");
    assert_eq!(refused.body["errors"][0]["line"], 6, "{}", refused.body);
    assert_eq!(env.sources("echo").await, [ECHO], "nothing published");
    assert!(env.host.reloads.lock().is_empty(), "nothing reloaded");
    assert!(!env.actions().await.iter().any(|a| a.starts_with("bot.publish")), "nothing audited");

    env.put_draft("echo", ECHO_2, Some("\"d1\"")).await;
    let stale = env.publish("echo", &env.editor, Some("\"d1\"")).await;
    assert_eq!(stale.status, 412, "publishing what one has not seen: {}", stale.body);
    let viewer = env.publish("echo", &env.viewer, Some("\"d2\"")).await;
    assert_eq!(viewer.status, 403);
    assert_eq!(env.sources("echo").await, [ECHO]);

    let published = env.publish("echo", &env.editor, Some("\"d2\"")).await;
    assert_eq!(published.status, 201, "{}", published.body);
    assert_eq!(published.etag.as_deref(), Some("\"v2\""));
    assert_eq!((published.body["version"].as_i64(), published.body["revision"].as_i64()), (Some(2), Some(2)));
    assert_eq!(published.body["status"]["status"], "running", "{}", published.body);
    assert_eq!(env.sources("echo").await, [ECHO, ECHO_2]);
    assert_eq!(*env.host.reloads.lock(), [(env.home, "echo".to_owned())]);
    let actions = env.actions().await;
    assert_eq!(actions[actions.len() - 2..], ["bot.publish echo", "bot.reload echo"], "{actions:?}");
    let draft = env.get("/api/v1/bots/echo/draft", &env.viewer).await;
    assert_eq!((draft.body["published"].as_bool(), draft.body["version"].as_i64()), (Some(true), Some(2)));

    // A stopped bot is not started by a publish: it runs the new version at its next start.
    env.put_draft("idle", ECHO_2, Some("\"d0\"")).await;
    let idle = env.publish("idle", &env.editor, Some("\"d1\"")).await;
    assert_eq!((idle.status, idle.body["status"].clone()), (201, Value::Null), "{}", idle.body);
    assert_eq!(env.host.reloads.lock().len(), 1, "no reload of a stopped bot");
}

#[tokio::test]
async fn trying_a_draft_on_a_host_that_runs_none_is_a_conflict() {
    let env = Env::new().await;
    let path = "/api/v1/bots/echo/draft/try";
    let answer = env.send(reqwest::Method::POST, path, &env.editor, Some(json!({"restart": true})), None).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    env.put_draft("echo", BROKEN, Some("\"d0\"")).await;
    let broken = env.send(reqwest::Method::POST, path, &env.editor, Some(json!({})), None).await;
    assert_eq!(broken.status, 422, "an invalid draft is not run: {}", broken.body);
    assert_eq!(broken.body["errors"][0]["line"], 6);
    let viewer = env.send(reqwest::Method::POST, path, &env.viewer, Some(json!({})), None).await;
    assert_eq!(viewer.status, 403);
}

/// The fuzzer's find while the drafts' routes were added: a rollback to version 0 (below the
/// document's minimum) with a stale `If-Match` was a 412; the body's fault comes first (422).
#[tokio::test]
async fn a_rollback_to_version_zero_is_refused_for_its_body_before_its_etag() {
    let env = Env::new().await;
    let path = "/api/v1/bots/echo/rollback";
    let answer = env.send(reqwest::Method::POST, path, &env.editor, Some(json!({"version": 0})), Some("\"v9\"")).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(answer.body["errors"][0]["pointer"], "/version");
    assert_eq!(env.sources("echo").await, [ECHO], "nothing rolled back");
}
