//! The scheduler task of one bot and the handle that feeds it.
//!
//! One task owns every budget and queue, so no lock is held while deciding what goes next;
//! the sends themselves run in their own tasks and report back. A lane is where ordering and
//! per-chat limits apply: one per chat, plus one for bot-scoped requests.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::bucket::{Gcra, Limit, later};
use super::{Config, Metrics, Priority, Transport};
use crate::Error;
use crate::client::{Client, decode};
use crate::upload::Request;

/// Messages handled between two scheduling passes, so a flood of submissions is taken in
/// (and interactive ones can overtake bulk ones) before anything is dispatched.
const DRAIN_BATCH: usize = 1024;

/// A handle to one bot's send scheduler; cheap to clone.
///
/// The scheduler task stops once every handle is dropped and every accepted submission has
/// resolved: dropping the handles does not lose queued sends.
#[derive(Clone)]
pub struct Scheduler {
    tx: mpsc::UnboundedSender<Job>,
    interactive: Arc<Semaphore>,
    bulk: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler").field("metrics", &self.metrics.snapshot()).finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Starts a scheduler task on the current tokio runtime (panics outside one, like
    /// `tokio::spawn`).
    pub fn new(transport: Arc<dyn Transport>, config: Config) -> Self {
        let (tx, submissions) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let metrics = Arc::new(Metrics::default());
        let capacity = |n: usize| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)));
        let scheduler = Scheduler {
            tx,
            interactive: capacity(config.interactive_capacity),
            bulk: capacity(config.bulk_capacity),
            metrics: Arc::clone(&metrics),
        };
        let now = Instant::now();
        let actor = Actor {
            bot_id: transport.bot_id(),
            transport,
            metrics,
            submissions,
            done_tx,
            done_rx,
            lanes: HashMap::new(),
            bot: Gcra::new(now),
            aged: Gcra::new(now),
            bot_paused_until: None,
            recent_429: VecDeque::new(),
            ready_interactive: VecDeque::new(),
            ready_aged: VecDeque::new(),
            ready_bulk: VecDeque::new(),
            timers: BinaryHeap::new(),
            next_epoch: 0,
            queued: 0,
            in_flight: 0,
            closed: false,
            config,
        };
        tokio::spawn(actor.run());
        scheduler
    }

    /// A scheduler sending through `client`.
    pub fn for_client(client: Client, config: Config) -> Self {
        Scheduler::new(Arc::new(client), config)
    }

    /// Queues `request`, waiting while its priority's queue is full. The handle resolves to
    /// the method's result once it was sent (retries included) or failed for good.
    pub async fn submit<R: DeserializeOwned>(
        &self,
        priority: Priority,
        request: Request,
    ) -> Result<SendHandle<R>, Error> {
        let permit = Arc::clone(self.capacity(priority)).acquire_owned().await.map_err(|_| Error::Closed)?;
        self.enqueue(priority, request, permit)
    }

    /// Queues `request` or answers [`Error::QueueFull`] at once.
    pub fn try_submit<R: DeserializeOwned>(
        &self,
        priority: Priority,
        request: Request,
    ) -> Result<SendHandle<R>, Error> {
        let permit = match Arc::clone(self.capacity(priority)).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => return Err(Error::QueueFull),
            Err(TryAcquireError::Closed) => return Err(Error::Closed),
        };
        self.enqueue(priority, request, permit)
    }

    /// Submits `method` with `params` and waits for its result.
    pub async fn call<P, R>(&self, priority: Priority, method: &str, params: &P) -> Result<R, Error>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.submit(priority, Request::new(method, params)?).await?.await
    }

    /// Live counters (sent, retried, 429s, queue depth, …).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn capacity(&self, priority: Priority) -> &Arc<Semaphore> {
        match priority {
            Priority::Interactive => &self.interactive,
            Priority::Bulk => &self.bulk,
        }
    }

    fn enqueue<R>(
        &self,
        priority: Priority,
        request: Request,
        permit: OwnedSemaphorePermit,
    ) -> Result<SendHandle<R>, Error> {
        let (reply, rx) = oneshot::channel();
        let method = request.method().to_owned();
        let job = Job {
            request,
            priority,
            reply,
            queued_at: Instant::now(),
            attempts: 0,
            rate_limited: 0,
            not_before: None,
            span: tracing::Span::current(),
            _permit: permit,
        };
        Metrics::add(&self.metrics.queued, 1);
        if self.tx.send(job).is_err() {
            Metrics::sub(&self.metrics.queued, 1);
            return Err(Error::Closed);
        }
        Ok(SendHandle { method, rx, _result: PhantomData })
    }
}

