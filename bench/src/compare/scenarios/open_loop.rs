//! Scenario 3, open-loop echo: updates arrive on a fixed schedule at each offered rate, whether
//! or not the bot has answered the earlier ones, and each update's latency runs from its
//! *scheduled* time to its reply on the event stream. A slow bot can neither slow the arrivals
//! down nor hide its queue (no coordinated omission): a backlog shows as latency, and an update
//! not answered within [`GRACE`] counts as no reply (and as an infinite latency in the
//! percentiles).

use crate::compare::launch::{Launch, Mode, spawn_bot};
use crate::compare::scenarios::echo::run_level;
use crate::compare::users::{Waiters, follow_sent, post, route_replies};
use crate::compare::{Ctx, Fw, say};
use crate::report::fmt_ms;
use crate::{Latencies, procfs};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OPEN_BOT: i64 = 740_000;
/// How long after its scheduled time an update may still be answered.
pub const GRACE: Duration = Duration::from_secs(10);
/// The p99 the threshold column looks for: the lowest offered rate above it.
pub const P99_LIMIT: Duration = Duration::from_millis(100);
/// A rate at which more than this share of the updates got no reply saturates the bot: the
/// higher rates are not run for it (they could only be worse, at up to `GRACE` each).
const SATURATED: f64 = 0.05;
/// Between rates, the bot is quiet when it sent nothing for this long (at most `SETTLE_MAX`).
const QUIET: Duration = Duration::from_secs(1);
const SETTLE_MAX: Duration = Duration::from_secs(30);

/// One offered rate's outcome.
pub struct OpenLevel {
    /// Offered updates a second.
    pub rate: u32,
    /// Updates scheduled (rate × seconds).
    pub sent: usize,
    /// Updates answered within `GRACE` of their scheduled time.
    pub replied: usize,
    /// From the first scheduled arrival to the last reply (at least the offered window).
    pub seconds: f64,
    /// Over every scheduled update; one without a reply counts as `Duration::MAX`.
    pub latencies: Option<Latencies>,
    pub cpu_per_1000: Option<f64>,
}

impl OpenLevel {
    pub fn lost(&self) -> usize {
        self.sent - self.replied
    }

    /// Replies a second, achieved.
    pub fn reply_rate(&self) -> f64 {
        self.replied as f64 / self.seconds.max(f64::EPSILON)
    }

    pub fn saturated(&self) -> bool {
        self.lost() as f64 > self.sent as f64 * SATURATED
    }
}

pub struct OpenResult {
    pub fw: Fw,
    pub levels: Vec<OpenLevel>,
    pub error: Option<String>,
}

impl OpenResult {
    /// The lowest offered rate whose p99 exceeded [`P99_LIMIT`]; None if none did.
    pub fn p99_over(&self) -> Option<u32> {
        self.levels.iter().find(|l| l.latencies.as_ref().is_none_or(|x| x.p99 > P99_LIMIT)).map(|l| l.rate)
    }

    /// The rate this framework saturated at (the rates above it were not run).
    pub fn saturated_at(&self) -> Option<u32> {
        self.levels.iter().find(|l| l.saturated()).map(|l| l.rate)
    }
}

/// A latency as the open-loop table writes it: `no reply` for an update not answered in time.
pub fn fmt_open(d: Duration) -> String {
    if d >= GRACE { format!("no reply in {} s", GRACE.as_secs()) } else { fmt_ms(d) }
}

/// The replies expected (text → scheduled instant) and the latencies of those seen.
#[derive(Default)]
struct Track {
    expected: HashMap<String, Instant>,
    samples: Vec<Duration>,
    last_reply: Option<Instant>,
    /// The last time the bot sent anything (for settling between rates).
    last_sent: Option<Instant>,
}

