//! Failed sign-ins, counted per account (its email, lower-cased) and per client address in a
//! sliding window: past [`ATTEMPTS`] failures in [`WINDOW`] either key is refused (429 with
//! `Retry-After`) before any password is checked. A success forgets the account's failures.
//! Kept in memory: a restart forgets them, and several servers count apart (decision 0042).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Failed sign-ins allowed per key in [`WINDOW`].
pub const ATTEMPTS: usize = 5;
/// The window failures are counted in: 15 minutes.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Beyond this many keys, keys without a failure in the window are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// The failures of each key, oldest first.
pub struct Limiter {
    attempts: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    pub fn new(attempts: usize, window: Duration) -> Self {
        Self { attempts, window, failures: Mutex::default() }
    }

    /// How long until every key of `keys` may try again: `None` if they all may now.
    pub fn retry_after(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        keys.iter()
            .filter_map(|key| {
                let list = failures.get_mut(key)?;
                while list.front().is_some_and(|at| now.duration_since(*at) >= self.window) {
                    list.pop_front();
                }
                (list.len() >= self.attempts).then(|| {
                    let oldest = *list.front().expect("at least one failure");
                    self.window.saturating_sub(now.duration_since(oldest)).max(Duration::from_secs(1))
                })
            })
            .max()
    }

    /// Counts a failure against each key.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, list| list.back().is_some_and(|at| now.duration_since(*at) < self.window));
        }
        for key in keys {
            failures.entry(key.clone()).or_default().push_back(now);
        }
    }

    /// Forgets the failures of `key` (a successful sign-in of that account).
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_waits_and_others_do_not() {
        let limiter = Limiter::new(5, WINDOW);
        let keys = ["account:a@b".to_owned(), "ip:1.2.3.4".to_owned()];
        for _ in 0..5 {
            assert_eq!(limiter.retry_after(&keys), None);
            limiter.failed(&keys);
        }
        let wait = limiter.retry_after(&keys).expect("limited");
        assert!(wait > Duration::from_secs(14 * 60) && wait <= WINDOW, "{wait:?}");
        assert!(limiter.retry_after(&["ip:1.2.3.4".to_owned()]).is_some());
        assert_eq!(limiter.retry_after(&["account:c@d".to_owned(), "ip:5.6.7.8".to_owned()]), None);
        limiter.succeeded("account:a@b");
        assert_eq!(limiter.retry_after(&["account:a@b".to_owned()]), None);
        assert!(limiter.retry_after(&keys).is_some(), "the address still is");
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let limiter = Limiter::new(1, Duration::ZERO);
        limiter.failed(&["k".to_owned()]);
        assert_eq!(limiter.retry_after(&["k".to_owned()]), None);
    }
}
