//! The inbox across a restart: what a crashed run left unhandled is replayed before polling,
//! and what it had already stored is not handled again when Telegram delivers it again.

mod common;

use std::sync::Arc;

use common::{World, outbox_reply, test_config};
use ferrogram_engine::{Commit, EngineConfig, MemoryStore, Scope, StateStore};
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
        assert!(store.inbox_put(bot_id, update_id, raw).await.unwrap().is_stored());
        if handled {
            assert!(store.inbox_mark_handled(bot_id, update_id).await.unwrap());
        }
    }
    // Update ids only grow (Telegram's guarantee, which the inbox relies on): the unknown one
    // comes before the sandbox's first.
    let unknown = json!({"update_id": 0, "holographic_call": {"id": "x"}}).to_string();
    assert!(store.inbox_put(bot_id, 0, unknown).await.unwrap().is_stored());

    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
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

/// Updates are read as JSON, with no typed decode. What a crashed run left: one of a kind the
/// engine does not handle and one of a handled kind without what a handler needs (a message
/// without a chat) are marked handled, never dispatched; one with a field no type library
/// knows is handled, and its template sees that field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_not_handled_or_not_understood_are_marked_handled_and_new_fields_reach_templates() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    let sent = world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "one"})).await;
    let mut newer = sent["message"].clone();
    newer["text"] = json!("deep");
    newer["holographic"] = json!({"depth": 3});
    // Ids below the sandbox's first, which polling brings after the replay.
    let left = [
        json!({"update_id": -2, "chat_member": {"chat": {"id": -5, "type": "group"}, "date": 1}}),
        json!({"update_id": -1, "message": {"message_id": 1, "date": 1, "text": "no chat"}}),
        json!({"update_id": 0, "message": newer}),
    ];
    for raw in left {
        let update_id = raw["update_id"].as_i64().unwrap();
        assert!(store.inbox_put(bot_id, update_id, raw.to_string()).await.unwrap().is_stored());
    }
    let file = ferrogram_schema::load_str(
        r#"
ferrogram: 1
bot: {name: echo}
on:
  - text: any
    do:
      - reply: "{{ message.text }} {{ message.holographic.depth if message.holographic is defined else 'flat' }}"
"#,
        "echo.yaml",
    )
    .expect("valid bot file");
    let bot = world.run_bot(file, bot_id, &token).await;
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["deep 3", "one flat"]);
    world.wait_handled(bot, 2).await;
    assert_eq!(*world.engine.handled(bot.handle).unwrap().borrow(), 2, "neither left update is dispatched");
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
    let committed = Commit { bot: bot_id, outbox: vec![outbox_reply(ann, "left over")], ..Commit::default() };
    let ids = store.commit(&[committed]).await.unwrap();
    let left_over = ids[0][0];

    // Ann wrote meanwhile (which also opens her chat with the bot): the update waits in the
    // sandbox until the bot polls, which it does only after delivering its outbox.
    world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "new"})).await;
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
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

/// The echo bot (token `77:secret`) polling a stand-in Bot API: `api` served on a free local
/// port.
async fn echo_against(api: axum::Router) -> (ferrogram_engine::Engine, ferrogram_engine::BotHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, api).await.expect("serves") });
    let engine = ferrogram_engine::Engine::new(test_config());
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = engine.add_bot(file, "77:secret", &url).await.expect("bot starts");
    (engine, bot)
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
    let (engine, bot) = echo_against(api).await;
    poll_count.wait_for(|n| *n >= 2).await.expect("polled twice");
    let before = polls.load(Ordering::SeqCst);
    // A spinning poll makes hundreds of calls a second against a local server; the backoff
    // (0.5 s, 1 s, 2 s … at most, with jitter) a handful.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = polls.load(Ordering::SeqCst) - before;
    assert!(during <= 10, "{during} getUpdates calls in a second");
    engine.stop(bot).await.expect("stops");
}