pub async fn open_loop(ctx: &Ctx, fw: Fw, users: &[i64]) -> OpenResult {
    let mut result = OpenResult { fw, levels: Vec::new(), error: None };
    let bot_id = OPEN_BOT + fw.index();
    let _ = ctx.http.post(format!("{}/bot{bot_id}:bench/getMe", ctx.url)).send().await;
    let bot = match spawn_bot(ctx, Launch::new(fw, Mode::Echo, bot_id, &ctx.url)).await {
        Ok(bot) => bot,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let ctx = Arc::new(ctx.clone());
    // First contact, as in the echo: every user writes once, in closed loops, not measured.
    let waiters: Waiters = Arc::default();
    let router = route_replies(ctx.http.clone(), ctx.url.clone(), bot_id, waiters.clone()).await;
    let first = run_level(&ctx, &waiters, bot_id, users, 100, None, bot.pid, "ow").await;
    router.abort();
    if first.lost > users.len() / 20 {
        result.error = Some(format!("{} of {} first messages got no reply", first.lost, users.len()));
        bot.stop();
        return result;
    }
    let track = Arc::new(Mutex::new(Track::default()));
    let follower = {
        let track = track.clone();
        follow_sent(ctx.http.clone(), ctx.url.clone(), bot_id, move |_chat, text, _message, seen| {
            let mut track = track.lock().expect("track");
            track.last_sent = Some(seen);
            if let Some(at) = track.expected.remove(text) {
                track.samples.push(seen.saturating_duration_since(at));
                track.last_reply = Some(seen);
            }
        })
        .await
    };
    let seconds = Duration::from_secs(ctx.args.open_seconds);
    for &rate in &ctx.args.open_rates {
        let level = run_rate(&ctx, &track, bot_id, users, rate, seconds, bot.pid).await;
        say(&format!(
            "  {rate:>5}/s offered: {:>6.0}/s replied, p50 {} p99 {} p99.9 {} no reply {}",
            level.reply_rate(),
            level.latencies.as_ref().map(|l| fmt_open(l.p50)).unwrap_or_default(),
            level.latencies.as_ref().map(|l| fmt_open(l.p99)).unwrap_or_default(),
            level.latencies.as_ref().map(|l| fmt_open(l.p999)).unwrap_or_default(),
            level.lost()
        ));
        let saturated = level.saturated();
        result.levels.push(level);
        if saturated {
            say("  saturated: the higher rates are not run");
            break;
        }
        settle(&track).await;
    }
    follower.abort();
    bot.stop();
    result
}

/// `rate` updates a second for `seconds`, each sent at its scheduled instant by its own task
/// (a slow act cannot delay the next), then waits until every one is answered or past `GRACE`.
async fn run_rate(
    ctx: &Arc<Ctx>,
    track: &Arc<Mutex<Track>>,
    bot_id: i64,
    users: &[i64],
    rate: u32,
    seconds: Duration,
    pid: u32,
) -> OpenLevel {
    let rate = rate.max(1);
    let n = (f64::from(rate) * seconds.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    {
        let mut t = track.lock().expect("track");
        t.expected.clear();
        t.samples.clear();
        t.last_reply = None;
    }
    let before = procfs::read(pid);
    let failed = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    for i in 0..n {
        let at = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at).await;
        let text = format!("o{rate}-{i}");
        track.lock().expect("track").expected.insert(format!("echo: {text}"), at.into_std());
        let (ctx, failed, track) = (ctx.clone(), failed.clone(), track.clone());
        let body = json!({"bot_id": bot_id, "user_id": users[i % users.len()], "text": text});
        tokio::spawn(async move {
            if post(&ctx, "/sandbox/act/text", body).await.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
                track.lock().expect("track").expected.remove(&format!("echo: {text}"));
            }
        });
    }
    // Every update is answered, or the last one's grace is over.
    let deadline = start.into_std() + interval.mul_f64(n as f64) + GRACE;
    while Instant::now() < deadline && !track.lock().expect("track").expected.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = procfs::read(pid);
    let (mut samples, last_reply) = {
        let mut t = track.lock().expect("track");
        t.expected.clear();
        (std::mem::take(&mut t.samples), t.last_reply)
    };
    // A reply seen after its grace (between the deadline and the lock) is no reply.
    samples.retain(|d| *d < GRACE);
    let replied = samples.len();
    samples.resize(n, Duration::MAX);
    let window = interval.mul_f64(n as f64);
    let seconds = last_reply
        .map(|last| last.saturating_duration_since(start.into_std()))
        .unwrap_or(window)
        .max(window)
        .as_secs_f64();
    let cpu_per_1000 = match (before, after) {
        (Some(b), Some(a)) if replied > 0 => Some((a.cpu - b.cpu).as_secs_f64() * 1000.0 / replied as f64),
        _ => None,
    };
    OpenLevel { rate, sent: n, replied, seconds, latencies: Latencies::from_samples(samples), cpu_per_1000 }
}

/// Waits (polling, at most `SETTLE_MAX`) until the bot has sent nothing for `QUIET`: the
/// replies to a past rate's backlog must not land in the next one's time.
async fn settle(track: &Arc<Mutex<Track>>) {
    let began = Instant::now();
    while began.elapsed() < SETTLE_MAX {
        let last = track.lock().expect("track").last_sent.unwrap_or(began);
        if last.elapsed() >= QUIET && began.elapsed() >= QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(rate: u32, p99_ms: u64, replied: usize) -> OpenLevel {
        let latencies = Latencies::from_samples(vec![Duration::from_millis(p99_ms); 10]);
        OpenLevel { rate, sent: 100, replied, seconds: 1.0, latencies, cpu_per_1000: None }
    }

    #[test]
    fn threshold_is_the_lowest_rate_over_100_ms() {
        let r = |levels| OpenResult { fw: Fw::Ferrogram, levels, error: None };
        assert_eq!(r(vec![level(250, 5, 100), level(500, 101, 100), level(1000, 400, 100)]).p99_over(), Some(500));
        assert_eq!(r(vec![level(250, 5, 100), level(500, 100, 100)]).p99_over(), None);
        assert_eq!(r(vec![]).p99_over(), None);
        let saturated = r(vec![level(250, 5, 100), level(500, 50, 94)]);
        assert_eq!(saturated.saturated_at(), Some(500));
        assert!(!level(250, 5, 95).saturated(), "5 % without a reply is not yet saturated");
    }

    #[test]
    fn no_reply_is_written_as_such() {
        assert_eq!(fmt_open(Duration::MAX), "no reply in 10 s");
        assert_eq!(fmt_open(Duration::from_micros(12_345)), "12.3 ms");
    }
}
