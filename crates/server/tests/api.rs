//! The REST API v1 over real HTTP, on a real store (SQLite file, and PostgreSQL when it can be
//! reached: a database of its own per test) and a stand-in host for the bots' running state
//! that knows the store's bots (as `serve`'s supervisor does; `tests/host`, shared with the
//! dashboard's tests, every status reporting one error).
//!
//! What is checked: every operation of the OpenAPI document answers 401 without credentials
//! (so a new route is covered by being documented) and the document describes every route;
//! two workspaces cannot see or touch each other's bots, tokens, event webhooks or audit log (404); roles (403);
//! a table of bad requests each answered by the right 4xx problem with the field's place, with
//! nothing changed in the store; the bot lifecycle with `If-Match` (412, 428), diff and
//! rollback; `Idempotency-Key` replays; tokens shown once, listed by prefix, revoked.

mod host;
#[path = "logged/mod.rs"]
mod logged;

use std::sync::Arc;

use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::bots::Api;
use ferrogram_server::event_webhooks::{EventWebhooks, Settings};
use ferrogram_store::{Role, SecretKey, Store};
use host::Host;
use reqwest::Method;
use serde_json::{Value, json};

const ECHO: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"You said: {{ message.text }}\"\n";
const ECHO_2: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"Echo: {{ message.text }}\"\n";
/// A file with a misspelt key: a diagnostic with a line, column, key and hint.
const BROKEN: &str = "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - replyy: \"hi\"\n";

/// A listener on a store with two workspaces: `home` (admin, editor, viewer tokens) and
/// `away` (an admin token).
struct Env {
    base: String,
    http: reqwest::Client,
    store: Arc<Store>,
    home: i64,
    away: i64,
    admin: String,
    editor: String,
    viewer: String,
    stranger: String,
    _listening: ferrogram_server::Listening,
}

/// One answer: status, headers, JSON body (`Null` when none).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts a problem of `status`; returns its body.
    fn problem(&self, status: u16, what: &str) -> &Value {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{what}");
        assert_eq!(self.body["status"], status, "{what}: {}", self.body);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string() && self.body["type"].is_string());
        &self.body
    }
}

impl Env {
    async fn new(store: Store) -> Env {
        logged::install();
        // Stored secrets and the event webhooks' signing secrets are sealed under a key, as
        // `serve` attaches one.
        let store = Arc::new(store.with_secret_key(SecretKey::generate().unwrap()));
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let issue = |w, name: &'static str, role| {
            let store = Arc::clone(&store);
            async move { store.issue_token(w, name, role).await.unwrap().unwrap().secret }
        };
        let admin = issue(home, "root", Role::Admin).await;
        let editor = issue(home, "ops", Role::Editor).await;
        let viewer = issue(home, "eyes", Role::Viewer).await;
        let stranger = issue(away, "other", Role::Admin).await;
        [&admin, &editor, &viewer, &stranger].into_iter().for_each(|token| logged::register(token));
        // Every status reports one error, which the API answers.
        let host = Host::with_error(Arc::clone(&store), "once");
        // Event webhooks are queued, never sent: nothing here receives them (tests/event_webhooks.rs).
        let hooks = EventWebhooks::new(&[], Settings { deliver: false, ..Settings::default() }).unwrap();
        let api = Api { store: Arc::clone(&store), bots: host, hooks };
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let listening = ferrogram_server::listen_with("127.0.0.1:0".parse().unwrap(), engine, Some(api)).await.unwrap();
        let base = format!("http://{}", listening.addr());
        Env {
            base,
            http: reqwest::Client::new(),
            store,
            home,
            away,
            admin,
            editor,
            viewer,
            stranger,
            _listening: listening,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        logged::check_answer(status, &text);
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let Some(secret) = body["secret"].as_str() {
            logged::register(secret);
        }
        Answer { status, headers, body }
    }

    async fn raw(&self, method: Method, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        let response = request.header("content-type", content_type).body(body).send().await.expect("answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        logged::check_answer(status, &text);
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, headers, body }
    }

    async fn put_json(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(token), Some(body), &[]).await
    }

    /// A DELETE by the admin.
    async fn del(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, Some(&self.admin), None, &[]).await
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    async fn post(&self, path: &str, token: &str, body: Value, headers: &[(&str, &str)]) -> Answer {
        self.send(Method::POST, path, Some(token), Some(body), headers).await
    }

    /// Creates `name` in the token's workspace from ECHO.
    async fn create_bot(&self, token: &str, name: &str) -> Answer {
        let answer = self.post("/api/v1/bots", token, json!({"name": name, "source": ECHO}), &[]).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer
    }

    /// What the store holds for a workspace: bots with their versions, tokens, audit entries.
    async fn snapshot(&self, workspace: i64) -> String {
        let mut text = String::new();
        for bot in self.store.bots(workspace).await.unwrap() {
            let versions = self.store.versions(workspace, bot.id).await.unwrap();
            text.push_str(&format!("{bot:?} {versions:?}\n"));
        }
        let tokens: Vec<_> =
            self.store.tokens(workspace).await.unwrap().into_iter().map(|t| (t.id, t.revoked_at)).collect();
        let audit = self.store.audit_log(workspace, 1000).await.unwrap().len();
        let webhooks = self.store.webhooks(workspace, None, 1000).await.unwrap();
        text.push_str(&format!("{tokens:?} audit {audit} {webhooks:?}"));
        text
    }
}

/// A database of its own on the local PostgreSQL, or `None` (said loudly) when unreachable
/// unless `FERROGRAM_REQUIRE_POSTGRES=1`.
async fn postgres() -> Option<(Store, String)> {
    use sqlx::Connection;
    let admin_url = std::env::var("FERROGRAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let connect = tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgConnection::connect(&admin_url));
    let mut admin = match connect.await {
        Ok(Ok(admin)) => admin,
        other => {
            let why = format!("{admin_url}: {:?}", other.err().map(|_| "no answer in 5 s"));
            if std::env::var("FERROGRAM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required but unreachable: {why}");
            }
            eprintln!("SKIPPED postgres: {why}");
            return None;
        }
    };
    let name = format!("ferrogram_api_{}_{:016x}", std::process::id(), fastrand::u64(..));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    Some((Store::open(&url).await.expect("open PostgreSQL"), name))
}

/// Drops a test database made by [`postgres`].
async fn drop_postgres(name: &str) {
    use sqlx::Connection;
    let admin_url = std::env::var("FERROGRAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connect to drop");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.expect("DROP DATABASE");
}

/// A new SQLite file in the temporary directory; its files are removed when the guard drops.
async fn sqlite() -> (Store, Removed) {
    let path = std::env::temp_dir().join(format!("ferrogram-api-{}-{:016x}.db", std::process::id(), fastrand::u64(..)));
    let store = Store::open(&format!("sqlite://{}", path.display())).await.expect("open SQLite");
    (store, Removed(path))
}

/// Removes a test's SQLite files (and their `-wal`, `-shm`) when dropped.
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Runs a scenario on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let (store, _removed) = super::sqlite().await;
                super::$scenario(super::Env::new(store).await).await;
                super::logged::assert_clean();
            })*
        }
        mod postgres_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some((store, name)) = super::postgres().await {
                    super::$scenario(super::Env::new(store).await).await;
                    super::drop_postgres(&name).await;
                    super::logged::assert_clean();
                }
            })*
        }
    };
}

on_both!(
    workspaces_are_isolated,
    roles_are_enforced,
    bad_input_changes_nothing,
    bots_lifecycle,
    idempotency_keys,
    tokens_lifecycle,
    two_editors_publishing_from_one_version_save_once,
    removing_a_bot,
    a_dashboard_session_acts_in_its_workspaces,
    members_and_their_roles,
    a_bots_users_are_listed_searched_and_shown,
    a_bots_records_are_read_changed_exported_and_imported,
    bot_data_is_isolated_and_role_checked,
    bad_data_input_changes_nothing,
    a_user_is_blocked_and_unblocked_and_audited,
    statistics_of_a_bot_and_the_workspace,
    secrets_are_set_listed_and_deleted_but_never_shown
);

/// A concrete path for a documented one.
fn concrete(path: &str) -> String {
    path.replace("{name}", "echo")
        .replace("{id}", "1")
        .replace("{version}", "1")
        .replace("{collection}", "orders")
        .replace("{account}", "1")
        .replace("{delivery}", "1")
        .replace("{secret}", "SHOP_KEY")
}

#[tokio::test]
async fn every_documented_operation_needs_credentials() {
    let (store, _removed) = sqlite().await;
    let env = Env::new(store).await;
    env.create_bot(&env.admin, "echo").await;
    let document: Value =
        env.http.get(format!("{}/api/openapi.json", env.base)).send().await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for token in [None, Some("fg_wrong"), Some("")] {
                let answer = env.send(method.clone(), &concrete(path), token, Some(json!({})), &[]).await;
                answer.problem(401, &format!("{method} {path} with {token:?}"));
                assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
            }
            assert!(operation["responses"]["401"].is_object(), "{method} {path} documents its 401");
            operations += 1;
        }
    }
    assert!(operations >= 20, "{operations} operations");
    // The docs page and its script are served from the binary.
    let page = env.http.get(format!("{}/api/docs", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/api/openapi.json") && page.contains("/api/docs/rapidoc-min.js"), "{page}");
    let script = env.http.get(format!("{}/api/docs/rapidoc-min.js", env.base)).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().len() > 100_000);
}

