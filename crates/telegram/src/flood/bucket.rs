//! Send budgets as GCRA (the generic cell rate algorithm, a token bucket kept as one instant).
//!
//! A [`Limit`] of one send per `interval` with a `burst` allows `burst` sends at once after a
//! quiet period, then one per interval. Bulk sends get no burst at all: they may only use the
//! steady rate, which leaves the burst allowance to interactive replies.

use std::time::Duration;

use tokio::time::Instant;

/// What an `Instant` can hold ahead of now with room to spare (tokio's own "far future").
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + wait` without overflowing: a wait beyond what an `Instant` holds becomes 30 years.
pub(crate) fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait.min(FAR_FUTURE)).unwrap_or(at)
}

/// A steady rate with a burst allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Time between two sends at the steady rate.
    pub interval: Duration,
    /// Sends allowed back to back after a quiet period (at least 1).
    pub burst: u32,
}

impl Limit {
    /// `count` sends per `period`, no burst. A count of 0 is treated as 1.
    pub fn new(count: u32, period: Duration) -> Self {
        Limit { interval: period / count.max(1), burst: 1 }
    }

    pub fn per_second(count: u32) -> Self {
        Limit::new(count, Duration::from_secs(1))
    }

    pub fn per_minute(count: u32) -> Self {
        Limit::new(count, Duration::from_secs(60))
    }

    #[must_use]
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// How far ahead of the steady schedule a burst may run.
    fn tolerance(&self) -> Duration {
        self.interval.checked_mul(self.burst.max(1) - 1).unwrap_or(Duration::MAX)
    }
}

/// One budget's state: the theoretical arrival time of the next send at the steady rate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gcra {
    tat: Instant,
}

impl Gcra {
    pub(crate) fn new(now: Instant) -> Self {
        Gcra { tat: now }
    }

    /// The earliest instant a send may go: with the burst allowance, or (`burst == false`)
    /// only at the steady rate.
    /// A tolerance reaching back before the clock's origin means "now" (`now` is only used
    /// then).
    pub(crate) fn ready_at(&self, limit: &Limit, burst: bool, now: Instant) -> Instant {
        if burst { self.tat.checked_sub(limit.tolerance()).unwrap_or_else(|| self.tat.min(now)) } else { self.tat }
    }

    /// Counts one send made at `now`.
    pub(crate) fn record(&mut self, limit: &Limit, now: Instant) {
        self.tat = later(self.tat.max(now), limit.interval);
    }

    /// Counts one send of a paced sender made at `now`. Its timer wakes a little after the slot
    /// (timer resolution, scheduling); counting from `now` would push every later slot back by
    /// that lateness and pace below the rate. Up to one interval of lateness keeps the cadence.
    pub(crate) fn record_paced(&mut self, limit: &Limit, now: Instant) {
        let late_by = now.saturating_duration_since(self.tat);
        self.tat = later(if late_by <= limit.interval { self.tat } else { now }, limit.interval);
    }

    /// When the budget is full again, so that forgetting this state changes nothing.
    pub(crate) fn idle_at(&self) -> Instant {
        self.tat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_rate() {
        let limit = Limit::per_second(1).with_burst(3);
        let t0 = Instant::now();
        let mut g = Gcra::new(t0);
        for _ in 0..3 {
            assert!(g.ready_at(&limit, true, t0) <= t0);
            g.record(&limit, t0);
        }
        assert_eq!(g.ready_at(&limit, true, t0), t0 + Duration::from_secs(1));
        assert_eq!(g.ready_at(&limit, false, t0), t0 + Duration::from_secs(3));
        assert_eq!(g.idle_at(), t0 + Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn bulk_uses_only_the_steady_rate() {
        let limit = Limit::per_minute(20).with_burst(3);
        let t0 = Instant::now();
        let mut g = Gcra::new(t0);
        assert_eq!(g.ready_at(&limit, false, t0), t0);
        g.record(&limit, t0);
        assert_eq!(g.ready_at(&limit, false, t0), t0 + Duration::from_secs(3));
        // A quiet period does not bank more than the steady slot for bulk.
        let later = t0 + Duration::from_secs(60);
        g.record(&limit, later);
        assert_eq!(g.ready_at(&limit, false, t0), later + Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn an_absurd_interval_does_not_overflow_the_clock() {
        let limit = Limit { interval: Duration::MAX, burst: u32::MAX };
        let t0 = Instant::now();
        let mut g = Gcra::new(t0);
        for _ in 0..3 {
            g.record(&limit, t0);
            g.record_paced(&limit, t0);
        }
        assert!(g.ready_at(&limit, false, t0) > t0 + Duration::from_secs(86_400 * 365));
        assert!(g.ready_at(&limit, true, t0) >= t0);
    }

    #[test]
    fn limits_from_rates() {
        assert_eq!(Limit::per_second(30).interval, Duration::from_nanos(33_333_333));
        assert_eq!(Limit::per_minute(20).interval, Duration::from_secs(3));
        assert_eq!(Limit::per_second(0).interval, Duration::from_secs(1));
        assert_eq!(Limit::per_second(1).with_burst(0).burst, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn paced_sends_keep_their_cadence_despite_late_wakeups() {
        let limit = Limit::per_second(600);
        let t0 = Instant::now();
        let (mut paced, mut plain) = (Gcra::new(t0), Gcra::new(t0));
        // Every send goes out 1 ms after its slot, like a timer with millisecond resolution.
        let late = Duration::from_millis(1);
        for _ in 0..600 {
            paced.record_paced(&limit, paced.ready_at(&limit, false, t0) + late);
            plain.record(&limit, plain.ready_at(&limit, false, t0) + late);
        }
        let second = Duration::from_secs(1);
        assert!(paced.idle_at() - t0 <= second + late + limit.interval, "600 sends in about a second");
        assert!(plain.idle_at() - t0 >= second + 500 * late, "counting from the late send drifts");
        // A sender idle for longer than an interval starts afresh from now.
        let idle = paced.idle_at() + Duration::from_secs(5);
        paced.record_paced(&limit, idle);
        assert_eq!(paced.idle_at(), idle + limit.interval);
    }
}
