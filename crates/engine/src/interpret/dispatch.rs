//! Per-chat ordered queues, many chats in parallel.
//!
//! Each chat with pending updates has one worker task that handles them one by one; a chat
//! with none has no task (the worker exits when its queue is empty). A semaphore bounds how
//! many updates of the bot run at once. Each update runs in its own task under the time
//! budget (and its step and fuel budgets, which the interpreter counts), so a panic, a hang or
//! a runaway loop is contained: it is logged (with the budget that ran out) and answered through
//! the error handler, and the chat's next update goes on. Once its handler finished (successfully or
//! not), the update is marked handled in the same commit as its effects (see `deliver/`),
//! and its calls are delivered before the chat's next update is handled. An update
//! whose handler panicked or overran its budget is also set aside as a dead letter (see
//! [`set_aside`]): it is not tried again by itself.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};
use tracing::{Instrument, Span};

use crate::deliver::commit::{self, Handled};
use crate::error::EngineError;
use crate::interpret::context::{BotContext, Loaded};
use crate::interpret::steps;
use crate::telemetry::{self, Handling};
use crate::traces;
use crate::update::Event;
use ferrogram_core::{Commit, DeadLetter, Tally, TallyOutcome};

/// One update and the bot version it was dispatched under.
pub struct Job {
    pub event: Event,
    pub loaded: Arc<Loaded>,
    /// The update's JSON as stored in the inbox (for a dead letter).
    pub raw: String,
    /// Which attempt at the update this is (1 when it was just received, one more at each
    /// replay): past the dispatcher's `max_attempts`, the update is set aside unhandled, since
    /// every earlier attempt ended with the process stopping or hanging mid-handler.
    pub attempt: u32,
}

/// A queued job, its `update` span, and when it was dispatched.
type Queued = (Job, Span, Instant);

pub struct Dispatcher {
    bot: Arc<BotContext>,
    /// Each job with its `update` span, opened when it was dispatched (see [`traces`]), and
    /// when it was dispatched (its reply latency counts from there).
    queues: Mutex<HashMap<i64, VecDeque<Queued>>>,
    permits: Arc<Semaphore>,
    budget: Duration,
    /// Attempts an update gets before it is set aside (see [`Job::attempt`]).
    max_attempts: u32,
    /// Kept by the host across the bot's runtimes (an idle bot's runtime is dropped and built
    /// again), so the count goes on.
    handled: Arc<watch::Sender<u64>>,
    /// Set when the bot stops: workers take no further job (what is queued stays unhandled in
    /// the inbox for the next start) and new dispatches are dropped the same way.
    stopping: AtomicBool,
    /// How many jobs are being handled now (from taking the job to its delivery).
    running: watch::Sender<usize>,
    /// Jobs dispatched whose update is not handled yet (queued or running; one whose commit
    /// failed stays counted: its update stays unhandled in the inbox). `ferrogram_inbox_pending`
    /// is set under the lock, so the last value set is the count.
    pending: Mutex<usize>,
}

