//! Ferrogram's side of the comparison, as its own process like the peers: what
//! `ferrogram run FILE --api-url URL --token T --database URL` does (schema, store on SQLite or
//! PostgreSQL, engine, long polling), except that the engine's flood limits come from the command line so
//! they can be scaled like the sandbox's for the bulk scenario (`ferrogram run` keeps
//! Telegram's). `--bots N` runs N copies of the file under the tokens `<first id + i>:bench`
//! (the many-bots scenario); with `--webhook-listen ADDR` they receive by webhook on ADDR (the
//! server crate's receiver) instead of long polling. Prints `READY` once every bot is started
//! (with webhooks: once the Bot API server reports every bot's webhook set, as the peers print
//! it after their setWebhook calls); stops on SIGTERM/SIGINT.

use clap::Parser;
use ferrogram_telegram::flood::Limit;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    file: PathBuf,
    #[arg(long)]
    api_url: String,
    /// `<bot id>:<secret>`; with `--bots N` the ids `id..id+N` are used.
    #[arg(long)]
    token: String,
    #[arg(long, default_value_t = 1)]
    bots: u64,
    /// The store: `sqlite://PATH`, `postgres://USER@HOST/DB` or `memory`.
    #[arg(long)]
    database: String,
    /// Messages a second for the whole bot (Telegram: 30).
    #[arg(long, default_value_t = 30)]
    rate: u32,
    /// Messages a second per private chat (Telegram: 1).
    #[arg(long, default_value_t = 1)]
    chat_rate: u32,
    /// Receive by webhook on this address (e.g. 127.0.0.1:9090) instead of long polling.
    #[arg(long)]
    webhook_listen: Option<std::net::SocketAddr>,
    /// Seconds a webhook bot stays built after its last update (`serve`'s `bots.idle_after`,
    /// 600 by default there and here); 0 keeps every bot built.
    #[arg(long, default_value_t = 600)]
    idle_after: u64,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let file = ferrogram_schema::load(&args.file)
        .map_err(|d| d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    let mut config = ferrogram_engine::EngineConfig::default();
    if args.database != "memory" {
        // As `ferrogram run`: the store keeps the engine's state and the collections' records.
        let store = Arc::new(ferrogram_store::Store::open(&args.database).await.map_err(|e| e.to_string())?);
        config.store = store.clone();
        config.collections = store;
    }
    config.idle_after = (args.idle_after > 0).then(|| std::time::Duration::from_secs(args.idle_after));
    let burst = |n: u32| n.max(1);
    config.flood.bot = Limit::per_second(args.rate).with_burst(burst(args.rate));
    config.flood.private_chat =
        Limit::per_second(args.chat_rate).with_burst(if args.chat_rate > 1 { args.chat_rate } else { 3 });
    let engine = Arc::new(ferrogram_engine::Engine::new(config));
    if let Some(addr) = args.webhook_listen {
        ferrogram_server::listen(addr, Arc::clone(&engine)).await?;
    }
    let (id, secret) = args.token.split_once(':').ok_or("token: expected <id>:<secret>")?;
    let first: u64 = id.parse().map_err(|_| "token: the id is not a number")?;
    let mut handles = Vec::new();
    for i in 0..args.bots {
        let token = format!("{}:{secret}", first + i);
        let receive = match args.webhook_listen {
            Some(addr) => ferrogram_engine::Receive::Webhook {
                url: format!("http://{addr}{}", ferrogram_server::webhook::path(first + i)),
                secret: ferrogram_server::webhook::new_secret()?,
            },
            None => ferrogram_engine::Receive::Polling,
        };
        let handle = engine.add_bot_with(file.clone(), &token, &args.api_url, receive).await;
        handles.push(handle.map_err(|e| e.to_string())?);
    }
    if let Some(addr) = args.webhook_listen {
        webhooks_set(&engine, &args.api_url, first, secret, args.bots, addr).await?;
    }
    println!("READY");
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    for handle in handles {
        let _ = engine.stop(handle).await;
    }
    Ok(())
}

/// Waits until the engine made every asleep bot's start-up calls (its menu, then setWebhook,
/// queued in the background once `add_bot_with` returned), as the peers print READY after their
/// setWebhook calls; then checks with getWebhookInfo that the first and last bots' webhooks are
/// the ones set, so a start-up that did not register them fails here instead of looking fast.
async fn webhooks_set(
    engine: &ferrogram_engine::Engine,
    api_url: &str,
    first: u64,
    secret: &str,
    bots: u64,
    addr: std::net::SocketAddr,
) -> Result<(), String> {
    tokio::time::timeout(std::time::Duration::from_secs(300), engine.start_up_calls_made())
        .await
        .map_err(|_| "the webhooks were still not set after 300 s".to_string())?;
    let http = reqwest::Client::new();
    for id in [first, first + bots.saturating_sub(1)] {
        let expected = format!("http://{addr}{}", ferrogram_server::webhook::path(id));
        let info = http
            .get(format!("{api_url}/bot{id}:{secret}/getWebhookInfo"))
            .send()
            .await
            .map_err(|e| format!("getWebhookInfo of bot {id}: {e}"))?;
        let info = info.json::<serde_json::Value>().await.map_err(|e| format!("getWebhookInfo of bot {id}: {e}"))?;
        if info["result"]["url"] != expected.as_str() {
            return Err(format!("bot {id}: webhook {} after start-up, expected {expected}", info["result"]["url"]));
        }
    }
    Ok(())
}
