//! Scheduler tests on tokio's paused clock with a scripted transport.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::*;
use crate::Error;

/// One request as the fake transport saw it.
#[derive(Clone, Debug)]
struct Call {
    at: Instant,
    chat: Option<i64>,
    text: Option<String>,
}

/// A transport that records calls, fails them as scripted per chat and can be slowed down or
/// held shut.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Call>>,
    failures: Mutex<HashMap<Option<i64>, VecDeque<Error>>>,
    max_delay: Duration,
    gate: Option<Arc<Semaphore>>,
    active: Mutex<HashMap<Option<i64>, usize>>,
    max_active_per_chat: Mutex<usize>,
    max_active_total: Mutex<usize>,
    count: Option<watch::Sender<usize>>,
}

impl Fake {
    fn new() -> Self {
        Fake { count: Some(watch::channel(0).0), ..Fake::default() }
    }

    fn fail(&self, chat: Option<i64>, errors: impl IntoIterator<Item = Error>) {
        self.failures.lock().entry(chat).or_default().extend(errors);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    fn calls_to(&self, chat: i64) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.chat == Some(chat)).collect()
    }

    async fn wait_for_calls(&self, n: usize) {
        if let Some(count) = &self.count {
            let mut rx = count.subscribe();
            rx.wait_for(|c| *c >= n).await.expect("fake transport alive");
        }
    }
}

impl Transport for Fake {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Value, Error>> {
        Box::pin(async move {
            let chat = request.chat_id().and_then(Value::as_i64);
            let text = request.params().get("text").and_then(Value::as_str).map(str::to_owned);
            if text.as_deref() == Some("boom") {
                panic!("transport bug");
            }
            let failure = self.failures.lock().get_mut(&chat).and_then(VecDeque::pop_front);
            self.calls.lock().push(Call { at: Instant::now(), chat, text: text.clone() });
            if let Some(count) = &self.count {
                count.send_modify(|c| *c += 1);
            }
            {
                let mut active = self.active.lock();
                let n = active.entry(chat).or_default();
                *n += 1;
                let per_chat = *n;
                let total: usize = active.values().sum();
                let mut max = self.max_active_per_chat.lock();
                *max = (*max).max(per_chat);
                let mut max = self.max_active_total.lock();
                *max = (*max).max(total);
            }
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate open").forget();
            }
            if !self.max_delay.is_zero() {
                let nanos = u64::try_from(self.max_delay.as_nanos()).unwrap_or(u64::MAX);
                tokio::time::sleep(Duration::from_nanos(fastrand::u64(0..=nanos))).await;
            }
            if let Some(n) = self.active.lock().get_mut(&chat) {
                *n -= 1;
            }
            match failure {
                Some(err) => Err(err),
                None if request.method().starts_with("send") => {
                    Ok(json!({"message_id": 1, "chat": {"id": chat}, "text": text}))
                }
                None => Ok(Value::Bool(true)),
            }
        })
    }

    fn bot_id(&self) -> u64 {
        0
    }
}

fn api(code: u16, retry_after: Option<u64>) -> Error {
    Error::Api { code, description: format!("error {code}"), retry_after, migrate_to_chat_id: None }
}

fn message(chat: i64, text: &str) -> Request {
    Request::new("sendMessage", &json!({"chat_id": chat, "text": text})).expect("valid request")
}

fn config() -> Config {
    Config {
        retry: Backoff { max_attempts: 5, base: Duration::from_secs(1), cap: Duration::from_secs(60), jitter: false },
        ..Config::default()
    }
}

fn start(fake: Fake, config: Config) -> (Arc<Fake>, Scheduler) {
    let fake = Arc::new(fake);
    let scheduler = Scheduler::new(Arc::clone(&fake) as Arc<dyn Transport>, config);
    (fake, scheduler)
}

async fn submit(s: &Scheduler, priority: Priority, request: Request) -> SendHandle<Value> {
    s.submit(priority, request).await.expect("submitted")
}

fn text_of(value: &Value) -> &str {
    value["text"].as_str().unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn bulk_to_one_group_is_paced_to_20_per_minute() {
    let (fake, s) = start(Fake::new(), config());
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for i in 0..100 {
        handles.push(submit(&s, Priority::Bulk, message(-100, &i.to_string())).await);
    }
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(text_of(&handle.await.expect("sent")), i.to_string());
    }
    let elapsed = t0.elapsed();
    // 100 sends at one per 3 s: the first at once, the last 99 intervals later.
    assert!(elapsed >= Duration::from_secs(297), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(300), "{elapsed:?}");
    let calls = fake.calls_to(-100);
    assert_eq!(calls.len(), 100);
    for pair in calls.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_secs(3));
    }
    assert_eq!(s.metrics().sent(), 100);
}

