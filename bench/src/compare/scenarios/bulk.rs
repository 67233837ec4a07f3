//! Scenario 3, bulk: one notification to many subscribers under the sandbox's flood limits
//! scaled up, every Bot API call of the bot passing through a counting proxy.

use crate::compare::launch::{Launch, Mode, spawn_bot};
use crate::compare::users::{Waiters, concurrently, exchange, post, route_replies};
use crate::compare::{Ctx, Fw, SUB_FIRST, TELEGRAM_BOT_RATE, say};
use crate::proxy;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const BULK_BOT: i64 = 720_000;

pub struct BulkResult {
    pub fw: Fw,
    pub delivered: u64,
    pub too_many: u64,
    pub other_errors: u64,
    pub to_last: Option<Duration>,
    pub cpu: Option<Duration>,
    pub hwm_kib: Option<u64>,
    pub error: Option<String>,
}

pub async fn bulk(ctx: &Ctx, fw: Fw, admin: i64, proxy_url: &str, counts: &Arc<proxy::Counts>) -> BulkResult {
    let mut result = BulkResult {
        fw,
        delivered: 0,
        too_many: 0,
        other_errors: 0,
        to_last: None,
        cpu: None,
        hwm_kib: None,
        error: None,
    };
    let subscribers = ctx.args.subscribers;
    let rate = TELEGRAM_BOT_RATE * ctx.args.flood_scale;
    let bot_id = BULK_BOT + fw.index();
    let token = format!("{bot_id}:bench");
    // Every subscriber opens its chat with the bot; the bot never sees those updates.
    let _ = ctx.http.post(format!("{}/bot{token}/getMe", ctx.url)).send().await;
    let (url, http) = (ctx.url.clone(), ctx.http.clone());
    concurrently(subscribers, 32, move |i| {
        let (url, http) = (url.clone(), http.clone());
        async move {
            let body = json!({"bot_id": bot_id, "user_id": SUB_FIRST + i as i64, "command": "start"});
            http.post(format!("{url}/sandbox/act/command")).json(&body).send().await.expect("act");
        }
    })
    .await;
    if let Err(error) =
        post(ctx, "/sandbox/act/text", json!({"bot_id": bot_id, "user_id": admin, "text": "hello"})).await
    {
        result.error = Some(error);
        return result;
    }
    let last = post(ctx, &format!("/bot{token}/getUpdates"), json!({"offset": -1})).await;
    let last = last.ok().and_then(|v| v["result"][0]["update_id"].as_i64()).unwrap_or(0);
    let _ = post(ctx, &format!("/bot{token}/getUpdates"), json!({"offset": last + 1, "timeout": 0})).await;

    let limits = json!({"enabled": true, "per_bot_per_second": rate, "per_bot_burst": rate});
    let _ = ctx.http.put(format!("{}/sandbox/limits", ctx.url)).json(&limits).send().await;
    let launch = Launch { rate, chat_rate: 1, subscribers, ..Launch::new(fw, Mode::Bulk, bot_id, proxy_url) };
    let outcome = async {
        let bot = spawn_bot(ctx, launch).await?;
        let shared = Arc::new(ctx.clone());
        let waiters: Waiters = Arc::default();
        let router = route_replies(ctx.http.clone(), ctx.url.clone(), bot_id, waiters.clone()).await;
        // The bot is polling once it answers.
        let polling = exchange(&shared, &waiters, bot_id, admin, "ping", Duration::from_secs(60)).await;
        router.abort();
        if polling.is_none() {
            bot.stop();
            return Err(format!("{} did not answer before the broadcast", fw.name()));
        }
        tokio::time::sleep(Duration::from_secs(1)).await; // the bot's bucket refills after the ping
        counts.reset();
        let cpu_before = bot.stats().map(|s| s.cpu);
        let start = Instant::now();
        post(ctx, "/sandbox/act/command", json!({"bot_id": bot_id, "user_id": admin, "command": "broadcast"})).await?;
        let ideal = Duration::from_secs_f64(subscribers as f64 / rate as f64);
        let cap = ideal * 4 + Duration::from_secs(30);
        let (mut seen, mut progress) = (0, Instant::now());
        while counts.sent.load(Ordering::SeqCst) < subscribers as u64 && start.elapsed() < cap {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now_sent = counts.sent.load(Ordering::SeqCst);
            if now_sent != seen {
                (seen, progress) = (now_sent, Instant::now());
            } else if progress.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        let stats = bot.stats();
        bot.stop();
        Ok((start, cpu_before, stats))
    }
    .await;
    let _ = ctx.http.put(format!("{}/sandbox/limits", ctx.url)).json(&json!({"enabled": false})).send().await;
    match outcome {
        Ok((start, cpu_before, stats)) => {
            result.delivered = counts.sent.load(Ordering::SeqCst);
            result.too_many = counts.too_many.load(Ordering::SeqCst);
            result.other_errors = counts.other_errors.load(Ordering::SeqCst);
            result.to_last = counts.last_sent.lock().map(|at| at.saturating_duration_since(start));
            result.cpu = match (cpu_before, stats) {
                (Some(b), Some(s)) => Some(s.cpu.saturating_sub(b)),
                _ => None,
            };
            result.hwm_kib = stats.map(|s| s.hwm_kib);
            say(&format!(
                "  delivered {} 429s {} in {:.1} s",
                result.delivered,
                result.too_many,
                result.to_last.map(|d| d.as_secs_f64()).unwrap_or(0.0)
            ));
        }
        Err(error) => result.error = Some(error),
    }
    result
}
