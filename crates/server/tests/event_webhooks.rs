//! Outgoing event webhooks (decision 0050) over real HTTP, on a real store (a SQLite file, and
//! PostgreSQL when it can be reached: a database of its own per test): a receiver on 127.0.0.1
//! started by the test checks each request's signature (with its own HMAC, not the server's
//! code) and records what it got, answering the statuses the test scripts.
//!
//! What is checked: an audited change, a bot's status change and a ping reach the receiver
//! signed; 500, 500, 200 is three attempts logged and delivered; a 429 or 503 with
//! `Retry-After` waits what it asks (capped), read from the attempts logged and the delivery's
//! next attempt; 410 and 400 are final; delivered and failed deliveries older than `keep` are
//! forgotten, pending ones never;
//! redelivery sends the same event again; another workspace gets 404 on every route; a delivery
//! pending when the server stops is delivered by the next one on the same database; bad
//! subscriptions are refused at their field and nothing is made.

mod no_bots;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use ferrogram_engine::{Engine, EngineConfig};
use ferrogram_server::bots::Api;
use ferrogram_server::event_webhooks::{EventWebhooks, SIGNATURE_HEADER, Settings};
use ferrogram_store::{Role, SecretKey, Store, StoredStatus};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

const ECHO: &str =
    "ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - reply: \"You said: {{ message.text }}\"\n";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    event_type: String,
    event_id: String,
    body: Value,
    /// The signature matched the secret, over `t.body`, with a fresh `t`.
    signed: bool,
}

/// What the receiver knows and does: the secret to check with, the statuses to answer, each
/// with its `Retry-After` if any (200 when the script is empty), what it got.
#[derive(Default)]
struct Receiving {
    secret: Mutex<String>,
    script: Mutex<VecDeque<(u16, Option<&'static str>)>>,
    got: Mutex<Vec<Got>>,
}

/// A scripted answer without `Retry-After`.
fn plain(status: u16) -> (u16, Option<&'static str>) {
    (status, None)
}

async fn receive(State(state): State<Arc<Receiving>>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signature = header(SIGNATURE_HEADER);
    let signed = (|| {
        let (t, hex) = signature.split_once(",sha256=")?;
        let t: i64 = t.strip_prefix("t=")?.parse().ok()?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let mut mac = Hmac::<Sha256>::new_from_slice(state.secret.lock().as_bytes()).ok()?;
        mac.update(format!("{t}.").as_bytes());
        mac.update(&body);
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        Some(expected == hex && (now - t).abs() < 300)
    })()
    .unwrap_or(false);
    let got = Got {
        event_type: header("x-ferrogram-event"),
        event_id: header("x-ferrogram-event-id"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed,
    };
    state.got.lock().push(got);
    let (status, retry_after) = state.script.lock().pop_front().unwrap_or((200, None));
    let status = StatusCode::from_u16(status).unwrap();
    match retry_after {
        Some(wait) => (status, [(axum::http::header::RETRY_AFTER, wait)]).into_response(),
        None => status.into_response(),
    }
}

/// A receiver on 127.0.0.1: its URL and state.
async fn receiver() -> (String, u16, Arc<Receiving>) {
    let state = Arc::new(Receiving::default());
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/hook"), port, state)
}

/// The database a test runs on: its URL and key, to open it again as a restarted server would.
struct Database {
    url: String,
    key: SecretKey,
}

impl Database {
    async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open the store").with_secret_key(self.key.clone())
    }
}

/// A server on the database, with `home` (admin and viewer tokens) and `away` (an admin
/// token), whose egress rule allows the receiver's port.
struct Env {
    base: String,
    http: reqwest::Client,
    store: Arc<Store>,
    home: i64,
    admin: String,
    viewer: String,
    stranger: String,
    url: String,
    got: Arc<Receiving>,
    listening: ferrogram_server::Listening,
    settings: Settings,
}

/// The tests' delivery settings: retries a second, then two, apart.
fn quick() -> Settings {
    Settings { first_retry: Duration::from_secs(1), max_retry: Duration::from_secs(2), ..Settings::default() }
}

impl Env {
    async fn new(database: &Database) -> Env {
        Env::with(database, quick()).await
    }

