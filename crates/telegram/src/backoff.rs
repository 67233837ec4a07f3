//! Exponential backoff with full jitter, shared by the client and the flood scheduler.
//!
//! Full jitter (a uniform wait between zero and the exponential ceiling) spreads the retries of
//! many bots that failed together, so a Telegram hiccup is not followed by a synchronised storm.

use std::time::Duration;

/// How often and how patiently to repeat a request after a network error or a 5xx.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in total, the first one included; 1 disables retries.
    pub max_attempts: u32,
    /// Ceiling of the wait before the first retry; it doubles for each further retry.
    pub base: Duration,
    /// Largest wait between two attempts.
    pub cap: Duration,
    /// Draw the wait uniformly from `[0, ceiling]` (true) or wait the ceiling itself (false,
    /// for deterministic behaviour in tests).
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { max_attempts: 5, base: Duration::from_millis(500), cap: Duration::from_secs(30), jitter: true }
    }
}

impl Backoff {
    /// No retries at all.
    pub fn none() -> Self {
        Backoff { max_attempts: 1, ..Backoff::default() }
    }

    /// Whether a request that has failed `attempts` times may be tried again.
    pub fn allows_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }

    /// The upper bound of the wait before retry number `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.base.checked_mul(1u32 << exponent).map_or(self.cap, |d| d.min(self.cap))
    }

    /// The wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        if !self.jitter {
            return ceiling;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(jitter: bool) -> Backoff {
        Backoff { max_attempts: 10, base: Duration::from_millis(100), cap: Duration::from_secs(1), jitter }
    }

    #[test]
    fn ceiling_doubles_up_to_cap() {
        let b = backoff(false);
        let ceilings: Vec<_> = (1..=6).map(|r| b.ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        assert_eq!(b.delay(3), Duration::from_millis(400));
    }

    #[test]
    fn full_jitter_stays_within_ceiling_and_varies() {
        let b = backoff(true);
        for retry in 1..=5 {
            let draws: Vec<_> = (0..200).map(|_| b.delay(retry)).collect();
            assert!(draws.iter().all(|d| *d <= b.ceiling(retry)));
            let distinct: std::collections::HashSet<_> = draws.iter().collect();
            assert!(distinct.len() > 100, "jitter should spread the waits");
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let b = Backoff { max_attempts: 3, ..backoff(false) };
        assert!(b.allows_retry(1));
        assert!(b.allows_retry(2));
        assert!(!b.allows_retry(3));
        assert!(!Backoff::none().allows_retry(1));
    }
}