/// Every route the API's files register is documented: the handlers are routed only through
/// `routes!` (which documents them), and the only plain `.route(` calls are the document's
/// own pages and the not-found catch-all.
#[test]
fn the_document_describes_every_route() {
    let document = serde_json::to_value(ferrogram_server::api::document()).unwrap();
    let documented: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    for entry in std::fs::read_dir(dir.join("api")).unwrap().chain(std::fs::read_dir(&dir).unwrap()) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    let allowed = ["DOCUMENT_PATH", "DOCS_PATH", "SCRIPT_PATH", "\"/api/v1/{*rest}\""];
    let mut attributes = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices(".route(") {
            let argument = text[at + 7..].split(',').next().unwrap().trim();
            let api = argument.contains("/api") || argument.contains("PATH");
            assert!(!api || allowed.contains(&argument), "{}: an undocumented API route {argument}", file.display());
        }
        for (at, _) in text.match_indices("path = \"/api/") {
            let path = text[at + 8..].split('"').next().unwrap();
            assert!(documented.iter().any(|d| *d == path), "{}: {path} is not in the document", file.display());
            attributes += 1;
        }
    }
    let operations: usize =
        document["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(attributes, operations, "one #[utoipa::path] per documented operation: {documented:?}");
}

async fn workspaces_are_isolated(env: Env) {
    env.create_bot(&env.stranger, "secret").await;
    let away_token = env.get("/api/v1/tokens", &env.stranger).await.body["items"][0]["id"].as_i64().unwrap();
    let hook = json!({"url": "https://hooks.example.com/in", "events": ["webhook.ping"]});
    let hook = env.post("/api/v1/webhooks", &env.stranger, hook, &[]).await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let hook = hook.body["id"].as_i64().unwrap();
    let before = env.snapshot(env.away).await;
    let etag_header = [("if-match", "\"v1\"")];
    let denied: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/bots/secret".into(), None),
        (Method::GET, "/api/v1/bots/secret/versions".into(), None),
        (Method::GET, "/api/v1/bots/secret/versions/1".into(), None),
        (Method::GET, "/api/v1/bots/secret/diff?from=1".into(), None),
        (Method::GET, "/api/v1/bots/secret/status".into(), None),
        (Method::POST, "/api/v1/bots/secret/start".into(), None),
        (Method::POST, "/api/v1/bots/secret/stop".into(), None),
        (Method::POST, "/api/v1/bots/secret/restart".into(), None),
        (Method::POST, "/api/v1/bots/secret/reload".into(), None),
        (Method::POST, "/api/v1/bots/secret/versions".into(), Some(json!({"source": ECHO_2}))),
        (Method::POST, "/api/v1/bots/secret/rollback".into(), Some(json!({"version": 1}))),
        (Method::GET, format!("/api/v1/tokens/{away_token}"), None),
        (Method::DELETE, format!("/api/v1/tokens/{away_token}"), None),
        (Method::DELETE, "/api/v1/bots/secret".into(), None),
        (Method::DELETE, "/api/v1/bots/secret?keep_data=true".into(), None),
        (Method::GET, format!("/api/v1/webhooks/{hook}"), None),
        (Method::PATCH, format!("/api/v1/webhooks/{hook}"), Some(json!({"enabled": false}))),
        (Method::POST, format!("/api/v1/webhooks/{hook}/rotate-secret"), None),
        (Method::POST, format!("/api/v1/webhooks/{hook}/ping"), None),
        (Method::GET, format!("/api/v1/webhooks/{hook}/deliveries"), None),
        (Method::GET, format!("/api/v1/webhooks/{hook}/deliveries/1"), None),
        (Method::POST, format!("/api/v1/webhooks/{hook}/deliveries/1/redeliver"), None),
        (Method::DELETE, format!("/api/v1/webhooks/{hook}"), None),
    ];
    for (method, path, body) in denied {
        let answer = env.send(method.clone(), &path, Some(&env.admin), body, &etag_header).await;
        answer.problem(404, &format!("{method} {path}"));
    }
    let listed = env.get("/api/v1/bots", &env.admin).await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);
    let tokens = env.get("/api/v1/tokens", &env.admin).await.body;
    assert!(tokens["items"].as_array().unwrap().iter().all(|t| t["id"] != away_token), "{tokens}");
    assert_eq!(env.get("/api/v1/webhooks", &env.admin).await.body["items"], json!([]));
    let audit = env.get("/api/v1/audit", &env.admin).await.body;
    assert!(audit["items"].as_array().unwrap().iter().all(|e| e["target"] != "secret"), "{audit}");
    assert_eq!(env.get("/api/v1/workspace", &env.admin).await.body["name"], "home");
    assert_eq!(env.snapshot(env.away).await, before, "nothing of the other workspace changed");
    assert_eq!(env.get("/api/v1/bots/secret", &env.stranger).await.status, 200, "its owner still reads it");
    let _ = env.home;
}

async fn roles_are_enforced(env: Env) {
    env.create_bot(&env.editor, "echo").await;
    let before = env.snapshot(env.home).await;
    let checks: Vec<(&str, Method, &str, Option<Value>)> = vec![
        (&env.viewer, Method::POST, "/api/v1/bots", Some(json!({"name": "b", "source": ECHO}))),
        (&env.viewer, Method::POST, "/api/v1/bots/echo/versions", Some(json!({"source": ECHO_2}))),
        (&env.viewer, Method::POST, "/api/v1/bots/echo/rollback", Some(json!({"version": 1}))),
        (&env.viewer, Method::POST, "/api/v1/bots/echo/stop", None),
        (&env.viewer, Method::GET, "/api/v1/tokens", None),
        (&env.editor, Method::GET, "/api/v1/tokens", None),
        (&env.editor, Method::POST, "/api/v1/tokens", Some(json!({"name": "x", "role": "admin"}))),
        (&env.editor, Method::PATCH, "/api/v1/workspace", Some(json!({"name": "mine"}))),
        (&env.editor, Method::DELETE, "/api/v1/tokens/1", None),
        (&env.editor, Method::DELETE, "/api/v1/bots/echo", None),
        (&env.viewer, Method::DELETE, "/api/v1/bots/echo", None),
    ];
    for (token, method, path, body) in checks {
        let answer = env.send(method.clone(), path, Some(token), body, &[("if-match", "\"v1\"")]).await;
        answer.problem(403, &format!("{method} {path}"));
    }
    assert_eq!(env.snapshot(env.home).await, before);
    for path in
        ["/api/v1/bots", "/api/v1/bots/echo", "/api/v1/bots/echo/versions", "/api/v1/audit", "/api/v1/workspace"]
    {
        assert_eq!(env.get(path, &env.viewer).await.status, 200, "a viewer reads {path}");
    }
}

/// (method, path, body, headers, status, the pointer or parameter expected in `errors`).
type BadRequest<'a> = (Method, &'a str, Value, &'a [(&'a str, &'a str)], u16, Option<&'a str>);

async fn bad_input_changes_nothing(env: Env) {
    env.create_bot(&env.admin, "echo").await;
    let before = env.snapshot(env.home).await;
    let v1 = [("if-match", "\"v1\"")];
    // (method, path, body, headers, status, pointer or parameter expected in `errors`)
    let table: Vec<BadRequest> = vec![
        (Method::POST, "/api/v1/bots", json!({"name": 5, "source": ECHO}), &[], 422, Some("/name")),
        (Method::POST, "/api/v1/bots", json!({"name": "b", "source": ECHO, "colour": 1}), &[], 422, Some("/colour")),
        (Method::POST, "/api/v1/bots", json!({"name": "b"}), &[], 422, Some("")),
        (
            Method::POST,
            "/api/v1/bots",
            json!({"name": "b", "source": ECHO, "format": "toml"}),
            &[],
            422,
            Some("/format"),
        ),
        (Method::POST, "/api/v1/bots", json!([1, 2]), &[], 422, Some("")),
        (Method::POST, "/api/v1/bots", json!({"name": "../etc", "source": ECHO}), &[], 422, Some("/name")),
        (Method::POST, "/api/v1/bots", json!({"name": "echo", "source": ECHO}), &[], 409, None),
        (Method::POST, "/api/v1/bots", json!({"name": "b", "source": BROKEN}), &[], 422, Some("/source")),
        (Method::POST, "/api/v1/bots", json!({"name": "b", "source": "a: [unclosed"}), &[], 422, Some("/source")),
        (Method::POST, "/api/v1/bots/echo/versions", json!({"source": BROKEN}), &v1, 422, Some("/source")),
        (
            Method::POST,
            "/api/v1/bots/echo/versions",
            json!({"source": ECHO_2}),
            &[("if-match", "\"v7\"")],
            412,
            Some("If-Match"),
        ),
        (Method::POST, "/api/v1/bots/echo/versions", json!({"source": ECHO_2}), &[], 428, Some("If-Match")),
        (Method::POST, "/api/v1/bots/echo/rollback", json!({"version": 9}), &v1, 422, Some("/version")),
        (Method::POST, "/api/v1/bots/echo/rollback", json!({"version": "1"}), &v1, 422, Some("/version")),
        (Method::POST, "/api/v1/bots/ghost/versions", json!({"source": ECHO_2}), &v1, 404, None),
        (Method::POST, "/api/v1/tokens", json!({"name": "x", "role": "owner"}), &[], 422, Some("/role")),
        (Method::POST, "/api/v1/tokens", json!({"name": "", "role": "viewer"}), &[], 422, Some("/name")),
        (Method::PATCH, "/api/v1/workspace", json!({"name": ["x"]}), &[], 422, Some("/name")),
        (
            Method::POST,
            "/api/v1/bots",
            json!({"name": "b", "source": ECHO}),
            &[("idempotency-key", "")],
            400,
            Some("Idempotency-Key"),
        ),
        (Method::GET, "/api/v1/bots?limit=abc", Value::Null, &[], 400, Some("limit")),
        (Method::GET, "/api/v1/bots?limit=0", Value::Null, &[], 400, Some("limit")),
        (Method::GET, "/api/v1/bots?colour=red", Value::Null, &[], 400, Some("colour")),
        (Method::GET, "/api/v1/audit?cursor=%21%21", Value::Null, &[], 400, Some("cursor")),
        (Method::GET, "/api/v1/bots/echo/diff?from=x", Value::Null, &[], 400, Some("from")),
        (Method::GET, "/api/v1/bots/echo/diff?from=9", Value::Null, &[], 404, None),
        (Method::GET, "/api/v1/bots/ghost", Value::Null, &[], 404, None),
        (Method::GET, "/api/v1/bots/echo/versions/abc", Value::Null, &[], 404, None),
        (Method::GET, "/api/v1/tokens/abc", Value::Null, &[], 404, None),
        (Method::DELETE, "/api/v1/tokens/99999", Value::Null, &[], 404, None),
        (Method::GET, "/api/v1/nothing/here", Value::Null, &[], 404, None),
        (Method::DELETE, "/api/v1/bots", Value::Null, &[], 405, None),
    ];
    for (method, path, body, headers, status, place) in table {
        let body = (!body.is_null()).then_some(body);
        let what = format!("{method} {path} {body:?}");
        let answer = env.send(method, path, Some(&env.admin), body, headers).await;
        let problem = answer.problem(status, &what);
        if let Some(place) = place {
            let errors = problem["errors"].as_array().unwrap_or_else(|| panic!("{what}: no errors: {problem}"));
            let named = errors.iter().any(|e| e["pointer"] == place || e["parameter"] == place);
            assert!(named, "{what}: no error at {place}: {problem}");
        }
    }
    // A bot file's diagnostics are those of `ferrogram validate`: line, column, key, hint.
    let answer = env.post("/api/v1/bots", &env.admin, json!({"name": "b", "source": BROKEN}), &[]).await;
    let error = &answer.body["errors"][0];
    assert_eq!((error["line"].as_u64(), error["severity"].as_str()), (Some(6), Some("error")), "{}", answer.body);
    assert!(error["column"].as_u64().is_some() && error["key"].as_str().unwrap().contains("replyy"), "{error}");
    assert!(error["hint"].as_str().unwrap_or_default().contains("reply"), "a did-you-mean hint: {error}");
    // Malformed JSON, another media type, an oversized body.
    let raw = env.raw(Method::POST, "/api/v1/bots", &env.admin, "application/json", b"{\"name\": ".to_vec()).await;
    raw.problem(400, "malformed JSON");
    let raw = env.raw(Method::POST, "/api/v1/bots", &env.admin, "text/yaml", ECHO.as_bytes().to_vec()).await;
    raw.problem(415, "YAML as the body");
    let huge =
        format!("{{\"name\": \"big\", \"source\": \"{}\"}}", "x".repeat(ferrogram_server::api::body::BODY_LIMIT));
    let raw = env.raw(Method::POST, "/api/v1/bots", &env.admin, "application/json", huge.into_bytes()).await;
    raw.problem(413, "an oversized body");
    assert_eq!(env.snapshot(env.home).await, before, "no bad request changed anything");
}

