//! Send budgets as GCRA (the generic cell rate algorithm, a token bucket kept as one instant).
//!
//! A [`Limit`] of one send per `interval` with a `burst` allows `burst` sends at once after a
//! quiet period, then one per interval. Bulk sends get no burst at all: they may only use the
//! steady rate, which leaves the burst allowance to interactive replies.

use std::time::Duration;

use tokio::time::Instant;

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
        self.tat = self.tat.max(now) + limit.interval;
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

    #[test]
    fn limits_from_rates() {
        assert_eq!(Limit::per_second(30).interval, Duration::from_nanos(33_333_333));
        assert_eq!(Limit::per_minute(20).interval, Duration::from_secs(3));
        assert_eq!(Limit::per_second(0).interval, Duration::from_secs(1));
        assert_eq!(Limit::per_second(1).with_burst(0).burst, 1);
    }
}
