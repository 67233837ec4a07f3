//! The user side: the sandbox's control API (users, their acts) and the event stream on which
//! the bench waits for a bot's replies.

use super::{Ctx, SUB_FIRST, say};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub async fn post(ctx: &Ctx, path: &str, body: Value) -> Result<Value, String> {
    let answer = ctx.http.post(format!("{}{path}", ctx.url)).json(&body).send().await.map_err(|e| e.to_string())?;
    let status = answer.status();
    let value: Value = answer.json().await.map_err(|e| e.to_string())?;
    if status.is_success() { Ok(value) } else { Err(format!("{path}: {status} {value}")) }
}

/// Runs `f(i)` for `0..n` with `width` at a time.
pub async fn concurrently<F, Fut>(n: usize, width: usize, f: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..width.min(n).max(1))
        .map(|_| {
            let (next, f) = (next.clone(), f.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i).await;
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
}

pub async fn create_users(ctx: &Ctx, n: usize) -> Vec<i64> {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user = post(ctx, "/sandbox/users", json!({"first_name": format!("user{i}")})).await.expect("user");
        users.push(user["id"].as_i64().expect("id"));
    }
    users
}

pub async fn create_subscribers(ctx: &Ctx, n: usize) {
    let (url, http) = (ctx.url.clone(), ctx.http.clone());
    concurrently(n, 32, move |i| {
        let (url, http) = (url.clone(), http.clone());
        async move {
            let body = json!({"id": SUB_FIRST + i as i64, "first_name": format!("sub{i}")});
            http.post(format!("{url}/sandbox/users")).json(&body).send().await.expect("subscriber");
        }
    })
    .await;
}

/// Who waits for a reply in which chat: the exact text expected and where to say when (and the
/// message: its buttons are pressed next).
pub type Waiters = Arc<Mutex<HashMap<i64, (String, oneshot::Sender<(Instant, Value)>)>>>;

/// One long poll of the sandbox's event stream for the bot, completing waiters as the bot's
/// messages appear (the instant is taken when the event is seen).
pub async fn route_replies(
    http: reqwest::Client,
    url: String,
    bot_id: i64,
    waiters: Waiters,
) -> tokio::task::JoinHandle<()> {
    follow_sent(http, url, bot_id, move |chat, text, message, seen| {
        let mut waiting = waiters.lock().expect("waiters");
        if waiting.get(&chat).is_some_and(|(expected, _)| expected == text)
            && let Some((_, tx)) = waiting.remove(&chat)
        {
            let _ = tx.send((seen, message.take()));
        }
    })
    .await
}

/// Follows the sandbox's event stream for the bot from now on (one long poll at a time) and
/// calls `on_sent(chat, text, message, seen)` for every message the bot sends, `seen` being the
/// instant its batch arrived. Nothing the bot sent before the call is reported.
pub async fn follow_sent<F>(
    http: reqwest::Client,
    url: String,
    bot_id: i64,
    mut on_sent: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut(i64, &str, &mut Value, Instant) + Send + 'static,
{
    // The stream's position now, before any user acts: no reply can come earlier.
    let mut after = match http.get(format!("{url}/sandbox/events?bot_id={bot_id}&after={}", u64::MAX / 2)).send().await
    {
        Ok(answer) => answer.json::<Value>().await.ok().and_then(|v| v["last"].as_u64()).unwrap_or(0),
        Err(_) => 0,
    };
    tokio::spawn(async move {
        loop {
            let Ok(answer) =
                http.get(format!("{url}/sandbox/events?bot_id={bot_id}&after={after}&timeout=2")).send().await
            else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(mut batch) = answer.json::<Value>().await else { continue };
            let seen = Instant::now();
            for event in batch["events"].as_array_mut().into_iter().flatten() {
                if event["kind"] != "sent" {
                    continue;
                }
                let Some(chat) = event["chat_id"].as_i64() else { continue };
                let mut message = event["message"].take();
                let Some(text) = message["text"].as_str().map(str::to_owned) else { continue };
                on_sent(chat, &text, &mut message, seen);
            }
            after = batch["last"].as_u64().unwrap_or(after);
        }
    })
}

/// A user sends `text` and waits for the bot's `echo: text`; the latency, or None on timeout.
pub async fn exchange(
    ctx: &Arc<Ctx>,
    waiters: &Waiters,
    bot_id: i64,
    user: i64,
    text: &str,
    wait: Duration,
) -> Option<Duration> {
    let body = json!({"bot_id": bot_id, "user_id": user, "text": text});
    act(ctx, waiters, "text", body, &format!("echo: {text}"), wait).await.map(|(latency, _)| latency)
}

/// A user acts (`POST /sandbox/act/<kind>` with `body`) and waits for the bot's message with
/// exactly the text `expected`: the latency and the message, or None on timeout.
pub async fn act(
    ctx: &Arc<Ctx>,
    waiters: &Waiters,
    kind: &str,
    body: Value,
    expected: &str,
    wait: Duration,
) -> Option<(Duration, Value)> {
    let (tx, rx) = oneshot::channel();
    let (bot_id, user) = (body["bot_id"].as_i64().unwrap_or(0), body["user_id"].as_i64().unwrap_or(0));
    waiters.lock().expect("waiters").insert(user, (expected.to_owned(), tx));
    let start = Instant::now();
    if post(ctx, &format!("/sandbox/act/{kind}"), body).await.is_err() {
        waiters.lock().expect("waiters").remove(&user);
        return None;
    }
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok((at, message))) => Some((at.saturating_duration_since(start), message)),
        _ => {
            waiters.lock().expect("waiters").remove(&user);
            if std::env::var_os("BENCH_DEBUG").is_some() {
                let events = ctx
                    .http
                    .get(format!("{}/sandbox/events?bot_id={bot_id}&chat_id={user}&after=0", ctx.url))
                    .send()
                    .await;
                if let Ok(events) = events {
                    say(&format!("no {expected:?} for user {user}: {}", events.text().await.unwrap_or_default()));
                }
            }
            None
        }
    }
}