async fn bots_lifecycle(env: Env) {
    let created = env.create_bot(&env.editor, "echo").await;
    assert_eq!(created.header("etag"), Some("\"v1\""));
    assert_eq!(created.header("location"), Some("/api/v1/bots/echo"));
    assert_eq!(
        (created.body["version"].as_i64(), created.body["status"]["status"].as_str()),
        (Some(1), Some("stopped"))
    );
    env.create_bot(&env.editor, "stubborn").await;
    let got = env.get("/api/v1/bots/echo", &env.viewer).await;
    assert_eq!((got.status, got.header("etag")), (200, Some("\"v1\"")));
    assert_eq!(got.body["source"], ECHO);

    let published =
        env.post("/api/v1/bots/echo/versions", &env.editor, json!({"source": ECHO_2}), &[("if-match", "\"v1\"")]).await;
    assert_eq!((published.status, published.header("etag")), (201, Some("\"v2\"")), "{}", published.body);
    // The same ETag again is stale now: the second editor does not overwrite the first.
    let stale =
        env.post("/api/v1/bots/echo/versions", &env.editor, json!({"source": ECHO}), &[("if-match", "\"v1\"")]).await;
    stale.problem(412, "a stale ETag");

    let page = env.get("/api/v1/bots/echo/versions?limit=1", &env.viewer).await.body;
    assert_eq!(page["items"][0]["version"], 1, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = env.get(&format!("/api/v1/bots/echo/versions?limit=1&cursor={cursor}"), &env.viewer).await.body;
    assert_eq!((next["items"][0]["version"].as_i64(), next["items"][0]["current"].as_bool()), (Some(2), Some(true)));
    assert!(next["next_cursor"].is_null(), "{next}");

    let diff = env.get("/api/v1/bots/echo/diff?from=1&to=2", &env.viewer).await.body;
    let text = diff["diff"].as_str().unwrap();
    assert!(text.contains("--- v1") && text.contains("+++ v2"), "{text}");
    assert!(text.contains("-      - reply: \"You said:") && text.contains("+      - reply: \"Echo:"), "{text}");

    let rolled =
        env.post("/api/v1/bots/echo/rollback", &env.editor, json!({"version": 1}), &[("if-match", "\"v2\"")]).await;
    assert_eq!((rolled.status, rolled.body["version"].as_i64()), (201, Some(3)), "{}", rolled.body);
    let version = env.get("/api/v1/bots/echo/versions/3", &env.viewer).await.body;
    assert_eq!(version["source"], ECHO, "a rollback is a new version with the old file");

    let started = env.post("/api/v1/bots/echo/start", &env.editor, Value::Null, &[]).await;
    assert_eq!((started.status, started.body["status"].as_str()), (200, Some("running")), "{}", started.body);
    let status = env.get("/api/v1/bots/echo/status", &env.viewer).await.body;
    assert_eq!((status["status"].as_str(), status["version"].as_i64()), (Some("running"), Some(3)));
    assert_eq!(status["errors"], json!([{"at": 7, "message": "once"}]));
    let stopped = env.post("/api/v1/bots/echo/stop", &env.editor, Value::Null, &[]).await;
    assert_eq!(stopped.body["status"], "stopped");
    assert_eq!(env.post("/api/v1/bots/echo/restart", &env.editor, Value::Null, &[]).await.body["status"], "running");
    env.post("/api/v1/bots/stubborn/reload", &env.editor, Value::Null, &[]).await.problem(409, "a refused reload");
    let running = env.get("/api/v1/bots?status=running", &env.viewer).await.body;
    let names: Vec<&str> = running["items"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo"], "{running}");
    let named = env.get("/api/v1/bots?name=stub", &env.viewer).await.body;
    assert_eq!(named["items"].as_array().unwrap().len(), 1, "{named}");

    // Every change is in the audit log, by its actor, filterable and paginated.
    let audit = env.get("/api/v1/audit?limit=200", &env.viewer).await.body;
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).rev().collect();
    let expected = [
        "bot.create",
        "bot.create",
        "bot.publish",
        "bot.rollback",
        "bot.start",
        "bot.stop",
        "bot.restart",
        "bot.reload",
    ];
    assert_eq!(actions, expected, "{audit}");
    let publishes = env.get("/api/v1/audit?action=bot.publish", &env.viewer).await.body;
    assert_eq!(publishes["items"].as_array().unwrap().len(), 1);
    let actor = publishes["items"][0]["actor"].as_str().unwrap();
    assert!(actor.starts_with("token:"), "{actor}");
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, String::new());
    loop {
        let page = env.get(&format!("/api/v1/audit?actor={actor}&limit=3{cursor}"), &env.viewer).await.body;
        ids.extend(page["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!((ids.len(), pages), (8, 3), "the editor's 8 entries in pages of 3");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, no repeat: {ids:?}");
    let future = env.get("/api/v1/audit?since=99999999999", &env.viewer).await.body;
    assert_eq!(future["items"], json!([]));
}

async fn removing_a_bot(env: Env) {
    env.create_bot(&env.editor, "echo").await;
    env.create_bot(&env.editor, "kept").await;
    let before = env.snapshot(env.home).await;
    let bad = env.send(Method::DELETE, "/api/v1/bots/echo?keep_data=yes", Some(&env.admin), None, &[]).await;
    bad.problem(400, "keep_data=yes");
    let unknown = env.send(Method::DELETE, "/api/v1/bots/echo?keep=true", Some(&env.admin), None, &[]).await;
    unknown.problem(400, "an unknown parameter");
    env.send(Method::DELETE, "/api/v1/bots/nobody", Some(&env.admin), None, &[]).await.problem(404, "no such bot");
    assert_eq!(env.snapshot(env.home).await, before, "no refused removal changed anything");

    let removed = env.send(Method::DELETE, "/api/v1/bots/echo", Some(&env.admin), None, &[]).await;
    assert_eq!((removed.status, &removed.body), (200, &json!({"name": "echo", "versions": 1, "kept_data": false})));
    let kept = env.send(Method::DELETE, "/api/v1/bots/kept?keep_data=true", Some(&env.admin), None, &[]).await;
    assert_eq!((kept.status, kept.body["kept_data"].as_bool()), (200, Some(true)), "{}", kept.body);
    env.get("/api/v1/bots/echo", &env.viewer).await.problem(404, "a removed bot");
    assert!(env.store.bots(env.home).await.unwrap().is_empty());
    let removals = env.get("/api/v1/audit?action=bot.remove", &env.viewer).await.body;
    let targets: Vec<&str> =
        removals["items"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).rev().collect();
    assert_eq!(targets, ["echo", "kept"], "{removals}");
    assert_eq!(removals["items"][0]["detail"]["kept_data"], true);
}

async fn idempotency_keys(env: Env) {
    let key = [("idempotency-key", "create-echo-1")];
    let body = json!({"name": "echo", "source": ECHO});
    let first = env.post("/api/v1/bots", &env.editor, body.clone(), &key).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = env.post("/api/v1/bots", &env.editor, body.clone(), &key).await;
    assert_eq!((again.status, &again.body, again.header("etag")), (201, &first.body, Some("\"v1\"")));
    assert_eq!(env.store.bots(env.home).await.unwrap().len(), 1, "created once");
    let other = env.post("/api/v1/bots", &env.editor, json!({"name": "other", "source": ECHO}), &key).await;
    other.problem(422, "the key with another body");
    // Keys are per credential: another token's same key is its own.
    let admins = env.post("/api/v1/bots", &env.admin, body.clone(), &key).await;
    admins.problem(409, "a second bot named echo");
    // A refusal is kept too: the repeat gets it again.
    assert_eq!(env.post("/api/v1/bots", &env.admin, body, &key).await.body, admins.body);

    let token_key = [("idempotency-key", "token-1")];
    let made = env.post("/api/v1/tokens", &env.admin, json!({"name": "ci", "role": "viewer"}), &token_key).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(made.body["secret"].as_str().unwrap().starts_with("fg_"));
    let replay = env.post("/api/v1/tokens", &env.admin, json!({"name": "ci", "role": "viewer"}), &token_key).await;
    assert_eq!((replay.status, &replay.body["id"], &replay.body["secret"]), (201, &made.body["id"], &Value::Null));
    assert_eq!(env.store.tokens(env.home).await.unwrap().iter().filter(|t| t.name == "ci").count(), 1);
    let audit = env.store.audit_log(env.home, 100).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "bot.create" || e.action == "token.create").count(), 2);
}

async fn tokens_lifecycle(env: Env) {
    let made = env.post("/api/v1/tokens", &env.admin, json!({"name": "deploy", "role": "editor"}), &[]).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let id = made.body["id"].as_i64().unwrap();
    assert!(
        secret.starts_with(made.body["prefix"].as_str().unwrap()) && made.body["prefix"].as_str().unwrap().len() == 9
    );
    assert_eq!(made.header("location"), Some(format!("/api/v1/tokens/{id}").as_str()));
    let listed = env.get("/api/v1/tokens", &env.admin).await.body;
    let shown = listed["items"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert!(shown.get("secret").is_none() && !listed.to_string().contains(&secret), "never listed with its secret");
    assert_eq!(shown["role"], "editor");
    assert_eq!(env.get("/api/v1/bots", &secret).await.status, 200, "the new token works");
    let revoked = env.send(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&env.admin), None, &[]).await;
    assert_eq!(revoked.status, 204);
    env.get("/api/v1/bots", &secret).await.problem(401, "a revoked token");
    let prefix = made.body["prefix"].as_str().unwrap();
    let found = env.get(&format!("/api/v1/tokens?prefix={prefix}"), &env.admin).await.body;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["id"], id);
    let short = env.get("/api/v1/tokens?prefix=fg_", &env.admin).await.body;
    assert_eq!(short["items"], json!([]), "a prefix shorter than the kept one finds nothing");
    let revoked_list = env.get("/api/v1/tokens?revoked=true", &env.admin).await.body;
    assert_eq!(
        revoked_list["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect::<Vec<_>>(),
        [id]
    );
    let renamed =
        env.send(Method::PATCH, "/api/v1/workspace", Some(&env.admin), Some(json!({"name": "house"})), &[]).await;
    assert_eq!((renamed.status, renamed.body["name"].as_str()), (200, Some("house")));
    let actions: Vec<String> = env.store.audit_log(env.home, 10).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["workspace.update", "token.revoke", "token.create"]);
}

