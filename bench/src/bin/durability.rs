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

use clap::Parser;
use ferrogram_bench::durability::{run, table};
use ferrogram_engine::StateStore;

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

#[tokio::main]
async fn main() {
    ferrogram_telegram::install_crypto_provider();
    let args = Args::parse();
    let folder = std::env::temp_dir().join(format!("ferrogram-durability-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("temporary folder");
    let mut rows = Vec::new();

    let memory: Arc<dyn StateStore> = Arc::new(ferrogram_engine::MemoryStore::new());
    rows.push(
        run("memory (durability off)", memory, ferrogram_engine::DEFAULT_COMMIT_BATCH, args.updates, args.users).await,
    );
    for (name, batch) in
        [("SQLite, group commit", ferrogram_engine::DEFAULT_COMMIT_BATCH), ("SQLite, one commit per update", 1)]
    {
        let url = format!("sqlite://{}/{batch}.db", folder.display());
        let store = ferrogram_store::Store::open(&url).await.expect("SQLite opens");
        rows.push(run(name, Arc::new(store), batch, args.updates, args.users).await);
    }
    match ferrogram_store::Store::open(&args.postgres).await {
        Ok(store) => {
            // A fresh bot id per run keeps earlier runs' rows out of the way.
            rows.push(
                run(
                    "PostgreSQL, group commit",
                    Arc::new(store),
                    ferrogram_engine::DEFAULT_COMMIT_BATCH,
                    args.updates,
                    args.users,
                )
                .await,
            );
        }
        Err(error) => eprintln!("PostgreSQL skipped: {error}"),
    }
    std::fs::remove_dir_all(&folder).ok();

    let table = table(&rows, args.updates);
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