    async fn with(database: &Database, settings: Settings) -> Env {
        let store = Arc::new(database.open().await);
        let home = store.create_workspace("home").await.unwrap();
        let away = store.create_workspace("away").await.unwrap();
        let admin = store.issue_token(home, "root", Role::Admin).await.unwrap().unwrap().secret;
        let viewer = store.issue_token(home, "eyes", Role::Viewer).await.unwrap().unwrap().secret;
        let stranger = store.issue_token(away, "other", Role::Admin).await.unwrap().unwrap().secret;
        let (url, port, got) = receiver().await;
        Env::serve(store, home, [admin, viewer, stranger], url, port, got, settings).await
    }

    async fn serve(
        store: Arc<Store>,
        home: i64,
        tokens: [String; 3],
        url: String,
        port: u16,
        got: Arc<Receiving>,
        settings: Settings,
    ) -> Env {
        let hooks = EventWebhooks::new(&[("127.0.0.1".into(), port)], settings.clone()).unwrap();
        let api = Api { store: Arc::clone(&store), bots: Arc::new(no_bots::NoBots), hooks };
        let engine = Arc::new(Engine::new(EngineConfig::default()));
        let listening = ferrogram_server::listen_with("127.0.0.1:0".parse().unwrap(), engine, Some(api)).await.unwrap();
        let [admin, viewer, stranger] = tokens;
        Env {
            base: format!("http://{}", listening.addr()),
            http: reqwest::Client::new(),
            store,
            home,
            admin,
            viewer,
            stranger,
            url,
            got,
            listening,
            settings,
        }
    }

