//! Webhook mode: the sandbox POSTs updates to a server that hands them to
//! [`ferrogram_engine::Engine::webhook_update`], which answers only once the update is stored.

mod common;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use common::{Bot, World, test_config};
use ferrogram_engine::{EngineConfig, MemoryStore, Receive, StateStore};
use serde_json::json;

const ECHO: &str = r#"
ferrogram: 1
bot: {name: hooked}
on:
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#;
const SECRET: &str = "s3cret-token_1";

/// What a server in front of the engine does with a webhook request.
async fn hook(
    State(world): State<Arc<World>>,
    Path(bot_id): Path<u64>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let secret = headers.get("x-telegram-bot-api-secret-token").and_then(|v| v.to_str().ok());
    match world.engine.webhook_update(bot_id, secret, &body).await {
        Ok(()) => StatusCode::OK,
        Err(error) => StatusCode::from_u16(error.status()).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_arrive_by_webhook_are_stored_then_answered() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    let world = Arc::new(world);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook/{bot_id}", axum::routing::post(hook)).with_state(Arc::clone(&world));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let receive = Receive::Webhook { url: format!("{base}/hook/{bot_id}"), secret: SECRET.into() };
    let handle = world.engine.add_bot_with(file, &token, &world.url(), receive).await.expect("bot starts");
    let bot = Bot { handle, id: bot_id };

    // The engine registers the webhook itself; the sandbox then delivers with the secret.
    world.act(bot, "text", ann, json!({"text": "one"})).await;
    world.act(bot, "text", ann, json!({"text": "two"})).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 2).await.0, ["You said: one", "You said: two"]);
    world.wait_handled(bot, 2).await;
    let info = world.get(&format!("/bot{token}/getWebhookInfo")).await;
    assert_eq!(info["result"]["url"], json!(format!("{base}/hook/{bot_id}")));
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty(), "both stored and handled");

    let http = reqwest::Client::new();
    let post = |secret: Option<&'static str>, path: String, body: &'static str| {
        let mut request = http.post(format!("{base}{path}")).body(body);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let update = r#"{"update_id": 999999, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}}"#;
    assert_eq!(post(Some("wrong"), format!("/hook/{bot_id}"), update).await, 401, "a wrong secret is refused");
    assert_eq!(post(None, format!("/hook/{bot_id}"), update).await, 401, "so is a missing one");
    assert_eq!(post(Some(SECRET), "/hook/1".into(), update).await, 404, "no such bot here");
    assert_eq!(post(Some(SECRET), format!("/hook/{bot_id}"), "not json").await, 400, "not JSON");
    assert_eq!(post(Some(SECRET), format!("/hook/{bot_id}"), r#"{"update_id": "7"}"#).await, 400, "not an update");
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty(), "refused bodies store nothing");
    assert_eq!(*world.engine.handled(bot.handle).unwrap().borrow(), 2, "nor are they handled");
    world.engine.stop(bot.handle).await.unwrap();
    assert_eq!(post(Some(SECRET), format!("/hook/{bot_id}"), update).await, 404, "a stopped bot takes nothing");
}

/// By webhook too, an update id reused with other content (the ids restarted) is handled, a true
/// redelivery is not, and one whose id an unhandled update holds is answered 503 (Telegram
/// delivers it again) without being stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_update_id_is_handled_by_webhook_and_a_busy_one_retried() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    // Telegram is played by the test: the sandbox's deliveries to the webhook (a closed local
    // port) fail and are left to it.
    let receive = Receive::Webhook { url: "http://127.0.0.1:9/hook".into(), secret: SECRET.into() };
    let handle = world.engine.add_bot_with(file, &token, &world.url(), receive).await.expect("bot starts");
    let bot = Bot { handle, id: bot_id };
    // Ann opens her chat with the bot (the sandbox queues that update for the webhook).
    world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "hi"})).await;

    let update = |update_id: i64, text: &str| {
        let chat = json!({"id": ann, "type": "private", "first_name": "Ann"});
        let from = json!({"id": ann, "is_bot": false, "first_name": "Ann"});
        json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1, "chat": chat, "from": from, "text": text}})
            .to_string()
    };
    let post = |body: String| {
        let engine = &world.engine;
        async move { engine.webhook_update(bot_id, Some(SECRET), body.as_bytes()).await.map_err(|e| e.status()) }
    };
    let ready = tokio::time::Instant::now() + common::WAIT;
    while post(update(500, "one")).await == Err(503) {
        assert!(tokio::time::Instant::now() < ready, "the bot did not become ready");
        tokio::task::yield_now().await;
    }
    world.wait_handled(bot, 1).await;
    assert_eq!(post(update(500, "one")).await, Ok(()), "a redelivery is answered 200");
    assert_eq!(post(update(500, "restarted")).await, Ok(()), "the same id, other content: a new update");
    world.wait_handled(bot, 2).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 2).await.0, ["You said: one", "You said: restarted"]);

    assert!(store.inbox_put(bot_id, 600, update(600, "crashed")).await.unwrap().is_stored());
    assert_eq!(post(update(600, "other")).await, Err(503), "an unhandled update holds the id");
    let held = store.inbox_unhandled(bot_id, 10).await.unwrap();
    assert_eq!((held.len(), held[0].raw.contains("crashed")), (1, true), "the unhandled one is kept");
    assert_eq!(*world.engine.handled(bot.handle).unwrap().borrow(), 2, "nothing more handled");
    world.engine.stop(bot.handle).await.unwrap();
}