#[tokio::test(start_paused = true)]
async fn bulk_across_chats_is_paced_to_30_per_second() {
    let (fake, s) = start(Fake::new(), config());
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for chat in 1..=60 {
        handles.push(submit(&s, Priority::Bulk, message(chat, "news")).await);
    }
    for handle in handles {
        handle.await.expect("sent");
    }
    let elapsed = t0.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(2050), "{elapsed:?}");
    let calls = fake.calls();
    // Never more than 30 sends in any one-second window (1 ms of rounding allowed).
    for window in calls.windows(31) {
        assert!(window[30].at - window[0].at >= Duration::from_millis(999));
    }
}

#[tokio::test(start_paused = true)]
async fn interactive_overtakes_queued_bulk_in_its_chat() {
    let (fake, s) = start(Fake::new(), config());
    let mut bulk = Vec::new();
    for i in 0..5 {
        bulk.push(submit(&s, Priority::Bulk, message(7, &format!("b{i}"))).await);
    }
    let urgent = submit(&s, Priority::Interactive, message(7, "urgent")).await;
    let t0 = Instant::now();
    assert_eq!(text_of(&urgent.await.expect("sent")), "urgent");
    assert_eq!(t0.elapsed(), Duration::ZERO);
    for handle in bulk {
        handle.await.expect("sent");
    }
    let texts: Vec<_> = fake.calls().into_iter().filter_map(|c| c.text).collect();
    assert_eq!(texts, ["urgent", "b0", "b1", "b2", "b3", "b4"]);
}

