//! Scenario 5, many bots: N echo bots in one process per framework, in webhook mode; start-up,
//! resident memory and idle CPU.

use crate::compare::launch::{Launch, Mode, spawn_bot};
use crate::compare::users::post;
use crate::compare::{Ctx, Fw, TELEGRAM_BOT_RATE, say};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Framework `i`'s many bots are `MANY_BOT + i * MANY_STRIDE ..`.
const MANY_BOT: i64 = 800_000;
const MANY_STRIDE: i64 = 20_000;

pub struct ManyResult {
    pub fw: Fw,
    pub bots: usize,
    pub start: Duration,
    pub rss_kib: Option<u64>,
    pub idle_cpu: Option<f64>,
    /// Of the first and the last bot, how many answered a message after the start.
    pub answered: usize,
    pub error: Option<String>,
}

/// A loopback address with a port free right now, for a child process to listen on.
fn free_local_addr() -> Result<std::net::SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// The user writes to the bot and waits (up to 10 s) for its echo: whether it came.
async fn probe(ctx: &Ctx, bot_id: i64, user: i64) -> bool {
    let text = format!("probe {bot_id}");
    // The stream's position before the act (an earlier run may have probed the same bot).
    let position = format!("{}/sandbox/events?bot_id={bot_id}&after={}", ctx.url, u64::MAX / 2);
    let Ok(answer) = ctx.http.get(position).send().await else { return false };
    let mut after = answer.json::<Value>().await.ok().and_then(|v| v["last"].as_u64()).unwrap_or(0);
    if post(ctx, "/sandbox/act/text", json!({"bot_id": bot_id, "user_id": user, "text": text})).await.is_err() {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let url = format!("{}/sandbox/events?bot_id={bot_id}&chat_id={user}&after={after}&timeout=2", ctx.url);
        let Ok(answer) = ctx.http.get(url).send().await else { return false };
        let Ok(batch) = answer.json::<Value>().await else { return false };
        let expected = format!("echo: {text}");
        if batch["events"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["kind"] == "sent" && e["message"]["text"].as_str() == Some(&expected))
        {
            return true;
        }
        after = batch["last"].as_u64().unwrap_or(after);
    }
    false
}

pub async fn many_bots(ctx: &Ctx, fw: Fw, n: usize, user: i64) -> ManyResult {
    let mut result =
        ManyResult { fw, bots: n, start: Duration::ZERO, rss_kib: None, idle_cpu: None, answered: 0, error: None };
    let first = MANY_BOT + fw.index() * MANY_STRIDE;
    let addr = match free_local_addr() {
        Ok(addr) => addr,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let launch = Launch {
        rate: TELEGRAM_BOT_RATE,
        chat_rate: 1,
        bots: n,
        webhook: Some(addr),
        ..Launch::new(fw, Mode::Many, first, &ctx.url)
    };
    let began = Instant::now();
    let bot = match spawn_bot(ctx, launch).await {
        Ok(bot) => bot,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    result.start = began.elapsed();
    for id in [first, first + n as i64 - 1] {
        result.answered += usize::from(probe(ctx, id, user).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = bot.stats();
    let idle = Duration::from_secs(ctx.args.idle_seconds);
    tokio::time::sleep(idle).await;
    let after = bot.stats();
    if let (Some(b), Some(a)) = (before, after) {
        result.rss_kib = Some(a.rss_kib);
        result.idle_cpu = Some((a.cpu - b.cpu).as_secs_f64() / idle.as_secs_f64() * 100.0);
    }
    bot.stop();
    say(&format!(
        "  {n} bots: start {:.1} s, RSS {} MiB, {} of 2 answered",
        result.start.as_secs_f64(),
        result.rss_kib.unwrap_or(0) / 1024,
        result.answered
    ));
    result
}