/// A bot that counts the messages of each chat in a chat variable: its state must survive the
/// runtime being dropped and built again.
const COUNTER: &str = r##"
ferrogram: 1
bot: {name: counter}
variables:
  user:
    count: {type: number, default: 0}
on:
  - text: any
    do:
      - set: {user.count: "{{ user.count + 1 }}"}
      - reply: "#{{ user.count }}: {{ message.text }}"
"##;

/// Serves the engine's webhook route on a local port; its base URL.
async fn serve_hooks(world: &Arc<World>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook/{bot_id}", axum::routing::post(hook)).with_state(Arc::clone(world));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Waits (up to [`common::WAIT`]) until the bot is asleep or awake as asked.
async fn wait_awake(world: &World, bot: Bot, awake: bool) {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while world.engine.is_awake(bot.handle).unwrap() != awake {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot never became {}",
            if awake { "awake" } else { "asleep" }
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// With `idle_after` set, a webhook bot starts with nothing built but its route (its webhook is
/// still set), is woken by an update, answers it, falls asleep again once idle, and keeps its
/// chats' state, its handled count and a reload made while asleep across runtimes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_webhook_bot_sleeps_and_its_next_update_wakes_it() {
    let store = Arc::new(MemoryStore::new());
    let config =
        EngineConfig { store: store.clone(), idle_after: Some(std::time::Duration::from_millis(200)), ..test_config() };
    let mut world = World::start(config).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    let world = Arc::new(world);
    let base = serve_hooks(&world).await;
    let file = ferrogram_schema::load_str(COUNTER, "counter.yaml").expect("valid bot file");
    let receive = Receive::Webhook { url: format!("{base}/hook/{bot_id}"), secret: SECRET.into() };
    let handle = world.engine.add_bot_with(file, &token, &world.url(), receive).await.expect("bot starts");
    let bot = Bot { handle, id: bot_id };
    assert!(!world.engine.is_awake(handle).unwrap(), "nothing left to do: it starts asleep");
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while world.get(&format!("/bot{token}/getWebhookInfo")).await["result"]["url"]
        != json!(format!("{base}/hook/{bot_id}"))
    {
        assert!(tokio::time::Instant::now() < deadline, "an asleep bot's webhook is set too");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    world.act(bot, "text", ann, json!({"text": "one"})).await;
    let (sent, after) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["#1: one"], "woken by the update, which it answers");
    wait_awake(&world, bot, false).await;

    world.act(bot, "text", ann, json!({"text": "two"})).await;
    let (sent, after) = world.wait_sent(bot, ann, after, 1).await;
    assert_eq!(sent, ["#2: two"], "the user's variable outlived the dropped runtime");
    world.wait_handled(bot, 2).await;
    wait_awake(&world, bot, false).await;

    let v2 = ferrogram_schema::load_str(&COUNTER.replace("\"#{{", "\"v2 #{{"), "counter.yaml").unwrap();
    world.engine.reload(bot.handle, v2).await.expect("reloads while asleep");
    assert!(!world.engine.is_awake(handle).unwrap(), "a reload without jobs does not wake it");
    world.act(bot, "text", ann, json!({"text": "three"})).await;
    assert_eq!(world.wait_sent(bot, ann, after, 1).await.0, ["v2 #3: three"], "it wakes with the new file");
    world.wait_handled(bot, 3).await;
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty(), "every update handled");

    wait_awake(&world, bot, false).await;
    world.engine.stop(bot.handle).await.unwrap();
    let update = r#"{"update_id": 999999, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}}"#;
    let refused = world.engine.webhook_update(bot_id, Some(SECRET), update.as_bytes()).await.unwrap_err();
    assert_eq!(refused.status(), 404, "a bot stopped asleep takes nothing");
}

/// A bot that may sleep but whose last run left an update unhandled starts awake and handles
/// it, as any starting bot replays its inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_may_sleep_starts_awake_when_its_inbox_holds_work() {
    let store = Arc::new(MemoryStore::new());
    let config =
        EngineConfig { store: store.clone(), idle_after: Some(std::time::Duration::from_secs(3600)), ..test_config() };
    let mut world = World::start(config).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    // Ann opens her chat with the bot (that update goes to a webhook nobody serves).
    world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "hi"})).await;
    let chat = json!({"id": ann, "type": "private", "first_name": "Ann"});
    let from = json!({"id": ann, "is_bot": false, "first_name": "Ann"});
    let left = json!({"update_id": 41, "message": {"message_id": 1, "date": 1, "chat": chat, "from": from, "text": "before the crash"}});
    assert!(store.inbox_put(bot_id, 41, left.to_string()).await.unwrap().is_stored());

    let file = ferrogram_schema::load_str(COUNTER, "counter.yaml").expect("valid bot file");
    let receive = Receive::Webhook { url: "http://127.0.0.1:9/hook".into(), secret: SECRET.into() };
    let handle = world.engine.add_bot_with(file, &token, &world.url(), receive).await.expect("bot starts");
    let bot = Bot { handle, id: bot_id };
    assert!(world.engine.is_awake(handle).unwrap(), "work in the inbox: it starts awake");
    world.wait_handled(bot, 1).await;
    assert_eq!(world.wait_sent(bot, ann, 0, 1).await.0, ["#1: before the crash"]);
    world.engine.stop(bot.handle).await.unwrap();
}
