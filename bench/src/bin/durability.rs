//! Durability without a throughput cliff: the same echo bot, the same load, in one run, with
//! the engine's state in memory (durability off) and in a database (on: every update stored
//! before it is acknowledged, its reply committed with it and delivered from the outbox), with
//! group commit and with one transaction per update.
//!
//! `cargo run --release -p ferrogram-bench --bin durability [-- --updates 20000 --users 200]`
//!
//! Throughput is counted end to end: from the first user message to the moment the engine has
//! handled (committed and delivered) the last one. The sandbox runs in process with its flood
//! limits off, and the engine's flood scheduler is opened up, so neither is what is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ferrogram_engine::{Engine, EngineConfig, StateStore};
use ferrogram_telegram::flood::Limit;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// User messages per configuration.
    #[arg(long, default_value_t = 20_000)]
    updates: usize,
    /// Users sending at once (one private chat each).
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// PostgreSQL server for the PostgreSQL rows (skipped when it does not answer).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// Where the results table is written (Markdown).
    #[arg(long, default_value = "bench/DURABILITY.md")]
    out: std::path::PathBuf,
}

const ECHO: &str = r#"
ferrogram: 1
bot: {name: durability}
variables:
  user:
    count: {type: number, default: 0}
on:
  - text: any
    do:
      - set: {user.count: "{{ user.count + 1 }}"}
      - reply: "{{ user.count }}. {{ message.text }}"
"#;

struct Row {
    name: String,
    per_second: f64,
    elapsed: Duration,
}

#[tokio::main]
async fn main() {
    ferrogram_telegram::install_crypto_provider();
    let args = Args::parse();
    let folder = std::env::temp_dir().join(format!("ferrogram-durability-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("temporary folder");
    let mut rows = Vec::new();

    let memory: Arc<dyn StateStore> = Arc::new(ferrogram_engine::MemoryStore::new());
    rows.push(run("memory (durability off)", memory, ferrogram_engine::DEFAULT_COMMIT_BATCH, &args).await);
    for (name, batch) in
        [("SQLite, group commit", ferrogram_engine::DEFAULT_COMMIT_BATCH), ("SQLite, one commit per update", 1)]
    {
        let url = format!("sqlite://{}/{batch}.db", folder.display());
        let store = ferrogram_store::Store::open(&url).await.expect("SQLite opens");
        rows.push(run(name, Arc::new(store), batch, &args).await);
    }
    match ferrogram_store::Store::open(&args.postgres).await {
        Ok(store) => {
            // A fresh bot id per run keeps earlier runs' rows out of the way.
            rows.push(
                run("PostgreSQL, group commit", Arc::new(store), ferrogram_engine::DEFAULT_COMMIT_BATCH, &args).await,
            );
        }
        Err(error) => eprintln!("PostgreSQL skipped: {error}"),
    }
    std::fs::remove_dir_all(&folder).ok();

    let table = table(&rows, &args);
    println!("{table}");
    let report = format!(
        "# Durability on against off\n\nWritten by `cargo run --release -p ferrogram-bench --bin durability -- \
         --updates {} --users {}` (see the binary's doc comment for what is timed).\n\n{table}",
        args.updates, args.users
    );
    if let Err(error) = std::fs::write(&args.out, report) {
        eprintln!("{}: {error}", args.out.display());
    }
}

fn table(rows: &[Row], args: &Args) -> String {
    let base = rows[0].per_second;
    let mut out = format!("| configuration | updates/s | vs memory | time for {} updates |\n", args.updates);
    out.push_str("|---|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} s |\n",
            row.name,
            row.per_second,
            row.per_second / base,
            row.elapsed.as_secs_f64()
        ));
    }
    out
}

/// One configuration: a fresh sandbox and engine, `users` chats sending `updates` messages in
/// closed loops, timed until the engine handled them all.
async fn run(name: &str, store: Arc<dyn StateStore>, commit_batch: usize, args: &Args) -> Row {
    let sandbox = ferrogram_bench::sandbox_without_limits().await;
    let url = sandbox.url();
    let open = Limit::per_second(1_000_000).with_burst(1_000_000);
    let flood =
        ferrogram_telegram::flood::Config { private_chat: open, group_chat: open, bot: open, ..Default::default() };
    let engine =
        Engine::new(EngineConfig { store, flood, commit_batch, max_concurrent_updates: 256, ..Default::default() });
    let http = reqwest::Client::new();
    let bot_id = 900_000 + u64::from(fastrand_u16());
    let token = format!("{bot_id}:durability");
    post(&http, &format!("{url}/sandbox/bots"), json!({"token": token})).await;
    let file = ferrogram_schema::load_str(ECHO, "echo.yaml").expect("valid bot file");
    let bot = engine.add_bot(file, &token, &url).await.expect("bot starts");
    let mut handled = engine.handled(bot).expect("bot runs");

    let mut users = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let user = post(&http, &format!("{url}/sandbox/users"), json!({"first_name": format!("u{i}")})).await;
        users.push(user["id"].as_i64().expect("user id"));
    }
    let per_user = args.updates.div_ceil(args.users);
    let total = per_user * args.users;
    let started = Instant::now();
    let senders: Vec<_> = users
        .iter()
        .map(|&user| {
            let (http, act) = (http.clone(), format!("{url}/sandbox/act/text"));
            tokio::spawn(async move {
                for n in 0..per_user {
                    post(&http, &act, json!({"bot_id": bot_id, "user_id": user, "text": format!("m{n}")})).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    handled.wait_for(|n| *n >= total as u64).await.expect("engine runs");
    let elapsed = started.elapsed();
    engine.stop(bot).await.expect("bot stops");
    sandbox.stop().await.expect("sandbox stops");
    let row = Row { name: name.to_owned(), per_second: total as f64 / elapsed.as_secs_f64(), elapsed };
    eprintln!("{name}: {total} updates in {:.2} s, {:.0}/s", elapsed.as_secs_f64(), row.per_second);
    row
}

/// A bot id that differs between runs, without a random-number dependency.
fn fastrand_u16() -> u16 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    (nanos % 60_000) as u16
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http.post(url).json(&body).send().await.expect("request");
    let status = response.status();
    let value: Value = response.json().await.expect("JSON answer");
    assert!(status.is_success(), "POST {url} -> {status} {value}");
    value
}