/// Editors who all read version 1 publish at once: one is saved, the others get 412.
async fn two_editors_publishing_from_one_version_save_once(env: Env) {
    env.create_bot(&env.editor, "echo").await;
    let env = Arc::new(env);
    let editors: Vec<_> = (0..4)
        .map(|i| {
            let env = Arc::clone(&env);
            tokio::spawn(async move {
                let source = format!("{ECHO_2}# edit {i}\n");
                let body = json!({"source": source});
                env.post("/api/v1/bots/echo/versions", &env.editor, body, &[("if-match", "\"v1\"")]).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for editor in editors {
        statuses.push(editor.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 412, 412, 412]);
    let bot = env.store.bot_named(env.home, "echo").await.unwrap().unwrap();
    assert_eq!(env.store.versions(env.home, bot.id).await.unwrap().len(), 2);
}

/// A dashboard session is a credential too: the account's role in the workspace it names
/// (`X-Workspace`, or its only one), the CSRF token on changes, 404 outside its workspaces.
async fn a_dashboard_session_acts_in_its_workspaces(env: Env) {
    let password = ferrogram_store::hash_password("a long enough password").await.unwrap();
    let ann = env.store.create_account("ann@example.org", "Ann", &password).await.unwrap().unwrap();
    env.store.set_member(env.home, ann.id, Role::Editor).await.unwrap();
    let session = env.store.create_session(ann.id, "test", 3600).await.unwrap().unwrap();
    logged::register(&session.secret);
    let cookie = format!("fg_session={}", session.secret);
    let send = |method: Method, path: &str, body: Option<Value>, extra: Vec<(&'static str, String)>| {
        let mut request = env.http.request(method, format!("{}{path}", env.base)).header("cookie", cookie.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in extra {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.expect("answered");
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, listed) = send(Method::GET, "/api/v1/bots", None, vec![]).await;
    assert_eq!((status, &listed["items"]), (200, &json!([])), "{listed}");
    let create = json!({"name": "mine", "source": ECHO});
    let before = env.snapshot(env.home).await;
    let (status, refused) = send(Method::POST, "/api/v1/bots", Some(create.clone()), vec![]).await;
    assert_eq!(status, 403, "a change without the CSRF token: {refused}");
    let wrong = vec![("x-csrf-token", "not-it".to_owned())];
    assert_eq!(send(Method::POST, "/api/v1/bots", Some(create.clone()), wrong).await.0, 403);
    assert_eq!(env.snapshot(env.home).await, before, "nothing refused changed anything");
    let csrf = ("x-csrf-token", session.csrf.clone());
    let (status, created) = send(Method::POST, "/api/v1/bots", Some(create), vec![csrf.clone()]).await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = send(Method::GET, "/api/v1/tokens", None, vec![]).await;
    assert_eq!(status, 403, "an editor does not list tokens");
    // Not a member of `away`: not found, never forbidden; a made-up workspace header is a 400.
    let away = vec![("x-workspace", env.away.to_string())];
    assert_eq!(send(Method::GET, "/api/v1/bots", None, away).await.0, 404);
    assert_eq!(send(Method::GET, "/api/v1/bots", None, vec![("x-workspace", "abc".to_owned())]).await.0, 400);
    // In two workspaces, the request names one.
    env.store.set_member(env.away, ann.id, Role::Viewer).await.unwrap();
    assert_eq!(send(Method::GET, "/api/v1/bots", None, vec![]).await.0, 400);
    let (status, away_bots) =
        send(Method::GET, "/api/v1/bots", None, vec![("x-workspace", env.away.to_string())]).await;
    assert_eq!((status, away_bots["items"].as_array().map(Vec::len)), (200, Some(0)), "{away_bots}");
    let key = vec![csrf, ("idempotency-key", "k1".to_owned()), ("x-workspace", env.home.to_string())];
    let (status, _) = send(Method::POST, "/api/v1/bots", Some(json!({"name": "two", "source": ECHO})), key).await;
    assert_eq!(status, 400, "Idempotency-Key is kept for tokens only");
    // The audit log names the account.
    let audit = env.store.audit_log(env.home, 10).await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].actor.clone()), ("bot.create", format!("account:{}", ann.id)));
    // A revoked session is no credential.
    env.store.revoke_sessions(ann.id, None).await.unwrap();
    assert_eq!(send(Method::GET, "/api/v1/bots", None, vec![]).await.0, 401);
}

// ---- A bot's users and collections (`users.rs`, `collections.rs`) ------------------------------

/// A bot with a per-user and a per-bot collection.
const SHOP: &str = "ferrogram: 1\nbot: {name: shop}\ncollections:\n  orders:\n    scope: user\n    fields:\n      title: {type: string, required: true, max_length: 20}\n      qty: integer\n      paid: {type: boolean, default: false}\n    index: [qty]\n  notes:\n    scope: bot\n    fields: {text: string}\non:\n  - text: any\n    do:\n      - reply: \"hi\"\n";

/// The Telegram id `shop` runs as.
const SHOP_ID: u64 = 7001;

/// Creates `shop` in the home workspace as if `serve` had run it (its Telegram id recorded)
/// and fills its data through the store as the engine does: three users (Ann's private chat in
/// a scene with a form half done, her variables), Ann's three orders and Bob's one, a note.
async fn seed_shop(env: &Env) {
    use ferrogram_engine::{ChatState, CollectionSpec, CollectionStore, Scope};
    let created = env.post("/api/v1/bots", &env.editor, json!({"name": "shop", "source": SHOP}), &[]).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let bot = env.store.bot_named(env.home, "shop").await.unwrap().unwrap();
    assert!(env.store.set_bot_telegram(env.home, bot.id, Some(SHOP_ID)).await.unwrap());
    for user in [
        json!({"id": 11, "first_name": "Ann", "last_name": "Lee", "username": "ann_l", "language_code": "en"}),
        json!({"id": 22, "first_name": "Bob", "username": "bobby"}),
        json!({"id": 33, "first_name": "Chloé", "last_name": "100%"}),
    ] {
        env.store.remember_user(SHOP_ID, &user).await.unwrap();
    }
    env.store.set_var(SHOP_ID, Scope::User(11), "score", Some(&json!(42))).await.unwrap();
    env.store.set_var(SHOP_ID, Scope::User(22), "score", Some(&json!(1))).await.unwrap();
    let state: ChatState = serde_json::from_value(json!({"scene": "checkout", "stack": ["menu"],
        "form": {"scene": "checkout", "field": 1, "answers": {"address": "Main St"}}, "generation": 0}))
    .unwrap();
    env.store.save_chat(SHOP_ID, 11, &state).await.unwrap();
    let orders = CollectionSpec { name: "orders".into(), searchable: vec![], indexed: vec!["qty".into()] };
    let fields = |v: Value| v.as_object().unwrap().clone();
    for (user, order) in [
        (11, json!({"title": "tea", "qty": 3, "paid": true})),
        (11, json!({"title": "cake", "qty": 1, "paid": false})),
        (11, json!({"title": "jam, \"home\"", "qty": 12, "paid": false})),
        (22, json!({"title": "milk", "qty": 2, "paid": true})),
    ] {
        env.store.create(SHOP_ID, &orders, Scope::User(user), fields(order)).await.unwrap();
    }
    let notes = CollectionSpec { name: "notes".into(), ..CollectionSpec::default() };
    env.store.create(SHOP_ID, &notes, Scope::Bot, fields(json!({"text": "closed on Sunday"}))).await.unwrap();
}

/// What the store holds of `shop`'s data: every order and note with its scope.
async fn shop_data(env: &Env) -> String {
    let orders = env.store.collection_records(SHOP_ID, "orders").await.unwrap();
    let notes = env.store.collection_records(SHOP_ID, "notes").await.unwrap();
    format!("{orders:?} {notes:?}")
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

async fn a_bots_users_are_listed_searched_and_shown(env: Env) {
    seed_shop(&env).await;
    let all = env.get("/api/v1/bots/shop/users", &env.viewer).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(ids(&all.body), vec![11, 22, 33]);
    assert_eq!(all.body["items"][0]["username"], "ann_l");
    assert_eq!(all.body["items"][1]["last_name"], Value::Null);
    // Pages by id.
    let first = env.get("/api/v1/bots/shop/users?limit=2", &env.viewer).await.body;
    assert_eq!(ids(&first), vec![11, 22]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = env.get(&format!("/api/v1/bots/shop/users?limit=2&cursor={cursor}"), &env.viewer).await.body;
    assert_eq!((ids(&second), second["next_cursor"].clone()), (vec![33], Value::Null));
    // Searched by name, username (with or without @), id; a LIKE wildcard is only a character.
    for (search, expected) in [
        ("ann", vec![11]),
        ("LEE", vec![11]),
        ("%40bobby", vec![22]),
        ("obb", vec![22]),
        ("22", vec![22]),
        ("2", vec![]),
        ("100%25", vec![33]),
        ("%25", vec![33]),
        ("_", vec![11]),
        ("nobody", vec![]),
    ] {
        let page = env.get(&format!("/api/v1/bots/shop/users?search={search}"), &env.viewer).await;
        assert_eq!(ids(&page.body), expected, "search {search}");
    }
    let ann = env.get("/api/v1/bots/shop/users/11", &env.viewer).await;
    assert_eq!(ann.status, 200, "{}", ann.body);
    assert_eq!(ann.body["first_name"], "Ann");
    assert_eq!(ann.body["variables"], json!({"score": 42}));
    assert_eq!(ann.body["conversation"]["scene"], "checkout");
    assert_eq!(ann.body["conversation"]["stack"], json!(["menu"]));
    assert_eq!(ann.body["conversation"]["form"]["answers"]["address"], "Main St");
    let bob = env.get("/api/v1/bots/shop/users/22", &env.viewer).await.body;
    assert_eq!((bob["variables"].clone(), bob["conversation"].clone()), (json!({"score": 1}), Value::Null));
    env.get("/api/v1/bots/shop/users/44", &env.viewer).await.problem(404, "an unknown user");
    env.get("/api/v1/bots/shop/users/ann", &env.viewer).await.problem(404, "not a user id");
    // A bot that never ran has no users.
    env.create_bot(&env.editor, "echo").await;
    let none = env.get("/api/v1/bots/echo/users", &env.viewer).await;
    assert_eq!((none.status, none.body["items"].clone()), (200, json!([])));
    env.get("/api/v1/bots/echo/users/11", &env.viewer).await.problem(404, "a bot with no data");
}

async fn a_bots_records_are_read_changed_exported_and_imported(env: Env) {
    seed_shop(&env).await;
    let collections = env.get("/api/v1/bots/shop/collections", &env.viewer).await;
    assert_eq!(collections.status, 200, "{}", collections.body);
    assert_eq!(
        collections.body,
        json!([
            {"name": "notes", "scope": "bot", "fields": {"text": "string"}, "records": 1},
            {"name": "orders", "scope": "user", "records": 4,
             "fields": {"paid": "boolean", "qty": "integer", "title": "string"}},
        ])
    );
    let list = |query: &str| {
        let path = format!("/api/v1/bots/shop/collections/orders/records{query}");
        let env = &env;
        async move {
            let answer = env.get(&path, &env.viewer).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            answer.body
        }
    };
    let all = list("").await;
    assert_eq!(ids(&all), vec![1, 2, 3, 4]);
    assert_eq!((all["items"][0]["scope"].clone(), all["items"][0]["owner"].clone()), (json!("user"), json!(11)));
    // Filters and order as a bot file's `query`: values converted to the field's type.
    let titles = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|i| i["fields"]["title"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(titles(&list("?order_by=qty%20desc").await), ["jam, \"home\"", "tea", "milk", "cake"]);
    assert_eq!(
        titles(&list("?where=%7B%22qty%22%3A%7B%22gt%22%3A%222%22%7D%7D&order_by=qty").await),
        ["tea", "jam, \"home\""]
    );
    assert_eq!(titles(&list("?where=%7B%22paid%22%3Atrue%7D").await), ["tea", "milk"]);
    assert_eq!(
        titles(&list("?where=%7B%22title%22%3A%7B%22in%22%3A%5B%22milk%22%2C%22cake%22%5D%7D%7D").await),
        ["cake", "milk"]
    );
    assert_eq!(titles(&list("?owner=22").await), ["milk"]);
    // Sorted pages continue in order.
    let first = list("?order_by=title&limit=3").await;
    assert_eq!(titles(&first), ["cake", "jam, \"home\"", "milk"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = list(&format!("?order_by=title&limit=3&cursor={cursor}")).await;
    assert_eq!((titles(&second), second["next_cursor"].clone()), (vec!["tea".to_owned()], Value::Null));

    let tea = env.get("/api/v1/bots/shop/collections/orders/records/1", &env.viewer).await;
    assert_eq!((tea.status, tea.body["fields"]["title"].clone()), (200, json!("tea")));
    env.get("/api/v1/bots/shop/collections/orders/records/99", &env.viewer).await.problem(404, "an unknown record");
    env.get("/api/v1/bots/shop/collections/carts/records", &env.viewer).await.problem(404, "an undeclared one");

    // Update: converted like a step's values; other fields kept; audited.
    let path = "/api/v1/bots/shop/collections/orders/records/2";
    let updated = env.send(Method::PATCH, path, Some(&env.editor), Some(json!({"qty": "5", "paid": true})), &[]).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["fields"], json!({"title": "cake", "qty": 5, "paid": true}));
    let stored = env.store.collection_record(SHOP_ID, "orders", 2).await.unwrap().unwrap();
    assert_eq!(stored.record.fields["qty"], json!(5));
    assert_eq!(titles(&list("?where=%7B%22qty%22%3A5%7D").await), ["cake"], "the index follows the update");

    // Delete.
    let deleted =
        env.send(Method::DELETE, "/api/v1/bots/shop/collections/orders/records/4", Some(&env.editor), None, &[]).await;
    assert_eq!(deleted.status, 204);
    assert!(env.store.collection_record(SHOP_ID, "orders", 4).await.unwrap().is_none());
    env.send(Method::DELETE, "/api/v1/bots/shop/collections/orders/records/4", Some(&env.editor), None, &[])
        .await
        .problem(404, "deleted twice");

    // Export, JSON and CSV.
    let json_export = env.get("/api/v1/bots/shop/collections/orders/export", &env.viewer).await;
    assert_eq!(json_export.body.as_array().unwrap().len(), 3, "{}", json_export.body);
    assert_eq!(json_export.body[1]["fields"]["qty"], 5);
    let csv = env
        .http
        .get(format!("{}/api/v1/bots/shop/collections/orders/export?format=csv", env.base))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "id,scope,owner,created_at,updated_at,paid,qty,title");
    assert!(lines[1].starts_with("1,user,11,") && lines[1].ends_with(",true,3,tea"), "{csv}");
    assert!(lines[3].ends_with(",false,12,\"jam, \"\"home\"\"\""), "{csv}");
    assert_eq!(lines.len(), 5, "{csv}");
    let notes = env
        .http
        .get(format!("{}/api/v1/bots/shop/collections/notes/export?format=csv", env.base))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notes.contains("\r\n1,bot,,") && notes.ends_with(",closed on Sunday\r\n"), "{notes}");

    // Import: all created, defaults applied, ids continue; audited.
    let rows = json!({"records": [
        {"owner": 22, "fields": {"title": "bread", "qty": 2}},
        {"owner": 33, "fields": {"title": "eggs", "qty": "6", "paid": true}},
    ]});
    let imported = env.post("/api/v1/bots/shop/collections/orders/records", &env.editor, rows, &[]).await;
    assert_eq!(imported.status, 201, "{}", imported.body);
    assert_eq!(imported.body[0]["id"], 5, "ids are per collection and never reused");
    assert_eq!(imported.body[0]["fields"], json!({"title": "bread", "qty": 2, "paid": false}));
    assert_eq!((imported.body[1]["owner"].clone(), imported.body[1]["fields"]["qty"].clone()), (json!(33), json!(6)));
    assert_eq!(titles(&list("?owner=33").await), ["eggs"]);

    let audit = env.get("/api/v1/audit", &env.viewer).await.body;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[..3], ["records.import", "record.delete", "record.update"], "{audit}");
    assert_eq!(audit["items"][2]["target"], "shop/orders/2");
    assert_eq!(audit["items"][2]["detail"]["fields"], json!({"qty": 5, "paid": true}));
}

async fn bot_data_is_isolated_and_role_checked(env: Env) {
    seed_shop(&env).await;
    // `away` has no bot `shop`: every route of the home bot's data is a 404 to it.
    let before = shop_data(&env).await;
    let import = json!({"records": [{"owner": 1, "fields": {"title": "x"}}]});
    let routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/api/v1/bots/shop/users", None),
        (Method::GET, "/api/v1/bots/shop/users/11", None),
        (Method::GET, "/api/v1/bots/shop/stats", None),
        (Method::GET, "/api/v1/bots/shop/collections", None),
        (Method::GET, "/api/v1/bots/shop/collections/orders/records", None),
        (Method::GET, "/api/v1/bots/shop/collections/orders/records/1", None),
        (Method::GET, "/api/v1/bots/shop/collections/orders/export?format=csv", None),
        (Method::PATCH, "/api/v1/bots/shop/collections/orders/records/1", Some(json!({"qty": 9}))),
        (Method::DELETE, "/api/v1/bots/shop/collections/orders/records/1", None),
        (Method::POST, "/api/v1/bots/shop/collections/orders/records", Some(import.clone())),
        (Method::POST, "/api/v1/bots/shop/users/11/block", None),
        (Method::POST, "/api/v1/bots/shop/users/11/unblock", None),
    ];
    // A broadcast of home's bot (crates/server/tests/broadcasts.rs sends them).
    let made = env.post("/api/v1/bots/shop/broadcasts", &env.editor, json!({"message": {"text": "hi"}}), &[]).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let broadcast = format!("/api/v1/bots/shop/broadcasts/{}", made.body["id"]);
    let broadcasts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/bots/shop/broadcasts".into(), None),
        (Method::POST, "/api/v1/bots/shop/broadcasts".into(), Some(json!({"message": {"text": "hi"}}))),
        (Method::GET, broadcast.clone(), None),
        (Method::POST, format!("{broadcast}/pause"), None),
        (Method::POST, format!("{broadcast}/resume"), None),
        (Method::POST, format!("{broadcast}/cancel"), None),
    ];
    for (method, path, body) in &broadcasts {
        let answer = env.send(method.clone(), path, Some(&env.stranger), body.clone(), &[]).await;
        answer.problem(404, &format!("{method} {path} from another workspace"));
    }
    let audit_before = env.store.audit_log(env.home, 1000).await.unwrap().len();
    for (method, path, body) in &routes {
        let answer = env.send(method.clone(), path, Some(&env.stranger), body.clone(), &[]).await;
        answer.problem(404, &format!("{method} {path} from another workspace"));
    }
    // A bot of the same name in `away` shows away's (empty) data, never home's.
    env.post("/api/v1/bots", &env.stranger, json!({"name": "shop", "source": SHOP}), &[]).await;
    let theirs = env.get("/api/v1/bots/shop/users", &env.stranger).await;
    assert_eq!((theirs.status, theirs.body["items"].clone()), (200, json!([])));
    let theirs = env.get("/api/v1/bots/shop/collections/orders/records/1", &env.stranger).await;
    theirs.problem(404, "the other workspace's record by id");
    // Viewers read, and may not change.
    for (method, path, body) in &routes[7..] {
        let answer = env.send(method.clone(), path, Some(&env.viewer), body.clone(), &[]).await;
        answer.problem(403, &format!("{method} {path} by a viewer"));
    }
    for (_, path, _) in &routes[..7] {
        assert_eq!(env.get(path, &env.viewer).await.status, 200, "a viewer reads {path}");
    }
    assert_eq!(shop_data(&env).await, before, "nothing changed");
    assert!(env.store.blocked_user_ids(SHOP_ID).await.unwrap().is_empty(), "no one blocked");
    assert_eq!(env.store.audit_log(env.home, 1000).await.unwrap().len(), audit_before);
}

async fn bad_data_input_changes_nothing(env: Env) {
    seed_shop(&env).await;
    let before = shop_data(&env).await;
    let records = "/api/v1/bots/shop/collections/orders/records";
    let one = "/api/v1/bots/shop/collections/orders/records/1";
    let bad: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (Method::GET, format!("{records}?where=%7Bx"), None, 400, "where"),
        (Method::GET, format!("{records}?where=%7B%22qty%22%3A%22many%22%7D"), None, 400, "where"),
        (Method::GET, format!("{records}?where=%7B%22colour%22%3A1%7D"), None, 400, "where"),
        (Method::GET, format!("{records}?where=%7B%22qty%22%3A%7B%22in%22%3A3%7D%7D"), None, 400, "where"),
        (Method::GET, format!("{records}?where=%7B%22qty%22%3A%7B%22near%22%3A3%7D%7D"), None, 400, "where"),
        (Method::GET, format!("{records}?order_by=colour"), None, 400, "order_by"),
        (Method::GET, format!("{records}?order_by=qty%20sideways"), None, 400, "order_by"),
        (Method::GET, format!("{records}?cursor=zz"), None, 400, "cursor"),
        (Method::GET, format!("{records}?limit=0"), None, 400, "limit"),
        (Method::GET, format!("{records}?colour=red"), None, 400, "colour"),
        (Method::GET, "/api/v1/bots/shop/users?limit=500".into(), None, 400, "limit"),
        (Method::GET, "/api/v1/bots/shop/users?blocked=maybe".into(), None, 400, "blocked"),
        (Method::GET, "/api/v1/bots/shop/collections/orders/export?format=xml".into(), None, 400, "format"),
        (Method::GET, "/api/v1/bots/shop/stats?from=2026-02-30".into(), None, 400, "from"),
        (Method::GET, "/api/v1/bots/shop/stats?to=yesterday".into(), None, 400, "to"),
        (Method::GET, "/api/v1/bots/shop/stats?from=2026-03-02&to=2026-03-01".into(), None, 400, "from"),
        (Method::GET, "/api/v1/bots/shop/stats?from=2024-01-01&to=2026-01-01".into(), None, 400, "from"),
        (Method::GET, "/api/v1/stats?from=2026-1-1".into(), None, 400, "from"),
        (Method::GET, "/api/v1/stats?day=2026-01-01".into(), None, 400, "day"),
        (Method::PATCH, one.into(), Some(json!({"qty": "many"})), 422, "/qty"),
        (Method::PATCH, one.into(), Some(json!({"title": "x".repeat(21)})), 422, "/title"),
        (Method::PATCH, one.into(), Some(json!({"title": null})), 422, "/title"),
        (Method::PATCH, one.into(), Some(json!({"paid": true, "colour": "red"})), 422, "/colour"),
        (Method::PATCH, one.into(), Some(json!({"id": 3})), 422, "/id"),
        (Method::PATCH, one.into(), Some(json!([1])), 422, ""),
        (
            Method::POST,
            records.into(),
            Some(json!({"records": [
                {"owner": 1, "fields": {"title": "ok"}},
                {"owner": 2, "fields": {"title": "bad", "qty": 1.5}},
            ]})),
            422,
            "/records/1/fields/qty",
        ),
        (
            Method::POST,
            records.into(),
            Some(json!({"records": [{"owner": 1, "fields": {"qty": 1}}]})),
            422,
            "/records/0/fields/title",
        ),
        (Method::POST, records.into(), Some(json!({"records": [{"fields": {"title": "a"}}]})), 422, "/records/0/owner"),
        (
            Method::POST,
            records.into(),
            Some(json!({"records": [{"owner": "x", "fields": {}}]})),
            422,
            "/records/0/owner",
        ),
        (Method::POST, records.into(), Some(json!({"rows": []})), 422, "/rows"),
        (
            Method::POST,
            "/api/v1/bots/shop/collections/notes/records".into(),
            Some(json!({"records": [{"owner": 5, "fields": {"text": "a"}}]})),
            422,
            "/records/0/owner",
        ),
    ];
    for (method, path, body, status, place) in bad {
        let answer = env.send(method.clone(), &path, Some(&env.editor), body, &[]).await;
        let problem = answer.problem(status, &format!("{method} {path}"));
        let errors = problem["errors"].as_array().unwrap_or_else(|| panic!("{method} {path}: {problem}"));
        assert!(
            errors.iter().any(|e| e["pointer"] == place || e["parameter"] == place),
            "{method} {path}: expected {place:?} in {problem}"
        );
    }
    // Malformed JSON, another media type.
    env.raw(Method::PATCH, one, &env.editor, "application/json", b"{\"qty\": ".to_vec())
        .await
        .problem(400, "malformed");
    env.raw(Method::POST, records, &env.editor, "text/csv", b"a,b".to_vec()).await.problem(415, "csv body");
    assert_eq!(shop_data(&env).await, before, "nothing changed");
    let audit = env.store.audit_log(env.home, 1000).await.unwrap();
    assert!(audit.iter().all(|e| !e.action.starts_with("record")), "nothing audited");
}

/// The workspace's people: listed by any role, changed by admins, owners only by owners (never
/// by a token), never without an owner, and another workspace's people are not found.
async fn members_and_their_roles(env: Env) {
    let password = ferrogram_store::hash_password("a long enough password").await.unwrap();
    let account = |email: &'static str| {
        let (store, password) = (Arc::clone(&env.store), password.clone());
        async move { store.create_account(email, email, &password).await.unwrap().unwrap().id }
    };
    let (olga, ann, bob) =
        (account("olga@example.org").await, account("ann@example.org").await, account("bob@example.org").await);
    env.store.set_member(env.home, olga, Role::Owner).await.unwrap();
    env.store.set_member(env.home, ann, Role::Editor).await.unwrap();
    env.store.set_member(env.away, bob, Role::Owner).await.unwrap();
    let listed = env.get("/api/v1/members", &env.viewer).await;
    let emails: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["olga@example.org", "ann@example.org"], "{}", listed.body);
    let owners = env.get("/api/v1/members?role=owner", &env.viewer).await.body;
    assert_eq!(owners["items"].as_array().unwrap().len(), 1, "{owners}");

    let before = env.snapshot(env.home).await;
    put(&env, &env.editor, ann, "viewer").await.problem(403, "an editor changing a role");
    put(&env, &env.admin, olga, "viewer").await.problem(403, "a token touching an owner");
    put(&env, &env.admin, ann, "owner").await.problem(403, "a token making an owner");
    put(&env, &env.admin, bob, "viewer").await.problem(404, "another workspace's member");
    put(&env, &env.admin, ann, "chief").await.problem(422, "not a role");
    env.send(Method::DELETE, &format!("/api/v1/members/{bob}"), Some(&env.admin), None, &[]).await.problem(404, "bob");
    invite(&env, &env.admin, json!({"role": "owner"})).await.problem(403, "a token inviting an owner");
    invite(&env, &env.admin, json!({"role": "editor", "hours": 0})).await.problem(422, "a link of 0 hours");
    invite(&env, &env.editor, json!({"role": "viewer"})).await.problem(403, "an editor inviting");
    assert_eq!(env.snapshot(env.home).await, before, "no refusal changed anything");
    assert_eq!(env.store.memberships(bob).await.unwrap()[0].role, Role::Owner, "the other workspace is untouched");

    let promoted = put(&env, &env.admin, ann, "admin").await;
    assert_eq!((promoted.status, promoted.body["role"].as_str()), (200, Some("admin")), "{}", promoted.body);
    invite(&env, &env.admin, json!({"role": "editor", "hours": 2.5})).await.problem(422, "a part of an hour");
    let invited = invite(&env, &env.admin, json!({"role": "editor", "hours": 2.0})).await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let path = invited.body["path"].as_str().unwrap();
    let link = env.store.link(path.strip_prefix("/invite/").unwrap()).await.unwrap().expect("a usable link");
    assert_eq!(link.kind, ferrogram_store::LinkKind::Invite { workspace: env.home, role: Role::Editor });

    // The owner's own session: the last owner cannot step down, then hands over.
    let session = env.store.create_session(olga, "test", 3600).await.unwrap().unwrap();
    let as_olga = |method: Method, path: String, body: Option<Value>| {
        let mut request = env
            .http
            .request(method, format!("{}{path}", env.base))
            .header("cookie", format!("fg_session={}", session.secret))
            .header("x-csrf-token", session.csrf.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let members = |who: i64| format!("/api/v1/members/{who}");
    assert_eq!(as_olga(Method::PUT, members(olga), Some(json!({"role": "viewer"}))).await, 409, "the last owner");
    assert_eq!(as_olga(Method::DELETE, members(olga), None).await, 409, "the last owner");
    assert_eq!(as_olga(Method::PUT, members(ann), Some(json!({"role": "owner"}))).await, 200);
    assert_eq!(as_olga(Method::PUT, members(olga), Some(json!({"role": "viewer"}))).await, 200);
    env.send(Method::DELETE, &members(ann), Some(&env.admin), None, &[])
        .await
        .problem(403, "a token removing an owner");
    assert_eq!(env.send(Method::DELETE, &members(olga), Some(&env.admin), None, &[]).await.status, 204);
    let left: Vec<(i64, Role)> =
        env.store.members(env.home).await.unwrap().iter().map(|m| (m.account, m.role)).collect();
    assert_eq!(left, [(ann, Role::Owner)]);
    let audit = env.get("/api/v1/audit?limit=200", &env.viewer).await.body;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("member."))
        .rev()
        .collect();
    assert_eq!(actions, ["member.role", "member.invite", "member.role", "member.role", "member.remove"], "{audit}");
}