impl Dispatcher {
    /// A dispatcher running at most `max_concurrent` updates at once, each under `budget`, and
    /// setting aside an update dispatched for more than its `max_attempts`th time.
    pub fn new(
        bot: Arc<BotContext>,
        max_concurrent: usize,
        budget: Duration,
        max_attempts: u32,
        handled: Arc<watch::Sender<u64>>,
    ) -> Arc<Dispatcher> {
        // A new run counts from nothing: what the last one left is replayed, and counted, again.
        telemetry::inbox_pending(bot.bot_id, 0);
        Arc::new(Dispatcher {
            bot,
            queues: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(max_concurrent.clamp(1, Semaphore::MAX_PERMITS))),
            budget,
            max_attempts: max_attempts.max(1),
            handled,
            stopping: AtomicBool::new(false),
            running: watch::Sender::new(0),
            pending: Mutex::new(0),
        })
    }

    /// How many updates were handled (successfully or not) so far.
    pub fn handled(&self) -> watch::Receiver<u64> {
        self.handled.subscribe()
    }

    /// Stops taking jobs, then waits until the jobs being handled finished: committed and
    /// their calls delivered (or held for the next start). Queued jobs are not started: their
    /// updates stay unhandled in the inbox and are replayed at the next start.
    pub async fn drain(&self) {
        self.stopping.store(true, AtomicOrdering::SeqCst);
        let mut running = self.running.subscribe();
        // The sender lives in `self`, so this only ends when the count reaches zero.
        let _ = running.wait_for(|n| *n == 0).await;
    }

    /// Whether no job is being handled now.
    pub fn is_idle(&self) -> bool {
        *self.running.borrow() == 0
    }

    /// Changes the count of dispatched, unhandled updates and sets `ferrogram_inbox_pending`.
    fn count_pending(&self, change: impl FnOnce(usize) -> usize) {
        let mut pending = self.pending.lock();
        *pending = change(*pending);
        telemetry::inbox_pending(self.bot.bot_id, *pending);
    }

    /// Whether nothing is running nor queued: no chat's worker holds a job.
    pub fn is_quiet(&self) -> bool {
        self.is_idle() && self.queues.lock().is_empty()
    }

    /// Queues `job` behind its chat's earlier updates.
    pub fn dispatch(self: &Arc<Self>, job: Job) {
        if self.stopping.load(AtomicOrdering::SeqCst) {
            // The update stays unhandled in the inbox: the next start replays it.
            return;
        }
        let key = job.event.queue_key();
        let span = traces::update(self.bot.bot_id, job.event.update_id, job.event.chat_id);
        self.count_pending(|n| n + 1);
        let mut queues = self.queues.lock();
        if let Some(queue) = queues.get_mut(&key) {
            // The chat's worker is running and will take it.
            queue.push_back((job, span, Instant::now()));
            return;
        }
        queues.insert(key, VecDeque::from([(job, span, Instant::now())]));
        drop(queues);
        tokio::spawn(Arc::clone(self).worker(key));
    }

    async fn worker(self: Arc<Self>, key: i64) {
        loop {
            // The queue entry stays while its job runs, so new updates of the chat wait here.
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                return;
            };
            // Counted before the stop flag is read, so `drain` either sees this job running
            // or this worker sees the flag.
            self.running.send_modify(|n| *n += 1);
            let (job, span, dispatched) = {
                let mut queues = self.queues.lock();
                let job = if self.stopping.load(AtomicOrdering::SeqCst) {
                    None
                } else {
                    queues.get_mut(&key).and_then(VecDeque::pop_front)
                };
                match job {
                    Some(taken) => taken,
                    None => {
                        queues.remove(&key);
                        drop(queues);
                        self.running.send_modify(|n| *n -= 1);
                        return;
                    }
                }
            };
            self.run_one(job, dispatched).instrument(span).await;
            drop(permit);
            self.running.send_modify(|n| *n -= 1);
            self.handled.send_modify(|n| *n += 1);
        }
    }

    /// Handles one job: its handler, its commit, its calls delivered; inside its `update` span.
    async fn run_one(&self, job: Job, dispatched: Instant) {
        let (update_id, user_id) = (job.event.update_id, job.event.user_id);
        let started = Instant::now();
        let (mut handled, outcome) = self.process(job).await;
        // Only with the effects: a crash before the commit replays the update at the next
        // start, one after it delivers the committed calls.
        handled.commit.handled = Some(update_id);
        handled.commit.tally = Some(tally(self.bot.clock.now(), user_id, outcome, dispatched.elapsed()));
        let bot_id = self.bot.bot_id;
        let span = Span::current();
        span.record("ferrogram.outcome", outcome.label());
        let committing = traces::commit(bot_id);
        let committed = commit::commit(bot_id, &self.bot.outbox, handled).instrument(committing.clone()).await;
        if committed.is_none() {
            traces::failed(&committing, &"committing failed: left for the next start");
            traces::failed(&span, &"committing failed: left for the next start");
        }
        drop(committing);
        // Counted once committed: an update left for the next start is not handled yet.
        if let Some(entries) = committed {
            telemetry::update_handled(bot_id, outcome, started.elapsed());
            self.count_pending(|n| n.saturating_sub(1));
            self.bot.outbox.deliver(entries).await;
        }
    }

    /// Runs the handler; a failed one changes nothing but for the error reply. Says how it
    /// ended, for the metrics.
    async fn process(&self, job: Job) -> (Handled, Handling) {
        let Job { event, loaded, raw, attempt } = job;
        let (bot_id, update_id, chat_id) = (self.bot.bot_id, event.update_id, event.chat_id);
        if self.bot.is_blocked(event.user_id) {
            // Stored in the inbox and marked handled with nothing else: no handler, no reply.
            let user_id = event.user_id;
            tracing::debug!(bot_id, update_id, chat_id, user_id, "update of a blocked user: not handled");
            return (Handled { commit: Commit { bot: bot_id, ..Commit::default() }, lock: None }, Handling::Blocked);
        }
        if attempt > self.max_attempts {
            let tried = attempt - 1;
            let reason =
                format!("its handler did not finish in {tried} attempts (the process stopped or hung each time)");
            traces::failed(&Span::current(), &reason);
            return (set_aside(bot_id, &loaded, &event, raw, tried, reason), Handling::SetAside);
        }
        let span = traces::handler(bot_id, chat_id);
        let handler = steps::run::handle_update(Arc::clone(&self.bot), Arc::clone(&loaded), event.clone())
            .instrument(span.clone());
        let outcome = run_guarded(self.budget, handler).await;
        if let Err(failure) = &outcome {
            traces::failed(&span, failure);
            traces::failed(&Span::current(), failure);
        }
        drop(span);
        match outcome {
            Ok(handled) => (handled, Handling::Ok),
            // A step that failed (an API down, a refused address) is the bot's business: its
            // error reply tells the user, and the next update may well succeed.
            Err(Failure::Step(error)) => {
                tracing::error!(bot_id, update_id, chat_id, %error, "handling an update failed");
                let commit = Commit {
                    bot: bot_id,
                    outbox: steps::messages::error_reply(&loaded, &event, Some(&error)),
                    ..Commit::default()
                };
                (Handled { commit, lock: None }, Handling::Failed)
            }
            // A panic or a spent budget (time, steps, fuel) would come again: set aside.
            Err(failure) => {
                let budget = failure.budget();
                tracing::error!(bot_id, update_id, chat_id, budget, error = %failure, "handling an update failed");
                (set_aside(bot_id, &loaded, &event, raw, attempt, failure.to_string()), Handling::SetAside)
            }
        }
    }
}

