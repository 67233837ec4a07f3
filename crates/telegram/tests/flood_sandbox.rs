//! Retries, 429 handling and pacing against the sandbox's fault injection and flood limits.

mod common;

use std::time::{Duration, Instant};

use common::World;
use ferrogram_telegram::flood::{Config, Limit, Priority, Scheduler};
use ferrogram_telegram::{AmbiguousSends, Backoff, Error, Request};
use frankenstein::methods::SendMessageParams;
use frankenstein::types::Message;
use serde_json::json;

fn text(chat: i64, text: &str) -> SendMessageParams {
    SendMessageParams::builder().chat_id(chat).text(text).build()
}

fn scheduler(world: &World) -> Scheduler {
    let config = Config { retry: common::fast_retry(), ..Config::default() };
    Scheduler::for_client(world.client.clone(), config)
}

#[tokio::test]
async fn client_retries_server_errors_and_delivers_once() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 2, "status": 500, "methods": ["sendMessage"]})).await;
    let sent = world.client.send_message(&text(ann, "after two 500s")).await.expect("delivered on the third attempt");
    assert_eq!(sent.text.as_deref(), Some("after two 500s"));
    assert_eq!(world.bot_texts(ann).await, ["after two 500s"]);
}

#[tokio::test]
async fn client_gives_up_after_its_attempts() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 10, "status": 502, "methods": ["sendMessage"]})).await;
    let err = world.client.send_message(&text(ann, "never")).await.expect_err("always 502");
    assert_eq!(err.code(), Some(502));
    assert!(world.bot_texts(ann).await.is_empty());
}

#[tokio::test]
async fn client_hands_429_back_with_retry_after() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 1, "status": 429, "retry_after": 3, "methods": ["sendMessage"]})).await;
    let err = world.client.send_message(&text(ann, "too fast")).await.expect_err("429");
    assert!(err.is_rate_limited());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert!(world.bot_texts(ann).await.is_empty());
    world.client.send_message(&text(ann, "later")).await.expect("the fault was used up");
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let world = World::start_with(|b| b.request_timeout(Duration::from_millis(300))).await;
    world.fault(json!({"count": 1, "delay_ms": 2000, "methods": ["getMe"]})).await;
    let me = world.client.get_me().await.expect("second attempt is fast");
    assert!(me.is_bot);

    let impatient = ferrogram_telegram::Client::builder(common::TOKEN)
        .api_url(world.sandbox.url())
        .request_timeout(Duration::from_millis(300))
        .retry(Backoff::none())
        .build()
        .expect("client");
    world.fault(json!({"count": 1, "delay_ms": 2000, "methods": ["getMe"]})).await;
    let err = impatient.get_me().await.expect_err("timed out");
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(err.may_have_been_delivered(), "a timed-out request may have been carried out");
}

#[tokio::test]
async fn scheduler_retries_server_errors_and_delivers_once() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 2, "status": 503, "methods": ["sendMessage"]})).await;
    let scheduler = scheduler(&world);
    let sent: Message =
        scheduler.call(Priority::Interactive, "sendMessage", &text(ann, "hi")).await.expect("delivered");
    assert_eq!(sent.text.as_deref(), Some("hi"));
    assert_eq!(world.bot_texts(ann).await, ["hi"]);
    let m = scheduler.metrics().snapshot();
    assert_eq!((m.retried, m.sent, m.failed), (2, 1, 0));
}

#[tokio::test]
async fn scheduler_waits_out_a_429_and_delivers() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 1, "status": 429, "retry_after": 1, "methods": ["sendMessage"]})).await;
    let scheduler = scheduler(&world);
    let started = Instant::now();
    let sent: Message =
        scheduler.call(Priority::Interactive, "sendMessage", &text(ann, "patience")).await.expect("delivered");
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(sent.text.as_deref(), Some("patience"));
    assert_eq!(world.bot_texts(ann).await, ["patience"]);
    let m = scheduler.metrics().snapshot();
    assert_eq!((m.rate_limited, m.retried, m.sent), (1, 1, 1));
}

#[tokio::test]
async fn scheduler_reports_client_errors_without_retrying() {
    let world = World::start().await;
    let scheduler = scheduler(&world);
    let err = scheduler
        .call::<_, Message>(Priority::Bulk, "sendMessage", &text(987_654_321, "nobody"))
        .await
        .expect_err("chat not found");
    assert_eq!(err.code(), Some(400));
    let m = scheduler.metrics().snapshot();
    assert_eq!((m.retried, m.failed), (0, 1));
}

