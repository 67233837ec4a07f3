//! Open-loop load: requests sent on a fixed schedule whatever the replies do, each latency
//! measured from the request's *scheduled* time, so a stalled server shows as the queue it
//! causes (no coordinated omission: a slow reply does not delay the next request's clock).

use std::time::{Duration, Instant};

/// When the `i`th request (from 0) of a schedule at `rate` per second starting at `start` is due.
pub fn due(start: Instant, rate: f64, i: u64) -> Instant {
    start + Duration::from_secs_f64(i as f64 / rate)
}

/// How many requests of the schedule are due by `now` (the next one to send is this index).
pub fn due_by(start: Instant, rate: f64, now: Instant) -> u64 {
    (now.saturating_duration_since(start).as_secs_f64() * rate).floor() as u64 + 1
}

/// Latencies summarised with the tail an open-loop run is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Tail {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Tail {
    /// Nearest-rank percentiles of `samples`; `None` without any.
    pub fn from_samples(mut samples: Vec<Duration>) -> Option<Tail> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
        Some(Tail {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: samples[samples.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let tail = Tail::from_samples((1..=1000).rev().map(Duration::from_millis).collect()).unwrap();
        assert_eq!(
            (tail.count, tail.p50, tail.p99, tail.p999, tail.max),
            (
                1000,
                Duration::from_millis(500),
                Duration::from_millis(990),
                Duration::from_millis(999),
                Duration::from_millis(1000)
            )
        );
        let one = Tail::from_samples(vec![Duration::from_millis(7)]).unwrap();
        assert_eq!((one.p50, one.p999), (Duration::from_millis(7), Duration::from_millis(7)));
        assert!(Tail::from_samples(Vec::new()).is_none());
    }

    #[test]
    fn the_schedule_does_not_wait_for_replies() {
        let start = Instant::now();
        assert_eq!(due(start, 1000.0, 1500) - start, Duration::from_millis(1500));
        assert_eq!(due_by(start, 1000.0, start), 1, "the first is due at once");
        assert_eq!(due_by(start, 1000.0, start + Duration::from_millis(2500)), 2501, "late: everything due is sent");
    }
}
