//! Echo and broadcast bot written with teloxide 0.17, in its idiomatic production setup: the
//! `Dispatcher` (long polling, updates of one chat in order, chats concurrently) over a bot
//! wrapped in the `Throttle` adaptor.
//!
//! Env: `BOT_TOKEN`, `SANDBOX_URL` (the Bot API server), `RATE` (messages a second for the whole
//! bot, default 30), `CHAT_RATE` (a second per chat, default 1), `SUB_FIRST`/`SUB_COUNT` (the
//! chat ids `/broadcast` sends to). Prints `READY` when it starts polling.

use std::sync::Arc;

use teloxide::adaptors::throttle::Limits;
use teloxide::adaptors::Throttle;
use teloxide::prelude::*;
use teloxide::RequestError;

type B = Throttle<Bot>;

struct Cfg {
    first: i64,
    count: i64,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let token = std::env::var("BOT_TOKEN").expect("BOT_TOKEN");
    let url = std::env::var("SANDBOX_URL").expect("SANDBOX_URL");
    let rate: u32 = env("RATE", 30);
    let chat_rate: u32 = env("CHAT_RATE", 1);
    let mut limits = Limits::default();
    limits.messages_per_sec_overall = rate;
    limits.messages_per_sec_chat = chat_rate;
    limits.messages_per_min_chat = chat_rate.saturating_mul(60);
    let bot = Bot::new(token).set_api_url(url.parse().expect("SANDBOX_URL")).throttle(limits);
    let cfg = Arc::new(Cfg { first: env("SUB_FIRST", 0), count: env("SUB_COUNT", 0) });
    let handler = Update::filter_message().endpoint(handle);
    println!("READY");
    Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![cfg])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

async fn handle(bot: B, msg: Message, cfg: Arc<Cfg>) -> ResponseResult<()> {
    let text = msg.text().unwrap_or_default();
    if text == "/broadcast" {
        // The broadcast loop teloxide's docs suggest: queue every send and let Throttle pace them.
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
async fn send_retrying(bot: &B, chat: ChatId, text: &str) -> ResponseResult<()> {
    loop {
        match bot.send_message(chat, text).await {
            Ok(_) => return Ok(()),
            Err(RequestError::RetryAfter(wait)) => tokio::time::sleep(wait.duration()).await,
            Err(error) => return Err(error),
        }
    }
}

