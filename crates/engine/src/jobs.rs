//! Scheduled jobs: one scheduler task per bot version, sleeping until the earliest next run,
//! running that job's steps (under the update time budget), then computing its next run.
//!
//! Next runs are kept behind [`StateStore`]: a scheduler starting (the bot starting, or being
//! reloaded) keeps a stored next run that is still ahead and no later than the schedule's own
//! next time, so a reload does not reset an `every: 1h` job; a stored time already past (the
//! process was down) runs once at once. Times are seconds since the Unix epoch, UTC.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrogram_schema::Schedule;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::deliver::commit;
use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::dispatch::run_guarded;
use crate::interpret::steps;
use crate::telemetry;
use ferrogram_core::StateStore;

/// Runs the job `name` of the bot once, as its schedule does: its steps under `budget` (in a
/// task of their own, like an update's handler), then its effects committed and delivered
/// like an update's. A failure is logged; either way the run is counted
/// (`ferrogram_job_runs_total`, `ok` once its effects are committed).
pub async fn run_once(context: Arc<BotContext>, loaded: Arc<Loaded>, name: String, budget: Duration) {
    let bot_id = context.bot_id;
    match run_guarded(budget, steps::run::run_job(Arc::clone(&context), loaded, name.clone())).await {
        // A failed commit is logged by `commit`; the run's effects are lost with it.
        Ok(handled) => match commit::commit(bot_id, &context.outbox, handled).await {
            Some(entries) => {
                telemetry::job_run(bot_id, &name, true);
                context.outbox.deliver(entries).await;
            }
            None => telemetry::job_run(bot_id, &name, false),
        },
        Err(error) => {
            tracing::error!(bot_id, job = %name, %error, "the job failed");
            telemetry::job_run(bot_id, &name, false);
        }
    }
}

