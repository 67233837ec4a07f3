//! The inbox across a restart: what a crashed run left unhandled is replayed before polling,
//! and what it had already stored is not handled again when Telegram delivers it again.

mod common;

use std::sync::Arc;

use common::{World, test_config};
use engine::{EngineConfig, MemoryStore, StateStore};
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