/// Sets an update aside as a dead letter instead of handling it: logged at error level, the
/// user sent the bot's error reply, the letter kept for the operator, the update marked handled
/// (all in the returned commit, which the caller commits as the handler's would be).
pub fn set_aside(bot_id: u64, loaded: &Loaded, event: &Event, raw: String, attempts: u32, reason: String) -> Handled {
    let (update_id, chat_id) = (event.update_id, event.chat_id);
    tracing::error!(bot_id, update_id, chat_id, attempts, %reason, "update set aside as a dead letter: not handled");
    let letter = DeadLetter { update_id, chat_id: Some(chat_id), raw, reason, attempts };
    let commit = Commit {
        bot: bot_id,
        outbox: steps::messages::error_reply(loaded, event, None),
        handled: Some(update_id),
        dead_letter: Some(letter),
        ..Commit::default()
    };
    Handled { commit, lock: None }
}

/// What the update counts for in the daily statistics (decision 0047), handled at `now`
/// (Unix seconds) after `took` since its dispatch.
fn tally(now: u64, user_id: i64, outcome: Handling, took: Duration) -> Tally {
    let outcome = match outcome {
        Handling::Ok => TallyOutcome::Ok,
        Handling::Failed | Handling::SetAside => TallyOutcome::Error,
        Handling::Blocked => TallyOutcome::Blocked,
    };
    Tally {
        at: i64::try_from(now).unwrap_or(i64::MAX),
        // An update without a user (a channel post) has user id 0.
        user_id: (user_id != 0).then_some(user_id),
        outcome,
        latency_ms: (outcome != TallyOutcome::Blocked).then(|| u64::try_from(took.as_millis()).unwrap_or(u64::MAX)),
    }
}