/// `PUT /api/v1/members/WHO` with `{"role": ROLE}`.
async fn put(env: &Env, token: &str, who: i64, role: &str) -> Answer {
    env.send(Method::PUT, &format!("/api/v1/members/{who}"), Some(token), Some(json!({"role": role})), &[]).await
}

/// `POST /api/v1/members/invites` with `body`.
async fn invite(env: &Env, token: &str, body: Value) -> Answer {
    env.send(Method::POST, "/api/v1/members/invites", Some(token), Some(body), &[]).await
}

// ---- Blocked users and statistics (`users.rs`, `stats.rs`; decision 0047) ----------------------

async fn a_user_is_blocked_and_unblocked_and_audited(env: Env) {
    seed_shop(&env).await;
    let ops = env.store.tokens(env.home).await.unwrap().into_iter().find(|t| t.name == "ops").unwrap().id;
    let block = "/api/v1/bots/shop/users/22/block";
    let blocked = env.post(block, &env.editor, json!(null), &[]).await;
    assert_eq!(blocked.status, 200, "{}", blocked.body);
    assert_eq!((&blocked.body["id"], &blocked.body["blocked"]), (&json!(22), &json!(true)));
    assert_eq!(blocked.body["blocked_by"], json!(format!("token:{ops}")));
    let at = blocked.body["blocked_at"].as_i64().expect("when");
    // Again: nothing changes, nothing more is audited.
    let again = env.post(block, &env.admin, json!(null), &[]).await;
    assert_eq!(
        (again.status, &again.body["blocked_at"], &again.body["blocked_by"]),
        (200, &json!(at), &blocked.body["blocked_by"])
    );
    assert_eq!(env.store.blocked_user_ids(SHOP_ID).await.unwrap(), [22], "kept in the store the engine reads");

    let only = env.get("/api/v1/bots/shop/users?blocked=true", &env.viewer).await;
    assert_eq!(ids(&only.body), vec![22]);
    let others = env.get("/api/v1/bots/shop/users?blocked=false", &env.viewer).await;
    assert_eq!(ids(&others.body), vec![11, 33]);
    let bob = env.get("/api/v1/bots/shop/users/22", &env.viewer).await.body;
    assert_eq!((&bob["blocked"], &bob["blocked_at"]), (&json!(true), &json!(at)));
    assert_eq!(env.get("/api/v1/bots/shop/users/11", &env.viewer).await.body["blocked"], json!(false));

    env.post("/api/v1/bots/shop/users/44/block", &env.editor, json!(null), &[]).await.problem(404, "an unknown user");
    env.post("/api/v1/bots/shop/users/bob/block", &env.editor, json!(null), &[]).await.problem(404, "not an id");
    env.post("/api/v1/bots/echo/users/22/block", &env.editor, json!(null), &[]).await.problem(404, "no such bot");

    let unblocked = env.post("/api/v1/bots/shop/users/22/unblock", &env.editor, json!(null), &[]).await;
    assert_eq!(unblocked.status, 200, "{}", unblocked.body);
    assert_eq!(
        (&unblocked.body["blocked"], &unblocked.body["blocked_at"], &unblocked.body["blocked_by"]),
        (&json!(false), &json!(null), &json!(null))
    );
    let twice = env.post("/api/v1/bots/shop/users/22/unblock", &env.editor, json!(null), &[]).await;
    assert_eq!(twice.status, 200);
    assert!(env.store.blocked_user_ids(SHOP_ID).await.unwrap().is_empty());

    let log = env.store.audit_log(env.home, 100).await.unwrap();
    let users: Vec<(&str, &str, &Value)> = log
        .iter()
        .rev()
        .filter(|e| e.action.starts_with("user."))
        .map(|e| (e.action.as_str(), e.target.as_str(), &e.detail))
        .collect();
    assert_eq!(
        users,
        [("user.block", "shop/22", &json!({"user": 22})), ("user.unblock", "shop/22", &json!({"user": 22}))]
    );
}

