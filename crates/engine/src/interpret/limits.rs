//! `limits`: how many updates a user may send per minute and per UTC day.

use std::collections::HashMap;

use ferrogram_schema::Limits;
use parking_lot::Mutex;

/// Fixed-window counters per user. Kept in memory: a restart forgives, which errs on the
/// user's side.
#[derive(Debug, Default)]
pub struct Limiter {
    counters: Mutex<HashMap<i64, Counters>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    minute: u64,
    in_minute: u32,
    day: u64,
    in_day: u32,
}

impl Limiter {
    /// Counts one update of `user` at `now_secs` (the engine's clock); false when it is over a
    /// limit.
    pub fn allow_at(&self, limits: &Limits, user: i64, now_secs: u64) -> bool {
        let mut counters = self.counters.lock();
        let c = counters.entry(user).or_default();
        let (minute, day) = (now_secs / 60, now_secs / 86_400);
        if c.minute != minute {
            c.minute = minute;
            c.in_minute = 0;
        }
        if c.day != day {
            c.day = day;
            c.in_day = 0;
        }
        let over_minute = limits.per_minute.is_some_and(|max| c.in_minute >= max);
        let over_day = limits.per_day.is_some_and(|max| c.in_day >= max);
        if over_minute || over_day {
            return false;
        }
        c.in_minute += 1;
        c.in_day += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_reset() {
        let limits = Limits { per_minute: Some(2), per_day: Some(3), exempt: vec![], reply: None };
        let limiter = Limiter::default();
        assert!(limiter.allow_at(&limits, 1, 0));
        assert!(limiter.allow_at(&limits, 1, 1));
        assert!(!limiter.allow_at(&limits, 1, 2));
        assert!(limiter.allow_at(&limits, 2, 2), "other users have their own budget");
        assert!(limiter.allow_at(&limits, 1, 61));
        assert!(!limiter.allow_at(&limits, 1, 122), "the day's budget is spent");
        assert!(limiter.allow_at(&limits, 1, 86_400));
    }
}
