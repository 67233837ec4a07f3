//! Delivery against the sandbox: a call Telegram makes the bot wait for holds its chat's later
//! calls (and only its chat's), before and after a restart; a call Telegram refuses for good
//! reaches the bot's `errors` reply with the reason; a text over Telegram's limit is split.

mod common;

use std::sync::Arc;

use common::{World, outbox_reply, test_config};
use ferrogram_engine::{Commit, EngineConfig, MemoryStore, StateStore};
use serde_json::json;

const ECHO: &str = r#"
ferrogram: 1
bot: {name: echo}
on:
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#;

/// Test settings where a 429 is not waited out by the flood scheduler but handed back to the
/// outbox at once: the outbox's own holding and retrying is what is tested.
fn impatient() -> EngineConfig {
    let mut config = test_config();
    config.flood.max_rate_limited_retries = 0;
    config
}

async fn inject_429(world: &World, bot_id: u64, retry_after: u64) {
    world
        .post(
            &format!("/sandbox/bots/{bot_id}/faults"),
            json!({"count": 1, "status": 429, "retry_after": retry_after, "methods": ["sendMessage"]}),
        )
        .await;
}

/// Waits until the bot's outbox is empty: delivered (or refused) calls are forgotten with the
/// committer's next batch.
async fn outbox_empties(store: &MemoryStore, bot_id: u64) {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let pending = store.outbox_pending(bot_id, 10).await.unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "still in the outbox: {pending:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_reply_holds_its_chats_later_replies_and_no_other_chat() {
    let mut world = World::start(impatient()).await;
    let bot = world.bot(ECHO).await;
    let (ann, bob) = (world.user("Ann", "en").await, world.user("Bob", "en").await);
    // Ann's first reply gets a 429: parked in the outbox, retried after 5 s.
    inject_429(&world, bot.id, 5).await;
    world.act(bot, "text", ann, json!({"text": "a1"})).await;
    world.wait_handled(bot, 1).await;
    assert_eq!(world.get(&format!("/sandbox/bots/{}/faults", bot.id)).await, json!([]), "the 429 was answered");
    for text in ["a2", "a3", "a4"] {
        world.act(bot, "text", ann, json!({"text": text})).await;
    }
    world.act(bot, "text", bob, json!({"text": "b1"})).await;
    world.wait_handled(bot, 5).await;
    // Bob is answered while Ann's chat waits behind her parked reply.
    assert_eq!(world.wait_sent(bot, bob, 0, 1).await.0, ["You said: b1"]);
    let (events, _) = world.events(bot, ann, 0, 0).await;
    assert!(events.iter().all(|e| e["kind"] != "sent"), "Ann's later replies went before her parked one: {events:?}");
    let (ann_sent, _) = world.wait_sent(bot, ann, 0, 4).await;
    assert_eq!(ann_sent, ["You said: a1", "You said: a2", "You said: a3", "You said: a4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_to_a_held_chat_waits_behind_its_parked_reply() {
    let mut world = World::start(impatient()).await;
    let bot = world
        .bot(
            r#"
ferrogram: 1
bot: {name: notes}
on:
  - text: note
    do:
      - notify: {to: "[from.id]", message: "a note"}
  - text: any
    do:
      - reply: "You said: {{ message.text }}"
"#,
        )
        .await;
    let ann = world.user("Ann", "en").await;
    inject_429(&world, bot.id, 3).await;
    world.act(bot, "text", ann, json!({"text": "a1"})).await;
    world.wait_handled(bot, 1).await;
    // A notification (the paced bulk lane) and a reply committed after the parked reply.
    world.act(bot, "text", ann, json!({"text": "note"})).await;
    world.act(bot, "text", ann, json!({"text": "a2"})).await;
    world.wait_handled(bot, 3).await;
    let (sent, _) = world.wait_sent(bot, ann, 0, 3).await;
    assert_eq!(sent, ["You said: a1", "a note", "You said: a2"], "a held chat's calls leave in commit order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_left_in_the_outbox_keep_their_order_behind_a_parked_one_at_start() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..impatient() }).await;
    let (bot_id, token) = world.register_bot().await;
    let ann = world.user("Ann", "en").await;
    // What the last run committed but had not delivered: two replies to Ann.
    let committed = Commit {
        bot: bot_id,
        outbox: vec![outbox_reply(ann, "left 1"), outbox_reply(ann, "left 2")],
        ..Commit::default()
    };
    store.commit(&[committed]).await.unwrap();
    // Ann wrote meanwhile; the first redelivered call gets a 429.
    world.post("/sandbox/act/text", json!({"bot_id": bot_id, "user_id": ann, "text": "new"})).await;
    inject_429(&world, bot_id, 2).await;
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = world.run_bot(file, bot_id, &token).await;
    let (texts, _) = world.wait_sent(bot, ann, 0, 3).await;
    assert_eq!(texts, ["left 1", "left 2", "You said: new"]);
    world.wait_handled(bot, 1).await;
    assert_eq!(world.get(&format!("/sandbox/bots/{bot_id}/faults")).await, json!([]), "the 429 was answered");
    outbox_empties(&store, bot_id).await;
    world.engine.stop(bot.handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_telegrams_limit_to_hello_is_split_in_order() {
    let mut world = World::start(test_config()).await;
    let hello = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello.yaml")).unwrap();
    let bot = world.bot(&hello).await;
    let ann = world.user("Ann", "en").await;
    // 4,090 characters: "You said: …" is 4,100, over Telegram's 4,096.
    let words: Vec<String> = (0..817).map(|n| format!("w{n:03}")).collect();
    let text = format!("{} xxxxx", words.join(" "));
    assert_eq!(text.chars().count(), 4090);
    world.act(bot, "text", ann, json!({"text": text})).await;
    let (parts, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert!(parts.iter().all(|p| p.chars().count() <= 4096), "{:?}", parts.iter().map(String::len).collect::<Vec<_>>());
    // Broken at a space, which the break drops: joined again, they are the whole reply.
    assert_eq!(parts.join(" "), format!("You said: {text}"));
}

const REFUSED: &str = r#"
ferrogram: 1
bot: {name: refused}
errors:
  reply: "Not sent ({{ error.kind }} {{ error.code }} {{ error.method }}): {{ error.reason }}"
on:
  - text: photo
    do:
      - reply: {photo: "no-such-file-id", text: "look"}
  - text: html
    do:
      - reply: {text: "<b>unclosed {{ message.text }}", parse_mode: HTML}
  - text: any
    do:
      - reply: "fine"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_telegram_refuses_for_good_reaches_the_errors_reply_with_the_reason() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let bot = world.bot(REFUSED).await;
    let ann = world.user("Ann", "en").await;
    world.act(bot, "text", ann, json!({"text": "photo"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["Not sent (refused 400 sendPhoto): Bad Request: wrong file identifier/HTTP URL specified"]);
    world.act(bot, "text", ann, json!({"text": "html"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert!(sent[0].starts_with("Not sent (refused 400 sendMessage): Bad Request: can't parse entities"), "{sent:?}");
    // Nothing is retried and the chat is not held: the next reply goes at once.
    world.act(bot, "text", ann, json!({"text": "hi"})).await;
    assert_eq!(world.wait_sent(bot, ann, seq, 1).await.0, ["fine"]);
    world.wait_handled(bot, 3).await;
    // Refused calls are forgotten, not kept to be retried.
    outbox_empties(&store, bot.id).await;
    world.engine.stop(bot.handle).await.unwrap();
}

const TOLD: &str = r#"
ferrogram: 1
bot: {name: told}
errors:
  reply: "{{ error.kind }} {{ error.code }}: {{ error.reason }}"
on:
  - text: poll
    do:
      - poll: {question: "Tea or coffee?", options: [Tea, Coffee]}
      - reply: "voted?"
  - text: any
    do:
      - reply: "fine"
"#;

/// The sandbox refuses the bot's next `count` calls of `method` for good, as Telegram does.
async fn inject_400(world: &World, bot_id: u64, method: &str, count: u32, description: &str) {
    world
        .post(
            &format!("/sandbox/bots/{bot_id}/faults"),
            json!({"count": count, "status": 400, "description": description, "methods": [method]}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_refused_with_400_gets_the_errors_reply_once_and_never_loops() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let bot = world.bot(TOLD).await;
    let ann = world.user("Ann", "en").await;
    // The reply is refused: the errors reply tells Ann why.
    inject_400(&world, bot.id, "sendMessage", 1, "message is too long").await;
    world.act(bot, "text", ann, json!({"text": "hi"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, 0, 1).await;
    assert_eq!(sent, ["refused 400: Bad Request: message is too long"]);
    // The reply and the errors reply both refused: nothing more is sent, nothing loops, the chat
    // is not held (the next reply is the next message Ann gets).
    inject_400(&world, bot.id, "sendMessage", 2, "message is too long").await;
    world.act(bot, "text", ann, json!({"text": "again"})).await;
    world.wait_handled(bot, 2).await;
    outbox_empties(&store, bot.id).await;
    world.act(bot, "text", ann, json!({"text": "hi"})).await;
    let (sent, seq) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["fine"]);
    // A call made at once (a poll) refused: the handler fails, its errors reply has the reason.
    inject_400(&world, bot.id, "sendPoll", 1, "poll can't have more than 12 options").await;
    world.act(bot, "text", ann, json!({"text": "poll"})).await;
    let (sent, _) = world.wait_sent(bot, ann, seq, 1).await;
    assert_eq!(sent, ["failed 400: Bad Request: poll can't have more than 12 options"]);
    world.wait_handled(bot, 4).await;
    outbox_empties(&store, bot.id).await;
    world.engine.stop(bot.handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_the_outbox_does_not_repeat_a_send_that_may_have_arrived() {
    let store = Arc::new(MemoryStore::new());
    let mut config = EngineConfig { store: store.clone(), ..test_config() };
    config.flood.ambiguous_sends = ferrogram_telegram::AmbiguousSends::Fail;
    let mut world = World::start(config).await;
    let bot = world.bot(ECHO).await;
    let ann = world.user("Ann", "en").await;
    // The sandbox posts the reply, then drops the connection without an answer.
    world
        .post(
            &format!("/sandbox/bots/{}/faults", bot.id),
            json!({"count": 1, "drop_answer": true, "methods": ["sendMessage"]}),
        )
        .await;
    world.act(bot, "text", ann, json!({"text": "x"})).await;
    world.wait_handled(bot, 1).await;
    world.act(bot, "text", ann, json!({"text": "y"})).await;
    // A repeat of the first reply would come before the second one.
    let (sent, _) = world.wait_sent(bot, ann, 0, 2).await;
    assert_eq!(sent, ["You said: x", "You said: y"]);
    outbox_empties(&store, bot.id).await;
}
