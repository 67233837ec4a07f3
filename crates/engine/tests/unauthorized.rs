//! `Engine::unauthorized`: a bot whose token is revoked while it runs (the sandbox's BotFather
//! /revoke) is marked once its getUpdates answers 401; another bot of the same engine is not,
//! and keeps answering. The engine only marks it: stopping it is the host's decision.

mod common;

use common::{ECHO, WAIT, World, test_config};
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
