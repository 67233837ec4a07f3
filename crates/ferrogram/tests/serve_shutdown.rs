//! SIGTERM under `serve`: intake stops at once, a handler running finishes within the grace
//! and its reply is delivered before the process exits 0; an update sent after the signal is
//! not taken (the sandbox keeps it, the next start handles it); a handler longer than the grace
//! is cut, the exit is still prompt and 0, and its update is handled at the next start.
//!
//! The handlers are slow because their `http` step calls a slow server the test runs on the
//! loopback (`--allow-private-http`): the first request for `/NAME-MS` waits MS milliseconds,
//! later ones answer at once. The grace is 4 s (`FERROGRAM_SHUTDOWN_GRACE`): handlers get three
//! quarters of it. Through the built binary; every wait has a deadline. What the sandbox had
//! when it stopped is read from its state file. Logs are in the test's temporary folder.

#![cfg(unix)]

#[allow(dead_code)]
mod binary;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use binary::serve::{Serve, scratch};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const GRACE: &str = "4s";
/// The grace and room for a loaded machine.
const STOPPED_WITHIN: Duration = Duration::from_secs(7);
const DEADLINE: Duration = Duration::from_secs(30);

/// A server whose first answer to each path waits the milliseconds the path ends with; it
/// counts the requests per path.
async fn slow_server() -> (u16, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("address").port();
    let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let hits = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
                let first = {
                    let mut hits = hits.lock().unwrap();
                    let count = hits.entry(path.clone()).or_default();
                    *count += 1;
                    *count == 1
                };
                if first {
                    let ms = path.rsplit('-').next().and_then(|ms| ms.parse().ok()).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let body = "ok";
                let answer =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, hits)
}

fn slow_bot(port: u16) -> String {
    format!(
        r#"ferrogram: 1
bot:
  name: slow
on:
  - text: any
    do:
      - http:
          url: "http://127.0.0.1:{port}/{{{{ message.text }}}}"
          timeout_ms: 25000
      - reply: "done {{{{ message.text }}}}"
"#
    )
}

/// Texts the sandbox recorded as sent by bots, in its state file (written as it stopped).
fn sent_in_state(folder: &Path) -> Vec<String> {
    let state: Value =
        serde_json::from_slice(&std::fs::read(folder.join("sandbox.json")).unwrap_or_default()).unwrap_or_default();
    state["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["kind"] == "sent")
        .filter_map(|event| event["message"]["text"].as_str().map(str::to_owned))
        .collect()
}

async fn wait_for(what: &str, serve: &Serve, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "{what}:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM; waits for the exit: how long it took.
async fn terminate(serve: &mut Serve) -> Duration {
    let signalled = Instant::now();
    serve.signal("TERM").await;
    let status = tokio::time::timeout(STOPPED_WITHIN, serve.child.wait())
        .await
        .unwrap_or_else(|_| panic!("still running {STOPPED_WITHIN:?} after SIGTERM:\n{}", serve.log()))
        .expect("reaped");
    let took = signalled.elapsed();
    assert!(status.success(), "exited with {status}:\n{}", serve.log());
    took
}

/// Waits until the bot's replies include `text` (read from the event long poll).
async fn replied(serve: &Serve, bot: i64, text: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let events = serve.get(&format!("/sandbox/events?bot_id={bot}&kind=sent&timeout=1")).await.unwrap_or_default();
        let texts: Vec<&str> =
            events["events"].as_array().into_iter().flatten().filter_map(|e| e["message"]["text"].as_str()).collect();
        if texts.contains(&text) {
            return;
        }
        assert!(Instant::now() < deadline, "no reply {text:?} (replies {texts:?}):\n{}", serve.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_handlers_finish_and_takes_nothing_new() {
    let folder = scratch("serve-shutdown");
    let (port, hits) = slow_server().await;
    std::fs::write(folder.join("bots/slow.yaml"), slow_bot(port)).expect("bot file");
    let allow = format!("127.0.0.1:{port}");
    let flags = ["--allow-private-http", allow.as_str()];
    let env = [("FERROGRAM_SHUTDOWN_GRACE", GRACE)];

    // 1. A handler of 1.5 s runs when SIGTERM comes: it finishes, its reply is delivered.
    let mut serve = Serve::start(&folder, "first.log", &flags, &env);
    let bot = serve.running(&["slow"]).await[0];
    let (ann, bob) = (serve.user("Ann").await, serve.user("Bob").await);
    serve.send(bot, ann, "a-1500").await.expect("sent");
    wait_for("the handler did not call the slow server", &serve, || hits.lock().unwrap().contains_key("a-1500")).await;
    serve.signal("TERM").await;
    let signalled = Instant::now();
    // Intake stopped (each bot logs it): a message now stays with the sandbox.
    wait_for("the bot did not stop its intake", &serve, || serve.log().contains("bot stopped")).await;
    serve.send(bot, bob, "b-0").await.expect("the sandbox still answers while handlers finish");
    let status = tokio::time::timeout(STOPPED_WITHIN, serve.child.wait())
        .await
        .unwrap_or_else(|_| panic!("still running {STOPPED_WITHIN:?} after SIGTERM:\n{}", serve.log()))
        .expect("reaped");
    let took = signalled.elapsed();
    assert!(status.success(), "exited with {status}:\n{}", serve.log());
    eprintln!("a 1.5 s handler running at SIGTERM: exit 0 after {took:?} (grace {GRACE})");
    let sent = sent_in_state(&folder);
    assert!(sent.contains(&"done a-1500".to_owned()), "the running handler's reply was delivered: {sent:?}");
    assert!(!sent.contains(&"done b-0".to_owned()), "nothing taken after the signal: {sent:?}");
    assert!(!hits.lock().unwrap().contains_key("b-0"), "the update sent after the signal was not handled");
    assert!(!serve.log().contains("are cut"), "no handler was cut:\n{}", serve.log());

    // 2. The next start handles what the sandbox kept, and does not repeat the finished one.
    let mut serve = Serve::start(&folder, "second.log", &flags, &env);
    serve.running(&["slow"]).await;
    replied(&serve, bot, "done b-0").await;
    // 3. A handler of 20 s at SIGTERM: cut when the grace is spent; the exit is prompt and 0.
    serve.send(bot, ann, "c-20000").await.expect("sent");
    wait_for("the handler did not call the slow server", &serve, || hits.lock().unwrap().contains_key("c-20000")).await;
    let took = terminate(&mut serve).await;
    eprintln!("a 20 s handler running at SIGTERM: cut, exit 0 after {took:?} (grace {GRACE})");
    assert!(serve.log().contains("are cut"), "the cut is logged:\n{}", serve.log());
    assert!(!sent_in_state(&folder).contains(&"done c-20000".to_owned()));

    // 4. The cut update is handled at the next start (its second request is answered at once).
    let mut serve = Serve::start(&folder, "third.log", &flags, &env);
    serve.running(&["slow"]).await;
    replied(&serve, bot, "done c-20000").await;
    assert_eq!(hits.lock().unwrap()["c-20000"], 2, "handled again from the start");
    let replies = sent_in_state(&folder);
    terminate(&mut serve).await;
    let replies_after: Vec<String> = sent_in_state(&folder);
    let count = |text: &str| replies_after.iter().filter(|t| *t == text).count();
    assert_eq!(count("done a-1500"), 1, "{replies:?} → {replies_after:?}");
    assert_eq!(count("done b-0"), 1, "{replies_after:?}");
    assert_eq!(count("done c-20000"), 1, "{replies_after:?}");
    let _ = std::fs::remove_dir_all(&folder);
}
