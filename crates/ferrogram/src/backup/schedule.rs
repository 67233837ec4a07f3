//! `serve`'s scheduled backups (`backup.every`): one backup every period, then retention
//! (`backup.keep`). A failed backup is logged with its cause and tried again at the next tick;
//! it never stops serving.

use std::sync::Arc;
use std::time::Duration;

use ferrogram_store::Store;

use super::{Target, prune, take};

/// What the schedule needs.
pub struct Schedule {
    pub store: Arc<Store>,
    /// The store's URL (where a SQLite snapshot bound for S3 is staged).
    pub url: String,
    pub target: Target,
    pub every: Duration,
    pub keep: usize,
}

/// Starts the schedule in the background: the first backup one period after the start.
/// Abort the handle to stop it (before the store closes).
pub fn spawn(schedule: Schedule) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + schedule.every;
        let mut ticks = tokio::time::interval_at(start, schedule.every);
        // A backup longer than the period delays the next one instead of bunching them.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            once(&schedule).await;
        }
    })
}

/// One backup and the retention after it, logged.
pub async fn once(schedule: &Schedule) {
    let to = schedule.target.describe();
    match take(&schedule.store, &schedule.url, &schedule.target).await {
        Ok(name) => {
            tracing::info!(backup = %name, to = %to, "backup taken");
            match prune(&schedule.target, schedule.keep).await {
                Ok(deleted) if !deleted.is_empty() => {
                    tracing::info!(deleted = ?deleted, keep = schedule.keep, to = %to, "old backups deleted")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(to = %to, "deleting old backups failed: {error}"),
            }
        }
        Err(error) => {
            tracing::warn!(to = %to, "backup failed, tried again at the next tick: {error}");
        }
    }
}
