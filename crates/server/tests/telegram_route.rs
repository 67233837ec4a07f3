//! The listener's Telegram route over real HTTP: a bot run by the engine receives by webhook
//! from the sandbox at `/telegram/{bot_id}` and answers; then each answer of the route, with
//! the store checked behind it: 200 only once the update is stored, 401 for a wrong or missing
//! secret, 400 for a body that is not an update (nothing stored), 404 for a bot not here, 413
//! for a body over the limit, 500 when the store fails.
//!
//! Every wait has a deadline; nothing sleeps a fixed time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ferrogram_engine::{
    BoxFuture, ChatState, Commit, Engine, EngineConfig, MemoryStore, PendingSend, Receive, Received, Scope, StateStore,
    StoreError, StoredDeadLetter, StoredUpdate,
};
use ferrogram_server::webhook::{MAX_UPDATE_BYTES, SECRET_HEADER, path};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);
const SECRET: &str = "s3cret-token_1";
const ECHO: &str = r#"
ferrogram: 1
bot: {name: hooked}
on:
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#;

/// The memory store, whose `inbox_put` fails while `failing` is set (a database gone away).
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    failing: AtomicBool,
}

impl StateStore for Flaky {
    fn load_chat(&self, bot: u64, chat: i64) -> BoxFuture<'_, Result<Option<ChatState>, StoreError>> {
        self.inner.load_chat(bot, chat)
    }
    fn save_chat(&self, bot: u64, chat: i64, state: ChatState) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.save_chat(bot, chat, state)
    }
    fn load_vars(&self, bot: u64, scope: Scope) -> BoxFuture<'_, Result<Map<String, Value>, StoreError>> {
        self.inner.load_vars(bot, scope)
    }
    fn set_var(
        &self,
        bot: u64,
        scope: Scope,
        name: String,
        value: Option<Value>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.set_var(bot, scope, name, value)
    }
    fn inbox_put(&self, bot: u64, update_id: i64, raw: String) -> BoxFuture<'_, Result<Received, StoreError>> {
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(async { Err(StoreError("the database is gone".into())) });
        }
        self.inner.inbox_put(bot, update_id, raw)
    }
    fn inbox_put_batch(
        &self,
        bot: u64,
        updates: Vec<(i64, String)>,
    ) -> BoxFuture<'_, Result<Vec<Received>, StoreError>> {
        self.inner.inbox_put_batch(bot, updates)
    }
    fn inbox_unhandled(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredUpdate>, StoreError>> {
        self.inner.inbox_unhandled(bot, limit)
    }
    fn inbox_count_attempts(&self, bot: u64, update_ids: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.inbox_count_attempts(bot, update_ids)
    }
    fn inbox_mark_handled(&self, bot: u64, update_id: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.inbox_mark_handled(bot, update_id)
    }
    fn inbox_prune(&self, bot: u64, handled_before: u64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.inbox_prune(bot, handled_before)
    }
    fn dead_letters(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<StoredDeadLetter>, StoreError>> {
        self.inner.dead_letters(bot, limit)
    }
    fn load_next_run(&self, bot: u64, job: &str) -> BoxFuture<'_, Result<Option<u64>, StoreError>> {
        self.inner.load_next_run(bot, job)
    }
    fn save_next_run(&self, bot: u64, job: &str, at: Option<u64>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.save_next_run(bot, job, at)
    }
    fn claim_next_run(
        &self,
        bot: u64,
        job: &str,
        expected: Option<u64>,
        next: Option<u64>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.claim_next_run(bot, job, expected, next)
    }
    fn commit<'a>(&'a self, batch: &'a [Commit]) -> BoxFuture<'a, Result<Vec<Vec<i64>>, StoreError>> {
        self.inner.commit(batch)
    }
    fn outbox_pending(&self, bot: u64, limit: u32) -> BoxFuture<'_, Result<Vec<PendingSend>, StoreError>> {
        self.inner.outbox_pending(bot, limit)
    }
    fn bots_with_work(&self) -> BoxFuture<'_, Result<Vec<u64>, StoreError>> {
        self.inner.bots_with_work()
    }
}

