//! `serve`'s scheduled backups (`backup.every`): one backup every period, then retention
//! (`backup.keep`). A failed backup is logged with its cause and tried again at the next tick;
//! it never stops serving.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferrogram_store::Store;

use super::{Target, names, prune, take};

/// What the schedule needs.
pub struct Schedule {
    pub store: Arc<Store>,
    /// The store's URL (where a SQLite snapshot bound for S3 is staged).
    pub url: String,
    pub target: Target,
    pub every: Duration,
    pub keep: usize,
}

/// Starts the schedule in the background: the first backup a period after the newest one at
/// the target (at once if there is none or it is older; a period after the start if the
/// target cannot be listed), then one every period. Restarts more often than the period
/// therefore do not postpone backups for ever. Abort the handle to stop it (before the store
/// closes).
pub fn spawn(schedule: Schedule) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let first = match schedule.target.list().await {
            Ok(names) => first_delay(names.last().and_then(|name| names::taken_at(name)), schedule.every),
            Err(error) => {
                tracing::warn!(to = %schedule.target.describe(), "listing backups failed: {error}");
                schedule.every
            }
        };
        let start = tokio::time::Instant::now() + first;
        let mut ticks = tokio::time::interval_at(start, schedule.every);
        // A backup longer than the period delays the next one instead of bunching them.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            once(&schedule).await;
        }
    })
}

/// How long until the first backup: `every` after the newest one, `newest` (none: at once).
fn first_delay(newest: Option<SystemTime>, every: Duration) -> Duration {
    let Some(newest) = newest else { return Duration::ZERO };
    let age = SystemTime::now().duration_since(newest).unwrap_or_default();
    every.saturating_sub(age)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_backup_is_due_a_period_after_the_newest() {
        let hour = Duration::from_secs(3600);
        assert_eq!(first_delay(None, hour), Duration::ZERO);
        let ten_minutes_ago = SystemTime::now() - Duration::from_secs(600);
        let delay = first_delay(Some(ten_minutes_ago), hour);
        assert!(delay <= Duration::from_secs(3000) && delay > Duration::from_secs(2990), "{delay:?}");
        assert_eq!(first_delay(Some(SystemTime::now() - 2 * hour), hour), Duration::ZERO);
    }
}
