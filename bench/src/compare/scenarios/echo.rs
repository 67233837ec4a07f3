//! Scenario 2, echo: users in closed loops at several loads; latency from the user's act to the
//! bot's reply, seen on the sandbox's event stream.

use crate::compare::launch::{Launch, Mode, spawn_bot};
use crate::compare::users::{Waiters, exchange, route_replies};
use crate::compare::{Ctx, Fw, say};
use crate::report::fmt_ms;
use crate::{Latencies, procfs};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ECHO_BOT: i64 = 710_000;

pub struct Level {
    pub load: usize,
    pub count: usize,
    pub lost: usize,
    pub seconds: f64,
    pub latencies: Option<Latencies>,
    pub cpu_per_1000: Option<f64>,
}

impl Level {
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

pub struct EchoResult {
    pub fw: Fw,
    pub levels: Vec<Level>,
    pub idle_rss_kib: Option<u64>,
    pub hwm_kib: Option<u64>,
    pub error: Option<String>,
}

pub async fn echo(ctx: &Ctx, fw: Fw, users: &[i64]) -> EchoResult {
    let mut result = EchoResult { fw, levels: Vec::new(), idle_rss_kib: None, hwm_kib: None, error: None };
    let bot_id = ECHO_BOT + fw.index();
    // The bot exists before its process makes its first call, so users can write at once.
    let _ = ctx.http.post(format!("{}/bot{bot_id}:bench/getMe", ctx.url)).send().await;
    let launch = Launch::new(fw, Mode::Echo, bot_id, &ctx.url);
    let bot = match spawn_bot(ctx, launch).await {
        Ok(bot) => bot,
        Err(error) => {
            result.error = Some(error);
            return result;
        }
    };
    let ctx = Arc::new(ctx.clone());
    let waiters: Waiters = Arc::default();
    let router = route_replies(ctx.http.clone(), ctx.url.clone(), bot_id, waiters.clone()).await;
    // First contact: every user writes once (opening the chat), not measured.
    let first = run_level(&ctx, &waiters, bot_id, users, 20, None, bot.pid, "w").await;
    if first.lost > users.len() / 20 {
        result.error = Some(format!("{} of {} first messages got no reply", first.lost, users.len()));
    } else {
        result.idle_rss_kib = bot.stats().map(|s| s.rss_kib);
        for &load in &ctx.args.loads {
            let duration = Duration::from_secs(ctx.args.level_seconds);
            let level = run_level(&ctx, &waiters, bot_id, users, load, Some(duration), bot.pid, "m").await;
            say(&format!(
                "  {load:>4} users: {:>6.0}/s p50 {} p99 {} lost {}",
                level.rate(),
                level.latencies.as_ref().map(|l| fmt_ms(l.p50)).unwrap_or_default(),
                level.latencies.as_ref().map(|l| fmt_ms(l.p99)).unwrap_or_default(),
                level.lost
            ));
            result.levels.push(level);
        }
    }
    result.hwm_kib = bot.stats().map(|s| s.hwm_kib);
    router.abort();
    bot.stop();
    result
}

/// `load` closed loops, each over its own share of the users, for `duration` (or once through
/// every user when None).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_level(
    ctx: &Arc<Ctx>,
    waiters: &Waiters,
    bot_id: i64,
    users: &[i64],
    load: usize,
    duration: Option<Duration>,
    pid: u32,
    tag: &str,
) -> Level {
    let load = load.clamp(1, users.len());
    let before = procfs::read(pid);
    let start = Instant::now();
    let deadline = duration.map(|d| start + d);
    let loops: Vec<_> = (0..load)
        .map(|i| {
            let mine: Vec<i64> = users.iter().skip(i).step_by(load).copied().collect();
            let (ctx, waiters, tag) = (ctx.clone(), waiters.clone(), format!("{tag}{load}-{i}-"));
            tokio::spawn(async move {
                let (mut samples, mut lost) = (Vec::new(), 0);
                for k in 0.. {
                    let done = match deadline {
                        Some(deadline) => Instant::now() >= deadline,
                        None => k >= mine.len(),
                    };
                    if done {
                        break;
                    }
                    let user = mine[k % mine.len()];
                    match exchange(&ctx, &waiters, bot_id, user, &format!("{tag}{k}"), Duration::from_secs(10)).await {
                        Some(latency) => samples.push(latency),
                        None => lost += 1,
                    }
                }
                (samples, lost)
            })
        })
        .collect();
    let (mut samples, mut lost) = (Vec::new(), 0);
    for handle in loops {
        if let Ok((s, l)) = handle.await {
            samples.extend(s);
            lost += l;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let after = procfs::read(pid);
    let count = samples.len();
    let cpu_per_1000 = match (before, after) {
        (Some(b), Some(a)) if count > 0 => Some((a.cpu - b.cpu).as_secs_f64() * 1000.0 / count as f64),
        _ => None,
    };
    Level { load, count, lost, seconds, latencies: Latencies::from_samples(samples), cpu_per_1000 }
}