/// A JSON call to the sandbox's control API.
async fn control(http: &reqwest::Client, sandbox: &str, path: &str, body: Option<Value>) -> Value {
    let request = match body {
        Some(body) => http.post(format!("{sandbox}{path}")).json(&body),
        None => http.get(format!("{sandbox}{path}")),
    };
    let response = request.send().await.expect("the sandbox answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("JSON")
}

/// An update as Telegram sends it: a text message from `user` in their private chat.
fn update(update_id: i64, user: i64, text: &str) -> String {
    let chat = json!({"id": user, "type": "private", "first_name": "Ann"});
    let from = json!({"id": user, "is_bot": false, "first_name": "Ann"});
    json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1, "chat": chat, "from": from, "text": text}})
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_telegram_route_stores_before_it_answers_and_refuses_what_is_not_an_update() {
    let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
    let store = Arc::new(Flaky::default());
    let engine = Arc::new(Engine::new(EngineConfig { store: store.clone(), ..EngineConfig::default() }));
    let listening = ferrogram_server::listen("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine)).await.unwrap();
    let base = format!("http://{}", listening.addr());
    let http = reqwest::Client::new();

    let bot_id = 4242u64;
    let token = format!("{bot_id}:secret");
    control(&http, &sandbox.url(), "/sandbox/bots", Some(json!({"token": token}))).await;
    let ann = control(&http, &sandbox.url(), "/sandbox/users", Some(json!({"first_name": "Ann"}))).await["id"]
        .as_i64()
        .expect("user id");
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let url = format!("{base}{}", path(bot_id));
    let receive = Receive::Webhook { url: url.clone(), secret: SECRET.into() };
    let handle = engine.add_bot_with(file, &token, &sandbox.url(), receive).await.expect("bot starts");

    // The engine sets the webhook once the bot caught up; the sandbox then pushes Ann's
    // message to the listener, and the bot answers.
    let deadline = Instant::now() + WAIT;
    loop {
        let info = control(&http, &sandbox.url(), &format!("/bot{token}/getWebhookInfo"), None).await;
        if info["result"]["url"] == json!(url) {
            break;
        }
        assert!(Instant::now() < deadline, "the webhook was not set: {info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    control(&http, &sandbox.url(), "/sandbox/act/text", Some(json!({"bot_id": bot_id, "user_id": ann, "text": "one"})))
        .await;
    let mut after = 0;
    let reply = loop {
        let events = control(
            &http,
            &sandbox.url(),
            &format!("/sandbox/events?bot_id={bot_id}&chat_id={ann}&after={after}&timeout=5"),
            None,
        )
        .await;
        after = events["last"].as_u64().unwrap_or(after);
        let sent = events["events"].as_array().into_iter().flatten().find(|event| event["kind"] == "sent");
        if let Some(sent) = sent {
            break sent["message"]["text"].clone();
        }
        assert!(Instant::now() < deadline, "the bot did not answer by webhook");
    };
    assert_eq!(reply, "You said: one");
    let mut handled = engine.handled(handle).expect("bot runs");
    tokio::time::timeout(WAIT, handled.wait_for(|n| *n >= 1)).await.expect("handled in time").expect("bot runs");

    let post = |url: String, secret: Option<&'static str>, body: Vec<u8>| {
        let mut request = http.post(url).body(body);
        if let Some(secret) = secret {
            request = request.header(SECRET_HEADER, secret);
        }
        async move { request.send().await.expect("the listener answers").status().as_u16() }
    };

    // 200 only once stored: the answer comes after the inbox holds the update (the same
    // update stored again is a redelivery), and the bot then handles it.
    assert_eq!(post(url.clone(), Some(SECRET), update(900, ann, "two").into_bytes()).await, 200);
    let again = store.inner.inbox_put(bot_id, 900, update(900, ann, "two")).await.expect("stored");
    assert!(matches!(again, Received::Redelivered | Received::Busy), "stored before the 200: {again:?}");
    tokio::time::timeout(WAIT, handled.wait_for(|n| *n >= 2)).await.expect("handled in time").expect("bot runs");

    // 401: a wrong or missing secret; nothing is read or stored.
    assert_eq!(post(url.clone(), Some("wrong"), update(901, ann, "x").into_bytes()).await, 401);
    assert_eq!(post(url.clone(), None, update(901, ann, "x").into_bytes()).await, 401);
    let same_length = "s3cret-token_2";
    assert_eq!(same_length.len(), SECRET.len());
    assert_eq!(post(url.clone(), Some(same_length), update(901, ann, "x").into_bytes()).await, 401);

    // 400: not JSON, or JSON that is not an update; nothing stored, nothing handled.
    for body in ["not json", "{\"update_id\": \"7\"}", "[1, 2]", "{\"message\": {}}"] {
        assert_eq!(post(url.clone(), Some(SECRET), body.into()).await, 400, "{body}");
    }
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty(), "refused bodies store nothing");
    let fresh = store.inner.inbox_put(bot_id, 901, update(901, ann, "x")).await.expect("stored");
    assert_eq!(fresh, Received::New, "401 stored nothing under 901");
    assert!(store.inner.inbox_mark_handled(bot_id, 901).await.unwrap());
    assert_eq!(*handled.borrow(), 2, "nothing refused was handled");

    // 404: no such bot here, or an id that is not a number.
    assert_eq!(post(format!("{base}{}", path(1)), Some(SECRET), update(902, ann, "x").into_bytes()).await, 404);
    assert_eq!(post(format!("{base}/telegram/hooked"), Some(SECRET), update(902, ann, "x").into_bytes()).await, 404);

    // 413: a body over the limit is refused before it is read, secret or not.
    let big = vec![b' '; MAX_UPDATE_BYTES + 1];
    assert_eq!(post(url.clone(), Some(SECRET), big.clone()).await, 413);
    assert_eq!(post(url.clone(), None, big).await, 413);

    // 500: the store failed; the update is not taken, and Telegram's next delivery is.
    store.failing.store(true, Ordering::SeqCst);
    assert_eq!(post(url.clone(), Some(SECRET), update(903, ann, "three").into_bytes()).await, 500);
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(*handled.borrow(), 2, "a failed store handles nothing");
    assert_eq!(post(url.clone(), Some(SECRET), update(903, ann, "three").into_bytes()).await, 200);
    tokio::time::timeout(WAIT, handled.wait_for(|n| *n >= 3)).await.expect("handled in time").expect("bot runs");

    // A stopped bot takes nothing.
    engine.stop(handle).await.unwrap();
    assert_eq!(post(url.clone(), Some(SECRET), update(904, ann, "x").into_bytes()).await, 404);
    listening.stop();
    sandbox.stop().await.unwrap();
}

/// A second listener on an address in use fails at once, naming the address.
#[tokio::test]
async fn an_address_in_use_is_an_error_naming_it() {
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let first = ferrogram_server::listen("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine)).await.unwrap();
    let Err(error) = ferrogram_server::listen(first.addr(), engine).await else { panic!("bound twice") };
    assert!(error.starts_with(&format!("cannot listen on {}: ", first.addr())), "{error}");
    first.stop();
}
