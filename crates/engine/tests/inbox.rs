//! The inbox across a restart: what a crashed run left unhandled is replayed before polling,
//! and what it had already stored is not handled again when Telegram delivers it again.

mod common;

use std::sync::Arc;

use common::{World, test_config};
use engine::{Commit, EngineConfig, MemoryStore, Outgoing, Scope, StateStore};
use serde_json::json;

const ECHO: &str = r#"
ferrogram: 1
bot:
  name: echo
on:
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_runs_updates_are_replayed_once_and_redeliveries_dropped() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;

    // What the crashed run left: "one" stored but not handled, "two" handled; neither was
    // confirmed to the sandbox, which delivers both again. And an update of a kind nobody knows.
    for (text, handled) in [("one", false), ("two", true)] {
        let sent = world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": text})).await;
        let update_id = sent["update_id"].as_i64().expect("update id");
        let raw = json!({"update_id": update_id, "message": sent["message"]}).to_string();
        assert!(store.inbox_put(bot_id, update_id, raw).await.unwrap());
        if handled {
            assert!(store.inbox_mark_handled(bot_id, update_id).await.unwrap());
        }
    }
    // Update ids only grow (Telegram's guarantee, which the inbox relies on): the unknown one
    // comes before the sandbox's first.
    let unknown = json!({"update_id": 0, "holographic_call": {"id": "x"}}).to_string();
    assert!(store.inbox_put(bot_id, 0, unknown).await.unwrap());

    let file = schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = world.run_bot(file, bot_id, &token).await;
    world.act(bot, "text", ann, json!({"text": "three"})).await;
    // One chat's replies come in order: a second "one" or a "two" would precede "three".
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["You said: one", "You said: three"]);
    world.wait_handled(bot, 2).await;
    assert_eq!(*world.engine.handled(bot.handle).unwrap().borrow(), 2, "the unknown update is not dispatched");
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty(), "everything is marked handled");
    world.engine.stop(bot.handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_a_crash_left_in_the_outbox_are_delivered_first_at_start() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    // What the crashed run committed but had not delivered: a reply to Ann.
    let reply = |text: &str| Outgoing {
        chat_id: ann,
        method: "sendMessage".into(),
        params: json!({"chat_id": ann, "text": text}),
        bulk: false,
    };
    let committed = Commit { bot: bot_id, outbox: vec![reply("left over")], ..Commit::default() };
    let ids = store.commit(&[committed]).await.unwrap();
    let left_over = ids[0][0];

    // Ann wrote meanwhile (which also opens her chat with the bot): the update waits in the
    // sandbox until the bot polls, which it does only after delivering its outbox.
    world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "new"})).await;
    let file = schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = world.run_bot(file, bot_id, &token).await;
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["left over", "You said: new"], "the outbox goes first, in order");
    world.wait_handled(bot, 1).await;
    let pending = store.outbox_pending(bot_id, 10).await.unwrap();
    assert!(pending.iter().all(|p| p.id != left_over), "a delivered call is forgotten: {pending:?}");
    world.engine.stop(bot.handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handler_changes_nothing_and_sends_only_the_error_reply() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: counter}
variables:
  user:
    count: {type: number, default: 0}
errors: {reply: "Sorry"}
on:
  - text: fail
    do:
      - set: {user.count: "{{ user.count + 1 }}"}
      - reply: "counted {{ user.count }}"
      # Loopback is refused by the SSRF guard: the step fails after the set and the reply.
      - http: {url: "http://127.0.0.1:9/refused"}
  - text: any
    do:
      - set: {user.count: "{{ user.count + 1 }}"}
      - reply: "count {{ user.count }}"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "text", ann, json!({"text": "fail"})).await;
    world.act(bot, "text", ann, json!({"text": "hello"})).await;
    world.wait_handled(bot, 2).await;
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["Sorry", "count 1"], "neither the reply nor the count of the failed handler remain");
    let vars = store.load_vars(bot.id, Scope::User(ann)).await.unwrap();
    assert_eq!(vars["count"], json!(1));
    world.engine.stop(bot.handle).await.unwrap();
}

/// Updates without an `update_id` cannot be confirmed, so Telegram would hand the same batch
/// back at once: the poll backs off instead of spinning. The Bot API here answers every
/// getUpdates with such a batch and counts the calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_updates_without_ids_backs_off() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    let polls = Arc::new(AtomicUsize::new(0));
    let (polled, mut poll_count) = tokio::sync::watch::channel(0usize);
    let counter = Arc::clone(&polls);
    let api = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (counter, polled) = (Arc::clone(&counter), polled.clone());
        async move {
            let result = match uri.path().rsplit('/').next().unwrap_or_default() {
                "getUpdates" => {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    polled.send_replace(n);
                    json!([{"message": {"text": "no id"}}])
                }
                "getMe" => json!({"id": 77, "is_bot": true, "first_name": "Echo", "username": "echo_bot"}),
                "getMyCommands" => json!([]),
                _ => json!(true),
            };
            axum::Json(json!({"ok": true, "result": result}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, api).await.expect("serves") });

    let engine = engine::Engine::new(test_config());
    let file = schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = engine.add_bot(file, "77:secret", &url).await.expect("bot starts");
    poll_count.wait_for(|n| *n >= 2).await.expect("polled twice");
    let before = polls.load(Ordering::SeqCst);
    // A spinning poll makes hundreds of calls a second against a local server; the backoff
    // (0.5 s, 1 s, 2 s … at most, with jitter) a handful.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = polls.load(Ordering::SeqCst) - before;
    assert!(during <= 10, "{during} getUpdates calls in a second");
    engine.stop(bot).await.expect("stops");
}
