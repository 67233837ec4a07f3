//! Scenario 1, rig limit: the sandbox's own capacity with a null client, with 1 and 32 client
//! loops ([`capacity`]).

use crate::capacity::{self, Throughput};
use crate::compare::Ctx;
use std::time::Duration;

/// `--capacity-seconds` per measurement: (clients, sendMessage, update round trip).
pub async fn rig_limit(ctx: &Ctx) -> Vec<(usize, Throughput, Throughput)> {
    let duration = Duration::from_secs(ctx.args.capacity_seconds);
    let mut measured = Vec::new();
    for clients in [1, 32] {
        let (sends, updates) = capacity::measure(&ctx.url, clients, duration).await;
        measured.push((clients, sends, updates));
    }
    measured
}
