//! `BOTS` echo bots in one process, each receiving by webhook: one axum server, one webhook
//! listener and one `Dispatcher` per bot (`webhooks::axum_to_router`, whose `setWebhook` is
//! called for each bot), the routers merged. Bot ids are `BOT_TOKEN`'s id and the following.

use std::net::SocketAddr;

use teloxide::prelude::*;
use teloxide::update_listeners::webhooks;

use crate::required;

pub async fn run() {
    let token = required("BOT_TOKEN");
    let (first, secret) = token.split_once(':').expect("BOT_TOKEN: <id>:<secret>");
    let first: u64 = first.parse().expect("BOT_TOKEN: the id is a number");
    let bots: u64 = crate::env("BOTS", 1);
    let api: url::Url = required("SANDBOX_URL").parse().expect("SANDBOX_URL");
    let addr: SocketAddr = required("WEBHOOK_LISTEN").parse().expect("WEBHOOK_LISTEN");
    let mut app = axum::Router::new();
    let mut dispatchers = tokio::task::JoinSet::new();
    for id in first..first + bots {
        let bot = Bot::new(format!("{id}:{secret}")).set_api_url(api.clone());
        let path = format!("/webhook/{id}");
        let url = format!("http://{addr}{path}").parse().expect("webhook URL");
        let options = webhooks::Options::new(addr, url).path(path);
        let (listener, _stop, router) = webhooks::axum_to_router(bot.clone(), options).await.expect("setWebhook");
        app = app.merge(router);
        let handler = Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
            bot.send_message(msg.chat.id, format!("echo: {}", msg.text().unwrap_or_default())).await?;
            respond(())
        });
        dispatchers.spawn(async move {
            Dispatcher::builder(bot, handler)
                .build()
                .dispatch_with_listener(listener, LoggingErrorHandler::new())
                .await;
        });
    }
    let tcp = tokio::net::TcpListener::bind(addr).await.expect("bind WEBHOOK_LISTEN");
    println!("READY");
    tokio::select! {
        served = axum::serve(tcp, app) => served.expect("axum"),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
    }
}

async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
    term.recv().await;
}