    /// The server stopped and started again on a new connection to the same database, with
    /// the same receiver.
    async fn restart(self, database: &Database) -> Env {
        let Env { store, home, admin, viewer, stranger, url, got, listening, settings, .. } = self;
        listening.stop();
        store.close().await;
        let port = url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap();
        Env::serve(Arc::new(database.open().await), home, [admin, viewer, stranger], url, port, got, settings).await
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Subscribes the receiver to `events`; the subscription (with its secret, which the
    /// receiver now checks with).
    async fn subscribe(&self, events: Value) -> Value {
        let body = json!({"url": self.url, "events": events, "description": "test receiver"});
        let (status, created) = self.send(Method::POST, "/api/v1/webhooks", &self.admin, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        *self.got.secret.lock() = created["secret"].as_str().unwrap().to_owned();
        created
    }

    async fn ping(&self, webhook: &Value) -> Value {
        let (status, delivery) =
            self.send(Method::POST, &format!("/api/v1/webhooks/{}/ping", webhook["id"]), &self.admin, None).await;
        assert_eq!(status, 202, "{delivery}");
        delivery
    }

    /// Waits (at most 30 s) until the delivery is no longer pending and has `attempts` attempts.
    async fn settled(&self, webhook: &Value, delivery: &Value, attempts: usize) -> Value {
        let path = format!("/api/v1/webhooks/{}/deliveries/{}", webhook["id"], delivery["id"]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, now) = self.send(Method::GET, &path, &self.viewer, None).await;
            assert_eq!(status, 200, "{now}");
            if now["state"] != "pending" && now["attempts"].as_array().unwrap().len() == attempts {
                return now;
            }
            assert!(tokio::time::Instant::now() < deadline, "not settled with {attempts} attempts: {now}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (at most 30 s) until the receiver got an event of `kind`; the first such.
    async fn received(&self, kind: &str) -> Got {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(got) = self.got.got.lock().iter().find(|g| g.event_type == kind) {
                return got.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "no {kind} received: {:?}", self.got.got.lock());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect()
}

async fn events_reach_a_signed_receiver(database: Database) {
    let env = Env::new(&database).await;
    let hook = env.subscribe(json!(["bot.*"])).await;
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"), "{hook}");
    let (_, shown) = env.send(Method::GET, &format!("/api/v1/webhooks/{}", hook["id"]), &env.viewer, None).await;
    assert!(shown.get("secret").is_none() && shown["events"] == json!(["bot.*"]), "{shown}");

    // An audited change: the bot's creation.
    let (status, _) =
        env.send(Method::POST, "/api/v1/bots", &env.admin, Some(json!({"name": "echo", "source": ECHO}))).await;
    assert_eq!(status, 201);
    let created = env.received("bot.create").await;
    assert!(created.signed, "{created:?}");
    let body = &created.body;
    assert_eq!(
        (body["type"].as_str(), body["bot"].as_str(), body["workspace"].as_i64()),
        (Some("bot.create"), Some("echo"), Some(env.home))
    );
    assert!(
        body["id"].is_i64() && body["time"].is_i64() && body["data"]["actor"].as_str().unwrap().starts_with("token:"),
        "{body}"
    );
    assert_eq!(created.event_id, body["id"].to_string());

    // A status change (as the supervisor writes it), then the same status again: one event.
    let bot = env.store.bot_named(env.home, "echo").await.unwrap().unwrap();
    let running = StoredStatus { status: "running".into(), since: 1, version: Some(1), attempts: 0, errors: vec![] };
    env.store.save_bot_status(env.home, bot.id, &running).await.unwrap();
    env.store.save_bot_status(env.home, bot.id, &running).await.unwrap();
    let started = env.received("bot.started").await;
    assert!(started.signed && started.body["data"]["status"] == "running", "{started:?}");

    // Not taken by the filter: a token's creation. Taken whatever the filter: a ping.
    let (status, _) =
        env.send(Method::POST, "/api/v1/tokens", &env.admin, Some(json!({"name": "ci", "role": "viewer"}))).await;
    assert_eq!(status, 201);
    let ping = env.ping(&hook).await;
    assert_eq!((ping["type"].as_str(), ping["state"].as_str()), (Some("webhook.ping"), Some("pending")), "{ping}");
    let ping = env.settled(&hook, &ping, 1).await;
    assert_eq!((ping["state"].as_str(), statuses(&ping)), (Some("delivered"), vec![json!(200)]), "{ping}");
    let got = env.got.got.lock().clone();
    let kinds: Vec<&str> = got.iter().map(|g| g.event_type.as_str()).collect();
    assert_eq!(kinds, ["bot.create", "bot.started", "webhook.ping"], "one event each, the token's not taken");
    assert!(got.iter().all(|g| g.signed));

    // The log lists them, newest first; the state filter works.
    let (_, log) =
        env.send(Method::GET, &format!("/api/v1/webhooks/{}/deliveries", hook["id"]), &env.viewer, None).await;
    let types: Vec<&str> = log["items"].as_array().unwrap().iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["webhook.ping", "bot.started", "bot.create"], "{log}");
    let path = format!("/api/v1/webhooks/{}/deliveries?state=failed", hook["id"]);
    assert_eq!(env.send(Method::GET, &path, &env.viewer, None).await.1["items"], json!([]));

    // A rotated secret signs what follows; the old one no longer does.
    let path = format!("/api/v1/webhooks/{}/rotate-secret", hook["id"]);
    let (status, rotated) = env.send(Method::POST, &path, &env.admin, None).await;
    assert_eq!(status, 200);
    assert_ne!(rotated["secret"], hook["secret"]);
    *env.got.secret.lock() = rotated["secret"].as_str().unwrap().to_owned();
    let again = env.settled(&hook, &env.ping(&hook).await, 1).await;
    assert_eq!(again["state"], "delivered");
    assert!(env.got.got.lock().last().unwrap().signed, "signed with the new secret");
}

async fn retries_then_delivers(database: Database) {
    let env = Env::new(&database).await;
    let hook = env.subscribe(json!(["webhook.ping"])).await;
    env.got.script.lock().extend([500, 500].map(plain));
    let delivery = env.settled(&hook, &env.ping(&hook).await, 3).await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(statuses(&delivery), [json!(500), json!(500), json!(200)]);
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["error"], "answered 500");
    assert!(attempts[2]["error"].is_null() && delivery["next_attempt_at"].is_null(), "{delivery}");
    // Backoff: a second, then two, between attempts.
    let at: Vec<i64> = attempts.iter().map(|a| a["at"].as_i64().unwrap()).collect();
    assert!(at[1] - at[0] >= 1 && at[2] - at[1] >= 2, "{at:?}");
    assert_eq!(env.got.got.lock().len(), 3);
}

/// Waits (at most 30 s) until the delivery has `attempts` attempts and is pending again, its
/// next attempt set after the last: the delivery.
async fn pending_after(env: &Env, webhook: &Value, delivery: &Value, attempts: usize) -> Value {
    let path = format!("/api/v1/webhooks/{}/deliveries/{}", webhook["id"], delivery["id"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, now) = env.send(Method::GET, &path, &env.viewer, None).await;
        let logged = now["attempts"].as_array().unwrap();
        if logged.len() == attempts
            && now["state"] == "pending"
            && now["next_attempt_at"].as_i64() > logged.last().unwrap()["at"].as_i64()
        {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "not pending after {attempts} attempts: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn retry_after_is_waited_capped(database: Database) {
    // Backoff a second, then two; the cap (max_retry) 4 s.
    let settings = Settings { max_retry: Duration::from_secs(4), ..quick() };
    let env = Env::with(&database, settings).await;
    let hook = env.subscribe(json!(["webhook.ping"])).await;
    env.got.script.lock().extend([(429, Some("3")), (503, Some("3600"))]);
    let delivery = env.ping(&hook).await;

    // After the 429: its 3 s, not the backoff's 1 (the next attempt is set just after the
    // attempt's second: 3 s later, or 4 when that second ended meanwhile).
    let first = pending_after(&env, &hook, &delivery, 1).await;
    let wait = first["next_attempt_at"].as_i64().unwrap() - first["attempts"][0]["at"].as_i64().unwrap();
    assert!((3..=4).contains(&wait), "waited {wait} s after a 429 with Retry-After: 3: {first}");
    // After the 503 asking an hour: the cap's 4 s.
    let second = pending_after(&env, &hook, &delivery, 2).await;
    let wait = second["next_attempt_at"].as_i64().unwrap() - second["attempts"][1]["at"].as_i64().unwrap();
    assert!((4..=5).contains(&wait), "waited {wait} s after a 503 with Retry-After: 3600, capped at 4: {second}");

    let done = env.settled(&hook, &delivery, 3).await;
    assert_eq!(
        (done["state"].as_str(), statuses(&done)),
        (Some("delivered"), vec![json!(429), json!(503), json!(200)])
    );
    let at: Vec<i64> = done["attempts"].as_array().unwrap().iter().map(|a| a["at"].as_i64().unwrap()).collect();
    assert!(at[1] - at[0] >= 3 && at[2] - at[1] >= 4, "attempts at {at:?}");
    let got = env.got.got.lock().clone();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|g| g.signed && g.event_id == got[0].event_id && g.event_type == "webhook.ping"));
}

async fn ended_deliveries_are_forgotten_pending_ones_kept(database: Database) {
    let settings = Settings { keep: Duration::from_secs(1), prune_every: Duration::from_millis(100), ..quick() };
    let env = Env::with(&database, settings).await;
    // A disabled subscription: its ping waits, pending, however old it gets.
    let waiting = env.subscribe(json!(["webhook.ping"])).await;
    let path = format!("/api/v1/webhooks/{}", waiting["id"]);
    assert_eq!(env.send(Method::PATCH, &path, &env.admin, Some(json!({"enabled": false}))).await.0, 200);
    let pending = env.ping(&waiting).await;
    // An enabled one: a ping that fails (410), one that is delivered.
    let hook = env.subscribe(json!(["webhook.ping"])).await;
    env.got.script.lock().extend([plain(410)]);
    let failed = env.ping(&hook).await;
    let delivered = env.ping(&hook).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.got.got.lock().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the receiver got {:?}", env.got.got.lock());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Both ended, then forgotten a second later: the log is empty, a redelivery is 404.
    let log = format!("/api/v1/webhooks/{}/deliveries", hook["id"]);
    loop {
        let (status, listed) = env.send(Method::GET, &log, &env.viewer, None).await;
        assert_eq!(status, 200);
        if listed["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not forgotten: {listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for gone in [&failed, &delivered] {
        let path = format!("/api/v1/webhooks/{}/deliveries/{}", hook["id"], gone["id"]);
        assert_eq!(env.send(Method::GET, &path, &env.viewer, None).await.0, 404);
        assert_eq!(env.send(Method::POST, &format!("{path}/redeliver"), &env.admin, None).await.0, 404);
    }
    // The older pending delivery is still there, and is sent once its subscription is enabled.
    let path = format!("/api/v1/webhooks/{}/deliveries/{}", waiting["id"], pending["id"]);
    let (status, still) = env.send(Method::GET, &path, &env.viewer, None).await;
    assert_eq!((status, still["state"].as_str()), (200, Some("pending")), "{still}");
    let hook_path = format!("/api/v1/webhooks/{}", waiting["id"]);
    assert_eq!(env.send(Method::PATCH, &hook_path, &env.admin, Some(json!({"enabled": true}))).await.0, 200);
    *env.got.secret.lock() = waiting["secret"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.got.got.lock().len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the pending ping never came: {:?}", env.got.got.lock());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = env.got.got.lock().clone();
    assert!(got[2].signed, "{got:?}");
    assert_eq!(got[2].event_id, got[2].body["id"].to_string(), "{got:?}");
}

async fn final_answers_and_redelivery(database: Database) {
    let env = Env::new(&database).await;
    let hook = env.subscribe(json!(["webhook.ping"])).await;
    env.got.script.lock().extend([plain(410)]);
    let gone = env.settled(&hook, &env.ping(&hook).await, 1).await;
    assert_eq!((gone["state"].as_str(), statuses(&gone)), (Some("failed"), vec![json!(410)]), "{gone}");
    env.got.script.lock().extend([plain(400)]);
    let refused = env.settled(&hook, &env.ping(&hook).await, 1).await;
    assert_eq!((refused["state"].as_str(), statuses(&refused)), (Some("failed"), vec![json!(400)]), "{refused}");

    // Redelivery: a new delivery of the same event, delivered this time.
    let path = format!("/api/v1/webhooks/{}/deliveries/{}/redeliver", hook["id"], gone["id"]);
    let (status, again) = env.send(Method::POST, &path, &env.admin, None).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!((again["redelivery_of"].clone(), again["event"].clone()), (gone["id"].clone(), gone["event"].clone()));
    let again = env.settled(&hook, &again, 1).await;
    assert_eq!(again["state"], "delivered", "{again}");
    let pings: Vec<Got> = env.got.got.lock().iter().filter(|g| g.event_type == "webhook.ping").cloned().collect();
    assert_eq!(pings.len(), 3);
    assert_eq!(pings[2].event_id, pings[0].event_id, "the same event id: the receiver's deduplication key");
    assert_eq!(pings[2].body, pings[0].body, "the same body");
    // A viewer may read but not redeliver; an unknown delivery is 404.
    assert_eq!(env.send(Method::POST, &path, &env.viewer, None).await.0, 403);
    let unknown = format!("/api/v1/webhooks/{}/deliveries/999999/redeliver", hook["id"]);
    assert_eq!(env.send(Method::POST, &unknown, &env.admin, None).await.0, 404);
}

async fn other_workspaces_get_404(database: Database) {
    let env = Env::new(&database).await;
    let hook = env.subscribe(json!(["webhook.ping"])).await;
    let delivery = env.settled(&hook, &env.ping(&hook).await, 1).await;
    let (id, d) = (hook["id"].clone(), delivery["id"].clone());
    let change = Some(json!({"enabled": false}));
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/webhooks/{id}"), None),
        (Method::PATCH, format!("/api/v1/webhooks/{id}"), change),
        (Method::DELETE, format!("/api/v1/webhooks/{id}"), None),
        (Method::POST, format!("/api/v1/webhooks/{id}/rotate-secret"), None),
        (Method::POST, format!("/api/v1/webhooks/{id}/ping"), None),
        (Method::GET, format!("/api/v1/webhooks/{id}/deliveries"), None),
        (Method::GET, format!("/api/v1/webhooks/{id}/deliveries/{d}"), None),
        (Method::POST, format!("/api/v1/webhooks/{id}/deliveries/{d}/redeliver"), None),
    ] {
        let (status, problem) = env.send(method.clone(), &path, &env.stranger, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
    }
    assert_eq!(env.send(Method::GET, "/api/v1/webhooks", &env.stranger, None).await.1["items"], json!([]));
    // Home's subscription is untouched: enabled, one delivery, the same secret signing.
    let (_, still) = env.send(Method::GET, &format!("/api/v1/webhooks/{id}"), &env.admin, None).await;
    assert_eq!(still["enabled"], true);
    let (_, log) = env.send(Method::GET, &format!("/api/v1/webhooks/{id}/deliveries"), &env.admin, None).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    // A viewer reads, never changes.
    assert_eq!(env.send(Method::GET, "/api/v1/webhooks", &env.viewer, None).await.0, 200);
    let body = Some(json!({"url": env.url}));
    assert_eq!(env.send(Method::POST, "/api/v1/webhooks", &env.viewer, body).await.0, 403);
    assert_eq!(env.send(Method::DELETE, &format!("/api/v1/webhooks/{id}"), &env.viewer, None).await.0, 403);
}

async fn a_pending_delivery_survives_a_restart(database: Database) {
    let env = Env::new(&database).await;
    let hook = env.subscribe(json!(["webhook.ping"])).await;
    env.got.script.lock().extend([plain(503)]);
    let delivery = env.ping(&hook).await;
    // Wait for the first attempt (503: pending, retried in a second), then stop the server.
    let path = format!("/api/v1/webhooks/{}/deliveries/{}", hook["id"], delivery["id"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.send(Method::GET, &path, &env.viewer, None).await.1["attempts"].as_array().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no first attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env = env.restart(&database).await;
    let delivered = env.settled(&hook, &delivery, 2).await;
    assert_eq!((delivered["state"].as_str(), statuses(&delivered)), (Some("delivered"), vec![json!(503), json!(200)]));
}

async fn bad_subscriptions_change_nothing(database: Database) {
    let env = Env::new(&database).await;
    let port: u16 = env.url.split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap();
    for (body, pointer) in [
        (json!({"url": "http://example.com/hook"}), "/url"),
        (json!({"url": format!("http://127.0.0.1:{}/hook", port.wrapping_add(1).max(1))}), "/url"),
        (json!({"url": "https://10.1.2.3/hook"}), "/url"),
        (json!({"url": "ftp://example.com/"}), "/url"),
        (json!({"url": "not a url"}), "/url"),
        (json!({"url": env.url, "events": ["Bot Publish"]}), "/events/0"),
        (json!({"url": env.url, "bots": [""]}), "/bots/0"),
    ] {
        let (status, problem) = env.send(Method::POST, "/api/v1/webhooks", &env.admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{body}: {problem}");
    }
    let (status, _) =
        env.send(Method::POST, "/api/v1/webhooks", &env.admin, Some(json!({"url": env.url, "extra": 1}))).await;
    assert_eq!(status, 422);
    let hook = env.subscribe(json!([])).await;
    let path = format!("/api/v1/webhooks/{}", hook["id"]);
    let (status, _) = env.send(Method::PATCH, &path, &env.admin, Some(json!({"url": "http://example.com/"}))).await;
    assert_eq!(status, 422);
    let (_, listed) = env.send(Method::GET, "/api/v1/webhooks", &env.admin, None).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["url"].as_str()), (1, Some(env.url.as_str())), "{listed}");
    assert!(env.store.secrets(env.home).await.unwrap().iter().all(|s| s.name == format!("webhook.{}", hook["id"])));
    // Deleted: its secret goes with it.
    assert_eq!(env.send(Method::DELETE, &path, &env.admin, None).await.0, 204);
    assert_eq!(env.send(Method::GET, &path, &env.admin, None).await.0, 404);
    assert!(env.store.secrets(env.home).await.unwrap().is_empty());
}

/// A database of its own on the local PostgreSQL, or `None` (said loudly) when unreachable
/// unless `FERROGRAM_REQUIRE_POSTGRES=1`; dropped with [`drop_postgres`].
async fn postgres() -> Option<(Database, String)> {
    use sqlx::Connection;
    let admin_url = std::env::var("FERROGRAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let connect = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&admin_url));
    let mut admin = match connect.await {
        Ok(Ok(admin)) => admin,
        _ => {
            if std::env::var("FERROGRAM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required but unreachable: {admin_url}");
            }
            eprintln!("SKIPPED postgres: {admin_url} unreachable");
            return None;
        }
    };
    let name = format!("ferrogram_hooks_{}_{:016x}", std::process::id(), fastrand::u64(..));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    Some((Database { url, key: SecretKey::generate().unwrap() }, name))
}

async fn drop_postgres(name: &str) {
    use sqlx::Connection;
    let admin_url = std::env::var("FERROGRAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connect to drop");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.expect("DROP DATABASE");
}

/// A SQLite file in the temporary directory, removed (with `-wal`, `-shm`) when dropped.
struct SqliteFile(std::path::PathBuf);

impl SqliteFile {
    fn new() -> (Database, SqliteFile) {
        let path =
            std::env::temp_dir().join(format!("ferrogram-hooks-{}-{:016x}.db", std::process::id(), fastrand::u64(..)));
        let database = Database { url: format!("sqlite://{}", path.display()), key: SecretKey::generate().unwrap() };
        (database, SqliteFile(path))
    }
}

impl Drop for SqliteFile {
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
                let (database, _file) = super::SqliteFile::new();
                super::$scenario(database).await
            })*
        }
        mod postgres_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                if let Some((database, name)) = super::postgres().await {
                    super::$scenario(database).await;
                    super::drop_postgres(&name).await;
                }
            })*
        }
    };
}

on_both!(
    events_reach_a_signed_receiver,
    retries_then_delivers,
    retry_after_is_waited_capped,
    ended_deliveries_are_forgotten_pending_ones_kept,
    final_answers_and_redelivery,
    other_workspaces_get_404,
    a_pending_delivery_survives_a_restart,
    bad_subscriptions_change_nothing,
);