/// Commits what the engine commits for handled updates of `shop` (tallies on known days), then
/// reads them through the API: exact numbers, days in UTC.
async fn statistics_of_a_bot_and_the_workspace(env: Env) {
    use ferrogram_engine::{Commit, StateStore, Tally, TallyOutcome};
    seed_shop(&env).await;
    // 2026-03-01 is day 20513 since 1970-01-01.
    let day = 20_513_i64;
    let tally = |update: i64, at: i64, user: i64, outcome, latency_ms| Commit {
        bot: SHOP_ID,
        handled: Some(update),
        tally: Some(Tally { at, user_id: Some(user), outcome, latency_ms }),
        ..Commit::default()
    };
    let start = day * 86_400;
    let batch = [
        tally(1, start, 11, TallyOutcome::Ok, Some(8)),
        tally(2, start + 60, 11, TallyOutcome::Ok, Some(90)),
        tally(3, start + 86_399, 22, TallyOutcome::Error, Some(2_000)),
        tally(4, start + 100, 33, TallyOutcome::Blocked, None),
        // 2026-03-02, one second after midnight.
        tally(5, start + 86_401, 22, TallyOutcome::Ok, Some(40)),
    ];
    StateStore::commit(&*env.store, &batch).await.unwrap();

    let stats = env.get("/api/v1/bots/shop/stats?from=2026-02-28&to=2026-03-02", &env.viewer).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let days: Vec<Value> = stats.body["days"].as_array().unwrap().clone();
    let zero = json!({"day": "2026-02-28", "updates": 0, "blocked": 0, "errors": 0, "active_users": 0,
        "latency_p50_ms": null, "latency_p95_ms": null});
    assert_eq!(days[0], zero);
    assert_eq!(
        days[1],
        json!({"day": "2026-03-01", "updates": 4, "blocked": 1, "errors": 1, "active_users": 2,
        "latency_p50_ms": 100, "latency_p95_ms": 2500})
    );
    assert_eq!(
        days[2],
        json!({"day": "2026-03-02", "updates": 1, "blocked": 0, "errors": 0, "active_users": 1,
        "latency_p50_ms": 50, "latency_p95_ms": 50})
    );
    assert_eq!((&stats.body["from"], &stats.body["to"]), (&json!("2026-02-28"), &json!("2026-03-02")));
    assert_eq!(
        stats.body["totals"],
        json!({"updates": 5, "blocked": 1, "errors": 1, "active_users": 2,
        "daily_active_users": 1, "weekly_active_users": 2, "monthly_active_users": 2,
        "latency_p50_ms": 50, "latency_p95_ms": 2500})
    );

    // The workspace: shop and a bot that never ran (no data) add up to shop's.
    let workspace = env.get("/api/v1/stats?from=2026-03-01&to=2026-03-01", &env.viewer).await;
    assert_eq!(workspace.status, 200, "{}", workspace.body);
    assert_eq!(workspace.body["totals"]["updates"], 4);
    assert_eq!(workspace.body["days"].as_array().unwrap().len(), 1);
    // Another workspace sees none of it.
    let theirs = env.get("/api/v1/stats?from=2026-03-01&to=2026-03-01", &env.stranger).await;
    assert_eq!(theirs.body["totals"]["updates"], 0);
    env.get("/api/v1/bots/shop/stats", &env.stranger).await.problem(404, "another workspace's bot");
    env.get("/api/v1/bots/nobody/stats", &env.viewer).await.problem(404, "no such bot");
    // Without a range: the 30 days up to today.
    let recent = env.get("/api/v1/bots/shop/stats", &env.viewer).await.body;
    assert_eq!(recent["days"].as_array().unwrap().len(), 30);
    let a_year = env.get("/api/v1/bots/shop/stats?from=2025-03-02&to=2026-03-02", &env.viewer).await;
    assert_eq!(a_year.body["days"].as_array().unwrap().len(), 366, "366 days at most: {}", a_year.body["detail"]);
}