/// Bulk sends paced under the sandbox's limits arrive once each, in each chat's order, and
/// none fails. The pacing itself is checked where it is exact, on a paused clock
/// (`flood/tests.rs`: `bulk_across_chats_is_paced_to_30_per_second`…). Here requests cross a
/// real socket, and on a loaded machine one held up on its way can arrive together with the
/// next: the sandbox may then answer a 429 the pacing did not cause (this test failed 3 runs
/// in 5 on a busy core when it asserted none). What holds whatever the timing is asserted.
#[tokio::test]
async fn bulk_sends_under_the_sandbox_limits_arrive_once_and_in_order() {
    let world = World::start().await;
    world
        .set_limits(json!({
            "enabled": true,
            "per_chat_per_second": 5.0, "per_chat_burst": 2.0,
            "per_bot_per_second": 10.0, "per_bot_burst": 2.0
        }))
        .await;
    let users = [world.user("Ann").await, world.user("Bob").await];
    let config = Config {
        private_chat: Limit::per_second(4),
        bot: Limit::per_second(8).with_burst(8),
        retry: common::fast_retry(),
        ..Config::default()
    };
    let scheduler = Scheduler::for_client(world.client.clone(), config);
    let mut handles = Vec::new();
    for i in 0..8 {
        for user in users {
            let request = Request::new("sendMessage", &text(user, &format!("{i}"))).expect("request");
            handles.push(scheduler.submit::<Message>(Priority::Bulk, request).await.expect("queued"));
        }
    }
    for handle in handles {
        handle.await.expect("delivered");
    }
    let expected: Vec<_> = (0..8).map(|i| i.to_string()).collect();
    for user in users {
        assert_eq!(world.bot_texts(user).await, expected);
    }
    let m = scheduler.metrics().snapshot();
    assert_eq!((m.sent, m.failed, m.queued, m.in_flight), (16, 0, 0, 0), "{m:?}");
    assert_eq!(m.retried, m.rate_limited, "only a 429 was retried, after its wait: {m:?}");
}

/// Interactive sends that overrun the sandbox's limit get 429s, which the scheduler waits out:
/// everything is delivered once and in order.
#[tokio::test]
async fn interactive_overruns_are_absorbed_by_429_pauses() {
    let world = World::start().await;
    world
        .set_limits(
            json!({"enabled": true, "per_chat_per_second": 2.0, "per_chat_burst": 1.0, "per_bot_per_second": 30.0}),
        )
        .await;
    let ann = world.user("Ann").await;
    // The scheduler believes the chat allows bursts of 5; the sandbox allows none.
    let config =
        Config { private_chat: Limit::per_second(10).with_burst(5), retry: common::fast_retry(), ..Config::default() };
    let scheduler = Scheduler::for_client(world.client.clone(), config);
    let mut handles = Vec::new();
    for i in 0..4 {
        let request = Request::new("sendMessage", &text(ann, &format!("{i}"))).expect("request");
        handles.push(scheduler.submit::<Message>(Priority::Interactive, request).await.expect("queued"));
    }
    for handle in handles {
        handle.await.expect("delivered");
    }
    assert_eq!(world.bot_texts(ann).await, ["0", "1", "2", "3"]);
    assert!(scheduler.metrics().rate_limited() > 0);
}

/// The sandbox carries the send out and drops the connection without answering: the client
/// cannot know whether the message went out. Retrying (the default) is at-least-once: the user
/// gets the message twice.
#[tokio::test]
async fn lost_answers_of_sends_are_retried_by_default_at_least_once() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 1, "drop_answer": true, "methods": ["sendMessage"]})).await;
    let sent = world.client.send_message(&text(ann, "twice")).await.expect("the retry is answered");
    assert_eq!(sent.text.as_deref(), Some("twice"));
    assert_eq!(world.bot_texts(ann).await, ["twice", "twice"], "at-least-once: delivered twice");

    world.fault(json!({"count": 1, "drop_answer": true, "methods": ["sendMessage"]})).await;
    let scheduler = scheduler(&world);
    let _: Message = scheduler.call(Priority::Interactive, "sendMessage", &text(ann, "again")).await.expect("sent");
    assert_eq!(world.bot_texts(ann).await, ["twice", "twice", "again", "again"]);
}

/// With [`AmbiguousSends::Fail`] the send is made at most once and reports the lost answer.
#[tokio::test]
async fn lost_answers_of_sends_fail_at_most_once_when_configured() {
    let world = World::start_with(|b| b.ambiguous_sends(AmbiguousSends::Fail)).await;
    let ann = world.user("Ann").await;
    world.fault(json!({"count": 1, "drop_answer": true, "methods": ["sendMessage"]})).await;
    let err = world.client.send_message(&text(ann, "once")).await.expect_err("no answer");
    assert!(matches!(err, Error::Network(_)) && err.may_have_been_delivered(), "{err:?}");
    assert_eq!(world.bot_texts(ann).await, ["once"], "at-most-once: delivered, not repeated");

    // Calls that create no message are still repeated: a second getMe is harmless.
    world.fault(json!({"count": 1, "drop_answer": true, "methods": ["getMe"]})).await;
    world.client.get_me().await.expect("repeated");

    world.fault(json!({"count": 1, "drop_answer": true, "methods": ["sendMessage"]})).await;
    let config = Config { retry: common::fast_retry(), ambiguous_sends: AmbiguousSends::Fail, ..Config::default() };
    let scheduler = Scheduler::for_client(world.client.clone(), config);
    let err = scheduler
        .call::<_, Message>(Priority::Interactive, "sendMessage", &text(ann, "scheduled"))
        .await
        .expect_err("no answer");
    assert!(err.may_have_been_delivered(), "{err:?}");
    assert_eq!(world.bot_texts(ann).await, ["once", "scheduled"]);
    assert_eq!(scheduler.metrics().snapshot().retried, 0);
}