/// The sandbox restarts its update ids at 1 when its world is reset, as Telegram picks a new
/// start after a week without updates: the same bot on the same store must take the new
/// updates whose ids it handled before (other content: new updates), not drop them as
/// redeliveries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_after_the_update_ids_restarted_are_handled_not_dropped() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");

    let ann = world.user("Ann", "en").await;
    let bot = world.run_bot(file.clone(), bot_id, &token).await;
    for text in ["one", "two"] {
        world.act(bot, "text", ann, json!({"text": text})).await;
    }
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["You said: one", "You said: two"]);
    world.wait_handled(bot, 2).await;
    world.engine.stop(bot.handle).await.unwrap();

    // The sandbox forgets everything: the bot and Ann are created again, and the bot's next
    // updates are numbered from 1 again.
    world.post("/sandbox/reset", json!({})).await;
    world.post("/sandbox/bots", json!({"token": token})).await;
    let ann = world.user("Ann", "en").await;
    let bot = world.run_bot(file, bot_id, &token).await;
    let sent = world.act(bot, "text", ann, json!({"text": "three"})).await;
    assert_eq!(sent["update_id"], json!(1), "the sandbox restarted its update ids");
    world.act(bot, "text", ann, json!({"text": "one"})).await;
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["You said: three", "You said: one"], "both handled, in order");
    world.wait_handled(bot, 2).await;
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty());
    world.engine.stop(bot.handle).await.unwrap();
}

/// A local server that accepts connections and never answers: an `http` step calling it hangs
/// until its timeout. Counts the connections, so a test can wait for a handler to be stuck.
async fn hanging_server() -> (u16, tokio::sync::watch::Receiver<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("address").port();
    let (accepted, count) = tokio::sync::watch::channel(0usize);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            accepted.send_modify(|n| *n += 1);
        }
    });
    (port, count)
}

fn hanging_bot(port: u16) -> ferrogram_schema::BotFile {
    let yaml = format!(
        r#"
ferrogram: 1
bot: {{name: hangs}}
errors: {{reply: "Sorry, that failed"}}
on:
  - text: hang
    do:
      - http: {{url: "http://127.0.0.1:{port}/hang", timeout_ms: 60000, retries: 0}}
      - reply: "done"
  - text: any
    do:
      - reply: "You said: {{{{ message.text }}}}"
"#
    );
    ferrogram_schema::load_str(&yaml, "hangs.yaml").expect("valid bot file")
}

async fn wait_connections(count: &mut tokio::sync::watch::Receiver<usize>, n: usize) {
    tokio::time::timeout(common::WAIT, count.wait_for(|c| *c >= n))
        .await
        .unwrap_or_else(|_| panic!("the handler did not call the hanging server {n} times"))
        .expect("server runs");
}

/// An update whose handler never finishes (here it hangs; a kill -9 or a frozen process looks
/// the same to the next start) is replayed at each start until its attempts are spent, then
/// set aside: not run again, the user told, the letter kept, and the chat goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_never_finishes_is_set_aside_after_its_attempts_across_restarts() {
    let (port, mut connections) = hanging_server().await;
    let store = Arc::new(MemoryStore::new());
    let mut config = EngineConfig {
        store: store.clone(),
        // Longer than the test: the handler never finishes while the engine that runs it is up.
        update_budget: std::time::Duration::from_secs(600),
        max_update_attempts: 2,
        ..test_config()
    };
    config.http.allow_private.push(("127.0.0.1".into(), port));
    let mut world = World::start(config.clone()).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;

    // Two runs, each stopped (as by a restart) while the update's handler hangs.
    let mut runs = Vec::new();
    for attempt in 1..=2 {
        let engine = ferrogram_engine::Engine::new(config.clone());
        let handle = engine.add_bot(hanging_bot(port), &token, &world.url()).await.expect("bot starts");
        if attempt == 1 {
            world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "hang"})).await;
        }
        wait_connections(&mut connections, attempt).await;
        engine.stop(handle).await.unwrap();
        runs.push(engine);
    }
    let stuck = store.inbox_unhandled(bot_id, 10).await.unwrap();
    assert_eq!(stuck.iter().map(|u| u.attempts).collect::<Vec<_>>(), [2], "two attempts counted");

    // The third start does not run it again: it is set aside, and Ann hears about it.
    let bot = world.run_bot(hanging_bot(port), bot_id, &token).await;
    let (texts, last) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(texts, ["Sorry, that failed"]);
    world.act(bot, "text", ann, json!({"text": "hello"})).await;
    let (texts, _) = world.wait_sent(bot, ann, last, 1).await;
    assert_eq!(texts, ["You said: hello"], "the chat's later updates are handled");
    world.wait_handled(bot, 2).await;
    assert_eq!(*connections.borrow(), 2, "not run a third time");
    assert!(store.inbox_unhandled(bot_id, 10).await.unwrap().is_empty(), "not replayed again");
    let letters = store.dead_letters(bot_id, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0].letter;
    assert_eq!((letter.update_id, letter.chat_id, letter.attempts), (stuck[0].update_id, Some(ann), 2));
    assert_eq!(letter.raw, stuck[0].raw);
    assert!(letter.reason.contains("did not finish in 2 attempts"), "{}", letter.reason);
    world.engine.stop(bot.handle).await.unwrap();
}