/// Resolves to the result of one submission.
///
/// Dropping it does not cancel the send.
#[must_use = "dropping the handle does not cancel the send, but loses its result"]
pub struct SendHandle<R> {
    method: String,
    rx: oneshot::Receiver<Result<Value, Error>>,
    _result: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for SendHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendHandle").field("method", &self.method).finish_non_exhaustive()
    }
}

impl<R: DeserializeOwned> Future for SendHandle<R> {
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Ready(Ok(Ok(value))) => Poll::Ready(decode(&this.method, value)),
            Poll::Ready(Ok(Err(err))) => Poll::Ready(Err(err)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A chat as named by a request's `chat_id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ChatKey {
    Id(i64),
    /// `@channelusername`.
    Name(String),
}

impl fmt::Display for ChatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatKey::Id(id) => write!(f, "{id}"),
            ChatKey::Name(name) => f.write_str(name),
        }
    }
}

/// Where a request queues: its chat, or the bot itself when it names no chat.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Lane {
    Bot,
    Chat(ChatKey),
}

impl Lane {
    fn of(request: &Request) -> Lane {
        match request.chat_id() {
            Some(Value::Number(n)) => n.as_i64().map_or(Lane::Bot, |id| Lane::Chat(ChatKey::Id(id))),
            Some(Value::String(s)) => Lane::Chat(match s.parse() {
                Ok(id) => ChatKey::Id(id),
                Err(_) => ChatKey::Name(s.clone()),
            }),
            _ => Lane::Bot,
        }
    }

    /// Chats send one request at a time to keep their order; bot-scoped requests do not.
    fn is_serial(&self) -> bool {
        matches!(self, Lane::Chat(_))
    }
}

struct Job {
    request: Request,
    priority: Priority,
    reply: oneshot::Sender<Result<Value, Error>>,
    /// When it was submitted; a bulk job's age decides when it is ordered like an interactive
    /// one.
    queued_at: Instant,
    /// Failed attempts (network errors, 5xx).
    attempts: u32,
    /// 429 answers received.
    rate_limited: u32,
    /// Backoff: not to be sent before this instant.
    not_before: Option<Instant>,
    /// The span current when it was submitted: the caller's span of the call, on which the
    /// retries are recorded as `ferrogram.retries` once it is settled (a span that does not
    /// declare the field ignores it).
    span: tracing::Span,
    /// The submission's place in its bounded queue, freed when the job is dropped.
    _permit: OwnedSemaphorePermit,
}

impl Job {
    /// Records on the submitter's span how many times the request was repeated.
    fn record_retries(&self) {
        self.span.record("ferrogram.retries", self.attempts + self.rate_limited);
    }
}

struct Done {
    lane: Lane,
    job: Job,
    result: Result<Value, Error>,
}

/// Reports a send back to the scheduler even if the transport panics, so the chat is not left
/// waiting for a send that will never resolve.
struct InFlight {
    lane: Lane,
    job: Option<Job>,
    done: mpsc::UnboundedSender<Done>,
}

impl InFlight {
    fn finish(mut self, result: Result<Value, Error>) {
        if let Some(job) = self.job.take() {
            let lane = self.lane.clone();
            let _ = self.done.send(Done { lane, job, result });
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            let result = Err(Error::InvalidRequest("the transport panicked".into()));
            let lane = self.lane.clone();
            let _ = self.done.send(Done { lane, job, result });
        }
    }
}