#[tokio::test(start_paused = true)]
async fn interactive_is_not_held_by_a_bulk_backlog() {
    let (fake, s) = start(Fake::new(), config());
    let mut bulk = Vec::new();
    for chat in 1..=300 {
        bulk.push(submit(&s, Priority::Bulk, message(chat, "broadcast")).await);
    }
    fake.wait_for_calls(30).await;
    assert!(s.metrics().queued() > 200, "{:?}", s.metrics().snapshot());
    let asked = Instant::now();
    let reply = submit(&s, Priority::Interactive, message(5000, "reply")).await;
    reply.await.expect("sent");
    assert_eq!(fake.calls_to(5000)[0].at, asked, "interactive waited for bulk");
    assert!(s.metrics().queued() > 200);
    for handle in bulk {
        handle.await.expect("sent");
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_on_one_chat_pauses_only_that_chat() {
    let fake = Fake::new();
    fake.fail(Some(1), [api(429, Some(5))]);
    let (fake, s) = start(fake, config());
    let t0 = Instant::now();
    let a1 = submit(&s, Priority::Interactive, message(1, "a1")).await;
    let a2 = submit(&s, Priority::Interactive, message(1, "a2")).await;
    let mut b = Vec::new();
    for i in 0..3 {
        b.push(submit(&s, Priority::Bulk, message(2, &format!("b{i}"))).await);
    }
    for handle in b {
        handle.await.expect("sent");
    }
    // Chat 2 went on at its own pace while chat 1 was paused.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    a1.await.expect("sent after the pause");
    a2.await.expect("sent after a1");
    let a_calls = fake.calls_to(1);
    let times: Vec<_> = a_calls.iter().map(|c| c.at - t0).collect();
    assert_eq!(times, [Duration::ZERO, Duration::from_secs(5), Duration::from_secs(5)]);
    let texts: Vec<_> = a_calls.iter().filter_map(|c| c.text.as_deref()).collect();
    assert_eq!(texts, ["a1", "a1", "a2"]);
    let m = s.metrics().snapshot();
    assert_eq!((m.rate_limited, m.retried, m.sent, m.failed), (1, 1, 5, 0));
}

#[tokio::test(start_paused = true)]
async fn rate_limits_on_several_chats_pause_the_bot() {
    let fake = Fake::new();
    for chat in 1..=3 {
        fake.fail(Some(chat), [api(429, Some(10))]);
    }
    let (fake, s) = start(fake, config());
    let t0 = Instant::now();
    let mut limited = Vec::new();
    for chat in 1..=3 {
        limited.push(submit(&s, Priority::Interactive, message(chat, "x")).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.metrics().rate_limited(), 3);
    let other = submit(&s, Priority::Interactive, message(4, "other")).await;
    other.await.expect("sent after the bot pause");
    assert_eq!(fake.calls_to(4)[0].at - t0, Duration::from_secs(10));
    for handle in limited {
        handle.await.expect("sent after the pause");
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_on_a_bot_scoped_call_pauses_the_bot() {
    let fake = Fake::new();
    fake.fail(None, [api(429, Some(3))]);
    let (fake, s) = start(fake, config());
    let t0 = Instant::now();
    let params = json!({"callback_query_id": "q1", "text": "ok"});
    let answer: SendHandle<bool> = s
        .submit(Priority::Interactive, Request::new("answerCallbackQuery", &params).expect("valid"))
        .await
        .expect("submitted");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let msg = submit(&s, Priority::Interactive, message(9, "hi")).await;
    msg.await.expect("sent");
    assert_eq!(fake.calls_to(9)[0].at - t0, Duration::from_secs(3));
    assert!(answer.await.expect("answered after the pause"));
    let unscoped: Vec<_> = fake.calls().into_iter().filter(|c| c.chat.is_none()).collect();
    assert_eq!(unscoped.len(), 2);
    assert_eq!(unscoped[1].at - t0, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_growing_delays() {
    let fake = Fake::new();
    fake.fail(Some(1), [api(500, None), api(502, None), Error::network("reset")]);
    let (fake, s) = start(fake, config());
    let t0 = Instant::now();
    let sent = submit(&s, Priority::Interactive, message(1, "hello")).await;
    assert_eq!(text_of(&sent.await.expect("sent in the end")), "hello");
    let times: Vec<_> = fake.calls_to(1).iter().map(|c| c.at - t0).collect();
    let secs = |s| Duration::from_secs(s);
    assert_eq!(times, [secs(0), secs(1), secs(3), secs(7)]);
    let m = s.metrics().snapshot();
    assert_eq!((m.retried, m.sent, m.failed), (3, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn server_errors_give_up_after_the_last_attempt() {
    let fake = Fake::new();
    fake.fail(Some(1), (0..10).map(|_| api(503, None)));
    let mut cfg = config();
    cfg.retry.max_attempts = 3;
    let (fake, s) = start(fake, cfg);
    let sent = submit(&s, Priority::Bulk, message(1, "x")).await;
    let err = sent.await.expect_err("gave up");
    assert_eq!(err.code(), Some(503));
    assert_eq!(fake.calls_to(1).len(), 3);
    assert_eq!(s.metrics().failed(), 1);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried_and_do_not_block_the_chat() {
    let fake = Fake::new();
    fake.fail(Some(1), [api(400, None)]);
    let (fake, s) = start(fake, config());
    let bad = submit(&s, Priority::Interactive, message(1, "bad")).await;
    let good = submit(&s, Priority::Interactive, message(1, "good")).await;
    assert_eq!(bad.await.expect_err("400").code(), Some(400));
    assert_eq!(text_of(&good.await.expect("sent")), "good");
    assert_eq!(fake.calls_to(1).len(), 2);
    let m = s.metrics().snapshot();
    assert_eq!((m.retried, m.failed, m.sent), (0, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn repeated_rate_limits_fail_after_the_limit() {
    let fake = Fake::new();
    fake.fail(Some(1), (0..5).map(|_| api(429, Some(1))));
    let mut cfg = config();
    cfg.max_rate_limited_retries = 2;
    let (fake, s) = start(fake, cfg);
    let sent = submit(&s, Priority::Interactive, message(1, "x")).await;
    assert_eq!(sent.await.expect_err("429").code(), Some(429));
    assert_eq!(fake.calls_to(1).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn full_queue_pushes_back() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake { gate: Some(Arc::clone(&gate)), ..Fake::new() };
    let cfg = Config { bulk_capacity: 2, ..config() };
    let (fake, s) = start(fake, cfg);
    let first = submit(&s, Priority::Bulk, message(1, "1")).await;
    let second = submit(&s, Priority::Bulk, message(2, "2")).await;
    assert!(matches!(s.try_submit::<Value>(Priority::Bulk, message(3, "3")), Err(Error::QueueFull)));
    let blocked = tokio::time::timeout(Duration::from_secs(60), s.submit::<Value>(Priority::Bulk, message(3, "3")));
    assert!(blocked.await.is_err(), "submit should wait while the queue is full");
    // The interactive queue is separate.
    let reply = s.try_submit::<Value>(Priority::Interactive, message(4, "4")).expect("interactive has room");
    gate.add_permits(100);
    first.await.expect("sent");
    let third = submit(&s, Priority::Bulk, message(3, "3")).await;
    for handle in [second, third, reply] {
        handle.await.expect("sent");
    }
    assert_eq!(fake.calls().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn queue_depth_is_reported() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake { gate: Some(Arc::clone(&gate)), ..Fake::new() };
    let (fake, s) = start(fake, config());
    let mut handles = Vec::new();
    for i in 0..5 {
        handles.push(submit(&s, Priority::Bulk, message(1, &i.to_string())).await);
    }
    fake.wait_for_calls(1).await;
    let m = s.metrics().snapshot();
    assert_eq!((m.queued, m.in_flight, m.sent), (4, 1, 0));
    gate.add_permits(100);
    for handle in handles {
        handle.await.expect("sent");
    }
    let m = s.metrics().snapshot();
    assert_eq!((m.queued, m.in_flight, m.sent), (0, 0, 5));
}

#[tokio::test(start_paused = true)]
async fn chats_keep_their_order_and_run_in_parallel() {
    let fake = Fake { max_delay: Duration::from_millis(500), ..Fake::new() };
    let (fake, s) = start(fake, config());
    let mut handles = Vec::new();
    for i in 0..20 {
        for chat in 1..=3 {
            let text = format!("{chat}-{i}");
            handles.push((text.clone(), submit(&s, Priority::Interactive, message(chat, &text)).await));
        }
    }
    for (text, handle) in handles {
        assert_eq!(text_of(&handle.await.expect("sent")), text);
    }
    for chat in 1..=3 {
        let texts: Vec<_> = fake.calls_to(chat).into_iter().filter_map(|c| c.text).collect();
        let expected: Vec<_> = (0..20).map(|i| format!("{chat}-{i}")).collect();
        assert_eq!(texts, expected);
    }
    assert_eq!(*fake.max_active_per_chat.lock(), 1);
    assert!(*fake.max_active_total.lock() > 1);
}

#[tokio::test(start_paused = true)]
async fn accepted_sends_survive_dropping_the_scheduler() {
    let (fake, s) = start(Fake::new(), config());
    let mut handles = Vec::new();
    for i in 0..3 {
        handles.push(submit(&s, Priority::Bulk, message(1, &i.to_string())).await);
    }
    drop(s);
    for handle in handles {
        handle.await.expect("sent");
    }
    assert_eq!(fake.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_transport_fails_the_send_but_not_the_chat() {
    let (_fake, s) = start(Fake::new(), config());
    let boom = submit(&s, Priority::Interactive, message(1, "boom")).await;
    let next = submit(&s, Priority::Interactive, message(1, "next")).await;
    assert!(matches!(boom.await, Err(Error::InvalidRequest(_))));
    assert_eq!(text_of(&next.await.expect("sent")), "next");
}

#[tokio::test(start_paused = true)]
async fn string_chat_ids_are_chats() {
    let (fake, s) = start(Fake::new(), config());
    let channel = Request::new("sendMessage", &json!({"chat_id": "@news", "text": "x"})).expect("valid");
    let numeric = Request::new("sendMessage", &json!({"chat_id": "-100", "text": "y"})).expect("valid");
    let t0 = Instant::now();
    let a = submit(&s, Priority::Bulk, channel.clone()).await;
    let b = submit(&s, Priority::Bulk, channel).await;
    let c = submit(&s, Priority::Bulk, numeric).await;
    for handle in [a, b, c] {
        handle.await.expect("sent");
    }
    // Two bulk sends to one channel: the group budget (one per 3 s) applies.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(fake.calls().len(), 3);
}

fn callback_answer(id: usize) -> Request {
    Request::new("answerCallbackQuery", &json!({"callback_query_id": id.to_string()})).expect("valid request")
}

#[tokio::test(start_paused = true)]
async fn absurd_retry_after_is_capped_and_does_not_stop_the_scheduler() {
    let fake = Fake::new();
    fake.fail(Some(1), [api(429, Some(u64::MAX))]);
    fake.fail(Some(2), [api(429, Some(1_000_000_000))]);
    let cfg = Config { max_retry_after: Duration::from_secs(3600), ..config() };
    let (fake, s) = start(fake, cfg);
    let t0 = Instant::now();
    let huge = submit(&s, Priority::Interactive, message(1, "huge")).await;
    let large = submit(&s, Priority::Interactive, message(2, "large")).await;
    fake.wait_for_calls(2).await;
    let other = submit(&s, Priority::Interactive, message(3, "other")).await;
    assert_eq!(text_of(&other.await.expect("the scheduler still runs")), "other");
    assert_eq!(text_of(&huge.await.expect("sent after the capped pause")), "huge");
    assert_eq!(text_of(&large.await.expect("sent after the capped pause")), "large");
    for chat in [1, 2] {
        let times: Vec<_> = fake.calls_to(chat).iter().map(|c| c.at - t0).collect();
        assert_eq!(times, [Duration::ZERO, Duration::from_secs(3600)], "chat {chat}");
    }
}

#[tokio::test(start_paused = true)]
async fn ambiguous_message_sends_are_retried_or_failed_as_configured() {
    let reset = || Error::network("connection reset after the request was written");
    // At-least-once: the send is repeated, so the user may get it twice.
    let fake = Fake::new();
    fake.fail(Some(1), [reset()]);
    let (fake, s) = start(fake, config());
    assert_eq!(text_of(&submit(&s, Priority::Interactive, message(1, "hi")).await.await.expect("sent")), "hi");
    assert_eq!(fake.calls_to(1).len(), 2);

    // At-most-once: the send fails with the ambiguous error and is not repeated …
    let fake = Fake::new();
    fake.fail(Some(1), [reset()]);
    fake.fail(Some(2), [Error::connect("connection refused")]);
    fake.fail(Some(3), [reset()]);
    let cfg = Config { ambiguous_sends: AmbiguousSends::Fail, ..config() };
    let (fake, s) = start(fake, cfg);
    let err = submit(&s, Priority::Interactive, message(1, "hi")).await.await.expect_err("ambiguous");
    assert!(err.may_have_been_delivered(), "{err:?}");
    assert_eq!(fake.calls_to(1).len(), 1);
    // … but a send that surely was not made is, and so is a call that creates no message.
    submit(&s, Priority::Interactive, message(2, "hi")).await.await.expect("sent after a connect error");
    assert_eq!(fake.calls_to(2).len(), 2);
    let edit = Request::new("editMessageText", &json!({"chat_id": 3, "message_id": 1, "text": "x"})).expect("valid");
    submit(&s, Priority::Interactive, edit).await.await.expect("edit repeated");
    assert_eq!(fake.calls_to(3).len(), 2);
    let m = s.metrics().snapshot();
    assert_eq!((m.failed, m.retried), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn requests_in_flight_are_capped() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake { gate: Some(Arc::clone(&gate)), ..Fake::new() };
    let cap = 50;
    let (fake, s) = start(fake, Config { max_in_flight: cap, ..config() });
    let mut handles = Vec::new();
    for id in 0..1000 {
        handles.push(submit(&s, Priority::Interactive, callback_answer(id)).await);
    }
    fake.wait_for_calls(cap).await;
    // Time passes with every request held: nothing more goes out.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.calls().len(), cap);
    assert_eq!(s.metrics().in_flight(), cap as u64);
    gate.add_permits(1000);
    for handle in handles {
        handle.await.expect("answered");
    }
    assert_eq!(fake.calls().len(), 1000);
    assert_eq!(*fake.max_active_total.lock(), cap);
}

#[tokio::test(start_paused = true)]
async fn a_freed_slot_goes_to_interactive_before_bulk() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake { gate: Some(Arc::clone(&gate)), ..Fake::new() };
    let (fake, s) = start(fake, Config { max_in_flight: 2, ..config() });
    let mut handles = Vec::new();
    for chat in 1..=5 {
        handles.push(submit(&s, Priority::Bulk, message(chat, "bulk")).await);
    }
    fake.wait_for_calls(2).await;
    let reply = submit(&s, Priority::Interactive, message(100, "reply")).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.calls().len(), 2, "no slot is free");
    gate.add_permits(1);
    fake.wait_for_calls(3).await;
    assert_eq!(fake.calls()[2].text.as_deref(), Some("reply"));
    gate.add_permits(100);
    reply.await.expect("sent");
    for handle in handles {
        handle.await.expect("sent");
    }
    assert_eq!(*fake.max_active_total.lock(), 2);
}

#[tokio::test(start_paused = true)]
async fn bulk_is_not_starved_by_sustained_interactive_load() {
    let cfg = Config { bulk_max_wait: Duration::from_secs(30), ..config() };
    let (fake, s) = start(Fake::new(), cfg);
    let t0 = Instant::now();
    // 40 interactive replies a second to fresh chats: more than the bot budget of 30/s, for
    // two minutes.
    let load = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut replies = Vec::new();
            for i in 0..4800 {
                replies.push(submit(&s, Priority::Interactive, message(1000 + i, "reply")).await);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            replies
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bulk = submit(&s, Priority::Bulk, message(1, "news")).await;
    let bulk_at = Instant::now();
    bulk.await.expect("sent");
    let waited = fake.calls_to(1)[0].at - bulk_at;
    assert!(waited >= Duration::from_secs(30), "bulk went before it aged: {waited:?}");
    assert!(waited < Duration::from_secs(31), "bulk waited {waited:?}");
    assert!(t0.elapsed() < Duration::from_secs(60), "the interactive load was still on");
    for reply in load.await.expect("load task") {
        reply.await.expect("sent");
    }
}

#[tokio::test(start_paused = true)]
async fn aged_bulk_still_keeps_the_bot_rate() {
    // A backlog older than bulk_max_wait goes out no faster than fresh bulk would.
    let cfg = Config { bulk_max_wait: Duration::from_secs(1), ..config() };
    let (fake, s) = start(Fake::new(), cfg);
    let mut handles = Vec::new();
    for chat in 1..=120 {
        handles.push(submit(&s, Priority::Bulk, message(chat, "news")).await);
    }
    for handle in handles {
        handle.await.expect("sent");
    }
    let calls = fake.calls();
    assert_eq!(calls.len(), 120);
    for window in calls.windows(31) {
        assert!(window[30].at - window[0].at >= Duration::from_millis(999));
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limit_on_one_group_pauses_only_that_group() {
    let fake = Fake::new();
    fake.fail(Some(-1), [api(429, Some(5))]);
    let (fake, s) = start(fake, config());
    let t0 = Instant::now();
    let a1 = submit(&s, Priority::Interactive, message(-1, "a1")).await;
    let a2 = submit(&s, Priority::Interactive, message(-1, "a2")).await;
    let mut b = Vec::new();
    for i in 0..3 {
        b.push(submit(&s, Priority::Interactive, message(-2, &format!("b{i}"))).await);
    }
    for handle in b {
        handle.await.expect("sent");
    }
    // The other group used its burst at once while the first one was paused.
    assert!(fake.calls_to(-2).iter().all(|c| c.at == t0));
    a1.await.expect("sent after the pause");
    a2.await.expect("sent after a1");
    let times: Vec<_> = fake.calls_to(-1).iter().map(|c| c.at - t0).collect();
    assert_eq!(times, [Duration::ZERO, Duration::from_secs(5), Duration::from_secs(5)]);
    let m = s.metrics().snapshot();
    assert_eq!((m.rate_limited, m.retried, m.sent, m.failed), (1, 1, 5, 0));
}

#[tokio::test(start_paused = true)]
async fn jittered_retries_stay_within_their_ceilings() {
    let mut cfg = config();
    cfg.retry.jitter = true;
    let retry = cfg.retry.clone();
    for _ in 0..20 {
        let fake = Fake::new();
        fake.fail(Some(1), [api(500, None), api(502, None), Error::network("reset")]);
        fake.fail(Some(2), [api(429, Some(2))]);
        let (fake, s) = start(fake, cfg.clone());
        let t0 = Instant::now();
        let retried = submit(&s, Priority::Interactive, message(1, "x")).await;
        let limited = submit(&s, Priority::Interactive, message(2, "y")).await;
        retried.await.expect("sent in the end");
        limited.await.expect("sent after the pause");
        let calls = fake.calls_to(1);
        assert_eq!(calls.len(), 4);
        for (n, pair) in (1..).zip(calls.windows(2)) {
            assert!(pair[1].at - pair[0].at <= retry.ceiling(n), "retry {n} waited too long");
        }
        // A 429's pause is what Telegram asked for, jitter or not.
        let times: Vec<_> = fake.calls_to(2).iter().map(|c| c.at - t0).collect();
        assert_eq!(times, [Duration::ZERO, Duration::from_secs(2)]);
    }
}