/// A handler that overruns its budget in the running process is set aside at once: it would
/// overrun again, so it is not left for a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_overruns_its_budget_is_set_aside_at_once() {
    let (port, mut connections) = hanging_server().await;
    let store = Arc::new(MemoryStore::new());
    let mut config =
        EngineConfig { store: store.clone(), update_budget: std::time::Duration::from_secs(1), ..test_config() };
    config.http.allow_private.push(("127.0.0.1".into(), port));
    let mut world = World::start(config).await;
    let bot = world.bot_file(hanging_bot(port)).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "text", ann, json!({"text": "hang"})).await;
    world.act(bot, "text", ann, json!({"text": "hello"})).await;
    let (texts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(texts, ["Sorry, that failed", "You said: hello"]);
    world.wait_handled(bot, 2).await;
    wait_connections(&mut connections, 1).await;
    let letters = store.dead_letters(bot.id, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].letter.chat_id, letters[0].letter.attempts), (Some(ann), 1));
    assert!(letters[0].letter.reason.contains("budget"), "{}", letters[0].letter.reason);
    assert!(store.inbox_unhandled(bot.id, 10).await.unwrap().is_empty());
    world.engine.stop(bot.handle).await.unwrap();
}

/// Telegram restarted its update ids while the bot polls: the offset that confirms a batch
/// follows the new sequence, instead of staying above it and confirming (dropping) each of its
/// updates unseen. The Bot API here answers a high id, then a low one, and records the offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_offset_follows_a_restarted_id_sequence() {
    let (seen, mut offsets) = tokio::sync::watch::channel(Vec::<Option<i64>>::new());
    let message = |update_id: i64, text: &str| {
        let chat = json!({"id": 5, "type": "private", "first_name": "Ann"});
        let from = json!({"id": 5, "is_bot": false, "first_name": "Ann"});
        json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1, "chat": chat, "from": from, "text": text}})
    };
    let batches = [json!([message(5000, "before")]), json!([message(3, "after")])];
    let api = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let (seen, batches) = (seen.clone(), batches.clone());
        async move {
            let result = match uri.path().rsplit('/').next().unwrap_or_default() {
                "getUpdates" => {
                    let params: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let mut call = 0;
                    seen.send_modify(|offsets| {
                        offsets.push(params["offset"].as_i64());
                        call = offsets.len();
                    });
                    match batches.get(call - 1) {
                        Some(batch) => batch.clone(),
                        None => {
                            // A long poll with nothing new.
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            json!([])
                        }
                    }
                }
                "getMe" => json!({"id": 77, "is_bot": true, "first_name": "Echo", "username": "echo_bot"}),
                "sendMessage" => json!({"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}, "text": "x"}),
                _ => json!(true),
            };
            axum::Json(json!({"ok": true, "result": result}))
        }
    });
    let (engine, bot) = echo_against(api).await;
    tokio::time::timeout(common::WAIT, offsets.wait_for(|offsets| offsets.len() >= 3))
        .await
        .expect("polled three times")
        .expect("api runs");
    let polled = offsets.borrow().clone();
    assert_eq!(polled[..3], [None, Some(5001), Some(4)], "the offset confirms what was received, no more");
    let mut handled = engine.handled(bot).expect("bot runs");
    tokio::time::timeout(common::WAIT, handled.wait_for(|n| *n >= 2)).await.expect("both handled").expect("runs");
    engine.stop(bot).await.expect("stops");
}