/// Why a handler run failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Step(#[from] EngineError),
    #[error("the handler panicked: {0}")]
    Panic(String),
    #[error("the handler took longer than its {0:?} budget")]
    Timeout(Duration),
    /// The handler spent its steps, its template fuel or its time (checked between steps).
    #[error("the handler was stopped: {0}")]
    Budget(crate::interpret::budget::Exhausted),
}

impl Failure {
    /// The budget that ran out (`steps`, `fuel` or `time`), if that is why the handler failed.
    pub fn budget(&self) -> Option<&'static str> {
        match self {
            Failure::Timeout(_) => Some("time"),
            Failure::Budget(exhausted) => Some(exhausted.budget()),
            Failure::Step(_) | Failure::Panic(_) => None,
        }
    }
}

/// Runs `handler` in its own task under `budget`: a panic, an overrun or a spent step or fuel
/// budget becomes a [`Failure`] instead of taking the worker down. An overrun task is aborted
/// (which takes effect at its next yield: the interpreter yields regularly).
pub async fn run_guarded<F, T>(budget: Duration, handler: F) -> Result<T, Failure>
where
    F: Future<Output = Result<T, EngineError>> + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::spawn(handler);
    let abort = task.abort_handle();
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(Err(EngineError::Budget(exhausted)))) => Err(Failure::Budget(exhausted)),
        Ok(Ok(outcome)) => Ok(outcome?),
        Ok(Err(join)) if join.is_panic() => {
            let payload = join.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            Err(Failure::Panic(message))
        }
        Ok(Err(_)) => Err(Failure::Panic("the handler was cancelled".into())),
        Err(_) => {
            abort.abort();
            Err(Failure::Timeout(budget))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_errors_and_overruns_are_contained() {
        let budget = Duration::from_millis(200);
        assert!(run_guarded(budget, async { Ok(()) }).await.is_ok());
        let panic = run_guarded::<_, ()>(budget, async { panic!("boom") }).await;
        assert!(matches!(panic, Err(Failure::Panic(ref m)) if m == "boom"), "{panic:?}");
        let failed = run_guarded::<_, ()>(budget, async { Err(EngineError::Step("nope".into())) }).await;
        assert!(matches!(failed, Err(Failure::Step(_))));
        assert_eq!(failed.err().and_then(|f| f.budget()), None);
    }

    #[tokio::test]
    async fn a_spent_budget_is_a_failure_naming_its_budget() {
        use crate::interpret::budget::Exhausted;
        let budget = Duration::from_secs(1);
        let spent = run_guarded::<_, ()>(budget, async { Err(EngineError::Budget(Exhausted::Steps(10))) }).await;
        assert!(matches!(spent, Err(Failure::Budget(Exhausted::Steps(10)))), "{spent:?}");
        assert_eq!(spent.err().and_then(|f| f.budget()), Some("steps"));
        assert_eq!(Failure::Timeout(budget).budget(), Some("time"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_overrun_is_aborted() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let slow = async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let _ = tx.send(());
            Ok::<(), EngineError>(())
        };
        let outcome = run_guarded(Duration::from_secs(1), slow).await;
        assert!(matches!(outcome, Err(Failure::Timeout(_))));
        assert!(rx.await.is_err(), "the slow handler was aborted before it finished");
    }
}
