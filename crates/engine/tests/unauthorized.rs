//! `Engine::unauthorized`: a bot whose token is revoked while it runs (the sandbox's BotFather
//! /revoke) is marked once its getUpdates answers 401; another bot of the same engine is not,
//! and keeps answering. A send answered 401 (getUpdates still fine) marks it too, and the call
//! stays in the outbox. The engine only marks it: stopping it is the host's decision.

mod common;

use std::sync::Arc;

use common::{ECHO, WAIT, World, test_config};
use ferrogram_engine::{EngineConfig, MemoryStore, StateStore};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_marks_only_its_bot_unauthorized() {
    let mut world = World::start(test_config()).await;
    let (revoked, steady) = (world.bot(ECHO).await, world.bot(ECHO).await);
    let user = world.user("Ann", "en").await;
    world.act(steady, "text", user, json!({"text": "before"})).await;
    assert_eq!(world.wait_sent(steady, user, 0, 1).await.0, ["before"]);
    let mut marked = world.engine.unauthorized(revoked.handle).expect("bot runs");
    assert_eq!(*marked.borrow(), None);

    world.post(&format!("/sandbox/bots/{}/revoke", revoked.id), json!({})).await;
    let error = tokio::time::timeout(WAIT, marked.wait_for(Option::is_some))
        .await
        .expect("marked in time")
        .expect("bot runs")
        .clone()
        .unwrap_or_default();
    assert!(error.contains("401") || error.contains("Unauthorized"), "{error}");

    assert_eq!(*world.engine.unauthorized(steady.handle).expect("bot runs").borrow(), None);
    let (_, after) = world.events(steady, user, 0, 0).await;
    world.act(steady, "text", user, json!({"text": "after"})).await;
    assert_eq!(world.wait_sent(steady, user, after, 1).await.0, ["after"]);
    world.engine.stop(revoked.handle).await.expect("stops");
    world.engine.stop(steady.handle).await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_answered_401_marks_its_bot_and_stays_in_the_outbox() {
    let store = Arc::new(MemoryStore::new());
    let mut world = World::start(EngineConfig { store: store.clone(), ..test_config() }).await;
    let (refused, steady) = (world.bot(ECHO).await, world.bot(ECHO).await);
    let user = world.user("Ann", "en").await;
    let mut marked = world.engine.unauthorized(refused.handle).expect("bot runs");
    // Only its next sendMessage is refused: its getUpdates goes on answering.
    let fault = json!({"count": 1, "status": 401, "methods": ["sendMessage"]});
    world.post(&format!("/sandbox/bots/{}/faults", refused.id), fault).await;
    world.act(refused, "text", user, json!({"text": "hello"})).await;
    world.wait_handled(refused, 1).await;
    let error = tokio::time::timeout(WAIT, marked.wait_for(Option::is_some))
        .await
        .expect("marked in time")
        .expect("bot runs")
        .clone()
        .unwrap_or_default();
    assert!(error.contains("401") || error.contains("Unauthorized"), "{error}");
    assert_eq!(world.get(&format!("/sandbox/bots/{}/faults", refused.id)).await, json!([]), "the 401 was answered");
    // Not dropped as a refused call: the reply waits in the outbox for a start with a valid token.
    let pending = store.outbox_pending(refused.id, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].outgoing.params["text"], "hello");
    let (events, _) = world.events(refused, user, 0, 0).await;
    assert!(events.iter().all(|e| e["kind"] != "sent"), "{events:?}");

    assert_eq!(*world.engine.unauthorized(steady.handle).expect("bot runs").borrow(), None);
    world.act(steady, "text", user, json!({"text": "still here"})).await;
    assert_eq!(world.wait_sent(steady, user, 0, 1).await.0, ["still here"]);
    world.engine.stop(refused.handle).await.expect("stops");
    world.engine.stop(steady.handle).await.expect("stops");
}