struct LaneState {
    interactive: VecDeque<Job>,
    bulk: VecDeque<Job>,
    gcra: Gcra,
    paused_until: Option<Instant>,
    in_flight: usize,
    /// Identifies the lane's one valid entry in the ready queues or timers; older entries
    /// are skipped when they come up.
    epoch: u64,
}

impl LaneState {
    fn new(now: Instant) -> Self {
        LaneState {
            interactive: VecDeque::new(),
            bulk: VecDeque::new(),
            gcra: Gcra::new(now),
            paused_until: None,
            in_flight: 0,
            epoch: 0,
        }
    }

    /// The job to send next and its class: interactive jobs first, except that a bulk job that
    /// has waited `max_wait` goes before the interactive jobs submitted after it.
    fn head(&self, now: Instant, max_wait: Duration) -> Option<(&Job, Class)> {
        let aged = |job: &Job| now.saturating_duration_since(job.queued_at) >= max_wait;
        match (self.interactive.front(), self.bulk.front()) {
            (Some(first), Some(bulk)) if aged(bulk) && bulk.queued_at < first.queued_at => {
                Some((bulk, Class::AgedBulk))
            }
            (Some(first), _) => Some((first, Class::Interactive)),
            (None, Some(bulk)) if aged(bulk) => Some((bulk, Class::AgedBulk)),
            (None, Some(bulk)) => Some((bulk, Class::Bulk)),
            (None, None) => None,
        }
    }

    /// What identifies the head, to tell whether a submission changed it.
    fn head_key(&self, now: Instant, max_wait: Duration) -> Option<(Instant, Class)> {
        self.head(now, max_wait).map(|(job, class)| (job.queued_at, class))
    }

    fn pop_head(&mut self, now: Instant, max_wait: Duration) -> Option<Job> {
        let priority = self.head(now, max_wait)?.0.priority;
        self.queue(priority).pop_front()
    }

    fn queue(&mut self, priority: Priority) -> &mut VecDeque<Job> {
        match priority {
            Priority::Interactive => &mut self.interactive,
            Priority::Bulk => &mut self.bulk,
        }
    }
}

/// How a lane's head is dispatched, in this order: interactive at once; bulk that waited past
/// [`Config::bulk_max_wait`] paced by its own share of the bot budget, so interactive load
/// cannot starve it; other bulk paced by the bot budget that interactive sends also use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Interactive,
    AgedBulk,
    Bulk,
}

/// A lane to look at again at `at`.
struct Timer {
    at: Instant,
    epoch: u64,
    lane: Lane,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.epoch) == (other.at, other.epoch)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.epoch).cmp(&(other.at, other.epoch))
    }
}

struct Actor {
    /// The `bot` label of the metrics.
    bot_id: u64,
    transport: Arc<dyn Transport>,
    config: Config,
    metrics: Arc<Metrics>,
    submissions: mpsc::UnboundedReceiver<Job>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    lanes: HashMap<Lane, LaneState>,
    /// The bot-wide budget.
    bot: Gcra,
    /// The bot-wide budget's share for aged bulk sends: they use it alone.
    aged: Gcra,
    bot_paused_until: Option<Instant>,
    /// Recent 429s on chats, to tell a bot-wide limit from a per-chat one.
    recent_429: VecDeque<(Instant, ChatKey)>,
    /// Lanes whose head may go now: interactive ones at once, bulk ones as the bot budget
    /// allows.
    ready_interactive: VecDeque<(Lane, u64)>,
    ready_aged: VecDeque<(Lane, u64)>,
    ready_bulk: VecDeque<(Lane, u64)>,
    /// Lanes waiting for a budget, a pause or a backoff to run out (or to be forgotten).
    timers: BinaryHeap<Reverse<Timer>>,
    next_epoch: u64,
    /// Jobs in the lanes' queues.
    queued: usize,
    /// Jobs on the wire.
    in_flight: usize,
    /// Every handle is gone: finish what was accepted, then stop.
    closed: bool,
}

