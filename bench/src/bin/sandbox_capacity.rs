//! The rig's limit: how many Bot API round trips the sandbox answers per second with a null
//! client (a client that does nothing but send the requests), on loopback.
//!
//! Two scenarios, each for `--seconds`:
//! - `sendMessage`: `--clients` concurrent loops sending to their own chats;
//! - `update round trip`: a user acts through the control API and a bot's long-polling
//!   getUpdates receives it; latency is from the act to the update's arrival.

use clap::Parser;
use ferrogram_bench::capacity::{self, Throughput};
use ferrogram_bench::ms;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    /// Concurrent client loops.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let sandbox = ferrogram_bench::sandbox_without_limits().await;
    let url = sandbox.url();
    let duration = Duration::from_secs(args.seconds);
    let (sends, updates) = capacity::measure(&url, args.clients, duration).await;
    report("sendMessage", &sends);
    report("update round trip (act → getUpdates)", &updates);
    sandbox.stop().await.expect("sandbox stops");
}

fn report(name: &str, t: &Throughput) {
    match &t.latencies {
        Some(l) => println!(
            "{name}: {:.0}/s  p50 {}  p99 {}  max {}  ({} in {:?})",
            t.per_second(),
            ms(l.p50),
            ms(l.p99),
            ms(l.max),
            t.count,
            t.duration
        ),
        None => println!("{name}: nothing completed"),
    }
}