/// Runs `jobs` of bot `bot` until `stop` turns true: calls `run(index)` for each due job, one at
/// a time, and records each next run in `store`.
pub async fn schedule<F, Fut>(
    bot: u64,
    jobs: Vec<(String, Schedule)>,
    store: Arc<dyn StateStore>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    run: F,
) where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    if jobs.is_empty() {
        return;
    }
    let now = clock.now();
    let mut next: Vec<Option<u64>> = Vec::with_capacity(jobs.len());
    for (name, schedule) in &jobs {
        let planned = schedule.next_after(now);
        let stored = match store.load_next_run(bot, name).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(bot_id = bot, job = %name, %error, "reading the job's next run failed");
                None
            }
        };
        let at = match (stored, planned) {
            (Some(stored), Some(planned)) if stored <= planned => Some(stored),
            _ => planned,
        };
        save(&*store, bot, name, at).await;
        next.push(at);
    }
    loop {
        let Some((index, at)) = next.iter().enumerate().filter_map(|(i, at)| at.map(|at| (i, at))).min_by_key(|p| p.1)
        else {
            return;
        };
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep_until(clock.instant_of(at)) => {}
        }
        let (name, schedule) = &jobs[index];
        // Claim the run before running it: of several processes running this bot, the one
        // whose compare-and-set moves `at` to the following time runs it; the others adopt
        // what the winner stored.
        let following = following_run(schedule, at, clock.now());
        match store.claim_next_run(bot, name, Some(at), following).await {
            Ok(true) => {
                tracing::debug!(bot_id = bot, job = %name, at, "job due");
                run(index).await;
                // Skip the times missed while it ran, keeping an interval's cadence.
                let after = following_run(schedule, at, clock.now());
                if after != following && store.claim_next_run(bot, name, following, after).await.unwrap_or(false) {
                    next[index] = after;
                } else {
                    next[index] = following;
                }
            }
            Ok(false) => {
                tracing::debug!(bot_id = bot, job = %name, at, "job run claimed by another process");
                next[index] = match store.load_next_run(bot, name).await {
                    Ok(stored) => stored,
                    Err(_) => following,
                };
            }
            Err(error) => {
                // Without the store no process can coordinate: run rather than miss the run.
                tracing::warn!(bot_id = bot, job = %name, %error, "claiming the job's run failed; running it");
                run(index).await;
                save(&*store, bot, name, following).await;
                next[index] = following;
            }
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The first scheduled time after `at` that is still ahead of `now`.
fn following_run(schedule: &Schedule, at: u64, now: u64) -> Option<u64> {
    let mut following = schedule.next_after(at);
    for _ in 0..1_000 {
        match following {
            Some(n) if n <= now => following = schedule.next_after(n),
            _ => break,
        }
    }
    if following.is_some_and(|n| n <= now) {
        following = schedule.next_after(now);
    }
    following
}

async fn save(store: &dyn StateStore, bot: u64, job: &str, at: Option<u64>) {
    if let Err(error) = store.save_next_run(bot, job, at).await {
        tracing::warn!(bot_id = bot, job, %error, "recording the job's next run failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrogram_core::MemoryStore;
    use parking_lot::Mutex;
    use std::time::Duration;

    fn every(secs: u64) -> Schedule {
        Schedule::Every(Duration::from_secs(secs))
    }

    #[tokio::test(start_paused = true)]
    async fn every_jobs_run_on_time_until_stopped() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let clock = Clock::at(1_000);
        let runs = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let jobs = vec![("tick".to_string(), every(30)), ("slow".to_string(), every(100))];
        let recorded = Arc::clone(&runs);
        let now = clock.clone();
        let task = tokio::spawn(schedule(7, jobs, Arc::clone(&store), clock, stopped, move |i| {
            let (recorded, now) = (Arc::clone(&recorded), now.clone());
            async move { recorded.lock().push((i, now.now())) }
        }));
        tokio::time::sleep(Duration::from_secs(205)).await;
        assert_eq!(
            *runs.lock(),
            [(0, 1_030), (0, 1_060), (0, 1_090), (1, 1_100), (0, 1_120), (0, 1_150), (0, 1_180), (1, 1_200)]
        );
        assert_eq!(store.load_next_run(7, "tick").await.unwrap(), Some(1_210));
        assert_eq!(store.load_next_run(7, "slow").await.unwrap(), Some(1_300));
        stop.send_replace(true);
        task.await.unwrap();
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert_eq!(runs.lock().len(), 8, "no run after the stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_keeps_the_stored_next_run_and_a_slow_run_skips_missed_times() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        store.save_next_run(7, "tick", Some(1_010)).await.unwrap();
        let clock = Clock::at(1_000);
        let runs = Arc::new(Mutex::new(Vec::new()));
        let (_stop, stopped) = watch::channel(false);
        let recorded = Arc::clone(&runs);
        let now = clock.clone();
        tokio::spawn(schedule(7, vec![("tick".to_string(), every(30))], store, clock, stopped, move |i| {
            let (recorded, now) = (Arc::clone(&recorded), now.clone());
            async move {
                recorded.lock().push((i, now.now()));
                // The first run takes longer than the interval.
                if recorded.lock().len() == 1 {
                    tokio::time::sleep(Duration::from_secs(45)).await;
                }
            }
        }));
        tokio::time::sleep(Duration::from_secs(120)).await;
        // 1010 (kept from the store), 1040 missed while it ran, then 1070, 1100.
        assert_eq!(*runs.lock(), [(0, 1_010), (0, 1_070), (0, 1_100)]);
    }

    #[tokio::test(start_paused = true)]
    async fn two_processes_run_each_job_time_once() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let clock = Clock::at(1_000);
        let runs = Arc::new(Mutex::new(Vec::new()));
        let (_stop, stopped) = watch::channel(false);
        for process in 0..2 {
            let recorded = Arc::clone(&runs);
            let jobs = vec![("tick".to_string(), every(30))];
            let now = clock.clone();
            tokio::spawn(schedule(7, jobs, Arc::clone(&store), clock.clone(), stopped.clone(), move |_| {
                let (recorded, now) = (Arc::clone(&recorded), now.clone());
                async move { recorded.lock().push((process, now.now())) }
            }));
        }
        tokio::time::sleep(Duration::from_secs(95)).await;
        let times: Vec<u64> = runs.lock().iter().map(|(_, at)| *at).collect();
        assert_eq!(times, [1_030, 1_060, 1_090], "each time once, whichever process won it: {:?}", runs.lock());
    }
}
