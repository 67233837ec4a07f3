//! `Engine::stop` then `Engine::drain`, what `serve` does on SIGTERM: intake stops at once, a
//! handler running finishes and its reply is delivered before `drain` returns, and an update
//! sent after the stop is not taken (the sandbox still holds it).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{World, test_config};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A server answering every request after `delay`; counts the requests.
async fn slow_server(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("address").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let hits = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let _ = socket.read(&mut request).await;
                hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
            });
        }
    });
    (port, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_lets_the_running_handler_finish_and_deliver_and_takes_nothing_new() {
    let (port, hits) = slow_server(Duration::from_millis(800)).await;
    let mut config = test_config();
    config.http.allow_private.push(("127.0.0.1".into(), port));
    let mut world = World::start(config).await;
    let bot = world
        .bot(&format!(
            "ferrogram: 1\nbot: {{name: slow}}\non:\n  - text: any\n    do:\n      - http: {{url: \"http://127.0.0.1:{port}/\"}}\n      - reply: \"done {{{{ message.text }}}}\"\n"
        ))
        .await;
    let (ann, bob) = (world.user("Ann", "en").await, world.user("Bob", "en").await);
    world.act(bot, "text", ann, json!({"text": "first"})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while hits.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the handler did not call the server");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    world.engine.stop(bot.handle).await.expect("stops");
    world.act(bot, "text", bob, json!({"text": "after the stop"})).await;
    let drained = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), world.engine.drain()).await.expect("drained in time");
    assert!(drained.elapsed() > Duration::from_millis(200), "drain waited for the running handler");

    // The reply was delivered before drain returned: it is there without waiting.
    let (events, _) = world.events(bot, ann, 0, 0).await;
    let sent: Vec<&str> =
        events.iter().filter(|e| e["kind"] == "sent").filter_map(|e| e["message"]["text"].as_str()).collect();
    assert_eq!(sent, ["done first"]);
    // The update sent after the stop stays with the sandbox, unhandled.
    assert_eq!(hits.load(Ordering::SeqCst), 1, "only the first update ran");
    let bots = world.get("/sandbox/bots").await;
    let pending =
        bots.as_array().and_then(|b| b.iter().find(|b| b["id"] == bot.id)).map(|b| b["pending_update_count"].clone());
    assert_eq!(pending, Some(json!(1)), "{bots}");
}
