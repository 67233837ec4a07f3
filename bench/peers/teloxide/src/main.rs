//! The bench's bots written with teloxide 0.17, in its idiomatic production setups. `MODE`
//! picks the bot:
//!
//! - `echo` (default): echo and broadcast; the `Dispatcher` (long polling, updates of one chat
//!   in order, chats concurrently) over a bot wrapped in the `Throttle` adaptor, or, with
//!   `THROTTLE=off`, over the plain `Bot` (no limiter: the bare framework's capacity);
//! - `menu`: the stateful menu; the same dispatcher (and the same `THROTTLE`), with the dialogue (`Dialogue`) kept in
//!   Redis (`RedisStorage`, JSON) and the form's row written to PostgreSQL (tokio-postgres
//!   through a deadpool pool);
//! - `many`: `BOTS` echo bots in one process, each a webhook listener (`axum_to_router`) with
//!   its own `Dispatcher`, their routers merged into one axum server on `WEBHOOK_LISTEN`.
//!
//! Env: `BOT_TOKEN`, `SANDBOX_URL` (the Bot API server), `RATE` (messages a second for the whole
//! bot, default 30), `CHAT_RATE` (a second per chat, default 1), `SUB_FIRST`/`SUB_COUNT` (the
//! chat ids `/broadcast` sends to), `REDIS_URL`, `DATABASE_URL` and `TABLE` (menu), `BOTS` and
//! `WEBHOOK_LISTEN` (many; the bot ids follow `BOT_TOKEN`'s). Prints `READY` when it receives.

mod many;
mod menu;

use std::sync::Arc;

use teloxide::adaptors::throttle::Limits;
use teloxide::adaptors::Throttle;
use teloxide::prelude::*;
use teloxide::RequestError;

/// What the echo and menu bots are generic over: teloxide's plain `Bot` or `Throttle<Bot>`
/// (both answer with `RequestError`). Spelled out at each use, as bounds on `R`.
fn throttled() -> bool {
    std::env::var("THROTTLE").map_or(true, |v| v != "off")
}

struct Cfg {
    first: i64,
    count: i64,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// The plain bot over the sandbox's URL: no limiter, every request sent at once.
fn plain_bot(token: String) -> Bot {
    Bot::new(token).set_api_url(required("SANDBOX_URL").parse().expect("SANDBOX_URL"))
}

/// The bot over the sandbox's URL, wrapped in `Throttle` with the bench's limits.
fn throttled_bot(token: String) -> Throttle<Bot> {
    let rate: u32 = env("RATE", 30);
    let chat_rate: u32 = env("CHAT_RATE", 1);
    let mut limits = Limits::default();
    limits.messages_per_sec_overall = rate;
    limits.messages_per_sec_chat = chat_rate;
    limits.messages_per_min_chat = chat_rate.saturating_mul(60);
    plain_bot(token).throttle(limits)
}

#[tokio::main]
async fn main() {
    let mode = std::env::var("MODE").unwrap_or_default();
    match (mode.as_str(), throttled()) {
        ("many", _) => many::run().await,
        ("menu", true) => menu::run(throttled_bot(required("BOT_TOKEN"))).await,
        ("menu", false) => menu::run(plain_bot(required("BOT_TOKEN"))).await,
        (_, true) => echo(throttled_bot(required("BOT_TOKEN"))).await,
        (_, false) => echo(plain_bot(required("BOT_TOKEN"))).await,
    }
}

async fn echo<R>(bot: R)
where
    R: Requester<Err = RequestError> + Clone + Send + Sync + 'static,
    R::GetUpdates: Send,
{
    let cfg = Arc::new(Cfg { first: env("SUB_FIRST", 0), count: env("SUB_COUNT", 0) });
    let handler = Update::filter_message().endpoint(handle::<R>);
    println!("READY");
    Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![cfg])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

async fn handle<R>(bot: R, msg: Message, cfg: Arc<Cfg>) -> ResponseResult<()>
where
    R: Requester<Err = RequestError> + Clone + Send + Sync + 'static,
{
    let text = msg.text().unwrap_or_default();
    if text == "/broadcast" {
        // The broadcast loop teloxide's docs suggest: queue every send and let Throttle pace them
        // (the bench runs the broadcast with Throttle only).
        let mut sends = tokio::task::JoinSet::new();
        for id in cfg.first..cfg.first + cfg.count {
            let bot = bot.clone();
            sends.spawn(async move { send_retrying(&bot, ChatId(id), "news").await });
        }
        while sends.join_next().await.is_some() {}
    } else {
        bot.send_message(msg.chat.id, format!("echo: {text}")).await?;
    }
    Ok(())
}

/// A 429 that gets past Throttle waits for its `retry_after`, as teloxide's docs advise.
async fn send_retrying<R>(bot: &R, chat: ChatId, text: &str) -> ResponseResult<()>
where
    R: Requester<Err = RequestError>,
{
    loop {
        match bot.send_message(chat, text).await {
            Ok(_) => return Ok(()),
            Err(RequestError::RetryAfter(wait)) => tokio::time::sleep(wait.duration()).await,
            Err(error) => return Err(error),
        }
    }
}