impl Actor {
    async fn run(mut self) {
        loop {
            self.pump(Instant::now());
            if self.closed && self.queued == 0 && self.in_flight == 0 {
                break;
            }
            let wake = self.next_wake(Instant::now());
            tokio::select! {
                biased;
                Some(done) = self.done_rx.recv() => self.on_done(done),
                job = self.submissions.recv(), if !self.closed => match job {
                    Some(job) => self.on_submit(job),
                    None => self.closed = true,
                },
                () = wait_until(wake) => {}
            }
            self.drain();
        }
    }

    /// Takes in what else has arrived before the next scheduling pass.
    fn drain(&mut self) {
        for _ in 0..DRAIN_BATCH {
            if let Ok(done) = self.done_rx.try_recv() {
                self.on_done(done);
                continue;
            }
            if self.closed {
                return;
            }
            match self.submissions.try_recv() {
                Ok(job) => self.on_submit(job),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn on_submit(&mut self, job: Job) {
        let now = Instant::now();
        let lane = Lane::of(&job.request);
        self.queued += 1;
        let max_wait = self.config.bulk_max_wait;
        let state = self.lanes.entry(lane.clone()).or_insert_with(|| LaneState::new(now));
        let before = state.head_key(now, max_wait);
        state.queue(job.priority).push_back(job);
        // A job behind others of its priority changes nothing about when the lane can go.
        if state.head_key(now, max_wait) != before {
            self.arm(&lane, now);
        }
    }

    fn on_done(&mut self, Done { lane, mut job, result }: Done) {
        let now = Instant::now();
        self.in_flight -= 1;
        Metrics::sub(&self.metrics.in_flight, 1);
        if let Some(state) = self.lanes.get_mut(&lane) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        match result {
            Ok(value) => {
                Metrics::add(&self.metrics.sent, 1);
                job.record_retries();
                let _ = job.reply.send(Ok(value));
            }
            Err(err) if err.is_rate_limited() => {
                Metrics::add(&self.metrics.rate_limited, 1);
                // retry_after comes from the server: bounded so a bad one cannot stop the bot.
                let wait =
                    err.retry_after().unwrap_or(self.config.default_retry_after).min(self.config.max_retry_after);
                self.pause(&lane, now, wait);
                if job.rate_limited < self.config.max_rate_limited_retries {
                    job.rate_limited += 1;
                    crate::telemetry::api_retry(self.bot_id, job.request.method(), &err);
                    self.requeue(&lane, job, now);
                } else {
                    self.fail(job, err);
                }
            }
            Err(err) if err.is_retryable() && self.config.ambiguous_sends.allows_retry(job.request.method(), &err) => {
                job.attempts += 1;
                if self.config.retry.allows_retry(job.attempts) {
                    let delay = self.config.retry.delay(job.attempts);
                    tracing::debug!(
                        method = job.request.method(),
                        attempt = job.attempts,
                        ?delay,
                        error = %err,
                        "send failed, retrying"
                    );
                    job.not_before = Some(later(now, delay));
                    crate::telemetry::api_retry(self.bot_id, job.request.method(), &err);
                    self.requeue(&lane, job, now);
                } else {
                    self.fail(job, err);
                }
            }
            Err(err) => self.fail(job, err),
        }
        self.arm(&lane, now);
    }

    /// Puts a job back at the head of its queue, keeping the chat's order.
    fn requeue(&mut self, lane: &Lane, job: Job, now: Instant) {
        self.queued += 1;
        Metrics::add(&self.metrics.queued, 1);
        Metrics::add(&self.metrics.retried, 1);
        self.lanes.entry(lane.clone()).or_insert_with(|| LaneState::new(now)).queue(job.priority).push_front(job);
    }

    fn fail(&self, job: Job, err: Error) {
        Metrics::add(&self.metrics.failed, 1);
        tracing::debug!(method = job.request.method(), error = %err, "send failed");
        job.record_retries();
        let _ = job.reply.send(Err(err));
    }

    /// Applies a 429 to the scope it names; see the module documentation for the rule.
    fn pause(&mut self, lane: &Lane, now: Instant, wait: Duration) {
        let until = later(now, wait);
        let Lane::Chat(chat) = lane else {
            self.pause_bot(until, "429 on a bot-scoped request");
            return;
        };
        let state = self.lanes.entry(lane.clone()).or_insert_with(|| LaneState::new(now));
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        tracing::warn!(%chat, retry_after = ?wait, "429: chat paused");
        crate::telemetry::flood_pause(self.bot_id, false);

        let window = self.config.bot_pause_window;
        while self.recent_429.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > window) {
            self.recent_429.pop_front();
        }
        self.recent_429.push_back((now, chat.clone()));
        let chats: HashSet<&ChatKey> = self.recent_429.iter().map(|(_, chat)| chat).collect();
        if chats.len() >= self.config.bot_pause_chats {
            self.pause_bot(until, "429 on several chats at once");
            self.recent_429.clear();
        }
    }

    fn pause_bot(&mut self, until: Instant, why: &str) {
        crate::telemetry::flood_pause(self.bot_id, true);
        let until = self.bot_paused_until.map_or(until, |p| p.max(until));
        self.bot_paused_until = Some(until);
        tracing::warn!(
            pause = ?until.saturating_duration_since(Instant::now()),
            "{why}: bot paused"
        );
    }

    fn limit_of(&self, lane: &Lane) -> Option<Limit> {
        match lane {
            Lane::Bot => None,
            Lane::Chat(ChatKey::Id(id)) if *id > 0 => Some(self.config.private_chat),
            Lane::Chat(_) => Some(self.config.group_chat),
        }
    }

    fn is_current(&self, lane: &Lane, epoch: u64) -> bool {
        self.lanes.get(lane).is_some_and(|state| state.epoch == epoch)
    }

    /// Decides when `lane` can send next and files it accordingly; forgets the lane once it
    /// is idle and its budget is full again.
    fn arm(&mut self, lane: &Lane, now: Instant) {
        self.next_epoch += 1;
        let epoch = self.next_epoch;
        let limit = self.limit_of(lane);
        let bot_paused_until = self.bot_paused_until;
        let Some(state) = self.lanes.get_mut(lane) else {
            return;
        };
        state.epoch = epoch;
        if lane.is_serial() && state.in_flight > 0 {
            return;
        }
        let Some((head, class)) = state.head(now, self.config.bulk_max_wait) else {
            if state.in_flight == 0 {
                let idle_at = state.gcra.idle_at().max(state.paused_until.unwrap_or(now));
                if idle_at <= now {
                    self.lanes.remove(lane);
                } else {
                    self.timers.push(Reverse(Timer { at: idle_at, epoch, lane: lane.clone() }));
                }
            }
            return;
        };
        let interactive = head.priority == Priority::Interactive;
        let mut at = now;
        for blocker in [head.not_before, state.paused_until, bot_paused_until].into_iter().flatten() {
            at = at.max(blocker);
        }
        if let Some(limit) = limit {
            at = at.max(state.gcra.ready_at(&limit, interactive, now));
        }
        if at > now {
            self.timers.push(Reverse(Timer { at, epoch, lane: lane.clone() }));
        } else {
            if class == Class::Bulk {
                // Looked at again once it has waited long enough to be aged.
                let aged_at = later(head.queued_at, self.config.bulk_max_wait);
                self.timers.push(Reverse(Timer { at: aged_at, epoch, lane: lane.clone() }));
            }
            self.ready(class).push_back((lane.clone(), epoch));
        }
    }

    /// One scheduling pass: wake lanes whose wait is over, send ready interactive heads, then
    /// aged and other bulk heads as far as their budgets allow, all while fewer than
    /// `max_in_flight` requests are on the wire.
    fn pump(&mut self, now: Instant) {
        while self.timers.peek().is_some_and(|Reverse(t)| t.at <= now) {
            let Some(Reverse(timer)) = self.timers.pop() else {
                break;
            };
            if self.is_current(&timer.lane, timer.epoch) {
                self.arm(&timer.lane, now);
            }
        }
        while self.has_free_slot() {
            let Some((lane, epoch)) = self.ready_interactive.pop_front() else {
                break;
            };
            if self.is_current(&lane, epoch) {
                self.dispatch(lane, now);
            }
        }
        self.dispatch_paced(Class::AgedBulk, now);
        self.dispatch_paced(Class::Bulk, now);
    }

    /// Sends ready bulk heads of `class` as far as its budget allows.
    fn dispatch_paced(&mut self, class: Class, now: Instant) {
        while self.has_free_slot() && self.budget(class).ready_at(&self.config.bot, false, now) <= now {
            let Some((lane, epoch)) = self.ready(class).pop_front() else {
                break;
            };
            if self.is_current(&lane, epoch) {
                self.dispatch(lane, now);
            }
        }
    }

    fn ready(&mut self, class: Class) -> &mut VecDeque<(Lane, u64)> {
        match class {
            Class::Interactive => &mut self.ready_interactive,
            Class::AgedBulk => &mut self.ready_aged,
            Class::Bulk => &mut self.ready_bulk,
        }
    }

    /// The bot-wide budget that paces a class of bulk sends.
    fn budget(&self, class: Class) -> &Gcra {
        if class == Class::AgedBulk { &self.aged } else { &self.bot }
    }

    fn has_free_slot(&self) -> bool {
        self.in_flight < self.config.max_in_flight.max(1)
    }

    /// Sends the head of a ready lane.
    fn dispatch(&mut self, lane: Lane, now: Instant) {
        if self.bot_paused_until.is_some_and(|until| until > now) {
            self.arm(&lane, now);
            return;
        }
        let limit = self.limit_of(&lane);
        let Some(state) = self.lanes.get_mut(&lane) else {
            return;
        };
        let Some((_, class)) = state.head(now, self.config.bulk_max_wait) else {
            return;
        };
        let Some(job) = state.pop_head(now, self.config.bulk_max_wait) else {
            return;
        };
        if let Some(limit) = limit {
            state.gcra.record(&limit, now);
        }
        state.in_flight += 1;
        match class {
            Class::Interactive => self.bot.record(&self.config.bot, now),
            Class::AgedBulk => {
                self.aged.record_paced(&self.config.bot, now);
                self.bot.record_paced(&self.config.bot, now);
            }
            Class::Bulk => self.bot.record_paced(&self.config.bot, now),
        }
        self.queued -= 1;
        self.in_flight += 1;
        Metrics::sub(&self.metrics.queued, 1);
        Metrics::add(&self.metrics.in_flight, 1);
        if job.attempts == 0 && job.rate_limited == 0 {
            let waited = now.saturating_duration_since(job.queued_at);
            crate::telemetry::flood_queue_wait(self.bot_id, job.priority, waited);
        }

        let transport = Arc::clone(&self.transport);
        let in_flight = InFlight { lane: lane.clone(), job: Some(job), done: self.done_tx.clone() };
        tokio::spawn(async move {
            let result = match &in_flight.job {
                Some(job) => transport.send(&job.request).await,
                None => return,
            };
            in_flight.finish(result);
        });
        self.arm(&lane, now);
    }

    /// When the next pass is due: the earliest timer, or the bot budget's next bulk slot (while
    /// a request may start: else the next finished one wakes the task).
    fn next_wake(&self, now: Instant) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse(t)| t.at);
        let paced = [(Class::AgedBulk, &self.ready_aged), (Class::Bulk, &self.ready_bulk)]
            .into_iter()
            .filter(|(_, ready)| !ready.is_empty() && self.has_free_slot())
            .map(|(class, _)| self.budget(class).ready_at(&self.config.bot, false, now));
        timer.into_iter().chain(paced).min()
    }
}

async fn wait_until(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
