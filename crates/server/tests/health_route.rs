//! `/healthz` and `/readyz` over real HTTP: liveness on every listener; readiness under a store
//! and a stand-in supervisor whose bots' statuses the test sets — a bot still starting, or
//! failing without a known reason, or a database that stopped answering, makes it 503 and the
//! body names the check.

use std::sync::Arc;

use ferrogram_engine::{BoxFuture, Engine, EngineConfig};
use ferrogram_server::bots::{Api, BotControl, BotError, BotStatus, ControlError, Status};
use ferrogram_store::Store;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// The supervisor's bots, as the test sets them; every bot is in every workspace asked.
#[derive(Default)]
struct Stand(Mutex<Vec<BotStatus>>);

impl Stand {
    fn set(&self, bots: &[(&str, Status, bool)]) {
        *self.0.lock() = bots
            .iter()
            .map(|(name, status, with_error)| BotStatus {
                name: (*name).into(),
                status: *status,
                since: 1,
                version: Some(1),
                errors: if *with_error { vec![BotError { at: 1, message: "getMe: 401".into() }] } else { vec![] },
                attempts: 0,
                asleep: false,
            })
            .collect();
    }
}

impl BotControl for Stand {
    fn list(&self, _workspace: i64) -> BoxFuture<'_, Vec<BotStatus>> {
        Box::pin(async move { self.0.lock().clone() })
    }
    fn status<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { Err(ControlError::UnknownBot) })
    }
    fn start<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { Err(ControlError::UnknownBot) })
    }
    fn stop<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { Err(ControlError::UnknownBot) })
    }
    fn reload<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { Err(ControlError::UnknownBot) })
    }
}

async fn get(http: &reqwest::Client, url: String) -> (u16, Value) {
    let response = http.get(url).send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn liveness_everywhere_readiness_names_the_failed_check() {
    // A listener without store and supervisor (`run --webhook-url`): liveness only.
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    // After the engine, which installs the process's TLS crypto provider.
    let http = reqwest::Client::new();
    let bare = ferrogram_server::listen("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine)).await.unwrap();
    let base = format!("http://{}", bare.addr());
    assert_eq!(get(&http, format!("{base}/healthz")).await, (200, json!({"status": "ok"})));
    assert_eq!(get(&http, format!("{base}/readyz")).await.0, 404);
    bare.stop();

    let store = Arc::new(Store::open("sqlite::memory:").await.expect("store"));
    store.create_workspace("default").await.unwrap();
    let stand = Arc::new(Stand::default());
    let api =
        Api { store: Arc::clone(&store), bots: Arc::clone(&stand) as Arc<dyn BotControl>, hooks: Default::default() };
    let listening = ferrogram_server::listen_with("127.0.0.1:0".parse().unwrap(), engine, Some(api)).await.unwrap();
    let base = format!("http://{}", listening.addr());
    assert_eq!(get(&http, format!("{base}/healthz")).await, (200, json!({"status": "ok"})));

    // Running, stopped by an operator, and failing or unauthorized with a reason: ready.
    stand.set(&[
        ("a", Status::Running, false),
        ("b", Status::Stopped, false),
        ("c", Status::Failing, true),
        ("d", Status::Unauthorized, true),
    ]);
    let (code, body) = get(&http, format!("{base}/readyz")).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["migrations"]["ok"], true);
    assert_eq!(body["checks"]["bots"], json!({"ok": true, "count": 4}));

    // A bot still starting, and one failing with no known reason: not ready, named.
    stand.set(&[("a", Status::Running, false), ("slow", Status::Starting, false), ("odd", Status::Failing, false)]);
    let (code, body) = get(&http, format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(body["checks"]["database"]["ok"], true, "{body}");
    assert_eq!(body["checks"]["bots"]["starting"], json!(["slow"]));
    assert_eq!(body["checks"]["bots"]["unexplained"], json!(["odd"]));

    // The database stops answering: not ready, the database check says why.
    stand.set(&[("a", Status::Running, false)]);
    assert_eq!(get(&http, format!("{base}/readyz")).await.0, 200);
    store.close().await;
    let (code, body) = get(&http, format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["checks"]["database"]["ok"], false, "{body}");
    assert!(body["checks"]["database"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert_eq!(get(&http, format!("{base}/healthz")).await.0, 200, "liveness does not depend on the database");
    listening.stop();
}
