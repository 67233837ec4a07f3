//! How long handled updates stay in the inbox is `EngineConfig::inbox_keep` (`inbox.keep` of
//! `ferrogram serve`'s configuration): a bot's pruning forgets those handled longer ago, and by
//! default keeps them a day.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{World, test_config};
use ferrogram_engine::{EngineConfig, MemoryStore, StateStore};
use tokio::time::Instant;

const BOT: &str = "ferrogram: 1\nbot: {name: keeper}\non:\n  - command: start\n    do: [{reply: hi}]\n";

/// Whether, with the bot started with `keep`, its handled update 1 (not its newest, which is
/// always kept) is forgotten within `wait`.
async fn forgotten_within(keep: Duration, wait: Duration) -> bool {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), inbox_keep: keep, ..test_config() }).await;
    let (bot_id, token) = world.register_bot().await;
    for id in [1, 2] {
        assert!(store.inbox_put(bot_id, id, "{}".into()).await.unwrap().is_stored());
        assert!(store.inbox_mark_handled(bot_id, id).await.unwrap());
    }
    // Handled times are whole seconds: a second later they are older than "now minus `keep`".
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let file = ferrogram_schema::load_str(BOT, "keeper.yaml").expect("valid bot file");
    let bot = world.run_bot(file, bot_id, &token).await;
    let deadline = Instant::now() + wait;
    let forgotten = loop {
        // Update 1 again: stored if the inbox forgot it, a redelivery while it holds it.
        if store.inbox_put(bot_id, 1, "{}".into()).await.unwrap().is_stored() {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    world.engine.stop(bot.handle).await.unwrap();
    forgotten
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_updates_are_kept_as_long_as_the_configuration_says() {
    // Pruning runs when the bot starts, then every 30 s.
    assert!(forgotten_within(Duration::from_millis(1), Duration::from_secs(10)).await, "pruned past inbox_keep");
    assert_eq!(test_config().inbox_keep, ferrogram_engine::INBOX_KEEP);
    assert!(!forgotten_within(ferrogram_engine::INBOX_KEEP, Duration::from_millis(500)).await, "kept a day");
}