/// The log guard cannot go away silently: a line the server's code logs reaches the recording
/// subscriber, and a secret in it fails the check with the secret masked. (The probe's secret is
/// not registered: the other tests' checks must not see it.)
#[test]
fn the_log_guard_sees_the_logs_and_fires_on_a_secret() {
    logged::install();
    let secret = "fg_logguardSECRETprobe".to_owned();
    tracing::warn!(target: "ferrogram_server", "a probe line holding {secret}");
    let lines = logged::lines();
    assert!(lines.contains("a probe line holding"), "the subscriber did not record the line");
    let leak = logged::check_with("log", &lines, [&secret]).expect_err("the guard did not fire");
    assert!(leak.contains("fg_…[22 chars]") && !leak.contains(&secret), "{leak}");
}

/// Stored secrets through the API: the workspace's and a bot's, set (201) and replaced (200),
/// listed by name and paginated, deleted; a value is never in an answer, a list or the audit
/// log; admin only; another workspace's are 404; bad input changes nothing.
async fn secrets_are_set_listed_and_deleted_but_never_shown(env: Env) {
    let (value, bot_value) = ("sk-live-SECRET-workspace-1", "sk-live-SECRET-bot-2");
    [value, bot_value].into_iter().for_each(logged::register);
    let set = env.put_json("/api/v1/secrets/SHOP_KEY", &env.admin, json!({"value": value})).await;
    assert_eq!(
        (set.status, &set.body["name"], &set.body["bot"]),
        (201, &json!("SHOP_KEY"), &Value::Null),
        "{}",
        set.body
    );
    assert!(set.body.get("value").is_none() && !set.body.to_string().contains(value), "{}", set.body);
    assert_eq!(
        env.put_json("/api/v1/secrets/SHOP_KEY", &env.admin, json!({"value": value})).await.status,
        200,
        "replaced"
    );
    let echo = env.create_bot(&env.admin, "echo").await;
    assert_eq!(echo.status, 201);
    let bot = env.store.bot_named(env.home, "echo").await.unwrap().unwrap().id;
    let set = env.put_json("/api/v1/bots/echo/secrets/SHOP_KEY", &env.admin, json!({"value": bot_value})).await;
    assert_eq!((set.status, &set.body["bot"]), (201, &json!("echo")), "{}", set.body);
    // Stored sealed, as the CLI stores them: the store opens each under its own scope.
    assert_eq!(env.store.secret(env.home, None, "SHOP_KEY").await.unwrap().as_deref(), Some(value));
    assert_eq!(env.store.secret(env.home, Some(bot), "SHOP_KEY").await.unwrap().as_deref(), Some(bot_value));

    let listed = env.get("/api/v1/secrets", &env.admin).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let names: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["SHOP_KEY"], "the workspace's own only: {}", listed.body);
    let of_bot = env.get("/api/v1/bots/echo/secrets", &env.admin).await;
    assert_eq!(of_bot.body["items"][0]["name"], "SHOP_KEY", "{}", of_bot.body);
    for answer in [&listed, &of_bot] {
        assert!(!answer.body.to_string().contains("SECRET"), "a value listed: {}", answer.body);
    }
    for name in ["A_1", "A_2", "A_3"] {
        assert_eq!(
            env.put_json(&format!("/api/v1/secrets/{name}"), &env.admin, json!({"value": "x"})).await.status,
            201
        );
    }
    let first = env.get("/api/v1/secrets?limit=2", &env.admin).await;
    let cursor = first.body["next_cursor"].as_str().expect("a next page").to_owned();
    let second = env.get(&format!("/api/v1/secrets?limit=2&cursor={cursor}"), &env.admin).await;
    let page = |answer: &Answer| -> Vec<String> {
        answer.body["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        (page(&first), page(&second)),
        (vec!["A_1".to_owned(), "A_2".into()], vec!["A_3".to_owned(), "SHOP_KEY".into()])
    );
    assert_eq!(second.body["next_cursor"], Value::Null);

    // Roles, other workspaces and bad input: refused, nothing changed.
    let secrets_before = env.store.secrets(env.home).await.unwrap();
    let before = env.snapshot(env.home).await;
    env.put_json("/api/v1/secrets/SHOP_KEY", &env.editor, json!({"value": "y"}))
        .await
        .problem(403, "an editor setting");
    env.get("/api/v1/secrets", &env.viewer).await.problem(403, "a viewer listing");
    env.get("/api/v1/bots/echo/secrets", &env.stranger).await.problem(404, "another workspace's bot");
    env.put_json("/api/v1/bots/echo/secrets/K", &env.stranger, json!({"value": "y"}))
        .await
        .problem(404, "another's bot");
    env.send(Method::DELETE, "/api/v1/secrets/SHOP_KEY", Some(&env.stranger), None, &[]).await.problem(404, "theirs");
    env.put_json("/api/v1/bots/nobody/secrets/K", &env.admin, json!({"value": "y"})).await.problem(404, "no such bot");
    let bad = env.put_json("/api/v1/secrets/not-a-name", &env.admin, json!({"value": "y"})).await;
    assert!(bad.problem(422, "a bad name")["errors"].to_string().contains("letters, digits and _"), "{}", bad.body);
    env.put_json("/api/v1/secrets/token", &env.admin, json!({"value": "y"})).await.problem(422, "the token's name");
    env.put_json("/api/v1/secrets/K", &env.admin, json!({"value": ""})).await.problem(422, "an empty value");
    env.put_json("/api/v1/secrets/K", &env.admin, json!({})).await.problem(422, "no value");
    env.put_json("/api/v1/secrets/K", &env.admin, json!({"value": "y", "shown": true}))
        .await
        .problem(422, "an unknown field");
    env.del("/api/v1/bots/echo/secrets/token").await.problem(422, "the bot's token");
    env.del("/api/v1/secrets/NONE").await.problem(404, "no such secret");
    env.get("/api/v1/secrets?cursor=!!", &env.admin).await.problem(400, "a cursor not ours");
    assert_eq!(env.store.secrets(env.home).await.unwrap(), secrets_before, "no refusal changed a secret");
    assert_eq!(env.snapshot(env.home).await, before, "no refusal wrote anything");

    assert_eq!(env.del("/api/v1/secrets/SHOP_KEY").await.status, 204);
    env.del("/api/v1/secrets/SHOP_KEY").await.problem(404, "deleted already");
    assert_eq!(env.store.secret(env.home, None, "SHOP_KEY").await.unwrap(), None);
    assert_eq!(
        env.store.secret(env.home, Some(bot), "SHOP_KEY").await.unwrap().as_deref(),
        Some(bot_value),
        "the bot's stays"
    );
    assert_eq!(env.del("/api/v1/bots/echo/secrets/SHOP_KEY").await.status, 204);

    let audit = env.get("/api/v1/audit?limit=200", &env.admin).await.body;
    let entries: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("secrets."))
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["detail"]["scope"].as_str().unwrap().to_owned()))
        .collect();
    assert!(entries.contains(&("secrets.set".into(), "bot echo".into())), "{entries:?}");
    assert!(entries.contains(&("secrets.delete".into(), "workspace".into())), "{entries:?}");
    assert_eq!(entries.len(), 8, "6 sets (one a replacement) and 2 deletes: {entries:?}");
    assert!(!audit.to_string().contains("SECRET"), "a value in the audit log: {audit}");
}
